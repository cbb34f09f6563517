// The contact-policy check at scale: what call-gateway pays immediately before every dial.
// Loads ROWS contact-ledger rows (calls in elevenlabs_conversations and contacts on other
// channels in contact_records, 90 days of history for ~ROWS/10 patients, with consents, opt-outs
// and an RNE list) into a database of the PostgreSQL named by DATABASE_URL (scripts/bench.sh
// policy uses the private cluster "bench-policy" and migrates the database with outcall-migrate),
// then measures, through the real CallStore on a real PgPool, for random patients:
//   LoadPolicyInputs   the one statement "call_gateway.policy_inputs" (the database read)
//   Decide             ContactPolicy::Decide: that read plus the pure libs/policy decision
// one client in a loop, then N clients at once; every latency is recorded (p50, p99, max) and
// decisions/s. Last, the plan the prepared statement actually runs with (EXPLAIN ANALYZE,
// BUFFERS of EXECUTE on a pool connection that ran it) and whether it is the generic plan.
//
//   outcall_policy_bench --db=NAME [--rows=1000000] [--iterations=20000] [--clients=1,2,4]
//                        [--reload]
//
// The data set is kept in database NAME and reused by later runs (same generator version)
// unless --reload; it is ANALYZEd on every run (a migration may have added an index).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <pqxx/pqxx>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "bench_db.h"
#include "call_store.h"
#include "contact_policy.h"
#include "outcall/common/pg_pool.h"
#include "outcall/policy/profile.h"

namespace {

using namespace outcall;
using bench::Clock;
using bench::Ms;
using bench::ReplaceDb;
using bench::Say;

constexpr int kGeneratorVersion = 1;
// The instant every decision is taken at: a Tuesday, 10:00 in Bogotá (inside the hours), the end
// of the 90 days of history.
constexpr char kAtUtc[] = "2025-10-28 15:00:00+00";
constexpr int kDays = 90;

struct Options {
  std::string db;
  int64_t rows = 1'000'000;
  int iterations = 20'000;
  std::vector<int> clients = {1, 2, 4};
  bool reload = false;
};

int64_t Patients(int64_t rows) { return std::max<int64_t>(1000, rows / 10); }

// ---------------------------------------------------------------------------------------------
// The data set

constexpr char kMarker[] = "bench_policy_dataset";

bool DatasetReady(pqxx::connection& c, int64_t rows) {
  return bench::DatasetReady(c, kMarker, rows, kGeneratorVersion);
}

void Load(pqxx::connection& c, int64_t rows) {
  const auto t0 = Clock::now();
  const int64_t patients = Patients(rows);
  const int64_t calls = rows * 8 / 10;  // the rest: contact_records on other channels
  const int64_t records = rows - calls;
  const std::string P = std::to_string(patients);
  const std::string at = std::string("timestamptz '") + kAtUtc + "'";
  const std::string days = std::to_string(kDays);
  {
    pqxx::nontransaction tx(c);
    tx.exec(
        "TRUNCATE patients, elevenlabs_conversations, contact_records, patient_consents, "
        "call_opt_outs, excluded_number_lists, excluded_numbers, policy_decisions CASCADE");
    tx.exec("DROP TABLE IF EXISTS bench_policy_dataset");
    // Bulk load: no triggers (status, rollups, foreign keys: the data is generated consistent).
    tx.exec("SET session_replication_role = replica");
    tx.exec("SET synchronous_commit = off");
    tx.exec("SET maintenance_work_mem = '256MB'");
    // Patients with a mobile number; 3% in another zone (San Andrés has the same offset; a
    // Canary-Islands one does not).
    tx.exec(
        "INSERT INTO patients (id, full_name, phone_e164, time_zone) OVERRIDING SYSTEM VALUE "
        "SELECT g, 'Paciente ' || g, '+57' || (3100000000 + g), "
        "CASE WHEN g % 33 = 0 THEN 'Atlantic/Canary' END FROM generate_series(1, " +
        P + ") g");
    Say("  patients: " + P);
    // Calls in time order (as a live system writes them) over the 90 days up to the instant,
    // 07:00-19:00 Bogotá. 95% to a patient's number, 5% to a number with no patient row. The
    // last 40 are still live (one per number: the one-live-call index).
    const int64_t chunk = 400'000;
    const std::string n = std::to_string(calls);
    for (int64_t from = 1; from <= calls; from += chunk) {
      const int64_t to = std::min(calls, from + chunk - 1);
      tx.exec(
          "INSERT INTO elevenlabs_conversations (conversation_id, agent_id, agent_phone_number_id, "
          "patient_id, phone_number, status, max_duration_secs, dial_attempted_at, started_at, "
          "ended_at, duration_secs, call_successful, contact_purpose, created_at, updated_at) "
          "SELECT 'conv_p' || g, agent, 'phnum_bench', patient, "
          "COALESCE('+57' || (3100000000 + patient), '+57' || (3200000000 + (g % 50000))), "
          "status, 600, CASE WHEN status <> 'canceled' THEN created_at + interval '2 seconds' END, "
          "CASE WHEN dur IS NOT NULL THEN created_at + interval '8 seconds' END, "
          "CASE WHEN dur IS NOT NULL THEN created_at + interval '8 seconds' + "
          "make_interval(secs => dur) END, dur, "
          "CASE WHEN status = 'completed' THEN 'success' END, purpose, created_at, created_at "
          "FROM (SELECT g, created_at, agent, purpose, status, "
          "  CASE WHEN rx < 0.05 AND g <= " +
          n +
          " - 40 THEN NULL "
          "       WHEN g > " +
          n + " - 40 THEN 1 + (g % " + P +
          ")::int "
          "       ELSE 1 + floor(rq * " +
          P +
          ")::int END AS patient, "
          "  CASE WHEN status = 'completed' THEN 20 + floor(rd * rd * 560)::int "
          "       WHEN status = 'ended_manually' THEN floor(rd * 90)::int END AS dur "
          " FROM (SELECT g, rq, rd, rx, "
          "   CASE WHEN ra < 0.55 THEN 'confirmation' WHEN ra < 0.80 THEN 'reminder' "
          "        WHEN ra < 0.90 THEN 'survey' WHEN ra < 0.96 THEN 'collection' "
          "        ELSE 'promotion' END AS purpose, "
          "   CASE WHEN ra < 0.55 THEN 'agent_confirmaciones' WHEN ra < 0.80 THEN "
          "'agent_recordatorios' WHEN ra < 0.90 THEN 'agent_encuestas' WHEN ra < 0.96 THEN "
          "'agent_cobranza' ELSE 'agent_campanas' END AS agent, "
          "   CASE WHEN g > " +
          n +
          " - 40 THEN (ARRAY['dialing', 'initiated', 'ringing', "
          "'in_progress'])[1 + (g % 4)::int] "
          "        WHEN rs < 0.58 THEN 'completed' WHEN rs < 0.73 THEN 'no_answer' "
          "        WHEN rs < 0.81 THEN 'busy' WHEN rs < 0.87 THEN 'failed' "
          "        WHEN rs < 0.95 THEN 'ended_manually' ELSE 'canceled' END AS status, "
          "   CASE WHEN g > " +
          n + " - 40 THEN " + at + " - (" + n +
          " - g + 1) * "
          "interval '1 minute' "
          "   ELSE (date_trunc('day', (" +
          at + " - interval '" + days + " days' + ((g - 1) * " + days + " / " + n +
          ") * interval '1 day') AT TIME ZONE 'America/Bogota') "
          "      + interval '7 hours' + make_interval(secs => rt * 43200)) "
          "     AT TIME ZONE 'America/Bogota' END AS created_at "
          "  FROM (SELECT g, random() AS rs, random() AS ra, random() AS rd, random() AS rq, "
          "               random() AS rx, random() AS rt "
          "        FROM generate_series(" +
          std::to_string(from) + "::bigint, " + std::to_string(to) + "::bigint) g) r) s) t");
      Say("  loaded " + std::to_string(to) + " / " + n + " calls (" +
          std::to_string(static_cast<int>(Ms(Clock::now() - t0) / 1000)) + " s)");
    }
    // Contacts on other channels made by the clinic's systems (SMS reminders, WhatsApp, e-mail);
    // 10% read or replied to. A few by number only.
    tx.exec(
        "INSERT INTO contact_records (patient_id, phone_e164, channel, purpose, at, answered, "
        "outcome, source, external_ref, recorded_by, recorded_at) "
        "SELECT patient, CASE WHEN patient IS NULL OR rc < 0.9 THEN '+57' || (3100000000 + "
        "COALESCE(patient, g % " +
        P +
        ")) END, "
        "CASE WHEN rc < 0.6 THEN 'sms' WHEN rc < 0.9 THEN 'whatsapp' ELSE 'email' END, "
        "CASE WHEN ra < 0.6 THEN 'reminder' WHEN ra < 0.85 THEN 'confirmation' "
        "     WHEN ra < 0.95 THEN 'promotion' ELSE 'collection' END, "
        "t, rb < 0.1, 'delivered', 'crm', 'msg_' || g, 'bench', t "
        "FROM (SELECT g, rc, ra, rb, "
        "  CASE WHEN rx < 0.02 THEN NULL ELSE 1 + floor(rq * " +
        P +
        ")::int END AS patient, "
        "  " +
        at + " - make_interval(secs => (" + std::to_string(records) + " - g)::float8 / " +
        std::to_string(records) + " * " + days +
        " * 86400) AS t "
        "  FROM (SELECT g, random() AS rc, random() AS ra, random() AS rb, random() AS rq, "
        "               random() AS rx FROM generate_series(1, " +
        std::to_string(records) + ") g) r) s");
    Say("  loaded " + std::to_string(records) + " contact records (" +
        std::to_string(static_cast<int>(Ms(Clock::now() - t0) / 1000)) + " s)");
    // Consents: 40% of patients authorised a purpose on voice, some revoked it later.
    tx.exec(
        "INSERT INTO patient_consents (patient_id, purpose, channel, state, source, text_version, "
        "evidence_ref, recorded_at, recorded_by) "
        "SELECT g, (ARRAY['promotion', 'survey', 'collection'])[1 + (g % 3)], 'voice', "
        "'authorised', 'form', 'v1', 'doc_' || g, " +
        at +
        " - interval '200 days', 'bench' "
        "FROM generate_series(1, " +
        P + ") g WHERE g % 5 < 2");
    tx.exec(
        "INSERT INTO patient_consents (patient_id, purpose, channel, state, source, recorded_at, "
        "recorded_by) SELECT g, (ARRAY['promotion', 'survey', 'collection'])[1 + (g % 3)], "
        "'voice', 'revoked', 'call_outcome', " +
        at +
        " - interval '30 days', 'bench' "
        "FROM generate_series(1, " +
        P + ") g WHERE g % 50 = 1");
    // 1% opted out; 0.5% do not call.
    tx.exec(
        "INSERT INTO call_opt_outs (phone_e164, patient_id, reason, source) "
        "SELECT '+57' || (3100000000 + g), g, 'no me llamen más', 'patient_request' "
        "FROM generate_series(1, " +
        P + ") g WHERE g % 100 = 7");
    tx.exec("UPDATE patients SET do_not_call = true WHERE id % 200 = 11");
    // The RNE: one list loaded, 3% of the numbers on voice.
    tx.exec(
        "INSERT INTO excluded_number_lists (list_version, loaded_at, entries) "
        "VALUES ('2025-10-01', " +
        at + " - interval '27 days', 0)");
    tx.exec(
        "INSERT INTO excluded_numbers (phone_e164, channel, list_version) "
        "SELECT '+57' || (3100000000 + g), 'voice', '2025-10-01' "
        "FROM generate_series(1, " +
        P + ") g WHERE g % 33 = 5");
    tx.exec(
        "UPDATE excluded_number_lists SET entries = (SELECT count(*) FROM excluded_numbers) "
        "WHERE list_version = '2025-10-01'");
    tx.exec("SET session_replication_role = DEFAULT");
  }
  bench::FinishDataset(
      c, kMarker, rows, kGeneratorVersion,
      {"elevenlabs_conversations", "contact_records", "patients", "patient_consents"});
  Say("  load total: " + std::to_string(static_cast<int>(Ms(Clock::now() - t0) / 1000)) + " s");
}

// ---------------------------------------------------------------------------------------------
// Measuring

struct Lat {
  std::vector<double> ms;
  double Pct(double p) const { return bench::Percentile(ms, p); }
  double Max() const { return ms.empty() ? 0 : *std::max_element(ms.begin(), ms.end()); }
};

// Who is checked: a random patient with their number (95%), or a number with no patient row.
struct Subjects {
  explicit Subjects(int64_t patients, uint64_t seed) : patients(patients), rng(seed) {}
  call_gateway::PolicySubject Next(policy::Purpose* purpose) {
    static constexpr policy::Purpose kPurposes[] = {
        policy::Purpose::kConfirmation, policy::Purpose::kConfirmation,
        policy::Purpose::kReminder,     policy::Purpose::kSurvey,
        policy::Purpose::kPromotion,    policy::Purpose::kCollection};
    *purpose = kPurposes[rng() % 6];
    call_gateway::PolicySubject s;
    if (rng() % 20 == 0) {
      s.phone_e164 = "+57" + std::to_string(3200000000LL + static_cast<int64_t>(rng() % 50000));
    } else {
      const int p = 1 + static_cast<int>(rng() % patients);
      s.patient_id = p;
      s.phone_e164 = "+57" + std::to_string(3100000000LL + p);
    }
    return s;
  }
  int64_t patients;
  std::mt19937_64 rng;
};

void Print(const std::string& name, const Lat& l, double seconds) {
  std::printf("  %-44s p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms  %8.0f /s  (n=%zu)\n", name.c_str(),
              l.Pct(0.50), l.Pct(0.99), l.Max(), l.ms.size() / seconds, l.ms.size());
  std::fflush(stdout);
}

struct Result {
  Lat read, decide;
  double read_s = 0, decide_s = 0;
  std::map<std::string, int> outcomes;
  int errors = 0;
};

// `clients` threads, each `iterations` reads then `iterations` decisions, over a pool of
// `clients` connections; every latency recorded.
Result Run(const std::string& url, int64_t patients, int clients, int iterations) {
  common::PgPool pool({.url = url, .size = clients, .application_name = "policy-bench"});
  call_gateway::CallStore store(pool);
  call_gateway::ContactPolicy policy(store);
  const absl::Time at = [] {
    absl::Time t;
    std::string err;
    absl::ParseTime("%Y-%m-%d %H:%M:%S%Ez", std::string(kAtUtc) + ":00", &t, &err);
    return t;
  }();
  // Warm up: every connection opened, the statement prepared on each, past the plan cache's
  // first five custom plans.
  {
    std::vector<std::thread> ts;
    for (int c = 0; c < clients; ++c) {
      ts.emplace_back([&, c] {
        Subjects s(patients, 1000 + c);
        policy::Purpose pu = policy::Purpose::kConfirmation;
        for (int i = 0; i < 300; ++i)
          (void)policy.Decide(s.Next(&pu), pu, policy::Channel::kVoice, at);
      });
    }
    for (auto& t : ts) t.join();
  }
  Result res;
  std::vector<Lat> reads(clients), decides(clients);
  std::vector<std::map<std::string, int>> outcomes(clients);
  std::atomic<int> errors{0};
  auto phase = [&](bool whole) {
    std::vector<std::thread> ts;
    const auto t0 = Clock::now();
    for (int c = 0; c < clients; ++c) {
      ts.emplace_back([&, c] {
        Subjects s(patients, (whole ? 7000 : 3000) + c);
        Lat& lat = whole ? decides[c] : reads[c];
        lat.ms.reserve(iterations);
        policy::Purpose pu = policy::Purpose::kConfirmation;
        for (int i = 0; i < iterations; ++i) {
          const auto subject = s.Next(&pu);
          const auto a = Clock::now();
          if (whole) {
            auto d = policy.Decide(subject, pu, policy::Channel::kVoice, at);
            lat.ms.push_back(Ms(Clock::now() - a));
            if (!d.ok()) {
              errors++;
            } else {
              outcomes[c][d->decision.allowed ? "allowed" : d->decision.rule]++;
            }
          } else {
            auto in = store.LoadPolicyInputs(subject, policy::Channel::kVoice, at, nullptr);
            lat.ms.push_back(Ms(Clock::now() - a));
            if (!in.ok()) errors++;
          }
        }
      });
    }
    for (auto& t : ts) t.join();
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  res.read_s = phase(false);
  res.decide_s = phase(true);
  for (int c = 0; c < clients; ++c) {
    res.read.ms.insert(res.read.ms.end(), reads[c].ms.begin(), reads[c].ms.end());
    res.decide.ms.insert(res.decide.ms.end(), decides[c].ms.begin(), decides[c].ms.end());
    for (const auto& [k, v] : outcomes[c]) res.outcomes[k] += v;
  }
  res.errors = errors.load();
  return res;
}

// The plan the prepared statement runs with, on a connection that has run it many times.
void ExplainPrepared(const std::string& url, int64_t patients) {
  common::PgPool pool({.url = url, .size = 1, .application_name = "policy-bench"});
  call_gateway::CallStore store(pool);
  absl::Time at;
  std::string err;
  absl::ParseTime("%Y-%m-%d %H:%M:%S%Ez", std::string(kAtUtc) + ":00", &at, &err);
  Subjects s(patients, 42);
  policy::Purpose pu = policy::Purpose::kConfirmation;
  for (int i = 0; i < 50; ++i)
    (void)store.LoadPolicyInputs(s.Next(&pu), policy::Channel::kVoice, at, nullptr);
  auto lease = pool.Acquire();
  if (!lease.ok()) return;
  pqxx::nontransaction tx(**lease);
  auto ps = tx.exec(
      "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
      "WHERE name = 'call_gateway.policy_inputs'");
  if (ps.size() == 1) {
    Say("  prepared statement call_gateway.policy_inputs on this connection: generic plans " +
        ps[0][0].as<std::string>() + ", custom plans " + ps[0][1].as<std::string>());
  }
  const int p = static_cast<int>(patients / 2 + 1);
  const std::string phone = "+57" + std::to_string(3100000000LL + p);
  Say("  EXPLAIN (ANALYZE, BUFFERS) EXECUTE \"call_gateway.policy_inputs\"(" + std::to_string(p) +
      ", '" + phone + "', 'voice', extract(epoch FROM timestamptz '" + kAtUtc + "')):");
  auto plan = tx.exec("EXPLAIN (ANALYZE, BUFFERS) EXECUTE \"call_gateway.policy_inputs\"(" +
                      std::to_string(p) + ", '" + phone + "', 'voice', extract(epoch FROM " +
                      "timestamptz '" + kAtUtc + "'))");
  for (const auto& r : plan) Say("    " + r[0].as<std::string>());
}

int Main(const Options& opt) {
  const char* admin = std::getenv("DATABASE_URL");
  if (admin == nullptr || *admin == '\0' || opt.db.empty()) {
    std::fprintf(stderr, "DATABASE_URL and --db are needed (scripts/bench.sh policy sets them)\n");
    return 2;
  }
  const std::string url = ReplaceDb(admin, opt.db);
  const int64_t patients = Patients(opt.rows);
  Say("== contact-policy benchmark: " + std::to_string(opt.rows) + " ledger rows (" +
      std::to_string(opt.rows * 8 / 10) + " calls, " +
      std::to_string(opt.rows - opt.rows * 8 / 10) + " contact records) over " +
      std::to_string(kDays) + " days, " + std::to_string(patients) + " patients, database " +
      opt.db + "; decisions at " + kAtUtc);
  {
    pqxx::connection c(url);
    if (!opt.reload && DatasetReady(c, opt.rows)) {
      Say("  reusing the data set loaded earlier (--reload to load again)");
    } else {
      Load(c, opt.rows);
    }
    pqxx::nontransaction tx(c);
    tx.exec("ANALYZE");
    // The profile in force: the built-in default, stored, as a deployment has it.
    common::PgPool pool({.url = url, .size = 1});
    call_gateway::CallStore store(pool);
    call_gateway::ContactPolicy policy(store);
    if (auto s = policy.RegisterDefaultProfile(); !s.ok()) {
      std::fprintf(stderr, "cannot register the default profile: %s\n",
                   std::string(s.message()).c_str());
      return 1;
    }
    const auto& d = policy::DefaultProfile();
    tx.exec_params(
        "INSERT INTO contact_policy_settings (profile_id, version, updated_by) "
        "VALUES ($1, $2, 'bench') ON CONFLICT (singleton) DO NOTHING",
        d.id, d.version);
    auto sizes = tx.exec1(
        "SELECT (SELECT count(*) FROM elevenlabs_conversations), "
        "(SELECT count(*) FROM contact_records), "
        "(SELECT count(*) FROM contact_ledger WHERE at > timestamptz '" +
        std::string(kAtUtc) +
        "' - interval '8 days'), "
        "pg_size_pretty(pg_total_relation_size('elevenlabs_conversations')), "
        "(SELECT string_agg(indexname, ', ' ORDER BY indexname) FROM pg_indexes "
        " WHERE tablename = 'elevenlabs_conversations' AND indexdef ~ 'patient_id|phone_number')");
    Say("  calls " + sizes[0].as<std::string>() + ", contact records " +
        sizes[1].as<std::string>() + ", ledger rows in the last 8 days " +
        sizes[2].as<std::string>() + "; elevenlabs_conversations " + sizes[3].as<std::string>() +
        " with indexes " + sizes[4].as<std::string>());
  }
  bool met = true;
  for (int clients : opt.clients) {
    Say("-- " + std::to_string(clients) + (clients == 1 ? " client" : " clients") + ", " +
        std::to_string(opt.iterations) + " reads and " + std::to_string(opt.iterations) +
        " decisions each:");
    Result r = Run(url, patients, clients, opt.iterations);
    Print("LoadPolicyInputs (the database read)", r.read, r.read_s);
    Print("ContactPolicy::Decide (read + decision)", r.decide, r.decide_s);
    std::string mix;
    for (const auto& [k, v] : r.outcomes)
      mix += (mix.empty() ? "" : ", ") + k + " " + std::to_string(v);
    Say("  decisions: " + mix + (r.errors ? "; ERRORS " + std::to_string(r.errors) : ""));
    if (clients == 1) met = r.decide.Pct(0.99) < 1.0 && r.errors == 0;
  }
  ExplainPrepared(url, patients);
  Say(std::string("target (Decide p99 under 1 ms, one client, including the database read): ") +
      (met ? "MET" : "NOT MET"));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      const size_t n = std::strlen(name);
      return a.compare(0, n, name) == 0 ? a.c_str() + n : nullptr;
    };
    if (const char* v = value("--rows=")) {
      opt.rows = std::atoll(v);
    } else if (const char* v = value("--db=")) {
      opt.db = v;
    } else if (const char* v = value("--iterations=")) {
      opt.iterations = std::atoi(v);
    } else if (const char* v = value("--clients=")) {
      opt.clients.clear();
      for (const char* p = v; *p;) {
        opt.clients.push_back(std::max(1, std::atoi(p)));
        while (*p && *p != ',') ++p;
        if (*p == ',') ++p;
      }
    } else if (a == "--reload") {
      opt.reload = true;
    } else {
      std::fprintf(stderr,
                   "usage: %s --db=NAME [--rows=N] [--iterations=N] [--clients=1,2,4] "
                   "[--reload]\n",
                   argv[0]);
      return 2;
    }
  }
  try {
    return Main(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "policy bench: %s\n", e.what());
    return 1;
  }
}
