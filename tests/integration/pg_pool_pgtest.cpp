// The connection pool against a real PostgreSQL.
#include <gtest/gtest.h>

#include "outcall/common/pg_pool.h"
#include "outcall/common/strings.h"
#include "test_database.h"

namespace outcall {
namespace {

using common::Cat;
using common::PgPool;

TEST(PgPool, BoundedLeasesTimeOutWhenAllBusy) {
  testing::TestDatabase db;
  ASSERT_TRUE(db.ok());
  PgPool pool({.url = db.url(), .size = 2, .acquire_timeout = absl::Milliseconds(200)});
  auto a = pool.Acquire();
  auto b = pool.Acquire();
  ASSERT_TRUE(a.ok() && b.ok());
  auto c = pool.Acquire();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kDeadlineExceeded);
  { auto released = std::move(*a); }
  EXPECT_TRUE(pool.Acquire().ok());
}

TEST(PgPool, TransactionsCommitOrRollBackAndMapErrors) {
  testing::TestDatabase db;
  ASSERT_TRUE(db.ok());
  PgPool pool({.url = db.url(), .size = 2});
  ASSERT_TRUE(pool.InTransaction([](pqxx::work& tx) {
                    tx.exec("CREATE TABLE t (id int PRIMARY KEY)");
                    tx.exec("INSERT INTO t VALUES (1)");
                    return absl::OkStatus();
                  }).ok());
  // A non-OK result rolls back.
  auto s = pool.InTransaction([](pqxx::work& tx) {
    tx.exec("INSERT INTO t VALUES (2)");
    return absl::InvalidArgumentError("changed my mind");
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  // A unique violation becomes ALREADY_EXISTS, without the SQL text.
  auto dup = pool.InTransaction([](pqxx::work& tx) {
    tx.exec("INSERT INTO t VALUES (1)");
    return absl::OkStatus();
  });
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(dup.message().find("INSERT"), std::string_view::npos);
  auto count = pool.InTransaction([](pqxx::work& tx) -> absl::StatusOr<int> {
    return tx.exec1("SELECT count(*) FROM t")[0].as<int>();
  });
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1);
}

// What a PostgreSQL restart does to every idle pooled connection: the server ends it while
// nobody uses it. The next lease must not hand it out.
TEST(PgPool, ConnectionEndedWhileIdleIsReplacedBeforeUse) {
  testing::TestDatabase db;
  ASSERT_TRUE(db.ok());
  PgPool pool({.url = db.url(), .size = 2});
  auto pid = [](pqxx::transaction_base& tx) -> absl::StatusOr<int> {
    return tx.exec1("SELECT pg_backend_pid()")[0].as<int>();
  };
  // Two idle connections, both ended by the server.
  std::vector<int> ended;
  {
    auto a = pool.Acquire();
    auto b = pool.Acquire();
    ASSERT_TRUE(a.ok() && b.ok());
    for (auto* lease : {&*a, &*b}) {
      pqxx::nontransaction tx(**lease);
      ended.push_back(*pid(tx));
    }
  }
  {
    pqxx::connection admin(db.url());
    pqxx::nontransaction tx(admin);
    for (int p : ended) tx.exec_params("SELECT pg_terminate_backend($1)", p);
    // Until both backends are gone (terminating is asynchronous).
    for (int i = 0; i < 500; ++i) {
      if (tx.exec_params1("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])",
                          Cat("{", ended[0], ",", ended[1], "}"))[0]
              .as<int>() == 0) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
  // Both the autocommit and the transaction path get a working connection at once.
  auto first = pool.InAutocommit(pid);
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = pool.InTransaction([&](pqxx::work& tx) { return pid(tx); });
  ASSERT_TRUE(second.ok()) << second.status();
  for (int p : ended) {
    EXPECT_NE(*first, p);
    EXPECT_NE(*second, p);
  }
}

// A connection that breaks while a statement runs is not retried behind the caller's back (the
// statement may have run): the error is returned and the connection is replaced afterwards.
TEST(PgPool, ConnectionBrokenDuringAStatementIsReportedThenReplaced) {
  testing::TestDatabase db;
  ASSERT_TRUE(db.ok());
  PgPool pool({.url = db.url(), .size = 1});
  auto broken = pool.InTransaction([](pqxx::work& tx) -> absl::StatusOr<int> {
    return tx.exec1("SELECT pg_terminate_backend(pg_backend_pid())::int")[0].as<int>();
  });
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kUnavailable);
  auto again = pool.InTransaction(
      [](pqxx::work& tx) -> absl::StatusOr<int> { return tx.exec1("SELECT 1")[0].as<int>(); });
  ASSERT_TRUE(again.ok()) << again.status();
}

TEST(PgPool, UnreachableDatabaseIsUnavailableWithoutLeakingTheUrl) {
  PgPool pool({.url = "postgresql://someone:canary-password-123@127.0.0.1:1/none?connect_timeout=2",
               .size = 1});
  auto lease = pool.Acquire();
  ASSERT_FALSE(lease.ok());
  EXPECT_EQ(lease.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(lease.status().message().find("canary-password-123"), std::string_view::npos);
}

}  // namespace
}  // namespace outcall
