// OffsetTracker: which offsets of each assigned partition are settled, and so how far the consumer
// group's committed offset may advance. The crux of at-least-once on Kafka with many workers.
//
// Kafka keeps one position per (group, partition): "everything below offset N is done". Our
// deliveries are settled out of order by many worker threads (offset 7 may be acked while 5 is
// still running), so the committable position is the low-water mark of what is not settled yet:
// the smallest offset still outstanding (fetched and not settled: buffered, held for a delayed
// retry, or handed to a worker), or one past the highest fetched offset when nothing is. Settling
// 7 before 5 therefore commits nothing past 5; settling 5 then jumps the commit over 6 and 7 at
// once (if 6 is settled). A crash redelivers at most what lies above the committed mark: the
// unsettled offsets and the settled ones interleaved with them (duplicates, never losses).
//
// Rebalances: every assignment of a partition gets a fresh generation. Revoke forgets the
// partition, so a delivery settled after its partition was revoked (generation unknown) changes
// nothing and commits nothing: the new owner re-reads it from the committed mark (at least once).
// While a revocation is in progress (BeginRevoke) the partition hands out nothing more but still
// accepts settlements, so the revoking consumer can wait briefly for in-flight work and commit it.
//
// Not thread-safe: its owner (ConsumerLoop) guards it with its mutex.
#ifndef MQLAB_QUEUE_KAFKA_OFFSET_TRACKER_H_
#define MQLAB_QUEUE_KAFKA_OFFSET_TRACKER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace mqlab::queue::kafka {

// A partition of one of the queue's consumed topics: topic 0 is the main topic, 1 the retry topic.
struct PartitionKey {
  int topic = 0;
  int32_t partition = 0;
  auto operator<=>(const PartitionKey&) const = default;
};

class OffsetTracker {
 public:
  // `p` was assigned to this consumer: starts afresh and returns its new generation.
  uint64_t Assign(PartitionKey p);
  // Stop handing out `p`'s messages; settlements are still counted until Revoke.
  void BeginRevoke(PartitionKey p);
  // Forgets `p`. Returns the offset to commit for it, if it is ahead of the last commit.
  std::optional<int64_t> Revoke(PartitionKey p);

  // The generation of `p` if it is assigned and not being revoked.
  std::optional<uint64_t> Active(PartitionKey p) const;
  // Records a fetched offset as outstanding. False (and nothing recorded) if the generation is
  // stale or the offset was fetched before in this generation (a re-fetch after a seek).
  bool Fetched(PartitionKey p, uint64_t generation, int64_t offset);
  // A fetched message goes to a worker. False if `p` is no longer active in that generation.
  bool HandOut(PartitionKey p, uint64_t generation);
  // A handed-out message was settled (acked, retried or dead-lettered). False if the generation
  // is stale: the partition was revoked, and the settlement must not (and will not) commit.
  bool Settle(PartitionKey p, uint64_t generation, int64_t offset);
  // A handed-out message came back unsettled. True if it may be handed out again locally.
  bool Release(PartitionKey p, uint64_t generation);

  // Every offset below the result is settled; nullopt when nothing was fetched in this
  // generation (the committed offset stands as it is).
  std::optional<int64_t> CommitPosition(PartitionKey p) const;
  // Partitions whose commit position is ahead of their last confirmed commit, with it.
  std::vector<std::pair<PartitionKey, int64_t>> PendingCommits() const;
  // The broker confirmed a commit of `offset` for `p` (ignored if `p` is not assigned).
  void MarkCommitted(PartitionKey p, int64_t offset);

  // One past the highest offset fetched in this generation, or -1.
  int64_t NextFetch(PartitionKey p) const;
  // Messages of `p` handed out and not yet settled or released.
  int HandedOut(PartitionKey p) const;
  size_t Outstanding(PartitionKey p) const;
  std::vector<PartitionKey> Assigned() const;

 private:
  struct State {
    uint64_t generation = 0;
    bool revoking = false;
    std::set<int64_t> outstanding;
    int64_t next_fetch = -1;
    int64_t committed = -1;
    int handed_out = 0;
  };
  // The state of `p` if it is assigned in `generation`, else nullptr.
  State* Find(PartitionKey p, uint64_t generation);

  std::map<PartitionKey, State> partitions_;
  uint64_t next_generation_ = 1;
};

}  // namespace mqlab::queue::kafka

#endif  // MQLAB_QUEUE_KAFKA_OFFSET_TRACKER_H_
