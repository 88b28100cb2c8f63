// KafkaService: a private Apache Kafka broker (4.x, KRaft, one node that is both broker and
// controller) in RUNTIME_DIR/kafka/.
//
// There is no Debian package: scripts/setup-kafka fetches the broker's jars from Maven Central
// into .cache/kafka/libs (services/kafka/pom.xml lists them), and this class runs them on the
// machine's Java 17. Kafka runs fine as root, so no user switch.
//
// Layout: data/ (log.dirs: the topics and the KRaft metadata log, formatted once and kept across
// up/down), server.properties and log4j2.properties (rewritten at every start: the ports may have
// changed), server.log (the broker's own log, through Log4j 2), jvm.log (stdout/stderr of the
// JVM: crashes, GC warnings), format.log, state.json (pid, ports, url), port and controller-port
// (the ports to reuse at the next start, so a restarted broker keeps its address and clients
// reconnect by themselves), lock (serialises up/down on this folder).
//
// Start: format the storage once (`kafka.tools.StorageTool format` with a random cluster id and a
// static one-voter quorum, controller.quorum.voters=1@127.0.0.1:CPORT: a static quorum does not
// record the controller's address in the metadata log, so a restart on another port still
// works), then exec `java … -cp 'libs/*' kafka.Kafka server.properties` from an argument vector,
// so its PID is known exactly. Ready means a librdkafka metadata request lists the broker (it has
// registered with its controller and is unfenced): ~5 s after spawn on the study machine.
// Stop: SIGTERM (controlled shutdown, ~2 s), SIGKILL after stop_timeout; only after checking
// that the PID is still this folder's broker (/proc/PID/cmdline names our server.properties).
//
// Threading: see service.h.
#ifndef MQLAB_SERVICES_KAFKA_SERVICE_H_
#define MQLAB_SERVICES_KAFKA_SERVICE_H_

#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "services/process.h"
#include "services/service.h"

namespace mqlab::services {

struct KafkaServiceOptions {
  // Folder of the broker's jars. Default: empty, the first .cache/kafka/libs found above the
  // running executable or the working directory (where scripts/setup-kafka puts them).
  std::filesystem::path libs_dir;
  // The Java runtime. Default: empty, `java` found on PATH.
  std::filesystem::path java;
  // JVM heap (-Xmx and -Xms). Default: "512m" (Kafka's own default is 1g; the study's load fits
  // in far less, and the tests start up to three brokers at once).
  std::string heap = "512m";
  // Default partition count of topics created without one (the queue creates its own with
  // QueueOptions::partitions). Default: 8.
  int num_partitions = 8;
  // Whether producing to or fetching a missing topic creates it. Default: false: the queue
  // backend creates its topics explicitly, with the partition count it needs, and a typo in a
  // topic name is an error instead of a new topic.
  bool auto_create_topics = false;
  // Further server.properties lines, e.g. {"log.flush.interval.messages", "1"}. Default: none.
  std::vector<std::pair<std::string, std::string>> settings;
  // From spawn to serving metadata (~5 s measured; a large log to recover takes longer).
  // Default: 120 s.
  std::chrono::milliseconds start_timeout{120000};
  // Controlled shutdown before SIGKILL. Default: 30 s.
  std::chrono::milliseconds stop_timeout{30000};
};

class KafkaService final : public Service {
 public:
  explicit KafkaService(KafkaServiceOptions options = {});

  std::string_view name() const override { return "kafka"; }
  std::string_view env_var() const override { return "MQLAB_KAFKA_BROKERS"; }
  Result<std::string> Start(const std::filesystem::path& runtime_dir) override;
  Status Stop(const std::filesystem::path& runtime_dir) override;
  Result<ServiceStatus> GetStatus(const std::filesystem::path& runtime_dir) override;

  // "127.0.0.1:PORT": the bootstrap list clients use.
  static std::string UrlForPort(int port);
  // True if a broker at `brokers` answers a metadata request listing at least one broker within
  // `timeout`.
  static bool ServesMetadata(const std::string& brokers, std::chrono::milliseconds timeout);

 private:
  struct Paths;
  Result<std::filesystem::path> LibsDir() const;
  Result<std::filesystem::path> Java() const;
  Status WriteConfig(const Paths& paths, int port, int controller_port) const;
  Status Format(const Paths& paths, const std::filesystem::path& java,
                const std::filesystem::path& libs);
  Result<std::string> Launch(const Paths& paths, const std::filesystem::path& java,
                             const std::filesystem::path& libs);
  Result<std::string> WaitReady(const Paths& paths, pid_t pid, int port);
  ServiceStatus Inspect(const Paths& paths);

  KafkaServiceOptions options_;
};

}  // namespace mqlab::services

#endif  // MQLAB_SERVICES_KAFKA_SERVICE_H_
