// A fresh, empty PostgreSQL database per test fixture, created on the cluster named by
// DATABASE_URL (scripts/test.sh starts a private one) and dropped afterwards.
#pragma once

#include <string>

namespace outcall::testing {

class TestDatabase {
 public:
  // Fails the test (not skips) when DATABASE_URL is not set: integration tests need the real
  // database that scripts/test.sh provides.
  TestDatabase();
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }
  bool ok() const { return !url_.empty(); }

  // Which contact-policy profile a migrated database has in force. Tests run at any hour, so by
  // default the test profile (support/profiles/test_any_hour.json: hours and holidays relaxed
  // with a recorded reason); contact-policy tests ask for the built-in default and set a clock.
  enum class ContactProfile { kTestAnyHour, kBuiltIn };
  // Applies db/migrations; fails the test on error.
  void Migrate(ContactProfile profile = ContactProfile::kTestAnyHour) const;

  // The admin URL with the database replaced by `db`.
  static std::string UrlFor(const std::string& admin_url, const std::string& db);

 private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

std::string ReadFile(const std::string& path);

// Puts support/profiles/test_any_hour.json in force in the database at `url`.
void UseTestContactProfile(const std::string& url);

}  // namespace outcall::testing
