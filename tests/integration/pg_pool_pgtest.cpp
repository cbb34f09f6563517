// The connection pool against a real PostgreSQL.
#include <gtest/gtest.h>

#include "outcall/common/pg_pool.h"
#include "test_database.h"

namespace outcall {
namespace {

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

TEST(PgPool, KilledConnectionIsReplaced) {
  testing::TestDatabase db;
  ASSERT_TRUE(db.ok());
  PgPool pool({.url = db.url(), .size = 1});
  auto pid = pool.InTransaction(
      [](pqxx::work& tx) -> absl::StatusOr<int> { return tx.exec1("SELECT pg_backend_pid()")[0].as<int>(); });
  ASSERT_TRUE(pid.ok());
  {
    pqxx::connection admin(db.url());
    pqxx::nontransaction tx(admin);
    tx.exec_params("SELECT pg_terminate_backend($1)", *pid);
  }
  auto broken = pool.InTransaction(
      [](pqxx::work& tx) -> absl::StatusOr<int> { return tx.exec1("SELECT 1")[0].as<int>(); });
  EXPECT_EQ(broken.status().code(), absl::StatusCode::kUnavailable);
  auto again = pool.InTransaction(
      [](pqxx::work& tx) -> absl::StatusOr<int> { return tx.exec1("SELECT pg_backend_pid()")[0].as<int>(); });
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_NE(*again, *pid);
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
