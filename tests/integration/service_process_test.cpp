// Each service binary as a real process: starts with a valid configuration, reports SERVING
// over gRPC health, and exits 0 on SIGTERM; refuses to start on a bad configuration with a
// message naming the variable and never the secret. webhook-ingest's shutdown: the HTTPS
// endpoint drains before gRPC stops, and the whole shutdown fits in one grace period.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <future>
#include <map>
#include <pqxx/pqxx>
#include <sstream>
#include <thread>

#include "absl/strings/str_split.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "http_test_server.h"
#include "outcall/common/crypto.h"
#include "outcall/common/strings.h"
#include "outcall/elevenlabs/webhook_signature.h"
#include "test_database.h"
#include "test_tls.h"

namespace outcall {
namespace {

struct Child {
  pid_t pid = -1;
  std::string stderr_path;
};

Child Spawn(const std::string& binary, const std::map<std::string, std::string>& env) {
  Child c;
  c.stderr_path = ::testing::TempDir() + "svc_" + common::RandomHex(4) + ".err";
  std::vector<std::string> kv;
  for (const auto& [k, v] : env) kv.push_back(k + "=" + v);
  c.pid = fork();
  if (c.pid == 0) {
    int fd = open(c.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    std::vector<char*> envp;
    for (auto& s : kv) envp.push_back(s.data());
    envp.push_back(nullptr);
    char* argv[] = {const_cast<char*>(binary.c_str()), nullptr};
    execve(binary.c_str(), argv, envp.data());
    _exit(127);
  }
  return c;
}

int WaitExit(pid_t pid, int seconds) {
  for (int i = 0; i < seconds * 20; ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -2;
}

// Waits for the child to exit, at most `limit` (then kills it): its exit status, -1 when killed
// by a signal, -2 when it was still running at `limit`. The wait blocks in waitpid.
int WaitExitWithin(pid_t pid, std::chrono::steady_clock::time_point limit) {
  auto exited = std::async(std::launch::async, [pid] {
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return -3;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  });
  if (exited.wait_until(limit) == std::future_status::ready) return exited.get();
  kill(pid, SIGKILL);
  exited.get();
  return -2;
}

std::map<std::string, std::string> BaseEnv(const std::string& db_url, int port,
                                           const std::string& secret) {
  std::map<std::string, std::string> env = {
      {"DATABASE_URL", db_url},
      {"GRPC_LISTEN_ADDRESS", "127.0.0.1:" + std::to_string(port)},
      {"METRICS_LISTEN_ADDRESS", "off"},
      {"JWT_ISSUER", "outcall-test"},
      {"JWT_AUDIENCE", "outcall"},
      {"JWT_HS256_SECRET", secret},
      {"ELEVENLABS_API_KEY", "sim-" + common::RandomHex(8)},
      {"ELEVENLABS_BASE_URL", "http://127.0.0.1:9"},
      {"ELEVENLABS_AGENT_ID", "agent_test"},
      {"ELEVENLABS_AGENT_PHONE_NUMBER_ID", "phnum_test"},
      {"SHUTDOWN_GRACE_SECS", "2"},
  };
  if (const char* pgpass = std::getenv("PGPASSFILE")) env["PGPASSFILE"] = pgpass;
  return env;
}

class ServiceProcess : public ::testing::TestWithParam<std::string> {};

TEST_P(ServiceProcess, ServesHealthAndStopsCleanlyOnSigterm) {
  testing::TestDatabase db;
  ASSERT_TRUE(db.ok());
  const int port = testing::FreeLoopbackPort();
  auto env = BaseEnv(db.url(), port, common::RandomHex(32));
  testing::TlsFiles tls;
  if (GetParam().ends_with("/webhook-ingest")) {
    // The public HTTPS endpoint needs its certificate and the webhook signing secret.
    tls = testing::MakeSelfSignedCert();
    ASSERT_FALSE(tls.cert.empty()) << "openssl could not make a certificate";
    env["TLS_CERT_FILE"] = tls.cert;
    env["TLS_KEY_FILE"] = tls.key;
    env["ELEVENLABS_WEBHOOK_SECRET"] = "wsec_" + common::RandomHex(16);
    env["WEBHOOK_LISTEN_ADDRESS"] = "127.0.0.1:" + std::to_string(testing::FreeLoopbackPort());
    env["WEBHOOK_SPOOL_DIR"] = ::testing::TempDir() + "/spool-" + common::RandomHex(6);
  }
  Child child = Spawn(GetParam(), env);
  ASSERT_GT(child.pid, 0);

  // Reconnect attempts stay frequent while the service starts (gRPC's default backoff grows to
  // minutes, which a slow start, e.g. under the sanitizers, runs into).
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  auto channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                           grpc::InsecureChannelCredentials(), args);
  grpc::health::v1::Health::Stub health(channel);
  grpc::health::v1::HealthCheckResponse::ServingStatus last =
      grpc::health::v1::HealthCheckResponse::UNKNOWN;
  // Up to a minute to come up (a sanitized build on a loaded machine is slow to start).
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (last != grpc::health::v1::HealthCheckResponse::SERVING &&
         std::chrono::steady_clock::now() < give_up) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    if (health.Check(&ctx, req, &resp).ok()) {
      last = resp.status();
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_EQ(last, grpc::health::v1::HealthCheckResponse::SERVING)
      << testing::ReadFile(child.stderr_path);
  ASSERT_EQ(kill(child.pid, SIGTERM), 0);
  EXPECT_EQ(WaitExit(child.pid, 15), 0) << testing::ReadFile(child.stderr_path);
  const std::string log = testing::ReadFile(child.stderr_path);
  EXPECT_NE(log.find("\"msg\":\""), std::string::npos) << "logs are JSON lines: " << log;
  EXPECT_NE(log.find("stopped"), std::string::npos) << log;
  testing::RemoveTlsFiles(tls);
}

TEST_P(ServiceProcess, BadConfigurationStopsWithTheVariableNamedAndNoSecret) {
  const std::string canary = "canary-" + common::RandomHex(16);
  auto env = BaseEnv("postgresql://u:" + canary + "@127.0.0.1:1/x", testing::FreeLoopbackPort(),
                     canary + canary);
  env.erase("JWT_ISSUER");
  env["LOG_LEVEL"] = "loud";
  Child child = Spawn(GetParam(), env);
  EXPECT_EQ(WaitExit(child.pid, 15), 2);
  const std::string err = testing::ReadFile(child.stderr_path);
  EXPECT_NE(err.find("JWT_ISSUER"), std::string::npos) << err;
  EXPECT_NE(err.find("LOG_LEVEL"), std::string::npos) << err;
  EXPECT_EQ(err.find(canary), std::string::npos) << err;
}

std::vector<std::string> Binaries() {
  std::vector<std::string> out;
  for (auto part : common::Split(OUTCALL_SERVICE_BINARIES, ',')) out.emplace_back(part);
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllServices, ServiceProcess, ::testing::ValuesIn(Binaries()),
                         [](const auto& info) {
                           std::string n = info.param.substr(info.param.rfind('/') + 1);
                           for (auto& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

// A TLS connection to webhook-ingest's HTTPS endpoint that sends and reads raw bytes, so a test
// can hold a request half sent. The test certificate is self-signed: no verification here.
class RawTls {
 public:
  explicit RawTls(int port) : stream_(ioc_, tls_) {
    boost::system::error_code ec;
    stream_.lowest_layer().connect(
        {boost::asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)}, ec);
    if (!ec) stream_.handshake(boost::asio::ssl::stream_base::client, ec);
    ok_ = !ec;
  }
  bool ok() const { return ok_; }
  bool Write(std::string_view bytes) {
    boost::system::error_code ec;
    boost::asio::write(stream_, boost::asio::buffer(bytes.data(), bytes.size()), ec);
    return !ec;
  }
  // What arrives up to and including `delimiter` (or until the connection ends).
  std::string ReadUntil(std::string_view delimiter) {
    boost::system::error_code ec;
    const size_t n = boost::asio::read_until(stream_, boost::asio::dynamic_buffer(pending_),
                                             std::string(delimiter), ec);
    std::string out = pending_.substr(0, ec ? pending_.size() : n);
    pending_.erase(0, out.size());
    return out;
  }
  // Everything until the server closes the connection.
  std::string ReadToEnd() {
    boost::system::error_code ec;
    boost::asio::read(stream_, boost::asio::dynamic_buffer(pending_), ec);
    std::string out;
    out.swap(pending_);
    return out;
  }

 private:
  boost::asio::io_context ioc_;
  boost::asio::ssl::context tls_{boost::asio::ssl::context::tls_client};
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
  std::string pending_;
  bool ok_ = false;
};

std::string WebhookIngestBinary() {
  for (auto part : common::Split(OUTCALL_SERVICE_BINARIES, ',')) {
    if (part.ends_with("/webhook-ingest")) return std::string(part);
  }
  return {};
}

// webhook-ingest started as a process with a short grace, its database migrated, its gRPC
// health watched and one webhook held in flight (headers sent, "100 Continue" received, the
// body not yet sent).
class WebhookIngestShutdown : public ::testing::Test {
 protected:
  static constexpr int kGraceSecs = 3;

  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    db_.Migrate();
    grpc_port_ = testing::FreeLoopbackPort();
    http_port_ = testing::FreeLoopbackPort();
    auto env = BaseEnv(db_.url(), grpc_port_, common::RandomHex(32));
    tls_ = testing::MakeSelfSignedCert();
    ASSERT_FALSE(tls_.cert.empty()) << "openssl could not make a certificate";
    env["TLS_CERT_FILE"] = tls_.cert;
    env["TLS_KEY_FILE"] = tls_.key;
    env["ELEVENLABS_WEBHOOK_SECRET"] = secret_;
    env["WEBHOOK_LISTEN_ADDRESS"] = "127.0.0.1:" + std::to_string(http_port_);
    env["WEBHOOK_SPOOL_DIR"] = ::testing::TempDir() + "/spool-" + common::RandomHex(6);
    // Nothing listens there: the publisher fails fast and retries, which shutdown must not wait on.
    env["CALL_GATEWAY_ADDRESS"] = "127.0.0.1:" + std::to_string(testing::FreeLoopbackPort());
    env["SHUTDOWN_GRACE_SECS"] = std::to_string(kGraceSecs);
    const std::string binary = WebhookIngestBinary();
    ASSERT_FALSE(binary.empty());
    child_ = Spawn(binary, env);
    ASSERT_GT(child_.pid, 0);

    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port_),
                                   grpc::InsecureChannelCredentials());
    health_ = std::make_unique<grpc::health::v1::Health::Stub>(channel_);
    // The first Watch answer is the current status; wait (bounded) for the server to come up.
    for (int i = 0; i < 100; ++i) {
      watch_ctx_ = std::make_unique<grpc::ClientContext>();
      watch_ = health_->Watch(watch_ctx_.get(), grpc::health::v1::HealthCheckRequest());
      grpc::health::v1::HealthCheckResponse resp;
      while (watch_->Read(&resp)) {
        if (resp.status() == grpc::health::v1::HealthCheckResponse::SERVING) return;
      }
      watch_->Finish().ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // not listening yet
    }
    FAIL() << "never SERVING: " << testing::ReadFile(child_.stderr_path);
  }

  void TearDown() override {
    if (child_.pid > 0 && waitpid(child_.pid, nullptr, WNOHANG) == 0) {
      kill(child_.pid, SIGKILL);
      waitpid(child_.pid, nullptr, 0);
    }
    if (watch_ctx_) watch_ctx_->TryCancel();
    testing::RemoveTlsFiles(tls_);
  }

  // Sends a signed webhook's headers with "Expect: 100-continue": once "100 Continue" is back the
  // server has taken the request in (verified its signature header) and waits for the body.
  std::unique_ptr<RawTls> HoldRequest(const std::string& body) {
    auto c = std::make_unique<RawTls>(http_port_);
    EXPECT_TRUE(c->ok());
    const std::string sig =
        elevenlabs::SignElevenLabsWebhook(secret_, absl::ToUnixSeconds(absl::Now()), body);
    EXPECT_TRUE(c->Write(
        common::Cat("POST /api/webhooks/elevenlabs HTTP/1.1\r\nHost: x\r\n",
                    "ElevenLabs-Signature: ", sig, "\r\n", "Content-Type: application/json\r\n",
                    "Content-Length: ", body.size(), "\r\n", "Expect: 100-continue\r\n\r\n")));
    const std::string interim = c->ReadUntil("\r\n\r\n");
    EXPECT_TRUE(interim.starts_with("HTTP/1.1 100")) << interim;
    return c;
  }

  // SIGTERM; returns when the health watch has seen NOT_SERVING (the shutdown has begun).
  void Terminate() {
    ASSERT_EQ(kill(child_.pid, SIGTERM), 0);
    sigterm_at_ = std::chrono::steady_clock::now();
    grpc::health::v1::HealthCheckResponse resp;
    bool not_serving = false;
    while (!not_serving && watch_->Read(&resp)) {
      not_serving = resp.status() == grpc::health::v1::HealthCheckResponse::NOT_SERVING;
    }
    EXPECT_TRUE(not_serving);
  }

  // The exit status, waiting no longer than the grace plus a margin for process teardown.
  int ExitStatusWithinGrace() {
    const int code = WaitExitWithin(child_.pid, sigterm_at_ + std::chrono::seconds(kGraceSecs) +
                                                    std::chrono::milliseconds(1500));
    child_.pid = -1;
    return code;
  }

  static std::string Event(std::string_view conversation_id) {
    return common::Cat(R"({"type": "post_call_transcription", "event_timestamp": 1739537297, )",
                       R"("data": {"agent_id": "agent_1", "conversation_id": ")", conversation_id,
                       R"("}})");
  }

  testing::TestDatabase db_;
  testing::TlsFiles tls_;
  const std::string secret_ = "wsec_" + common::RandomHex(16);
  int grpc_port_ = 0;
  int http_port_ = 0;
  Child child_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
  std::unique_ptr<grpc::ClientContext> watch_ctx_;
  std::unique_ptr<grpc::ClientReader<grpc::health::v1::HealthCheckResponse>> watch_;
  std::chrono::steady_clock::time_point sigterm_at_;
};

TEST_F(WebhookIngestShutdown, DrainsTheInFlightWebhookBeforeStoppingGrpcThenExitsZero) {
  const std::string body = Event("conv_drain_1");
  auto held = HoldRequest(body);
  ASSERT_NO_FATAL_FAILURE(Terminate());

  // The HTTPS endpoint drains first: gRPC is still up, answering NOT_SERVING (not UNAVAILABLE).
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  grpc::health::v1::HealthCheckResponse resp;
  const grpc::Status check = health_->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp);
  EXPECT_TRUE(check.ok()) << check.error_code() << " " << check.error_message();
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);

  // The request in flight at SIGTERM finishes: stored, answered 200, its connection closed.
  ASSERT_TRUE(held->Write(body));
  const std::string answer = held->ReadToEnd();
  EXPECT_TRUE(answer.starts_with("HTTP/1.1 200")) << answer;
  EXPECT_NE(answer.find(R"({"status":"stored"})"), std::string::npos) << answer;
  EXPECT_NE(answer.find("Connection: close"), std::string::npos) << answer;

  EXPECT_EQ(ExitStatusWithinGrace(), 0) << testing::ReadFile(child_.stderr_path);
  pqxx::connection c(db_.url());
  pqxx::nontransaction tx(c);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM webhook_inbox WHERE conversation_id = 'conv_drain_1'")[0]
                .as<int>(),
            1);
  const std::string log = testing::ReadFile(child_.stderr_path);
  EXPECT_NE(log.find("shutdown complete"), std::string::npos) << log;
  EXPECT_EQ(log.find(secret_), std::string::npos) << log;
}

TEST_F(WebhookIngestShutdown, ARequestNeverFinishedIsCutOffAtTheOneGraceNotTwice) {
  // A webhook whose body never comes and a health watch that never ends: each would use the
  // whole grace; together they must still share one.
  auto held = HoldRequest(Event("conv_drain_2"));
  ASSERT_NO_FATAL_FAILURE(Terminate());
  EXPECT_EQ(ExitStatusWithinGrace(), 0) << testing::ReadFile(child_.stderr_path);
  // Cut off, not answered as if stored.
  EXPECT_EQ(held->ReadToEnd().find("HTTP/1.1 200"), std::string::npos);
  pqxx::connection c(db_.url());
  pqxx::nontransaction tx(c);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM webhook_inbox")[0].as<int>(), 0);
}

// outcall-cli with only the JWT settings in its environment (it mints its token from them),
// against 127.0.0.1:`port`: its output (stdout and stderr), its exit status in `code`.
std::string RunCli(const std::string& secret, int port, const std::string& args, int* code) {
  const std::string out_path = ::testing::TempDir() + "cli_" + common::RandomHex(4) + ".out";
  const std::string cmd = common::Cat(
      "env -i JWT_ISSUER=outcall-test JWT_AUDIENCE=outcall JWT_HS256_SECRET=", secret, " ",
      OUTCALL_CLI_BINARY, " --address 127.0.0.1:", port, " ", args, " >", out_path, " 2>&1");
  const int status = std::system(cmd.c_str());
  *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return testing::ReadFile(out_path);
}

// outcall-cli against the real stats binary: JSON in, JSON out, the gRPC code as exit status.
TEST(OutcallCli, CallsAnRpcWithAMintedTokenAndReportsErrors) {
  testing::TestDatabase db;
  ASSERT_TRUE(db.ok());
  db.Migrate();
  const int port = testing::FreeLoopbackPort();
  const std::string secret = common::RandomHex(32);
  std::string stats_binary;
  for (const auto& b : Binaries()) {
    if (b.ends_with("/stats")) stats_binary = b;
  }
  Child child = Spawn(stats_binary, BaseEnv(db.url(), port, secret));
  ASSERT_GT(child.pid, 0);
  auto run = [&](const std::string& args, int* code) { return RunCli(secret, port, args, code); };
  int code = -1;
  std::string out;
  for (int i = 0; i < 50; ++i) {  // until the service is up
    out = run("Stats.GetCallStats '{\"startDate\": \"2026-01-01\", \"endDate\": \"2026-01-31\"}'",
              &code);
    if (code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("\"success\": true"), std::string::npos) << out;
  EXPECT_NE(out.find("\"total_calls\": 0"), std::string::npos) << out;
  // The service's own error: INVALID_ARGUMENT (3), naming the parameter.
  out = run("Stats.ListCalls '{\"limit\": 1000}'", &code);
  EXPECT_EQ(code, 3) << out;
  EXPECT_NE(out.find("limit"), std::string::npos) << out;
  // The CLI's own errors: an unknown method, a request that is not the method's JSON.
  out = run("Stats.Nope", &code);
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("Stats.ListCalls"), std::string::npos) << out;
  out = run("Stats.ListCalls '{\"limit\": \"many\"}'", &code);
  EXPECT_EQ(code, 2);
  EXPECT_NE(out.find("ListCallsRequest"), std::string::npos) << out;
  // A token is required: a wrong one is refused by the service.
  out = run("--token not.a.jwt Stats.GetCallStats", &code);
  EXPECT_EQ(code, 16) << out;  // UNAUTHENTICATED
  kill(child.pid, SIGTERM);
  EXPECT_EQ(WaitExit(child.pid, 15), 0);
}

// outcall-cli --csv against the real call-gateway binary: the evidence export as one CSV file,
// every page followed, the header once; --permissions mints the token the method needs.
TEST(OutcallCli, ExportsTheEvidenceAsOneCsvAcrossPages) {
  testing::TestDatabase db;
  ASSERT_TRUE(db.ok());
  db.Migrate();
  {
    pqxx::connection c(db.url());
    pqxx::nontransaction tx(c);
    tx.exec(
        "INSERT INTO policy_decisions (purpose, channel, decided_at, allowed, rule, profile_id, "
        "profile_version, decided_for, record) SELECT 'promotion', 'voice', now() - make_interval("
        "mins => g), false, 'hours', 'co_ley2300_v1', 1, 'clinic-app', '{}' FROM "
        "generate_series(1, 5) g");
  }
  const int port = testing::FreeLoopbackPort();
  const std::string secret = common::RandomHex(32);
  std::string gateway_binary;
  for (const auto& b : Binaries()) {
    if (b.ends_with("/call-gateway")) gateway_binary = b;
  }
  Child child = Spawn(gateway_binary, BaseEnv(db.url(), port, secret));
  ASSERT_GT(child.pid, 0);
  auto run = [&](const std::string& args, int* code) { return RunCli(secret, port, args, code); };
  int code = -1;
  std::string out;
  for (int i = 0; i < 50; ++i) {  // until the service is up; the default token lacks the right
    out = run("--csv CallGateway.ExportEvidence '{\"format\": \"csv\"}'", &code);
    if (code == 7) break;  // PERMISSION_DENIED: up, and privacy:admin is needed
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(code, 7) << out;
  out =
      run("--permissions privacy:admin --csv CallGateway.ExportEvidence "
          "'{\"format\": \"csv\", \"pageSize\": 2}'",
          &code);
  EXPECT_EQ(code, 0) << out;
  std::vector<std::string> lines = absl::StrSplit(out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 6u) << out;  // the header and five decisions, from three pages
  EXPECT_TRUE(lines[0].starts_with("decision_id,")) << out;
  for (int i = 1; i <= 5; ++i) EXPECT_TRUE(lines[i].starts_with(common::Cat(i, ","))) << out;
  // --csv on a method without CSV pages is a usage error.
  out = run("--csv CallGateway.ListAgents", &code);
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("has no csv pages"), std::string::npos) << out;
  kill(child.pid, SIGTERM);
  EXPECT_EQ(WaitExit(child.pid, 15), 0);
}

}  // namespace
}  // namespace outcall
