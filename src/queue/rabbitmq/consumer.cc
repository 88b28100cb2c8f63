#include "queue/rabbitmq/consumer.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mqlab::queue::rabbitmq {

namespace {

// How long the thread sleeps in poll() when nothing happens: bounds how late a heartbeat is sent
// or a missing one noticed (rabbitmq-c checks both whenever it is asked for a frame).
constexpr int kPollMs = 1000;
// Frames read per round before the thread looks at queued acks again.
constexpr int kMaxFramesPerRound = 256;

void Fail(std::deque<auto>& commands, const std::string& why) {
  for (auto& c : commands) {
    if (c.depth) c.depth->set_value(Unavailable(why));
  }
  commands.clear();
}

}  // namespace

Consumer::Consumer(AmqpUrl url, Topology topology, ConsumerOptions options)
    : url_(std::move(url)),
      topology_(std::move(topology)),
      options_(std::move(options)),
      wake_fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

Consumer::~Consumer() {
  Close();
  if (wake_fd_ >= 0) close(wake_fd_);
}

void Consumer::Wake() {
  uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof one);  // fails only if the counter is full
  (void)ignored;
}

Result<std::optional<RawDelivery>> Consumer::Take(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mu_);
  if (state_ == State::kIdle && !closed_) {
    if (wake_fd_ < 0) return Internal(fmt::format("eventfd: {}", std::strerror(errno)));
    state_ = State::kConnecting;
    thread_ = std::thread([this] { Run(); });
  }
  for (;;) {
    if (closed_) return Unavailable("the RabbitMQ queue is closed");
    if (!buffer_.empty()) {
      RawDelivery d = std::move(buffer_.front());
      buffer_.pop_front();
      return std::optional<RawDelivery>(std::move(d));
    }
    if (state_ == State::kDown) return Unavailable(down_reason_);
    if (std::chrono::steady_clock::now() >= deadline) return std::optional<RawDelivery>();
    ready_cv_.wait_until(lock, deadline);
  }
}

Status Consumer::Settle(uint64_t generation, uint64_t tag, Settlement how) {
  {
    std::lock_guard lock(mu_);
    if (closed_)
      return Unavailable("the RabbitMQ queue is closed; the broker redelivers the message");
    if (generation != generation_ || state_ != State::kUp) {
      return Unavailable("the connection this message came on was lost; the broker redelivers it");
    }
    commands_.push_back(
        {how == Settlement::kAck ? Command::kAck : Command::kRequeue, generation, tag, nullptr});
  }
  Wake();
  return Ok();
}

bool Consumer::IsCurrent(uint64_t generation) {
  std::lock_guard lock(mu_);
  return !closed_ && state_ == State::kUp && generation == generation_;
}

std::optional<Result<int64_t>> Consumer::Depth(std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<Result<int64_t>>>();
  auto future = promise->get_future();
  {
    std::lock_guard lock(mu_);
    if (closed_ || state_ != State::kUp) return std::nullopt;
    commands_.push_back({Command::kDepth, generation_, 0, promise});
  }
  Wake();
  if (future.wait_for(timeout) != std::future_status::ready) {
    return Result<int64_t>(DeadlineExceeded("RabbitMQ consumer did not measure depth in time"));
  }
  return future.get();
}

void Consumer::Close() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  ready_cv_.notify_all();
  backoff_cv_.notify_all();
  Wake();
  if (thread_.joinable()) thread_.join();
}

void Consumer::Run() {
  auto backoff = options_.reconnect_min;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (closed_) break;
    }
    if (!conn_) {
      if (auto s = ConnectAndConsume(); !s) {
        SetDown(s.error());
        std::unique_lock lock(mu_);
        backoff_cv_.wait_for(lock, backoff, [&] { return closed_; });
        backoff = std::min(backoff * 2, options_.reconnect_max);
        continue;
      }
      backoff = options_.reconnect_min;
    }
    if (auto s = Pump(); !s) {
      conn_.reset();
      SetDown(s.error());
    }
  }
  // Closing: write the acks already queued, then leave; the broker requeues the rest at once.
  if (conn_) {
    (void)ProcessCommands();
    CloseGracefully(std::move(conn_));
  }
  std::lock_guard lock(mu_);
  Fail(commands_, "the RabbitMQ queue is closed");
}

Status Consumer::ConnectAndConsume() {
  auto conn = Connect(url_, options_.connect);
  if (!conn) return std::unexpected(conn.error());
  amqp_connection_state_t c = conn->get();
  if (auto s = DeclareTopology(c, topology_); !s) return s;
  amqp_basic_qos(c, kChannel, 0, static_cast<uint16_t>(options_.prefetch), 0);
  if (auto s = CheckReply(c, "set the prefetch count"); !s) return s;
  amqp_basic_consume(c, kChannel, Bytes(topology_.main), amqp_empty_bytes, /*no_local=*/0,
                     /*no_ack=*/0, /*exclusive=*/0, amqp_empty_table);
  if (auto s = CheckReply(c, fmt::format("consume from {}", topology_.main)); !s) return s;
  conn_ = std::move(*conn);
  {
    std::lock_guard lock(mu_);
    ++generation_;
    state_ = State::kUp;
    down_reason_.clear();
    buffer_.clear();
    std::erase_if(commands_, [](const Command& cmd) { return cmd.kind != Command::kDepth; });
  }
  ready_cv_.notify_all();
  return Ok();
}

void Consumer::SetDown(const Error& error) {
  std::deque<Command> dropped;
  {
    std::lock_guard lock(mu_);
    state_ = State::kDown;
    down_reason_ = fmt::format("RabbitMQ consumer disconnected ({}); reconnecting", error.message);
    buffer_.clear();  // the broker requeued them when the connection went
    dropped.swap(commands_);
  }
  Fail(dropped, down_reason_);
  ready_cv_.notify_all();
}

Status Consumer::Pump() {
  if (auto s = ProcessCommands(); !s) return s;
  amqp_connection_state_t c = conn_.get();
  if (!amqp_frames_enqueued(c) && !amqp_data_in_buffer(c)) {
    pollfd fds[2] = {{amqp_get_sockfd(c), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int n = poll(fds, 2, kPollMs);
    if (n < 0 && errno != EINTR) {
      return Unavailable(fmt::format("poll on the RabbitMQ socket: {}", std::strerror(errno)));
    }
    if (fds[1].revents & POLLIN) {
      uint64_t count;
      ssize_t ignored = read(wake_fd_, &count, sizeof count);
      (void)ignored;
    }
    if (n > 0 && fds[0].revents == 0) return Ok();  // woken for commands: next round
  }
  // Readable, or poll timed out: reading also sends a due heartbeat and notices a missed one.
  return ReadFrames();
}

Status Consumer::ProcessCommands() {
  std::deque<Command> todo;
  uint64_t generation;
  {
    std::lock_guard lock(mu_);
    todo.swap(commands_);
    generation = generation_;
  }
  amqp_connection_state_t c = conn_.get();
  Status status = Ok();
  while (status && !todo.empty()) {
    Command cmd = std::move(todo.front());
    todo.pop_front();
    if (cmd.generation != generation) continue;  // for a connection that is gone
    int rc = AMQP_STATUS_OK;
    if (cmd.kind == Command::kAck) {
      rc = amqp_basic_ack(c, kChannel, cmd.tag, /*multiple=*/0);
    } else if (cmd.kind == Command::kRequeue) {
      rc = amqp_basic_nack(c, kChannel, cmd.tag, /*multiple=*/0, /*requeue=*/1);
    } else {
      auto depth = DepthOnChannel();
      if (!depth) status = std::unexpected(depth.error());  // the channel may be closed now
      cmd.depth->set_value(std::move(depth));
    }
    if (rc != AMQP_STATUS_OK) status = std::unexpected(TranslateStatus(rc, "acknowledge"));
  }
  if (!status) Fail(todo, status.error().message);
  return status;
}

Result<int64_t> Consumer::CountOnce() {
  amqp_connection_state_t c = conn_.get();
  auto total = ReadyCount(c, topology_.main);
  for (size_t i = 0; total && i < topology_.retry.size(); ++i) {
    auto n = ReadyCount(c, topology_.retry[i]);
    if (!n) return n;
    *total += *n;
  }
  if (!total) return total;
  // rabbitmq-c queued the frames that arrived during those calls: move deliveries in now.
  while (amqp_frames_enqueued(c)) {
    amqp_frame_t frame;
    int rc = amqp_simple_wait_frame_noblock(c, &frame, nullptr);  // returns a queued frame
    if (rc != AMQP_STATUS_OK) return std::unexpected(TranslateStatus(rc, "read from RabbitMQ"));
    if (auto s = HandleFrame(frame); !s) return std::unexpected(s.error());
  }
  std::lock_guard lock(mu_);
  return *total + static_cast<int64_t>(buffer_.size());
}

Result<int64_t> Consumer::DepthOnChannel() {
  // A message the broker dispatches to us while we count (an ack just freed a prefetch slot) can
  // be counted twice (ready when counted, then in our buffer) or not at all (on its way to our
  // socket): RabbitMQ's prefetch limiter tells the queue to dispatch asynchronously, so no
  // ordering on the channel rules it out. Such a count differs from the next one, so count until
  // two agree (a quiet queue: twice), at most kMaxRounds times (a busy one: the last count).
  constexpr int kMaxRounds = 5;
  auto previous = CountOnce();
  for (int round = 1; previous && round < kMaxRounds; ++round) {
    auto current = CountOnce();
    if (!current || *current == *previous) return current;
    previous = current;
  }
  return previous;
}

Status Consumer::ReadFrames() {
  amqp_connection_state_t c = conn_.get();
  for (int i = 0; i < kMaxFramesPerRound; ++i) {
    timeval now{0, 0};
    amqp_frame_t frame;
    int rc = amqp_simple_wait_frame_noblock(c, &frame, &now);
    if (rc == AMQP_STATUS_TIMEOUT) break;
    if (rc != AMQP_STATUS_OK) return std::unexpected(TranslateStatus(rc, "read from RabbitMQ"));
    if (auto s = HandleFrame(frame); !s) return s;
  }
  amqp_maybe_release_buffers(c);
  return Ok();
}

Status Consumer::HandleFrame(const amqp_frame_t& frame) {
  if (frame.frame_type != AMQP_FRAME_METHOD) return Ok();
  const void* decoded = frame.payload.method.decoded;
  switch (frame.payload.method.id) {
    case AMQP_BASIC_DELIVER_METHOD: {
      const uint64_t tag = static_cast<const amqp_basic_deliver_t*>(decoded)->delivery_tag;
      amqp_message_t message;
      amqp_rpc_reply_t r = amqp_read_message(conn_.get(), frame.channel, &message, 0);
      if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        return std::unexpected(TranslateError(r, "read a delivery"));
      }
      RawDelivery d{0, tag, ToString(message.body)};
      amqp_destroy_message(&message);
      {
        std::lock_guard lock(mu_);
        d.generation = generation_;
        buffer_.push_back(std::move(d));
      }
      ready_cv_.notify_one();
      return Ok();
    }
    case AMQP_BASIC_CANCEL_METHOD:
      return Unavailable(
          fmt::format("RabbitMQ cancelled the consumer of {} (queue deleted?)", topology_.main));
    case AMQP_CHANNEL_CLOSE_METHOD: {
      const auto* m = static_cast<const amqp_channel_close_t*>(decoded);
      return std::unexpected(TranslateClose(m->reply_code, ToString(m->reply_text), "consume"));
    }
    case AMQP_CONNECTION_CLOSE_METHOD: {
      const auto* m = static_cast<const amqp_connection_close_t*>(decoded);
      return std::unexpected(TranslateClose(m->reply_code, ToString(m->reply_text), "consume"));
    }
    default:
      return Ok();
  }
}

}  // namespace mqlab::queue::rabbitmq
