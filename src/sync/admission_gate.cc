#include "sync/admission_gate.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace mqlab::sync {

namespace net = boost::asio;

AdmissionGate::AdmissionGate(net::io_context& io, size_t max_running, size_t max_waiting)
    : max_running_(max_running), max_waiting_(max_waiting), tokens_(io, max_running) {
  for (size_t i = 0; i < max_running_; ++i) tokens_.try_send(boost::system::error_code{});
}

AdmissionGate::Permit::~Permit() {
  if (gate_) gate_->Release();
}

net::awaitable<std::optional<AdmissionGate::Permit>> AdmissionGate::Enter() {
  // Admission first: a full gate rejects without queueing.
  size_t inside = inside_.load();
  do {
    if (inside >= max_running_ + max_waiting_) co_return std::nullopt;
  } while (!inside_.compare_exchange_weak(inside, inside + 1));
  waiting_++;
  auto [ec] = co_await tokens_.async_receive(net::as_tuple(net::use_awaitable));
  waiting_--;
  if (ec) {  // closed
    inside_--;
    co_return std::nullopt;
  }
  running_++;
  co_return Permit(this);
}

void AdmissionGate::Release() {
  running_--;
  inside_--;
  tokens_.try_send(boost::system::error_code{});
}

void AdmissionGate::Close() { tokens_.close(); }

}  // namespace mqlab::sync
