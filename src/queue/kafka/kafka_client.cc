#include "queue/kafka/kafka_client.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>
#include <unistd.h>

#include <condition_variable>

namespace mqlab::queue::kafka {

Error TranslateError(RdKafka::ErrorCode code, std::string_view what) {
  std::string msg = fmt::format("kafka: {}: {}", what, RdKafka::err2str(code));
  switch (code) {
    case RdKafka::ERR__QUEUE_FULL:
      return Error{ErrorCode::kResourceExhausted, msg};
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
      return Error{ErrorCode::kNotFound, msg};
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR__INVALID_ARG:
    case RdKafka::ERR_INVALID_CONFIG:
    case RdKafka::ERR_INVALID_PARTITIONS:
    case RdKafka::ERR_INVALID_REPLICATION_FACTOR:
      return Error{ErrorCode::kInvalidArgument, msg};
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RdKafka::ERR_UNSUPPORTED_VERSION:
      return Error{ErrorCode::kFailedPrecondition, msg};
    case RdKafka::ERR__TRANSPORT:
    case RdKafka::ERR__ALL_BROKERS_DOWN:
    case RdKafka::ERR__RESOLVE:
    case RdKafka::ERR__TIMED_OUT:
    case RdKafka::ERR__TIMED_OUT_QUEUE:
    case RdKafka::ERR__MSG_TIMED_OUT:
    case RdKafka::ERR__PURGE_QUEUE:
    case RdKafka::ERR__PURGE_INFLIGHT:
    case RdKafka::ERR__FATAL:  // the producer is replaced; the next call may succeed
    case RdKafka::ERR__WAIT_COORD:
    case RdKafka::ERR__DESTROY:
    case RdKafka::ERR_REQUEST_TIMED_OUT:
    case RdKafka::ERR_NETWORK_EXCEPTION:
    case RdKafka::ERR_BROKER_NOT_AVAILABLE:
    case RdKafka::ERR_LEADER_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_LEADER_FOR_PARTITION:
    case RdKafka::ERR_COORDINATOR_LOAD_IN_PROGRESS:
    case RdKafka::ERR_COORDINATOR_NOT_AVAILABLE:
    case RdKafka::ERR_NOT_COORDINATOR:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS:
    case RdKafka::ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case RdKafka::ERR_KAFKA_STORAGE_ERROR:
    case RdKafka::ERR_REBALANCE_IN_PROGRESS:
      return Error{ErrorCode::kUnavailable, msg};
    default:
      return Error{ErrorCode::kInternal, msg};
  }
}

Props CommonProps(const KafkaQueueOptions& o) {
  const std::string client_id =
      o.client_id.empty() ? fmt::format("mqlab-{}", getpid()) : o.client_id;
  const std::string request_ms = std::to_string(o.request_timeout.count());
  return {
      {"bootstrap.servers", o.brokers},
      {"client.id", client_id},
      // A restarted broker is found again within a second (the default backoff grows to 10 s).
      {"reconnect.backoff.ms", "100"},
      {"reconnect.backoff.max.ms", "1000"},
      {"socket.connection.setup.timeout.ms", request_ms},
      {"socket.keepalive.enable", "true"},
  };
}

Result<std::unique_ptr<RdKafka::Conf>> MakeConf(const Props& props, RdKafka::EventCb* events) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string err;
  for (const auto& [k, v] : props) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      return InvalidArgument(fmt::format("kafka: {}={}: {}", k, v, err));
    }
  }
  if (events != nullptr && conf->set("event_cb", events, err) != RdKafka::Conf::CONF_OK) {
    return Internal(fmt::format("kafka: event_cb: {}", err));
  }
  return conf;
}

void LastErrorEvents::event_cb(RdKafka::Event& event) {
  if (event.type() != RdKafka::Event::EVENT_ERROR) return;
  if (event.err() == RdKafka::ERR__ALL_BROKERS_DOWN) brokers_down_ = true;
  std::lock_guard lock(mu_);
  last_ = fmt::format("{}{}: {}", event.fatal() ? "fatal " : "", RdKafka::err2str(event.err()),
                      event.str());
}

std::string LastErrorEvents::last() const {
  std::lock_guard lock(mu_);
  return last_;
}

// ----- SyncProducer -----------------------------------------------------------------------------

namespace {

// One Produce call waiting for its delivery report. Shared by the caller and the report (through
// a heap-allocated shared_ptr as msg_opaque), so neither can outlive the other's use.
struct Waiter {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  RdKafka::ErrorCode err = RdKafka::ERR_NO_ERROR;
};

// How much longer than message.timeout.ms a caller waits for the report librdkafka guarantees.
constexpr auto kReportSlack = std::chrono::seconds(5);
// The delivery-report thread's poll: returns at once when a report arrives.
constexpr int kPollMs = 100;

}  // namespace

class SyncProducer::Reports final : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override {
    auto* box = static_cast<std::shared_ptr<Waiter>*>(message.msg_opaque());
    if (box == nullptr) return;
    std::shared_ptr<Waiter> w = std::move(*box);
    delete box;
    std::lock_guard lock(w->mu);
    w->err = message.err();
    w->done = true;
    w->cv.notify_all();
  }
};

Result<std::shared_ptr<SyncProducer>> SyncProducer::Create(const KafkaQueueOptions& o) {
  std::shared_ptr<SyncProducer> p(new SyncProducer());
  p->delivery_timeout_ = o.delivery_timeout;
  p->props_ = CommonProps(o);
  const std::string delivery_ms = std::to_string(o.delivery_timeout.count());
  Props producer = {
      {"enable.idempotence", "true"},  // implies acks=all, retries, max.in.flight ≤ 5
      {"acks", "all"},
      {"linger.ms", std::to_string(o.linger.count())},
      {"compression.codec", o.compression},
      {"message.timeout.ms", delivery_ms},
      {"request.timeout.ms", delivery_ms},
  };
  p->props_.insert(p->props_.end(), producer.begin(), producer.end());
  p->reports_ = std::make_unique<Reports>();
  p->events_ = std::make_unique<LastErrorEvents>();
  auto first = p->NewHandle();
  if (!first) return std::unexpected(first.error());
  p->producer_ = std::move(*first);
  p->poller_ = std::thread([raw = p.get()] { raw->Poll(); });
  return p;
}

Result<std::shared_ptr<RdKafka::Producer>> SyncProducer::NewHandle() {
  auto conf = MakeConf(props_, events_.get());
  if (!conf) return std::unexpected(conf.error());
  std::string err;
  if ((*conf)->set("dr_cb", static_cast<RdKafka::DeliveryReportCb*>(reports_.get()), err) !=
      RdKafka::Conf::CONF_OK) {
    return Internal(fmt::format("kafka: dr_cb: {}", err));
  }
  std::shared_ptr<RdKafka::Producer> fresh(RdKafka::Producer::create(conf->get(), err));
  if (!fresh) return Internal(fmt::format("kafka: cannot create a producer: {}", err));
  return fresh;
}

void SyncProducer::ReplaceIfFatal(const std::shared_ptr<RdKafka::Producer>& failed) {
  std::string reason;
  if (failed->fatal_error(reason) == RdKafka::ERR_NO_ERROR) return;
  std::lock_guard replacing(replace_mu_);
  if (handle() != failed) return;  // another caller replaced it already
  auto fresh = NewHandle();
  if (!fresh) return;  // keep the failed one; the next failure tries again
  {
    std::lock_guard lock(mu_);
    producer_ = std::move(*fresh);
  }
  // Its queued messages fail now (ERR__PURGE_*), so their callers stop waiting.
  failed->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT);
  failed->poll(kPollMs);
}

SyncProducer::~SyncProducer() {
  stop_ = true;
  if (poller_.joinable()) poller_.join();
  if (auto p = handle()) p->flush(static_cast<int>(delivery_timeout_.count()));
  std::lock_guard lock(mu_);
  producer_.reset();
}

std::shared_ptr<RdKafka::Producer> SyncProducer::handle() const {
  std::lock_guard lock(mu_);
  return producer_;
}

void SyncProducer::Poll() {
  while (!stop_.load()) {
    if (auto p = handle()) p->poll(kPollMs);
  }
}

Status SyncProducer::Produce(const std::string& topic, std::string_view key,
                             std::string_view payload, const std::vector<Header>& headers,
                             int32_t partition) {
  auto steady_ns = [] { return std::chrono::steady_clock::now().time_since_epoch().count(); };
  bool probe = false;
  if (events_->brokers_down() || open_until_ns_.load() != 0) {
    if (steady_ns() < open_until_ns_.load() || probing_.exchange(true)) {
      std::string last = events_->last();
      return Unavailable(fmt::format("kafka: brokers unreachable, not waiting (failing fast until "
                                     "a probe gets a message through){}",
                                     last.empty() ? "" : "; last error: " + last));
    }
    probe = true;  // this call tries for real; the others keep failing fast meanwhile
  }
  struct EndProbe {
    std::atomic<bool>* flag;
    ~EndProbe() {
      if (flag) flag->store(false);
    }
  } end_probe{probe ? &probing_ : nullptr};
  auto trip = [&](const Error& e) {
    if (e.transient()) {
      open_until_ns_ = steady_ns() + std::chrono::nanoseconds(std::chrono::seconds(1)).count();
    }
  };
  std::shared_ptr<RdKafka::Producer> p = handle();
  auto waiter = std::make_shared<Waiter>();
  auto* box = new std::shared_ptr<Waiter>(waiter);
  RdKafka::Headers* hs = nullptr;
  if (!headers.empty()) {
    hs = RdKafka::Headers::create();
    for (const Header& h : headers) hs->add(h.key, h.value);
  }
  RdKafka::ErrorCode err = p->produce(
      topic, partition, RdKafka::Producer::RK_MSG_COPY,
      const_cast<char*>(payload.data()), payload.size(), key.data(), key.size(), 0, hs, box);
  if (err != RdKafka::ERR_NO_ERROR) {  // not queued: we still own the headers and the box
    delete hs;
    delete box;
    Error e = TranslateError(err, "produce to " + topic);
    trip(e);
    return std::unexpected(std::move(e));
  }
  {
    std::unique_lock lock(waiter->mu);
    if (!waiter->cv.wait_for(lock, delivery_timeout_ + kReportSlack,
                             [&] { return waiter->done; })) {
      Error e{ErrorCode::kDeadlineExceeded,
              fmt::format("kafka: no delivery report for {} within {} ms", topic,
                          (delivery_timeout_ + kReportSlack).count())};
      trip(e);
      return std::unexpected(std::move(e));
    }
    err = waiter->err;
  }
  if (err == RdKafka::ERR_NO_ERROR) {
    open_until_ns_ = 0;  // the brokers take messages again: close the circuit
    events_->ClearDown();
    return Ok();
  }
  ReplaceIfFatal(p);
  Error e = TranslateError(err, "deliver to " + topic);
  if (std::string last = events_->last(); !last.empty()) e.message += " (last error: " + last + ")";
  trip(e);
  return std::unexpected(std::move(e));
}

}  // namespace mqlab::queue::kafka
