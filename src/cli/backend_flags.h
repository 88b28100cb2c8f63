// Flags naming external servers (--postgres-url, --redis-url, --amqp-url, --kafka-brokers), with
// their MQLAB_* variables, shared by `api` and `worker`.
#ifndef MQLAB_CLI_BACKEND_FLAGS_H_
#define MQLAB_CLI_BACKEND_FLAGS_H_

#include <CLI/CLI.hpp>

#include "app/backends.h"

namespace mqlab::cli {

void AddBackendFlags(CLI::App* cmd, app::BackendUrls& urls);

}  // namespace mqlab::cli

#endif  // MQLAB_CLI_BACKEND_FLAGS_H_
