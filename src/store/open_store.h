// Opens a job store from its URL, the form the CLI takes (`--store`):
//   sqlite:PATH                          SqliteStore (the embedded default)
//   postgres://… or postgresql://…       PgStore (V3-V6)
#ifndef MQLAB_STORE_OPEN_STORE_H_
#define MQLAB_STORE_OPEN_STORE_H_

#include <memory>
#include <string_view>

#include "mqlab/store/job_store.h"

namespace mqlab::store {

struct OpenStoreOptions {
  int pool_size = 4;  // PostgreSQL connections. Default: 4.
  std::string schema = "public";  // PostgreSQL schema. Default: "public".
  bool sqlite_exclusive = false;  // SQLite: one process owns the file. Default: false.
};

// kInvalidArgument for an unknown scheme; the store's own errors otherwise (a PostgreSQL server
// that is not there is kUnavailable naming the URL, password redacted).
Result<std::unique_ptr<JobStore>> OpenStore(std::string_view url, const OpenStoreOptions& options = {});

}  // namespace mqlab::store

#endif  // MQLAB_STORE_OPEN_STORE_H_
