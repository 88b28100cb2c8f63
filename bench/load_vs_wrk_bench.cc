// Benchmark: `mqlab load` against wrk on the same trivial endpoint, same threads and connections,
// side by side in one run (issue 5: "at least as many requests per second as wrk").
//
// Two endpoints (--endpoints), each answering every GET 200 with a tiny JSON body:
//   canned  a canned-response epoll server (below, one thread): ~3 µs a request, cheaper than
//           either generator, so the generators are the bottleneck — what comparing two load
//           generators asks for;
//   beast   mqlab's own server (src/http, --server-threads threads): ~11 µs a request, which
//           both generators saturate; the ratio then says which generator disturbs it less.
// For each endpoint and (threads, connections) configuration the two generators run
// alternately, A B A B … (--rounds pairs), each for --duration:
//   A  mqlab load --vus C --threads T --duration D   (closed model, as wrk)
//   B  wrk -tT -cC -dD
// For each run: requests/s as the tool reports it, requests completed, and the generator's CPU
// (utime + stime from /proc/<pid>/stat, read when the child has exited and before it is reaped),
// hence CPU per request. Prints a Markdown table and writes JSON (with the machine) to --json.
//
//   build/bench/mqlab_load_vs_wrk_bench --configs 1:1,1:16,2:64 --duration 5s --rounds 5
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "bench/bench_util.h"
#include "http/json_response.h"
#include "http/server.h"
#include "services/process.h"

namespace mqlab::bench {
namespace {

using nlohmann::json;

struct Sample {
  std::string tool;
  double rps = 0;
  double requests = 0;
  double cpu_seconds = 0;
  double errors = 0;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// utime + stime of `pid` in seconds, and whether it is a zombie (exited, not reaped).
std::optional<std::pair<double, bool>> ProcCpu(pid_t pid) {
  std::string stat = Slurp(fmt::format("/proc/{}/stat", pid));
  size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream rest(stat.substr(paren + 2));
  std::string field;
  std::vector<std::string> f;
  while (rest >> field) f.push_back(field);
  if (f.size() < 13) return std::nullopt;
  // After "(comm) ": state is field 3 of stat(5), utime 14, stime 15 → f[0], f[11], f[12].
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return std::pair{(std::stod(f[11]) + std::stod(f[12])) / ticks, f[0] == "Z"};
}

// Runs argv to its end; its CPU seconds (from /proc, the last reading, taken as a zombie).
double RunMeasured(const std::vector<std::string>& argv, const std::string& log) {
  auto pid = services::Spawn({.argv = argv, .output = log});
  if (!pid) {
    fmt::print(stderr, "cannot start {}: {}\n", argv[0], pid.error().ToString());
    std::exit(1);
  }
  double cpu = 0;
  for (;;) {
    auto reading = ProcCpu(*pid);
    if (reading) cpu = reading->first;
    if (!reading || reading->second) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // sampling period
  }
  if (!services::WaitGone(*pid, std::chrono::seconds(30))) {
    fmt::print(stderr, "{} did not exit\n", argv[0]);
    std::exit(1);
  }
  return cpu;
}

Sample RunMqlabLoad(const std::string& mqlab, const std::string& url, int t, int c,
                    const std::string& duration, const TempFolder& dir) {
  const std::string out = dir.path() + "/load.json", log = dir.path() + "/load.log";
  std::filesystem::remove(out);
  Sample s{"mqlab load"};
  s.cpu_seconds = RunMeasured({mqlab, "load", "--url", url, "--vus", std::to_string(c), "--threads",
                               std::to_string(t), "--duration", duration, "--json", out},
                              log);
  json j = json::parse(Slurp(out), nullptr, false);
  if (!j.is_object()) {
    fmt::print(stderr, "mqlab load wrote no summary:\n{}\n", Slurp(log));
    std::exit(1);
  }
  s.rps = j["rates"]["achieved"];
  s.requests = j["counts"]["completed"];
  s.errors = j["counts"]["errors"];
  return s;
}

Sample RunWrk(const std::string& wrk, const std::string& url, int t, int c,
              const std::string& duration, const TempFolder& dir) {
  const std::string log = dir.path() + "/wrk.log";
  std::filesystem::remove(log);
  Sample s{"wrk"};
  s.cpu_seconds = RunMeasured(
      {wrk, "-t", std::to_string(t), "-c", std::to_string(c), "-d", duration, url}, log);
  const std::string out = Slurp(log);
  std::smatch m;
  if (std::regex_search(out, m, std::regex(R"(Requests/sec:\s+([0-9.]+))")))
    s.rps = std::stod(m[1]);
  if (std::regex_search(out, m, std::regex(R"((\d+) requests in)"))) s.requests = std::stod(m[1]);
  if (std::regex_search(out, m, std::regex(R"(Non-2xx or 3xx responses: (\d+))")))
    s.errors = std::stod(m[1]);
  if (s.rps == 0) {
    fmt::print(stderr, "cannot read wrk's output:\n{}\n", out);
    std::exit(1);
  }
  return s;
}

json ToJson(const Sample& s) {
  return {{"tool", s.tool},
          {"requestsPerSecond", s.rps},
          {"requests", s.requests},
          {"cpuSeconds", s.cpu_seconds},
          {"errors", s.errors},
          {"cpuMicrosPerRequest", s.requests > 0 ? 1e6 * s.cpu_seconds / s.requests : 0}};
}

// A canned-response server: one thread, level-triggered epoll, every GET answered with the same
// bytes. It costs a few µs per request where the Beast server costs ~11, so the generators, not
// the server, are the bottleneck: what "mqlab load vs wrk" means to compare. Written here
// because no Debian package is a server this cheap that we could start without configuring it.
class CannedServer {
 public:
  CannedServer() {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_, reinterpret_cast<sockaddr*>(&a), len) != 0 ||
        ::listen(listen_, 1024) != 0 ||
        getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      fmt::print(stderr, "canned server: cannot listen: {}\n", std::strerror(errno));
      std::exit(1);
    }
    port_ = ntohs(a.sin_port);
    epoll_ = epoll_create1(0);
    Add(listen_);
    thread_ = std::thread([this] { Loop(); });
  }
  ~CannedServer() {
    stop_ = true;
    thread_.join();
    for (auto& [fd, pending] : conns_) ::close(fd);
    ::close(listen_);
    ::close(epoll_);
  }
  int port() const { return port_; }

 private:
  static constexpr std::string_view kResponse =
      "HTTP/1.1 200 OK\r\nServer: mqlab\r\nContent-Type: application/json\r\n"
      "Content-Length: 11\r\n\r\n{\"ok\":true}";

  void Add(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
  }
  void Drop(int fd) {
    ::close(fd);
    conns_.erase(fd);
  }
  void Loop() {
    epoll_event events[128];
    char buf[16384];
    std::string out;
    while (!stop_) {
      const int n = epoll_wait(epoll_, events, 128, 100);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listen_) {
          for (int c; (c = accept4(listen_, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
            int one = 1;
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            conns_[c].clear();
            Add(c);
          }
          continue;
        }
        const ssize_t got = ::recv(fd, buf, sizeof buf, 0);
        if (got <= 0) {
          if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) Drop(fd);
          continue;
        }
        // Requests without a body: each ends at a blank line (pipelined ones included).
        std::string& pending = conns_[fd];
        pending.append(buf, static_cast<size_t>(got));
        out.clear();
        size_t start = 0;
        for (size_t end; (end = pending.find("\r\n\r\n", start)) != std::string::npos;) {
          out += kResponse;
          start = end + 4;
        }
        pending.erase(0, start);
        if (!out.empty() &&
            ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
          Drop(fd);  // a client this slow to read is not what this benchmark measures
        }
      }
    }
  }

  int listen_ = -1, epoll_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::unordered_map<int, std::string> conns_;
  std::thread thread_;
};

struct Params {
  std::string configs = "1:1,1:16,2:64", duration = "5s", json_out = "bench/out/load_vs_wrk.json";
  std::string mqlab = MQLAB_BINARY, wrk = "/usr/bin/wrk";
  std::string endpoints = "canned,beast";
  int rounds = 3, server_threads = 1;
};

double Total(const std::vector<Sample>& v, double Sample::*field) {
  double sum = 0;
  for (const Sample& s : v) sum += s.*field;
  return sum;
}

// One configuration, A B A B …: its JSON, and its row of the Markdown table appended to `table`.
json RunConfig(const Params& p, const std::string& endpoint, const std::string& url, int t, int c,
               const TempFolder& dir, std::string& table) {
  std::vector<Sample> a, b;
  json runs = json::array();
  for (int r = 0; r < p.rounds; ++r) {
    a.push_back(RunMqlabLoad(p.mqlab, url, t, c, p.duration, dir));
    runs.push_back(ToJson(a.back()));
    b.push_back(RunWrk(p.wrk, url, t, c, p.duration, dir));
    runs.push_back(ToJson(b.back()));
    fmt::print(stderr, "  {} t={} c={} round {}: mqlab load {:.0f}/s, wrk {:.0f}/s\n", endpoint, t,
               c, r + 1, a.back().rps, b.back().rps);
  }
  // The machine may be shared: besides the ratio of the means, the median of the ratios of
  // each A B pair, which a burst of someone else's load during one run moves less.
  std::vector<double> pair_ratios;
  for (int r = 0; r < p.rounds; ++r) pair_ratios.push_back(a[r].rps / b[r].rps);
  std::sort(pair_ratios.begin(), pair_ratios.end());
  const size_t n = pair_ratios.size();
  const double median =
      n % 2 ? pair_ratios[n / 2] : (pair_ratios[n / 2 - 1] + pair_ratios[n / 2]) / 2;
  const double a_rps = Total(a, &Sample::rps) / p.rounds, b_rps = Total(b, &Sample::rps) / p.rounds;
  const double a_cpu = 1e6 * Total(a, &Sample::cpu_seconds) / Total(a, &Sample::requests);
  const double b_cpu = 1e6 * Total(b, &Sample::cpu_seconds) / Total(b, &Sample::requests);
  table += fmt::format(
      "| {} | {} | {} | {:.0f} | {:.0f} | {:.2f} | {:.2f} ({:.2f}–{:.2f}) | {:.1f} | {:.1f} |\n",
      endpoint, t, c, b_rps, a_rps, a_rps / b_rps, median, pair_ratios.front(), pair_ratios.back(),
      b_cpu, a_cpu);
  return {{"endpoint", endpoint},
          {"threads", t},
          {"connections", c},
          {"wrkRequestsPerSecond", b_rps},
          {"mqlabRequestsPerSecond", a_rps},
          {"ratio", a_rps / b_rps},
          {"medianPairRatio", median},
          {"minPairRatio", pair_ratios.front()},
          {"maxPairRatio", pair_ratios.back()},
          {"wrkCpuMicrosPerRequest", b_cpu},
          {"mqlabCpuMicrosPerRequest", a_cpu},
          {"runs", runs}};
}

int Run(int argc, char** argv) {
  Params p;
  CLI::App app{"mqlab load vs wrk on a trivial endpoint (A B A B)"};
  app.add_option("--configs", p.configs, "THREADS:CONNECTIONS,…")->capture_default_str();
  app.add_option("--duration", p.duration, "Each run's duration")->capture_default_str();
  app.add_option("--rounds", p.rounds, "A B pairs per configuration")->capture_default_str();
  app.add_option("--endpoints", p.endpoints,
                 "canned (a server cheaper than the generators) and/or beast (mqlab's own)")
      ->capture_default_str();
  app.add_option("--server-threads", p.server_threads, "Threads of the Beast endpoint server")
      ->capture_default_str();
  app.add_option("--json", p.json_out, "Write the result here")->capture_default_str();
  app.add_option("--mqlab", p.mqlab, "The mqlab binary")->capture_default_str();
  app.add_option("--wrk", p.wrk, "The wrk binary")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // Checked before anything runs: a typo must not cost the configurations before it.
  std::vector<std::string> endpoints;
  std::stringstream endpoint_list(p.endpoints);
  for (std::string endpoint; std::getline(endpoint_list, endpoint, ',');) {
    if (endpoint != "canned" && endpoint != "beast") {
      fmt::print(stderr, "--endpoints: unknown endpoint '{}' (canned or beast)\n", endpoint);
      return 2;
    }
    endpoints.push_back(endpoint);
  }

  http::net::io_context ioc;
  http::Server server(ioc, {}, [](http::Request) -> http::net::awaitable<http::Response> {
    co_return http::JsonResponse(http::HttpStatus::ok, {{"ok", true}});
  });
  if (Status s = server.Listen(); !s) {
    fmt::print(stderr, "{}\n", s.error().ToString());
    return 1;
  }
  server.Start();
  std::vector<std::thread> threads;
  for (int i = 0; i < p.server_threads; ++i) threads.emplace_back([&] { ioc.run(); });
  CannedServer canned;
  TempFolder dir("load-vs-wrk");

  json results = json::array();
  std::string table =
      "| endpoint | threads | connections | wrk req/s | mqlab load req/s | ratio of means | "
      "median pair ratio (min–max) | wrk CPU µs/req | mqlab load CPU µs/req |\n"
      "|---|---|---|---|---|---|---|---|---|\n";
  for (const std::string& endpoint : endpoints) {
    const int port = endpoint == "canned" ? canned.port() : server.local_endpoint().port();
    const std::string url = fmt::format("http://127.0.0.1:{}/", port);
    std::stringstream list(p.configs);
    for (std::string item; std::getline(list, item, ',');) {
      const int t = std::stoi(item.substr(0, item.find(':')));
      const int c = std::stoi(item.substr(item.find(':') + 1));
      results.push_back(RunConfig(p, endpoint, url, t, c, dir, table));
    }
  }
  server.Stop();
  server.WaitStopped(std::chrono::seconds(10));
  ioc.stop();
  for (auto& th : threads) th.join();

  json out = {{"benchmark", "load_vs_wrk"},
              {"machine", MachineInfo()},
              {"params",
               {{"duration", p.duration},
                {"rounds", p.rounds},
                {"serverThreads", p.server_threads},
                {"endpoints",
                 {{"canned",
                   "in-process canned-response server (one thread, epoll), GET / → 200 "
                   "{\"ok\":true}: cheaper than the generators, which are the bottleneck"},
                  {"beast",
                   "in-process Beast server (mqlab's src/http), GET / → 200 {\"ok\":true}: the "
                   "server is the bottleneck"}}},
                {"order", "A B A B: mqlab load --vus C --threads T, then wrk -tT -cC"}}},
              {"results", results}};
  fmt::print("{}", table);
  if (!p.json_out.empty()) {
    std::filesystem::create_directories(std::filesystem::path(p.json_out).parent_path());
    std::ofstream(p.json_out) << out.dump(2) << '\n';
    fmt::print("\nwritten to {}\n", p.json_out);
  }
  return 0;
}

}  // namespace
}  // namespace mqlab::bench

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  return mqlab::bench::Run(argc, argv);
}
