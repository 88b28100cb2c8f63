#include "queue/rabbitmq/confirm_channel.h"

#include <fmt/format.h>
#include <sys/time.h>

namespace mqlab::queue::rabbitmq {

namespace {

using SteadyClock = std::chrono::steady_clock;

timeval Until(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - SteadyClock::now());
  if (left.count() < 0) left = {};
  return timeval{static_cast<time_t>(left.count() / 1000000),
                 static_cast<suseconds_t>(left.count() % 1000000)};
}

}  // namespace

// The messages of one leader's round, with consecutive confirm sequence numbers from first_seq.
struct ConfirmChannel::Batch {
  std::vector<Pending*>& items;
  uint64_t first_seq;
  size_t done = 0;

  void Complete(uint64_t seq, const Status& status) {
    if (seq < first_seq || seq - first_seq >= items.size()) return;
    Pending* p = items[seq - first_seq];
    if (p->result) return;
    p->result = p->returned ? Status(std::unexpected(*p->returned)) : status;
    ++done;
  }
  void Settle(uint64_t tag, bool multiple, const Status& status) {
    if (!multiple) return Complete(tag, status);
    for (uint64_t seq = first_seq; seq <= tag && seq - first_seq < items.size(); ++seq) {
      Complete(seq, status);
    }
  }
};

ConfirmChannel::ConfirmChannel(AmqpUrl url, Topology topology, ConfirmChannelOptions options)
    : url_(std::move(url)), topology_(std::move(topology)), options_(std::move(options)) {}

ConfirmChannel::~ConfirmChannel() { Close(); }

Status ConfirmChannel::Connect() {
  std::lock_guard lock(conn_mu_);
  return EnsureConnected();
}

Status ConfirmChannel::EnsureConnected() {
  {
    std::lock_guard lock(pending_mu_);
    if (closed_) return Unavailable("the RabbitMQ queue is closed");
  }
  if (conn_ && !redeclare_) return Ok();
  if (!conn_) {
    auto conn = rabbitmq::Connect(url_, options_.connect);
    if (!conn) return std::unexpected(conn.error());
    amqp_confirm_select(conn->get(), kChannel);
    if (auto s = CheckReply(conn->get(), "enable publisher confirms"); !s) return s;
    conn_ = std::move(*conn);
    next_seq_ = 1;
  }
  if (auto s = DeclareTopology(conn_.get(), topology_); !s) {
    Drop();
    return s;
  }
  redeclare_ = false;
  return Ok();
}

void ConfirmChannel::Drop() { conn_.reset(); }

Status ConfirmChannel::Publish(const OutgoingMessage& message) {
  callers_.fetch_add(1, std::memory_order_relaxed);
  struct Leave {
    std::atomic<int>& n;
    ~Leave() { n.fetch_sub(1, std::memory_order_relaxed); }
  } leave{callers_};
  Pending p{&message};
  std::unique_lock lock(pending_mu_);
  if (closed_) return Unavailable("the RabbitMQ queue is closed");
  pending_.push_back(&p);
  while (!p.done) {
    if (leader_active_) {
      done_cv_.wait(lock);
      continue;
    }
    // Lead one round: up to max_batch pending messages from the front. This one is among them
    // unless more than max_batch are ahead of it (not done and no round running: it is still
    // pending); then the loop leads another round.
    leader_active_ = true;
    std::vector<Pending*> batch;
    while (!pending_.empty() && batch.size() < options_.max_batch) {
      batch.push_back(pending_.front());
      pending_.pop_front();
    }
    lock.unlock();
    {
      std::lock_guard conn(conn_mu_);
      RunBatch(batch);
    }
    lock.lock();
    for (Pending* q : batch) q->done = true;  // results were written before: ordered by pending_mu_
    leader_active_ = false;
    done_cv_.notify_all();
  }
  return *p.result;
}

void ConfirmChannel::RunBatch(std::vector<Pending*>& batch) {
  const bool fresh = !conn_;
  Status s = EnsureConnected();
  if (s) s = PublishAndConfirm(batch);
  if (!s && !fresh && s.error().code == ErrorCode::kUnavailable) {
    // The connection predates this batch: the broker may have restarted since we last used it.
    // Publish what is unconfirmed once more on a fresh one (a duplicate at worst, never a loss).
    Drop();
    std::vector<Pending*> rest;
    for (Pending* p : batch) {
      if (!p->result) rest.push_back(p);
    }
    s = EnsureConnected();
    if (s) s = PublishAndConfirm(rest);
  }
  if (!s) {
    Drop();
    // A missing confirm (kDeadlineExceeded above: not worth a second wait) means a broker that
    // does not answer: unreachable, as far as callers are concerned.
    if (s.error().code == ErrorCode::kDeadlineExceeded) s.error().code = ErrorCode::kUnavailable;
  }
  for (Pending* p : batch) {
    if (!p->result) p->result = s ? Status(Internal("RabbitMQ publish left unconfirmed")) : s;
  }
}

Status ConfirmChannel::PublishAndConfirm(std::vector<Pending*>& items) {
  if (items.empty()) return Ok();
  Batch batch{items, next_seq_};
  for (Pending* p : items) {
    const OutgoingMessage& m = *p->message;
    // The message id carries the confirm sequence number, so a basic.return (which has no
    // delivery tag) can be matched to its message.
    const std::string id = std::to_string(next_seq_++);
    const std::string expiration = std::to_string(m.expiration_ms);
    amqp_basic_properties_t props{};
    props._flags =
        AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
    props.message_id = Bytes(id);
    if (m.expiration_ms >= 0) {
      props._flags |= AMQP_BASIC_EXPIRATION_FLAG;
      props.expiration = Bytes(expiration);
    }
    amqp_table_entry_t reason = StringEntry(kReasonHeader, m.reason);
    if (!m.reason.empty()) {
      props._flags |= AMQP_BASIC_HEADERS_FLAG;
      props.headers = amqp_table_t{1, &reason};
    }
    int rc = amqp_basic_publish(conn_.get(), kChannel, amqp_empty_bytes, Bytes(m.queue),
                                /*mandatory=*/1, /*immediate=*/0, &props, Bytes(m.body));
    if (rc != AMQP_STATUS_OK) return std::unexpected(TranslateStatus(rc, "publish to RabbitMQ"));
  }
  return ReadConfirms(batch);
}

Status ConfirmChannel::ReadConfirms(Batch& batch) {
  const auto deadline = SteadyClock::now() + options_.confirm_timeout;
  while (batch.done < batch.items.size()) {
    if (SteadyClock::now() >= deadline) {
      return DeadlineExceeded(fmt::format("RabbitMQ did not confirm {} message(s) within {} ms",
                                          batch.items.size() - batch.done,
                                          options_.confirm_timeout.count()));
    }
    timeval tv = Until(deadline);
    amqp_frame_t frame;
    int rc = amqp_simple_wait_frame_noblock(conn_.get(), &frame, &tv);
    if (rc == AMQP_STATUS_TIMEOUT) continue;
    if (rc != AMQP_STATUS_OK) {
      return std::unexpected(TranslateStatus(rc, "wait for RabbitMQ's publish confirms"));
    }
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    const void* decoded = frame.payload.method.decoded;
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        const auto* ack = static_cast<const amqp_basic_ack_t*>(decoded);
        batch.Settle(ack->delivery_tag, ack->multiple, Ok());
        break;
      }
      case AMQP_BASIC_NACK_METHOD: {
        const auto* nack = static_cast<const amqp_basic_nack_t*>(decoded);
        batch.Settle(nack->delivery_tag, nack->multiple,
                     ResourceExhausted("RabbitMQ refused the message (basic.nack): the queue is "
                                       "full (x-max-length, reject-publish) or failed"));
        break;
      }
      case AMQP_BASIC_RETURN_METHOD:
        if (auto s = HandleReturn(batch); !s) return s;
        break;
      case AMQP_CHANNEL_CLOSE_METHOD: {
        const auto* c = static_cast<const amqp_channel_close_t*>(decoded);
        return std::unexpected(
            TranslateClose(c->reply_code, ToString(c->reply_text), "publish to RabbitMQ"));
      }
      case AMQP_CONNECTION_CLOSE_METHOD: {
        const auto* c = static_cast<const amqp_connection_close_t*>(decoded);
        return std::unexpected(
            TranslateClose(c->reply_code, ToString(c->reply_text), "publish to RabbitMQ"));
      }
      case AMQP_CONNECTION_BLOCKED_METHOD: {
        const auto* b = static_cast<const amqp_connection_blocked_t*>(decoded);
        return ResourceExhausted(fmt::format(
            "RabbitMQ blocks publishers ({}): a memory or disk alarm", ToString(b->reason)));
      }
      default:
        break;
    }
  }
  amqp_maybe_release_buffers(conn_.get());
  return Ok();
}

Status ConfirmChannel::HandleReturn(Batch& batch) {
  amqp_message_t message;
  amqp_rpc_reply_t r = amqp_read_message(conn_.get(), kChannel, &message, 0);
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    return std::unexpected(TranslateError(r, "read a message RabbitMQ returned"));
  }
  uint64_t seq = 0;
  if (message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
    seq = std::strtoull(ToString(message.properties.message_id).c_str(), nullptr, 10);
  }
  amqp_destroy_message(&message);
  if (seq >= batch.first_seq && seq - batch.first_seq < batch.items.size()) {
    Pending* p = batch.items[seq - batch.first_seq];
    p->returned = Error{ErrorCode::kUnavailable,
                        fmt::format("RabbitMQ could not route the message to queue '{}' (was it "
                                    "deleted? it is declared again on the next call)",
                                    p->message->queue)};
  }
  redeclare_ = true;
  return Ok();
}

template <typename Fn>
auto ConfirmChannel::WithConnection(Fn fn) -> decltype(fn()) {
  std::lock_guard lock(conn_mu_);
  const bool fresh = !conn_;
  if (auto s = EnsureConnected(); !s) return std::unexpected(s.error());
  auto r = fn();
  if (!r) {
    Drop();
    if (!fresh && r.error().code == ErrorCode::kUnavailable) {  // stale connection: once more
      if (auto s = EnsureConnected(); !s) return std::unexpected(s.error());
      r = fn();
      if (!r) Drop();
    }
  }
  return r;
}

Result<int64_t> ConfirmChannel::Depth() {
  return WithConnection([&]() -> Result<int64_t> {
    auto total = ReadyCount(conn_.get(), topology_.main);
    for (size_t i = 0; total && i < topology_.retry.size(); ++i) {
      auto n = ReadyCount(conn_.get(), topology_.retry[i]);
      if (!n) return n;
      *total += *n;
    }
    amqp_maybe_release_buffers(conn_.get());
    return total;
  });
}

Result<std::vector<DeadLetter>> ConfirmChannel::PeekDeadLetters(size_t limit) {
  return WithConnection([&]() -> Result<std::vector<DeadLetter>> {
    std::vector<DeadLetter> out;
    uint64_t last_tag = 0;
    Status status = Ok();
    while (out.size() < limit) {
      amqp_rpc_reply_t r = amqp_basic_get(conn_.get(), kChannel, Bytes(topology_.dead), 0);
      if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        status = std::unexpected(TranslateError(r, "read dead letters"));
        break;
      }
      if (r.reply.id != AMQP_BASIC_GET_OK_METHOD) break;  // get-empty
      last_tag = static_cast<const amqp_basic_get_ok_t*>(r.reply.decoded)->delivery_tag;
      amqp_message_t message;
      r = amqp_read_message(conn_.get(), kChannel, &message, 0);
      if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        status = std::unexpected(TranslateError(r, "read dead letters"));
        break;
      }
      DeadLetter dead;
      if (auto m = DecodeMessage(ToString(message.body))) dead.message = std::move(*m);
      if (message.properties._flags & AMQP_BASIC_HEADERS_FLAG) {
        dead.reason = TableString(message.properties.headers, kReasonHeader);
      }
      amqp_destroy_message(&message);
      out.push_back(std::move(dead));
    }
    // Put them all back where they were (unacknowledged gets return to their places in order).
    if (status && last_tag != 0) {
      int rc = amqp_basic_nack(conn_.get(), kChannel, last_tag, /*multiple=*/1, /*requeue=*/1);
      if (rc != AMQP_STATUS_OK) status = std::unexpected(TranslateStatus(rc, "requeue peeked"));
    }
    amqp_maybe_release_buffers(conn_.get());
    if (!status) return std::unexpected(status.error());
    return out;
  });
}

void ConfirmChannel::Close() {
  {
    std::lock_guard lock(pending_mu_);
    if (closed_) return;
    closed_ = true;
  }
  std::lock_guard lock(conn_mu_);
  CloseGracefully(std::move(conn_));
}

}  // namespace mqlab::queue::rabbitmq
