// One target of a chaos run (chaos.h): its processes, its faults, its drain and its accounting.
// Internal to src/chaos.
#ifndef MQLAB_CHAOS_TARGET_H_
#define MQLAB_CHAOS_TARGET_H_

#include <spdlog/logger.h>

#include <nlohmann/json.hpp>
#include <stop_token>
#include <string>
#include <vector>

#include "chaos/chaos.h"
#include "chaos/servers.h"

namespace mqlab::chaos {

struct Target {
  std::string id;       // "redis-volatile": folder and row name
  std::string backend;  // queue kind: memory, postgres, redis, rabbitmq, kafka
  std::string server;   // ChaosServers name of the backend's server ("" for memory)
  std::string version;  // mem, v3 … v6
  bool durable = true;
  std::string persistence;  // in words, for the report
};

// The targets the options ask for, in order. InvalidArgument for an unknown backend.
Result<std::vector<Target>> PlanTargets(const ChaosOptions& o);

// Runs one target; its figures, or {"error": …} with what was measured.
nlohmann::json RunTarget(const Target& t, const ChaosOptions& o, ChaosServers& servers,
                         std::stop_token stop, spdlog::logger& log);

}  // namespace mqlab::chaos

#endif  // MQLAB_CHAOS_TARGET_H_
