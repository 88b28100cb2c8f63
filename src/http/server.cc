// Server: listener, accept loop and lifecycle. One connection's life is in session.cc.
#include "http/server.h"

#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/server_impl.h"

namespace mqlab::http {

using internal::Connection;
using internal::ServerImpl;
using internal::tcp;

struct Server::Impl : ServerImpl {
  using ServerImpl::ServerImpl;
};

namespace internal {
namespace {

constexpr auto kTuple = net::as_tuple(net::use_awaitable);

std::string FormatEndpoint(const tcp::endpoint& ep) {
  std::string addr = ep.address().to_string();
  if (ep.address().is_v6()) addr = "[" + addr + "]";
  return addr + ":" + std::to_string(ep.port());
}

// Closes every remaining connection and cancels its handler: the end of the grace period.
void ForceClose(ServerImpl& self) {
  std::vector<std::shared_ptr<Connection>> conns;
  {
    std::lock_guard lock(self.mu);
    for (auto& [id, c] : self.conns) conns.push_back(c);
  }
  for (auto& c : conns) {
    net::post(c->stream.get_executor(), [c] {
      c->cancel.emit(net::cancellation_type::terminal);
      beast::error_code ignored;
      c->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      c->stream.close();
    });
  }
}

// Runs on self->strand: the graceful half of Stop.
void BeginStop(const std::shared_ptr<ServerImpl>& self) {
  beast::error_code ignored;
  self->acceptor.close(ignored);
  std::vector<std::shared_ptr<Connection>> conns;
  {
    std::lock_guard lock(self->mu);
    for (auto& [id, c] : self->conns) conns.push_back(c);
  }
  // A busy connection finishes its request and closes itself (it sees `stopping`); an idle one
  // is closed here, on its own strand so as not to race its session.
  for (auto& c : conns) {
    net::post(c->stream.get_executor(), [c] {
      if (!c->idle) return;
      beast::error_code ignored;
      c->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      c->stream.close();
    });
  }
  if (self->active.load() == 0) return;
  self->grace_timer.expires_after(self->options.shutdown_grace);
  self->grace_timer.async_wait([self](beast::error_code ec) {
    if (!ec) ForceClose(*self);
  });
}

net::awaitable<void> AcceptLoop(std::shared_ptr<ServerImpl> self) {
  net::steady_timer backoff(self->strand);
  for (;;) {
    auto [ec, socket] = co_await self->acceptor.async_accept(net::make_strand(self->ioc), kTuple);
    if (self->stopping.load()) break;
    if (ec) {
      if (ec == net::error::operation_aborted || !self->acceptor.is_open()) break;
      backoff.expires_after(kAcceptBackoff);
      co_await backoff.async_wait(kTuple);
      continue;
    }
    self->total.fetch_add(1);
    if (self->active.load() >= self->options.max_connections) {
      auto ex = socket.get_executor();
      net::co_spawn(ex, RejectConnection(tcp::socket(std::move(socket))),
                    [](std::exception_ptr) {});
      continue;
    }
    std::shared_ptr<Connection> c;
    {
      std::lock_guard lock(self->mu);
      c = std::make_shared<Connection>(tcp::socket(std::move(socket)), self->next_id++);
      self->conns.emplace(c->id, c);
      self->active.fetch_add(1);
    }
    beast::error_code ignored;
    c->stream.socket().set_option(tcp::no_delay(true), ignored);
    net::co_spawn(c->stream.get_executor(), RunSession(self, c),
                  net::bind_cancellation_slot(c->cancel.slot(), [](std::exception_ptr) {}));
  }
  std::lock_guard lock(self->mu);
  self->accept_running = false;
  self->cv.notify_all();
}

}  // namespace

ServerImpl::ServerImpl(net::io_context& ioc, ServerOptions options, Handler handler)
    : ioc(ioc),
      options(std::move(options)),
      handler(std::move(handler)),
      strand(net::make_strand(ioc)),
      acceptor(strand),
      grace_timer(strand) {}

void OnSessionEnd(const std::shared_ptr<ServerImpl>& self, uint64_t id) {
  std::lock_guard lock(self->mu);
  self->conns.erase(id);
  size_t left = self->active.fetch_sub(1) - 1;
  if (left == 0 && self->stopping.load()) {
    // Nothing left to force: release the io_context at once instead of after the grace period.
    net::post(self->strand, [self] { self->grace_timer.cancel(); });
    self->cv.notify_all();
  }
}

}  // namespace internal

Server::Server(net::io_context& io_context, ServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(io_context, std::move(options), std::move(handler))) {}

Server::~Server() { Stop(); }

Status ServerOptions::Validate() const {
  auto positive = [](std::chrono::milliseconds d) { return d.count() > 0; };
  if (host.empty()) return InvalidArgument("server: host is empty");
  if (header_limit == 0) return InvalidArgument("server: header_limit must be > 0");
  if (!positive(read_timeout)) return InvalidArgument("server: read_timeout must be > 0");
  if (!positive(idle_timeout)) return InvalidArgument("server: idle_timeout must be > 0");
  if (!positive(write_timeout)) return InvalidArgument("server: write_timeout must be > 0");
  if (max_connections == 0) return InvalidArgument("server: max_connections must be > 0");
  if (shutdown_grace.count() < 0) return InvalidArgument("server: shutdown_grace must be >= 0");
  if (backlog <= 0) return InvalidArgument("server: backlog must be > 0");
  return Ok();
}

Status Server::Listen() {
  Impl& s = *impl_;
  const ServerOptions& o = s.options;
  if (Status valid = o.Validate(); !valid) return valid;
  beast::error_code ec;
  tcp::endpoint endpoint;
  net::ip::address address = net::ip::make_address(o.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint(address, o.port);
  } else {
    tcp::resolver resolver(s.ioc);
    auto results = resolver.resolve(o.host, std::to_string(o.port), ec);
    if (ec || results.empty()) {
      return InvalidArgument("cannot resolve listen host '" + o.host +
                             "': " + (ec ? ec.message() : "no address"));
    }
    endpoint = results.begin()->endpoint();
  }
  const std::string where = internal::FormatEndpoint(endpoint);
  auto fail = [&](const char* step) -> Status {
    beast::error_code ignored;
    s.acceptor.close(ignored);
    std::string msg = std::string("cannot ") + step + " on " + where + ": " + ec.message();
    if (ec == net::error::address_in_use || ec == net::error::access_denied ||
        ec == boost::system::errc::address_not_available) {
      return FailedPrecondition(msg);
    }
    return Unavailable(msg);
  };
  if (s.acceptor.open(endpoint.protocol(), ec); ec) return fail("open a socket");
  // Rebinding right after a restart must not fail on connections in TIME_WAIT.
  if (s.acceptor.set_option(net::socket_base::reuse_address(true), ec); ec) return fail("set up");
  if (s.acceptor.bind(endpoint, ec); ec) return fail("listen");
  if (s.acceptor.listen(o.backlog, ec); ec) return fail("listen");
  s.listening = true;
  return Ok();
}

tcp::endpoint Server::local_endpoint() const {
  beast::error_code ec;
  return impl_->acceptor.local_endpoint(ec);
}

void Server::Start() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->accept_running = true;
  }
  std::shared_ptr<ServerImpl> self = impl_;
  net::co_spawn(impl_->strand, internal::AcceptLoop(self), [self](std::exception_ptr) {
    std::lock_guard lock(self->mu);
    self->accept_running = false;
    self->cv.notify_all();
  });
}

void Server::Stop() {
  if (impl_->stopping.exchange(true)) return;
  std::shared_ptr<ServerImpl> self = impl_;
  net::post(impl_->strand, [self] { internal::BeginStop(self); });
}

bool Server::WaitStopped(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  return impl_->cv.wait_for(lock, timeout, [&] {
    return impl_->stopping.load() && impl_->active.load() == 0 && !impl_->accept_running;
  });
}

size_t Server::active_connections() const { return impl_->active.load(); }
uint64_t Server::total_connections() const { return impl_->total.load(); }
size_t Server::inflight_requests() const { return impl_->inflight.load(); }

}  // namespace mqlab::http
