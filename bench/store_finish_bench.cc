// Finish ×N vs FinishMany(N) on one store: what one commit per batch saves the V3 completer.
//
//   mqlab_store_finish_bench [--postgres-url URL | --sqlite PATH] [--batch 100] [--rounds 7]
//
// Each round creates 2×batch jobs and starts them, then finishes one half with `batch` Finish
// calls in a row (each its own synchronous commit) and the other half with one FinishMany
// (alternating which goes first), from one thread. Prints one JSON object: the medians of the
// rounds' wall times, the ratio, and the machine. PostgreSQL runs in a schema of its own, dropped
// at the end; the URL defaults to $MQLAB_POSTGRES_URL (`mqlab services up postgres`). Not run by
// bench/run: a measurement for the store's batched completion (docs/architecture.md).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "bench/bench_util.h"
#include "mqlab/domain/job.h"
#include "mqlab/store/job_store.h"
#include "store/postgres/pg_store.h"
#include "store/sqlite/sqlite_store.h"

namespace {

using namespace mqlab;
using Micros = std::chrono::duration<double, std::micro>;

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "mqlab_store_finish_bench: %s\nusage: mqlab_store_finish_bench "
               "[--postgres-url URL | --sqlite PATH] [--batch N] [--rounds N]\n",
               why.c_str());
  std::exit(2);
}

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "mqlab_store_finish_bench: %s\n", what.c_str());
  std::exit(1);
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 == 1 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// `n` started jobs (attempt 1).
std::vector<std::string> StartedJobs(store::JobStore& s, int n) {
  std::vector<std::string> ids;
  const WallTime now = std::chrono::system_clock::now();
  for (int i = 0; i < n; ++i) {
    Job job;
    job.id = NewJobId();
    job.version = "v3";
    job.input_path = "images/a.png";
    job.created_at = job.updated_at = now;
    if (auto c = s.Create(job); !c) Die(c.error().ToString());
    if (auto st = s.StartAttempt({.id = job.id, .worker_id = "bench", .now = now}); !st) {
      Die(st.error().ToString());
    }
    ids.push_back(job.id);
  }
  return ids;
}

std::vector<store::FinishParams> Params(const std::vector<std::string>& ids, size_t from,
                                        size_t n) {
  std::vector<store::FinishParams> params;
  const WallTime now = std::chrono::system_clock::now();
  for (size_t i = from; i < from + n; ++i) {
    params.push_back({.id = ids[i], .attempt = 1, .outcome = JobStatus::kSuccess,
                      .output_path = "outputs/x.json", .now = now});
  }
  return params;
}

}  // namespace

int main(int argc, char** argv) {
  std::string pg_url, sqlite_path;
  int batch = 100, rounds = 7;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--postgres-url") {
      pg_url = value();
    } else if (a == "--sqlite") {
      sqlite_path = value();
    } else if (a == "--batch") {
      batch = std::atoi(value().c_str());
    } else if (a == "--rounds") {
      rounds = std::atoi(value().c_str());
    } else {
      Usage("unknown argument " + a);
    }
  }
  if (batch < 1 || rounds < 1) Usage("--batch and --rounds must be positive");
  if (!pg_url.empty() && !sqlite_path.empty()) Usage("one of --postgres-url and --sqlite");
  if (pg_url.empty() && sqlite_path.empty()) {
    if (const char* env = std::getenv("MQLAB_POSTGRES_URL")) pg_url = env;
    if (pg_url.empty()) Usage("no store: --postgres-url, $MQLAB_POSTGRES_URL or --sqlite");
  }

  std::unique_ptr<store::JobStore> s;
  const std::string schema = fmt::format("bench_finish_{}", getpid());
  if (!pg_url.empty()) {
    auto opened = store::PgStore::Open({.url = pg_url, .schema = schema});
    if (!opened) Die(opened.error().ToString());
    s = std::move(*opened);
  } else {
    auto opened = store::SqliteStore::Open({.path = sqlite_path});
    if (!opened) Die(opened.error().ToString());
    s = std::move(*opened);
  }

  std::vector<double> one_by_one_us, many_us;
  for (int r = 0; r < rounds; ++r) {
    std::vector<std::string> ids = StartedJobs(*s, 2 * batch);
    auto singles = Params(ids, 0, batch);
    auto many = Params(ids, batch, batch);
    auto run_singles = [&] {
      auto t0 = std::chrono::steady_clock::now();
      for (const auto& p : singles) {
        if (auto f = s->Finish(p); !f) Die(f.error().ToString());
      }
      one_by_one_us.push_back(Micros(std::chrono::steady_clock::now() - t0).count());
    };
    auto run_many = [&] {
      auto t0 = std::chrono::steady_clock::now();
      for (const auto& f : s->FinishMany(many)) {
        if (!f) Die(f.error().ToString());
      }
      many_us.push_back(Micros(std::chrono::steady_clock::now() - t0).count());
    };
    if (r % 2 == 0) {
      run_singles();
      run_many();
    } else {
      run_many();
      run_singles();
    }
  }

  if (!pg_url.empty()) {
    s.reset();
    auto pool = store::PgPool::Create({.url = pg_url, .pool_size = 1});
    if (pool) {
      if (auto lease = (*pool)->Acquire(); lease) {
        std::string drop = "DROP SCHEMA IF EXISTS " + schema + " CASCADE";  // our own name
        (void)(*lease)->Exec(drop.c_str());
      }
    }
  }
  const double singles_med = Median(one_by_one_us), many_med = Median(many_us);
  nlohmann::json out = {
      {"store", pg_url.empty() ? "sqlite" : "postgres"},
      {"batch", batch},
      {"rounds", rounds},
      {"finish_each_median_us", singles_med},
      {"finish_many_median_us", many_med},
      {"finish_each_per_job_us", singles_med / batch},
      {"finish_many_per_job_us", many_med / batch},
      {"speedup", singles_med / many_med},
      {"finish_each_us", one_by_one_us},
      {"finish_many_us", many_us},
      {"machine", bench::MachineInfo()},
  };
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
