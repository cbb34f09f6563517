// Stats at scale: loads N calls spread over two years into a database of the PostgreSQL named by
// DATABASE_URL (scripts/bench.sh stats uses the private cluster "bench"), then measures, over
// real gRPC (loopback, JWT checked) against the in-process Stats service:
//   GetCallStats for a 31-day and a 365-day range (from the daily rollups),
//   ListCalls page 1, page 10,000 (OFFSET), and the cursor that page 9,999 hands out,
// and, side by side, the same statistics computed by a plain GROUP BY over the raw calls, plus
// the write cost of the rollup triggers (single-row insert and status update, with and without).
//
//   outcall_stats_bench --rows=10000000 [--iterations=500] [--raw-iterations=10] [--reload]
//
// The data set is kept in database outcall_bench_stats_<rows> and reused by later runs (same
// generator version) unless --reload. Loading is set-based (generate_series) with the triggers
// off (session_replication_role = replica), then stats_rebuild_rollups() and a full
// stats_verify_rollups() check that the rollups equal the raw aggregate.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "bench_db.h"
#include "outcall/common/auth_interceptor.h"
#include "outcall/common/blocking_executor.h"
#include "outcall/common/crypto.h"
#include "outcall/common/grpc_server.h"
#include "outcall/common/jwt.h"
#include "outcall/common/migrations.h"
#include "outcall/common/pg_pool.h"
#include "outcall/v1/stats.grpc.pb.h"
#include "stats_service.h"
#include "stats_store.h"

namespace outcall::stats {
std::map<std::string, common::Permission> MethodPermissions();
}

namespace {

using namespace outcall;
using bench::Clock;
using bench::Ms;
using bench::ReplaceDb;
using bench::Say;

constexpr int kGeneratorVersion = 1;
constexpr int kDays = 730;                  // two years of history
constexpr char kFirstDay[] = "2023-11-01";  // day 0 (Bogotá)
constexpr char kLastDay[] = "2025-10-30";   // day 729
constexpr char k31From[] = "2025-09-30";    // 31 days ending on the last day
constexpr char k365From[] = "2024-11-01";   // 365 days ending on the last day
constexpr char kTz[] = "America/Bogota";

struct Options {
  int64_t rows = 1'000'000;
  int iterations = 500;
  int raw_iterations = 10;
  bool reload = false;
};

struct Sample {
  std::string name;
  std::vector<double> ms;
  double Pct(double p) const { return bench::Percentile(ms, p); }
  double Mean() const {
    double s = 0;
    for (double x : ms) s += x;
    return ms.empty() ? 0 : s / ms.size();
  }
};

Sample Measure(const std::string& name, int warmup, int iterations,
               const std::function<void()>& fn) {
  for (int i = 0; i < warmup; ++i) fn();
  Sample s{name, {}};
  s.ms.reserve(iterations);
  for (int i = 0; i < iterations; ++i) {
    const auto t0 = Clock::now();
    fn();
    s.ms.push_back(Ms(Clock::now() - t0));
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// The data set

constexpr char kMarker[] = "bench_dataset";

bool DatasetReady(pqxx::connection& c, int64_t rows) {
  return bench::DatasetReady(c, kMarker, rows, kGeneratorVersion);
}

void Load(pqxx::connection& c, int64_t rows) {
  const auto t0 = Clock::now();
  {
    pqxx::nontransaction tx(c);
    // Bulk load: no triggers (neither the rollup triggers nor the foreign-key checks; the data
    // is generated consistent), no per-commit flush.
    tx.exec("SET session_replication_role = replica");
    tx.exec("SET synchronous_commit = off");
    tx.exec("SET maintenance_work_mem = '512MB'");
    const int64_t patients = std::max<int64_t>(1000, rows / 20);
    tx.exec(
        "INSERT INTO patients (id, full_name, phone_e164) OVERRIDING SYSTEM VALUE "
        "SELECT g, 'Paciente ' || g, '+57' || (3100000000 + g) FROM generate_series(1, " +
        std::to_string(patients) + ") g");
    const int64_t chunk = 500'000;
    for (int64_t from = 1; from <= rows; from += chunk) {
      const int64_t to = std::min(rows, from + chunk - 1);
      const std::string n = std::to_string(rows);
      // Calls in time order (as a live system writes them): day = position in the two years,
      // local time spread over 07:00-19:00 Bogotá. A realistic mix of outcomes and agents; the
      // last day still has calls in flight.
      tx.exec(
          "INSERT INTO elevenlabs_conversations (conversation_id, agent_id, agent_phone_number_id, "
          "patient_id, phone_number, status, max_duration_secs, dial_attempted_at, started_at, "
          "ended_at, duration_secs, cost, call_successful, termination_reason, created_at, "
          "updated_at) "
          "SELECT 'conv_b' || g, agent, 'phnum_bench', patient, '+57' || (3000000000 + g), status, "
          "600, "
          "created_at, CASE WHEN dur IS NOT NULL THEN created_at + interval '8 seconds' END, "
          "CASE WHEN dur IS NOT NULL THEN created_at + interval '8 seconds' + make_interval(secs "
          "=> dur) END, "
          "dur, CASE WHEN dur IS NOT NULL THEN round((0.01 + dur * 0.0012)::numeric, 4) "
          "          WHEN status IN ('failed', 'busy', 'no_answer') AND rp < 0.5 THEN 0 END, "
          "CASE WHEN status = 'completed' THEN CASE WHEN rp < 0.8 THEN 'success' ELSE 'failure' "
          "END END, "
          "CASE WHEN dur IS NOT NULL THEN 'Call ended by remote party' END, created_at, created_at "
          "FROM (SELECT g, created_at, agent, patient, rp, status, "
          "        CASE WHEN status = 'completed' THEN 20 + floor(rd * rd * 560)::int "
          "             WHEN status = 'ended_manually' THEN floor(rd * 90)::int END AS dur "
          "      FROM (SELECT g, rp, rd, "
          "              ((date '" +
          std::string(kFirstDay) + "' + ((g - 1) * " + std::to_string(kDays) + " / " + n +
          ")::int)::timestamp + interval '7 hours' "
          "               + make_interval(secs => (((g - 1) * " +
          std::to_string(kDays) + ") % " + n + ")::float8 / " + n + " * 43200)) AT TIME ZONE '" +
          kTz +
          "' AS created_at, "
          "              CASE WHEN (g - 1) * " +
          std::to_string(kDays) + " / " + n + " = " + std::to_string(kDays - 1) +
          " AND rs < 0.3 "
          "                   THEN (ARRAY['queued', 'dialing', 'initiated', 'ringing', "
          "'in_progress'])[1 + floor(rs / 0.3 * 5)::int] "
          "                   WHEN rs < 0.58 THEN 'completed' WHEN rs < 0.73 THEN 'no_answer' "
          "                   WHEN rs < 0.81 THEN 'busy' WHEN rs < 0.87 THEN 'failed' "
          "                   WHEN rs < 0.95 THEN 'ended_manually' ELSE 'canceled' END AS status, "
          "              CASE WHEN ra < 0.35 THEN 'agent_confirmaciones' WHEN ra < 0.60 THEN "
          "'agent_recordatorios' "
          "                   WHEN ra < 0.80 THEN 'agent_campanas' WHEN ra < 0.90 THEN "
          "'agent_encuestas' "
          "                   WHEN ra < 0.97 THEN 'agent_cobranza' ELSE 'agent_pruebas' END AS "
          "agent, "
          "              1 + floor(rq * " +
          std::to_string(patients) +
          ")::int AS patient "
          "            FROM (SELECT g, random() AS rs, random() AS ra, random() AS rd, random() AS "
          "rp, "
          "                         random() AS rq "
          "                  FROM generate_series(" +
          std::to_string(from) + "::bigint, " + std::to_string(to) + "::bigint) g) r) s) t");
      Say("  loaded " + std::to_string(to) + " / " + std::to_string(rows) + " calls (" +
          std::to_string(static_cast<int>(Ms(Clock::now() - t0) / 1000)) + " s)");
    }
    tx.exec(
        "INSERT INTO elevenlabs_call_errors (call_row_id, conversation_id, source, error_code, "
        "http_status, message, created_at) "
        "SELECT id, conversation_id, 'provider', 'call_failed', 502, 'upstream call failed', "
        "created_at + interval '2 seconds' FROM elevenlabs_conversations WHERE status = 'failed'");
    tx.exec("SET session_replication_role = DEFAULT");
  }
  {
    pqxx::work tx(c);
    const auto t1 = Clock::now();
    const int64_t groups = tx.exec1("SELECT stats_rebuild_rollups()")[0].as<int64_t>();
    tx.commit();
    Say("  rollups rebuilt: " + std::to_string(groups) + " (day, status, agent) groups in " +
        std::to_string(static_cast<int>(Ms(Clock::now() - t1))) + " ms");
  }
  bench::FinishDataset(
      c, kMarker, rows, kGeneratorVersion,
      {"elevenlabs_conversations", "elevenlabs_call_errors", "call_daily_rollups", "patients"});
  Say("  load total: " + std::to_string(static_cast<int>(Ms(Clock::now() - t0) / 1000)) + " s");
}

// ---------------------------------------------------------------------------------------------

class Server {
 public:
  Server(const std::string& url, const std::string& secret)
      : pool_({.url = url,
               .size = 2,
               .application_name = "stats-bench",
               .statement_timeout_ms = 120000}),
        store_(&pool_, {.clinic_timezone = kTz, .statement_timeout = absl::Seconds(120)}),
        executor_(2, 32),
        auth_(MakeAuthorizer(secret), stats::MethodPermissions()),
        service_(&auth_, &store_, &executor_, {.request_timeout = absl::Seconds(120)}) {
    common::GrpcServerOptions o;
    o.listen_address = "127.0.0.1:0";
    server_ = std::make_unique<common::GrpcServer>(o);
    server_->AddService(&service_);
    server_->AddInterceptorFactory(auth_.NewInterceptorFactory());
    if (auto s = server_->Start(); !s.ok()) {
      std::fprintf(stderr, "cannot start server: %s\n", std::string(s.message()).c_str());
      std::exit(1);
    }
    server_->SetServing(true);
  }
  ~Server() {
    server_->Shutdown();
    server_->Wait();
  }
  int port() const { return server_->port(); }
  stats::StatsStore& store() { return store_; }

 private:
  static common::Authorizer MakeAuthorizer(const std::string& secret) {
    common::JwtOptions jo;
    jo.issuer = "bench";
    jo.audiences = {"outcall"};
    jo.hs256_secrets = {common::Secret(secret)};
    return common::Authorizer(*common::JwtVerifier::Create(jo));
  }
  common::PgPool pool_;
  stats::StatsStore store_;
  common::BlockingExecutor executor_;
  common::CallAuthenticator auth_;
  stats::StatsService service_;
  std::unique_ptr<common::GrpcServer> server_;
};

template <typename Req, typename Resp>
void MustCall(v1::Stats::Stub& stub, const std::string& token,
              grpc::Status (v1::Stats::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
              const Req& req, Resp* resp) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  ctx.AddMetadata("authorization", "Bearer " + token);
  grpc::Status s = (stub.*method)(&ctx, req, resp);
  if (!s.ok()) {
    std::fprintf(stderr, "RPC failed: %s\n", s.error_message().c_str());
    std::exit(1);
  }
}

void PrintRow(const Sample& s) {
  std::printf("  %-58s p50 %9.3f ms   p95 %9.3f ms   mean %9.3f ms   (n=%zu)\n", s.name.c_str(),
              s.Pct(0.50), s.Pct(0.95), s.Mean(), s.ms.size());
}

int Run(const Options& opt) {
  const char* admin = std::getenv("DATABASE_URL");
  if (admin == nullptr || *admin == '\0') {
    std::fprintf(stderr,
                 "DATABASE_URL is not set (scripts/bench.sh stats starts the 'bench' cluster)\n");
    return 2;
  }
  const std::string db = "outcall_bench_stats_" + std::to_string(opt.rows);
  const std::string url = ReplaceDb(admin, db);
  Say("== stats benchmark: " + std::to_string(opt.rows) + " calls over two years (" + kFirstDay +
      " .. " + kLastDay + ", " + kTz + "), database " + db);
  auto migrations = common::LoadMigrations(OUTCALL_MIGRATIONS_DIR);
  if (!migrations.ok()) {
    std::fprintf(stderr, "cannot load migrations: %s\n",
                 std::string(migrations.status().message()).c_str());
    return 1;
  }
  auto recreate = [&](bool drop) {
    pqxx::connection c(admin);
    pqxx::nontransaction tx(c);
    const bool exists =
        tx.exec_params1("SELECT count(*) FROM pg_database WHERE datname = $1", db)[0].as<int>() ==
        1;
    if (exists && drop) tx.exec("DROP DATABASE " + db + " WITH (FORCE)");
    if (!exists || drop) tx.exec("CREATE DATABASE " + db + " TEMPLATE template0 ENCODING 'UTF8'");
  };
  recreate(opt.reload);
  auto conn_ptr = std::make_unique<pqxx::connection>(url);
  if (auto applied = common::ApplyMigrations(*conn_ptr, *migrations); !applied.ok()) {
    // Typically a data set loaded under an earlier version of a migration: load it again.
    Say("  " + std::string(applied.status().message()) + ": loading the data set again");
    conn_ptr.reset();
    recreate(true);
    conn_ptr = std::make_unique<pqxx::connection>(url);
    if (auto again = common::ApplyMigrations(*conn_ptr, *migrations); !again.ok()) {
      std::fprintf(stderr, "migrations failed: %s\n",
                   std::string(again.status().message()).c_str());
      return 1;
    }
  }
  pqxx::connection& conn = *conn_ptr;
  if (DatasetReady(conn, opt.rows)) {
    Say("  reusing the data set loaded earlier (--reload to load again)");
  } else {
    {
      // A half-loaded data set from an interrupted run: start again from an empty database.
      pqxx::work tx(conn);
      tx.exec("TRUNCATE elevenlabs_conversations, patients CASCADE");
      tx.commit();
    }
    Load(conn, opt.rows);
  }
  {
    pqxx::work tx(conn);
    const auto t0 = Clock::now();
    const int drift = tx.exec1("SELECT count(*) FROM stats_verify_rollups()")[0].as<int>();
    Say("  rollups vs raw aggregate (stats_verify_rollups, full scan " +
        std::to_string(static_cast<int>(Ms(Clock::now() - t0))) + " ms): " +
        (drift == 0 ? std::string("identical") : std::to_string(drift) + " groups DIFFER"));
    if (drift != 0) return 1;
    auto r = tx.exec1(
        "SELECT count(*), pg_size_pretty(pg_total_relation_size('elevenlabs_conversations')), "
        "(SELECT count(*) FROM call_daily_rollups), "
        "pg_size_pretty(pg_total_relation_size('call_daily_rollups')), "
        "(SELECT count(*) FROM elevenlabs_call_errors) FROM elevenlabs_conversations");
    Say("  calls " + r[0].as<std::string>() + " (" + r[1].as<std::string>() + " with indexes), " +
        "rollup rows " + r[2].as<std::string>() + " (" + r[3].as<std::string>() + "), errors " +
        r[4].as<std::string>());
  }

  {
    // Measure a settled server: no checkpoint of the load's dirty pages running meanwhile.
    pqxx::nontransaction tx(conn);
    tx.exec("CHECKPOINT");
  }
  const std::string secret = common::RandomHex(32);
  common::JwtClaims claims;
  claims.issuer = "bench";
  claims.subject = "bench";
  claims.audiences = {"outcall"};
  claims.permissions = {"calls:read"};
  claims.lifetime = absl::Hours(4);
  const std::string token = *common::SignJwt("HS256", secret, claims);
  Server server(url, secret);
  auto stub = v1::Stats::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()),
                                                     grpc::InsecureChannelCredentials()));

  auto stats_req = [](const char* from) {
    v1::GetCallStatsRequest r;
    r.set_start_date(from);
    r.set_end_date(kLastDay);
    return r;
  };
  // The same statistics by a plain GROUP BY over the raw calls (what the service does without
  // rollups), on a connection of its own.
  pqxx::connection raw_conn(url);
  auto raw_stats = [&](const char* from, bool force_index = false) {
    pqxx::work tx(raw_conn);
    // The planner's choice, or its best alternative: an index range scan on created_at.
    if (force_index) tx.exec("SET LOCAL enable_seqscan = off");
    return tx.exec_params(
        "SELECT status, count(*), count(duration_secs), sum(duration_secs), sum(cost)::text, "
        "avg(duration_secs)::text FROM elevenlabs_conversations "
        "WHERE created_at >= $1::date::timestamp AT TIME ZONE $3 "
        "AND created_at < ($2::date + 1)::timestamp AT TIME ZONE $3 GROUP BY status ORDER BY "
        "status",
        from, kLastDay, kTz);
  };

  // Exactness at scale: the service's answer equals the raw aggregate.
  for (const char* from : {k31From, k365From}) {
    v1::GetCallStatsResponse resp;
    MustCall(*stub, token, &v1::Stats::Stub::GetCallStats, stats_req(from), &resp);
    int64_t total = 0;
    bool cost_ok = true;
    std::map<std::string, int64_t> raw_counts;
    for (const auto& row : raw_stats(from)) {
      total += row[1].as<int64_t>();
      raw_counts[row[0].as<std::string>()] = row[1].as<int64_t>();
    }
    std::map<std::string, int64_t> got;
    for (const auto& s : resp.data().by_status()) got[s.status()] = s.count();
    cost_ok = got == raw_counts && resp.data().total_calls() == total;
    Say(std::string("  GetCallStats ") + from + ".." + kLastDay + ": total_calls " +
        std::to_string(resp.data().total_calls()) + ", completed " +
        std::to_string(resp.data().completed_calls()) + ", failed " +
        std::to_string(resp.data().failed_calls()) + ", avg_duration " +
        std::to_string(resp.data().avg_duration()) + ", total_cost " +
        std::to_string(resp.data().total_cost()) +
        (cost_ok ? "  (= raw GROUP BY)" : "  (MISMATCH with raw GROUP BY)"));
    if (!cost_ok) return 1;
  }

  std::vector<Sample> samples;
  const int it = opt.iterations;
  for (const char* from : {k31From, k365From}) {
    const auto req = stats_req(from);
    samples.push_back(Measure(std::string("GetCallStats ") +
                                  (from == k31From ? "31 days" : "365 days") + " (rollups, gRPC)",
                              20, it, [&] {
                                v1::GetCallStatsResponse resp;
                                MustCall(*stub, token, &v1::Stats::Stub::GetCallStats, req, &resp);
                              }));
  }
  // Where the time goes: the same statistics from the store directly (database only), and the
  // floor of an RPC that never reaches the database (JWT check, parsing, a refusal).
  {
    stats::CallFilter f;
    f.start_day = *stats::ParseDay(k31From, "startDate");
    f.end_day = *stats::ParseDay(kLastDay, "endDate");
    samples.push_back(Measure("  of which database: store.CallStats 31 days", 20, it, [&] {
      auto r = server.store().CallStats(f, absl::Now() + absl::Seconds(120));
      if (!r.ok()) std::exit(1);
    }));
    v1::GetCallStatsRequest refused;
    refused.set_status("not-a-state");
    samples.push_back(
        Measure("  gRPC + JWT floor: a request refused before the database", 20, it, [&] {
          grpc::ClientContext ctx;
          ctx.AddMetadata("authorization", "Bearer " + token);
          v1::GetCallStatsResponse resp;
          if (stub->GetCallStats(&ctx, refused, &resp).error_code() !=
              grpc::StatusCode::INVALID_ARGUMENT) {
            std::exit(1);
          }
        }));
  }
  for (const char* from : {k31From, k365From}) {
    for (bool force_index : {false, true}) {
      samples.push_back(Measure(std::string("plain GROUP BY over raw calls, ") +
                                    (from == k31From ? "31 days" : "365 days") +
                                    (force_index ? " (SQL, index scan)" : " (SQL, planner)"),
                                1, opt.raw_iterations, [&] { raw_stats(from, force_index); }));
    }
  }

  v1::ListCallsRequest page1;
  samples.push_back(Measure("ListCalls page 1 (limit 20)", 20, it, [&] {
    v1::ListCallsResponse resp;
    MustCall(*stub, token, &v1::Stats::Stub::ListCalls, page1, &resp);
  }));
  v1::ListCallsRequest deep;
  deep.set_page(10000);
  v1::ListCallsResponse deep_resp;
  MustCall(*stub, token, &v1::Stats::Stub::ListCalls, deep, &deep_resp);
  samples.push_back(Measure("ListCalls page 10,000 (OFFSET 199,980)", 3, std::max(20, it / 5), [&] {
    v1::ListCallsResponse resp;
    MustCall(*stub, token, &v1::Stats::Stub::ListCalls, deep, &resp);
  }));
  // The cursor the service hands out with page 9,999: it continues at page 10,000.
  v1::ListCallsRequest before;
  before.set_page(9999);
  v1::ListCallsResponse before_resp;
  MustCall(*stub, token, &v1::Stats::Stub::ListCalls, before, &before_resp);
  v1::ListCallsRequest cursor;
  cursor.set_cursor(before_resp.pagination().next_cursor());
  v1::ListCallsResponse cursor_resp;
  MustCall(*stub, token, &v1::Stats::Stub::ListCalls, cursor, &cursor_resp);
  bool same =
      cursor_resp.data_size() == deep_resp.data_size() && cursor_resp.pagination().page() == 10000;
  for (int i = 0; same && i < cursor_resp.data_size(); ++i) {
    same = cursor_resp.data(i).call_id() == deep_resp.data(i).call_id();
  }
  Say(std::string("  cursor from page 9,999 returns exactly page 10,000: ") +
      (same ? "yes" : "NO"));
  if (!same) return 1;
  samples.push_back(Measure("ListCalls cursor at depth 10,000", 20, it, [&] {
    v1::ListCallsResponse resp;
    MustCall(*stub, token, &v1::Stats::Stub::ListCalls, cursor, &resp);
  }));
  v1::ListCallsRequest filtered;
  filtered.set_status("failed");
  filtered.set_agent_id("agent_cobranza");
  filtered.set_start_date(k31From);
  filtered.set_end_date(kLastDay);
  samples.push_back(Measure("ListCalls page 1, status+agent+31 days", 10, it / 2, [&] {
    v1::ListCallsResponse resp;
    MustCall(*stub, token, &v1::Stats::Stub::ListCalls, filtered, &resp);
  }));
  v1::ListCallsRequest patient;
  patient.set_patient_id(4242);
  samples.push_back(Measure("ListCalls page 1, patientId (raw count)", 10, it / 2, [&] {
    v1::ListCallsResponse resp;
    MustCall(*stub, token, &v1::Stats::Stub::ListCalls, patient, &resp);
  }));
  v1::GetDailyStatsRequest daily;
  daily.set_start_date(k365From);
  daily.set_end_date(kLastDay);
  samples.push_back(Measure("GetDailyStats 365 days (rollups)", 10, it / 2, [&] {
    v1::GetDailyStatsResponse resp;
    MustCall(*stub, token, &v1::Stats::Stub::GetDailyStats, daily, &resp);
  }));
  samples.push_back(Measure("ListCallErrors page 1", 10, it / 2, [&] {
    v1::ListCallErrorsResponse resp;
    MustCall(*stub, token, &v1::Stats::Stub::ListCallErrors, v1::ListCallErrorsRequest(), &resp);
  }));

  // Write cost of the rollup triggers: one call inserted then moved to completed, each its own
  // transaction (synchronous_commit off), with the triggers and without (DISABLE TRIGGER).
  auto writes = [&](bool triggers) {
    pqxx::connection w(url);
    {
      // The trigger's own cost: with a durable commit the WAL flush (milliseconds on a VM disk)
      // would hide it.
      pqxx::nontransaction tx(w);
      tx.exec("SET synchronous_commit = off");
    }
    if (!triggers) {
      pqxx::work tx(w);
      tx.exec(
          "ALTER TABLE elevenlabs_conversations DISABLE TRIGGER call_daily_rollups_insert, "
          "DISABLE TRIGGER call_daily_rollups_update, DISABLE TRIGGER call_daily_rollups_delete");
      tx.commit();
    }
    std::vector<int64_t> ids;
    const std::string tag = triggers ? "t" : "n";
    int k = 0;
    Sample ins = Measure(
        std::string("INSERT one call, ") + (triggers ? "with" : "without") + " rollup trigger", 50,
        1000, [&] {
          const int n = ++k;
          pqxx::work tx(w);
          ids.push_back(tx.exec1("INSERT INTO elevenlabs_conversations (conversation_id, agent_id, "
                                 "phone_number, status) VALUES ('conv_w" +
                                 tag + std::to_string(n) + "', 'agent_confirmaciones', '+5739" +
                                 std::to_string(10000000 + n) + "', 'initiated') RETURNING id")[0]
                            .as<int64_t>());
          tx.commit();
        });
    size_t next = 0;
    Sample upd = Measure(std::string("UPDATE status to completed, ") +
                             (triggers ? "with" : "without") + " rollup trigger",
                         50, 1000, [&] {
                           pqxx::work tx(w);
                           tx.exec(
                               "UPDATE elevenlabs_conversations SET status = 'completed', "
                               "duration_secs = 60, cost = 0.0820 WHERE id = " +
                               std::to_string(ids[next++]));
                           tx.commit();
                         });
    {
      pqxx::work tx(w);
      tx.exec("DELETE FROM elevenlabs_conversations WHERE conversation_id LIKE 'conv_w" + tag +
              "%'");
      if (!triggers) {
        tx.exec(
            "ALTER TABLE elevenlabs_conversations ENABLE TRIGGER call_daily_rollups_insert, "
            "ENABLE TRIGGER call_daily_rollups_update, ENABLE TRIGGER call_daily_rollups_delete");
      }
      tx.commit();
    }
    samples.push_back(ins);
    samples.push_back(upd);
  };
  writes(true);
  writes(false);
  {
    pqxx::work tx(conn);
    if (tx.exec1("SELECT count(*) FROM stats_verify_rollups()")[0].as<int>() != 0) {
      Say("  rollups drifted after the write benchmark");
      return 1;
    }
  }

  Say("");
  Say("results (" + std::to_string(opt.rows) + " calls):");
  for (const auto& s : samples) PrintRow(s);

  auto find = [&](std::string_view prefix) -> const Sample& {
    for (const auto& s : samples) {
      if (s.name.rfind(prefix, 0) == 0) return s;
    }
    std::fprintf(stderr, "no sample %s\n", std::string(prefix).c_str());
    std::exit(1);
  };
  const Sample& s31 = find("GetCallStats 31 days");
  const Sample& s365 = find("GetCallStats 365 days");
  // The plain GROUP BY at its best: the faster of the planner's plan and the index scan.
  const double r31 =
      std::min(find("plain GROUP BY over raw calls, 31 days (SQL, planner)").Pct(0.5),
               find("plain GROUP BY over raw calls, 31 days (SQL, index").Pct(0.5));
  const double r365 =
      std::min(find("plain GROUP BY over raw calls, 365 days (SQL, planner)").Pct(0.5),
               find("plain GROUP BY over raw calls, 365 days (SQL, index").Pct(0.5));
  const Sample& p1 = find("ListCalls page 1 (limit 20)");
  const Sample& cur = find("ListCalls cursor at depth 10,000");
  Say("");
  std::printf(
      "  GetCallStats vs the best plain GROUP BY (p50): 31 days %.0fx faster, 365 days %.0fx "
      "faster\n",
      r31 / s31.Pct(0.5), r365 / s365.Pct(0.5));
  std::printf(
      "  targets (stated for 10M calls): GetCallStats p95 < 5 ms: 31d %s (%.3f), 365d %s (%.3f); "
      ">= 100x GROUP BY: %s; cursor page p95 <= 2x page 1 p95: %s (%.3f vs %.3f)\n",
      s31.Pct(0.95) < 5 ? "yes" : "NO", s31.Pct(0.95), s365.Pct(0.95) < 5 ? "yes" : "NO",
      s365.Pct(0.95), (r31 / s31.Pct(0.5) >= 100 && r365 / s365.Pct(0.5) >= 100) ? "yes" : "NO",
      cur.Pct(0.95) <= 2 * p1.Pct(0.95) ? "yes" : "NO", cur.Pct(0.95), p1.Pct(0.95));
  std::fflush(stdout);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      const std::string prefix = std::string(name) + "=";
      return a.rfind(prefix, 0) == 0 ? argv[i] + prefix.size() : nullptr;
    };
    if (const char* v = value("--rows")) {
      opt.rows = std::atoll(v);
    } else if (const char* v = value("--iterations")) {
      opt.iterations = std::atoi(v);
    } else if (const char* v = value("--raw-iterations")) {
      opt.raw_iterations = std::atoi(v);
    } else if (a == "--reload") {
      opt.reload = true;
    } else {
      std::fprintf(stderr,
                   "usage: outcall_stats_bench [--rows=N] [--iterations=N] [--raw-iterations=N] "
                   "[--reload]\n");
      return 2;
    }
  }
  if (opt.rows < 300'000 || opt.iterations < 10 || opt.raw_iterations < 1) {
    std::fprintf(stderr,
                 "--rows must be at least 300000 (page 10,000 must exist), --iterations >= 10\n");
    return 2;
  }
  try {
    return Run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stats bench failed: %s\n", e.what());
    return 1;
  }
}
