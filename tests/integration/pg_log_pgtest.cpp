// PostgreSQL's own log holds no patient data: a failed statement is logged as its ERROR line
// only, without "DETAIL: Failing row contains (... phone, name ...)", without its parameters
// and without "STATEMENT: ..." and the literal values in it (log_error_verbosity = terse,
// log_min_error_statement = panic, log_parameter_max_length[_on_error] = 0: scripts/pg.sh and
// docker-compose.yml, docs/configuration.md). Reads the test cluster's log file, which
// scripts/pg.sh keeps beside the data directory (server/postgres.log).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <pqxx/pqxx>
#include <sstream>

#include "outcall/common/pg_pool.h"
#include "test_database.h"

namespace outcall {
namespace {

// The server's log file: $OUTCALL_PG_LOG, else postgres.log next to the data directory.
std::string ServerLogPath(const std::string& url) {
  if (const char* env = std::getenv("OUTCALL_PG_LOG"); env != nullptr && *env != '\0') return env;
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  const std::string data = tx.exec1("SHOW data_directory")[0].as<std::string>();
  return (std::filesystem::path(data).parent_path() / "postgres.log").string();
}

std::string ReadFrom(const std::string& path, std::streamoff offset) {
  std::ifstream in(path, std::ios::binary);
  in.seekg(offset);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class PgLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    db_.Migrate();
    log_ = ServerLogPath(db_.url());
    std::error_code ec;
    if (!std::filesystem::is_regular_file(log_, ec)) {
      // Never skipped: a server whose log cannot be read is a server whose log is unchecked.
      FAIL() << "no server log at " << log_
             << " (an external DATABASE_URL? set OUTCALL_PG_LOG to its log file)";
    }
    start_ = static_cast<std::streamoff>(std::filesystem::file_size(log_));
  }
  testing::TestDatabase db_;
  std::string log_;
  std::streamoff start_ = 0;
};

TEST_F(PgLogTest, AFailedStatementLeavesNoPhoneNumberOrNameInTheServerLog) {
  common::PgPool pool(common::PgPoolOptions{.url = db_.url(), .size = 1});
  // A bad status: the CHECK fails, and PostgreSQL's DETAIL would show the whole row.
  auto with_parameters = pool.InTransaction([&](pqxx::work& tx) -> absl::Status {
    tx.exec_params(
        "INSERT INTO elevenlabs_conversations (agent_id, phone_number, patient_name, status) "
        "VALUES ($1, $2, $3, $4)",
        "agent_log_test", "+573108000003", "Paciente Prueba", "not_a_status");
    return absl::OkStatus();
  });
  EXPECT_EQ(with_parameters.code(), absl::StatusCode::kFailedPrecondition) << with_parameters;
  // The same with literal values in the statement text (what STATEMENT: would show), and a
  // unique violation (whose DETAIL names the key's value).
  auto with_literals = pool.InTransaction([&](pqxx::work& tx) -> absl::Status {
    tx.exec(
        "INSERT INTO elevenlabs_conversations (agent_id, phone_number, patient_name, status) "
        "VALUES ('agent_log_test', '+573108000004', 'Paciente Literal', 'not_a_status')");
    return absl::OkStatus();
  });
  EXPECT_EQ(with_literals.code(), absl::StatusCode::kFailedPrecondition) << with_literals;
  auto duplicate = pool.InTransaction([&](pqxx::work& tx) -> absl::Status {
    tx.exec_params(
        "INSERT INTO patients (id, full_name, phone_e164) VALUES ($1, $2, $3), ($1, $2, $3)", 7,
        "Paciente Duplicado", "+573108000005");
    return absl::OkStatus();
  });
  EXPECT_EQ(duplicate.code(), absl::StatusCode::kAlreadyExists) << duplicate;

  const std::string logged = ReadFrom(log_, start_);
  // The right file, and the errors are still there (as their message alone).
  EXPECT_NE(logged.find("@" + db_.name() + " ERROR:  new row for relation "
                        "\"elevenlabs_conversations\" violates check constraint"),
            std::string::npos)
      << log_ << ":\n"
      << logged;
  EXPECT_NE(logged.find("@" + db_.name() + " ERROR:  duplicate key value violates unique"),
            std::string::npos)
      << logged;
  for (const char* secret : {"3108000003", "3108000004", "3108000005", "Paciente", "Prueba",
                             "Literal", "Duplicado"}) {
    EXPECT_EQ(logged.find(secret), std::string::npos) << secret << " in " << log_ << ":\n"
                                                      << logged;
  }
  EXPECT_EQ(logged.find("DETAIL:"), std::string::npos) << logged;
  EXPECT_EQ(logged.find("STATEMENT:"), std::string::npos) << logged;
}

}  // namespace
}  // namespace outcall
