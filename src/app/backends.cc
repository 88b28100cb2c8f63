#include "app/backends.h"

namespace mqlab::app {

std::string BackendUrls::UrlFor(std::string_view kind) const {
  if (kind == "postgres") return postgres;
  if (kind == "redis") return redis;
  if (kind == "rabbitmq") return amqp;
  if (kind == "kafka") return kafka_brokers;
  return "";
}

std::string UrlFlagFor(std::string_view kind) {
  if (kind == "postgres") return "--postgres-url";
  if (kind == "redis") return "--redis-url";
  if (kind == "rabbitmq") return "--amqp-url";
  if (kind == "kafka") return "--kafka-brokers";
  return "";
}

const queue::BackendEntry* BackendForVersion(std::string_view version) {
  for (const auto& e : queue::Backends()) {
    if (e.version == version) return &e;
  }
  return nullptr;
}

const queue::BackendEntry* BackendForKind(std::string_view kind) {
  for (const auto& e : queue::Backends()) {
    if (e.kind == kind) return &e;
  }
  return nullptr;
}

}  // namespace mqlab::app
