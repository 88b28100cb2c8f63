#include "chaos/submitter.h"

#include <fmt/format.h>

#include <algorithm>

#include "http/client.h"

namespace mqlab::chaos {

namespace {

using Steady = std::chrono::steady_clock;

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// An arrival older than this when a client is finally free was not served by the open model.
constexpr auto kDropAfter = std::chrono::seconds(1);

}  // namespace

Submitter::Submitter(SubmitOptions options) : options_(std::move(options)) {}

Submitter::~Submitter() { Stop(); }

void Submitter::Start() {
  steady0_ = Steady::now();
  unix0_ = UnixNow();
  threads_.emplace_back([this] { Schedule(); });
  for (int i = 0; i < options_.clients; ++i) threads_.emplace_back([this] { Send(); });
}

void Submitter::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

std::vector<RequestRecord> Submitter::Records() const {
  std::lock_guard lock(mu_);
  return records_;
}

uint64_t Submitter::sent() const {
  std::lock_guard lock(mu_);
  return records_.size();
}

void Submitter::Schedule() {
  const auto gap = std::chrono::duration_cast<Steady::duration>(
      std::chrono::duration<double>(1.0 / options_.rate));
  for (uint64_t i = 0;; ++i) {
    const auto at = steady0_ + gap * static_cast<int64_t>(i);
    std::unique_lock lock(mu_);
    if (cv_.wait_until(lock, at, [this] { return stopping_; })) return;
    arrivals_.push_back(at);
    cv_.notify_one();
  }
}

void Submitter::Send() {
  auto url = http::ParseHttpUrl(options_.url);
  if (!url) return;
  http::Client client(*url,
                      {.connect_timeout = options_.timeout, .request_timeout = options_.timeout});
  for (;;) {
    Steady::time_point at;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !arrivals_.empty(); });
      if (arrivals_.empty()) return;  // stopping, nothing left
      at = arrivals_.front();
      arrivals_.pop_front();
    }
    RequestRecord r;
    r.sent_at = unix0_ + std::chrono::duration<double>(at - steady0_).count();
    if (Steady::now() - at > kDropAfter) {
      r.error = "dropped";
    } else {
      auto res = client.Do(http::Verb::post, options_.path, options_.body);
      if (res) {
        r.status = res->result_int();
        if (r.status / 100 == 2) {
          auto j = nlohmann::json::parse(res->body(), nullptr, false);
          if (j.is_object()) r.job_id = j.value("jobId", "");
        }
      } else {
        r.error = res.error().code == ErrorCode::kDeadlineExceeded ? "timeout" : "connection";
      }
    }
    r.seconds = std::chrono::duration<double>(Steady::now() - at).count();
    std::lock_guard lock(mu_);
    records_.push_back(std::move(r));
  }
}

nlohmann::json ClientView(const std::vector<RequestRecord>& records,
                          const std::vector<OutageWindow>& windows, double timeout_seconds) {
  std::map<std::string, int64_t> outcomes;
  double slowest = 0, slowest_error = 0;
  int64_t hung = 0, errors = 0;
  std::vector<std::map<std::string, int64_t>> in_window(windows.size());
  for (const RequestRecord& r : records) {
    const std::string key = r.error.empty() ? std::to_string(r.status) : r.error;
    ++outcomes[key];
    if (r.error == "dropped") continue;
    slowest = std::max(slowest, r.seconds);
    const bool ok = r.error.empty() && r.status / 100 == 2;
    if (ok) continue;
    ++errors;
    slowest_error = std::max(slowest_error, r.seconds);
    if (r.error == "timeout" || r.seconds >= timeout_seconds) ++hung;
    for (size_t i = 0; i < windows.size(); ++i) {
      if (r.sent_at >= windows[i].from && r.sent_at <= windows[i].to) ++in_window[i][key];
    }
  }
  nlohmann::json per_window = nlohmann::json::array();
  for (size_t i = 0; i < windows.size(); ++i) {
    per_window.push_back({{"what", windows[i].what},
                          {"from", windows[i].from},
                          {"to", windows[i].to},
                          {"errors", in_window[i]}});
  }
  return {{"requests", records.size()},
          {"outcomes", outcomes},
          {"errors", errors},
          {"dropped", outcomes.contains("dropped") ? outcomes["dropped"] : 0},
          {"hung", hung},
          {"timeoutSeconds", timeout_seconds},
          {"slowestSeconds", slowest},
          {"slowestErrorSeconds", slowest_error},
          {"outages", per_window}};
}

}  // namespace mqlab::chaos
