#include "queue/redis/redis_client.h"

#include <fmt/format.h>
#include <sys/time.h>

#include <boost/url/parse.hpp>
#include <charconv>

namespace mqlab::queue::redis {
namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

bool ParseInt(std::string_view s, int& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// First word of an error reply: "NOSCRIPT", "ERR", "WRONGPASS", ...
std::string_view ErrorCodeOf(const redisReply& r) {
  std::string_view s(r.str, r.len);
  return s.substr(0, s.find(' '));
}

}  // namespace

std::string RedisEndpoint::Display() const {
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("redis://{}{}{}:{}/{}", v6 ? "[" : "", host, v6 ? "]" : "", port, db);
}

Result<RedisEndpoint> ParseRedisUrl(std::string_view url) {
  // Error messages never echo `url`: it may carry a password.
  constexpr std::string_view kForm = "redis://[[user]:password@]host[:port][/db]";
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    return InvalidArgument(fmt::format("the Redis URL is not a URL; expected {}", kForm));
  }
  const boost::urls::url_view u = *parsed;
  if (u.scheme() != "redis") {
    return InvalidArgument(
        fmt::format("the Redis URL has scheme '{}'; expected {} (TLS, rediss://, is not supported)",
                    std::string(u.scheme()), kForm));
  }
  RedisEndpoint e;
  e.host = u.host_address();
  if (e.host.empty()) {
    return InvalidArgument(fmt::format("the Redis URL has no host; expected {}", kForm));
  }
  if (u.has_port()) {
    if (!ParseInt(u.port(), e.port) || e.port < 1 || e.port > 65535) {
      return InvalidArgument("the Redis URL has an invalid port");
    }
  }
  if (u.has_userinfo()) {
    e.user = u.user();
    if (u.has_password()) e.password = u.password();
    if (e.password.empty() && !e.user.empty()) {  // redis://secret@host: the password alone
      e.password = std::move(e.user);
      e.user.clear();
    }
  }
  std::string path = u.path();
  if (!path.empty() && path != "/") {
    if (!ParseInt(std::string_view(path).substr(1), e.db) || e.db < 0) {
      return InvalidArgument(
          fmt::format("the Redis URL's path must be a database number: {}", kForm));
    }
  }
  return e;
}

RedisConnection::RedisConnection(ContextPtr context, std::string display)
    : context_(std::move(context)), display_(std::move(display)) {}

Result<std::unique_ptr<RedisConnection>> RedisConnection::Open(const RedisEndpoint& endpoint,
                                                               const ConnectOptions& options) {
  ContextPtr ctx(redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port,
                                         ToTimeval(options.connect_timeout)));
  if (!ctx) return Unavailable(fmt::format("{}: cannot allocate a connection", endpoint.Display()));
  std::unique_ptr<RedisConnection> conn(new RedisConnection(std::move(ctx), endpoint.Display()));
  if (conn->broken()) return std::unexpected(conn->TransportError("connect"));
  // The handshake is bounded like the connect; later commands by command_timeout.
  if (auto s = conn->SetTimeout(options.connect_timeout); !s) return std::unexpected(s.error());
  std::vector<Args> hello;
  if (!endpoint.password.empty()) {
    hello.push_back(endpoint.user.empty() ? Args{"AUTH", endpoint.password}
                                          : Args{"AUTH", endpoint.user, endpoint.password});
  }
  const std::string db = std::to_string(endpoint.db);
  if (endpoint.db != 0) hello.push_back({"SELECT", db});
  if (!options.client_name.empty()) hello.push_back({"CLIENT", "SETNAME", options.client_name});
  if (!hello.empty()) {
    auto replies = conn->Pipeline(hello);
    if (!replies) return std::unexpected(replies.error());
    for (const Reply& r : *replies) {
      if (r->type == REDIS_REPLY_ERROR) return std::unexpected(ReplyError(*r, "connect"));
    }
  }
  if (auto s = conn->SetTimeout(options.command_timeout); !s) return std::unexpected(s.error());
  return conn;
}

bool RedisConnection::broken() const { return context_->err != 0; }

Error RedisConnection::TransportError(std::string_view what) const {
  return Error{ErrorCode::kUnavailable,
               fmt::format("redis {} ({}): {}", what, display_,
                           context_->err != 0 ? context_->errstr : "no reply")};
}

Status RedisConnection::SetTimeout(std::chrono::milliseconds timeout) {
  if (timeout == timeout_) return Ok();
  timeout_ = timeout;
  if (redisSetTimeout(context_.get(), ToTimeval(timeout)) != REDIS_OK) {
    return std::unexpected(TransportError("set timeout"));
  }
  return Ok();
}

Result<Reply> RedisConnection::Command(const Args& args) {
  auto replies = Pipeline({args});
  if (!replies) return std::unexpected(replies.error());
  return std::move(replies->front());
}

Result<std::vector<Reply>> RedisConnection::Pipeline(const std::vector<Args>& commands) {
  if (broken()) return std::unexpected(TransportError("command"));
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const Args& args : commands) {
    argv.clear();
    lens.clear();
    for (std::string_view a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(),
                               lens.data()) != REDIS_OK) {
      return std::unexpected(TransportError(args.empty() ? "command" : args[0]));
    }
  }
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  for (const Args& args : commands) {
    void* raw = nullptr;
    if (redisGetReply(context_.get(), &raw) != REDIS_OK || raw == nullptr) {
      return std::unexpected(TransportError(args.empty() ? "command" : args[0]));
    }
    replies.emplace_back(static_cast<redisReply*>(raw));
  }
  return replies;
}

std::string_view ReplyString(const redisReply& reply) {
  if (reply.str == nullptr) return {};
  return std::string_view(reply.str, reply.len);
}

bool IsErrorCode(const redisReply* reply, std::string_view code) {
  return reply != nullptr && reply->type == REDIS_REPLY_ERROR && ErrorCodeOf(*reply) == code;
}

Error ReplyError(const redisReply& reply, std::string_view what) {
  const std::string_view code = ErrorCodeOf(reply);
  std::string message = fmt::format("redis {}: {}", what, ReplyString(reply));
  if (code == "LOADING" || code == "BUSY" || code == "MASTERDOWN" || code == "READONLY" ||
      code == "TRYAGAIN" || code == "CLUSTERDOWN") {
    return Error{ErrorCode::kUnavailable, std::move(message)};
  }
  if (code == "OOM") return Error{ErrorCode::kResourceExhausted, std::move(message)};
  if (code == "NOAUTH" || code == "WRONGPASS" || code == "NOPERM") {
    return Error{ErrorCode::kFailedPrecondition, std::move(message)};
  }
  return Error{ErrorCode::kInternal, std::move(message)};
}

RedisPool::RedisPool(RedisEndpoint endpoint, ConnectOptions options, size_t max_idle)
    : endpoint_(std::move(endpoint)), options_(std::move(options)), max_idle_(max_idle) {}

RedisPool::~RedisPool() = default;

Result<RedisPool::Taken> RedisPool::Take(bool allow_reuse) {
  if (allow_reuse) {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      Taken t{std::move(idle_.back()), true};
      idle_.pop_back();
      return t;
    }
  }
  auto conn = RedisConnection::Open(endpoint_, options_);
  if (!conn) return std::unexpected(conn.error());
  return Taken{std::move(*conn), false};
}

void RedisPool::Give(std::unique_ptr<RedisConnection> conn) {
  std::vector<std::unique_ptr<RedisConnection>> dropped;  // closed outside the lock
  std::lock_guard lock(mu_);
  if (conn->broken()) {
    dropped.swap(idle_);  // one died: a restarted server killed them all
  } else if (idle_.size() < max_idle_) {
    idle_.push_back(std::move(conn));
  }
}

Result<std::string> ScriptRunner::Sha(RedisConnection& conn, const LuaScript& script) {
  {
    std::lock_guard lock(mu_);
    for (const auto& [s, sha] : shas_) {
      if (s == &script) return sha;
    }
  }
  auto r = conn.Command({"SCRIPT", "LOAD", script.source});
  if (!r) return std::unexpected(r.error());
  if ((*r)->type != REDIS_REPLY_STRING) {
    return std::unexpected(ReplyError(**r, fmt::format("SCRIPT LOAD {}", script.name)));
  }
  std::string sha(ReplyString(**r));
  std::lock_guard lock(mu_);
  shas_.emplace_back(&script, sha);
  return sha;
}

Result<Reply> ScriptRunner::Run(RedisConnection& conn, const LuaScript& script, const Args& keys,
                                const Args& args) {
  auto sha = Sha(conn, script);
  if (!sha) return std::unexpected(sha.error());
  const std::string numkeys = std::to_string(keys.size());
  Args cmd{"EVALSHA", *sha, numkeys};
  cmd.insert(cmd.end(), keys.begin(), keys.end());
  cmd.insert(cmd.end(), args.begin(), args.end());
  auto r = conn.Command(cmd);
  if (!r || !IsErrorCode(r->get(), "NOSCRIPT")) return r;
  cmd[0] = "EVAL";  // the server lost its script cache (restart, SCRIPT FLUSH): EVAL re-caches it
  cmd[1] = script.source;
  return conn.Command(cmd);
}

}  // namespace mqlab::queue::redis
