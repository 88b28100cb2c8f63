#include "queue/kafka/consumer_loop.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

namespace mqlab::queue::kafka {

namespace {

// The poll when nothing waits to be committed: returns at once when a record or callback arrives
// (or a settlement wakes it); bounds how late a flow-control change can be.
constexpr int kPollMs = 100;
// The poll while settled offsets wait for their commit (spacing, or one still in flight).
constexpr int kCommitPollMs = 5;
// A commit whose result never came (it always comes; this is a safety net) is sent again.
constexpr auto kCommitStall = std::chrono::seconds(5);

int64_t UnixMillisNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Owns a TopicPartition list.
struct TpList {
  std::vector<RdKafka::TopicPartition*> list;
  ~TpList() { RdKafka::TopicPartition::destroy(list); }
};

}  // namespace

class ConsumerLoop::Callbacks final : public RdKafka::RebalanceCb,
                                      public RdKafka::OffsetCommitCb,
                                      public LastErrorEvents {
 public:
  explicit Callbacks(ConsumerLoop* loop) : loop_(loop) {}
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    loop_->OnRebalance(consumer, err, partitions);
  }
  void offset_commit_cb(RdKafka::ErrorCode,
                        std::vector<RdKafka::TopicPartition*>& offsets) override {
    loop_->OnCommitted(offsets);
  }

 private:
  ConsumerLoop* loop_;
};

ConsumerLoop::ConsumerLoop(const KafkaQueueOptions& options, std::array<std::string, 2> topics)
    : options_(options), topics_(std::move(topics)) {}

Result<std::shared_ptr<ConsumerLoop>> ConsumerLoop::Start(const KafkaQueueOptions& o,
                                                          std::array<std::string, 2> topics) {
  std::shared_ptr<ConsumerLoop> loop(new ConsumerLoop(o, std::move(topics)));
  loop->callbacks_ = std::make_unique<Callbacks>(loop.get());
  const int64_t session_ms = o.session_timeout.count();
  Props props = CommonProps(o);
  Props consumer = {
      {"group.id", o.group},
      // Offsets are committed by us, only once settled (see offset_tracker.h).
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      // A new group starts at the beginning: messages enqueued before the first worker joined
      // are jobs too.
      {"auto.offset.reset", "earliest"},
      {"session.timeout.ms", std::to_string(session_ms)},
      // At most a third of the session timeout (Kafka's rule), and at most 1 s: a member learns
      // of a rebalance (another member joined or left) at its next heartbeat.
      {"heartbeat.interval.ms", std::to_string(std::clamp<int64_t>(session_ms / 3, 100, 1000))},
      {"partition.assignment.strategy", o.assignment_strategy},
      // Short broker-side fetch waits keep pause/resume and revocation responsive; a record that
      // arrives ends the wait at once anyway.
      {"fetch.wait.max.ms", "100"},
      // librdkafka prefetches up to 100k records per partition by default; a few thousand keep
      // workers fed without holding a large backlog that a rebalance would discard.
      {"queued.min.messages", "2000"},
  };
  props.insert(props.end(), consumer.begin(), consumer.end());
  auto conf = MakeConf(props, loop->callbacks_.get());
  if (!conf) return std::unexpected(conf.error());
  std::string err;
  if ((*conf)->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(loop->callbacks_.get()),
                   err) != RdKafka::Conf::CONF_OK ||
      (*conf)->set("offset_commit_cb",
                   static_cast<RdKafka::OffsetCommitCb*>(loop->callbacks_.get()),
                   err) != RdKafka::Conf::CONF_OK) {
    return Internal(fmt::format("kafka: consumer callbacks: {}", err));
  }
  loop->consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), err));
  if (!loop->consumer_) return Internal(fmt::format("kafka: cannot create a consumer: {}", err));
  std::vector<std::string> subscription(loop->topics_.begin(), loop->topics_.end());
  if (auto code = loop->consumer_->subscribe(subscription); code != RdKafka::ERR_NO_ERROR) {
    return std::unexpected(TranslateError(code, "subscribe"));
  }
  // The handle Settle uses to cut the poll short (rd_kafka_queue_yield), so a commit follows a
  // settlement within milliseconds instead of a poll period.
  loop->wake_ = {rd_kafka_queue_get_consumer(loop->consumer_->c_ptr()), rd_kafka_queue_destroy};
  loop->thread_ = std::thread([raw = loop.get()] { raw->Run(); });
  return loop;
}

ConsumerLoop::~ConsumerLoop() { Close(); }

void ConsumerLoop::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    ready_cv_.notify_all();
    settled_cv_.notify_all();
  }
  std::lock_guard closing(close_mu_);
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

// ----- Receive side ---------------------------------------------------------------------------

void ConsumerLoop::PromoteDue(SteadyClock::time_point now) {
  while (!held_.empty() && held_.begin()->first <= now) {
    ready_.push_back(std::move(held_.begin()->second));
    held_.erase(held_.begin());
  }
}

Result<std::optional<Fetched>> ConsumerLoop::Next(std::chrono::milliseconds timeout) {
  const auto deadline = SteadyClock::now() + timeout;
  std::unique_lock lock(mu_);
  for (;;) {
    if (closed_) return Unavailable("kafka queue is closed");
    const auto now = SteadyClock::now();
    PromoteDue(now);
    while (!ready_.empty()) {
      Fetched item = std::move(ready_.front());
      ready_.pop_front();
      if (tracker_.HandOut(item.key, item.generation)) return item;
    }
    if (now >= deadline) return std::nullopt;
    auto wake = deadline;
    if (!held_.empty()) wake = std::min(wake, held_.begin()->first);
    ready_cv_.wait_until(lock, wake);
  }
}

bool ConsumerLoop::Settle(const Fetched& item) {
  std::lock_guard lock(mu_);
  const bool counted = tracker_.Settle(item.key, item.generation, item.offset);
  settled_cv_.notify_all();
  if (counted && wake_armed_.exchange(false) && wake_) rd_kafka_queue_yield(wake_.get());
  return counted;
}

void ConsumerLoop::Release(Fetched item) {
  std::lock_guard lock(mu_);
  if (tracker_.Release(item.key, item.generation) && !closed_) {
    ready_.push_front(std::move(item));
    ready_cv_.notify_one();
  }
  settled_cv_.notify_all();
}

ConsumerLoop::Local ConsumerLoop::Snapshot() const {
  Local out;
  std::lock_guard lock(mu_);
  for (PartitionKey k : tracker_.Assigned()) {
    out.next_fetch[k] = tracker_.NextFetch(k);
    out.waiting[k] = 0;
  }
  for (const Fetched& f : ready_) ++out.waiting[f.key];
  for (const auto& [due, f] : held_) ++out.waiting[f.key];
  return out;
}

// ----- The poll thread ------------------------------------------------------------------------

void ConsumerLoop::Run() {
  while (!stop_.load()) {
    FlowControl();
    const bool uncommitted = Commit(/*sync=*/false);
    // Nothing waiting to be committed: sleep long, and let the next settlement wake us.
    wake_armed_ = !uncommitted;
    std::unique_ptr<RdKafka::Message> m(consumer_->consume(uncommitted ? kCommitPollMs : kPollMs));
    if (m && m->err() == RdKafka::ERR_NO_ERROR) OnMessage(*m);
  }
  Commit(/*sync=*/true);
  // Leaves the group (its partitions go to the other members at once); librdkafka calls the
  // rebalance callback from here to revoke what we hold, which commits once more.
  consumer_->close();
}

std::optional<PartitionKey> ConsumerLoop::KeyOf(const std::string& topic, int32_t partition) const {
  for (int t = 0; t < 2; ++t) {
    if (topic == topics_[t]) return PartitionKey{t, partition};
  }
  return std::nullopt;
}

void ConsumerLoop::OnMessage(RdKafka::Message& m) {
  auto key = KeyOf(m.topic_name(), m.partition());
  if (!key) return;
  Fetched f;
  f.key = *key;
  f.offset = m.offset();
  if (m.payload() != nullptr) f.payload.assign(static_cast<const char*>(m.payload()), m.len());
  if (auto decoded = DecodeMessage(f.payload); decoded) {
    f.message = std::move(*decoded);
  } else {
    f.decode_error = decoded.error().message;
  }
  const auto now = SteadyClock::now();
  f.due = now;
  if (key->topic == 1 && m.headers() != nullptr) {
    RdKafka::Headers::Header h = m.headers()->get_last(kDueHeader);
    int64_t due_ms = 0;
    if (h.err() == RdKafka::ERR_NO_ERROR && h.value() != nullptr &&
        std::from_chars(h.value_string(), h.value_string() + h.value_size(), due_ms).ec ==
            std::errc()) {
      f.due = now + std::chrono::milliseconds(std::max<int64_t>(0, due_ms - UnixMillisNow()));
    }
  }
  std::lock_guard lock(mu_);
  auto gen = tracker_.Active(*key);
  if (!gen || !tracker_.Fetched(*key, *gen, f.offset)) return;
  f.generation = *gen;
  if (f.due > now) {
    held_.emplace(f.due, std::move(f));
    ready_cv_.notify_all();  // a waiter may have to wake earlier now
  } else {
    ready_.push_back(std::move(f));
    ready_cv_.notify_one();
  }
}

bool ConsumerLoop::Commit(bool sync) {
  std::vector<std::pair<PartitionKey, int64_t>> pending;
  {
    std::lock_guard lock(mu_);
    pending = tracker_.PendingCommits();
  }
  if (pending.empty()) return false;
  const auto now = SteadyClock::now();
  // One asynchronous commit at a time, at most one per commit_interval: under load commits
  // batch themselves (each covers everything settled meanwhile); when idle, the first settlement
  // is committed at once.
  if (!sync && ((commit_in_flight_ && now - commit_sent_at_ < kCommitStall) ||
                now < commit_sent_at_ + options_.commit_interval)) {
    return true;
  }
  TpList tps;
  for (const auto& [k, offset] : pending) {
    tps.list.push_back(RdKafka::TopicPartition::create(topics_[k.topic], k.partition, offset));
  }
  commit_sent_at_ = now;
  if (!sync) {
    // The result arrives in offset_commit_cb; a failed commit is simply sent again.
    commit_in_flight_ = consumer_->commitAsync(tps.list) == RdKafka::ERR_NO_ERROR;
    return true;
  }
  if (consumer_->commitSync(tps.list) == RdKafka::ERR_NO_ERROR) OnCommitted(tps.list);
  return false;
}

void ConsumerLoop::OnCommitted(const std::vector<RdKafka::TopicPartition*>& offsets) {
  commit_in_flight_ = false;
  std::lock_guard lock(mu_);
  for (const RdKafka::TopicPartition* tp : offsets) {
    auto key = KeyOf(tp->topic(), tp->partition());
    if (key && tp->err() == RdKafka::ERR_NO_ERROR) tracker_.MarkCommitted(*key, tp->offset());
  }
}

// ----- Flow control -----------------------------------------------------------------------------

void ConsumerLoop::FlowControl() {
  size_t ready = 0, held = 0;
  std::vector<PartitionKey> assigned;
  {
    std::lock_guard lock(mu_);
    ready = ready_.size();
    held = held_.size();
    assigned = tracker_.Assigned();
  }
  // Hysteresis: pause when full, resume when half empty, so fetching does not flap.
  const size_t max_ready = std::max<size_t>(1, options_.max_buffered);
  const size_t max_held = std::max<size_t>(1, options_.max_held_retries);
  const bool ready_full = paused_[0] ? ready > max_ready / 2 : ready >= max_ready;
  held_full_ = held_full_ ? held > max_held / 2 : held >= max_held;
  SetPaused(0, ready_full, assigned);
  SetPaused(1, ready_full || held_full_, assigned);
}

void ConsumerLoop::SetPaused(int topic, bool paused, const std::vector<PartitionKey>& keys) {
  if (paused_[topic] == paused) return;
  paused_[topic] = paused;
  TpList tps;
  for (PartitionKey k : keys) {
    if (k.topic == topic) {
      tps.list.push_back(RdKafka::TopicPartition::create(topics_[topic], k.partition));
    }
  }
  if (tps.list.empty()) return;
  if (paused) {
    consumer_->pause(tps.list);
  } else {
    consumer_->resume(tps.list);
  }
}

// ----- Rebalances -------------------------------------------------------------------------------

void ConsumerLoop::OnRebalance(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                               std::vector<RdKafka::TopicPartition*>& partitions) {
  const bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    {
      std::lock_guard lock(mu_);
      for (const RdKafka::TopicPartition* tp : partitions) {
        if (auto key = KeyOf(tp->topic(), tp->partition())) tracker_.Assign(*key);
      }
    }
    if (cooperative) {
      delete consumer->incremental_assign(partitions);
    } else {
      consumer->assign(partitions);
    }
    // Newly assigned partitions start unpaused: pause them if their topic is paused.
    TpList to_pause;
    for (const RdKafka::TopicPartition* tp : partitions) {
      auto key = KeyOf(tp->topic(), tp->partition());
      if (key && paused_[key->topic]) {
        to_pause.list.push_back(RdKafka::TopicPartition::create(tp->topic(), tp->partition()));
      }
    }
    if (!to_pause.list.empty()) consumer->pause(to_pause.list);
    return;
  }
  if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
    Revoke(consumer, partitions);
    if (cooperative) {
      delete consumer->incremental_unassign(partitions);
    } else {
      consumer->unassign();
    }
    return;
  }
  // A rebalance error: librdkafka asks us to drop the whole assignment; nothing is committed.
  std::vector<RdKafka::TopicPartition*> none;
  Revoke(nullptr, none);
  consumer->unassign();
}

void ConsumerLoop::Revoke(RdKafka::KafkaConsumer* consumer,
                          const std::vector<RdKafka::TopicPartition*>& partitions) {
  // Lost (our session expired, another member may own them already): commit nothing.
  const bool lost = consumer == nullptr || consumer->assignment_lost();
  std::set<PartitionKey> keys;
  if (consumer == nullptr) {
    std::lock_guard lock(mu_);
    for (PartitionKey k : tracker_.Assigned()) keys.insert(k);
  }
  for (const RdKafka::TopicPartition* tp : partitions) {
    if (auto key = KeyOf(tp->topic(), tp->partition())) keys.insert(*key);
  }
  TpList commits;
  {
    std::unique_lock lock(mu_);
    for (PartitionKey k : keys) tracker_.BeginRevoke(k);
    // Buffered and held items of these partitions stay outstanding (the commit will not pass
    // them) and are dropped here: the next owner reads them again.
    std::erase_if(ready_, [&](const Fetched& f) { return keys.contains(f.key); });
    std::erase_if(held_, [&](const auto& e) { return keys.contains(e.second.key); });
    if (!lost) {
      settled_cv_.wait_for(lock, options_.revoke_grace, [&] {
        if (closed_) return true;
        return std::all_of(keys.begin(), keys.end(),
                           [&](PartitionKey k) { return tracker_.HandedOut(k) == 0; });
      });
    }
    for (PartitionKey k : keys) {
      std::optional<int64_t> pos = tracker_.Revoke(k);
      if (pos && !lost) {
        commits.list.push_back(
            RdKafka::TopicPartition::create(topics_[k.topic], k.partition, *pos));
      }
    }
  }
  // Errors are tolerable: the next owner then starts from the previous commit (duplicates).
  if (!commits.list.empty()) (void)consumer->commitSync(commits.list);
}

}  // namespace mqlab::queue::kafka
