// Headless Chromium for tests of report.html (report_html_integration_test.cc): runs Debian's
// Chromium on a local page behind a recording proxy and reads what it did.
//
//   RecordingListener proxy;                        // a TCP listener posing as the proxy
//   BrowserRun run = RunChromium(tmp, proxy.port(), page, {"--dump-dom"});
//   run.out                                         // the DOM after the load event
//   NetworkViolations(run, proxy.Lines())           // what the page fetched from the network
//
// How "no network request" is told apart from Chromium's own background traffic (component
// updater, sign-in): every host but 127.0.0.1 is unresolvable and the proxy is a listener of
// the test, so nothing leaves the machine; the net log (--log-net-log) names every URL request
// and a request of the page carries the page's network isolation key (file://); every
// connection the proxy gets must then be one the net log gives to Chromium itself.
//
// The real binary /usr/lib/chromium/chromium is run, not Debian's /usr/bin/chromium wrapper,
// which adds API keys and remote extensions from /etc/chromium.d (more background traffic).
// MQLAB_CHROMIUM overrides the path.
#ifndef MQLAB_REPORT_HEADLESS_CHROMIUM_TEST_UTIL_H_
#define MQLAB_REPORT_HEADLESS_CHROMIUM_TEST_UTIL_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "report/report_test_util.h"

extern char** environ;

namespace mqlab::report::testing {

namespace fs = std::filesystem;
using nlohmann::json;

// Accepts TCP connections on 127.0.0.1 and records the first line of each (what a browser sends
// a proxy: "CONNECT host:443 HTTP/1.1" or "GET http://host/… HTTP/1.1"), then closes it.
// Threading: one thread of its own accepts; Lines() may be called from any thread.
class RecordingListener {
 public:
  RecordingListener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(fd_, 64) != 0 || getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~RecordingListener() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) close(fd_);
  }
  int port() const { return port_; }
  std::vector<std::string> Lines() {
    std::lock_guard lock(mu_);
    return lines_;
  }

 private:
  void Run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string got;
      char buf[512];
      pollfd pc{c, POLLIN, 0};
      if (poll(&pc, 1, 1000) > 0) {
        ssize_t n = read(c, buf, sizeof(buf));
        if (n > 0) got.assign(buf, n);
      }
      close(c);
      std::lock_guard lock(mu_);
      lines_.push_back(got.substr(0, got.find("\r\n")));
    }
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> lines_;
};

inline fs::path ChromiumPath() {
  if (const char* env = std::getenv("MQLAB_CHROMIUM"); env && *env) return env;
  for (const char* p : {"/usr/lib/chromium/chromium", "/usr/bin/chromium"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return {};
}

struct BrowserRun {
  int exit_code = -1;
  std::string out, err;
  json net_log;
};

// Chromium's command line: headless, no background services, every host unresolvable but the
// proxy at 127.0.0.1:proxy_port, a net log and a profile in `dir`.
inline std::vector<std::string> ChromiumArgs(const fs::path& dir, int proxy_port) {
  return {ChromiumPath().string(),
          "--headless",
          "--no-sandbox",  // running as root in CI
          "--disable-gpu",
          "--disable-dev-shm-usage",
          "--disable-quic",
          "--no-first-run",
          "--no-default-browser-check",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
          "--disable-extensions",
          "--disable-default-apps",
          "--disable-breakpad",
          "--no-pings",
          "--disable-features=NetworkTimeServiceQuerying,MediaRouter,OptimizationHints,Translate",
          "--user-data-dir=" + (dir / "profile").string(),
          "--proxy-server=127.0.0.1:" + std::to_string(proxy_port),
          "--proxy-bypass-list=<-loopback>",
          "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
          "--log-net-log=" + (dir / "net.json").string(),
          "--net-log-capture-mode=Default"};
}

// Our environment with HOME and XDG_* pointing into `dir` (Chromium writes there).
inline std::vector<std::string> ChromiumEnv(const fs::path& dir) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view v(*e);
    if (!v.starts_with("HOME=") && !v.starts_with("XDG_")) env.emplace_back(v);
  }
  env.push_back("HOME=" + dir.string());
  env.push_back("XDG_CONFIG_HOME=" + (dir / "config").string());
  env.push_back("XDG_CACHE_HOME=" + (dir / "cache").string());
  return env;
}

// Spawns args[0] in a process group of its own, stdout and stderr to dir/out and dir/err, and
// waits for it; on timeout kills that group (only what this test started). The exit code, or
// -1 when it could not start.
inline int SpawnAndWait(std::vector<std::string> args, std::vector<std::string> env,
                        const fs::path& dir, std::chrono::seconds timeout) {
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  for (auto& e : env) envp.push_back(e.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, (dir / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_addopen(&fa, 2, (dir / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    ADD_FAILURE() << "cannot start " << args[0] << ": " << strerror(rc);
    return -1;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(-pid, SIGKILL);  // the process group of the browser this test started
      waitpid(pid, &status, 0);
      ADD_FAILURE() << args[0] << " did not finish within " << timeout.count() << " s";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Runs Chromium on `page` with `mode` flags (--dump-dom, --screenshot=…) in a fresh folder
// under `work`, behind the proxy at 127.0.0.1:proxy_port.
inline BrowserRun RunChromium(const fs::path& work, int proxy_port, const fs::path& page,
                              const std::vector<std::string>& mode) {
  static int runs = 0;
  const fs::path dir = work / ("run-" + std::to_string(++runs));
  fs::create_directories(dir);
  std::vector<std::string> args = ChromiumArgs(dir, proxy_port);
  args.insert(args.end(), mode.begin(), mode.end());
  args.push_back("file://" + fs::absolute(page).string());
  BrowserRun run;
  run.exit_code = SpawnAndWait(args, ChromiumEnv(dir), dir, std::chrono::seconds(120));
  run.out = ReadText(dir / "out");
  run.err = ReadText(dir / "err");
  run.net_log = json::parse(ReadText(dir / "net.json"), nullptr, false);
  return run;
}

struct Request {
  std::string url;
  bool from_page = false;  // carries the page's network isolation key (file://)
};

// Every URL request of the net log (URL_REQUEST_START_JOB events).
inline std::vector<Request> Requests(const json& net_log) {
  std::vector<Request> out;
  const json& types = net_log["constants"]["logEventTypes"];
  if (!types.contains("URL_REQUEST_START_JOB")) return out;
  const json& start = types["URL_REQUEST_START_JOB"];
  for (const json& e : net_log["events"]) {
    if (e.value("type", -1) != start || !e.contains("params")) continue;
    const json& p = e["params"];
    if (!p.contains("url")) continue;
    std::string nik = p.value("network_isolation_key", "");
    out.push_back({p["url"].get<std::string>(), nik.find("file://") != std::string::npos});
  }
  return out;
}

inline std::string HostOf(const std::string& url_or_line) {
  static const std::regex kHost(R"((?:https?://|CONNECT )([^/:\s]+))");
  std::smatch m;
  return std::regex_search(url_or_line, m, kHost) ? m[1].str() : "";
}

// What breaks "the page made no network request": every request the page made for anything but
// file:, data:, blob: or about: (net log), and every connection the proxy got that the net log
// does not show as a request of Chromium's own. Empty when the page fetched nothing.
inline std::vector<std::string> NetworkViolations(const BrowserRun& run,
                                                  const std::vector<std::string>& proxy_lines) {
  std::vector<std::string> out;
  if (run.net_log.is_discarded()) return {"no readable net log"};
  std::set<std::string> browser_hosts;
  for (const Request& r : Requests(run.net_log)) {
    if (!r.from_page) {
      browser_hosts.insert(HostOf(r.url));
    } else if (!(r.url.starts_with("file:") || r.url.starts_with("data:") ||
                 r.url.starts_with("blob:") || r.url.starts_with("about:"))) {
      out.push_back("the page requested " + r.url);
    }
  }
  for (const std::string& line : proxy_lines) {
    if (line.empty()) continue;  // a connection that sent nothing carried no request
    if (!browser_hosts.count(HostOf(line))) out.push_back("the proxy got: " + line);
  }
  return out;
}

inline std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += "\n  " + l;
  return out;
}

}  // namespace mqlab::report::testing

#endif  // MQLAB_REPORT_HEADLESS_CHROMIUM_TEST_UTIL_H_
