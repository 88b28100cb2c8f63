// Bringing a list of services up and down by name, and the services.env file that tells every
// other mqlab subcommand (and the tests) where they are.
//
// RUNTIME_DIR/services.env holds one `MQLAB_*=value` line per running service (e.g.
// MQLAB_POSTGRES_URL=postgresql://postgres@127.0.0.1:41234/postgres), unquoted; `#` lines are
// comments. `up` adds or replaces its services' lines and `down` removes them, leaving other
// lines alone; both hold RUNTIME_DIR/services.lock meanwhile.
//
// Threading: the functions are thread-safe (and process-safe, through the lock files).
#ifndef MQLAB_SERVICES_SERVICE_SET_H_
#define MQLAB_SERVICES_SERVICE_SET_H_

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "mqlab/common/status.h"
#include "services/service.h"

namespace mqlab::services {

struct ServiceUrl {
  std::string name;     // "postgres"
  std::string env_var;  // "MQLAB_POSTGRES_URL"
  std::string url;
};

// RUNTIME_DIR/services.env
std::filesystem::path ServicesEnvPath(const std::filesystem::path& runtime_dir);

// Starts the named services (every known one if `names` is empty), in order, each found running
// if it already is, and records their URLs in services.env. If one fails, the services this call
// started are stopped again (those found running are left alone) and its error is returned.
Result<std::vector<ServiceUrl>> UpServices(const std::filesystem::path& runtime_dir,
                                           const std::vector<std::string>& names);

// Stops the named services (every known one if empty) in reverse order and removes their lines
// from services.env. Tries them all; returns the first error.
Status DownServices(const std::filesystem::path& runtime_dir,
                    const std::vector<std::string>& names);

// The status of each named service (every known one if empty).
Result<std::vector<std::pair<std::string, ServiceStatus>>> ServicesStatus(
    const std::filesystem::path& runtime_dir, const std::vector<std::string>& names);

// Reads an env file: kNotFound if it does not exist, kInvalidArgument (with the line number) for
// a line that is neither blank, a comment nor NAME=value.
Result<std::map<std::string, std::string>> ReadEnvFile(const std::filesystem::path& file);
// Writes an env file atomically (a temporary file renamed over it).
Status WriteEnvFile(const std::filesystem::path& file,
                    const std::map<std::string, std::string>& vars);

}  // namespace mqlab::services

#endif  // MQLAB_SERVICES_SERVICE_SET_H_
