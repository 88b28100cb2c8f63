// The servers a study uses: the user's own (an MQLAB_*_URL variable that `mqlab services` did not
// write), or private ones found running in the runtime folder, or started now — and then stopped
// at the end, exactly those. Prometheus is always a private one: the study tells it what to
// scrape through files in its runtime folder, which a user's own server does not read.
#ifndef MQLAB_STUDY_SERVERS_H_
#define MQLAB_STUDY_SERVERS_H_

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <spdlog/logger.h>

#include "study/plan.h"

namespace mqlab::study {

class ServerSession {
 public:
  // Makes every named service available. On error, stops what it started.
  static Result<ServerSession> Start(const std::vector<std::string>& names,
                                     const std::filesystem::path& runtime_dir,
                                     spdlog::logger& log);
  // Makes one more service available (as Start does for each). On error nothing is left
  // started by this call.
  Status Add(const std::string& name, spdlog::logger& log);
  // Stops the servers this session started. Idempotent.
  void Stop(spdlog::logger& log);

  const std::filesystem::path& runtime_dir() const { return runtime_dir_; }
  const ServerUrls& urls() const { return urls_; }
  // {"postgres": {"version": "15.18", "source": "started"|"running"|"external"}, …}
  const nlohmann::json& info() const { return info_; }

 private:
  std::filesystem::path runtime_dir_;
  ServerUrls urls_;
  std::vector<std::string> started_;
  nlohmann::json info_ = nlohmann::json::object();
};

}  // namespace mqlab::study

#endif  // MQLAB_STUDY_SERVERS_H_
