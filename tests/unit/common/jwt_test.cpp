// Unit tests for outcall/common/jwt.h: JwtVerifier, Authorizer and SignJwt, including hostile
// tokens (alg none, algorithm confusion, foreign keys, bad claims, garbage).
#include "outcall/common/jwt.h"

#include <gmock/gmock.h>
#include <grpcpp/support/string_ref.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "outcall/common/crypto.h"

namespace outcall::common {
namespace {

namespace json = boost::json;

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kIssuer[] = "https://auth.clinic.test";
constexpr char kAudience[] = "outcall";
constexpr char kSubject[] = "svc-dashboard";

// ---------------------------------------------------------------------------------------------
// Keys, generated at test time.

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string PublicPem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (PEM_write_bio_PUBKEY(bio.get(), key) != 1) std::abort();
  return BioToString(bio.get());
}

std::string PrivatePem(EVP_PKEY* key) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    std::abort();
  }
  return BioToString(bio.get());
}

struct RsaKeyPair {
  std::string private_pem;
  std::string public_pem;
};

RsaKeyPair NewRsaKeyPair() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}), &EVP_PKEY_free);
  if (!key) std::abort();
  return {PrivatePem(key.get()), PublicPem(key.get())};
}

std::string NewEcPublicKeyPem() {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"), &EVP_PKEY_free);
  if (!key) std::abort();
  return PublicPem(key.get());
}

// ---------------------------------------------------------------------------------------------
// Hand-crafted tokens.

// Unpadded base64url. (Our absl has its own string_view type, hence the conversion.)
std::string B64(std::string_view bytes) {
  return absl::WebSafeBase64Escape(absl::string_view(bytes.data(), bytes.size()));
}

std::string Unsigned(std::string_view header_json, std::string_view payload_json) {
  return absl::StrCat(B64(header_json), ".", B64(payload_json));
}

// An HS256 JWS over arbitrary header and payload JSON.
std::string HsToken(std::string_view key, std::string_view header_json,
                    std::string_view payload_json) {
  const std::string signing_input = Unsigned(header_json, payload_json);
  const Sha256Digest mac = HmacSha256::Compute(key, signing_input);
  return absl::StrCat(signing_input, ".",
                      B64(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size())));
}

constexpr char kHsHeader[] = R"({"alg":"HS256","typ":"JWT"})";

// ---------------------------------------------------------------------------------------------

class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new RsaKeyPair(NewRsaKeyPair());
    other_rsa_ = new RsaKeyPair(NewRsaKeyPair());
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete other_rsa_;
    rsa_ = nullptr;
    other_rsa_ = nullptr;
  }

  void SetUp() override {
    hs_secret_ = RandomHex(32);
    now_ = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));
  }

  JwtOptions Options(bool hs, bool rs) const {
    JwtOptions o;
    o.issuer = kIssuer;
    o.audiences = {kAudience};
    if (hs) o.hs256_secrets.emplace_back(hs_secret_);
    if (rs) o.rs256_public_keys_pem.push_back(rsa_->public_pem);
    o.leeway = absl::Seconds(30);
    return o;
  }

  JwtVerifier Verifier(bool hs, bool rs) const {
    auto v = JwtVerifier::Create(Options(hs, rs));
    EXPECT_TRUE(v.ok()) << v.status();
    return *std::move(v);
  }

  JwtClaims Claims() const {
    JwtClaims c;
    c.issuer = kIssuer;
    c.subject = kSubject;
    c.audiences = {kAudience};
    c.permissions = {"calls:read", "calls:write"};
    c.issued_at = now_;
    c.lifetime = absl::Minutes(15);
    return c;
  }

  std::string Sign(std::string_view alg, std::string_view key, const JwtClaims& claims) const {
    auto token = SignJwt(alg, key, claims);
    EXPECT_TRUE(token.ok()) << token.status();
    return token.ok() ? *token : std::string();
  }
  std::string SignHs(const JwtClaims& claims) const { return Sign("HS256", hs_secret_, claims); }
  std::string SignRs(const JwtClaims& claims) const {
    return Sign("RS256", rsa_->private_pem, claims);
  }

  // Valid claims as a JSON object, for hand-crafted tokens.
  json::object Payload() const {
    const int64_t now = absl::ToUnixSeconds(now_);
    json::object p;
    p["iss"] = kIssuer;
    p["sub"] = kSubject;
    p["aud"] = kAudience;
    p["iat"] = now;
    p["nbf"] = now;
    p["exp"] = now + 900;
    p["scope"] = "calls:read calls:write";
    return p;
  }

  // Asserts UNAUTHENTICATED, an "invalid token: ..." message naming `reason`, and that the message
  // echoes neither the token nor any long segment of it.
  void ExpectRejected(const JwtVerifier& verifier, const std::string& token,
                      std::string_view reason) const {
    const auto result = verifier.Verify(token, now_);
    ASSERT_FALSE(result.ok()) << "accepted, subject " << result->subject;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
    const std::string message(result.status().message());
    EXPECT_THAT(message, HasSubstr("invalid token: "));
    EXPECT_THAT(message, HasSubstr(std::string(reason)));
    ExpectNoTokenIn(message, token);
  }

  static void ExpectNoTokenIn(const std::string& message, const std::string& token) {
    if (token.size() >= 16) {
      EXPECT_THAT(message, Not(HasSubstr(token)));
    }
    for (absl::string_view part : absl::StrSplit(token, '.')) {
      if (part.size() >= 16) {
        EXPECT_THAT(message, Not(HasSubstr(std::string(part))));
      }
    }
  }

  static RsaKeyPair* rsa_;
  static RsaKeyPair* other_rsa_;
  std::string hs_secret_;
  absl::Time now_;
};

RsaKeyPair* JwtTest::rsa_ = nullptr;
RsaKeyPair* JwtTest::other_rsa_ = nullptr;

// ---------------------------------------------------------------------------------------------
// Creation

TEST_F(JwtTest, CreateRequiresKeyIssuerAndAudience) {
  JwtOptions no_key = Options(false, false);
  EXPECT_EQ(JwtVerifier::Create(no_key).status().code(), absl::StatusCode::kInvalidArgument);

  JwtOptions no_issuer = Options(true, false);
  no_issuer.issuer.clear();
  EXPECT_EQ(JwtVerifier::Create(no_issuer).status().code(), absl::StatusCode::kInvalidArgument);

  JwtOptions no_audience = Options(true, false);
  no_audience.audiences.clear();
  EXPECT_EQ(JwtVerifier::Create(no_audience).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(JwtTest, CreateRejectsBadPublicKeys) {
  JwtOptions garbage = Options(false, true);
  garbage.rs256_public_keys_pem.push_back("not a pem key");
  const auto g = JwtVerifier::Create(garbage);
  EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(g.status().message()), HasSubstr("public key #2"));

  JwtOptions ec = Options(false, false);
  ec.rs256_public_keys_pem.push_back(NewEcPublicKeyPem());
  EXPECT_EQ(JwtVerifier::Create(ec).status().code(), absl::StatusCode::kInvalidArgument);

  // A private key is not a public key.
  JwtOptions priv = Options(false, false);
  priv.rs256_public_keys_pem.push_back(rsa_->private_pem);
  EXPECT_EQ(JwtVerifier::Create(priv).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(JwtTest, JwtOptionsFromCommonConfig) {
  CommonConfig config;
  config.jwt_issuer = kIssuer;
  config.jwt_audiences = {"a", "b"};
  config.jwt_hs256_secrets.emplace_back(hs_secret_);
  config.jwt_rs256_public_keys_pem = {rsa_->public_pem};
  config.jwt_leeway = absl::Seconds(7);
  const JwtOptions o = JwtOptionsFrom(config);
  EXPECT_EQ(o.issuer, kIssuer);
  EXPECT_THAT(o.audiences, ElementsAre("a", "b"));
  ASSERT_EQ(o.hs256_secrets.size(), 1u);
  EXPECT_EQ(o.hs256_secrets[0].Reveal(), hs_secret_);
  EXPECT_THAT(o.rs256_public_keys_pem, ElementsAre(rsa_->public_pem));
  EXPECT_EQ(o.leeway, absl::Seconds(7));
}

TEST(PermissionNameTest, Names) {
  EXPECT_EQ(PermissionName(Permission::kReadCalls), "calls:read");
  EXPECT_EQ(PermissionName(Permission::kPlaceCalls), "calls:write");
  EXPECT_EQ(PermissionName(Permission::kPublishEvents), "events:publish");
  EXPECT_EQ(PermissionName(Permission::kOverridePolicy), "policy:override");
  EXPECT_EQ(PermissionName(Permission::kReadPolicy), "policy:read");
  EXPECT_EQ(PermissionName(Permission::kWriteConsent), "consent:write");
  EXPECT_EQ(PermissionName(Permission::kPrivacyAdmin), "privacy:admin");
  EXPECT_EQ(PermissionName(Permission::kWriteCampaigns), "campaigns:write");
  EXPECT_EQ(PermissionName(Permission::kReadSync), "sync:read");
  EXPECT_EQ(PermissionName(Permission::kWriteSync), "sync:write");
  EXPECT_EQ(PermissionName(Permission::kAdminWebhooks), "webhooks:admin");
}

// ---------------------------------------------------------------------------------------------
// Valid tokens

TEST_F(JwtTest, ValidHs256Token) {
  const JwtVerifier verifier = Verifier(true, false);
  const auto p = verifier.Verify(SignHs(Claims()), now_);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->subject, kSubject);
  EXPECT_EQ(p->issuer, kIssuer);
  EXPECT_THAT(p->permissions, ElementsAre("calls:read", "calls:write"));
  EXPECT_TRUE(p->Has(Permission::kReadCalls));
  EXPECT_TRUE(p->Has(Permission::kPlaceCalls));
  EXPECT_FALSE(p->Has(Permission::kPublishEvents));
  EXPECT_EQ(p->expires_at, now_ + absl::Minutes(15));
}

TEST_F(JwtTest, ValidRs256Token) {
  const JwtVerifier verifier = Verifier(false, true);
  JwtClaims claims = Claims();
  claims.subject = "webhook-ingest";
  claims.permissions = {"events:publish"};
  claims.key_id = "key-2025";
  const std::string token = SignRs(claims);
  const auto p = verifier.Verify(token, now_);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->subject, "webhook-ingest");
  EXPECT_THAT(p->permissions, ElementsAre("events:publish"));
  EXPECT_TRUE(p->Has(Permission::kPublishEvents));
  EXPECT_FALSE(p->Has(Permission::kReadCalls));

  // The same token with both key types configured.
  EXPECT_TRUE(Verifier(true, true).Verify(token, now_).ok());
}

TEST_F(JwtTest, ValidHs256TokenWithBothKeyTypesConfigured) {
  EXPECT_TRUE(Verifier(true, true).Verify(SignHs(Claims()), now_).ok());
}

TEST_F(JwtTest, SecondRsaKeyAccepted) {
  JwtOptions o = Options(false, true);
  o.rs256_public_keys_pem.push_back(other_rsa_->public_pem);
  auto verifier = JwtVerifier::Create(o);
  ASSERT_TRUE(verifier.ok()) << verifier.status();
  EXPECT_TRUE(verifier->Verify(SignRs(Claims()), now_).ok());
  EXPECT_TRUE(verifier->Verify(Sign("RS256", other_rsa_->private_pem, Claims()), now_).ok());
}

TEST_F(JwtTest, EmptyScopeGivesNoPermissions) {
  JwtClaims claims = Claims();
  claims.permissions.clear();
  const auto p = Verifier(true, false).Verify(SignHs(claims), now_);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->permissions.empty());
  EXPECT_FALSE(p->Has(Permission::kReadCalls));
}

TEST_F(JwtTest, PermissionsArrayClaimAndScopeAreMerged) {
  json::object payload = Payload();
  payload["scope"] = "calls:read";
  payload["permissions"] = json::array{"events:publish", 42};
  const std::string token = HsToken(hs_secret_, kHsHeader, json::serialize(payload));
  const auto p = Verifier(true, false).Verify(token, now_);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->permissions, ElementsAre("calls:read", "events:publish"));
}

TEST_F(JwtTest, HandCraftedHs256TokenAccepted) {
  // Guards the hand-crafting helpers used by the hostile cases below.
  const std::string token = HsToken(hs_secret_, kHsHeader, json::serialize(Payload()));
  const auto p = Verifier(true, false).Verify(token, now_);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->subject, kSubject);
  // typ is optional, and compared case-insensitively.
  EXPECT_TRUE(
      Verifier(true, false)
          .Verify(HsToken(hs_secret_, R"({"alg":"HS256"})", json::serialize(Payload())), now_)
          .ok());
  EXPECT_TRUE(
      Verifier(true, false)
          .Verify(HsToken(hs_secret_, R"({"alg":"HS256","typ":"jwt"})", json::serialize(Payload())),
                  now_)
          .ok());
}

TEST_F(JwtTest, RotatedHsSecretsBothAccepted) {
  const std::string previous = RandomHex(32);
  JwtOptions o = Options(true, false);
  o.hs256_secrets.emplace_back(previous);
  auto verifier = JwtVerifier::Create(o);
  ASSERT_TRUE(verifier.ok()) << verifier.status();

  const auto with_current = verifier->Verify(SignHs(Claims()), now_);
  ASSERT_TRUE(with_current.ok()) << with_current.status();
  const auto with_previous = verifier->Verify(Sign("HS256", previous, Claims()), now_);
  ASSERT_TRUE(with_previous.ok()) << with_previous.status();
  EXPECT_EQ(with_previous->subject, kSubject);

  ExpectRejected(*verifier, Sign("HS256", RandomHex(32), Claims()), "signature does not verify");
}

// ---------------------------------------------------------------------------------------------
// Hostile tokens

TEST_F(JwtTest, AlgNoneRejected) {
  const std::string payload = json::serialize(Payload());
  for (bool hs : {true, false}) {
    for (bool rs : {true, false}) {
      if (!hs && !rs) continue;
      SCOPED_TRACE(absl::StrCat("hs=", hs, " rs=", rs));
      const JwtVerifier verifier = Verifier(hs, rs);
      for (const char* header : {R"({"alg":"none"})", R"({"alg":"none","typ":"JWT"})",
                                 R"({"alg":"None"})", R"({"alg":"NONE","typ":"JWT"})"}) {
        SCOPED_TRACE(header);
        // Empty signature: the classic unsecured JWS.
        ExpectRejected(verifier, Unsigned(header, payload) + ".", "unsigned tokens");
        // Non-empty signature: an HMAC made with our own secret must not help either.
        const std::string input = Unsigned(header, payload);
        const Sha256Digest mac = HmacSha256::Compute(hs_secret_, input);
        const std::string sig(reinterpret_cast<const char*>(mac.data()), mac.size());
        ExpectRejected(verifier, input + "." + B64(sig), "is not accepted");
        ExpectRejected(verifier, input + "." + B64("signature"), "is not accepted");
      }
      // Two segments only.
      ExpectRejected(verifier, Unsigned(R"({"alg":"none"})", payload), "not a compact JWS");
    }
  }
}

TEST_F(JwtTest, OtherAlgorithmsRejected) {
  const JwtVerifier verifier = Verifier(true, true);
  const std::string payload = json::serialize(Payload());
  for (const char* header : {R"({"alg":"HS512","typ":"JWT"})", R"({"alg":"hs256","typ":"JWT"})",
                             R"({"alg":"ES256","typ":"JWT"})", R"({"alg":"PS256","typ":"JWT"})"}) {
    SCOPED_TRACE(header);
    ExpectRejected(verifier, HsToken(hs_secret_, header, payload), "is not accepted");
  }
  ExpectRejected(verifier, HsToken(hs_secret_, R"({"typ":"JWT"})", payload), "no alg");
  ExpectRejected(verifier, HsToken(hs_secret_, R"({"alg":256,"typ":"JWT"})", payload), "no alg");
}

TEST_F(JwtTest, WrongHsSecretRejected) {
  const JwtVerifier verifier = Verifier(true, false);
  ExpectRejected(verifier, Sign("HS256", RandomHex(32), Claims()), "signature does not verify");
  // A secret that differs only in its last character.
  std::string near = hs_secret_;
  near.back() = near.back() == '0' ? '1' : '0';
  ExpectRejected(verifier, Sign("HS256", near, Claims()), "signature does not verify");
}

TEST_F(JwtTest, TamperedPayloadRejected) {
  const JwtVerifier verifier = Verifier(true, true);
  for (const std::string& token : {SignHs(Claims()), SignRs(Claims())}) {
    const std::vector<std::string> parts = absl::StrSplit(token, '.');
    ASSERT_EQ(parts.size(), 3u);
    json::object payload = Payload();
    payload["sub"] = "admin";
    payload["scope"] = "calls:read calls:write events:publish";
    const std::string forged =
        absl::StrCat(parts[0], ".", B64(json::serialize(payload)), ".", parts[2]);
    ExpectRejected(verifier, forged, "signature does not verify");
  }
}

TEST_F(JwtTest, Rs256SignedByAnotherKeyRejected) {
  ExpectRejected(Verifier(false, true), Sign("RS256", other_rsa_->private_pem, Claims()),
                 "signature does not verify");
  ExpectRejected(Verifier(true, true), Sign("RS256", other_rsa_->private_pem, Claims()),
                 "signature does not verify");
}

TEST_F(JwtTest, Rs256TokenRejectedWhenOnlyHsConfigured) {
  ExpectRejected(Verifier(true, false), SignRs(Claims()), "algorithm 'RS256' is not accepted");
}

// Algorithm confusion: an attacker who knows the RSA public key signs an HS256 token with the
// PEM text as the HMAC secret, hoping the verifier feeds its RSA key to HMAC.
TEST_F(JwtTest, AlgorithmConfusionRejectedWithOnlyRsaKey) {
  const JwtVerifier verifier = Verifier(false, true);
  const std::string pem = rsa_->public_pem;
  const std::string payload = json::serialize(Payload());
  ExpectRejected(verifier, HsToken(pem, kHsHeader, payload), "algorithm 'HS256' is not accepted");
  ExpectRejected(verifier, Sign("HS256", pem, Claims()), "algorithm 'HS256' is not accepted");
  // Without the trailing newline, and with an RS256 header over an HMAC signature.
  std::string trimmed = pem;
  while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
  ExpectRejected(verifier, HsToken(trimmed, kHsHeader, payload),
                 "algorithm 'HS256' is not accepted");
  ExpectRejected(verifier, HsToken(pem, R"({"alg":"RS256","typ":"JWT"})", payload),
                 "signature does not verify");
}

TEST_F(JwtTest, AlgorithmConfusionRejectedWithHsAndRsaKeys) {
  const JwtVerifier verifier = Verifier(true, true);
  const std::string pem = rsa_->public_pem;
  const std::string payload = json::serialize(Payload());
  ExpectRejected(verifier, HsToken(pem, kHsHeader, payload), "signature does not verify");
  ExpectRejected(verifier, Sign("HS256", pem, Claims()), "signature does not verify");
  std::string trimmed = pem;
  while (!trimmed.empty() && trimmed.back() == '\n') trimmed.pop_back();
  ExpectRejected(verifier, HsToken(trimmed, kHsHeader, payload), "signature does not verify");
}

TEST_F(JwtTest, ExpiredBeyondLeewayRejected) {
  const JwtVerifier verifier = Verifier(true, false);
  JwtClaims claims = Claims();
  claims.issued_at = now_ - absl::Minutes(20);  // expired five minutes ago
  ExpectRejected(verifier, SignHs(claims), "expired");

  claims.issued_at = now_ - absl::Minutes(15) - absl::Seconds(31);  // 31 s > 30 s leeway
  ExpectRejected(verifier, SignHs(claims), "expired");

  claims.issued_at = now_ - absl::Minutes(15) - absl::Seconds(30);  // exactly at the leeway
  ExpectRejected(verifier, SignHs(claims), "expired");
}

TEST_F(JwtTest, ExpiredWithinLeewayAccepted) {
  const JwtVerifier verifier = Verifier(true, false);
  JwtClaims claims = Claims();
  claims.issued_at = now_ - absl::Minutes(15) - absl::Seconds(10);  // expired 10 s ago
  const auto p = verifier.Verify(SignHs(claims), now_);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->expires_at, now_ - absl::Seconds(10));

  claims.issued_at = now_ - absl::Minutes(15) - absl::Seconds(29);
  EXPECT_TRUE(verifier.Verify(SignHs(claims), now_).ok());

  // With no leeway the same token is refused.
  JwtOptions strict = Options(true, false);
  strict.leeway = absl::ZeroDuration();
  auto strict_verifier = JwtVerifier::Create(strict);
  ASSERT_TRUE(strict_verifier.ok());
  claims.issued_at = now_ - absl::Minutes(15) - absl::Seconds(10);
  ExpectRejected(*strict_verifier, SignHs(claims), "expired");
}

TEST_F(JwtTest, ExpiryUsesTheGivenClock) {
  const JwtVerifier verifier = Verifier(true, false);
  const std::string token = SignHs(Claims());
  EXPECT_TRUE(verifier.Verify(token, now_ + absl::Minutes(15)).ok());
  EXPECT_FALSE(verifier.Verify(token, now_ + absl::Minutes(16)).ok());
}

TEST_F(JwtTest, NotYetValidBeyondLeewayRejected) {
  const JwtVerifier verifier = Verifier(true, false);
  // Only nbf in the future (no iat), hand-crafted.
  json::object payload = Payload();
  payload.erase("iat");
  payload["nbf"] = absl::ToUnixSeconds(now_) + 300;
  ExpectRejected(verifier, HsToken(hs_secret_, kHsHeader, json::serialize(payload)),
                 "not valid yet (nbf)");
  payload["nbf"] = absl::ToUnixSeconds(now_) + 31;
  ExpectRejected(verifier, HsToken(hs_secret_, kHsHeader, json::serialize(payload)),
                 "not valid yet (nbf)");
  // Within the leeway.
  payload["nbf"] = absl::ToUnixSeconds(now_) + 20;
  EXPECT_TRUE(verifier.Verify(HsToken(hs_secret_, kHsHeader, json::serialize(payload)), now_).ok());

  // SignJwt sets nbf = iat: a token issued five minutes in the future.
  JwtClaims claims = Claims();
  claims.issued_at = now_ + absl::Minutes(5);
  ExpectRejected(verifier, SignHs(claims), "not valid yet");
  claims.issued_at = now_ + absl::Seconds(10);
  EXPECT_TRUE(verifier.Verify(SignHs(claims), now_).ok());
}

TEST_F(JwtTest, IssuedInTheFutureRejected) {
  json::object payload = Payload();
  payload.erase("nbf");
  payload["iat"] = absl::ToUnixSeconds(now_) + 3600;
  ExpectRejected(Verifier(true, false), HsToken(hs_secret_, kHsHeader, json::serialize(payload)),
                 "issued in the future");
}

TEST_F(JwtTest, WrongIssuerRejected) {
  JwtClaims claims = Claims();
  claims.issuer = "https://evil.test";
  ExpectRejected(Verifier(true, false), SignHs(claims), "wrong issuer");
  claims.issuer = std::string(kIssuer) + "/";
  ExpectRejected(Verifier(true, false), SignHs(claims), "wrong issuer");

  json::object payload = Payload();
  payload.erase("iss");
  ExpectRejected(Verifier(true, false), HsToken(hs_secret_, kHsHeader, json::serialize(payload)),
                 "wrong issuer");
  payload["iss"] = json::array{kIssuer};
  ExpectRejected(Verifier(true, false), HsToken(hs_secret_, kHsHeader, json::serialize(payload)),
                 "wrong issuer");
}

TEST_F(JwtTest, WrongAudienceRejected) {
  JwtClaims claims = Claims();
  claims.audiences = {"billing"};
  ExpectRejected(Verifier(true, false), SignHs(claims), "wrong audience");
  claims.audiences = {"billing", "reports"};
  ExpectRejected(Verifier(true, false), SignHs(claims), "wrong audience");
  claims.audiences = {};
  ExpectRejected(Verifier(true, false), SignHs(claims), "wrong audience");

  json::object payload = Payload();
  payload.erase("aud");
  ExpectRejected(Verifier(true, false), HsToken(hs_secret_, kHsHeader, json::serialize(payload)),
                 "wrong audience");
  payload["aud"] = json::array{json::array{kAudience}};
  ExpectRejected(Verifier(true, false), HsToken(hs_secret_, kHsHeader, json::serialize(payload)),
                 "wrong audience");
}

TEST_F(JwtTest, AudienceArrayContainingOursAccepted) {
  JwtClaims claims = Claims();
  claims.audiences = {"billing", kAudience, "reports"};
  const auto p = Verifier(true, false).Verify(SignHs(claims), now_);
  EXPECT_TRUE(p.ok()) << p.status();

  // A verifier that accepts several audiences.
  JwtOptions o = Options(true, false);
  o.audiences = {"other", "billing"};
  auto verifier = JwtVerifier::Create(o);
  ASSERT_TRUE(verifier.ok());
  claims.audiences = {"billing"};
  EXPECT_TRUE(verifier->Verify(SignHs(claims), now_).ok());
}

TEST_F(JwtTest, MissingOrMalformedExpRejected) {
  json::object payload = Payload();
  payload.erase("exp");
  ExpectRejected(Verifier(true, false), HsToken(hs_secret_, kHsHeader, json::serialize(payload)),
                 "no exp claim");
  payload["exp"] = std::to_string(absl::ToUnixSeconds(now_) + 900);  // a string
  ExpectRejected(Verifier(true, false), HsToken(hs_secret_, kHsHeader, json::serialize(payload)),
                 "no exp claim");
}

TEST_F(JwtTest, MissingSubRejected) {
  json::object payload = Payload();
  payload.erase("sub");
  ExpectRejected(Verifier(true, false), HsToken(hs_secret_, kHsHeader, json::serialize(payload)),
                 "no sub claim");
  payload["sub"] = "";
  ExpectRejected(Verifier(true, false), HsToken(hs_secret_, kHsHeader, json::serialize(payload)),
                 "no sub claim");
  payload["sub"] = 12345;
  ExpectRejected(Verifier(true, false), HsToken(hs_secret_, kHsHeader, json::serialize(payload)),
                 "no sub claim");

  JwtClaims claims = Claims();
  claims.subject.clear();
  ExpectRejected(Verifier(true, false), SignHs(claims), "no sub claim");
}

TEST_F(JwtTest, TypOtherThanJwtRejected) {
  const std::string payload = json::serialize(Payload());
  for (const char* header : {R"({"alg":"HS256","typ":"JWS"})", R"({"alg":"HS256","typ":"at+jwt"})",
                             R"({"alg":"HS256","typ":""})", R"({"alg":"HS256","typ":1})"}) {
    SCOPED_TRACE(header);
    ExpectRejected(Verifier(true, false), HsToken(hs_secret_, header, payload), "typ is not JWT");
  }
}

TEST_F(JwtTest, CritHeaderRejected) {
  const std::string payload = json::serialize(Payload());
  ExpectRejected(
      Verifier(true, false),
      HsToken(hs_secret_, R"({"alg":"HS256","typ":"JWT","crit":["exp"],"exp":1})", payload),
      "critical header extensions are not supported");
  ExpectRejected(Verifier(true, false),
                 HsToken(hs_secret_, R"({"alg":"HS256","crit":[]})", payload),
                 "critical header extensions are not supported");
}

TEST_F(JwtTest, GarbageRejected) {
  const JwtVerifier verifier = Verifier(true, true);
  ExpectRejected(verifier, "", "empty");
  for (const char* garbage : {"garbage", "a.b", "a.b.c.d", "..", "...", ".payload.sig",
                              "header..sig", "Bearer", "a b c"}) {
    SCOPED_TRACE(garbage);
    const auto result = verifier.Verify(garbage, now_);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
    EXPECT_THAT(std::string(result.status().message()), HasSubstr("invalid token: "));
  }
  const std::string payload = B64(json::serialize(Payload()));
  ExpectRejected(verifier, "!!!not-base64!!!." + payload + ".c2ln", "header is not base64url");
  ExpectRejected(verifier, B64("not json at all") + "." + payload + ".c2ln",
                 "header is not a JSON object");
  ExpectRejected(verifier, B64(R"(["alg","HS256"])") + "." + payload + ".c2ln",
                 "header is not a JSON object");
  ExpectRejected(verifier, B64(kHsHeader) + "." + payload + ".c2ln", "signature does not verify");
  // A correctly signed token whose payload is not JSON.
  ExpectRejected(verifier, HsToken(hs_secret_, kHsHeader, "this is not json"), "");
  ExpectRejected(verifier, HsToken(hs_secret_, kHsHeader, "[1,2,3]"), "");
  // Random bytes.
  for (int i = 0; i < 20; ++i) {
    const std::string random = RandomHex(40 + i) + "." + RandomHex(40) + "." + RandomHex(40);
    const auto result = verifier.Verify(random, now_);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kUnauthenticated);
    ExpectNoTokenIn(std::string(result.status().message()), random);
  }
}

TEST_F(JwtTest, TokenOver8KbRejected) {
  const JwtVerifier verifier = Verifier(true, false);
  // Grow a validly signed token until it crosses 8192 bytes.
  JwtClaims claims = Claims();
  std::string last_fitting;
  std::string first_too_large;
  for (int i = 0; i < 2000 && first_too_large.empty(); ++i) {
    claims.permissions.push_back(absl::StrCat("perm:", i, ":", std::string(20, 'x')));
    std::string token = SignHs(claims);
    if (token.size() <= 8192) {
      last_fitting = std::move(token);
    } else {
      first_too_large = std::move(token);
    }
  }
  ASSERT_FALSE(first_too_large.empty());
  ASSERT_GT(last_fitting.size(), 8000u);
  EXPECT_TRUE(verifier.Verify(last_fitting, now_).ok());
  ExpectRejected(verifier, first_too_large, "too large");
  ExpectRejected(verifier, SignHs(Claims()) + std::string(9000, 'A'), "too large");
}

TEST_F(JwtTest, SignJwtRejectsUnsupportedAlgorithmsAndBadKeys) {
  EXPECT_EQ(SignJwt("none", "", Claims()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SignJwt("HS512", hs_secret_, Claims()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(SignJwt("RS256", "not a pem key", Claims()).ok());
}

TEST_F(JwtTest, SignJwtWritesTheExpectedClaims) {
  JwtClaims claims = Claims();
  claims.key_id = "kid-1";
  const std::string token = SignHs(claims);
  const std::vector<std::string> parts = absl::StrSplit(token, '.');
  ASSERT_EQ(parts.size(), 3u);
  std::string header_json;
  std::string payload_json;
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[0], &header_json));
  ASSERT_TRUE(absl::WebSafeBase64Unescape(parts[1], &payload_json));
  const json::object header = json::parse(header_json).as_object();
  EXPECT_EQ(header.at("alg").as_string(), "HS256");
  EXPECT_EQ(header.at("kid").as_string(), "kid-1");
  const json::object payload = json::parse(payload_json).as_object();
  EXPECT_EQ(payload.at("iss").as_string(), kIssuer);
  EXPECT_EQ(payload.at("sub").as_string(), kSubject);
  EXPECT_EQ(payload.at("aud").as_string(), kAudience);
  EXPECT_EQ(payload.at("scope").as_string(), "calls:read calls:write");
  EXPECT_EQ(payload.at("iat").to_number<int64_t>(), absl::ToUnixSeconds(now_));
  EXPECT_EQ(payload.at("nbf").to_number<int64_t>(), absl::ToUnixSeconds(now_));
  EXPECT_EQ(payload.at("exp").to_number<int64_t>(), absl::ToUnixSeconds(now_) + 900);
}

// ---------------------------------------------------------------------------------------------
// Authorizer

class AuthorizerTest : public JwtTest {
 protected:
  // gRPC metadata refers to strings it does not own: keep them alive in `storage_`.
  std::multimap<grpc::string_ref, grpc::string_ref> Metadata(
      const std::vector<std::pair<std::string, std::string>>& entries) {
    std::multimap<grpc::string_ref, grpc::string_ref> md;
    for (const auto& [k, v] : entries) {
      storage_.push_back(std::make_unique<std::string>(k));
      const std::string& key = *storage_.back();
      storage_.push_back(std::make_unique<std::string>(v));
      const std::string& value = *storage_.back();
      md.emplace(grpc::string_ref(key), grpc::string_ref(value));
    }
    return md;
  }

  void SetUp() override {
    JwtTest::SetUp();
    JwtClaims reader = Claims();
    reader.permissions = {"calls:read"};
    read_token_ = SignHs(reader);
  }

  std::vector<std::unique_ptr<std::string>> storage_;
  std::string read_token_;
};

TEST_F(AuthorizerTest, MissingHeaderIsUnauthenticated) {
  const Authorizer auth(Verifier(true, false));
  const auto md = Metadata({{"user-agent", "grpc-c++"}, {"x-authorization", "Bearer x"}});
  const auto r = auth.Authorize(md, Permission::kReadCalls);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("missing bearer token"));
  EXPECT_EQ(auth.Authorize({}, Permission::kReadCalls).status().code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthorizerTest, BasicAuthIsUnauthenticated) {
  const Authorizer auth(Verifier(true, false));
  const std::string basic = "Basic " + B64("user:" + RandomHex(8));
  const auto r = auth.Authorize(Metadata({{"authorization", basic}}), Permission::kReadCalls);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr(basic)));
  // The token itself without a scheme is not accepted either.
  EXPECT_EQ(auth.Authorize(Metadata({{"authorization", read_token_}}), Permission::kReadCalls)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.Authorize(Metadata({{"authorization", "Bearer "}}), Permission::kReadCalls)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(auth.Authorize(Metadata({{"authorization", "Bearer"}}), Permission::kReadCalls)
                .status()
                .code(),
            absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthorizerTest, ValidBearerWithPermission) {
  const Authorizer auth(Verifier(true, false));
  const auto r = auth.Authorize(Metadata({{"authorization", "Bearer " + read_token_}}),
                                Permission::kReadCalls);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->subject, kSubject);
  EXPECT_TRUE(r->Has(Permission::kReadCalls));
}

// RFC 7235: the authentication scheme is case-insensitive.
TEST_F(AuthorizerTest, SchemeIsCaseInsensitive) {
  const Authorizer auth(Verifier(true, false));
  for (const char* scheme : {"bearer ", "BEARER ", "BeArEr "}) {
    SCOPED_TRACE(scheme);
    const auto r =
        auth.Authorize(Metadata({{"authorization", scheme + read_token_}}), Permission::kReadCalls);
    EXPECT_TRUE(r.ok()) << r.status();
  }
  // Surrounding whitespace around the token is tolerated.
  EXPECT_TRUE(auth.AuthorizeBearer("Bearer  " + read_token_ + " ", Permission::kReadCalls).ok());
}

TEST_F(AuthorizerTest, MissingPermissionIsPermissionDenied) {
  const Authorizer auth(Verifier(true, false));
  const auto md = Metadata({{"authorization", "Bearer " + read_token_}});
  const auto place = auth.Authorize(md, Permission::kPlaceCalls);
  EXPECT_EQ(place.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(place.status().message()), HasSubstr("calls:write"));
  EXPECT_THAT(std::string(place.status().message()), Not(HasSubstr(read_token_)));
  EXPECT_EQ(auth.Authorize(md, Permission::kPublishEvents).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(auth.Authorize(md, Permission::kReadCalls).ok());
}

TEST_F(AuthorizerTest, InvalidTokenIsUnauthenticatedWithoutEchoingIt) {
  const Authorizer auth(Verifier(true, false));
  const std::string forged = Sign("HS256", RandomHex(32), Claims());
  const auto r =
      auth.Authorize(Metadata({{"authorization", "Bearer " + forged}}), Permission::kReadCalls);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  ExpectNoTokenIn(std::string(r.status().message()), forged);

  JwtClaims expired = Claims();
  expired.issued_at = absl::Now() - absl::Hours(2);
  const std::string old = SignHs(expired);
  const auto e = auth.AuthorizeBearer("Bearer " + old, Permission::kReadCalls);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(e.status().message()), HasSubstr("expired"));
  ExpectNoTokenIn(std::string(e.status().message()), old);
}

TEST_F(AuthorizerTest, TwoAuthorizationHeadersRejected) {
  const Authorizer auth(Verifier(true, false));
  const auto r = auth.Authorize(Metadata({{"authorization", "Bearer " + read_token_},
                                          {"authorization", "Bearer " + read_token_}}),
                                Permission::kReadCalls);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
}

TEST_F(AuthorizerTest, Rs256ThroughAuthorizer) {
  const Authorizer auth(Verifier(false, true));
  JwtClaims claims = Claims();
  claims.permissions = {"events:publish"};
  const auto md = Metadata({{"authorization", "Bearer " + SignRs(claims)}});
  EXPECT_TRUE(auth.Authorize(md, Permission::kPublishEvents).ok());
  EXPECT_EQ(auth.Authorize(md, Permission::kPlaceCalls).status().code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace outcall::common
