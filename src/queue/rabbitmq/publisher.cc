#include "queue/rabbitmq/publisher.h"

#include <algorithm>

namespace mqlab::queue::rabbitmq {

Publisher::Publisher(const AmqpUrl& url, const Topology& topology,
                     const PublisherOptions& options) {
  for (int i = 0; i < std::max(1, options.connections); ++i) {
    channels_.push_back(std::make_unique<ConfirmChannel>(url, topology, options.channel));
  }
}

Status Publisher::Publish(const OutgoingMessage& message) {
  // The least busy connection, starting the search at a rotating index so ties spread out.
  const size_t n = channels_.size();
  const size_t start = next_.fetch_add(1, std::memory_order_relaxed) % n;
  ConfirmChannel* best = channels_[start].get();
  for (size_t i = 1; i < n && best->load() > 0; ++i) {
    ConfirmChannel* c = channels_[(start + i) % n].get();
    if (c->load() < best->load()) best = c;
  }
  return best->Publish(message);
}

void Publisher::Close() {
  for (auto& c : channels_) c->Close();
}

}  // namespace mqlab::queue::rabbitmq
