// A small blocking Redis client over hiredis 0.14 (the Debian 12 package: old API, RESP2 only),
// just what the Redis queue needs: the URL, one connection, a pool of them, error translation, and
// Lua scripts run by EVALSHA with an EVAL fallback.
//
// Why a pool and not thread_local connections: a hiredis context belongs to one thread at a time;
// a pool hands each call a connection it owns exclusively for the call's duration, whichever
// thread makes it, and its lifetime is the queue's (thread_local contexts keyed by queue would
// outlive a closed queue and leak a socket per thread and queue). A blocking XREADGROUP holds its
// connection only while it waits, so blocking reads and quick commands never share one.
//
// Failure model: a transport error (refused, reset, timed out) breaks the connection: it is
// dropped, never returned to the pool, and the call fails with kUnavailable. A Redis error reply
// (-ERR …) is not a transport error: the connection stays usable and the reply is handed to the
// caller. Connect and every command are bounded by timeouts, so nothing here waits for ever on a
// dead server. After a server restart every idle pooled connection is dead; RedisPool::Run
// therefore runs a call that broke on a reused connection once more on a fresh one (which may
// repeat a write whose reply was lost: at-least-once allows that, and the queue is built for it).
//
// Threading: RedisConnection is not thread-safe (one thread at a time). RedisPool and ScriptRunner
// are thread-safe.
#ifndef MQLAB_QUEUE_REDIS_REDIS_CLIENT_H_
#define MQLAB_QUEUE_REDIS_REDIS_CLIENT_H_

#include <hiredis/hiredis.h>

#include <chrono>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "mqlab/common/status.h"

namespace mqlab::queue::redis {

// redis://[[user]:password@]host[:port][/db]. The password is kept here only; Display() and
// every error message leave it out.
struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string user;      // ACL user (AUTH user password); empty: the default user
  std::string password;  // empty: no AUTH
  // "redis://host:port/db", without credentials: safe to log.
  std::string Display() const;
};

// kInvalidArgument (without echoing the password) for anything that is not such a URL.
Result<RedisEndpoint> ParseRedisUrl(std::string_view url);

struct ConnectOptions {
  // Bound on the TCP connect (and AUTH/SELECT). Default: 2 s: loopback or LAN answers in
  // microseconds; a server that is down refuses at once, a black-holed one costs this much.
  std::chrono::milliseconds connect_timeout{2000};
  // Bound on one ordinary command's reply. Default: 5 s (a loaded Redis answers in µs–ms; an AOF
  // fsync stall is the slowest thing it does). Blocking commands get their block time on top.
  std::chrono::milliseconds command_timeout{5000};
  // CLIENT SETNAME, for `CLIENT LIST`. Default: "" (none).
  std::string client_name;
};

struct ContextDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// Arguments of one command; views must stay valid for the call.
using Args = std::vector<std::string_view>;

class RedisConnection {
 public:
  // Connects, authenticates and selects the database. kUnavailable if the server cannot be
  // reached; kFailedPrecondition if it refuses our credentials.
  static Result<std::unique_ptr<RedisConnection>> Open(const RedisEndpoint& endpoint,
                                                       const ConnectOptions& options);
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // One command, one reply (possibly an error reply). Transport errors: kUnavailable, broken().
  Result<Reply> Command(const Args& args);
  // Several commands in one round trip; one reply each, in order.
  Result<std::vector<Reply>> Pipeline(const std::vector<Args>& commands);
  // The reply timeout of the commands that follow (a blocking read sets its own, then restores).
  Status SetTimeout(std::chrono::milliseconds timeout);

  bool broken() const;

 private:
  RedisConnection(ContextPtr context, std::string display);
  Error TransportError(std::string_view what) const;

  ContextPtr context_;
  std::string display_;                    // RedisEndpoint::Display(), for error messages
  std::chrono::milliseconds timeout_{-1};  // what SetTimeout last set (saves a syscall)
};

// A Redis error reply as an mqlab error: LOADING/BUSY/MASTERDOWN/READONLY/TRYAGAIN → kUnavailable
// (the server will come back), OOM → kResourceExhausted, NOAUTH/WRONGPASS/NOPERM →
// kFailedPrecondition, anything else kInternal. `what` names the operation.
Error ReplyError(const redisReply& reply, std::string_view what);
// True if `reply` is an error reply whose code (first word) is `code`, e.g. "NOSCRIPT".
bool IsErrorCode(const redisReply* reply, std::string_view code);
std::string_view ReplyString(const redisReply& reply);

// A connection pool: connections are made on demand, and up to `max_idle` are kept between calls.
class RedisPool {
 public:
  RedisPool(RedisEndpoint endpoint, ConnectOptions options, size_t max_idle);
  ~RedisPool();

  // Runs fn on a connection it owns for the call. If the connection broke and had been reused
  // from the pool, the other idle ones are dropped and fn runs once more on a fresh connection.
  template <typename T>
  Result<T> Run(const std::function<Result<T>(RedisConnection&)>& fn);

  const RedisEndpoint& endpoint() const { return endpoint_; }
  const ConnectOptions& options() const { return options_; }

 private:
  struct Taken {
    std::unique_ptr<RedisConnection> conn;
    bool reused = false;
  };
  Result<Taken> Take(bool allow_reuse);
  // Returns a healthy connection to the pool; drops a broken one (and the idle ones with it).
  void Give(std::unique_ptr<RedisConnection> conn);

  const RedisEndpoint endpoint_;
  const ConnectOptions options_;
  const size_t max_idle_;
  std::mutex mu_;
  std::vector<std::unique_ptr<RedisConnection>> idle_;
};

template <typename T>
Result<T> RedisPool::Run(const std::function<Result<T>(RedisConnection&)>& fn) {
  for (int attempt = 0;; ++attempt) {
    auto taken = Take(/*allow_reuse=*/attempt == 0);
    if (!taken) return std::unexpected(taken.error());
    Result<T> result = fn(*taken->conn);
    const bool retry = taken->conn->broken() && taken->reused;
    Give(std::move(taken->conn));
    if (!retry) return result;
  }
}

// A Lua script, known by its source; its SHA1 is learnt from the server (SCRIPT LOAD) once.
struct LuaScript {
  std::string_view name;  // for error messages
  std::string_view source;
};

// Thread-safe cache of script SHA1s. Run: EVALSHA; on NOSCRIPT (a restarted server, SCRIPT FLUSH)
// EVAL, which the server caches again. Returns the reply (possibly an error reply).
class ScriptRunner {
 public:
  Result<Reply> Run(RedisConnection& conn, const LuaScript& script,
                    std::initializer_list<std::string_view> keys,
                    std::initializer_list<std::string_view> args) {
    return Run(conn, script, Args(keys), Args(args));
  }
  // For a number of arguments known only at run time.
  Result<Reply> Run(RedisConnection& conn, const LuaScript& script, const Args& keys,
                    const Args& args);

 private:
  Result<std::string> Sha(RedisConnection& conn, const LuaScript& script);
  std::mutex mu_;
  std::vector<std::pair<const LuaScript*, std::string>> shas_;
};

}  // namespace mqlab::queue::redis

#endif  // MQLAB_QUEUE_REDIS_REDIS_CLIENT_H_
