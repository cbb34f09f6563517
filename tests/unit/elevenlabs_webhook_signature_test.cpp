// ElevenLabs-Signature parsing and verification, with every bad vector.
#include "outcall/elevenlabs/webhook_signature.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace outcall::common {
namespace {

// Spaced like Python's json.dumps, as ElevenLabs' bodies are: a compact re-serialisation differs.
constexpr std::string_view kBody =
    R"({"type": "post_call_transcription", "event_timestamp": 1739537297, "data": )"
    R"({"conversation_id": "conv_1", "transcript": [{"role": "agent", )"
    R"("message": "Hola, \u00bfconfirma su cita?"}]}})";

class WebhookSignatureTest : public ::testing::Test {
 protected:
  void SetUp() override {
    secret_ = "wsec_test_" + RandomHex(8);
    now_ = absl::FromUnixSeconds(1739537297);
  }
  elevenlabs::WebhookSignatureVerifier Verifier(std::vector<std::string> secrets = {}) const {
    elevenlabs::WebhookVerifierOptions o;
    if (secrets.empty()) secrets = {secret_};
    for (auto& s : secrets) o.secrets.emplace_back(s);
    return elevenlabs::WebhookSignatureVerifier(o);
  }
  std::string Header(int64_t t, std::string_view body) const {
    return elevenlabs::SignElevenLabsWebhook(secret_, t, body);
  }
  std::string V0(int64_t t, std::string_view body) const {
    return HmacSha256::ComputeHex(secret_, std::to_string(t) + "." + std::string(body));
  }
  static void ExpectRefused(const absl::Status& s, std::string_view why) {
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << s;
    EXPECT_NE(std::string(s.message()).find(why), std::string::npos) << s;
  }

  std::string secret_;
  absl::Time now_;
};

TEST_F(WebhookSignatureTest, SignedBodyVerifiesInAnyElementOrder) {
  const int64_t t = 1739537297;
  const std::string header = Header(t, kBody);
  EXPECT_EQ(header, "t=1739537297,v0=" + V0(t, kBody));
  EXPECT_TRUE(Verifier().Verify(header, kBody, now_).ok());
  EXPECT_TRUE(Verifier().Verify("v0=" + V0(t, kBody) + ",t=1739537297", kBody, now_).ok());
  EXPECT_TRUE(Verifier().Verify(header + ",v1=ignored", kBody, now_).ok());
}

TEST_F(WebhookSignatureTest, ForgedOrTamperedIsRefused) {
  const int64_t t = 1739537297;
  ExpectRefused(Verifier({"wsec_other_" + RandomHex(8)}).Verify(Header(t, kBody), kBody, now_),
                "does not match");
  std::string flipped(kBody);
  flipped[40] ^= 0x01;
  ExpectRefused(Verifier().Verify(Header(t, kBody), flipped, now_), "does not match");
  // A timestamp changed after signing.
  ExpectRefused(Verifier().Verify("t=1739537296,v0=" + V0(t, kBody), kBody, now_),
                "does not match");
  // The JSON re-serialised (same content, other bytes) no longer matches: hash the raw bytes.
  const std::string reserialised = boost::json::serialize(boost::json::parse(kBody));
  ASSERT_NE(reserialised, std::string(kBody));
  ExpectRefused(Verifier().Verify(Header(t, kBody), reserialised, now_), "does not match");
}

TEST_F(WebhookSignatureTest, TimestampWindowOnBothSides) {
  const int64_t now = absl::ToUnixSeconds(now_);
  EXPECT_TRUE(Verifier().Verify(Header(now - 29 * 60, kBody), kBody, now_).ok());
  ExpectRefused(Verifier().Verify(Header(now - 31 * 60, kBody), kBody, now_), "too old");
  EXPECT_TRUE(Verifier().Verify(Header(now + 2 * 60, kBody), kBody, now_).ok());
  ExpectRefused(Verifier().Verify(Header(now + 10 * 60, kBody), kBody, now_), "future");
}

// The reason travels as a type (metrics and logs use it), whatever the message says.
TEST_F(WebhookSignatureTest, EachRefusalCarriesItsTypedReason) {
  using elevenlabs::SignatureFailure;
  const int64_t now = absl::ToUnixSeconds(now_);
  auto reason = [](const absl::Status& s) { return elevenlabs::GetSignatureFailure(s); };
  EXPECT_EQ(reason(Verifier().Verify("", kBody, now_)), SignatureFailure::kMissing);
  EXPECT_EQ(reason(Verifier().Verify("t=abc,v0=00", kBody, now_)), SignatureFailure::kMalformed);
  EXPECT_EQ(reason(Verifier().Verify(Header(now - 31 * 60, kBody), kBody, now_)),
            SignatureFailure::kStale);
  EXPECT_EQ(reason(Verifier().Verify(Header(now + 10 * 60, kBody), kBody, now_)),
            SignatureFailure::kFuture);
  EXPECT_EQ(reason(Verifier({"wsec_other_" + RandomHex(8)}).Verify(Header(now, kBody), kBody, now_)),
            SignatureFailure::kMismatch);
  EXPECT_EQ(reason(absl::UnauthenticatedError("timestamp too old")), std::nullopt)
      << "a message alone is not a reason";
  EXPECT_EQ(elevenlabs::SignatureFailureName(SignatureFailure::kStale), "stale");
}

TEST_F(WebhookSignatureTest, MalformedHeadersAreRefused) {
  const int64_t t = 1739537297;
  const std::string v0 = V0(t, kBody);
  ExpectRefused(Verifier().Verify("", kBody, now_), "missing");
  ExpectRefused(Verifier().Verify("t=1739537297", kBody, now_), "no v0");
  ExpectRefused(Verifier().Verify("v0=" + v0, kBody, now_), "no t");
  // Spaces after the comma: " v0=" is not a v0 element (the SDKs do not trim either).
  ExpectRefused(Verifier().Verify("t=1739537297, v0=" + v0, kBody, now_), "no v0");
  ExpectRefused(Verifier().Verify("t=1739537297,t=1739537297,v0=" + v0, kBody, now_),
                "repeated t");
  ExpectRefused(Verifier().Verify("t=1739537297,v0=" + v0 + ",v0=" + v0, kBody, now_),
                "repeated v0");
  std::string upper = v0;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ExpectRefused(Verifier().Verify("t=1739537297,v0=" + upper, kBody, now_), "lowercase hex");
  ExpectRefused(Verifier().Verify("t=1739537297,v0=" + v0.substr(1), kBody, now_),
                "lowercase hex");
  ExpectRefused(Verifier().Verify("t=17395e7297,v0=" + v0, kBody, now_), "unix timestamp");
  ExpectRefused(Verifier().Verify("t=-1,v0=" + v0, kBody, now_), "unix timestamp");
  ExpectRefused(Verifier().Verify(std::string(600, 'a'), kBody, now_), "too long");
}

TEST_F(WebhookSignatureTest, OtherSchemesAndBoundaries) {
  const int64_t now = absl::ToUnixSeconds(now_);
  const std::string v0 = V0(now, kBody);
  // Only an unknown scheme, or an empty v0: no usable signature.
  ExpectRefused(Verifier().Verify("t=" + std::to_string(now) + ",v1=" + v0, kBody, now_), "no v0");
  ExpectRefused(Verifier().Verify("t=" + std::to_string(now) + ",v0=", kBody, now_),
                "lowercase hex");
  // Exactly at the tolerance and the future skew: still accepted; one second beyond: refused.
  EXPECT_TRUE(Verifier().Verify(Header(now - 30 * 60, kBody), kBody, now_).ok());
  ExpectRefused(Verifier().Verify(Header(now - 30 * 60 - 1, kBody), kBody, now_), "too old");
  EXPECT_TRUE(Verifier().Verify(Header(now + 5 * 60, kBody), kBody, now_).ok());
  ExpectRefused(Verifier().Verify(Header(now + 5 * 60 + 1, kBody), kBody, now_), "future");
  // An empty body is signed like any other.
  EXPECT_TRUE(Verifier().Verify(Header(now, ""), "", now_).ok());
  ExpectRefused(Verifier().Verify(Header(now, ""), " ", now_), "does not match");
}

TEST_F(WebhookSignatureTest, RotationAcceptsEitherSecret) {
  const std::string previous = "wsec_previous_" + RandomHex(8);
  const std::string header = elevenlabs::SignElevenLabsWebhook(previous, 1739537297, kBody);
  EXPECT_TRUE(Verifier({secret_, previous}).Verify(header, kBody, now_).ok());
  ExpectRefused(Verifier({secret_}).Verify(header, kBody, now_), "does not match");
}

TEST_F(WebhookSignatureTest, StreamingMatchesOneShotOverALargeBody) {
  std::string body = R"({"type":"post_call_audio","data":{"full_audio":")";
  body += std::string(3 * 1024 * 1024, 'A');
  body += R"("}})";
  const std::string header = Header(1739537297, body);
  auto stream = Verifier().Start(header, now_);
  ASSERT_TRUE(stream.ok());
  for (size_t i = 0; i < body.size(); i += 65536) stream->Update(std::string_view(body).substr(i, 65536));
  EXPECT_TRUE(stream->Finish().ok());

  std::string tampered = body;
  tampered[tampered.size() - 10] = 'B';
  auto bad = Verifier().Start(header, now_);
  ASSERT_TRUE(bad.ok());
  bad->Update(tampered);
  ExpectRefused(bad->Finish(), "does not match");
  // A stale header fails before any body is read.
  ExpectRefused(Verifier().Start(header, now_ + absl::Hours(1)).status(), "too old");
}

TEST(WebhookSignatureConfig, NoSecretIsAConfigurationError) {
  elevenlabs::WebhookSignatureVerifier v({});
  EXPECT_EQ(v.Verify("t=1,v0=" + std::string(64, 'a'), "{}").code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace outcall::common
