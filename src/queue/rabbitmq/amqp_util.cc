#include "queue/rabbitmq/amqp_util.h"

#include <amqp_tcp_socket.h>
#include <fmt/format.h>
#include <sys/time.h>

namespace mqlab::queue::rabbitmq {

namespace {

timeval ToTimeval(std::chrono::milliseconds d) {
  return timeval{static_cast<time_t>(d.count() / 1000),
                 static_cast<suseconds_t>((d.count() % 1000) * 1000)};
}

amqp_table_entry_t BoolEntry(const char* key, bool value) {
  amqp_table_entry_t e;
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_BOOLEAN;
  e.value.value.boolean = value ? 1 : 0;
  return e;
}

amqp_table_entry_t LongEntry(const char* key, int64_t value) {
  amqp_table_entry_t e;
  e.key = amqp_cstring_bytes(key);
  e.value.kind = AMQP_FIELD_KIND_I64;
  e.value.value.i64 = value;
  return e;
}

Status DeclareQueue(amqp_connection_state_t conn, const std::string& name,
                    std::vector<amqp_table_entry_t> args) {
  amqp_table_t table{static_cast<int>(args.size()), args.empty() ? nullptr : args.data()};
  amqp_queue_declare(conn, kChannel, Bytes(name), /*passive=*/0, /*durable=*/1, /*exclusive=*/0,
                     /*auto_delete=*/0, table);
  return CheckReply(conn, fmt::format("declare queue {}", name));
}

}  // namespace

void ConnectionCloser::operator()(amqp_connection_state_t c) const { amqp_destroy_connection(c); }

Result<AmqpUrl> ParseAmqpUrl(const std::string& url) {
  std::vector<char> buf(url.begin(), url.end());
  buf.push_back('\0');
  amqp_connection_info info;
  if (amqp_parse_url(buf.data(), &info) != AMQP_STATUS_OK) {
    return InvalidArgument(
        fmt::format("bad AMQP URL '{}': expected amqp://user:password@host:port/vhost", url));
  }
  if (info.ssl) return InvalidArgument(fmt::format("amqps is not supported: '{}'", url));
  // amqp://host/ names the empty vhost by the letter of the URI spec; every user means "/".
  const char* vhost = info.vhost[0] != '\0' ? info.vhost : "/";
  return AmqpUrl{info.host, info.port, info.user, info.password, vhost};
}

Result<Connection> Connect(const AmqpUrl& url, const ConnectParams& params) {
  const std::string where = fmt::format("RabbitMQ at {}:{}", url.host, url.port);
  Connection conn(amqp_new_connection());
  if (!conn) return Internal("amqp_new_connection failed");
  amqp_socket_t* socket = amqp_tcp_socket_new(conn.get());  // owned by the connection
  if (socket == nullptr) return Internal("amqp_tcp_socket_new failed");
  timeval connect_tv = ToTimeval(params.connect_timeout);
  timeval rpc_tv = ToTimeval(params.rpc_timeout);
  amqp_set_handshake_timeout(conn.get(), &connect_tv);
  amqp_set_rpc_timeout(conn.get(), &rpc_tv);
  int rc = amqp_socket_open_noblock(socket, url.host.c_str(), url.port, &connect_tv);
  if (rc != AMQP_STATUS_OK)
    return std::unexpected(TranslateStatus(rc, fmt::format("connect to {}", where)));

  amqp_table_entry_t caps[] = {BoolEntry("connection.blocked", true),
                               BoolEntry("consumer_cancel_notify", true)};
  amqp_table_entry_t props[2];
  props[0] = StringEntry("connection_name", params.connection_name);
  props[1].key = amqp_cstring_bytes("capabilities");
  props[1].value.kind = AMQP_FIELD_KIND_TABLE;
  props[1].value.value.table = amqp_table_t{2, caps};
  amqp_table_t properties{2, props};
  amqp_rpc_reply_t r =
      amqp_login_with_properties(conn.get(), url.vhost.c_str(), /*channel_max=*/0,
                                 AMQP_DEFAULT_FRAME_SIZE, params.heartbeat_seconds, &properties,
                                 AMQP_SASL_METHOD_PLAIN, url.user.c_str(), url.password.c_str());
  if (r.reply_type != AMQP_RESPONSE_NORMAL) {
    return std::unexpected(TranslateError(r, fmt::format("log in to {}", where)));
  }
  amqp_channel_open(conn.get(), kChannel);
  if (auto s = CheckReply(conn.get(), fmt::format("open a channel on {}", where)); !s) {
    return std::unexpected(s.error());
  }
  return conn;
}

void CloseGracefully(Connection conn) {
  if (!conn) return;
  // Both wait for the broker's close-ok, at most the rpc timeout each; errors change nothing.
  amqp_channel_close(conn.get(), kChannel, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn.get(), AMQP_REPLY_SUCCESS);
}

Error TranslateStatus(int status, std::string_view what) {
  const std::string text = fmt::format("{}: {}", what, amqp_error_string2(status));
  switch (status) {
    case AMQP_STATUS_NO_MEMORY:
    case AMQP_STATUS_BAD_AMQP_DATA:
    case AMQP_STATUS_UNKNOWN_CLASS:
    case AMQP_STATUS_UNKNOWN_METHOD:
    case AMQP_STATUS_TABLE_TOO_BIG:
    case AMQP_STATUS_WRONG_METHOD:
    case AMQP_STATUS_UNEXPECTED_STATE:
    case AMQP_STATUS_INVALID_PARAMETER:
    case AMQP_STATUS_TIMER_FAILURE:
      return Error{ErrorCode::kInternal, text};
    case AMQP_STATUS_BAD_URL:
      return Error{ErrorCode::kInvalidArgument, text};
    default:  // socket, TCP, connection closed, timeouts, heartbeat timeout, name resolution
      return Error{ErrorCode::kUnavailable, text};
  }
}

Error TranslateClose(int reply_code, std::string_view reply_text, std::string_view what) {
  const std::string text = fmt::format("{}: broker said {} {}", what, reply_code, reply_text);
  switch (reply_code) {
    case AMQP_NOT_FOUND:
      return Error{ErrorCode::kNotFound, text};
    case AMQP_ACCESS_REFUSED:
    case AMQP_PRECONDITION_FAILED:
    case AMQP_NOT_ALLOWED:
      return Error{ErrorCode::kFailedPrecondition, text};
    case AMQP_RESOURCE_LOCKED:
      return Error{ErrorCode::kAborted, text};
    case AMQP_CONNECTION_FORCED:  // the broker is shutting down or an operator closed us
    case AMQP_INTERNAL_ERROR:
      return Error{ErrorCode::kUnavailable, text};
    default:
      return Error{ErrorCode::kInternal, text};
  }
}

Error TranslateError(const amqp_rpc_reply_t& reply, std::string_view what) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return Error{ErrorCode::kInternal, fmt::format("{}: not an error", what)};
    case AMQP_RESPONSE_NONE:
      return Error{ErrorCode::kInternal, fmt::format("{}: no reply", what)};
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return TranslateStatus(reply.library_error, what);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_connection_close_t*>(reply.reply.decoded);
        return TranslateClose(m->reply_code, ToString(m->reply_text), what);
      }
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* m = static_cast<const amqp_channel_close_t*>(reply.reply.decoded);
        return TranslateClose(m->reply_code, ToString(m->reply_text), what);
      }
      return Error{ErrorCode::kInternal,
                   fmt::format("{}: unexpected method {:#x}", what, reply.reply.id)};
  }
  return Error{ErrorCode::kInternal, fmt::format("{}: unknown reply type", what)};
}

Status CheckReply(amqp_connection_state_t conn, std::string_view what) {
  amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
  if (r.reply_type == AMQP_RESPONSE_NORMAL) return Ok();
  return std::unexpected(TranslateError(r, what));
}

amqp_table_entry_t StringEntry(std::string_view key, std::string_view value) {
  amqp_table_entry_t e;
  e.key = Bytes(key);
  e.value.kind = AMQP_FIELD_KIND_UTF8;
  e.value.value.bytes = Bytes(value);
  return e;
}

std::string TableString(const amqp_table_t& table, std::string_view key) {
  for (int i = 0; i < table.num_entries; ++i) {
    const amqp_table_entry_t& e = table.entries[i];
    if (ToString(e.key) != key) continue;
    if (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES) {
      return ToString(e.value.value.bytes);
    }
  }
  return "";
}

Topology MakeTopology(const std::string& name, int64_t max_length) {
  Topology t{.main = name, .dead = fmt::format("{}.dead", name), .max_length = max_length};
  for (size_t k = 0; k < kRetryBucketBoundMs.size(); ++k) {
    t.retry.push_back(fmt::format("{}.retry.{}", name, k));
  }
  return t;
}

const std::string& RetryQueueFor(const Topology& t, int64_t delay_ms) {
  size_t k = 0;
  while (k + 1 < kRetryBucketBoundMs.size() && delay_ms >= kRetryBucketBoundMs[k]) ++k;
  return t.retry[k];
}

Status DeclareTopology(amqp_connection_state_t conn, const Topology& t) {
  std::vector<amqp_table_entry_t> main_args;
  if (t.max_length > 0) {
    main_args.push_back(LongEntry("x-max-length", t.max_length));
    main_args.push_back(StringEntry("x-overflow", "reject-publish"));
  }
  if (auto s = DeclareQueue(conn, t.main, main_args); !s) return s;
  for (const std::string& q : t.retry) {
    auto s = DeclareQueue(conn, q,
                          {StringEntry("x-dead-letter-exchange", ""),
                           StringEntry("x-dead-letter-routing-key", t.main)});
    if (!s) return s;
  }
  return DeclareQueue(conn, t.dead, {});
}

Result<int64_t> ReadyCount(amqp_connection_state_t conn, const std::string& queue) {
  amqp_queue_declare_ok_t* ok =
      amqp_queue_declare(conn, kChannel, Bytes(queue), /*passive=*/1, 0, 0, 0, amqp_empty_table);
  if (auto s = CheckReply(conn, fmt::format("count messages in {}", queue)); !s) {
    return std::unexpected(s.error());
  }
  return static_cast<int64_t>(ok->message_count);
}

}  // namespace mqlab::queue::rabbitmq
