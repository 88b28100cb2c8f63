// Default implementations of JobStore (see include/mqlab/store/job_store.h).
#include "mqlab/store/job_store.h"

namespace mqlab::store {

std::vector<Status> JobStore::FinishMany(std::span<const FinishParams> params) {
  std::vector<Status> results;
  results.reserve(params.size());
  for (const FinishParams& p : params) results.push_back(Finish(p));
  return results;
}

}  // namespace mqlab::store
