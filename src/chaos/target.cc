#include "chaos/target.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "app/backends.h"
#include "chaos/accounting.h"
#include "chaos/submitter.h"
#include "common/logging.h"
#include "http/client.h"
#include "services/process.h"
#include "store/open_store.h"
#include "study/child.h"

namespace mqlab::chaos {

namespace fs = std::filesystem;
using nlohmann::json;
using study::Child;
using study::ChildSpec;

namespace {

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string Num(double v) { return fmt::format("{}", v); }

// Sleeps until `until` (Unix seconds) or a stop; false on a stop.
bool SleepUntil(double until, std::stop_token a, std::stop_token b) {
  while (UnixNow() < until) {
    if (a.stop_requested() || b.stop_requested()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return !a.stop_requested() && !b.stop_requested();
}

bool Finished(const std::string& status) { return status == "SUCCESS" || status == "FAILED"; }

// One submission followed to its end: the path works before the faults begin (connections made,
// consumer groups joined, schemas created).
Status Prime(const std::string& url, const std::string& path, std::stop_token stop) {
  http::Client c(*http::ParseHttpUrl(url), {.request_timeout = std::chrono::seconds(5)});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  std::string id;
  while (std::chrono::steady_clock::now() < deadline && !stop.stop_requested()) {
    if (id.empty()) {
      auto r = c.Do(http::Verb::post, path, R"({"inputPath":"scans/prime.png"})");
      if (r && r->result_int() == 202) {
        id = json::parse(r->body(), nullptr, false).value("jobId", "");
      }
    } else {
      auto r = c.Do(http::Verb::get, path + "/" + id);
      if (r && r->result_int() == 200 &&
          Finished(json::parse(r->body(), nullptr, false).value("status", ""))) {
        return Ok();
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return DeadlineExceeded("no job made it through the path within 90 s");
}

// Polls the accepted jobs not yet seen finished until none is left or the deadline.
// Returns how many are still unfinished.
size_t Drain(const std::string& url, const std::string& path, std::vector<std::string> ids,
             double timeout_s, std::stop_token stop) {
  std::set<std::string> open(ids.begin(), ids.end());
  http::Client c(*http::ParseHttpUrl(url), {.request_timeout = std::chrono::seconds(5)});
  const double deadline = UnixNow() + timeout_s;
  while (!open.empty() && UnixNow() < deadline && !stop.stop_requested()) {
    for (auto it = open.begin(); it != open.end();) {
      auto r = c.Do(http::Verb::get, path + "/" + *it);
      const bool done = r && r->result_int() == 200 &&
                        Finished(json::parse(r->body(), nullptr, false).value("status", ""));
      it = done ? open.erase(it) : std::next(it);
    }
    if (!open.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return open.size();
}

class Run {
 public:
  Run(const Target& t, const ChaosOptions& o, ChaosServers& servers, spdlog::logger& log)
      : t_(t), o_(o), servers_(servers), log_(log), rng_(o.seed ? o.seed : std::random_device{}()) {
    dir_ = fs::absolute(o.out / t.id);
    fs::create_directories(dir_ / "logs");
    fs::create_directories(dir_ / "data");
    const std::string tag = NewJobId().substr(0, 8);
    schema_ = fmt::format("chaos_{}_{}", t.version, tag);
    queue_ = "chaos_" + tag;
    path_ = fmt::format("/{}/ocr/jobs", t.version);
  }

  json Go(std::stop_token stop);

 private:
  bool mem() const { return t_.backend == "memory"; }
  std::vector<std::string> ModelArgs() const {
    return {"--service-ms",   Num(o_.service_ms),
            "--service-dist", "fixed",
            "--mode",         "sleep",
            "--log-level",    "warn"};
  }
  ChildSpec FleetSpec(int n) const;
  // Its log: logs/<name>.log in the run's folder.
  Result<std::unique_ptr<Child>> StartProcess(const ChildSpec& spec,
                                              std::chrono::milliseconds ready) const {
    return Child::Start(o_.binary, spec, dir_ / "logs" / (spec.name + ".log"), ready);
  }
  Status StartProcesses();
  // The fault threads: worker kills on one, server restarts on the other, so that kills go on
  // while a server is down.
  void Kills(std::stop_token fault_stop, std::stop_token stop, double t0);
  void Restarts(std::stop_token fault_stop, std::stop_token stop, double t0);
  void Record(json ev);
  json KillOne(double t0);
  json Restart(const std::string& what, const std::string& server, double t0);
  Result<std::map<std::string, Job>> ReadStore(const std::vector<std::string>& ids, json& counts);

  const Target& t_;
  const ChaosOptions& o_;
  ChaosServers& servers_;
  spdlog::logger& log_;
  std::mt19937_64 rng_;
  fs::path dir_;
  std::string schema_, queue_, path_, pg_url_, target_url_;
  int mem_port_ = 0;
  std::vector<std::string> conn_;
  std::unique_ptr<Child> api_;
  std::mutex fleet_mu_;                       // guards fleet_ and next_ while the fault threads run
  std::vector<std::unique_ptr<Child>> fleet_;  // workers, or (mem) the one serve process
  int next_ = 0;
  std::mutex events_mu_;  // guards events_ and windows_ while the fault threads run
  json events_ = json::array();
  std::vector<OutageWindow> windows_;
};

ChildSpec Run::FleetSpec(int n) const {
  ChildSpec s;
  const std::string data = (dir_ / "data").string();
  if (mem()) {
    s.name = fmt::format("serve-{}", n);
    s.args = {"serve",
              "--listen",
              fmt::format("127.0.0.1:{}", mem_port_),
              "--data-dir",
              data,
              "--workers",
              std::to_string(o_.workers),
              "--store",
              "sqlite:" + (dir_ / "jobs.db").string()};
  } else {
    s.name = fmt::format("worker-{}", n);
    s.ready_marker = "metrics on";
    s.args = {"worker",
              "--queue",
              t_.backend,
              "--metrics-listen",
              "127.0.0.1:0",
              "--data-dir",
              data,
              "--worker-id",
              fmt::format("chaos-{}-w{}", t_.id, n),
              "--lease",
              Num(o_.lease_seconds),
              "--shutdown-grace",
              "5"};
    s.args.insert(s.args.end(), conn_.begin(), conn_.end());
  }
  for (const auto& a : ModelArgs()) s.args.push_back(a);
  return s;
}

Status Run::StartProcesses() {
  const auto ready = std::chrono::seconds(60);
  if (mem()) {
    auto port = services::FreeLoopbackPort();
    if (!port) return std::unexpected(port.error());
    mem_port_ = *port;
    auto p = StartProcess(FleetSpec(next_++), ready);
    if (!p) return std::unexpected(p.error());
    fleet_.push_back(std::move(*p));
    target_url_ = fmt::format("http://127.0.0.1:{}", mem_port_);
    return Ok();
  }
  auto pg = servers_.Up("postgres");
  if (!pg) return std::unexpected(pg.error());
  pg_url_ = *pg;
  conn_ = {"--postgres-url", pg_url_, "--pg-schema", schema_};
  // V3's queue is the store's jobs table: a worker's --queue-name would name another table.
  if (t_.backend != "postgres") {
    conn_.push_back("--queue-name");
    conn_.push_back(queue_);
    auto url = servers_.Up(t_.server);
    if (!url) return std::unexpected(url.error());
    conn_.push_back(app::UrlFlagFor(t_.backend));
    conn_.push_back(*url);
  }
  ChildSpec api{.name = "api",
                .args = {"api", "--listen", "127.0.0.1:0", "--data-dir", (dir_ / "data").string()}};
  api.args.insert(api.args.end(), conn_.begin(), conn_.end());
  for (const auto& a : ModelArgs()) api.args.push_back(a);
  // The API first: it creates the schema, so that the workers do not race to.
  auto a = StartProcess(api, ready);
  if (!a) return std::unexpected(a.error());
  api_ = std::move(*a);
  target_url_ = api_->url();
  for (int i = 0; i < o_.workers; ++i) {
    auto w = StartProcess(FleetSpec(next_++), ready);
    if (!w) return std::unexpected(w.error());
    fleet_.push_back(std::move(*w));
  }
  return Ok();
}

json Run::KillOne(double t0) {
  size_t i = 0;
  json ev;
  double at = 0;
  {
    std::lock_guard lock(fleet_mu_);
    i = std::uniform_int_distribution<size_t>(0, fleet_.size() - 1)(rng_);
    at = UnixNow();
    ev = {{"at", at - t0},
          {"kind", "kill -9"},
          {"victim", fleet_[i]->name()},
          {"pid", fleet_[i]->pid()}};
    fleet_[i]->Kill9();
  }
  // The replacement is started as a supervisor would: again and again until it runs (a worker
  // exits at start while its server is down), for up to a minute. The fleet lock is not held
  // meanwhile: a restart thawing the workers must not wait for it.
  const double deadline = at + 60;
  int attempts = 0;
  for (;;) {
    ++attempts;
    ChildSpec spec;
    {
      std::lock_guard lock(fleet_mu_);
      spec = FleetSpec(next_++);
    }
    auto p = StartProcess(spec, std::chrono::seconds(60));
    if (p) {
      const double ready = UnixNow();
      ev["replacement"] = spec.name;
      ev["replacementAttempts"] = attempts;
      ev["replacementReadySeconds"] = ready - at;
      std::lock_guard lock(fleet_mu_);
      fleet_[i] = std::move(*p);
      if (mem()) {
        std::lock_guard events_lock(events_mu_);
        windows_.push_back({"kill -9 serve", at, ready});
      }
      return ev;
    }
    if (UnixNow() > deadline) {
      ev["replacementError"] = OneLine(p.error().message);
      log_.warn("{}: replacement {} did not start: {}", t_.id, spec.name, p.error().message);
      return ev;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
}

json Run::Restart(const std::string& what, const std::string& server, double t0) {
  const double at = UnixNow();
  json ev{{"at", at - t0}, {"kind", what}, {"server", server}};
  // Before a backend restart the workers are frozen for a moment, so that the restart meets a
  // backlog (as a real one does): what a server without persistence loses is then visible.
  const bool freeze = what == "restart backend" && o_.backlog_seconds > 0;
  if (freeze) {
    std::lock_guard lock(fleet_mu_);
    for (auto& w : fleet_) w->Pause();
    std::this_thread::sleep_for(std::chrono::duration<double>(o_.backlog_seconds));
    ev["frozenWorkersSeconds"] = o_.backlog_seconds;
  }
  const double down_from = UnixNow();
  auto down = servers_.Restart(server, [&] {
    if (freeze) {
      std::lock_guard lock(fleet_mu_);
      for (auto& w : fleet_) w->Resume();
    }
  });
  if (down) {
    ev["downSeconds"] = *down;
    std::lock_guard events_lock(events_mu_);
    windows_.push_back({fmt::format("{} ({})", what, server), down_from, down_from + *down});
  } else {
    ev["error"] = OneLine(down.error().message);
    log_.error("{}: {} {}: {}", t_.id, what, server, down.error().message);
  }
  return ev;
}

void Run::Record(json ev) {
  log_.info("{} +{:.1f}s {}", t_.id, ev["at"].get<double>(), ev.dump());
  std::lock_guard lock(events_mu_);
  events_.push_back(std::move(ev));
}

void Run::Kills(std::stop_token fault_stop, std::stop_token stop, double t0) {
  for (double k = o_.kill_every; k < o_.seconds; k += o_.kill_every) {
    if (!SleepUntil(t0 + k, fault_stop, stop)) return;
    Record(KillOne(t0));
  }
}

void Run::Restarts(std::stop_token fault_stop, std::stop_token stop, double t0) {
  if (mem()) return;  // serve is its own backend: every kill restarts it
  // V3: the backend's server is the store's, restarted twice.
  const std::string backend_server = t_.server.empty() ? "postgres" : t_.server;
  if (o_.restart_backend) {
    if (!SleepUntil(t0 + 0.3 * o_.seconds, fault_stop, stop)) return;
    Record(Restart("restart backend", backend_server, t0));
  }
  if (o_.restart_store) {
    if (!SleepUntil(t0 + 0.6 * o_.seconds, fault_stop, stop)) return;
    Record(Restart("restart store", "postgres", t0));
  }
}

Result<std::map<std::string, Job>> Run::ReadStore(const std::vector<std::string>& ids,
                                                  json& counts) {
  const std::string url = mem() ? "sqlite:" + (dir_ / "jobs.db").string() : pg_url_;
  auto store = store::OpenStore(url, {.pool_size = 2, .schema = mem() ? "public" : schema_});
  if (!store) return std::unexpected(store.error());
  std::map<std::string, Job> records;
  for (const auto& id : ids) {
    if (auto j = (*store)->Get(id); j) records.emplace(id, std::move(*j));
  }
  if (auto c = (*store)->CountByStatus(t_.version); c) counts = *c;
  return records;
}

json Run::Go(std::stop_token stop) {
  json run{{"target", t_.id},       {"backend", t_.backend},         {"version", t_.version},
           {"durable", t_.durable}, {"persistence", t_.persistence}, {"complete", false}};
  if (auto s = StartProcesses(); !s) {
    run["error"] = OneLine(s.error().message);
    return run;
  }
  if (auto s = Prime(target_url_, path_, stop); !s) {
    run["error"] = OneLine(s.error().message);
    return run;
  }
  Submitter sub(
      {.url = target_url_,
       .path = path_,
       .rate = o_.rate,
       .timeout = std::chrono::milliseconds(static_cast<int64_t>(o_.client_timeout * 1000))});
  const double t0 = UnixNow();
  log_.info("{}: load {}/s for {} s, {} workers, a kill every {} s", t_.id, o_.rate, o_.seconds,
            o_.workers, o_.kill_every);
  sub.Start();
  {
    std::jthread kills([&](std::stop_token fs) { Kills(fs, stop, t0); });
    std::jthread restarts([&](std::stop_token fs) { Restarts(fs, stop, t0); });
    SleepUntil(t0 + o_.seconds, {}, stop);
    // A slow restart (RabbitMQ, Kafka: seconds), or a replacement worker waiting for its server,
    // may push a planned fault past the planned end: the load goes on until every planned fault
    // happened, so that each one meets it.
    restarts.join();
    kills.join();
    sub.Stop();
  }
  const double load_end = UnixNow();
  // A replacement that could not start (its server was down) is started again for the drain.
  for (auto& p : fleet_) {
    if (p->running()) continue;
    if (auto again = StartProcess(FleetSpec(next_++), std::chrono::seconds(60))) {
      p = std::move(*again);
    }
  }
  const std::vector<RequestRecord> records = sub.Records();
  std::vector<std::string> accepted;
  for (const auto& r : records) {
    if (!r.job_id.empty()) accepted.push_back(r.job_id);
  }
  const size_t open = Drain(target_url_, path_, accepted, o_.drain_timeout, stop);
  run["drain"] = {{"seconds", UnixNow() - load_end},
                  {"unfinished", open},
                  {"timeoutSeconds", o_.drain_timeout}};
  for (auto& p : fleet_) p->Stop(std::chrono::seconds(10));
  if (api_) api_->Stop(std::chrono::seconds(10));
  json counts = json::object();
  auto jobs = ReadStore(accepted, counts);
  if (!jobs) {
    run["error"] = "reading the job store: " + OneLine(jobs.error().message);
    jobs = std::map<std::string, Job>{};
  }
  run["accounting"] = ToJson(Account(accepted, *jobs, o_.service_ms / 1000.0));
  run["storeCounts"] = counts;
  run["clients"] = ClientView(records, windows_, o_.client_timeout);
  run["events"] = events_;
  int kills = 0, restarts = 0, store_restarts = 0;
  for (const auto& e : events_) {
    const std::string k = e["kind"];
    if (e.contains("error")) continue;
    kills += k == "kill -9";
    restarts += k == "restart backend";
    store_restarts += k == "restart store";
  }
  run["kills"] = kills;
  run["backendRestarts"] = restarts;
  run["storeRestarts"] = store_restarts;
  run["loadSeconds"] = load_end - t0;
  run["complete"] = !stop.stop_requested();
  return run;
}

}  // namespace

Result<std::vector<Target>> PlanTargets(const ChaosOptions& o) {
  std::vector<Target> out;
  for (const std::string& b : o.backends) {
    if (b == "mem" || b == "memory") {
      out.push_back({"mem", "memory", "", "mem", true,
                     "in-process queue; jobs in SQLite, re-queued by serve at start"});
    } else if (b == "postgres") {
      out.push_back({"postgres", "postgres", "postgres", "v3", true,
                     "PostgreSQL (fsync on, synchronous_commit on)"});
    } else if (b == "redis") {
      if (o.redis_durable != "off") {
        out.push_back({"redis", "redis", "redis", "v4", true, "Redis AOF, appendfsync everysec"});
      }
      if (o.redis_durable != "on") {
        out.push_back({"redis-volatile", "redis", "redis-volatile", "v4", false,
                       "Redis without persistence (no AOF, no RDB)"});
      }
    } else if (b == "rabbitmq") {
      out.push_back({"rabbitmq", "rabbitmq", "rabbitmq", "v5", true,
                     "RabbitMQ durable queue, persistent messages, confirms"});
    } else if (b == "kafka") {
      out.push_back(
          {"kafka", "kafka", "kafka", "v6", true, "Kafka, one broker, idempotent producer"});
    } else {
      return InvalidArgument(fmt::format(
          "--backends: unknown backend '{}' (mem, postgres, redis, rabbitmq, kafka)", b));
    }
  }
  return out;
}

json RunTarget(const Target& t, const ChaosOptions& o, ChaosServers& servers, std::stop_token stop,
               spdlog::logger& log) {
  Run run(t, o, servers, log);
  return run.Go(stop);
}

}  // namespace mqlab::chaos
