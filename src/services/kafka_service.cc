#include "services/kafka_service.h"

#include <fmt/format.h>
#include <librdkafka/rdkafkacpp.h>
#include <signal.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "services/file_lock.h"
#include "services/state_file.h"

namespace mqlab::services {

namespace fs = std::filesystem;

struct KafkaService::Paths {
  fs::path root;  // RUNTIME_DIR/kafka, absolute
  fs::path data, properties, log4j, log, jvm_log, format_log, state, lock, port, controller_port;

  explicit Paths(const fs::path& runtime_dir)
      : root(fs::weakly_canonical(fs::absolute(runtime_dir)) / "kafka"),
        data(root / "data"),
        properties(root / "server.properties"),
        log4j(root / "log4j2.properties"),
        log(root / "server.log"),
        jvm_log(root / "jvm.log"),
        format_log(root / "format.log"),
        state(root / "state.json"),
        lock(root / "lock"),
        port(root / "port"),
        controller_port(root / "controller-port") {}
};

namespace {

// Polling interval while the broker starts (~5 s): adds little, costs nothing.
constexpr auto kReadyPoll = std::chrono::milliseconds(100);
// One metadata request while waiting; the broker answers in a few ms once it is up.
constexpr auto kMetadataTimeout = std::chrono::milliseconds(1000);

using State = ServerState;



// True if `pid` is a broker started with this folder's server.properties (so a reused PID is
// never signalled).
bool IsBrokerOf(const fs::path& properties, int pid) {
  if (!IsAlive(pid)) return false;
  std::ifstream in(fmt::format("/proc/{}/cmdline", pid), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string cmdline = ss.str();
  return cmdline.find(std::string("kafka.Kafka") + '\0') != std::string::npos &&
         cmdline.find(properties.string()) != std::string::npos;
}

// A Kafka cluster id: 16 random bytes in unpadded URL-safe base64 (22 characters), as
// `kafka-storage.sh random-uuid` prints, minus ids starting with '-' (which Kafka avoids too:
// they read as command-line options).
std::string NewClusterId() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (;;) {
    uuid_t bytes;
    uuid_generate_random(bytes);
    std::string out;
    uint32_t acc = 0;
    int bits = 0;
    for (unsigned char b : bytes) {
      acc = (acc << 8) | b;
      bits += 8;
      while (bits >= 6) {
        bits -= 6;
        out += kAlphabet[(acc >> bits) & 63];
      }
    }
    if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
    if (out[0] != '-') return out;
  }
}

// A librdkafka handle that asks for cluster metadata; quiet (log_level 0: a broker that is
// still starting refuses connections, which is expected here) and quick to retry connecting.
class MetadataProbe {
 public:
  explicit MetadataProbe(const std::string& brokers) {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    std::string err;
    conf->set("bootstrap.servers", brokers, err);
    conf->set("log_level", "0", err);
    conf->set("reconnect.backoff.ms", "50", err);
    conf->set("reconnect.backoff.max.ms", "200", err);
    conf->set("socket.connection.setup.timeout.ms", "1000", err);
    producer_.reset(RdKafka::Producer::create(conf.get(), err));
  }

  bool Ready(std::chrono::milliseconds timeout) {
    if (!producer_) return false;
    RdKafka::Metadata* raw = nullptr;
    auto err =
        producer_->metadata(/*all_topics=*/false, nullptr, &raw, static_cast<int>(timeout.count()));
    std::unique_ptr<RdKafka::Metadata> md(raw);
    return err == RdKafka::ERR_NO_ERROR && md && !md->brokers()->empty();
  }

 private:
  std::unique_ptr<RdKafka::Producer> producer_;
};

bool IsExecutable(const fs::path& p) {
  return access(p.c_str(), X_OK) == 0 && fs::is_regular_file(p);
}

}  // namespace

KafkaService::KafkaService(KafkaServiceOptions options) : options_(std::move(options)) {}

std::string KafkaService::UrlForPort(int port) { return fmt::format("127.0.0.1:{}", port); }

bool KafkaService::ServesMetadata(const std::string& brokers, std::chrono::milliseconds timeout) {
  return MetadataProbe(brokers).Ready(timeout);
}

Result<fs::path> KafkaService::LibsDir() const {
  auto has_broker = [](const fs::path& dir) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.path().filename().string().starts_with("kafka_2.13-")) return true;
    }
    return false;
  };
  if (!options_.libs_dir.empty()) {
    if (has_broker(options_.libs_dir)) return options_.libs_dir;
    return FailedPrecondition(
        fmt::format("no Kafka broker jars (kafka_2.13-*.jar) in {}", options_.libs_dir.string()));
  }
  std::error_code ec;
  std::vector<fs::path> starts = {fs::read_symlink("/proc/self/exe", ec).parent_path(),
                                  fs::current_path(ec)};
  for (const fs::path& start : starts) {
    for (fs::path p = start; !p.empty(); p = p.parent_path()) {
      fs::path candidate = p / ".cache" / "kafka" / "libs";
      if (has_broker(candidate)) return candidate;
      if (p == p.root_path()) break;
    }
  }
  return FailedPrecondition(
      "the Kafka broker's jars are not installed: run scripts/setup-kafka (or scripts/setup) in "
      "the mqlab checkout; it fetches them from Maven Central into .cache/kafka/libs");
}

Result<fs::path> KafkaService::Java() const {
  if (!options_.java.empty()) return options_.java;
  // What execvp would find: PATH, then the usual place.
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && IsExecutable(fs::path(dir) / "java")) return fs::path(dir) / "java";
  }
  if (IsExecutable("/usr/bin/java")) return fs::path("/usr/bin/java");
  return FailedPrecondition(
      "no `java` on PATH: Kafka needs Java 17 (apt-get install openjdk-17-jre-headless, or run "
      "scripts/setup-kafka)");
}

ServiceStatus KafkaService::Inspect(const Paths& paths) {
  auto state = ReadServerState(paths.state);
  if (!state) return {.detail = "not started"};
  if (!IsBrokerOf(paths.properties, state->pid)) {
    return {.detail = fmt::format("stale record: pid {} is not this folder's broker", state->pid)};
  }
  ServiceStatus s{.pid = state->pid, .port = state->port};
  s.running = ServesMetadata(state->url, kMetadataTimeout);
  s.url = s.running ? state->url : "";
  s.detail = s.running ? fmt::format("running, pid {}", s.pid)
                       : fmt::format("pid {} does not answer metadata requests", s.pid);
  return s;
}

Result<ServiceStatus> KafkaService::GetStatus(const fs::path& runtime_dir) {
  return Inspect(Paths(runtime_dir));
}

Status KafkaService::WriteConfig(const Paths& paths, int port, int controller_port) const {
  std::vector<std::pair<std::string, std::string>> lines = {
      {"process.roles", "broker,controller"},
      {"node.id", "1"},
      {"controller.quorum.voters", fmt::format("1@127.0.0.1:{}", controller_port)},
      {"listeners",
       fmt::format("PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}", port, controller_port)},
      {"advertised.listeners", fmt::format("PLAINTEXT://127.0.0.1:{}", port)},
      {"controller.listener.names", "CONTROLLER"},
      {"inter.broker.listener.name", "PLAINTEXT"},
      {"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"},
      {"log.dirs", paths.data.string()},
      {"num.partitions", std::to_string(options_.num_partitions)},
      {"auto.create.topics.enable", options_.auto_create_topics ? "true" : "false"},
      // One node: every internal topic has one replica.
      {"default.replication.factor", "1"},
      {"offsets.topic.replication.factor", "1"},
      {"transaction.state.log.replication.factor", "1"},
      {"transaction.state.log.min.isr", "1"},
      {"share.coordinator.state.topic.replication.factor", "1"},
      {"share.coordinator.state.topic.min.isr", "1"},
      // Fewer partitions for __consumer_offsets than the default 50: the first group coordinator
      // load is then quick, and 10 is plenty for one node.
      {"offsets.topic.num.partitions", "10"},
      // A group forms as soon as its first member joins (the default waits 3 s for more).
      {"group.initial.rebalance.delay.ms", "0"},
      // Sized for 2 cores and a 512 MB heap (defaults: 3 network, 8 io threads, 128 MB buffer).
      {"num.network.threads", "2"},
      {"num.io.threads", "4"},
      {"log.cleaner.dedupe.buffer.size", "16777216"},
  };
  for (const auto& kv : options_.settings) lines.push_back(kv);
  std::ofstream out(paths.properties, std::ios::trunc);
  out << "# Written by mqlab at every start (src/services/kafka_service.cc); edits are lost.\n";
  for (const auto& [k, v] : lines) out << k << "=" << v << "\n";
  std::ofstream log4j(paths.log4j, std::ios::trunc);
  log4j << "status = warn\n"
        << "appender.file.type = File\n"
        << "appender.file.name = file\n"
        << "appender.file.fileName = " << paths.log.string() << "\n"
        << "appender.file.layout.type = PatternLayout\n"
        << "appender.file.layout.pattern = [%d] %p %m (%c)%n\n"
        << "rootLogger.level = info\n"
        << "rootLogger.appenderRef.file.ref = file\n"
        // The per-request and state-change chatter is not needed to run the study.
        << "logger.kafka.name = kafka\nlogger.kafka.level = info\n"
        << "logger.statechange.name = state.change.logger\nlogger.statechange.level = warn\n";
  if (!out || !log4j) {
    return Unavailable(fmt::format("cannot write the broker's config in {}", paths.root.string()));
  }
  return Ok();
}

Status KafkaService::Format(const Paths& paths, const fs::path& java, const fs::path& libs) {
  std::error_code ec;
  if (fs::exists(paths.data / "meta.properties")) return Ok();
  fs::remove_all(paths.data, ec);  // left by an interrupted format
  ProcessSpec spec{
      .argv = {java.string(), "-Xmx256m", "-Dlog4j2.configurationFile=" + paths.log4j.string(),
               "-cp", (libs / "*").string(), "kafka.tools.StorageTool", "format", "-t",
               NewClusterId(), "-c", paths.properties.string()},
      .cwd = paths.root,
      .output = paths.format_log,
      .new_session = false};
  auto code = RunToExit(spec, std::chrono::minutes(2));
  if (!code) return std::unexpected(code.error());
  if (*code != 0) {
    return Unavailable(fmt::format("formatting Kafka's storage failed (exit {}); {} ends with:\n{}",
                                   *code, paths.format_log.string(), TailOfFile(paths.format_log)));
  }
  return Ok();
}

Result<std::string> KafkaService::WaitReady(const Paths& paths, pid_t pid, int port) {
  const std::string url = UrlForPort(port);
  MetadataProbe probe(url);
  const auto deadline = std::chrono::steady_clock::now() + options_.start_timeout;
  std::optional<int> exit_code;
  while (!(exit_code = ReapIfExited(pid)) && IsAlive(pid)) {
    if (probe.Ready(kMetadataTimeout)) return url;
    if (std::chrono::steady_clock::now() > deadline) break;
    std::this_thread::sleep_for(kReadyPoll);
  }
  std::error_code ec;
  if (!exit_code && IsAlive(pid)) {  // hung in start-up: stop exactly it
    kill(pid, SIGKILL);
    WaitGone(pid, std::chrono::seconds(10));
    fs::remove(paths.state, ec);
    return DeadlineExceeded(
        fmt::format("kafka did not serve metadata within {} ms; {} ends with:\n{}",
                    options_.start_timeout.count(), paths.log.string(), TailOfFile(paths.log)));
  }
  fs::remove(paths.state, ec);
  return Unavailable(
      fmt::format("kafka exited during start-up (code {}); {} ends with:\n{}{} ends "
                  "with:\n{}",
                  exit_code.value_or(-1), paths.log.string(), TailOfFile(paths.log),
                  paths.jvm_log.string(), TailOfFile(paths.jvm_log, 5)));
}

Result<std::string> KafkaService::Launch(const Paths& paths, const fs::path& java,
                                         const fs::path& libs) {
  // A port picked free can be taken before the broker binds it: then try others.
  for (int attempt = 1;; ++attempt) {
    auto port = PickPort(paths.port, attempt);
    if (!port) return std::unexpected(port.error());
    auto cport = PickPort(paths.controller_port, attempt);
    for (int i = 2; cport && *cport == *port && i < 10; ++i)
      cport = PickPort(paths.controller_port, i);
    if (!cport) return std::unexpected(cport.error());
    if (auto s = WriteConfig(paths, *port, *cport); !s) return std::unexpected(s.error());
    if (auto s = Format(paths, java, libs); !s) return std::unexpected(s.error());
    std::vector<std::string> argv = {java.string(),
                                     "-Xmx" + options_.heap,
                                     "-Xms" + options_.heap,
                                     "-XX:+UseG1GC",
                                     "-XX:MaxGCPauseMillis=20",
                                     "-Djava.awt.headless=true",
                                     "-Dlog4j2.configurationFile=" + paths.log4j.string(),
                                     "-Dkafka.logs.dir=" + paths.root.string(),
                                     "-cp",
                                     (libs / "*").string(),
                                     "kafka.Kafka",
                                     paths.properties.string()};
    auto pid = Spawn({.argv = argv, .cwd = paths.root, .output = paths.jvm_log});
    if (!pid) return std::unexpected(pid.error());
    State state{.pid = *pid, .port = *port, .url = UrlForPort(*port), .controller_port = *cport};
    // Recorded before waiting, so that `down` can stop it even if this process dies now.
    if (auto s = WriteServerState(paths.state, state); !s) {
      kill(*pid, SIGKILL);
      WaitGone(*pid, std::chrono::seconds(10));
      return std::unexpected(s.error());
    }
    const auto log_size = fs::exists(paths.log) ? fs::file_size(paths.log) : 0;
    auto url = WaitReady(paths, *pid, *port);
    if (url) {
      RememberPort(paths.port, *port);
      RememberPort(paths.controller_port, *cport);
      return url;
    }
    // Only this start's lines of server.log say whether a port was taken.
    std::ifstream in(paths.log);
    in.seekg(static_cast<std::streamoff>(log_size));
    std::stringstream tail;
    tail << in.rdbuf();
    if (tail.str().find("Address already in use") == std::string::npos || attempt == 3) {
      return url;
    }
  }
}

Result<std::string> KafkaService::Start(const fs::path& runtime_dir) {
  const Paths paths(runtime_dir);
  std::error_code ec;
  fs::create_directories(paths.root, ec);
  if (ec)
    return Unavailable(fmt::format("cannot create {}: {}", paths.root.string(), ec.message()));
  auto lock = FileLock::Acquire(paths.lock);
  if (!lock) return std::unexpected(lock.error());

  ServiceStatus current = Inspect(paths);
  if (current.running) return current.url;
  if (current.pid != 0) {  // ours and alive, but not serving (yet): wait for it
    auto url = WaitReady(paths, current.pid, current.port);
    if (url) return url;
    return std::unexpected(url.error());
  }
  fs::remove(paths.state, ec);

  auto libs = LibsDir();
  if (!libs) return std::unexpected(libs.error());
  auto java = Java();
  if (!java) return std::unexpected(java.error());
  return Launch(paths, *java, *libs);
}

Status KafkaService::Stop(const fs::path& runtime_dir) {
  const Paths paths(runtime_dir);
  if (!fs::exists(paths.root)) return Ok();
  auto lock = FileLock::Acquire(paths.lock);
  if (!lock) return std::unexpected(lock.error());
  auto state = ReadServerState(paths.state);
  if (state && IsBrokerOf(paths.properties, state->pid)) {
    kill(state->pid, SIGTERM);  // controlled shutdown: flush, close the logs cleanly, exit
    if (!WaitGone(state->pid, options_.stop_timeout)) {
      kill(state->pid, SIGKILL);  // the next start recovers the logs
      if (!WaitGone(state->pid, std::chrono::seconds(10))) {
        return Unavailable(
            fmt::format("kafka pid {} ({}) did not stop", state->pid, paths.root.string()));
      }
    }
  }
  std::error_code ec;
  fs::remove(paths.state, ec);
  return Ok();
}

}  // namespace mqlab::services
