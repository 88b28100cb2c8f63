#include "queue/kafka/offset_tracker.h"

#include <algorithm>

namespace mqlab::queue::kafka {

uint64_t OffsetTracker::Assign(PartitionKey p) {
  State& s = partitions_[p];
  s = State{};
  s.generation = next_generation_++;
  return s.generation;
}

void OffsetTracker::BeginRevoke(PartitionKey p) {
  auto it = partitions_.find(p);
  if (it != partitions_.end()) it->second.revoking = true;
}

std::optional<int64_t> OffsetTracker::Revoke(PartitionKey p) {
  auto it = partitions_.find(p);
  if (it == partitions_.end()) return std::nullopt;
  std::optional<int64_t> pos = CommitPosition(p);
  const int64_t committed = it->second.committed;
  partitions_.erase(it);
  if (pos && *pos > committed) return pos;
  return std::nullopt;
}

OffsetTracker::State* OffsetTracker::Find(PartitionKey p, uint64_t generation) {
  auto it = partitions_.find(p);
  if (it == partitions_.end() || it->second.generation != generation) return nullptr;
  return &it->second;
}

std::optional<uint64_t> OffsetTracker::Active(PartitionKey p) const {
  auto it = partitions_.find(p);
  if (it == partitions_.end() || it->second.revoking) return std::nullopt;
  return it->second.generation;
}

bool OffsetTracker::Fetched(PartitionKey p, uint64_t generation, int64_t offset) {
  State* s = Find(p, generation);
  if (s == nullptr || s->revoking || offset < s->next_fetch) return false;
  // The first record of a generation is where the group's position stood (the committed offset,
  // or the reset position): committing up to it would be no progress.
  if (s->next_fetch < 0) s->committed = std::max(s->committed, offset);
  s->outstanding.insert(offset);
  s->next_fetch = offset + 1;
  return true;
}

bool OffsetTracker::HandOut(PartitionKey p, uint64_t generation) {
  State* s = Find(p, generation);
  if (s == nullptr || s->revoking) return false;
  ++s->handed_out;
  return true;
}

bool OffsetTracker::Settle(PartitionKey p, uint64_t generation, int64_t offset) {
  State* s = Find(p, generation);
  if (s == nullptr) return false;
  s->outstanding.erase(offset);
  --s->handed_out;
  return true;
}

bool OffsetTracker::Release(PartitionKey p, uint64_t generation) {
  State* s = Find(p, generation);
  if (s == nullptr) return false;
  --s->handed_out;
  return !s->revoking;
}

std::optional<int64_t> OffsetTracker::CommitPosition(PartitionKey p) const {
  auto it = partitions_.find(p);
  if (it == partitions_.end() || it->second.next_fetch < 0) return std::nullopt;
  const State& s = it->second;
  return s.outstanding.empty() ? s.next_fetch : *s.outstanding.begin();
}

std::vector<std::pair<PartitionKey, int64_t>> OffsetTracker::PendingCommits() const {
  std::vector<std::pair<PartitionKey, int64_t>> out;
  for (const auto& [p, s] : partitions_) {
    auto pos = CommitPosition(p);
    if (pos && *pos > s.committed) out.emplace_back(p, *pos);
  }
  return out;
}

void OffsetTracker::MarkCommitted(PartitionKey p, int64_t offset) {
  auto it = partitions_.find(p);
  if (it != partitions_.end() && offset > it->second.committed) it->second.committed = offset;
}

int64_t OffsetTracker::NextFetch(PartitionKey p) const {
  auto it = partitions_.find(p);
  return it == partitions_.end() ? -1 : it->second.next_fetch;
}

int OffsetTracker::HandedOut(PartitionKey p) const {
  auto it = partitions_.find(p);
  return it == partitions_.end() ? 0 : it->second.handed_out;
}

size_t OffsetTracker::Outstanding(PartitionKey p) const {
  auto it = partitions_.find(p);
  return it == partitions_.end() ? 0 : it->second.outstanding.size();
}

std::vector<PartitionKey> OffsetTracker::Assigned() const {
  std::vector<PartitionKey> out;
  for (const auto& [p, s] : partitions_) out.push_back(p);
  return out;
}

}  // namespace mqlab::queue::kafka
