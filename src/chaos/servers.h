// The private servers of a chaos run, in its own runtime folder, so that restarting one never
// disturbs anybody else's (a user's `mqlab services`, the test fixture's servers, a study).
//
// Names: "postgres", "redis" (AOF, appendfsync everysec: the launcher's default), "redis-volatile"
// (no AOF, no RDB: RedisServiceOptions::durable = false, in RUNTIME/volatile/ so that it never
// reads the durable one's data), "rabbitmq", "kafka". Each is started through the project's
// launcher (src/services), and Restart is the launcher's own Stop then Start: a graceful stop
// (SIGTERM / PostgreSQL's fast shutdown), and the same port again, so clients reconnect to the
// same URL.
//
// Threading: not thread-safe; the chaos runner calls it from its fault thread and, before and
// after, from its own.
#ifndef MQLAB_CHAOS_SERVERS_H_
#define MQLAB_CHAOS_SERVERS_H_

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mqlab/common/status.h"
#include "services/service.h"

namespace mqlab::chaos {

class ChaosServers {
 public:
  explicit ChaosServers(std::filesystem::path runtime_dir);
  ~ChaosServers();  // Down()
  ChaosServers(const ChaosServers&) = delete;
  ChaosServers& operator=(const ChaosServers&) = delete;

  // Starts the server (or finds the one running in the folder); returns its URL.
  Result<std::string> Up(const std::string& name);
  // Stop, then `while_down()` (may be empty), then Start. Returns the seconds the server was down
  // (stop begun → accepting again).
  Result<double> Restart(const std::string& name, const std::function<void()>& while_down = {});
  // Stops every server this object started, in reverse order. Idempotent.
  void Down();

  // The server's URL, "" when not up.
  std::string Url(const std::string& name) const;

 private:
  struct Entry {
    std::unique_ptr<services::Service> service;
    std::filesystem::path dir;
    std::string url;
  };
  Result<Entry*> Find(const std::string& name);

  std::filesystem::path runtime_dir_;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> started_;
};

}  // namespace mqlab::chaos

#endif  // MQLAB_CHAOS_SERVERS_H_
