// Migrations against a real PostgreSQL: from empty, twice, concurrently, and tamper detection.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include <pqxx/pqxx>

#include "outcall/common/crypto.h"
#include "outcall/common/migrations.h"
#include "test_database.h"

namespace outcall {
namespace {

using common::ApplyMigrations;
using common::LoadMigrations;

TEST(Migrations, ApplyFromEmptyThenAgainIsANoOp) {
  testing::TestDatabase db;
  ASSERT_TRUE(db.ok());
  auto migrations = LoadMigrations(OUTCALL_MIGRATIONS_DIR);
  ASSERT_TRUE(migrations.ok()) << migrations.status();
  ASSERT_GE(migrations->size(), 2u);

  pqxx::connection c(db.url());
  auto first = ApplyMigrations(c, *migrations);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->applied.size(), migrations->size());
  EXPECT_EQ(first->current_version, migrations->back().version);

  auto second = ApplyMigrations(c, *migrations);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->applied.empty());
  EXPECT_EQ(second->current_version, migrations->back().version);

  pqxx::work tx(c);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM schema_migrations")[0].as<size_t>(),
            migrations->size());
  // The seed's five tables and view, and the product's own tables, all exist.
  for (const char* rel :
       {"elevenlabs_conversations", "elevenlabs_transcriptions", "elevenlabs_analysis",
        "elevenlabs_audio", "elevenlabs_call_errors", "elevenlabs_recent_calls", "patients",
        "appointments", "webhook_inbox", "idempotency_keys", "call_opt_outs",
        "unmatched_call_events"}) {
    EXPECT_FALSE(tx.exec_params1("SELECT to_regclass($1) IS NULL", rel)[0].as<bool>()) << rel;
  }
  // The seed's monitoring queries run in their PostgreSQL form.
  EXPECT_NO_THROW(tx.exec("SELECT * FROM elevenlabs_recent_calls LIMIT 10"));
  EXPECT_NO_THROW(tx.exec("SELECT * FROM elevenlabs_call_errors ORDER BY created_at DESC LIMIT 20"));
  EXPECT_NO_THROW(tx.exec(
      "SELECT status, COUNT(*) AS count, AVG(duration_secs) AS avg_duration, SUM(cost) AS "
      "total_cost FROM elevenlabs_conversations WHERE created_at >= (date_trunc('day', now() AT "
      "TIME ZONE 'America/Bogota') AT TIME ZONE 'America/Bogota') GROUP BY status"));
}

TEST(Migrations, ConcurrentMigratorsApplyEachFileOnce) {
  testing::TestDatabase db;
  ASSERT_TRUE(db.ok());
  auto migrations = LoadMigrations(OUTCALL_MIGRATIONS_DIR);
  ASSERT_TRUE(migrations.ok());
  size_t applied_total = 0;
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&] {
      pqxx::connection c(db.url());
      auto r = ApplyMigrations(c, *migrations);
      std::lock_guard<std::mutex> l(mu);
      ASSERT_TRUE(r.ok()) << r.status();
      applied_total += r->applied.size();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(applied_total, migrations->size());
}

TEST(Migrations, EditedReleasedMigrationIsRefused) {
  testing::TestDatabase db;
  ASSERT_TRUE(db.ok());
  auto migrations = LoadMigrations(OUTCALL_MIGRATIONS_DIR);
  ASSERT_TRUE(migrations.ok());
  pqxx::connection c(db.url());
  ASSERT_TRUE(ApplyMigrations(c, *migrations).ok());
  auto edited = *migrations;
  edited.front().sql += "\n-- edited\n";
  edited.front().checksum = common::Sha256::Hex(edited.front().sql);
  auto r = ApplyMigrations(c, edited);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find(edited.front().name), std::string_view::npos);
}

TEST(Migrations, FailingMigrationRollsBackAndNamesTheFile) {
  testing::TestDatabase db;
  ASSERT_TRUE(db.ok());
  common::Migration bad{1, "0001_bad.sql", "CREATE TABLE t_ok (id int); SELECT no_such_column FROM t_ok;", "x"};
  pqxx::connection c(db.url());
  auto r = ApplyMigrations(c, {bad});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("0001_bad.sql"), std::string_view::npos);
  pqxx::work tx(c);
  EXPECT_TRUE(tx.exec1("SELECT to_regclass('t_ok') IS NULL")[0].as<bool>());
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM schema_migrations")[0].as<int>(), 0);
}

TEST(Migrations, DirectoryRulesAreEnforced) {
  const auto dir = std::filesystem::temp_directory_path() / ("mig_" + common::RandomHex(4));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "0001_a.sql") << "SELECT 1;";
  std::ofstream(dir / "0001_b.sql") << "SELECT 2;";
  auto dup = LoadMigrations(dir);
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kInvalidArgument);
  std::filesystem::remove(dir / "0001_b.sql");
  std::ofstream(dir / "2_BadName.sql") << "SELECT 2;";
  auto bad = LoadMigrations(dir);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("2_BadName.sql"), std::string_view::npos);
  std::filesystem::remove(dir / "2_BadName.sql");
  auto good = LoadMigrations(dir);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(good->size(), 1u);
  std::filesystem::remove_all(dir);
  EXPECT_EQ(LoadMigrations(dir).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace outcall
