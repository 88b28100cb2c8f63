// The service registry: adding a server is one line here plus its own class.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "services/kafka_service.h"
#include "services/postgres_service.h"
#include "services/prometheus_service.h"
#include "services/rabbitmq_service.h"
#include "services/redis_service.h"
#include "services/service.h"

namespace mqlab::services {
namespace {

struct Entry {
  std::string_view name;
  std::unique_ptr<Service> (*make)();
};

constexpr Entry kServices[] = {
    {"postgres", []() -> std::unique_ptr<Service> { return std::make_unique<PostgresService>(); }},
    {"redis", []() -> std::unique_ptr<Service> { return std::make_unique<RedisService>(); }},
    {"rabbitmq", []() -> std::unique_ptr<Service> { return std::make_unique<RabbitMqService>(); }},
    {"kafka", []() -> std::unique_ptr<Service> { return std::make_unique<KafkaService>(); }},
    {"prometheus",
     []() -> std::unique_ptr<Service> { return std::make_unique<PrometheusService>(); }},
};

}  // namespace

Result<std::string> Service::Url(const std::filesystem::path& runtime_dir) {
  auto status = GetStatus(runtime_dir);
  if (!status) return std::unexpected(status.error());
  if (!status->running) {
    return NotFound(fmt::format("{} is not running in {} ({})", name(), runtime_dir.string(),
                                status->detail));
  }
  return status->url;
}

std::vector<std::string> ServiceNames() {
  std::vector<std::string> names;
  for (const auto& e : kServices) names.emplace_back(e.name);
  return names;
}

Result<std::unique_ptr<Service>> MakeService(std::string_view name) {
  for (const auto& e : kServices) {
    if (e.name == name) return e.make();
  }
  return NotFound(fmt::format("unknown service '{}'; known: {}", name,
                              fmt::join(ServiceNames(), ", ")));
}

}  // namespace mqlab::services
