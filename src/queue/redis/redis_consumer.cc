// The consumer side of the Redis queue: deliveries and how they settle, reading with XREADGROUP,
// the reaper (XAUTOCLAIM) and the promoter (a Lua script). See redis_queue.h.
#include <fmt/format.h>

#include <optional>
#include <vector>

#include "queue/redis/redis_queue_shared.h"

namespace mqlab::queue {
namespace {

// Delayed messages promoted per script call: bounds the script's run time (Redis is single-
// threaded); a full batch makes the next Receive promote again at once.
constexpr int kPromoteBatch = 100;


// A flag held by one thread at a time (the reaper's and the promoter's turn).
class Turn {
 public:
  explicit Turn(std::atomic<bool>& flag) : flag_(flag) {
    bool expected = false;
    held_ = flag_.compare_exchange_strong(expected, true);
  }
  ~Turn() {
    if (held_) flag_.store(false);
  }
  bool held() const { return held_; }

 private:
  std::atomic<bool>& flag_;
  bool held_;
};

// CLIENT SETNAME refuses spaces and newlines.
std::string ClientName(const std::string& consumer) {
  std::string name = "mqlab:" + consumer;
  for (char& c : name) {
    if (c <= ' ' || c > '~') c = '_';
  }
  return name;
}

using Entry = RedisQueue::Shared::StreamEntry;

// One stream entry ([id, [field, value, ...]]) as id and its "m" field.
std::optional<Entry> ParseEntry(const redisReply* e) {
  if (e == nullptr || e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
      e->element[0]->type != REDIS_REPLY_STRING) {
    return std::nullopt;
  }
  Entry out{.id = std::string(redis::ReplyString(*e->element[0]))};
  const redisReply* fields = e->element[1];
  if (fields->type != REDIS_REPLY_ARRAY) return std::nullopt;  // deleted meanwhile
  for (size_t i = 0; i + 1 < fields->elements; i += 2) {
    if (redis::ReplyString(*fields->element[i]) == "m") {
      out.payload = redis::ReplyString(*fields->element[i + 1]);
      out.has_payload = true;
    }
  }
  return out;
}

}  // namespace

RedisQueue::Shared::Shared(RedisQueueOptions o, redis::RedisEndpoint endpoint)
    : options(std::move(o)),
      stream(options.name + ":stream"),
      delayed(options.name + ":delayed"),
      dead(options.name + ":dead"),
      pool(std::move(endpoint),
           redis::ConnectOptions{.connect_timeout = options.connect_timeout,
                                 .command_timeout = options.command_timeout,
                                 .client_name = ClientName(options.consumer)},
           options.max_idle_connections) {}

namespace {

class RedisDelivery final : public Delivery {
 public:
  RedisDelivery(std::shared_ptr<RedisQueue::Shared> shared, std::string id, std::string payload,
                Message m, std::string decode_error)
      : Delivery(std::move(m), std::move(decode_error)),
        shared_(std::move(shared)),
        id_(std::move(id)),
        payload_(std::move(payload)) {}

  ~RedisDelivery() override {
    // Released unsettled: back at once, same attempt. If the server is unreachable now, the entry
    // stays pending and the reaper brings it back after the lease.
    if (!settled_) {
      shared_->Unhold(id_);
      (void)shared_->Settle(id_, "requeue", payload_, "0");
    }
  }

  Status Ack() override {
    if (auto s = MarkSettled(); !s) return s;
    return shared_->Ack(id_);  // group commit with the other threads' acks
  }

  Status Retry(milliseconds delay) override {
    if (auto s = MarkSettled(); !s) return s;
    std::string next = payload_;  // undecodable: requeued as it is
    if (decode_error_.empty()) {
      Message m = message_;
      m.attempt += 1;
      next = EncodeMessage(m);
    }
    const int64_t ms = std::max<int64_t>(0, delay.count());
    auto s = shared_->Settle(id_, "requeue", next, std::to_string(ms));
    if (s && ms > 0) StoreMin(shared_->next_promote, NowNs() + Ns(milliseconds(ms)));
    return s;
  }

  Status DeadLetter(std::string_view reason) override {
    if (auto s = MarkSettled(); !s) return s;
    return shared_->Settle(id_, "dead", payload_, reason);
  }

 private:
  // Settled even if the call below fails: the entry then stays pending, and the reaper returns it
  // after the lease (at least once), so retrying the settle here would only add a duplicate.
  Status MarkSettled() {
    if (settled_) return FailedPrecondition("delivery already settled");
    settled_ = true;
    shared_->Unhold(id_);  // no heartbeat from here: the settle script ends the lease anyway
    return Ok();
  }

  std::shared_ptr<RedisQueue::Shared> shared_;
  std::string id_;
  std::string payload_;
  bool settled_ = false;
};

}  // namespace

std::unique_ptr<Delivery> RedisQueue::Shared::MakeDelivery(const std::shared_ptr<Shared>& self,
                                                           Entry e) {
  Message m;
  std::string error;
  if (!e.has_payload) {
    error = "stream entry has no 'm' field";
  } else if (auto decoded = DecodeMessage(e.payload); decoded) {
    m = std::move(*decoded);
  } else {
    error = decoded.error().message;
  }
  return std::make_unique<RedisDelivery>(self, std::move(e.id), std::move(e.payload),
                                         std::move(m), std::move(error));
}

Status RedisQueue::Shared::Ack(const std::string& id) {
  std::unique_lock lock(ack_mu);
  if (!ack_next) ack_next = std::make_shared<AckBatch>();
  const std::shared_ptr<AckBatch> mine = ack_next;
  mine->ids.push_back(id);
  while (!mine->done) {
    // Ours is being sent by its leader, or enough are: wait.
    if (mine->sent || (options.ack_flushes > 0 && ack_flushing >= options.ack_flushes)) {
      mine->cv.wait(lock);
      continue;
    }
    // Leader: send everything queued so far (ours among it: `mine` is still ack_next) while the
    // others wait or queue into the next batch.
    ++ack_flushing;
    const std::shared_ptr<AckBatch> batch = std::move(ack_next);
    ack_next.reset();
    batch->sent = true;
    lock.unlock();
    Status result = FlushAcks(batch->ids);
    lock.lock();
    batch->result = std::move(result);
    batch->done = true;
    --ack_flushing;
    batch->cv.notify_all();                 // its waiters return
    if (ack_next) ack_next->cv.notify_one();  // one of the next batch leads it
  }
  return mine->result;
}

Status RedisQueue::Shared::FlushAcks(const std::vector<std::string>& ids) {
  Args args{options.group};
  for (const std::string& id : ids) args.push_back(id);
  auto r = Run<Reply>([&](RedisConnection& c) {
    return scripts.Run(c, redis::kAckScript, Args{stream}, args);
  });
  ack_batches.fetch_add(1, std::memory_order_relaxed);
  acks.fetch_add(static_cast<int64_t>(ids.size()), std::memory_order_relaxed);
  if (!r) return std::unexpected(r.error());
  if ((*r)->type == REDIS_REPLY_ERROR) return std::unexpected(redis::ReplyError(**r, "ack"));
  return Ok();
}

std::unique_ptr<Delivery> RedisQueue::Shared::TakeBuffered(const std::shared_ptr<Shared>& self) {
  std::unique_lock lock(buf_mu);
  if (buffer.empty()) return nullptr;
  Entry e = std::move(buffer.front());
  buffer.pop_front();
  lock.unlock();
  return MakeDelivery(self, std::move(e));
}

void RedisQueue::Shared::ReleaseBuffered() {
  std::deque<Entry> left;
  {
    std::lock_guard lock(buf_mu);
    left.swap(buffer);
  }
  if (left.empty()) return;
  for (const Entry& e : left) Unhold(e.id);
  const std::string dead_cap = std::to_string(options.dead_letter_capacity);
  // One connection, one script call per entry (at most prefetch - 1 of them); stops at the first
  // failure: what is left stays pending and the reaper returns it after the lease.
  (void)Run<bool>([&](RedisConnection& c) -> Result<bool> {
    for (const Entry& e : left) {
      auto r = Script(c, redis::kSettleScript, {stream, delayed, dead},
                      {options.group, e.id, "requeue", e.payload, "0", dead_cap});
      if (!r) return std::unexpected(r.error());
    }
    return true;
  });
}

void RedisQueue::Shared::Hold(const std::string& id) {
  std::lock_guard lock(held_mu);
  ++held[id];
  if (keeper.joinable() || keeper_stop) return;
  // The keeper only reads `this`: it is joined (StopKeeper, from RedisQueue::Close) before the
  // queue lets go of its Shared.
  keeper = std::thread([this] {
    std::unique_lock lock(held_mu);
    while (!keeper_stop) {
      keeper_cv.wait_for(lock, HeartbeatInterval(), [this] { return keeper_stop; });
      if (keeper_stop || held.empty()) continue;
      lock.unlock();
      (void)Heartbeat();  // a missed beat is covered by the next ones before the lease ends
      lock.lock();
    }
  });
}

void RedisQueue::Shared::Unhold(const std::string& id) {
  std::lock_guard lock(held_mu);
  if (auto it = held.find(id); it != held.end() && --it->second <= 0) held.erase(it);
}

Result<int64_t> RedisQueue::Shared::Heartbeat() {
  Args args{options.group, options.consumer};
  std::vector<std::string> ids;
  {
    std::lock_guard lock(held_mu);
    for (const auto& [id, n] : held) ids.push_back(id);
  }
  if (ids.empty()) return 0;
  for (const std::string& id : ids) args.push_back(id);
  auto r = Run<Reply>([&](RedisConnection& c) {
    return scripts.Run(c, redis::kHeartbeatScript, Args{stream}, args);
  });
  if (!r) return std::unexpected(r.error());
  if ((*r)->type == REDIS_REPLY_ERROR) return std::unexpected(redis::ReplyError(**r, "heartbeat"));
  return static_cast<int64_t>((*r)->integer);
}

void RedisQueue::Shared::StopKeeper() {
  {
    std::lock_guard lock(held_mu);
    keeper_stop = true;
  }
  keeper_cv.notify_all();
  if (keeper.joinable() && keeper.get_id() != std::this_thread::get_id()) keeper.join();
}

Status RedisQueue::Shared::MaybePromote() {
  const int64_t now = NowNs();
  int64_t planned = next_promote.load();
  if (now < planned) return Ok();
  Turn turn(promoting);
  // Another thread may have just had its turn: look again once the turn is ours.
  if (!turn.held() || NowNs() < (planned = next_promote.load())) return Ok();
  const std::string batch = std::to_string(kPromoteBatch);
  auto r = Run<Reply>([&](RedisConnection& c) {
    return Script(c, redis::kPromoteScript, {delayed, stream}, {batch});
  });
  if (!r) return std::unexpected(r.error());
  const redisReply& a = **r;
  milliseconds wait = options.promote_interval;
  if (a.type == REDIS_REPLY_ARRAY && a.elements == 2) {
    if (a.element[0]->integer >= kPromoteBatch) {
      wait = milliseconds(0);  // more may be due
    } else if (a.element[1]->integer >= 0) {
      wait = std::min(wait, milliseconds(a.element[1]->integer));
    }
  }
  const int64_t next = NowNs() + Ns(wait);
  // A Retry may have planned an earlier promotion meanwhile: keep the earlier one.
  if (!next_promote.compare_exchange_strong(planned, next)) StoreMin(next_promote, next);
  return Ok();
}

Result<std::unique_ptr<Delivery>> RedisQueue::Shared::MaybeReap(
    const std::shared_ptr<Shared>& self) {
  const int64_t now = NowNs();
  if (now < next_reap.load()) return std::unique_ptr<Delivery>();
  Turn turn(reaping);
  if (!turn.held() || now < next_reap.load()) return std::unique_ptr<Delivery>();
  if (now >= next_prune.load()) {
    next_prune = now + Ns(PruneIdle());
    const std::string idle = std::to_string(PruneIdle().count());
    (void)Run<Reply>([&](RedisConnection& c) {
      return Script(c, redis::kPruneScript, {stream}, {options.group, idle, ""});
    });
  }
  // Entries idle for longer than the lease, claimed for this consumer; COUNT 1 because each is
  // delivered at once (a claimed entry starts a fresh lease, which a local buffer would waste).
  auto r = Run<Reply>([&](RedisConnection& c) {
    return GroupCommand(c, {"XAUTOCLAIM", stream, options.group, options.consumer, lease_ms,
                            reap_cursor, "COUNT", "1"});
  });
  if (!r) return std::unexpected(r.error());
  const redisReply& a = **r;
  if (a.type == REDIS_REPLY_ERROR) return std::unexpected(redis::ReplyError(a, "XAUTOCLAIM"));
  if (a.type != REDIS_REPLY_ARRAY || a.elements < 2) {
    return Internal("redis XAUTOCLAIM: unexpected reply");
  }
  reap_cursor = redis::ReplyString(*a.element[0]);
  const redisReply& claimed = *a.element[1];
  const bool found = claimed.type == REDIS_REPLY_ARRAY && claimed.elements > 0;
  // Scan on at once while the cursor is mid-list or something was found (more may be stale).
  const bool more = found || reap_cursor != "0-0";
  next_reap = NowNs() + (more ? 0 : Ns(ReapInterval()));
  if (!found) return std::unique_ptr<Delivery>();
  auto e = ParseEntry(claimed.element[0]);
  if (!e) return std::unique_ptr<Delivery>();  // deleted after it was read: nothing to deliver
  Hold(e->id);
  return MakeDelivery(self, std::move(*e));
}

Result<std::unique_ptr<Delivery>> RedisQueue::Shared::Read(const std::shared_ptr<Shared>& self,
                                                           milliseconds block) {
  std::unique_lock lock(buf_mu);
  if (!buffer.empty()) {
    lock.unlock();
    return TakeBuffered(self);
  }
  // No entry to hand out: read now, even beside a read in flight. (Waiting for another thread's
  // read to bring a spare entry was measured slower in bench/queue_bench's drain: the waiter
  // pays that read's round trip plus a wake-up, and reads no longer overlap.)
  // COUNT: the prefetch less the entries this object holds (delivered and not settled, or
  // buffered) and those reads in flight will bring: at most prefetch entries are unacked at a
  // time, as with a broker's prefetch, and a thread busy with a long job never has entries
  // waiting for it here that an idle consumer elsewhere could run. Threads waiting for their Ack
  // no longer hold theirs, so a fast drain reads close to prefetch at a time.
  size_t in_hand = 0;
  {
    std::lock_guard held_lock(held_mu);
    in_hand = held.size();
  }
  const size_t n = Prefetch() > in_hand + reserved ? Prefetch() - in_hand - reserved : 1;
  reserved += n;
  lock.unlock();

  const std::string block_ms = std::to_string(block.count());
  const std::string count = std::to_string(n);
  Args args{"XREADGROUP", "GROUP", options.group, options.consumer, "COUNT", count};
  if (block.count() > 0) {
    args.insert(args.end(), {"BLOCK", block_ms});
  }
  args.insert(args.end(), {"STREAMS", stream, ">"});
  auto r = Run<Reply>([&](RedisConnection& c) -> Result<Reply> {
    if (auto s = c.SetTimeout(options.command_timeout + block); !s) {
      return std::unexpected(s.error());
    }
    auto reply = GroupCommand(c, args);
    if (!c.broken()) (void)c.SetTimeout(options.command_timeout);
    return reply;
  });
  // Parse [[stream, [entry, ...]]] (or nil: timed out) into entries, held from here on.
  std::vector<Entry> got;
  Status status = Ok();
  if (!r) {
    status = std::unexpected(r.error());
  } else if (const redisReply& a = **r; a.type == REDIS_REPLY_ERROR) {
    status = std::unexpected(redis::ReplyError(a, "XREADGROUP"));
  } else if (a.type != REDIS_REPLY_NIL) {
    if (a.type != REDIS_REPLY_ARRAY || a.elements != 1 || a.element[0]->elements != 2 ||
        a.element[0]->element[1]->type != REDIS_REPLY_ARRAY) {
      status = Internal("redis XREADGROUP: unexpected reply");
    } else {
      const redisReply& entries = *a.element[0]->element[1];
      for (size_t i = 0; i < entries.elements; ++i) {
        if (auto e = ParseEntry(entries.element[i]); e) {
          Hold(e->id);
          got.push_back(std::move(*e));
        }
      }
    }
  }
  if (!got.empty()) {
    reads.fetch_add(1, std::memory_order_relaxed);
    read_entries.fetch_add(static_cast<int64_t>(got.size()), std::memory_order_relaxed);
  }
  lock.lock();
  reserved -= n;
  for (size_t i = 1; i < got.size(); ++i) buffer.push_back(std::move(got[i]));
  lock.unlock();
  // Closed while reading: Close() has already handed the buffer back, so hand back what this
  // read added.
  if (closed) ReleaseBuffered();
  if (!status) return std::unexpected(status.error());
  if (got.empty()) return std::unique_ptr<Delivery>();
  return MakeDelivery(self, std::move(got.front()));
}

}  // namespace mqlab::queue
