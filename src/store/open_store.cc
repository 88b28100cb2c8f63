#include "store/open_store.h"

#include <fmt/format.h>

#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"

namespace mqlab::store {

Result<std::unique_ptr<JobStore>> OpenStore(std::string_view url, const OpenStoreOptions& options) {
  if (url.starts_with("sqlite:")) {
    auto s = SqliteStore::Open(
        {.path = std::string(url.substr(7)), .exclusive = options.sqlite_exclusive});
    if (!s) return std::unexpected(s.error());
    return std::unique_ptr<JobStore>(std::move(*s));
  }
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
    auto s = PgStore::Open(
        {.url = std::string(url), .schema = options.schema, .pool_size = options.pool_size});
    if (!s) return std::unexpected(s.error());
    return std::unique_ptr<JobStore>(std::move(*s));
  }
  return InvalidArgument(
      fmt::format("unknown store '{}': want sqlite:PATH or postgres://…", url.substr(0, 32)));
}

}  // namespace mqlab::store
