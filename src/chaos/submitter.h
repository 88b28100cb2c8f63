// Submitter: the steady load of a chaos run, and what its clients saw.
//
// An open model (arrivals evenly spaced at `rate`, whatever the answers) served by `clients`
// threads, each with its own keep-alive http::Client. An arrival no client could take within one
// second (all busy, e.g. waiting on a hung server) is recorded as "dropped": the figure that shows
// a hang even when the client timeout hides it. Every request records its outcome and its time
// from the intended send (so waiting for a free client counts), and the job id of a 2xx.
//
// The load generator of `mqlab load` (src/load) measures latency better, but it does not hand
// back the ids of the accepted jobs, which is the whole point here: each accepted id is looked up
// in the job store after the drain.
//
// Threading: Start/Stop/Records from one controlling thread; the work runs on the scheduler
// thread and the client threads, sharing only the arrival queue and the records (one mutex).
#ifndef MQLAB_CHAOS_SUBMITTER_H_
#define MQLAB_CHAOS_SUBMITTER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace mqlab::chaos {

struct SubmitOptions {
  std::string url;   // http://host:port of the API (or serve)
  std::string path;  // "/v3/ocr/jobs"
  std::string body = R"({"inputPath":"scans/page.png"})";
  double rate = 40;  // arrivals per second. Default: 40.
  // Threads sending. Default: 64 (a 5 s stall at 40/s takes 200 arrivals: most still find a
  // free client, so the open model stays open through an outage).
  int clients = 64;
  // Connect + request deadline of a client: longer is a hang ("timeout"). Default: 10 s.
  std::chrono::milliseconds timeout{10000};
};

struct RequestRecord {
  double sent_at = 0;  // Unix seconds, the intended send time
  double seconds = 0;  // intended send → answer (or error)
  int status = 0;      // HTTP status; 0 when there was none
  std::string error;   // "" (an HTTP answer), "timeout", "connection", "dropped"
  std::string job_id;  // of a 2xx
};

class Submitter {
 public:
  explicit Submitter(SubmitOptions options);
  ~Submitter();  // Stop()
  void Start();
  // Ends arrivals, lets requests in flight finish (each within its timeout), joins the threads.
  void Stop();
  // Every request so far, in no particular order. Call after Stop for the complete list.
  std::vector<RequestRecord> Records() const;
  uint64_t sent() const;

 private:
  void Schedule();
  void Send();

  const SubmitOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::chrono::steady_clock::time_point> arrivals_;
  bool stopping_ = false;
  std::vector<RequestRecord> records_;
  std::chrono::steady_clock::time_point steady0_;
  double unix0_ = 0;
  std::vector<std::thread> threads_;
};

// The clients' view of a run: counts by outcome ("202", "503", "timeout", "connection",
// "dropped"), the slowest answer of any kind and of errors, and how many requests did not get an
// answer within the client timeout ("hung"). `windows` are [from, to] Unix-second intervals (the
// outages); errors whose send time falls in one are counted per window too.
struct OutageWindow {
  std::string what;  // "restart redis"
  double from = 0, to = 0;
};
nlohmann::json ClientView(const std::vector<RequestRecord>& records,
                          const std::vector<OutageWindow>& windows, double timeout_seconds);

}  // namespace mqlab::chaos

#endif  // MQLAB_CHAOS_SUBMITTER_H_
