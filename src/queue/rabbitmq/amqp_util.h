// The thin layer over rabbitmq-c that the RabbitMQ backend's publisher and consumer share:
// URL parsing, connecting with bounded timeouts, the one TranslateError of this adapter, field
// tables, and the queue topology (names, arguments, declaration).
//
// Topology of a queue called N (all durable, on the default exchange, routed by queue name):
//   N          the work queue. Optional x-max-length with x-overflow=reject-publish (the broker
//              then nacks publishes to a full queue: kResourceExhausted).
//   N.retry.K  K = 0..7: delayed retries. Each message carries its own TTL (the `expiration`
//              property) and, when it expires, is dead-lettered by the broker back to N
//              (x-dead-letter-exchange "" + x-dead-letter-routing-key N). A classic queue only
//              expires messages at its head, so one delay queue would hold a short delay behind
//              a long one; bucket K takes delays below kRetryBucketBoundMs[K] (×4 per bucket), so
//              a message waits behind others of at most 4× its own delay: released within
//              [delay, 4 × delay] (exact when delays in a bucket arrive in order; bucket 0:
//              within 64 ms; the last bucket, 262 s and more: unbounded), never early.
//   N.dead     dead letters, with their reason in the x-mqlab-reason header.
//
// Threading: the functions are stateless; a connection they are given belongs to the caller's
// thread for the duration of the call (rabbitmq-c connections are not thread-safe).
#ifndef MQLAB_QUEUE_RABBITMQ_AMQP_UTIL_H_
#define MQLAB_QUEUE_RABBITMQ_AMQP_UTIL_H_

#include <amqp.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mqlab/common/status.h"

namespace mqlab::queue::rabbitmq {

// The channel every connection of this backend uses (one channel per connection).
inline constexpr amqp_channel_t kChannel = 1;
// Header carrying a dead letter's reason.
inline constexpr std::string_view kReasonHeader = "x-mqlab-reason";
// Upper bounds (exclusive, ms) of the retry buckets; the last one takes every longer delay.
inline constexpr std::array<int64_t, 8> kRetryBucketBoundMs = {64,    256,   1024,   4096,
                                                               16384, 65536, 262144, INT64_MAX};

struct AmqpUrl {
  std::string host;
  int port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
};

// amqp://user:password@host:port/vhost (percent-encoded vhost, "/" by default). amqps is not
// supported (kInvalidArgument).
Result<AmqpUrl> ParseAmqpUrl(const std::string& url);

struct ConnectParams {
  std::chrono::milliseconds connect_timeout{2000};  // TCP connect and AMQP handshake
  std::chrono::milliseconds rpc_timeout{5000};      // every synchronous method (declare, get…)
  int heartbeat_seconds = 0;                        // 0: no heartbeats
  std::string connection_name;                      // shown by rabbitmqctl list_connections
};

struct ConnectionCloser {
  void operator()(amqp_connection_state_t c) const;  // amqp_destroy_connection (closes the socket)
};
using Connection = std::unique_ptr<amqp_connection_state_t_, ConnectionCloser>;

// Opens a TCP connection, logs in (PLAIN) and opens kChannel. Fails within about
// connect_timeout + rpc_timeout whatever the server does.
Result<Connection> Connect(const AmqpUrl& url, const ConnectParams& params);
// Closes kChannel and the connection politely (bounded by the rpc timeout), then frees it.
void CloseGracefully(Connection conn);

// The one translation of rabbitmq-c and broker errors into mqlab errors, prefixed by `what`.
// I/O failures, timeouts and a broker shutting down: kUnavailable. 404: kNotFound. 403, 406,
// 530 (bad credentials, a queue declared with other arguments, no such vhost):
// kFailedPrecondition. The rest: kInternal.
Error TranslateError(const amqp_rpc_reply_t& reply, std::string_view what);
Error TranslateStatus(int status, std::string_view what);
Error TranslateClose(int reply_code, std::string_view reply_text, std::string_view what);
// The last RPC's reply as a Status.
Status CheckReply(amqp_connection_state_t conn, std::string_view what);

inline amqp_bytes_t Bytes(std::string_view s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}
inline std::string ToString(amqp_bytes_t b) {
  return std::string(static_cast<const char*>(b.bytes), b.len);
}
// The string value of `key` in a field table, "" if absent or not a string.
std::string TableString(const amqp_table_t& table, std::string_view key);
// A string field-table entry; `key` and `value` must outlive its use.
amqp_table_entry_t StringEntry(std::string_view key, std::string_view value);

struct Topology {
  std::string main;
  std::vector<std::string> retry;  // one per kRetryBucketBoundMs entry
  std::string dead;
  int64_t max_length = 0;  // x-max-length of main (reject-publish); 0: unbounded
};
Topology MakeTopology(const std::string& name, int64_t max_length);
// The retry queue for `delay_ms` (> 0).
const std::string& RetryQueueFor(const Topology& t, int64_t delay_ms);
// Declares every queue (idempotent: a queue declared again with the same arguments is a no-op).
Status DeclareTopology(amqp_connection_state_t conn, const Topology& t);
// The ready-message count of `queue` (passive declare). kNotFound if it does not exist, which
// also closes the channel: the caller must drop the connection.
Result<int64_t> ReadyCount(amqp_connection_state_t conn, const std::string& queue);

}  // namespace mqlab::queue::rabbitmq

#endif  // MQLAB_QUEUE_RABBITMQ_AMQP_UTIL_H_
