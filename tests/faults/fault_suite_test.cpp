// Fault injection (ctest label "faults"): the real service binaries (call-gateway, webhook-ingest)
// and the ElevenLabs simulator as processes, on a PostgreSQL cluster of their own, under load:
//   - a dialler placing calls to distinct patients, retrying each with its Idempotency-Key until
//     it gets an answer (as a clinic's client does across outages);
//   - signed webhooks for known conversations (transcriptions, some with audio), sent by a
//     sender that retries until it hears 200, plus deliberate duplicates;
//   - poison events: values ElevenLabs may plausibly send (kept as data) and values that cannot
//     be applied (quarantined, holding back only their own conversation);
//   - hostile connections: TCP connections that never start TLS and idle TLS connections, from
//     other source addresses, reopened as soon as they are closed;
//   - a campaign dialling its recipients through call-gateway's own dispatcher;
// while PostgreSQL is stopped in immediate mode (a crash) and restarted, and webhook-ingest and
// call-gateway are killed with SIGKILL and restarted, round after round.
//
// At the end, once everything has settled, a ledger is checked: every acknowledged event is
// stored and applied once (none twice: turns, audio, rollups), no patient was dialled twice, no
// call or Idempotency-Key is left unsettled, nothing is left unmatched or unpublished but the
// quarantined poison (and nothing else is quarantined), the campaign completed with every
// recipient dialled once and none lost (the simulator's per-number counters), and no phone number, patient name or
// secret is in any service's log or PostgreSQL's.
//
// Size: FAULTS_EVENTS (webhook events, default 2,000), FAULTS_CRASHES (crashes of each kind,
// default 2), FAULTS_CALLS (patients dialled, default 30). The long run in docs/testing.md uses
// FAULTS_EVENTS=50000 FAULTS_CRASHES=6. The figures are printed on one "FAULTS" line.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <thread>

#include "http_test_server.h"
#include "ingest_support.h"
#include "outcall/common/crypto.h"
#include "outcall/common/http_client.h"
#include "outcall/common/jwt.h"
#include "outcall/common/strings.h"
#include "outcall/elevenlabs/webhook_signature.h"
#include "outcall/v1/call_gateway.grpc.pb.h"
#include "outcall/v1/campaigns.grpc.pb.h"
#include "test_database.h"

namespace outcall {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using common::Cat;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// Runs a shell command; its standard output (trimmed). Exit status in *rc.
std::string Shell(const std::string& cmd, int* rc = nullptr) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    if (rc) *rc = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = pclose(p);
  if (rc) *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// The fault suite's own PostgreSQL cluster (scripts/pg.sh, cluster "faults"): the suite crashes
// it, so it must not be the one the other tests share.
class Cluster {
 public:
  Cluster() {
    Run("destroy");  // leftovers of an interrupted run
    int rc = 0;
    url_ = Shell(Cat(Prefix(), " start faults"), &rc);
    ok_ = rc == 0 && url_.starts_with("postgresql://");
    pgpass_ = Cat(OUTCALL_SOURCE_DIR, "/.local/pg/faults/pgpass");
    log_ = Shell(Cat(Prefix(), " log faults"));
  }
  ~Cluster() { Run("destroy"); }
  bool ok() const { return ok_; }
  const std::string& url() const { return url_; }
  const std::string& pgpass() const { return pgpass_; }
  const std::string& log() const { return log_; }
  // The URL a service uses: its own role, as deployed.
  std::string AsRole(std::string_view role) const {
    return Cat(url_, "?options=-c%20role%3D", role);
  }
  bool Crash() { return Run("crash") == 0; }
  bool Start() { return Run("start") == 0; }

 private:
  static std::string Prefix() {
    return Cat("env -u DATABASE_URL -u PGPASSFILE bash ", OUTCALL_SOURCE_DIR, "/scripts/pg.sh");
  }
  int Run(const std::string& cmd) {
    int rc = 0;
    Shell(Cat(Prefix(), " ", cmd, " faults >/dev/null 2>&1"), &rc);
    return rc;
  }
  bool ok_ = false;
  std::string url_, pgpass_, log_;
};

// A service (or the simulator) as a child process; every incarnation appends to one log file.
class Process {
 public:
  Process(std::string name, std::string binary, std::map<std::string, std::string> env,
          std::string log)
      : name_(std::move(name)),
        binary_(std::move(binary)),
        env_(std::move(env)),
        log_(std::move(log)) {}
  ~Process() { Stop(); }

  void Start() {
    std::vector<std::string> kv;
    for (const auto& [k, v] : env_) kv.push_back(k + "=" + v);
    pid_ = fork();
    if (pid_ == 0) {
      const int fd = open(log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      dup2(fd, 1);
      dup2(fd, 2);
      std::vector<char*> envp;
      for (auto& s : kv) envp.push_back(s.data());
      envp.push_back(nullptr);
      char* argv[] = {const_cast<char*>(binary_.c_str()), nullptr};
      execve(binary_.c_str(), argv, envp.data());
      _exit(127);
    }
  }
  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // SIGTERM, then SIGKILL after `grace`; the exit status (-1 when killed by a signal).
  int Stop(std::chrono::seconds grace = seconds(15)) {
    if (pid_ <= 0) return 0;
    kill(pid_, SIGTERM);
    int status = 0;
    const auto limit = Clock::now() + grace;
    while (Clock::now() < limit) {
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(milliseconds(50));
    }
    Kill();
    return -2;
  }
  // False when the process exited on its own (a crash the suite did not cause).
  bool Alive() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }
  const std::string& name() const { return name_; }
  const std::string& log() const { return log_; }

 private:
  std::string name_, binary_;
  std::map<std::string, std::string> env_;
  std::string log_;
  pid_t pid_ = -1;
};

std::map<std::string, std::string> Binaries() {
  std::map<std::string, std::string> out;
  for (auto part : common::Split(OUTCALL_FAULT_BINARIES, ',')) {
    std::string path(part);
    out[path.substr(path.rfind('/') + 1)] = path;
  }
  return out;
}

bool IsFinal(const std::string& status) {
  static const std::set<std::string> kFinal = {"completed", "failed",         "no_answer",
                                               "busy",      "ended_manually", "canceled"};
  return kFinal.count(status) > 0;
}

// One synthetic conversation: a call the clinic placed earlier (its row is inserted before the
// run), whose webhooks the sender delivers.
struct Synthetic {
  std::string conversation_id;
  std::string phone;
  int turns = 0;
  int duration = 0;
  bool audio = false;
};

struct Poison {
  std::string conversation_id;
  std::string phone;
  std::string body;
  bool quarantine = false;  // cannot be applied: must be quarantined with a reason
  std::string what;
};

struct Event {
  std::string type;
  std::string conversation_id;
  std::string body;
};

class FaultSuite : public ::testing::Test {
 protected:
  static constexpr const char* kSurnameCalls = "Quintanilla";
  static constexpr const char* kSurnameSynthetic = "Arizmendi";

  void SetUp() override {
    events_ = EnvInt("FAULTS_EVENTS", 2000);
    crashes_ = EnvInt("FAULTS_CRASHES", 2);
    calls_ = EnvInt("FAULTS_CALLS", 30);
    dir_ = Cat(::testing::TempDir(), "/outcall-faults-", common::RandomHex(4));
    fs::create_directories(dir_ + "/spool");
    ASSERT_TRUE(cluster_.ok()) << "the faults PostgreSQL cluster did not start";
    int rc = 0;
    const std::string migrated =
        Shell(Cat("DATABASE_URL='", cluster_.url(), "' PGPASSFILE='", cluster_.pgpass(), "' ",
                  OUTCALL_MIGRATE_BINARY, " 2>&1"),
              &rc);
    ASSERT_EQ(rc, 0) << migrated;
    // The faults run at any hour: the test contact profile (tests/support/profiles).
    const std::string profiled = Shell(
        Cat("PGPASSFILE='", cluster_.pgpass(), "' psql '", cluster_.url(),
            "' -XqAt -v ON_ERROR_STOP=1 -v doc=\"$(cat '", OUTCALL_SOURCE_DIR,
            "/tests/support/profiles/test_any_hour.json')\" -f '", OUTCALL_SOURCE_DIR,
            "/tests/support/profiles/activate.sql' 2>&1"),
        &rc);
    ASSERT_EQ(rc, 0) << profiled;
    tls_ = testing::MakeSelfSignedCert();
    ASSERT_FALSE(tls_.cert.empty());

    jwt_secret_ = common::RandomHex(32);
    webhook_secret_ = "wsec_" + common::RandomHex(16);
    api_key_ = "sk_fault_" + common::RandomHex(16);
    twilio_token_ = common::RandomHex(16);
    pg_password_ = testing::ReadFile(Cat(OUTCALL_SOURCE_DIR, "/.local/pg/faults/password"));
    while (!pg_password_.empty() && pg_password_.back() == '\n') pg_password_.pop_back();

    sim_port_ = testing::FreeLoopbackPort();
    gateway_port_ = testing::FreeLoopbackPort();
    ingest_grpc_port_ = testing::FreeLoopbackPort();
    webhook_port_ = testing::FreeLoopbackPort();
    auto bins = Binaries();
    const std::string sim_url = Cat("http://127.0.0.1:", sim_port_);
    const std::string account = "AC" + common::RandomHex(16);
    std::map<std::string, std::string> common_env = {
        {"PGPASSFILE", cluster_.pgpass()},
        {"METRICS_LISTEN_ADDRESS", "off"},
        {"JWT_ISSUER", "outcall-faults"},
        {"JWT_AUDIENCE", "outcall"},
        {"JWT_HS256_SECRET", jwt_secret_},
        {"LOG_FORMAT", "json"},
        {"SHUTDOWN_GRACE_SECS", "3"},
        {"ELEVENLABS_API_KEY", api_key_},
        {"ELEVENLABS_BASE_URL", sim_url},
        {"ELEVENLABS_AGENT_ID", "agent_sim_confirmaciones"},
        {"ELEVENLABS_AGENT_PHONE_NUMBER_ID", "phnum_sim_twilio"},
        {"TWILIO_ACCOUNT_SID", account},
        {"TWILIO_AUTH_TOKEN", twilio_token_},
        {"TWILIO_BASE_URL", sim_url},
    };
    auto sim_env = common_env;
    sim_env["SIM_LISTEN_ADDRESS"] = Cat("127.0.0.1:", sim_port_);
    sim_env["ELEVENLABS_WEBHOOK_URL"] =
        Cat("https://127.0.0.1:", webhook_port_, "/api/webhooks/elevenlabs");
    sim_env["ELEVENLABS_WEBHOOK_SECRET"] = webhook_secret_;
    sim_env["SIM_WEBHOOK_CA_FILE"] = tls_.cert;
    sim_env["SIM_TIME_SCALE"] = "10";  // a 10 s call lasts one real second
    sim_env["SIM_MAX_CONCURRENT_CALLS"] = "1000";
    sim_env["SIM_WEBHOOK_TIMEOUT_SECS"] = "5";
    sim_ = std::make_unique<Process>("elevenlabs-sim", bins.at("elevenlabs-sim"), sim_env,
                                     dir_ + "/elevenlabs-sim.log");

    auto gw_env = common_env;
    gw_env["DATABASE_URL"] = cluster_.AsRole("outcall_gateway");
    gw_env["GRPC_LISTEN_ADDRESS"] = Cat("127.0.0.1:", gateway_port_);
    gw_env["ELEVENLABS_MAX_CALL_DURATION"] = "10";
    gw_env["ELEVENLABS_TIMEOUT_SECS"] = "3";
    gw_env["RECONCILE_INTERVAL_SECS"] = "1";
    gw_env["RECONCILE_DIALING_GRACE_SECS"] = "5";
    gw_env["RECONCILE_OPEN_GRACE_SECS"] = "2";
    gw_env["RECONCILE_MAX_BACKOFF_SECS"] = "4";
    gw_env["RECONCILE_AUDIO_GRACE_SECS"] = "3";  // a lost recording is fetched soon
    gw_env["SAVE_CALL_AUDIO"] = "true";
    gw_env["CAMPAIGN_TICK_MS"] = "200";
    gw_env["CAMPAIGN_LEASE_SECS"] = "10";  // a killed replica's claims come back soon
    gw_env["ELEVENLABS_MAX_CONCURRENT_CALLS"] = "200";
    gateway_ = std::make_unique<Process>("call-gateway", bins.at("call-gateway"), gw_env,
                                         dir_ + "/call-gateway.log");

    auto in_env = common_env;
    in_env["DATABASE_URL"] = cluster_.AsRole("outcall_ingest");
    in_env["GRPC_LISTEN_ADDRESS"] = Cat("127.0.0.1:", ingest_grpc_port_);
    in_env["WEBHOOK_LISTEN_ADDRESS"] = Cat("127.0.0.1:", webhook_port_);
    in_env["TLS_CERT_FILE"] = tls_.cert;
    in_env["TLS_KEY_FILE"] = tls_.key;
    in_env["ELEVENLABS_WEBHOOK_SECRET"] = webhook_secret_;
    in_env["WEBHOOK_SPOOL_DIR"] = dir_ + "/spool";
    in_env["CALL_GATEWAY_ADDRESS"] = Cat("127.0.0.1:", gateway_port_);
    in_env["PUBLISH_MIN_BACKOFF_MS"] = "50";
    in_env["PUBLISH_POLL_INTERVAL_MS"] = "200";
    in_env["PUBLISH_MAX_BACKOFF_SECS"] = "2";
    in_env["SAVE_CALL_AUDIO"] = "true";
    ingest_ = std::make_unique<Process>("webhook-ingest", bins.at("webhook-ingest"), in_env,
                                        dir_ + "/webhook-ingest.log");

    sim_->Start();
    gateway_->Start();
    ingest_->Start();
    ASSERT_TRUE(WaitHttp(sim_url + "/__sim/health")) << testing::ReadFile(sim_->log());
    ASSERT_TRUE(WaitGateway()) << testing::ReadFile(gateway_->log());
    ASSERT_TRUE(WaitWebhookPort()) << testing::ReadFile(ingest_->log());
  }

  void TearDown() override {
    hold_stop_ = true;
    for (auto* p : {ingest_.get(), gateway_.get(), sim_.get()}) {
      if (p) p->Stop(seconds(10));
    }
    if (HasFailure() || std::getenv("FAULTS_KEEP")) {
      std::printf("fault suite logs kept in %s\n", dir_.c_str());
      // PostgreSQL's log goes with the cluster: keep a copy.
      std::error_code ec;
      fs::copy_file(cluster_.log(), dir_ + "/postgres.log", fs::copy_options::overwrite_existing,
                    ec);
    } else {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
    testing::RemoveTlsFiles(tls_);
  }

  // ---- plumbing ------------------------------------------------------------------------------

  static bool WaitHttp(const std::string& url, int secs = 30) {
    const auto limit = Clock::now() + seconds(secs);
    while (Clock::now() < limit) {
      common::HttpRequest req;
      req.url = url;
      req.timeout = absl::Seconds(2);
      auto r = common::HttpClient().Send(req);
      if (r.ok() && r->status == 200) return true;
      std::this_thread::sleep_for(milliseconds(100));
    }
    return false;
  }
  std::unique_ptr<v1::CallGateway::Stub> GatewayStub() {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    return v1::CallGateway::NewStub(grpc::CreateCustomChannel(
        Cat("127.0.0.1:", gateway_port_), grpc::InsecureChannelCredentials(), args));
  }
  void Auth(grpc::ClientContext& ctx, int deadline_secs = 10) {
    common::JwtClaims c;
    c.issuer = "outcall-faults";
    c.subject = "clinic-app";
    c.audiences = {"outcall"};
    c.permissions = {"calls:read", "calls:write", "campaigns:write"};
    ctx.AddMetadata("authorization", "Bearer " + *common::SignJwt("HS256", jwt_secret_, c));
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(deadline_secs));
  }
  bool WaitGateway(int secs = 60) {
    auto stub = GatewayStub();
    const auto limit = Clock::now() + seconds(secs);
    while (Clock::now() < limit && gateway_->Alive()) {
      grpc::ClientContext ctx;
      Auth(ctx, 1);
      v1::GetConversationRequest req;
      req.set_conversation_id("conv_probe");
      v1::GetConversationResponse resp;
      const auto s = stub->GetConversation(&ctx, req, &resp);
      if (s.error_code() != grpc::StatusCode::UNAVAILABLE &&
          s.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
        return true;
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    return false;
  }
  bool WaitWebhookPort(int secs = 60) {
    const auto limit = Clock::now() + seconds(secs);
    while (Clock::now() < limit && ingest_->Alive()) {
      ingest_testing::HttpsClient c(webhook_port_, tls_.cert);
      if (c.connected()) return true;
      std::this_thread::sleep_for(milliseconds(100));
    }
    return false;
  }
  std::string SimGet(const std::string& path, bool api = false) {
    common::HttpRequest req;
    req.url = Cat("http://127.0.0.1:", sim_port_, path);
    if (api) req.headers.emplace_back("xi-api-key", api_key_);
    auto r = common::HttpClient().Send(req);
    return r.ok() && r->status == 200 ? r->body : "";
  }
  // A fresh admin connection each time: the cluster restarts under the suite.
  pqxx::result Query(const std::string& sql) {
    pqxx::connection conn(Cat(cluster_.url(), "?passfile=", cluster_.pgpass()));
    pqxx::nontransaction tx(conn);
    return tx.exec(sql);
  }
  int64_t Count(const std::string& sql) {
    try {
      return Query(sql)[0][0].as<int64_t>();
    } catch (const std::exception&) {
      return -1;
    }
  }

  // ---- load ----------------------------------------------------------------------------------

  std::string Sign(const std::string& body) const {
    return elevenlabs::SignElevenLabsWebhook(webhook_secret_, std::time(nullptr), body);
  }

  static std::string PhoneFor(int prefix, int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "+57%d%07d", prefix, i);
    return buf;
  }
  static std::string NameFor(const char* surname, int i) {
    // A letter code, so that no digit of the name could be taken for a phone number.
    std::string code;
    for (int n = i; code.size() < 3; n /= 26) code.push_back(static_cast<char>('a' + n % 26));
    return Cat("Zoraida ", code, " ", surname);
  }

  std::string TranscriptionBody(const std::string& conv, const std::string& phone,
                                const std::string& name, int turns, int duration,
                                const std::string& extra_transcript = "",
                                const std::string& metadata_extra = "",
                                const std::string& status = "done",
                                const std::string& successful = "success") const {
    const int64_t now = std::time(nullptr);
    std::string transcript = "[";
    for (int t = 0; t < turns; ++t) {
      if (t) transcript += ",";
      transcript += Cat(R"({"role":")", t % 2 ? "user" : "agent", R"(","message":")",
                        t == 0 ? Cat("Hola ", name, ", le llamamos de la clinica") : "Si, confirmo",
                        R"(","time_in_call_secs":)", t * 3, "}");
    }
    transcript += extra_transcript + "]";
    if (extra_transcript == "!") transcript = R"("no es una lista")";
    return Cat(R"({"type":"post_call_transcription","event_timestamp":)", now,
               R"(,"data":{"agent_id":"agent_sim_confirmaciones","conversation_id":")", conv,
               R"(","status":")", status, R"(","transcript":)", transcript,
               R"(,"metadata":{"start_time_unix_secs":)", now - duration - 5,
               R"(,"call_duration_secs":)", duration, R"(,"cost":)", duration * 7, metadata_extra,
               R"(,"phone_call":{"direction":"outbound","type":"twilio","external_number":")",
               phone, R"(","agent_number":"+15550001111","call_sid":"CA)", common::RandomHex(16),
               R"("}},"analysis":{"call_successful":")", successful,
               R"(","transcript_summary":"El paciente confirma la cita.",)",
               R"("evaluation_criteria_results":{},"data_collection_results":{}},)",
               R"("conversation_initiation_client_data":{"dynamic_variables":{"patient_name":")",
               name, R"("}}}})");
  }
  static std::string AudioBytes(int i) {
    std::string audio(6 * 1024, '\0');
    uint32_t x = 2654435761u * static_cast<uint32_t>(i + 1);
    for (auto& ch : audio) {
      x = x * 1664525u + 1013904223u;
      ch = static_cast<char>(x >> 24);
    }
    return audio;
  }
  std::string AudioBody(const std::string& conv, int i) const {
    return Cat(R"({"type":"post_call_audio","event_timestamp":)", std::time(nullptr),
               R"(,"data":{"agent_id":"agent_sim_confirmaciones","conversation_id":")", conv,
               R"(","full_audio":")", common::Base64Encode(AudioBytes(i)), R"("}})");
  }

  // Inserts the synthetic calls (open, long maximum: the reconciler leaves them to their
  // webhooks) and builds their events, audio every tenth.
  void PrepareSynthetic() {
    int transcriptions = 0;
    for (int j = 0; transcriptions + static_cast<int>(synthetic_.size() / 10) < events_; ++j) {
      Synthetic s;
      s.conversation_id = Cat("conv_fault_", j);
      s.phone = PhoneFor(320, j);
      s.turns = 2 + j % 4;
      s.duration = 10 + j % 50;
      s.audio = j % 10 == 0;
      synthetic_.push_back(s);
      ++transcriptions;
    }
    InsertOpenCalls(synthetic_.size(), "conv_fault_", 320, kSurnameSynthetic);
    for (size_t j = 0; j < synthetic_.size(); ++j) {
      const auto& s = synthetic_[j];
      planned_.push_back({"post_call_transcription", s.conversation_id,
                          TranscriptionBody(s.conversation_id, s.phone,
                                            NameFor(kSurnameSynthetic, j), s.turns, s.duration)});
      if (s.audio)
        planned_.push_back({"post_call_audio", s.conversation_id, AudioBody(s.conversation_id, j)});
    }
    // Poison, spread through the load: six kinds, at least once each, one more per crash round.
    const int poisons = 6 * std::max(1, crashes_ / 2);
    InsertOpenCalls(poisons, "conv_poison_", 330, kSurnameSynthetic);
    for (int k = 0; k < poisons; ++k) {
      Poison p;
      p.conversation_id = Cat("conv_poison_", k);
      p.phone = PhoneFor(330, k);
      const std::string name = NameFor(kSurnameSynthetic, 100000 + k);
      switch (k % 6) {
        case 0:
          p.what = "negative duration";
          p.quarantine = true;
          p.body = TranscriptionBody(p.conversation_id, p.phone, name, 2, 5);
          p.body =
              common::Cat(p.body.substr(0, p.body.find("\"call_duration_secs\":")),
                          "\"call_duration_secs\":-5", p.body.substr(p.body.find(",\"cost\"")));
          break;
        case 1:
          p.what = "transcript that is not a list";
          p.quarantine = true;
          p.body = TranscriptionBody(p.conversation_id, p.phone, name, 0, 5, "!");
          break;
        case 2:
          p.what = "negative time in call";
          p.quarantine = true;
          p.body = TranscriptionBody(p.conversation_id, p.phone, name, 1, 5,
                                     R"(,{"role":"user","message":"x","time_in_call_secs":-3})");
          break;
        case 3:
          p.what = "role tool";
          p.body =
              TranscriptionBody(p.conversation_id, p.phone, name, 2, 5,
                                R"(,{"role":"tool","message":"lookup","time_in_call_secs":4})");
          break;
        case 4:
          p.what = "status weird";
          p.body = TranscriptionBody(p.conversation_id, p.phone, name, 2, 5, "", "", "weird");
          break;
        default:
          p.what = "call_successful maybe";
          p.body =
              TranscriptionBody(p.conversation_id, p.phone, name, 2, 5, "", "", "done", "maybe");
          break;
      }
      poison_.push_back(p);
      // Spread through the plan.
      const size_t at = planned_.size() * (k + 1) / (poisons + 1);
      planned_.insert(planned_.begin() + at,
                      {"post_call_transcription", p.conversation_id, p.body});
    }
  }

  void InsertOpenCalls(size_t n, const std::string& prefix, int phone_prefix, const char* surname) {
    // Values as bind parameters: a statement slow enough for PostgreSQL's log
    // (log_min_duration_statement) is logged without them, as the services' are.
    pqxx::connection conn(Cat(cluster_.url(), "?passfile=", cluster_.pgpass()));
    pqxx::nontransaction tx(conn);
    tx.exec_params(
        "INSERT INTO elevenlabs_conversations (conversation_id, agent_id, phone_number, "
        "patient_name, status, started_at, dial_attempted_at, max_duration_secs) SELECT $1 || g, "
        "'agent_sim_confirmaciones', $2 || lpad(g::text, 7, '0'), $3, 'in_progress', now(), "
        "now(), 7200 FROM generate_series(0, $4::int - 1) g",
        prefix, Cat("+57", phone_prefix), Cat("Zoraida ", surname), static_cast<int>(n));
  }

  // Sends planned events from `next_` on, paced to last about `window`; retries each until 200
  // (a lost answer is sent again: a duplicate the inbox must absorb) and sends one in 50 twice.
  void Sender(std::chrono::milliseconds window) {
    std::unique_ptr<ingest_testing::HttpsClient> client;
    const auto start = Clock::now();
    const double per_event_ms =
        static_cast<double>(window.count()) / std::max<size_t>(1, planned_.size());
    for (size_t i = next_++; i < planned_.size(); i = next_++) {
      const auto due = start + milliseconds(static_cast<int64_t>(per_event_ms * i));
      std::this_thread::sleep_until(due);
      const Event& ev = planned_[i];
      const int copies = i % 50 == 7 ? 2 : 1;
      for (int copy = 0; copy < copies; ++copy) {
        for (int attempt = 0;; ++attempt) {
          if (!client || !client->connected()) {
            client = std::make_unique<ingest_testing::HttpsClient>(webhook_port_, tls_.cert);
          }
          ingest_testing::HttpReply r;
          if (client->connected()) {
            r = client->Request(
                "POST", "/api/webhooks/elevenlabs",
                {{"Content-Type", "application/json"}, {"ElevenLabs-Signature", Sign(ev.body)}},
                ev.body);
          }
          if (r.status == 200) {
            if (attempt > 0) ++redelivered_;
            if (copy > 0) ++duplicates_;
            break;
          }
          ++refused_;
          if (r.status != 0 && r.status != 503) {
            std::lock_guard lock(mu_);
            unexpected_.push_back(Cat(ev.type, " ", ev.conversation_id, ": HTTP ", r.status, " ",
                                      r.body.substr(0, 200)));
            break;
          }
          client.reset();
          if (stop_senders_) return;
          std::this_thread::sleep_for(milliseconds(100));
        }
      }
      ++acknowledged_;
    }
  }

  // Dials patient i (paced through `window`) until an answer that is not a transient failure,
  // always with the same key.
  void Dialler(std::chrono::milliseconds window) {
    auto stub = GatewayStub();
    const auto start = Clock::now();
    for (int i = next_call_++; i < calls_; i = next_call_++) {
      std::this_thread::sleep_until(start + window * i / std::max(1, calls_));
      v1::InitiateCallRequest req;
      req.set_phone_number(PhoneFor(310, i));
      req.set_patient_name(NameFor(kSurnameCalls, i));
      const std::string key = Cat("fault-call-", i);
      for (;;) {
        grpc::ClientContext ctx;
        Auth(ctx, 8);
        ctx.AddMetadata("idempotency-key", key);
        v1::InitiateCallResponse resp;
        const auto s = stub->InitiateCall(&ctx, req, &resp);
        const auto code = s.error_code();
        if (s.ok() ||
            (code != grpc::StatusCode::UNAVAILABLE && code != grpc::StatusCode::DEADLINE_EXCEEDED &&
             code != grpc::StatusCode::ABORTED && code != grpc::StatusCode::INTERNAL &&
             code != grpc::StatusCode::UNKNOWN && code != grpc::StatusCode::RESOURCE_EXHAUSTED)) {
          std::lock_guard lock(mu_);
          call_outcome_[i] = s.ok() ? "ok" : Cat("code ", code, ": ", s.error_message());
          break;
        }
        ++call_retries_;
        std::this_thread::sleep_for(milliseconds(200));
      }
    }
  }

  // Holds connections that never start TLS and idle TLS ones, from other source addresses,
  // reopening each as soon as the server closes it.
  void Holder() {
    constexpr int kRaw = 320, kIdle = 40;
    std::vector<int> raw;
    std::vector<std::unique_ptr<ingest_testing::HttpsClient>> idle;
    while (!hold_stop_) {
      for (auto it = raw.begin(); it != raw.end();) {
        pollfd p{*it, POLLIN, 0};
        char b;
        if (poll(&p, 1, 0) > 0 && recv(*it, &b, 1, MSG_DONTWAIT) <= 0) {
          close(*it);
          it = raw.erase(it);
        } else {
          ++it;
        }
      }
      while (static_cast<int>(raw.size()) < kRaw && !hold_stop_) {
        const int fd =
            ingest_testing::OpenRawConnection(webhook_port_, Cat("127.0.0.", 2 + raw.size() % 8));
        if (fd < 0) break;
        raw.push_back(fd);
        ++held_;
      }
      for (auto it = idle.begin(); it != idle.end();)
        it = (*it)->connected() ? it + 1 : idle.erase(it);
      while (static_cast<int>(idle.size()) < kIdle && !hold_stop_) {
        auto c =
            std::make_unique<ingest_testing::HttpsClient>(webhook_port_, tls_.cert, "127.0.0.20");
        if (!c->connected()) break;
        idle.push_back(std::move(c));
        ++held_;
      }
      std::this_thread::sleep_for(milliseconds(250));
    }
    for (int fd : raw) close(fd);
  }

  // A campaign of kCampaignRecipients, paced to run through the first rounds of kills: 4 dials a
  // second, 8 at a time. Its campaign id.
  std::string StartCampaign() {
    auto stub = v1::Campaigns::NewStub(grpc::CreateChannel(Cat("127.0.0.1:", gateway_port_),
                                                           grpc::InsecureChannelCredentials()));
    v1::CreateCampaignRequest req;
    req.mutable_spec()->set_name("Recordatorios de la semana");
    req.mutable_spec()->set_purpose("reminder");
    req.mutable_spec()->mutable_pacing()->set_max_concurrency(8);
    req.mutable_spec()->mutable_pacing()->set_calls_per_minute(240);
    req.mutable_spec()->mutable_retry()->set_max_attempts(1);
    // Nothing here should fail; were it to, the ledger says so rather than a paused campaign.
    req.mutable_spec()->mutable_breaker()->set_failure_rate(1.0);
    req.mutable_spec()->mutable_breaker()->set_window(1000);
    req.mutable_spec()->mutable_breaker()->set_min_sample(1000);
    for (int i = 0; i < kCampaignRecipients; ++i) {
      req.add_recipients()->set_phone_number(PhoneFor(340, i));
    }
    req.set_start(true);
    grpc::ClientContext ctx;
    Auth(ctx);
    ctx.AddMetadata("idempotency-key", "fault-campaign");
    v1::Campaign out;
    const grpc::Status st = stub->CreateCampaign(&ctx, req, &out);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return out.campaign_id();
  }
  static constexpr int kCampaignRecipients = 60;

  // ---- ledger --------------------------------------------------------------------------------

  // Waits until nothing is in flight: every event published or quarantined, the spool empty,
  // nothing unmatched, every call final and every key settled. Returns the seconds it took.
  double Settle(int secs, std::string* pending) {
    const auto start = Clock::now();
    const auto limit = start + seconds(secs);
    for (;;) {
      const int64_t unpublished = Count(
          "SELECT count(*) FROM webhook_inbox WHERE published_at IS NULL AND quarantined_at IS "
          "NULL AND conversation_id NOT IN (SELECT conversation_id FROM webhook_inbox WHERE "
          "quarantined_at IS NOT NULL AND published_at IS NULL)");
      const int64_t unmatched =
          Count("SELECT count(*) FROM unmatched_call_events WHERE resolved_at IS NULL");
      const int64_t open_calls = Count(
          "SELECT count(*) FROM elevenlabs_conversations WHERE status NOT IN ('completed', "
          "'failed', 'no_answer', 'busy', 'ended_manually', 'canceled') AND (phone_number LIKE "
          "'+57310%' OR phone_number LIKE '+57340%')");
      const int64_t keys =
          Count("SELECT count(*) FROM idempotency_keys WHERE state = 'in_progress'");
      const int64_t recordings = Count("SELECT count(*) FROM call_audio_recovery");
      size_t spooled = 0;
      std::error_code ec;
      for (auto it = fs::recursive_directory_iterator(dir_ + "/spool", ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file()) ++spooled;
      }
      const auto counters = json::parse(SimGet("/__sim/counters"));
      const int64_t live = counters.as_object().at("live_calls").to_number<int64_t>();
      *pending =
          Cat("unpublished=", unpublished, " unmatched=", unmatched, " open_calls=", open_calls,
              " keys_in_progress=", keys, " spool_files=", spooled, " sim_live_calls=", live,
              " recordings_to_recover=", recordings);
      const int64_t campaign_left = Count(
          "SELECT count(*) FROM campaign_recipients WHERE NOT "
          "campaign_recipient_state_is_final(state)");
      // The campaign completes on the dispatcher tick after its last recipient's settlement.
      const int64_t campaigns_open =
          Count("SELECT count(*) FROM campaigns WHERE state <> 'completed'");
      *pending += Cat(" campaign_recipients_left=", campaign_left,
                      " campaigns_not_completed=", campaigns_open);
      if (unpublished == 0 && unmatched == 0 && open_calls == 0 && keys == 0 && spooled == 0 &&
          live == 0 && recordings == 0 && campaign_left == 0 && campaigns_open == 0 &&
          sender_done_) {
        return std::chrono::duration<double>(Clock::now() - start).count();
      }
      if (Clock::now() > limit) return -1;
      std::this_thread::sleep_for(milliseconds(500));
    }
  }

  // Every 7+-digit run of `text` (phone numbers, masked or not, end up as such runs).
  static void DigitRuns(const std::string& text, std::set<std::string>& out) {
    size_t i = 0;
    while (i < text.size()) {
      if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j]))) ++j;
      if (j - i >= 7) out.insert(text.substr(i, j - i));
      i = j;
    }
  }

  Cluster cluster_;
  testing::TlsFiles tls_;
  std::string dir_;
  int events_ = 0, crashes_ = 0, calls_ = 0;
  std::string jwt_secret_, webhook_secret_, api_key_, twilio_token_, pg_password_;
  int sim_port_ = 0, gateway_port_ = 0, ingest_grpc_port_ = 0, webhook_port_ = 0;
  std::unique_ptr<Process> sim_, gateway_, ingest_;

  std::vector<Synthetic> synthetic_;
  std::vector<Poison> poison_;
  std::vector<Event> planned_;
  std::atomic<size_t> next_{0};
  std::atomic<int> next_call_{0};
  std::atomic<int64_t> acknowledged_{0}, refused_{0}, redelivered_{0}, duplicates_{0},
      call_retries_{0}, held_{0};
  std::atomic<bool> stop_senders_{false}, hold_stop_{false}, sender_done_{false};
  std::mutex mu_;
  std::vector<std::string> unexpected_;
  std::map<int, std::string> call_outcome_;
};

TEST_F(FaultSuite, LedgerHoldsThroughCrashesFloodsAndPoison) {
  PrepareSynthetic();
  const std::string campaign_id = StartCampaign();
  ASSERT_FALSE(campaign_id.empty());
  const auto t0 = Clock::now();
  // Each round: PostgreSQL crashes, then webhook-ingest, then call-gateway, under load.
  const auto gap = milliseconds(EnvInt("FAULTS_GAP_MS", 2500));
  const auto window = gap * (3 * crashes_ + 1);

  std::thread holder([this] { Holder(); });
  std::vector<std::thread> senders, diallers;
  for (int i = 0; i < 2; ++i) senders.emplace_back([this, window] { Sender(window); });
  for (int i = 0; i < 3; ++i) diallers.emplace_back([this, window] { Dialler(window); });

  std::map<std::string, int> crashes;
  std::vector<std::string> chaos_errors;
  for (int round = 0; round < crashes_; ++round) {
    std::this_thread::sleep_for(gap);
    if (!cluster_.Crash()) chaos_errors.push_back("PostgreSQL did not stop");
    std::this_thread::sleep_for(milliseconds(1500));  // down for a while: the spool's turn
    if (!cluster_.Start()) chaos_errors.push_back("PostgreSQL did not start again");
    ++crashes["postgresql"];

    std::this_thread::sleep_for(gap);
    ingest_->Kill();
    std::this_thread::sleep_for(milliseconds(300));
    ingest_->Start();
    ++crashes["webhook-ingest"];

    std::this_thread::sleep_for(gap);
    gateway_->Kill();
    std::this_thread::sleep_for(milliseconds(300));
    gateway_->Start();
    ++crashes["call-gateway"];
    for (auto* p : {ingest_.get(), gateway_.get(), sim_.get()}) {
      if (!p->Alive()) chaos_errors.push_back(Cat(p->name(), " exited by itself"));
    }
  }
  for (auto& t : senders) t.join();
  sender_done_ = true;
  for (auto& t : diallers) t.join();
  hold_stop_ = true;
  holder.join();
  const double load_secs = std::chrono::duration<double>(Clock::now() - t0).count();
  for (const auto& e : chaos_errors) ADD_FAILURE() << e;
  for (auto* p : {ingest_.get(), gateway_.get(), sim_.get()}) {
    EXPECT_TRUE(p->Alive()) << p->name() << " exited by itself:\n" << testing::ReadFile(p->log());
  }

  std::string pending;
  const double settle_secs = Settle(180, &pending);
  ASSERT_GE(settle_secs, 0) << "not settled after 180 s: " << pending;

  {
    std::lock_guard lock(mu_);
    for (const auto& u : unexpected_) ADD_FAILURE() << "refused for good: " << u;
  }
  EXPECT_EQ(acknowledged_.load(), static_cast<int64_t>(planned_.size()));

  // 1. Every acknowledged synthetic event is stored, published and applied exactly once.
  std::map<std::string, std::tuple<int64_t, int64_t, std::string, int64_t>> rows;  // conv ->
  for (const auto& r : Query(
           "SELECT c.conversation_id, COALESCE(t.n, 0), COALESCE(c.duration_secs, -1), c.status, "
           "COALESCE(a.n, 0) FROM elevenlabs_conversations c LEFT JOIN (SELECT conversation_id, "
           "count(*) AS n FROM elevenlabs_transcriptions GROUP BY 1) t USING (conversation_id) "
           "LEFT JOIN (SELECT conversation_id, count(*) AS n FROM applied_call_events GROUP BY 1) "
           "a USING (conversation_id) WHERE c.conversation_id LIKE 'conv_fault_%'")) {
    rows[r[0].as<std::string>()] = {r[1].as<int64_t>(), r[2].as<int64_t>(), r[3].as<std::string>(),
                                    r[4].as<int64_t>()};
  }
  int wrong = 0;
  for (const auto& s : synthetic_) {
    auto it = rows.find(s.conversation_id);
    if (it == rows.end()) {
      if (wrong++ < 10) ADD_FAILURE() << s.conversation_id << ": row missing";
      continue;
    }
    const auto& [turns, duration, status, applied] = it->second;
    if (turns != s.turns || duration != s.duration || status != "completed" ||
        applied != (s.audio ? 2 : 1)) {
      if (wrong++ < 10) {
        ADD_FAILURE() << s.conversation_id << ": turns " << turns << " (sent " << s.turns
                      << "), duration " << duration << " (sent " << s.duration << "), status "
                      << status << ", applied events " << applied;
      }
    }
  }
  EXPECT_EQ(wrong, 0) << "synthetic conversations not applied exactly once";
  const int64_t with_audio = std::count_if(synthetic_.begin(), synthetic_.end(),
                                           [](const Synthetic& s) { return s.audio; });
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_audio WHERE conversation_id LIKE "
                  "'conv_fault_%' AND size_bytes = 6144"),
            with_audio);
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox WHERE conversation_id LIKE 'conv_fault_%'"),
            static_cast<int64_t>(synthetic_.size() + with_audio))
      << "one inbox row per event, duplicates absorbed";
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_audio_parts"), 0) << "audio parts left behind";

  // 2. Poison: what may plausibly be sent is applied; what cannot is quarantined with a reason,
  // and it is the only thing quarantined.
  int quarantined = 0;
  for (const auto& p : poison_) {
    auto r =
        Query(Cat("SELECT quarantined_at IS NOT NULL, COALESCE(quarantine_reason, ''), "
                  "published_at IS NOT NULL FROM webhook_inbox WHERE conversation_id = '",
                  p.conversation_id, "'"));
    ASSERT_EQ(r.size(), 1u) << p.conversation_id << " (" << p.what << ") not stored";
    const bool q = r[0][0].as<bool>();
    EXPECT_EQ(q, p.quarantine) << p.conversation_id << " (" << p.what << "): reason "
                               << r[0][1].as<std::string>();
    if (p.quarantine) {
      ++quarantined;
      EXPECT_FALSE(r[0][1].as<std::string>().empty()) << p.what;
    } else {
      EXPECT_TRUE(r[0][2].as<bool>()) << p.conversation_id << " (" << p.what << ") not applied";
      EXPECT_EQ(Count(Cat("SELECT count(*) FROM applied_call_events WHERE event_type = "
                          "'post_call_transcription' AND conversation_id = '",
                          p.conversation_id, "'")),
                1)
          << p.what;
    }
  }
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox WHERE quarantined_at IS NOT NULL"),
            quarantined)
      << "only poison is quarantined";

  // 3. The simulator's webhooks that got 200 are applied; no patient was dialled twice; every
  // call and key is settled; each call's transcript is stored once.
  const auto counters = json::parse(SimGet("/__sim/counters")).as_object();
  int64_t placed = 0;
  std::map<std::string, int64_t> campaign_dials;
  for (const auto& [phone, n] : counters.at("dialled_by_number").as_object()) {
    EXPECT_LE(n.to_number<int64_t>(), 1)
        << "a patient dialled " << n.to_number<int64_t>() << " times";
    if (std::string_view(phone).starts_with("+57340")) {
      campaign_dials[std::string(phone)] = n.to_number<int64_t>();
    } else {
      placed += n.to_number<int64_t>();
    }
  }
  // The campaign: completed, each recipient dialled exactly once (none twice through the kills,
  // none lost), its attempt settled once and its counters equal to its rows.
  EXPECT_EQ(Count(Cat("SELECT count(*) FROM campaigns WHERE campaign_id = '", campaign_id,
                      "' AND state = 'completed'")),
            1);
  for (const auto& r : Query("SELECT phone_e164, state, attempts, (SELECT count(*) FROM "
                             "campaign_attempts a WHERE a.recipient_id = r.id), (SELECT count(*) "
                             "FROM elevenlabs_conversations v WHERE v.campaign_recipient_id = "
                             "r.id) FROM campaign_recipients r")) {
    const std::string phone = r[0].as<std::string>();
    EXPECT_EQ(campaign_dials[phone], 1) << "a recipient dialled " << campaign_dials[phone];
    EXPECT_EQ(r[1].as<std::string>(), "done") << "a recipient ended " << r[1].as<std::string>();
    EXPECT_EQ(r[2].as<int>(), 1) << "attempts";
    EXPECT_EQ(r[3].as<int64_t>(), 1) << "settled attempts";
    EXPECT_EQ(r[4].as<int64_t>(), 1) << "call rows";
  }
  EXPECT_EQ(static_cast<int>(campaign_dials.size()), kCampaignRecipients);
  int answered = 0;
  for (int i = 0; i < calls_; ++i) {
    const std::string outcome = call_outcome_.count(i) ? call_outcome_[i] : "no answer";
    EXPECT_EQ(outcome, "ok") << "patient " << i;
    if (outcome == "ok") ++answered;
    auto r =
        Query(Cat("SELECT status, conversation_id FROM elevenlabs_conversations WHERE "
                  "phone_number = '",
                  PhoneFor(310, i), "'"));
    ASSERT_EQ(r.size(), 1u) << "patient " << i << ": one call row";
    EXPECT_TRUE(IsFinal(r[0][0].as<std::string>())) << r[0][0].as<std::string>();
  }
  EXPECT_EQ(placed, answered) << "every answered request placed one call, no other call placed";
  EXPECT_EQ(Count("SELECT count(*) FROM idempotency_keys WHERE state <> 'completed'"), 0);

  int64_t sim_delivered = 0, sim_failed = 0;
  const auto log = json::parse(SimGet("/__sim/webhooks"));
  const json::array* deliveries = log.if_array();
  if (deliveries == nullptr && log.is_object()) {
    for (const auto& [k, v] : log.as_object()) {
      if (v.is_array()) deliveries = &v.as_array();
    }
  }
  ASSERT_NE(deliveries, nullptr) << "simulator webhook log: " << json::serialize(log);
  for (const auto& d : *deliveries) {
    const auto& o = d.as_object();
    const std::string type(o.at("type").as_string());
    const std::string conv(o.at("conversation_id").as_string());
    if (o.at("status").to_number<int64_t>() != 200) {
      ++sim_failed;
      continue;
    }
    ++sim_delivered;
    EXPECT_EQ(Count(Cat("SELECT count(*) FROM applied_call_events WHERE event_type = '", type,
                        "' AND conversation_id = '", conv, "'")),
              1)
        << type << " " << conv << " acknowledged but not applied";
  }
  // Transcripts of real calls equal ElevenLabs' (stored once, whether by webhook or reconciler).
  for (const auto& r : Query("SELECT conversation_id, (SELECT count(*) FROM "
                             "elevenlabs_transcriptions t WHERE t.conversation_id = "
                             "c.conversation_id) FROM elevenlabs_conversations c WHERE status = "
                             "'completed' AND phone_number LIKE '+57310%'")) {
    const std::string conv = r[0].as<std::string>();
    const auto body = SimGet(Cat("/v1/convai/conversations/", conv), true);
    ASSERT_FALSE(body.empty()) << conv;
    const auto doc = json::parse(body).as_object();
    EXPECT_EQ(r[1].as<int64_t>(), static_cast<int64_t>(doc.at("transcript").as_array().size()))
        << conv;
  }

  // Every answered real call has its recording, whether its audio webhook got through or the
  // reconciler fetched it from ElevenLabs afterwards (the simulator records every answered call).
  const int64_t completed_calls = Count(
      "SELECT count(*) FROM elevenlabs_conversations WHERE status = 'completed' AND phone_number "
      "LIKE '+57310%'");
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_conversations c JOIN elevenlabs_audio a USING "
                  "(conversation_id) WHERE c.status = 'completed' AND c.phone_number LIKE "
                  "'+57310%' AND a.size_bytes > 0"),
            completed_calls)
      << "completed calls without their recording";
  const int64_t recovered = Count(
      "SELECT count(*) FROM elevenlabs_conversations WHERE metadata->'audio'->>'recovered' = "
      "'true'");

  // 4. The rollups equal the rows they summarise.
  EXPECT_EQ(Count("SELECT count(*) FROM ((SELECT day, status, agent_id, sum(calls)::bigint, "
                  "sum(duration_calls)::bigint, sum(duration_sum)::bigint, sum(cost_sum) FROM "
                  "call_daily_rollups GROUP BY 1, 2, 3) EXCEPT ALL (SELECT "
                  "(created_at AT TIME ZONE stats_clinic_timezone())::date, status, agent_id, "
                  "count(*), count(duration_secs), COALESCE(sum(duration_secs), 0), "
                  "COALESCE(sum(cost), 0) FROM elevenlabs_conversations GROUP BY 1, 2, 3)) d"),
            0);
  EXPECT_EQ(Count("SELECT count(*) FROM ((SELECT (created_at AT TIME ZONE "
                  "stats_clinic_timezone())::date, status, agent_id, count(*), "
                  "count(duration_secs), COALESCE(sum(duration_secs), 0), COALESCE(sum(cost), 0) "
                  "FROM elevenlabs_conversations GROUP BY 1, 2, 3) EXCEPT ALL (SELECT day, status, "
                  "agent_id, sum(calls)::bigint, sum(duration_calls)::bigint, "
                  "sum(duration_sum)::bigint, sum(cost_sum) FROM call_daily_rollups GROUP BY 1, 2, "
                  "3)) d"),
            0);

  // 5. No phone number, patient name or secret in any service log or PostgreSQL's log.
  std::set<std::string> phones;
  for (int i = 0; i < calls_; ++i) phones.insert(PhoneFor(310, i).substr(3));
  for (int i = 0; i < kCampaignRecipients; ++i) phones.insert(PhoneFor(340, i).substr(3));
  for (size_t j = 0; j < synthetic_.size(); ++j) phones.insert(synthetic_[j].phone.substr(3));
  for (const auto& p : poison_) phones.insert(p.phone.substr(3));
  const std::vector<std::string> secrets = {jwt_secret_, webhook_secret_, api_key_, twilio_token_,
                                            pg_password_};
  int64_t log_bytes = 0;
  for (const std::string& path : {gateway_->log(), ingest_->log(), cluster_.log()}) {
    const std::string text = testing::ReadFile(path);
    log_bytes += text.size();
    std::set<std::string> runs;
    DigitRuns(text, runs);
    for (const auto& run : runs) {
      for (size_t k = 0; k + 10 <= run.size(); ++k) {
        EXPECT_EQ(phones.count(run.substr(k, 10)), 0u) << path << " holds a phone number";
      }
    }
    for (const char* surname : {kSurnameCalls, kSurnameSynthetic, "Zoraida"}) {
      EXPECT_EQ(text.find(surname), std::string::npos) << path << " holds a patient name";
    }
    for (const auto& s : secrets) {
      ASSERT_FALSE(s.empty());
      EXPECT_EQ(text.find(s), std::string::npos) << path << " holds a secret";
    }
  }
  const int64_t quarantine_lines = [&] {
    const std::string text = testing::ReadFile(ingest_->log());
    int64_t n = 0;
    for (size_t at = text.find("quarantin"); at != std::string::npos;
         at = text.find("quarantin", at + 1)) {
      ++n;
    }
    return n;
  }();
  EXPECT_GE(quarantine_lines, quarantined) << "a log line for each quarantined event";

  std::printf(
      "FAULTS events=%zu acknowledged=%lld refused_then_resent=%lld redelivered=%lld "
      "duplicates=%lld poison=%zu quarantined=%d calls=%d placed=%lld call_retries=%lld "
      "sim_webhooks_delivered=%lld sim_webhooks_lost=%lld recordings_recovered=%lld "
      "crashes_postgresql=%d "
      "crashes_ingest=%d crashes_gateway=%d hostile_connections=%lld load_secs=%.1f "
      "settle_secs=%.1f log_bytes=%lld campaign_recipients=%d\n",
      planned_.size(), static_cast<long long>(acknowledged_.load()),
      static_cast<long long>(refused_.load()), static_cast<long long>(redelivered_.load()),
      static_cast<long long>(duplicates_.load()), poison_.size(), quarantined, calls_,
      static_cast<long long>(placed), static_cast<long long>(call_retries_.load()),
      static_cast<long long>(sim_delivered), static_cast<long long>(sim_failed),
      static_cast<long long>(recovered), crashes["postgresql"], crashes["webhook-ingest"],
      crashes["call-gateway"], static_cast<long long>(held_.load()), load_secs, settle_secs,
      static_cast<long long>(log_bytes), kCampaignRecipients);
}

}  // namespace
}  // namespace outcall
