// outcall-migrate [--dir DIR]: applies pending migrations to DATABASE_URL (or DATABASE_URL_FILE)
// and prints what it did. Safe to run again and from several processes at once.
#include <cstdio>
#include <cstring>
#include <string>

#include <pqxx/pqxx>

#include "outcall/common/config.h"
#include "outcall/common/migrations.h"

int main(int argc, char** argv) {
  using namespace outcall::common;
  std::string dir = OUTCALL_MIGRATIONS_DIR;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      dir = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--dir MIGRATIONS_DIR]\n", argv[0]);
      return 2;
    }
  }
  EnvReader env;
  const Secret url = env.SecretValue("DATABASE_URL", /*required=*/true);
  if (auto s = env.Finish(); !s.ok()) {
    std::fprintf(stderr, "outcall-migrate: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  auto migrations = LoadMigrations(dir);
  if (!migrations.ok()) {
    std::fprintf(stderr, "outcall-migrate: %s\n", std::string(migrations.status().message()).c_str());
    return 2;
  }
  try {
    pqxx::connection conn(url.Reveal());
    auto report = ApplyMigrations(conn, *migrations);
    if (!report.ok()) {
      std::fprintf(stderr, "outcall-migrate: %s\n", std::string(report.status().message()).c_str());
      return 1;
    }
    for (const auto& name : report->applied) std::printf("applied %s\n", name.c_str());
    for (int v : report->unknown_versions) {
      std::printf("warning: the database has migration %04d, which this build does not know\n", v);
    }
    std::printf("database at version %04d (%zu applied now, %zu known)\n", report->current_version,
                report->applied.size(), migrations->size());
  } catch (const std::exception&) {
    std::fprintf(stderr, "outcall-migrate: cannot connect to the database\n");
    return 1;
  }
  return 0;
}
