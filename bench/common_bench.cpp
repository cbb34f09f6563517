// Hot-path pieces every request pays for: JWT verification (per RPC), phone normalisation
// (per call placed), webhook HMAC over a 6 KB body (per webhook), log redaction (per line).
#include <benchmark/benchmark.h>

#include <string>

#include "outcall/common/crypto.h"
#include "outcall/common/jwt.h"
#include "outcall/common/logging.h"
#include "outcall/common/phone.h"

namespace {

using namespace outcall::common;

void BM_NormalizePhone(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(NormalizePhone("+57 300 123 4567"));
}
BENCHMARK(BM_NormalizePhone);

void BM_WebhookHmac6KB(benchmark::State& state) {
  const std::string secret = RandomHex(32);
  const std::string message = "1739537297." + std::string(6 * 1024, 'x');
  for (auto _ : state) benchmark::DoNotOptimize(HmacSha256::ComputeHex(secret, message));
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(message.size()));
}
BENCHMARK(BM_WebhookHmac6KB);

void BM_JwtVerifyHs256(benchmark::State& state) {
  const std::string secret = RandomHex(32);
  JwtOptions o;
  o.issuer = "bench";
  o.audiences = {"outcall"};
  o.hs256_secrets = {Secret(secret)};
  auto verifier = JwtVerifier::Create(o);
  JwtClaims c;
  c.issuer = "bench";
  c.subject = "user";
  c.audiences = {"outcall"};
  c.permissions = {"calls:read"};
  auto token = SignJwt("HS256", secret, c);
  if (!verifier.ok() || !token.ok()) {
    state.SkipWithError("setup failed");
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(verifier->Verify(*token));
}
BENCHMARK(BM_JwtVerifyHs256);

void BM_RedactLogLine(benchmark::State& state) {
  const std::string line =
      "call placed for conversation conv_01jabc123 to +57 300 123 4567 after 2 attempts, "
      "agent agent_7101k4 latency 183 ms";
  for (auto _ : state) benchmark::DoNotOptimize(RedactPhones(line));
}
BENCHMARK(BM_RedactLogLine);

}  // namespace

BENCHMARK_MAIN();
