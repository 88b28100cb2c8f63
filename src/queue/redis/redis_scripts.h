// The Lua scripts of the Redis queue. Each runs atomically on the server, so every state change of
// a message is one command: nothing is lost, and nothing is half-done, if a client dies between two
// steps. Time comes from the server (TIME), never from a client clock, so producers and consumers
// on hosts whose clocks disagree still agree on when a delayed message is due.
//
// Keys of a queue named N (see redis_queue.h): N:stream (the stream and its consumer group),
// N:delayed (ZSET, score = due time in server ms, member = the encoded message), N:dead (a stream
// of {m, reason}, trimmed to about dead_letter_capacity).
//
// Checklist: a script's KEYS/ARGV order here ↔ its one call site in redis_queue.cc.
#ifndef MQLAB_QUEUE_REDIS_REDIS_SCRIPTS_H_
#define MQLAB_QUEUE_REDIS_REDIS_SCRIPTS_H_

#include "queue/redis/redis_client.h"

namespace mqlab::queue::redis {

// Enqueue with a cap. KEYS: stream, delayed. ARGV: payload, capacity.
// The cap counts stream entries (ready + held by consumers) and delayed ones: an upper bound of
// what the queue keeps in server memory. Returns the new entry id, or the error MQLAB_FULL.
inline constexpr LuaScript kEnqueueScript{"enqueue", R"lua(
if redis.call('XLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  return redis.error_reply('MQLAB_FULL the queue holds its capacity of ' .. ARGV[2] .. ' messages')
end
return redis.call('XADD', KEYS[1], '*', 'm', ARGV[1])
)lua"};

// Settles a delivery. KEYS: stream, delayed, dead. ARGV: group, entry id, mode, payload,
// delay ms or reason, dead-letter cap.
//   ack      XACK + XDEL
//   requeue  XADD the payload again (now if delay <= 0, else into delayed at TIME + delay), then
//            XACK + XDEL: the new copy exists before the old one goes, so a crash loses nothing
//   dead     XADD to the dead-letter stream (trimmed with MAXLEN ~), then XACK + XDEL
// XACK is a pcall: if the group is gone (a server that lost its data) the copy is still kept.
inline constexpr LuaScript kSettleScript{"settle", R"lua(
local mode = ARGV[3]
if mode == 'requeue' then
  local delay = tonumber(ARGV[5])
  if delay <= 0 then
    redis.call('XADD', KEYS[1], '*', 'm', ARGV[4])
  else
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    redis.call('ZADD', KEYS[2], now + delay, ARGV[4])
  end
elseif mode == 'dead' then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'm', ARGV[4], 'reason', ARGV[5])
end
local acked = redis.pcall('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if type(acked) == 'number' then return acked end
return 0
)lua"};

// Acknowledges a batch of deliveries (the group commit of RedisQueue::Shared::Ack). KEYS: stream.
// ARGV: group, entry ids... XACK + XDEL of every id, in chunks of 500 (unpack's stack). XACK is a
// pcall as in the settle script. Returns how many were still pending (XACK's count).
inline constexpr LuaScript kAckScript{"ack", R"lua(
local acked = 0
local i = 2
while i <= #ARGV do
  local j = math.min(i + 499, #ARGV)
  local r = redis.pcall('XACK', KEYS[1], ARGV[1], unpack(ARGV, i, j))
  if type(r) == 'number' then acked = acked + r end
  redis.call('XDEL', KEYS[1], unpack(ARGV, i, j))
  i = j + 1
end
return acked
)lua"};

// Moves due delayed messages to the stream. KEYS: delayed, stream. ARGV: batch size.
// Returns {moved, ms until the next one is due or -1 if none is left}.
inline constexpr LuaScript kPromoteScript{"promote", R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, m in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'm', m)
end
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #nxt == 0 then return {#due, -1} end
return {#due, math.max(0, tonumber(nxt[2]) - now)}
)lua"};

// Backlog: entries not yet delivered (stream length minus the group's pending count) plus delayed
// ones. KEYS: stream, delayed. ARGV: group. Exact because an entry leaves the stream (XDEL) in the
// same script that acknowledges it.
inline constexpr LuaScript kDepthScript{"depth", R"lua(
local n = redis.call('XLEN', KEYS[1]) + redis.call('ZCARD', KEYS[2])
local p = redis.pcall('XPENDING', KEYS[1], ARGV[1])
if type(p) == 'table' and type(p[1]) == 'number' then n = n - p[1] end
return n
)lua"};

// Removes consumers of the group that hold nothing and have been idle at least ARGV[2] ms (dead
// processes whose deliveries the reaper already took over), or only the consumer named ARGV[3] if
// given (a closing queue). KEYS: stream. ARGV: group, min idle ms, name or ''. Returns the count.
inline constexpr LuaScript kPruneScript{"prune", R"lua(
local list = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if type(list) ~= 'table' or list.err then return 0 end
local removed = 0
for _, c in ipairs(list) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  local match = (ARGV[3] == '' and f['idle'] >= tonumber(ARGV[2])) or f['name'] == ARGV[3]
  if match and f['pending'] == 0 then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])
    removed = removed + 1
  end
end
return removed
)lua"};

// Extends the leases of entries this consumer holds (the heartbeat). KEYS: stream. ARGV: group,
// consumer, entry ids... For each id still pending *for this consumer*, XCLAIM with min-idle 0
// and JUSTID resets its idle time (the lease XAUTOCLAIM measures) without counting a delivery;
// an id another consumer took over meanwhile is left alone (its new holder runs it). Returns how
// many were extended.
inline constexpr LuaScript kHeartbeatScript{"heartbeat", R"lua(
local n = 0
for i = 3, #ARGV do
  local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if type(p) == 'table' and p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    n = n + 1
  end
end
return n
)lua"};

}  // namespace mqlab::queue::redis

#endif  // MQLAB_QUEUE_REDIS_REDIS_SCRIPTS_H_
