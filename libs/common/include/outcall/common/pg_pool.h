// A bounded PostgreSQL connection pool (libpqxx). One connection serves one thread at a time.
// An idle connection the server has ended (a restart, a terminated backend) is found before it
// is leased and replaced, so the work goes to a fresh one; a connection that breaks after a
// statement was sent is discarded and its error returned (the statement may have run). Blocking:
// call it from a worker pool, never from a gRPC reactor or an Asio event loop.
#pragma once

#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "outcall/common/status.h"

namespace outcall::common {

// For a connection between statements: false when the server has ended it (a restart sends
// "terminating connection" and closes; a crash closes), found without sending anything, so
// replacing it and going on is always safe. Idle connections have nothing to read: they never
// LISTEN, and each statement's answer is consumed before the next.
bool IdleConnectionLooksAlive(pqxx::connection& conn);

// A named statement. Exec prepares it on a connection the first time that connection runs it
// (libpqxx sends the PREPARE with that first execution), then executes it by name: parsed and
// planned once per connection instead of once per call. Names are unique per connection; one
// name with two texts is an error libpqxx reports on the second.
struct PgStatement {
  const char* name;
  const char* sql;
};

template <typename... Args>
pqxx::result Exec(pqxx::transaction_base& tx, const PgStatement& s, Args&&... args) {
  tx.conn().prepare(s.name, s.sql);  // bookkeeping only; the same text again is a no-op
  return tx.exec_prepared(s.name, std::forward<Args>(args)...);
}

// Exactly one row (pqxx::unexpected_rows otherwise).
template <typename... Args>
pqxx::row Exec1(pqxx::transaction_base& tx, const PgStatement& s, Args&&... args) {
  tx.conn().prepare(s.name, s.sql);
  return tx.exec_prepared1(s.name, std::forward<Args>(args)...);
}

struct PgPoolOptions {
  std::string url;  // libpq URL or key=value string (may hold a password: never logged)
  int size = 8;
  absl::Duration acquire_timeout = absl::Seconds(5);
  std::string application_name = "outcall";
  int statement_timeout_ms = 15000;
};

class PgPool {
 public:
  explicit PgPool(PgPoolOptions options);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  // A leased connection, returned to the pool when destroyed.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&&) = delete;
    ~Lease();
    pqxx::connection& operator*() { return *conn_; }
    pqxx::connection* operator->() { return conn_.get(); }
    // The connection is closed instead of being reused (after a broken-connection error).
    void Discard() { discard_ = true; }

   private:
    friend class PgPool;
    Lease(PgPool* pool, std::unique_ptr<pqxx::connection> conn)
        : pool_(pool), conn_(std::move(conn)) {}
    PgPool* pool_;
    std::unique_ptr<pqxx::connection> conn_;
    bool discard_ = false;
  };

  // UNAVAILABLE when the database cannot be reached, DEADLINE_EXCEEDED when every connection
  // stays busy for longer than acquire_timeout.
  absl::StatusOr<Lease> Acquire();

  // Runs fn(pqxx::work&) in a transaction and commits. fn returns absl::Status or
  // absl::StatusOr<T>; a non-OK result rolls back. libpqxx exceptions become statuses.
  template <typename Fn>
  auto InTransaction(Fn&& fn) -> std::invoke_result_t<Fn, pqxx::work&>;

  // Runs fn(pqxx::transaction_base&) in autocommit mode: each statement commits by itself, with
  // no BEGIN/COMMIT round trips. For lookups and for writes that are one statement; writes that
  // must commit together go through InTransaction.
  template <typename Fn>
  auto InAutocommit(Fn&& fn) -> std::invoke_result_t<Fn, pqxx::transaction_base&>;

  int size() const { return options_.size; }

 private:
  // Leases a connection and runs fn(pqxx::connection&): libpqxx exceptions become statuses, and
  // a connection that broke (or left a commit in doubt) is not reused.
  template <typename Result, typename Fn>
  Result WithConnection(Fn&& fn);
  void Release(std::unique_ptr<pqxx::connection> conn, bool discard);
  absl::StatusOr<std::unique_ptr<pqxx::connection>> Connect();

  PgPoolOptions options_;
  absl::Mutex mu_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // idle + leased
};

template <typename Result, typename Fn>
Result PgPool::WithConnection(Fn&& fn) {
  auto lease = Acquire();
  if (!lease.ok()) return Result(lease.status());
  try {
    return fn(**lease);
  } catch (const pqxx::broken_connection& e) {
    lease->Discard();
    return Result(StatusFromDbException(e));
  } catch (const pqxx::in_doubt_error& e) {
    lease->Discard();
    return Result(StatusFromDbException(e));
  } catch (const std::exception& e) {
    return Result(StatusFromDbException(e));
  }
}

template <typename Fn>
auto PgPool::InTransaction(Fn&& fn) -> std::invoke_result_t<Fn, pqxx::work&> {
  using Result = std::invoke_result_t<Fn, pqxx::work&>;
  return WithConnection<Result>([&](pqxx::connection& conn) -> Result {
    pqxx::work tx(conn);
    Result result = fn(tx);
    if (result.ok()) tx.commit();
    return result;
  });
}

template <typename Fn>
auto PgPool::InAutocommit(Fn&& fn) -> std::invoke_result_t<Fn, pqxx::transaction_base&> {
  using Result = std::invoke_result_t<Fn, pqxx::transaction_base&>;
  return WithConnection<Result>([&](pqxx::connection& conn) -> Result {
    pqxx::nontransaction tx(conn);
    return fn(tx);
  });
}

}  // namespace outcall::common
