// ElevenLabs webhook signatures ("ElevenLabs-Signature: t=<unix secs>,v0=<hex>"): HMAC-SHA256,
// keyed with the webhook secret as UTF-8, over "<t>." followed by the raw body bytes, lowercase
// hex. Verification is constant-time, checks the timestamp against a window on both sides,
// accepts several secrets (rotation) and can run while a large body streams in.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "outcall/common/config.h"
#include "outcall/common/crypto.h"

namespace outcall::elevenlabs {

inline constexpr std::string_view kElevenLabsSignatureHeader = "ElevenLabs-Signature";

// Why a signature was refused, as a type (for metrics and logs), attached to the status.
enum class SignatureFailure { kMissing, kMalformed, kStale, kFuture, kMismatch };
// "missing", "malformed", "stale", "future", "mismatch".
std::string_view SignatureFailureName(SignatureFailure failure);
// The reason a status returned by this file carries (none for other statuses).
std::optional<SignatureFailure> GetSignatureFailure(const absl::Status& status);

struct ParsedSignature {
  std::string timestamp;  // digits, exactly as sent (it is part of the signed message)
  std::string v0;         // 64 lowercase hex characters
};

// Elements are split on ',' and recognised by prefix, in any order, without trimming (as the
// official SDKs do). Refused: a missing or repeated t or v0, a non-numeric t, a v0 that is not
// 64 lowercase hex characters. UNAUTHENTICATED with a short reason.
absl::StatusOr<ParsedSignature> ParseElevenLabsSignature(std::string_view header);

// "t=<timestamp>,v0=<hex>" for `body` (the simulator and tests sign with this).
std::string SignElevenLabsWebhook(std::string_view secret, int64_t timestamp,
                                  std::string_view body);

struct WebhookVerifierOptions {
  std::vector<common::Secret> secrets;                  // the current one first; more while rotating
  absl::Duration tolerance = absl::Minutes(30);  // oldest accepted timestamp
  absl::Duration future_skew = absl::Minutes(5);  // newest accepted timestamp
};

class WebhookSignatureVerifier {
 public:
  explicit WebhookSignatureVerifier(WebhookVerifierOptions options);

  // Verifies a body held in memory.
  absl::Status Verify(std::string_view header, std::string_view body,
                      absl::Time now = absl::Now()) const;

  // Verifies a body fed in chunks: Start() checks the header and the timestamp, Update() feeds
  // the body, Finish() compares. Memory stays constant whatever the body size.
  class Stream {
   public:
    void Update(std::string_view chunk);
    absl::Status Finish();

   private:
    friend class WebhookSignatureVerifier;
    std::string expected_v0_;
    std::vector<std::unique_ptr<common::HmacSha256>> macs_;
  };
  absl::StatusOr<Stream> Start(std::string_view header, absl::Time now = absl::Now()) const;

 private:
  WebhookVerifierOptions options_;
};

}  // namespace outcall::elevenlabs
