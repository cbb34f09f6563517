// libFuzzer target: the ElevenLabs-Signature header parser and the verifier. Input: a header and
// a body separated by the first newline. Properties: nothing crashes; a header the fuzzer made
// up never verifies unless it is the real signature; signing then verifying always succeeds.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "outcall/elevenlabs/webhook_signature.h"

namespace elevenlabs = outcall::elevenlabs;
using outcall::elevenlabs::ParseElevenLabsSignature;
using outcall::elevenlabs::SignElevenLabsWebhook;
using outcall::elevenlabs::WebhookSignatureVerifier;
using outcall::elevenlabs::WebhookVerifierOptions;

namespace {
constexpr std::string_view kSecret = "wsec_fuzz_secret_0123456789";
constexpr int64_t kNow = 1739537297;

const elevenlabs::WebhookSignatureVerifier& Verifier() {
  static const elevenlabs::WebhookSignatureVerifier* v = [] {
    elevenlabs::WebhookVerifierOptions o;
    o.secrets.emplace_back(std::string(kSecret));
    o.secrets.emplace_back(std::string("wsec_previous_secret_abcdef"));
    return new elevenlabs::WebhookSignatureVerifier(o);
  }();
  return *v;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t nl = in.find('\n');
  const std::string_view header = in.substr(0, nl);
  const std::string_view body = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);

  auto parsed = elevenlabs::ParseElevenLabsSignature(header);
  if (parsed.ok()) {
    if (parsed->v0.size() != 64 || parsed->timestamp.empty()) std::abort();
  }
  const absl::Time now = absl::FromUnixSeconds(kNow);
  const absl::Status s = Verifier().Verify(header, body, now);
  if (s.ok()) {
    // Only the genuine signature of this body (with either secret) may verify.
    if (!parsed.ok()) std::abort();
    int64_t t = 0;
    for (char c : parsed->timestamp) t = t * 10 + (c - '0');
    const std::string genuine = elevenlabs::SignElevenLabsWebhook(kSecret, t, body);
    const std::string previous = elevenlabs::SignElevenLabsWebhook("wsec_previous_secret_abcdef", t, body);
    if (genuine.substr(genuine.find("v0=") + 3) != parsed->v0 &&
        previous.substr(previous.find("v0=") + 3) != parsed->v0) {
      std::abort();
    }
  }
  // Round trip: a body signed now always verifies, in one piece or streamed.
  const std::string good = elevenlabs::SignElevenLabsWebhook(kSecret, kNow, body);
  if (!Verifier().Verify(good, body, now).ok()) std::abort();
  auto stream = Verifier().Start(good, now);
  if (!stream.ok()) std::abort();
  for (size_t i = 0; i < body.size(); i += 7) stream->Update(body.substr(i, 7));
  if (!stream->Finish().ok()) std::abort();
  return 0;
}
