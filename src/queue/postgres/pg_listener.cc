#include "queue/postgres/pg_listener.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <memory>

namespace mqlab::queue::pgq {

struct PgListener::Conn {
  struct Closer {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  std::unique_ptr<PGconn, Closer> pg;
};

namespace {

constexpr int kFirstBackoffMs = 100;
constexpr int kMaxBackoffMs = 5000;

}  // namespace

PgListener::PgListener(PgListenerOptions options, std::function<void()> on_wake)
    : options_(std::move(options)), on_wake_(std::move(on_wake)) {
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

PgListener::~PgListener() {
  Stop();
  if (stop_fd_ >= 0) close(stop_fd_);
}

void PgListener::Start() {
  if (thread_.joinable() || stop_fd_ < 0) return;
  thread_ = std::thread([this] { Run(); });
}

void PgListener::Stop() {
  stopping_ = true;
  if (stop_fd_ >= 0) {
    uint64_t one = 1;
    (void)!write(stop_fd_, &one, sizeof one);
  }
  if (thread_.joinable()) thread_.join();
}

int PgListener::Wait(int fd, bool for_write, int timeout_ms) {
  const short events = for_write ? POLLOUT : POLLIN;
  pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {fd, events, 0}};
  int n = poll(fds, fd >= 0 ? 2 : 1, timeout_ms);
  if (stopping_.load() || (n > 0 && (fds[0].revents & POLLIN))) return -1;
  if (n > 0 && fds[1].revents != 0) return 1;  // ready, or an error/hang-up libpq will report
  return 0;
}

// Non-blocking connect: PQconnectPoll tells which way to wait; the stop event cuts it short.
bool PgListener::Connect(Conn& conn) {
  const std::string timeout = std::to_string(options_.connect_timeout_seconds);
  // Later keywords override earlier ones: the URL (expanded from dbname) wins over our defaults.
  const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
  const char* values[] = {timeout.c_str(), "mqlab-listen", options_.url.c_str(), nullptr};
  conn.pg.reset(PQconnectStartParams(keys, values, 1));
  if (!conn.pg || PQstatus(conn.pg.get()) == CONNECTION_BAD) return false;
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::seconds(std::max(1, options_.connect_timeout_seconds));
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    int ready = Wait(PQsocket(conn.pg.get()), state == PGRES_POLLING_WRITING,
                     static_cast<int>(left.count()));
    if (ready < 0) return false;
    state = PQconnectPoll(conn.pg.get());
  }
  PQsetNoticeProcessor(conn.pg.get(), [](void*, const char*) {}, nullptr);
  // The channel is an identifier: quoted, never spliced raw.
  const std::string& channel = options_.channel;
  char* quoted = PQescapeIdentifier(conn.pg.get(), channel.data(), channel.size());
  if (quoted == nullptr) return false;
  std::string sql = std::string("LISTEN ") + quoted;
  PQfreemem(quoted);
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn.pg.get(), sql.c_str()), PQclear);
  return PQresultStatus(r.get()) == PGRES_COMMAND_OK;
}

// Reads notifications until the connection breaks or Stop.
void PgListener::Listen(Conn& conn) {
  PGconn* pg = conn.pg.get();
  for (;;) {
    int ready = Wait(PQsocket(pg), false, -1);
    if (ready < 0) return;
    if (PQconsumeInput(pg) == 0 || PQstatus(pg) == CONNECTION_BAD) return;
    bool ours = false;
    while (PGnotify* n = PQnotifies(pg)) {
      ours = ours || options_.payload == n->extra;
      PQfreemem(n);
    }
    if (ours) on_wake_();
  }
}

void PgListener::Backoff(int& delay_ms) {
  (void)Wait(-1, false, delay_ms);
  delay_ms = std::min(delay_ms * 2, kMaxBackoffMs);
}

void PgListener::Run() {
  int delay_ms = kFirstBackoffMs;
  while (!stopping_.load()) {
    Conn conn;
    if (!Connect(conn)) {
      if (stopping_.load()) return;
      Backoff(delay_ms);
      continue;
    }
    delay_ms = kFirstBackoffMs;
    on_wake_();  // anything sent while we were not listening
    Listen(conn);
  }
}

}  // namespace mqlab::queue::pgq
