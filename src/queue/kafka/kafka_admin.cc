#include "queue/kafka/kafka_admin.h"

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include <thread>

namespace mqlab::queue::kafka {

// ----- Admin ------------------------------------------------------------------------------------

namespace {

int Ms(std::chrono::milliseconds d) { return static_cast<int>(d.count()); }

// Retry spacing while partitions get their leaders.
constexpr std::chrono::milliseconds kLeaderPoll{50};

// Runs one admin request on `rk` and returns its result event (kUnavailable on timeout).
template <typename Call>
Result<std::unique_ptr<rd_kafka_event_t, decltype(&rd_kafka_event_destroy)>> RunAdmin(
    rd_kafka_t* rk, rd_kafka_admin_op_t op, std::chrono::milliseconds timeout, Call call) {
  using Event = std::unique_ptr<rd_kafka_event_t, decltype(&rd_kafka_event_destroy)>;
  std::unique_ptr<rd_kafka_AdminOptions_t, decltype(&rd_kafka_AdminOptions_destroy)> opts(
      rd_kafka_AdminOptions_new(rk, op), rd_kafka_AdminOptions_destroy);
  char errstr[256];
  rd_kafka_AdminOptions_set_request_timeout(opts.get(), Ms(timeout), errstr, sizeof errstr);
  // Wait for the controller to finish, so that the topics exist when we return.
  rd_kafka_AdminOptions_set_operation_timeout(opts.get(), Ms(timeout), errstr, sizeof errstr);
  std::unique_ptr<rd_kafka_queue_t, decltype(&rd_kafka_queue_destroy)> q(rd_kafka_queue_new(rk),
                                                                         rd_kafka_queue_destroy);
  call(opts.get(), q.get());
  Event ev(rd_kafka_queue_poll(q.get(), Ms(timeout) + 1000), rd_kafka_event_destroy);
  if (!ev) return Unavailable("kafka: the admin request timed out");
  if (rd_kafka_event_error(ev.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return std::unexpected(
        TranslateError(static_cast<RdKafka::ErrorCode>(rd_kafka_event_error(ev.get())),
                       rd_kafka_event_error_string(ev.get())));
  }
  return ev;
}

// Each topic's partition count, or an error for topics the metadata does not show (yet).
Result<std::map<std::string, int>> PartitionCounts(RdKafka::Handle& handle,
                                                   const std::vector<TopicSpec>& topics,
                                                   std::chrono::milliseconds timeout) {
  std::map<std::string, int> counts;
  for (const TopicSpec& t : topics) {
    std::string err;
    std::unique_ptr<RdKafka::Topic> topic(RdKafka::Topic::create(&handle, t.name, nullptr, err));
    if (!topic) return Internal(fmt::format("kafka: topic handle {}: {}", t.name, err));
    RdKafka::Metadata* raw = nullptr;
    RdKafka::ErrorCode code = handle.metadata(false, topic.get(), &raw, Ms(timeout));
    std::unique_ptr<RdKafka::Metadata> md(raw);
    if (code != RdKafka::ERR_NO_ERROR) {
      return std::unexpected(TranslateError(code, "metadata of " + t.name));
    }
    for (const RdKafka::TopicMetadata* tm : *md->topics()) {
      if (tm->topic() != t.name) continue;
      if (tm->err() != RdKafka::ERR_NO_ERROR) {
        return std::unexpected(TranslateError(tm->err(), "metadata of " + t.name));
      }
      counts[t.name] = static_cast<int>(tm->partitions()->size());
    }
    if (!counts.contains(t.name) || counts[t.name] == 0) {
      return NotFound(fmt::format("kafka: topic {} is not in the metadata", t.name));
    }
  }
  return counts;
}

}  // namespace

namespace {

using TpList = std::vector<RdKafka::TopicPartition*>;

// Owns a list of TopicPartition objects.
struct TpGuard {
  TpList list;
  ~TpGuard() { RdKafka::TopicPartition::destroy(list); }
};

TpGuard MakeList(const TopicPartitions& partitions, int64_t offset) {
  TpGuard g;
  for (const auto& [t, p] : partitions)
    g.list.push_back(RdKafka::TopicPartition::create(t, p, offset));
  return g;
}

}  // namespace

Result<OffsetMap> ListOffsets(RdKafka::Handle& handle, const TopicPartitions& partitions, bool end,
                              std::chrono::milliseconds timeout) {
  // ListOffsets with the special timestamps -1 (latest) and -2 (earliest): one request per
  // leader for every partition, where query_watermark_offsets costs one per partition.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    TpGuard g =
        MakeList(partitions, end ? RdKafka::Topic::OFFSET_END : RdKafka::Topic::OFFSET_BEGINNING);
    RdKafka::ErrorCode code = handle.offsetsForTimes(g.list, Ms(timeout));
    for (const RdKafka::TopicPartition* tp : g.list) {
      if (code == RdKafka::ERR_NO_ERROR) code = tp->err();
    }
    if (code == RdKafka::ERR_NO_ERROR) {
      OffsetMap out;
      for (const RdKafka::TopicPartition* tp : g.list) {
        out[{tp->topic(), tp->partition()}] = tp->offset();
      }
      return out;
    }
    // A partition whose leadership is moving (just created, broker restarting) answers
    // NOT_LEADER for a moment: ask again until the deadline.
    const bool moving = code == RdKafka::ERR_NOT_LEADER_FOR_PARTITION ||
                        code == RdKafka::ERR_LEADER_NOT_AVAILABLE ||
                        code == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART;
    if (!moving || std::chrono::steady_clock::now() + kLeaderPoll > deadline) {
      return std::unexpected(TranslateError(code, "list offsets"));
    }
    std::this_thread::sleep_for(kLeaderPoll);
  }
}

Result<std::map<std::string, int>> EnsureTopics(RdKafka::Handle& handle,
                                                const std::vector<TopicSpec>& topics,
                                                std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  if (auto counts = PartitionCounts(handle, topics, timeout); counts)
    return counts;
  else if (counts.error().code != ErrorCode::kNotFound)
    return counts;
  rd_kafka_t* rk = handle.c_ptr();
  std::vector<rd_kafka_NewTopic_t*> specs;
  char errstr[256];
  for (const TopicSpec& t : topics) {
    // -1: the broker's default replication factor (3 on a real cluster, 1 on ours).
    specs.push_back(rd_kafka_NewTopic_new(t.name.c_str(), t.partitions, -1, errstr, sizeof errstr));
    if (specs.back() == nullptr) {
      specs.pop_back();
      rd_kafka_NewTopic_destroy_array(specs.data(), specs.size());
      return InvalidArgument(fmt::format("kafka: topic {}: {}", t.name, errstr));
    }
  }
  auto ev = RunAdmin(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout,
                     [&](rd_kafka_AdminOptions_t* opts, rd_kafka_queue_t* q) {
                       rd_kafka_CreateTopics(rk, specs.data(), specs.size(), opts, q);
                     });
  rd_kafka_NewTopic_destroy_array(specs.data(), specs.size());
  if (!ev) return std::unexpected(ev.error());
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev->get()), &n);
  for (size_t i = 0; i < n; ++i) {
    rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      Error err =
          TranslateError(static_cast<RdKafka::ErrorCode>(e),
                         fmt::format("create topic {}", rd_kafka_topic_result_name(results[i])));
      if (const char* s = rd_kafka_topic_result_error_string(results[i]))
        err.message += fmt::format(" ({})", s);
      return std::unexpected(std::move(err));
    }
  }
  // The controller has created them; the broker's metadata follows within milliseconds, and its
  // partitions serve requests ~100-300 ms later (measured): wait for both, so the first Depth or
  // Enqueue does not meet NOT_LEADER.
  for (;;) {
    auto counts = PartitionCounts(handle, topics, timeout);
    if (counts) {
      TopicPartitions all;
      for (const auto& [name, n] : *counts) {
        for (int p = 0; p < n; ++p) all.emplace_back(name, p);
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      auto served = ListOffsets(handle, all, true, std::max(left, kLeaderPoll));
      if (!served) return std::unexpected(served.error());
      return counts;
    }
    if (counts.error().code != ErrorCode::kNotFound ||
        std::chrono::steady_clock::now() > deadline) {
      return counts;
    }
    std::this_thread::sleep_for(kLeaderPoll);
  }
}

Status DeleteTopics(const std::string& brokers, const std::vector<std::string>& names,
                    std::chrono::milliseconds timeout) {
  if (names.empty()) return Ok();
  auto conf = MakeConf(CommonProps({.brokers = brokers}));
  if (!conf) return std::unexpected(conf.error());
  std::string err;
  std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf->get(), err));
  if (!p) return Internal(fmt::format("kafka: cannot create a client: {}", err));
  std::vector<rd_kafka_DeleteTopic_t*> specs;
  for (const auto& n : names) specs.push_back(rd_kafka_DeleteTopic_new(n.c_str()));
  auto ev = RunAdmin(p->c_ptr(), RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout,
                     [&](rd_kafka_AdminOptions_t* opts, rd_kafka_queue_t* q) {
                       rd_kafka_DeleteTopics(p->c_ptr(), specs.data(), specs.size(), opts, q);
                     });
  rd_kafka_DeleteTopic_destroy_array(specs.data(), specs.size());
  if (!ev) return std::unexpected(ev.error());
  return Ok();
}

// ----- Offsets -----------------------------------------------------------------------------------

Result<std::unique_ptr<OffsetsClient>> OffsetsClient::Create(const KafkaQueueOptions& o) {
  std::unique_ptr<OffsetsClient> c(new OffsetsClient());
  c->timeout_ = o.request_timeout;
  c->events_ = std::make_unique<LastErrorEvents>();
  Props props = CommonProps(o);
  props.push_back({"group.id", o.group});
  props.push_back({"enable.auto.commit", "false"});
  auto conf = MakeConf(props, c->events_.get());
  if (!conf) return std::unexpected(conf.error());
  std::string err;
  c->consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), err));
  if (!c->consumer_) return Internal(fmt::format("kafka: cannot create a consumer: {}", err));
  return c;
}

Result<OffsetMap> OffsetsClient::Committed(const TopicPartitions& partitions) {
  TpGuard g = MakeList(partitions, RdKafka::Topic::OFFSET_INVALID);
  RdKafka::ErrorCode code = consumer_->committed(g.list, Ms(timeout_));
  if (code != RdKafka::ERR_NO_ERROR)
    return std::unexpected(TranslateError(code, "committed offsets"));
  OffsetMap out;
  for (const RdKafka::TopicPartition* tp : g.list) {
    if (tp->err() == RdKafka::ERR_NO_ERROR && tp->offset() >= 0) {
      out[{tp->topic(), tp->partition()}] = tp->offset();
    }
  }
  return out;
}

Result<OffsetMap> OffsetsClient::Ends(const TopicPartitions& partitions, bool end) {
  return ListOffsets(*consumer_, partitions, end, timeout_);
}

// ----- Reading a topic from its start
// --------------------------------------------------------------

Result<std::vector<Record>> ReadFromStart(const KafkaQueueOptions& o, const std::string& topic_name,
                                          int partitions, size_t limit) {
  auto offsets = OffsetsClient::Create(o);
  if (!offsets) return std::unexpected(offsets.error());
  TopicPartitions tps;
  for (int p = 0; p < partitions; ++p) tps.emplace_back(topic_name, p);
  auto ends = (*offsets)->Ends(tps, true);
  if (!ends) return std::unexpected(ends.error());
  auto starts = (*offsets)->Ends(tps, false);
  if (!starts) return std::unexpected(starts.error());
  auto conf = MakeConf(CommonProps(o));
  if (!conf) return std::unexpected(conf.error());
  std::string err;
  std::unique_ptr<RdKafka::Consumer> consumer(RdKafka::Consumer::create(conf->get(), err));
  if (!consumer) return Internal(fmt::format("kafka: cannot create a consumer: {}", err));
  std::unique_ptr<RdKafka::Topic> topic(
      RdKafka::Topic::create(consumer.get(), topic_name, nullptr, err));
  if (!topic) return Internal(fmt::format("kafka: topic handle {}: {}", topic_name, err));
  std::vector<Record> out;
  const auto deadline = std::chrono::steady_clock::now() + o.request_timeout;
  for (const auto& tp : tps) {
    const int64_t start = (*starts)[tp], end = (*ends)[tp];
    if (start >= end || out.size() >= limit) continue;
    consumer->start(topic.get(), tp.second, start);
    for (int64_t next = start; next < end && out.size() < limit;) {
      if (std::chrono::steady_clock::now() > deadline) {
        consumer->stop(topic.get(), tp.second);
        return Unavailable(fmt::format("kafka: reading {} timed out", topic_name));
      }
      std::unique_ptr<RdKafka::Message> m(consumer->consume(topic.get(), tp.second, 100));
      if (!m || m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF)
        continue;
      if (m->err() != RdKafka::ERR_NO_ERROR) {
        consumer->stop(topic.get(), tp.second);
        return std::unexpected(TranslateError(m->err(), "read " + topic_name));
      }
      next = m->offset() + 1;
      Record r{std::string(static_cast<const char*>(m->payload()), m->len()), {}};
      if (const RdKafka::Headers* hs = m->headers()) {
        for (const auto& h : hs->get_all()) {
          r.headers[h.key()] =
              std::string(h.value_string() ? h.value_string() : "", h.value_size());
        }
      }
      out.push_back(std::move(r));
    }
    consumer->stop(topic.get(), tp.second);
  }
  return out;
}

}  // namespace mqlab::queue::kafka
