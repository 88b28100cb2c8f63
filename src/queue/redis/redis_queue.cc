#include "queue/redis/redis_queue.h"

#include <fmt/format.h>
#include <unistd.h>

#include <random>

#include "queue/redis/redis_queue_shared.h"

namespace mqlab::queue {
namespace {

// Shortest XREADGROUP BLOCK while waiting for a reaper or promoter turn another thread holds:
// keeps such waits from spinning.
constexpr milliseconds kMinBlock{10};

std::string DefaultConsumer() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return fmt::format("{}-{}-{:08x}", host[0] ? host : "mqlab", getpid(), std::random_device{}());
}

}  // namespace

Result<std::unique_ptr<RedisQueue>> RedisQueue::Open(RedisQueueOptions options) {
  auto endpoint = redis::ParseRedisUrl(options.url);
  if (!endpoint) return std::unexpected(endpoint.error());
  if (options.name.empty()) return InvalidArgument("redis queue: the name is empty");
  if (options.group.empty()) return InvalidArgument("redis queue: the consumer group is empty");
  if (options.lease.count() <= 0) return InvalidArgument("redis queue: the lease must be > 0");
  if (options.block_slice.count() <= 0 || options.promote_interval.count() <= 0) {
    return InvalidArgument("redis queue: block_slice and promote_interval must be > 0");
  }
  if (options.consumer.empty()) options.consumer = DefaultConsumer();
  auto shared = std::make_shared<Shared>(std::move(options), std::move(*endpoint));
  // Create the group now (so that nothing enqueued before the first Receive is skipped); a
  // server that is down is not an error yet: every call retries the connection.
  auto created = shared->Run<bool>([&](RedisConnection& c) -> Result<bool> {
    if (auto s = shared->CreateGroup(c); !s) return std::unexpected(s.error());
    return true;
  });
  if (!created && created.error().code != ErrorCode::kUnavailable) {
    return std::unexpected(created.error());
  }
  return std::unique_ptr<RedisQueue>(new RedisQueue(std::move(shared)));
}

RedisQueue::RedisQueue(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

RedisQueue::~RedisQueue() { Close(); }

const std::string& RedisQueue::consumer() const { return shared_->options.consumer; }

RedisQueue::Stats RedisQueue::stats() const {
  const Shared& s = *shared_;
  return Stats{.acks = s.acks.load(), .ack_batches = s.ack_batches.load(),
               .reads = s.reads.load(), .read_entries = s.read_entries.load()};
}

Capabilities RedisQueue::capabilities() const {
  return Capabilities{.native_delay = false,       // the promoter script, run by consumers
                      .broker_redelivery = false,  // a dead consumer's message waits its lease
                      .push_wakeup = true,         // XREADGROUP BLOCK
                      // concurrent Acks share a script call (group commit)
                      .batch_ack = shared_->options.ack_flushes > 0,
                      .shared = true};
}

Status RedisQueue::Enqueue(const Message& message) {
  Shared& s = *shared_;
  if (s.closed) return Unavailable("redis queue is closed");
  const std::string payload = EncodeMessage(message);
  const std::string cap = std::to_string(s.options.capacity);
  auto r = s.Run<Reply>([&](RedisConnection& c) -> Result<Reply> {
    if (s.options.capacity == 0) return c.Command({"XADD", s.stream, "*", "m", payload});
    return s.scripts.Run(c, redis::kEnqueueScript, {s.stream, s.delayed}, {payload, cap});
  });
  if (!r) return std::unexpected(r.error());
  if ((*r)->type == REDIS_REPLY_ERROR) {
    if (redis::IsErrorCode(r->get(), "MQLAB_FULL")) {
      return ResourceExhausted(
          fmt::format("redis queue {}: {}", s.options.name, redis::ReplyString(**r).substr(11)));
    }
    return std::unexpected(redis::ReplyError(**r, "enqueue"));
  }
  return Ok();
}

Result<std::unique_ptr<Delivery>> RedisQueue::Receive(const ReceiveParams& params) {
  Shared& s = *shared_;
  const int64_t deadline = NowNs() + Ns(params.timeout);
  for (bool first = true;; first = false) {
    if (s.closed) return Unavailable("redis queue is closed");
    if (auto d = s.TakeBuffered(shared_)) return d;  // read already, lease running: first
    if (auto p = s.MaybePromote(); !p) return std::unexpected(p.error());
    auto reaped = s.MaybeReap(shared_);
    if (!reaped || *reaped) return reaped;
    const int64_t now = NowNs();
    const int64_t remaining = deadline - now;
    if (remaining <= 0 && !first) return std::unique_ptr<Delivery>();
    // Wake in time for this process's next reaper or promoter turn, and for Close().
    int64_t block = std::min({remaining, Ns(s.options.block_slice), s.next_reap.load() - now,
                              s.next_promote.load() - now});
    block = std::max(block, std::min(remaining, Ns(kMinBlock)));
    auto got = s.Read(shared_, std::chrono::duration_cast<milliseconds>(
                                   std::chrono::nanoseconds(std::max<int64_t>(block, 0))));
    if (!got || *got) return got;
    if (NowNs() >= deadline) return std::unique_ptr<Delivery>();
  }
}

Result<int64_t> RedisQueue::Depth() {
  Shared& s = *shared_;
  auto r = s.Run<Reply>([&](RedisConnection& c) {
    return s.Script(c, redis::kDepthScript, {s.stream, s.delayed}, {s.options.group});
  });
  if (!r) return std::unexpected(r.error());
  if ((*r)->type != REDIS_REPLY_INTEGER) return Internal("redis depth: unexpected reply");
  // This object's buffered entries are pending on the server but nobody works them yet: backlog
  // (other processes' buffers, at most their prefetch each, count as held).
  std::lock_guard lock(s.buf_mu);
  return static_cast<int64_t>((*r)->integer) + static_cast<int64_t>(s.buffer.size());
}

Result<std::vector<DeadLetter>> RedisQueue::PeekDeadLetters(size_t limit) {
  Shared& s = *shared_;
  std::vector<DeadLetter> out;
  if (limit == 0) return out;
  const std::string count = std::to_string(limit);
  auto r = s.Run<Reply>([&](RedisConnection& c) {
    return c.Command({"XRANGE", s.dead, "-", "+", "COUNT", count});
  });
  if (!r) return std::unexpected(r.error());
  const redisReply& a = **r;
  if (a.type == REDIS_REPLY_ERROR) return std::unexpected(redis::ReplyError(a, "XRANGE"));
  for (size_t i = 0; i < a.elements; ++i) {
    const redisReply* e = a.element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) continue;
    DeadLetter d;
    const redisReply* f = e->element[1];
    for (size_t j = 0; f->type == REDIS_REPLY_ARRAY && j + 1 < f->elements; j += 2) {
      const std::string_view key = redis::ReplyString(*f->element[j]);
      const std::string_view value = redis::ReplyString(*f->element[j + 1]);
      if (key == "reason") d.reason = value;
      if (key != "m") continue;
      if (auto m = DecodeMessage(value); m) d.message = std::move(*m);
    }
    out.push_back(std::move(d));
  }
  return out;
}

void RedisQueue::Close() {
  Shared& s = *shared_;
  if (s.closed.exchange(true)) return;
  s.StopKeeper();  // deliveries that outlive the queue are no longer extended
  s.ReleaseBuffered();  // read but never handed out: back to the stream at once
  // Leave the group tidy: remove this consumer if it holds nothing (best effort, bounded by the
  // connect timeout when the server is gone).
  (void)s.Run<Reply>([&](RedisConnection& c) {
    return s.Script(c, redis::kPruneScript, {s.stream}, {s.options.group, "0", s.options.consumer});
  });
}

}  // namespace mqlab::queue
