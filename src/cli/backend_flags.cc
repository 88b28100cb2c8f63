#include "cli/backend_flags.h"

#include "cli/flags.h"

namespace mqlab::cli {

void AddBackendFlags(CLI::App* cmd, app::BackendUrls& urls) {
  // No capture_default_str: a URL may carry a password, and --help must not print it.
  cmd->add_option("--postgres-url", urls.postgres, "PostgreSQL URL: the job store and V3's queue")
      ->envname("MQLAB_POSTGRES_URL");
  cmd->add_option("--redis-url", urls.redis, "Redis URL (V4)")->envname("MQLAB_REDIS_URL");
  cmd->add_option("--amqp-url", urls.amqp, "RabbitMQ AMQP URL (V5)")->envname("MQLAB_AMQP_URL");
  cmd->add_option("--kafka-brokers", urls.kafka_brokers, "Kafka bootstrap brokers host:port[,…] (V6)")
      ->envname("MQLAB_KAFKA_BROKERS");
}

}  // namespace mqlab::cli
