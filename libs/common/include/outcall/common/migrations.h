// Versioned SQL migrations: db/migrations/NNNN_name.sql applied in order, each in its own
// transaction, recorded with a checksum in schema_migrations. Idempotent and safe to run from
// several processes at once (an advisory lock serialises them).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace pqxx {
class connection_base;
}

namespace outcall::common {

struct Migration {
  int version = 0;
  std::string name;      // file name
  std::string sql;
  std::string checksum;  // SHA-256 hex of the file
};

// Reads and validates the directory: names must match NNNN_snake_case.sql, versions unique.
absl::StatusOr<std::vector<Migration>> LoadMigrations(const std::filesystem::path& dir);

struct MigrationReport {
  std::vector<std::string> applied;        // applied by this run, in order
  int current_version = 0;                 // highest version in the database afterwards
  std::vector<int> unknown_versions;       // in the database but not in the directory
};

// FAILED_PRECONDITION when an applied migration's file changed since it was applied.
absl::StatusOr<MigrationReport> ApplyMigrations(pqxx::connection_base& conn,
                                                const std::vector<Migration>& migrations);

}  // namespace outcall::common
