// `outcall` (tools/ops/outcall_main.cpp), the CLI for people, as a real subprocess against the
// real call-gateway and stats binaries and the ElevenLabs simulator (tools/elevenlabs-sim) as
// processes, on a fresh PostgreSQL test database: its tables, its --json output and its exit
// codes. No webhook-ingest: calls are settled by call-gateway's reconciler, which fetches each
// call from the simulator once it is past its maximum duration (10 s here), so a call ends about
// 11 s after it is placed. Every wait is for a condition, bounded.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <pqxx/pqxx>
#include <thread>

#include "absl/strings/str_split.h"
#include "http_test_server.h"
#include "outcall/common/crypto.h"
#include "outcall/common/http_client.h"
#include "outcall/common/strings.h"
#include "test_database.h"

namespace outcall {
namespace {

namespace json = boost::json;
using common::Cat;
using Clock = std::chrono::steady_clock;

pid_t Spawn(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
            const std::string& out_path, const std::string& err_path) {
  std::vector<std::string> kv;
  for (const auto& [k, v] : env) kv.push_back(k + "=" + v);
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = err_path == out_path ? out
                                         : open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, 1);
    dup2(err, 2);
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    std::vector<char*> args, envp;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (auto& s : kv) envp.push_back(s.data());
    envp.push_back(nullptr);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  return pid;
}

// The exit status; -1 when killed by a signal, -2 (and killed) when still running at `secs`.
int WaitFor(pid_t pid, int secs) {
  const auto limit = Clock::now() + std::chrono::seconds(secs);
  while (Clock::now() < limit) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -2;
}

void StopService(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  if (WaitFor(pid, 15) == -2) ADD_FAILURE() << "a service did not stop on SIGTERM";
}

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

struct Result {
  int code = -3;
  std::string out, err;
};

class OutcallCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    db_ = new testing::TestDatabase();
    ASSERT_TRUE(db_->ok());
    db_->Migrate();
    dir_ = Cat(::testing::TempDir(), "/outcall-cli-", common::RandomHex(4));
    std::filesystem::create_directories(dir_);
    secret_ = common::RandomHex(32);
    const int sim_port = testing::FreeLoopbackPort();
    gateway_port_ = testing::FreeLoopbackPort();
    stats_port_ = testing::FreeLoopbackPort();
    const std::string sim_url = Cat("http://127.0.0.1:", sim_port);
    const std::string api_key = "sk_cli_" + common::RandomHex(12);
    std::map<std::string, std::string> base = {
        {"DATABASE_URL", db_->url()},
        {"METRICS_LISTEN_ADDRESS", "off"},
        {"JWT_ISSUER", "outcall-test"},
        {"JWT_AUDIENCE", "outcall"},
        {"JWT_HS256_SECRET", secret_},
        {"ELEVENLABS_API_KEY", api_key},
        {"ELEVENLABS_BASE_URL", sim_url},
        {"ELEVENLABS_AGENT_ID", "agent_sim_confirmaciones"},
        {"ELEVENLABS_AGENT_PHONE_NUMBER_ID", "phnum_sim_twilio"},
        {"SHUTDOWN_GRACE_SECS", "2"},
    };
    if (const char* pgpass = std::getenv("PGPASSFILE")) base["PGPASSFILE"] = pgpass;
    std::map<std::string, std::string> bins;
    for (auto part : common::Split(OUTCALL_CLI_TEST_BINARIES, ',')) {
      std::string path(part);
      bins[path.substr(path.rfind('/') + 1)] = path;
    }
    auto sim_env = base;
    sim_env["SIM_LISTEN_ADDRESS"] = Cat("127.0.0.1:", sim_port);
    sim_env["SIM_TIME_SCALE"] = "20";
    sim_env["SIM_MAX_CONCURRENT_CALLS"] = "100";
    sim_pid_ = Spawn({bins.at("elevenlabs-sim")}, sim_env, dir_ + "/sim.log", dir_ + "/sim.log");
    auto gw_env = base;
    gw_env["GRPC_LISTEN_ADDRESS"] = Cat("127.0.0.1:", gateway_port_);
    gw_env["ELEVENLABS_MAX_CALL_DURATION"] = "10";
    gw_env["RECONCILE_INTERVAL_SECS"] = "1";
    gw_env["RECONCILE_MAX_BACKOFF_SECS"] = "1";
    gw_env["RECONCILE_OPEN_GRACE_SECS"] = "0";
    gw_env["RECONCILE_DIALING_GRACE_SECS"] = "5";
    gw_env["CAMPAIGN_TICK_MS"] = "200";
    gateway_pid_ = Spawn({bins.at("call-gateway")}, gw_env, dir_ + "/gateway.log",
                         dir_ + "/gateway.log");
    auto stats_env = base;
    stats_env["GRPC_LISTEN_ADDRESS"] = Cat("127.0.0.1:", stats_port_);
    stats_pid_ = Spawn({bins.at("stats")}, stats_env, dir_ + "/stats.log", dir_ + "/stats.log");

    // Up when `outcall` gets an answer that is not UNAVAILABLE (exit 6) from each.
    const auto limit = Clock::now() + std::chrono::seconds(60);
    bool gateway_up = false, stats_up = false;
    while (Clock::now() < limit && !(gateway_up && stats_up)) {
      if (!gateway_up) gateway_up = Run({"campaigns", "list", "--timeout", "2"}).code == 0;
      if (!stats_up) stats_up = Run({"stats", "--timeout", "2"}).code == 0;
      if (!(gateway_up && stats_up)) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_TRUE(gateway_up) << testing::ReadFile(dir_ + "/gateway.log");
    ASSERT_TRUE(stats_up) << testing::ReadFile(dir_ + "/stats.log");
    common::HttpRequest req;
    req.url = sim_url + "/__sim/health";
    auto r = common::HttpClient().Send(req);
    ASSERT_TRUE(r.ok() && r->status == 200) << testing::ReadFile(dir_ + "/sim.log");
  }

  static void TearDownTestSuite() {
    StopService(gateway_pid_);
    StopService(stats_pid_);
    StopService(sim_pid_);
    const std::string log = testing::ReadFile(dir_ + "/gateway.log");
    EXPECT_EQ(log.find(secret_), std::string::npos) << "the JWT secret in call-gateway's log";
    delete db_;
    db_ = nullptr;
  }

  // The environment `outcall` gets: the JWT settings it mints its token from and the services'
  // addresses, nothing else (no PATH, no HOME).
  static std::map<std::string, std::string> CliEnv() {
    return {{"JWT_ISSUER", "outcall-test"},
            {"JWT_AUDIENCE", "outcall"},
            {"JWT_HS256_SECRET", secret_},
            {"CALL_GATEWAY_ADDRESS", Cat("127.0.0.1:", gateway_port_)},
            {"STATS_ADDRESS", Cat("127.0.0.1:", stats_port_)}};
  }

  static Result Run(const std::vector<std::string>& args, int secs = 60,
                    std::optional<std::map<std::string, std::string>> env = std::nullopt) {
    const std::string base = Cat(dir_, "/run-", common::RandomHex(6));
    std::vector<std::string> argv = {OUTCALL_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    const pid_t pid = Spawn(argv, env ? *env : CliEnv(), base + ".out", base + ".err");
    Result r;
    r.code = WaitFor(pid, secs);
    r.out = testing::ReadFile(base + ".out");
    r.err = testing::ReadFile(base + ".err");
    // Never a token or the secret it is minted from.
    EXPECT_EQ(r.out.find(secret_), std::string::npos);
    EXPECT_EQ(r.err.find(secret_), std::string::npos);
    EXPECT_EQ(r.err.find("eyJ"), std::string::npos) << "a JWT on stderr: " << r.err;
    EXPECT_EQ(r.out.find("eyJ"), std::string::npos) << "a JWT on stdout: " << r.out;
    return r;
  }

  // The first column of the table's first data row.
  static std::string FirstCell(const std::string& table) {
    std::vector<std::string> lines = absl::StrSplit(table, '\n', absl::SkipEmpty());
    if (lines.size() < 2) return "";
    return lines[1].substr(0, lines[1].find(' '));
  }
  // The cells (two or more spaces apart) of the first line starting with `prefix`.
  static std::vector<std::string> Cells(const std::string& text, const std::string& prefix) {
    for (const std::string& line : Lines(text)) {
      if (!line.starts_with(prefix)) continue;
      std::vector<std::string> cells;
      std::vector<std::string> parts = absl::StrSplit(line, "  ", absl::SkipEmpty());
      for (auto& c : parts) {
        c.erase(0, c.find_first_not_of(' '));
        if (!c.empty()) cells.push_back(c);
      }
      return cells;
    }
    return {};
  }
  // The value of a "FIELD  VALUE" row of RenderCampaign's table.
  static std::string Field(const std::string& table, const std::string& field) {
    for (const std::string& line : Lines(table)) {
      if (line.starts_with(field + " ")) {
        std::string v = line.substr(field.size());
        v.erase(0, v.find_first_not_of(' '));
        return v;
      }
    }
    return "";
  }
  static std::string Scalar(const std::string& sql) {
    pqxx::connection c(db_->url());
    pqxx::nontransaction tx(c);
    auto r = tx.exec(sql);
    return r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
  }
  static std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = Cat(dir_, "/", name);
    std::ofstream(path) << text;
    return path;
  }

  static testing::TestDatabase* db_;
  static std::string dir_, secret_;
  static int gateway_port_, stats_port_;
  static pid_t sim_pid_, gateway_pid_, stats_pid_;
};

testing::TestDatabase* OutcallCli::db_ = nullptr;
std::string OutcallCli::dir_, OutcallCli::secret_;
int OutcallCli::gateway_port_ = 0, OutcallCli::stats_port_ = 0;
pid_t OutcallCli::sim_pid_ = -1, OutcallCli::gateway_pid_ = -1, OutcallCli::stats_pid_ = -1;

// Places two calls (a table and --json), follows them to their ends (exit 0 completed, 10
// failed) beside a watch of every call stopped with Ctrl-C, lists them and counts them.
TEST_F(OutcallCli, PlacesListsWatchesAndCountsCalls) {
  // Every call's changes, as JSON lines, from before the first call.
  const std::string all_out = dir_ + "/watch-all.out";
  std::vector<std::string> argv = {OUTCALL_BINARY, "watch", "--json"};
  const pid_t all = Spawn(argv, CliEnv(), all_out, dir_ + "/watch-all.err");

  Result placed = Run({"call", "+57 300 555 0001", "--name", "José Núñez", "--var",
                       "clinic_name=Clínica Norte", "--idempotency-key", "cli-test-1"});
  ASSERT_EQ(placed.code, 0) << placed.out << placed.err;
  const std::string conv_ok = FirstCell(placed.out);
  ASSERT_FALSE(conv_ok.empty()) << placed.out;
  EXPECT_EQ(Cells(placed.out, "CONVERSATION"),
            (std::vector<std::string>{"CONVERSATION", "CALL", "STATUS"}))
      << placed.out;
  const std::vector<std::string> row = Cells(placed.out, conv_ok);
  ASSERT_EQ(row.size(), 3u) << placed.out;
  EXPECT_TRUE(row[2] == "initiated" || row[2] == "dialing") << placed.out;

  // The failed scenario, as JSON: the InitiateCallResponse.
  Result failed_json = Run({"--json", "call", "+57 310 555 0007"});
  ASSERT_EQ(failed_json.code, 0) << failed_json.out << failed_json.err;
  const json::object resp = json::parse(failed_json.out).as_object();
  EXPECT_TRUE(resp.at("success").as_bool());
  const std::string conv_failed(resp.at("data").at("conversationId").as_string());
  ASSERT_FALSE(conv_failed.empty());
  EXPECT_TRUE(resp.at("data").as_object().contains("callId"));
  EXPECT_TRUE(resp.contains("message"));  // primitives always printed

  // Both followed to their ends at once; the exit code says how each ended.
  auto watch_ok = std::async(std::launch::async, [&] { return Run({"watch", conv_ok}, 90); });
  auto watch_failed =
      std::async(std::launch::async, [&] { return Run({"watch", conv_failed}, 90); });
  const Result ok = watch_ok.get();
  const Result bad = watch_failed.get();
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find(Cat(conv_ok, "  ")), std::string::npos) << ok.out;
  EXPECT_NE(ok.out.find("-> completed"), std::string::npos) << ok.out;
  EXPECT_EQ(bad.code, 10) << bad.out << bad.err;
  EXPECT_NE(bad.out.find("-> failed"), std::string::npos) << bad.out;
  // A call already over: one line, at once, the same code.
  const Result again = Run({"--json", "watch", conv_ok});
  EXPECT_EQ(again.code, 0) << again.err;
  const json::object line = json::parse(again.out).as_object();
  EXPECT_EQ(line.at("status").as_string(), "completed");
  EXPECT_EQ(line.at("conversationId").as_string(), conv_ok);

  // The watch of every call saw the completion; Ctrl-C ends it with 0.
  std::string all_text;
  for (const auto limit = Clock::now() + std::chrono::seconds(30); Clock::now() < limit;) {
    all_text = testing::ReadFile(all_out);
    if (all_text.find(Cat("\"conversationId\":\"", conv_ok, "\"")) != std::string::npos &&
        all_text.find("\"status\":\"completed\"") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(kill(all, SIGINT), 0);
  EXPECT_EQ(WaitFor(all, 15), 0) << testing::ReadFile(dir_ + "/watch-all.err");
  all_text = testing::ReadFile(all_out);
  bool completed_seen = false;
  for (const std::string& l : Lines(all_text)) {
    const json::object u = json::parse(l).as_object();  // each line one JSON object
    if (u.at("conversationId").as_string() == conv_ok && u.at("status").as_string() == "completed")
      completed_seen = true;
  }
  EXPECT_TRUE(completed_seen) << all_text;

  // The history: a table with the number as the API returns it (E.164).
  const Result calls = Run({"calls"});
  ASSERT_EQ(calls.code, 0) << calls.err;
  EXPECT_EQ(Cells(calls.out, "CONVERSATION"),
            (std::vector<std::string>{"CONVERSATION", "STATUS", "PHONE", "PATIENT", "DURATION",
                                      "COST", "CREATED"}))
      << calls.out;
  bool row_ok = false;
  for (const std::string& l : Lines(calls.out)) {
    if (l.starts_with(conv_ok)) {
      row_ok = l.find("completed") != std::string::npos &&
               l.find("+573005550001") != std::string::npos;
    }
  }
  EXPECT_TRUE(row_ok) << calls.out;
  EXPECT_NE(calls.out.find("page 1 of 1 (2 calls)"), std::string::npos) << calls.out;
  const Result only_failed = Run({"calls", "--status", "failed"});
  EXPECT_NE(only_failed.out.find(conv_failed), std::string::npos) << only_failed.out;
  EXPECT_EQ(only_failed.out.find(conv_ok), std::string::npos) << only_failed.out;
  // --json, one a page: the response with its cursor, which --cursor follows.
  const Result page1 = Run({"calls", "--json", "--limit", "1"});
  ASSERT_EQ(page1.code, 0) << page1.err;
  const json::object p1 = json::parse(page1.out).as_object();
  EXPECT_EQ(p1.at("data").as_array().size(), 1u);
  EXPECT_EQ(p1.at("pagination").at("total").as_int64(), 2);
  const std::string cursor(p1.at("pagination").at("nextCursor").as_string());
  ASSERT_FALSE(cursor.empty()) << page1.out;
  const Result page2 = Run({"calls", "--json", "--limit", "1", "--cursor", cursor});
  ASSERT_EQ(page2.code, 0) << page2.err;
  const json::object p2 = json::parse(page2.out).as_object();
  ASSERT_EQ(p2.at("data").as_array().size(), 1u);
  EXPECT_NE(p2.at("data").at(0).at("conversationId"), p1.at("data").at(0).at("conversationId"));

  // Totals: a table, and --json with the daily series (snake_case json_names).
  const Result stats = Run({"stats"});
  ASSERT_EQ(stats.code, 0) << stats.err;
  EXPECT_EQ(Cells(stats.out, "total"), (std::vector<std::string>{"total", "2"})) << stats.out;
  EXPECT_EQ(Cells(stats.out, "completed"), (std::vector<std::string>{"completed", "1"}))
      << stats.out;
  EXPECT_EQ(Cells(stats.out, "failed ("),
            (std::vector<std::string>{"failed (failed, no_answer, busy)", "1"}))
      << stats.out;
  const Result daily = Run({"stats", "--daily", "--json"});
  ASSERT_EQ(daily.code, 0) << daily.err;
  const json::object d = json::parse(daily.out).as_object();
  EXPECT_EQ(d.at("stats").at("data").at("total_calls").as_int64(), 2);
  EXPECT_EQ(d.at("stats").at("data").at("completed_calls").as_int64(), 1);
  EXPECT_EQ(d.at("stats").at("data").at("failed_calls").as_int64(), 1);
  // One row a day of the default range (30 days, days without calls included).
  const json::array& days = d.at("daily").at("data").as_array();
  EXPECT_EQ(days.size(), 30u) << daily.out;
  int64_t in_days = 0;
  for (const auto& day : days) in_days += day.at("total_calls").as_int64();
  EXPECT_EQ(in_days, 2) << daily.out;
  const Result daily_table = Run({"stats", "--daily"});
  EXPECT_NE(daily_table.out.find("DATE        TOTAL  COMPLETED  FAILED"), std::string::npos)
      << daily_table.out;
}

// What is refused says why, with its exit code: an invalid number (3), an opted-out number (the
// contact policy, 3), an unknown call (4), a usage error (2), a campaign in the wrong state (3).
TEST_F(OutcallCli, RefusalsAndErrorsHaveTheirExitCodes) {
  const Result invalid = Run({"call", "12345"});
  EXPECT_EQ(invalid.code, 3) << invalid.out << invalid.err;
  EXPECT_NE(invalid.err.find("[INVALID_ARGUMENT]"), std::string::npos) << invalid.err;
  EXPECT_TRUE(invalid.out.empty()) << invalid.out;
  {
    pqxx::connection c(db_->url());
    pqxx::nontransaction tx(c);
    tx.exec("INSERT INTO call_opt_outs (phone_e164, reason, source) VALUES "
            "('+573205550001', 'pidió no ser llamado', 'admin')");
  }
  const Result opted_out = Run({"call", "320 555 0001", "--name", "Ana"});
  EXPECT_EQ(opted_out.code, 3) << opted_out.out << opted_out.err;
  EXPECT_NE(opted_out.err.find("opt-out"), std::string::npos) << opted_out.err;
  EXPECT_NE(opted_out.err.find("[FAILED_PRECONDITION]"), std::string::npos) << opted_out.err;

  const Result unknown = Run({"watch", "conv_does_not_exist"});
  EXPECT_EQ(unknown.code, 4) << unknown.out << unknown.err;
  EXPECT_NE(unknown.err.find("[NOT_FOUND]"), std::string::npos) << unknown.err;
  const Result usage = Run({"calls", "--limit", "many"});
  EXPECT_EQ(usage.code, 2);
  EXPECT_NE(usage.err.find("--limit 'many' is not a positive integer"), std::string::npos)
      << usage.err;
  const Result bad_date = Run({"stats", "--from", "2026-02-30"});
  EXPECT_EQ(bad_date.code, 2);
  const Result help = Run({"call", "--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("usage: outcall call PHONE"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("exit codes:"), std::string::npos) << help.out;
  const Result no_campaign = Run({"campaigns", "pause", "00000000-0000-4000-8000-000000000000"});
  EXPECT_EQ(no_campaign.code, 4) << no_campaign.err;
  // Nothing answers there: unavailable (6), naming the address.
  const Result down =
      Run({"calls", "--stats", Cat("127.0.0.1:", testing::FreeLoopbackPort()), "--timeout", "3"});
  EXPECT_EQ(down.code, 6) << down.err;
  EXPECT_NE(down.err.find("stats at 127.0.0.1:"), std::string::npos) << down.err;
}

// No token and nothing to mint one from: exit 5 naming what is missing; a token the services
// refuse: 5 too, the token never printed.
TEST_F(OutcallCli, MissingOrBadTokenIsAnAuthenticationError) {
  auto env = CliEnv();
  env.erase("JWT_HS256_SECRET");
  const Result missing = Run({"calls"}, 60, env);
  EXPECT_EQ(missing.code, 5) << missing.out << missing.err;
  EXPECT_NE(missing.err.find("JWT_HS256_SECRET"), std::string::npos) << missing.err;
  EXPECT_NE(missing.err.find("--token"), std::string::npos) << missing.err;
  EXPECT_TRUE(missing.out.empty());
  const std::string bogus = "bogus." + common::RandomHex(12) + ".token";
  const Result refused = Run({"campaigns", "list", "--token", bogus});
  EXPECT_EQ(refused.code, 5) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("[UNAUTHENTICATED]"), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find(bogus), std::string::npos) << refused.err;
  const Result refused_stats = Run({"stats", "--token", bogus});
  EXPECT_EQ(refused_stats.code, 5) << refused_stats.err;
}

// A campaign from a CSV with bad rows: created with the good ones and left a draft (exit 8, each
// bad row named by line, numbers masked), listed, refused a pause while a draft (3), started,
// paused, canceled; its progress ends at once with the canceled code (20). Another, from a clean
// file, started at creation, is followed to completion (0).
// The clinic's exports (tests/data/sync, with their errors listed in its README) through the real
// CLI and call-gateway: the counts of created and refused rows, who refused each, masking, and
// the idempotent re-run.
TEST_F(OutcallCli, SyncImportsTheClinicsCsvAndFhirExportsWithTheirErrors) {
  const std::string data = OUTCALL_TEST_DATA_DIR "/sync/";
  auto summary = [](const Result& r) { return json::parse(r.out).as_object(); };
  const Result patients = Run({"sync", "patients", data + "patients.csv", "--json"});
  ASSERT_EQ(patients.code, 8) << patients.out << patients.err;
  json::object p = summary(patients);
  EXPECT_EQ(p.at("rowsRead").as_int64(), 50);
  EXPECT_EQ(p.at("created").as_int64(), 43);
  EXPECT_EQ(p.at("refused").as_int64(), 7);
  std::map<std::string, int> by;
  for (const auto& row : p.at("refusedRows").as_array()) {
    ++by[std::string(row.at("by").as_string())];
    EXPECT_FALSE(row.at("error").as_string().empty());
  }
  EXPECT_EQ(by["cli"], 3);
  EXPECT_EQ(by["call-gateway"], 4);
  EXPECT_EQ(patients.out.find("315 22"), std::string::npos) << "a number echoed: " << patients.out;
  EXPECT_EQ(Scalar("SELECT phone_e164 FROM patients WHERE external_ref = 'CC-52345678'"),
            "+573104567890");

  const Result appointments = Run({"sync", "appointments", data + "appointments.csv", "--json"});
  ASSERT_EQ(appointments.code, 8) << appointments.out << appointments.err;
  json::object a = summary(appointments);
  EXPECT_EQ(a.at("rowsRead").as_int64(), 80);
  EXPECT_EQ(a.at("created").as_int64(), 70);
  EXPECT_EQ(a.at("refused").as_int64(), 10);
  // Bogotá wall-clock time in the file is -05:00 in the database.
  EXPECT_EQ(Scalar("SELECT count(*) FROM appointments WHERE external_ref LIKE 'CITA-2026-%'"), "70");

  // The same files again: nothing created or updated.
  const Result again = Run({"sync", "patients", data + "patients.csv", "--json"});
  json::object g = summary(again);
  EXPECT_EQ(g.at("created").as_int64() + g.at("updated").as_int64(), 0) << again.out;
  EXPECT_EQ(g.at("unchanged").as_int64(), 43);

  // A FHIR Bundle of the same clinic: its own errors, the elements it ignores, in a table.
  const Result fhir = Run({"sync", "fhir", data + "bundle.json"});
  EXPECT_EQ(fhir.code, 8) << fhir.out << fhir.err;
  EXPECT_NE(fhir.out.find("refused"), std::string::npos) << fhir.out;
}

TEST_F(OutcallCli, CampaignsFromACsvPausedCanceledAndFollowed) {
  const std::string csv = WriteFile(
      "citas.csv",
      "telefono,patient_name,clinic_name\n"
      "+57 330 555 0001,Ana,Clínica Norte\n"
      "12345,Número Malo,Clínica Norte\n"
      "+57 331 555 0001,José Núñez,Clínica Norte\n"
      "3325550001,solo dos\n");
  Result created = Run({"campaigns", "create", "--name", "Confirmación Clínica", "--csv", csv,
                        "--calls-per-minute", "600", "--var", "greeting=Hola {{patient_name}}",
                        "--start"});
  ASSERT_EQ(created.code, 8) << created.out << created.err;
  EXPECT_NE(created.err.find("line 3: phoneNumber"), std::string::npos) << created.err;
  EXPECT_NE(created.err.find("line 5: has 2 fields; the header has 3"), std::string::npos)
      << created.err;
  EXPECT_EQ(created.err.find("3325550001"), std::string::npos) << "unmasked: " << created.err;
  EXPECT_NE(created.err.find("was not started"), std::string::npos) << created.err;
  EXPECT_EQ(Field(created.out, "state"), "draft") << created.out;
  EXPECT_EQ(Field(created.out, "name"), "Confirmación Clínica") << created.out;
  EXPECT_NE(created.out.find("rows: 4 read, 2 added, 0 duplicates, 2 rejected"), std::string::npos)
      << created.out;
  const std::string id = Field(created.out, "campaign");
  ASSERT_EQ(id.size(), 36u) << created.out;

  const Result list = Run({"campaigns", "list"});
  ASSERT_EQ(list.code, 0) << list.err;
  // Columns measured in characters: "Confirmación Clínica" is 20 wide (22 bytes).
  EXPECT_TRUE(list.out.starts_with(Cat("CAMPAIGN", std::string(30, ' '), "NAME",
                                       std::string(18, ' '), "STATE  TOTAL")))
      << list.out;
  EXPECT_NE(list.out.find(Cat("\n", id, "  Confirmación Clínica  draft      2")),
            std::string::npos)
      << list.out;
  const Result list_json = Run({"campaigns", "list", "--json"});
  const json::object lj = json::parse(list_json.out).as_object();
  EXPECT_EQ(lj.at("campaigns").at(0).at("campaignId").as_string(), id);
  EXPECT_EQ(lj.at("campaigns").at(0).at("counters").at("total").as_int64(), 2);

  const Result early = Run({"campaigns", "pause", id});
  EXPECT_EQ(early.code, 3) << early.out << early.err;
  EXPECT_NE(early.err.find("[FAILED_PRECONDITION]"), std::string::npos) << early.err;
  const Result started = Run({"campaigns", "start", id});
  ASSERT_EQ(started.code, 0) << started.err;
  EXPECT_EQ(Field(started.out, "state"), "running") << started.out;
  const Result paused = Run({"--json", "campaigns", "pause", id, "--reason", "revisar lista"});
  ASSERT_EQ(paused.code, 0) << paused.err;
  const json::object pj = json::parse(paused.out).as_object();
  EXPECT_EQ(pj.at("state").as_string(), "paused");
  EXPECT_EQ(pj.at("stateReason").as_string(), "revisar lista");
  const Result canceled = Run({"campaigns", "cancel", id});
  ASSERT_EQ(canceled.code, 0) << canceled.err;
  EXPECT_EQ(Field(canceled.out, "state"), "canceled") << canceled.out;
  // stdout is not a terminal: plain lines, the last one the final state.
  const Result progress = Run({"campaigns", "progress", id});
  EXPECT_EQ(progress.code, 20) << progress.out << progress.err;
  std::vector<std::string> plines = absl::StrSplit(progress.out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(plines.empty());
  EXPECT_NE(plines.back().find("/2  canceled  "), std::string::npos) << progress.out;
  EXPECT_EQ(progress.out.find('\r'), std::string::npos) << "redrawn on a pipe: " << progress.out;
  // On a terminal (script(1) gives it one) the bar is redrawn in place and the line ended.
  if (access("/usr/bin/script", X_OK) == 0) {
    const std::string out = Cat(dir_, "/tty.out");
    const pid_t pid =
        Spawn({"/usr/bin/script", "-qec", Cat(OUTCALL_BINARY, " campaigns progress ", id),
               "/dev/null"},
              CliEnv(), out, out);
    EXPECT_EQ(WaitFor(pid, 60), 20) << testing::ReadFile(out);
    const std::string tty = testing::ReadFile(out);
    EXPECT_NE(tty.find("\r["), std::string::npos) << tty;
    EXPECT_NE(tty.find("\x1b[K"), std::string::npos) << tty;
    EXPECT_NE(tty.find("canceled"), std::string::npos) << tty;
  }

  const std::string clean = WriteFile("limpia.csv", "phone;patient_name\n+57 340 555 0001;Luz\n");
  Result running = Run({"campaigns", "create", "--name", "Recordatorios CLI", "--csv", clean,
                        "--calls-per-minute", "600", "--start", "--idempotency-key", "cli-c2"});
  ASSERT_EQ(running.code, 0) << running.out << running.err;
  EXPECT_EQ(Field(running.out, "state"), "running") << running.out;
  const std::string id2 = Field(running.out, "campaign");
  const Result done = Run({"campaigns", "progress", id2}, 120);
  EXPECT_EQ(done.code, 0) << done.out << done.err;
  std::vector<std::string> lines = absl::StrSplit(done.out, '\n', absl::SkipEmpty());
  ASSERT_FALSE(lines.empty());
  EXPECT_TRUE(lines.back().starts_with("[##############################]  100%  1/1  completed"))
      << done.out;
  const Result shown = Run({"--json", "campaigns", "show", id2});
  const json::object sj = json::parse(shown.out).as_object();
  EXPECT_EQ(sj.at("state").as_string(), "completed");
  EXPECT_EQ(sj.at("counters").at("done").as_int64(), 1);
  // The same key and body again: the same campaign (idempotent create); another body: 7.
  const Result replay = Run({"campaigns", "create", "--name", "Recordatorios CLI", "--json",
                             "--calls-per-minute", "600", "--idempotency-key", "cli-c2"});
  ASSERT_EQ(replay.code, 0) << replay.err;
  EXPECT_EQ(json::parse(replay.out).at("campaignId").as_string(), id2);
  const Result conflict = Run({"campaigns", "create", "--name", "Otra", "--idempotency-key",
                               "cli-c2"});
  EXPECT_EQ(conflict.code, 7) << conflict.out << conflict.err;
  EXPECT_NE(conflict.err.find("[ALREADY_EXISTS]"), std::string::npos) << conflict.err;
}

}  // namespace
}  // namespace outcall
