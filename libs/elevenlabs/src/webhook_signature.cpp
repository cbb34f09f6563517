#include "outcall/elevenlabs/webhook_signature.h"

#include "absl/strings/cord.h"
#include "outcall/common/strings.h"

namespace outcall::elevenlabs {

using common::Cat;
using common::ConstantTimeEquals;
using common::HexEncode;
using common::HmacSha256;
using common::ParseInt;
using common::Split;
namespace {

constexpr char kFailureUrl[] = "type.outcall/elevenlabs.SignatureFailure";

absl::Status Refuse(std::string_view why, SignatureFailure failure = SignatureFailure::kMalformed) {
  absl::Status s = absl::UnauthenticatedError(Cat("webhook signature: ", why));
  s.SetPayload(kFailureUrl, absl::Cord(std::string(SignatureFailureName(failure))));
  return s;
}

bool IsLowerHex(std::string_view s) {
  return s.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

std::string_view SignatureFailureName(SignatureFailure failure) {
  switch (failure) {
    case SignatureFailure::kMissing: return "missing";
    case SignatureFailure::kStale: return "stale";
    case SignatureFailure::kFuture: return "future";
    case SignatureFailure::kMismatch: return "mismatch";
    case SignatureFailure::kMalformed: break;
  }
  return "malformed";
}

std::optional<SignatureFailure> GetSignatureFailure(const absl::Status& status) {
  const auto payload = status.GetPayload(kFailureUrl);
  if (!payload) return std::nullopt;
  const std::string name(*payload);
  for (SignatureFailure f : {SignatureFailure::kMissing, SignatureFailure::kMalformed,
                             SignatureFailure::kStale, SignatureFailure::kFuture,
                             SignatureFailure::kMismatch}) {
    if (SignatureFailureName(f) == name) return f;
  }
  return std::nullopt;
}

absl::StatusOr<ParsedSignature> ParseElevenLabsSignature(std::string_view header) {
  if (header.empty()) return Refuse("missing header", SignatureFailure::kMissing);
  if (header.size() > 512) return Refuse("header too long");
  ParsedSignature out;
  bool have_t = false;
  bool have_v0 = false;
  for (std::string_view element : Split(header, ',')) {
    if (element.starts_with("t=")) {
      if (have_t) return Refuse("repeated t element");
      have_t = true;
      out.timestamp = std::string(element.substr(2));
    } else if (element.starts_with("v0=")) {
      if (have_v0) return Refuse("repeated v0 element");
      have_v0 = true;
      out.v0 = std::string(element.substr(3));
    }
    // Other schemes are ignored, as the SDKs do.
  }
  if (!have_t) return Refuse("no t element");
  if (!have_v0) return Refuse("no v0 element");
  if (out.timestamp.empty() || out.timestamp.size() > 12 ||
      out.timestamp.find_first_not_of("0123456789") != std::string::npos) {
    return Refuse("t is not a unix timestamp");
  }
  if (out.v0.size() != 64 || !IsLowerHex(out.v0)) {
    return Refuse("v0 is not 64 lowercase hex characters");
  }
  return out;
}

std::string SignElevenLabsWebhook(std::string_view secret, int64_t timestamp,
                                  std::string_view body) {
  const std::string t = std::to_string(timestamp);
  HmacSha256 mac(secret);
  mac.Update(t);
  mac.Update(".");
  mac.Update(body);
  return Cat("t=", t, ",v0=", HexEncode(mac.Finish()));
}

WebhookSignatureVerifier::WebhookSignatureVerifier(WebhookVerifierOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<WebhookSignatureVerifier::Stream> WebhookSignatureVerifier::Start(
    std::string_view header, absl::Time now) const {
  if (options_.secrets.empty()) return absl::FailedPreconditionError("no webhook secret");
  auto parsed = ParseElevenLabsSignature(header);
  if (!parsed.ok()) return parsed.status();
  int64_t t = 0;
  ParseInt(parsed->timestamp, &t);
  const absl::Time sent = absl::FromUnixSeconds(t);
  if (now - sent > options_.tolerance) return Refuse("timestamp too old", SignatureFailure::kStale);
  if (sent - now > options_.future_skew) return Refuse("timestamp in the future", SignatureFailure::kFuture);
  Stream s;
  s.expected_v0_ = std::move(parsed->v0);
  for (const auto& secret : options_.secrets) {
    auto mac = std::make_unique<HmacSha256>(secret.Reveal());
    mac->Update(parsed->timestamp);
    mac->Update(".");
    s.macs_.push_back(std::move(mac));
  }
  return s;
}

void WebhookSignatureVerifier::Stream::Update(std::string_view chunk) {
  for (auto& mac : macs_) mac->Update(chunk);
}

absl::Status WebhookSignatureVerifier::Stream::Finish() {
  bool match = false;
  // Every secret is checked, matched or not, so timing does not tell which one matched.
  for (auto& mac : macs_) match |= ConstantTimeEquals(HexEncode(mac->Finish()), expected_v0_);
  macs_.clear();
  return match ? absl::OkStatus() : Refuse("does not match the body", SignatureFailure::kMismatch);
}

absl::Status WebhookSignatureVerifier::Verify(std::string_view header, std::string_view body,
                                              absl::Time now) const {
  auto stream = Start(header, now);
  if (!stream.ok()) return stream.status();
  stream->Update(body);
  return stream->Finish();
}

}  // namespace outcall::elevenlabs
