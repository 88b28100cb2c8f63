// Where each version's backend lives: the URLs a process was given (flags or MQLAB_* variables)
// and the mapping version → queue kind. Shared by `mqlab api` and `mqlab worker`.
#ifndef MQLAB_APP_BACKENDS_H_
#define MQLAB_APP_BACKENDS_H_

#include <string>

#include "queue/registry.h"

namespace mqlab::app {

struct BackendUrls {
  std::string postgres;       // --postgres-url / MQLAB_POSTGRES_URL
  std::string redis;          // --redis-url / MQLAB_REDIS_URL
  std::string amqp;           // --amqp-url / MQLAB_AMQP_URL
  std::string kafka_brokers;  // --kafka-brokers / MQLAB_KAFKA_BROKERS

  // The URL for a queue kind ("" for memory or when not given).
  std::string UrlFor(std::string_view kind) const;
};

// The flag that gives a kind's URL ("--redis-url") and the server `mqlab services up` starts.
std::string UrlFlagFor(std::string_view kind);

// The registered backend serving `version`, or nullptr.
const queue::BackendEntry* BackendForVersion(std::string_view version);
// The registered backend of `kind`, or nullptr.
const queue::BackendEntry* BackendForKind(std::string_view kind);

}  // namespace mqlab::app

#endif  // MQLAB_APP_BACKENDS_H_
