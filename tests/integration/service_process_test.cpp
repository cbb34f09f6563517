// Each service binary as a real process: starts with a valid configuration, reports SERVING
// over gRPC health, and exits 0 on SIGTERM; refuses to start on a bad configuration with a
// message naming the variable and never the secret.
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <thread>

#include "grpc/health/v1/health.grpc.pb.h"
#include "http_test_server.h"
#include "outcall/common/crypto.h"
#include "outcall/common/strings.h"
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
  }
  Child child = Spawn(GetParam(), env);
  ASSERT_GT(child.pid, 0);

  auto channel =
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
  grpc::health::v1::Health::Stub health(channel);
  grpc::health::v1::HealthCheckResponse::ServingStatus last =
      grpc::health::v1::HealthCheckResponse::UNKNOWN;
  for (int i = 0; i < 100 && last != grpc::health::v1::HealthCheckResponse::SERVING; ++i) {
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
  auto run = [&](const std::string& args, int* code) {
    const std::string out_path = ::testing::TempDir() + "cli_" + common::RandomHex(4) + ".out";
    const std::string cmd = common::Cat(
        "env -i JWT_ISSUER=outcall-test JWT_AUDIENCE=outcall JWT_HS256_SECRET=", secret, " ",
        OUTCALL_CLI_BINARY, " --address 127.0.0.1:", port, " ", args, " >", out_path, " 2>&1");
    const int status = std::system(cmd.c_str());
    *code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return testing::ReadFile(out_path);
  };
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

}  // namespace
}  // namespace outcall
