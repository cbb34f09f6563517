#include "outcall/common/pg_pool.h"

#include <poll.h>

#include "outcall/common/strings.h"

namespace outcall::common {
bool IdleConnectionLooksAlive(pqxx::connection& conn) {
  if (!conn.is_open()) return false;
  const int fd = conn.sock();
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

PgPool::PgPool(PgPoolOptions options) : options_(std::move(options)) {
  if (options_.size < 1) options_.size = 1;
}

PgPool::~PgPool() = default;

PgPool::Lease::Lease(Lease&& other) noexcept
    : pool_(other.pool_), conn_(std::move(other.conn_)), discard_(other.discard_) {
  other.pool_ = nullptr;
}

PgPool::Lease::~Lease() {
  if (pool_ != nullptr && conn_) pool_->Release(std::move(conn_), discard_);
}

absl::StatusOr<std::unique_ptr<pqxx::connection>> PgPool::Connect() {
  try {
    auto conn = std::make_unique<pqxx::connection>(options_.url);
    pqxx::nontransaction tx(*conn);
    tx.exec(Cat("SET application_name = ", tx.quote(options_.application_name),
                         "; SET statement_timeout = ", options_.statement_timeout_ms,
                         "; SET TIME ZONE 'UTC'"));
    return conn;
  } catch (const std::exception& e) {
    // libpq's own message can echo connection parameters; keep it out of the status.
    return absl::UnavailableError("cannot connect to the database");
  }
}

absl::StatusOr<PgPool::Lease> PgPool::Acquire() {
  const absl::Time deadline = absl::Now() + options_.acquire_timeout;
  mu_.Lock();
  while (true) {
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      mu_.Unlock();
      if (IdleConnectionLooksAlive(*conn)) return Lease(this, std::move(conn));
      // Closed underneath us (a database restart, a terminated backend): replaced below, and
      // the caller's work goes to the new connection.
      mu_.Lock();
      --open_;
      continue;
    }
    if (open_ < options_.size) {
      ++open_;
      mu_.Unlock();
      auto conn = Connect();
      if (!conn.ok()) {
        absl::MutexLock l(&mu_);
        --open_;
        return conn.status();
      }
      return Lease(this, *std::move(conn));
    }
    auto has_room = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < options_.size;
    };
    if (!mu_.AwaitWithDeadline(absl::Condition(&has_room), deadline)) {
      mu_.Unlock();
      return absl::DeadlineExceededError("no database connection free in time");
    }
  }
}

void PgPool::Release(std::unique_ptr<pqxx::connection> conn, bool discard) {
  absl::MutexLock l(&mu_);
  if (discard || !conn->is_open()) {
    --open_;
    return;
  }
  idle_.push_back(std::move(conn));
}

}  // namespace outcall::common
