// The schema's constraints, against a real PostgreSQL: every statement in
// tests/sql/constraint_cases.sql must fail with its SQLSTATE, every one in valid_cases.sql
// must succeed, each in its own savepoint after tests/sql/fixtures.sql.
#include <gtest/gtest.h>

#include <sstream>

#include <pqxx/pqxx>

#include "test_database.h"

namespace outcall {
namespace {

struct Case {
  std::string expect;  // SQLSTATE or "ok"
  std::string what;
  std::string sql;
  int line = 0;
};

std::vector<Case> ParseCases(const std::string& path) {
  std::istringstream in(testing::ReadFile(path));
  std::vector<Case> out;
  std::string line;
  int n = 0;
  const std::string marker = "-- expect: ";
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind(marker, 0) != 0) continue;
    Case c;
    const std::string rest = line.substr(marker.size());
    const size_t sp = rest.find(' ');
    c.expect = rest.substr(0, sp);
    c.what = sp == std::string::npos ? "" : rest.substr(sp + 1);
    c.line = n;
    std::getline(in, c.sql);
    ++n;
    out.push_back(c);
  }
  return out;
}

class ConstraintsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    db_.Migrate();
  }
  testing::TestDatabase db_;
};

TEST_F(ConstraintsTest, BadRowsAreRefusedWithTheExpectedSqlstate) {
  const auto cases = ParseCases(std::string(OUTCALL_SQL_TEST_DIR) + "/constraint_cases.sql");
  ASSERT_GT(cases.size(), 50u);
  pqxx::connection c(db_.url());
  pqxx::work tx(c);
  tx.exec(testing::ReadFile(std::string(OUTCALL_SQL_TEST_DIR) + "/fixtures.sql"));
  for (const auto& k : cases) {
    SCOPED_TRACE("constraint_cases.sql:" + std::to_string(k.line) + " " + k.what);
    ASSERT_NE(k.expect, "ok");
    std::string got = "ok";
    {
      // A savepoint per case; it is rolled back whatever happens, so cases stay independent.
      pqxx::subtransaction sp(tx, "case");
      try {
        sp.exec(k.sql);
        sp.abort();
      } catch (const pqxx::sql_error& e) {
        got = e.sqlstate();
      }
    }
    EXPECT_EQ(got, k.expect) << k.sql;
  }
}

TEST_F(ConstraintsTest, SaneRowsAndForwardTransitionsAreAccepted) {
  const auto cases = ParseCases(std::string(OUTCALL_SQL_TEST_DIR) + "/valid_cases.sql");
  ASSERT_GE(cases.size(), 5u);
  pqxx::connection c(db_.url());
  pqxx::work tx(c);
  tx.exec(testing::ReadFile(std::string(OUTCALL_SQL_TEST_DIR) + "/fixtures.sql"));
  for (const auto& k : cases) {
    SCOPED_TRACE("valid_cases.sql:" + std::to_string(k.line) + " " + k.what);
    std::string got = "ok";
    {
      pqxx::subtransaction sp(tx, "case");
      try {
        sp.exec(k.sql);
        sp.abort();
      } catch (const pqxx::sql_error& e) {
        got = e.sqlstate() + " " + e.what();
      }
    }
    EXPECT_EQ(got, "ok") << k.sql;
  }
}

}  // namespace
}  // namespace outcall
