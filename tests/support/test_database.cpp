#include "test_database.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include <pqxx/pqxx>

#include "outcall/common/crypto.h"
#include "outcall/common/files.h"
#include "outcall/common/migrations.h"

namespace outcall::testing {

std::string TestDatabase::UrlFor(const std::string& admin_url, const std::string& db) {
  // postgresql://user@host:port/dbname?params -> same with another dbname.
  const size_t scheme = admin_url.find("://");
  const size_t slash = admin_url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return admin_url + "/" + db;
  const size_t query = admin_url.find('?', slash);
  return admin_url.substr(0, slash + 1) + db +
         (query == std::string::npos ? "" : admin_url.substr(query));
}

TestDatabase::TestDatabase() {
  const char* url = std::getenv("DATABASE_URL");
  if (url == nullptr || *url == '\0') {
    ADD_FAILURE() << "DATABASE_URL is not set: run the integration tests through scripts/test.sh, "
                     "which starts a private PostgreSQL";
    return;
  }
  admin_url_ = url;
  name_ = "outcall_test_" + common::RandomHex(6);
  try {
    pqxx::connection c(admin_url_);
    pqxx::nontransaction tx(c);
    tx.exec("CREATE DATABASE " + name_ + " TEMPLATE template0 ENCODING 'UTF8'");
    url_ = UrlFor(admin_url_, name_);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "cannot create test database: " << e.what();
  }
}

TestDatabase::~TestDatabase() {
  if (url_.empty()) return;
  try {
    pqxx::connection c(admin_url_);
    pqxx::nontransaction tx(c);
    tx.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception&) {
    // A leftover test database is harmless: the cluster is private and disposable.
  }
}

void TestDatabase::Migrate(ContactProfile profile) const {
  auto migrations = common::LoadMigrations(OUTCALL_MIGRATIONS_DIR);
  ASSERT_TRUE(migrations.ok()) << migrations.status();
  pqxx::connection c(url_);
  auto report = common::ApplyMigrations(c, *migrations);
  ASSERT_TRUE(report.ok()) << report.status();
  if (profile == ContactProfile::kTestAnyHour) UseTestContactProfile(url_);
}

void UseTestContactProfile(const std::string& url) {
  const std::string doc = ReadFile(OUTCALL_TEST_PROFILES_DIR "/test_any_hour.json");
  ASSERT_FALSE(doc.empty());
  pqxx::connection c(url);
  pqxx::work tx(c);
  tx.exec_params(
      "INSERT INTO contact_policy_profiles (profile_id, version, document, created_by) "
      "VALUES ('test_any_hour', 1, $1, 'outcall tests') ON CONFLICT DO NOTHING",
      doc);
  tx.exec(
      "INSERT INTO contact_policy_settings (profile_id, version, updated_by) "
      "VALUES ('test_any_hour', 1, 'outcall tests') ON CONFLICT (singleton) DO UPDATE SET "
      "profile_id = EXCLUDED.profile_id, version = EXCLUDED.version");
  tx.commit();
}

std::string ReadFile(const std::string& path) {
  auto contents = common::ReadWholeFile(path);
  EXPECT_TRUE(contents.has_value()) << "cannot read " << path;
  return contents.value_or("");
}

}  // namespace outcall::testing
