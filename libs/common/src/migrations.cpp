#include "outcall/common/migrations.h"

#include <algorithm>
#include <map>
#include <regex>

#include <pqxx/pqxx>

#include "outcall/common/strings.h"
#include "outcall/common/crypto.h"
#include "outcall/common/files.h"
#include "outcall/common/status.h"

namespace outcall::common {
namespace {

// An arbitrary constant shared by every migrator of this project.
constexpr int64_t kAdvisoryLockKey = 0x6f757463616c6c;  // "outcall"

}  // namespace

absl::StatusOr<std::vector<Migration>> LoadMigrations(const std::filesystem::path& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::NotFoundError(Cat("migrations directory not found: ", dir.string()));
  }
  static const std::regex kName(R"(^([0-9]{4})_([a-z0-9_]+)\.sql$)");
  std::vector<Migration> out;
  std::map<int, std::string> seen;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".sql") continue;
    std::smatch m;
    if (!std::regex_match(name, m, kName)) {
      return absl::InvalidArgumentError(
          Cat("migration file name must look like 0001_description.sql: ", name));
    }
    const int version = std::stoi(m[1].str());
    if (version == 0) return absl::InvalidArgumentError("migration version 0000 is reserved");
    if (auto it = seen.find(version); it != seen.end()) {
      return absl::InvalidArgumentError(
          Cat("two migrations share version ", version, ": ", it->second, ", ", name));
    }
    seen[version] = name;
    auto sql = ReadWholeFile(entry.path().string());
    if (!sql) return absl::UnavailableError(Cat("cannot read migration ", name));
    Migration mig;
    mig.version = version;
    mig.name = name;
    mig.sql = *std::move(sql);
    mig.checksum = Sha256::Hex(mig.sql);
    out.push_back(std::move(mig));
  }
  std::sort(out.begin(), out.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  return out;
}

absl::StatusOr<MigrationReport> ApplyMigrations(pqxx::connection_base& conn,
                                                const std::vector<Migration>& migrations) {
  MigrationReport report;
  try {
    {
      pqxx::nontransaction tx(conn);
      tx.exec("SELECT pg_advisory_lock(" + std::to_string(kAdvisoryLockKey) + ")");
    }
    struct Unlock {
      pqxx::connection_base& c;
      ~Unlock() {
        try {
          pqxx::nontransaction tx(c);
          tx.exec("SELECT pg_advisory_unlock(" + std::to_string(kAdvisoryLockKey) + ")");
        } catch (...) {
          // The session ends soon anyway, which releases the lock.
        }
      }
    } unlock{conn};

    std::map<int, std::string> applied;  // version -> checksum
    {
      pqxx::work tx(conn);
      tx.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          " version integer PRIMARY KEY,"
          " name text NOT NULL,"
          " checksum text NOT NULL,"
          " applied_at timestamptz NOT NULL DEFAULT now())");
      for (const auto& row : tx.exec("SELECT version, checksum FROM schema_migrations")) {
        applied[row[0].as<int>()] = row[1].as<std::string>();
      }
      tx.commit();
    }
    for (const auto& [version, checksum] : applied) {
      auto it = std::find_if(migrations.begin(), migrations.end(),
                             [v = version](const Migration& m) { return m.version == v; });
      if (it == migrations.end()) {
        report.unknown_versions.push_back(version);
      } else if (it->checksum != checksum) {
        return absl::FailedPreconditionError(Cat(
            "migration ", it->name, " was changed after it was applied; add a new migration "
            "instead of editing a released one"));
      }
    }
    for (const auto& m : migrations) {
      if (applied.count(m.version) > 0) continue;
      try {
        pqxx::work tx(conn);
        tx.exec(m.sql);
        tx.exec_params("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                       m.version, m.name, m.checksum);
        tx.commit();
      } catch (const pqxx::sql_error& e) {
        // Operators need the server's reason to fix a failing migration; it holds no secret.
        return absl::FailedPreconditionError(
            Cat("migration ", m.name, " failed: ", e.what()));
      }
      report.applied.push_back(m.name);
    }
    pqxx::nontransaction tx(conn);
    report.current_version =
        tx.exec1("SELECT COALESCE(max(version), 0) FROM schema_migrations")[0].as<int>();
  } catch (const std::exception& e) {
    return StatusFromDbException(e);
  }
  return report;
}

}  // namespace outcall::common
