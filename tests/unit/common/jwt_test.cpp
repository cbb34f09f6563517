// JWT verification against hostile tokens, and the bearer/permission check.
#include "outcall/common/jwt.h"

#include <gtest/gtest.h>
#include <grpcpp/support/string_ref.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>

#include "absl/strings/escaping.h"
#include "outcall/common/crypto.h"

namespace outcall::common {
namespace {

struct RsaKey {
  std::string private_pem;
  std::string public_pem;
};

RsaKey GenerateRsa() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  RsaKey out;
  BIO* priv = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(priv, key, nullptr, nullptr, 0, nullptr, nullptr);
  BIO* pub = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(pub, key);
  char* data = nullptr;
  long n = BIO_get_mem_data(priv, &data);
  out.private_pem.assign(data, static_cast<size_t>(n));
  n = BIO_get_mem_data(pub, &data);
  out.public_pem.assign(data, static_cast<size_t>(n));
  BIO_free(priv);
  BIO_free(pub);
  EVP_PKEY_free(key);
  return out;
}

std::string B64Url(std::string_view s) {
  std::string out;
  absl::WebSafeBase64Escape(absl::string_view(s.data(), s.size()), &out);
  return out;
}

class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new RsaKey(GenerateRsa());
    other_rsa_ = new RsaKey(GenerateRsa());
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete other_rsa_;
  }

  void SetUp() override { secret_ = RandomHex(32); }

  JwtOptions Options(bool hs, bool rs) const {
    JwtOptions o;
    o.issuer = "https://auth.clinic.test";
    o.audiences = {"outcall"};
    if (hs) o.hs256_secrets = {Secret(secret_)};
    if (rs) o.rs256_public_keys_pem = {rsa_->public_pem};
    o.leeway = absl::Seconds(30);
    return o;
  }
  JwtClaims Claims() const {
    JwtClaims c;
    c.issuer = "https://auth.clinic.test";
    c.subject = "recepcion-1";
    c.audiences = {"outcall"};
    c.permissions = {"calls:read", "calls:write"};
    return c;
  }
  // A token signed over arbitrary header and claims JSON with HMAC key `key`.
  static std::string HandMadeHs256(const std::string& header, const std::string& claims,
                                   const std::string& key) {
    const std::string signing_input = B64Url(header) + "." + B64Url(claims);
    const auto mac = HmacSha256::Compute(key, signing_input);
    return signing_input + "." +
           B64Url(std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  }
  std::string ClaimsJson(int64_t exp_offset = 600) const {
    const int64_t now = absl::ToUnixSeconds(absl::Now());
    boost::json::object c{{"iss", "https://auth.clinic.test"},
                          {"sub", "recepcion-1"},
                          {"aud", "outcall"},
                          {"exp", now + exp_offset},
                          {"scope", "calls:read"}};
    return boost::json::serialize(c);
  }

  static RsaKey* rsa_;
  static RsaKey* other_rsa_;
  std::string secret_;
};

RsaKey* JwtTest::rsa_ = nullptr;
RsaKey* JwtTest::other_rsa_ = nullptr;

void ExpectUnauthenticated(const absl::StatusOr<Principal>& p, std::string_view why) {
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(std::string(p.status().message()).find(why), std::string::npos) << p.status();
}

TEST_F(JwtTest, ValidHs256AndRs256TokensAreAccepted) {
  auto v = JwtVerifier::Create(Options(true, true));
  ASSERT_TRUE(v.ok()) << v.status();
  auto hs = SignJwt("HS256", secret_, Claims());
  ASSERT_TRUE(hs.ok());
  auto p = v->Verify(*hs);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->subject, "recepcion-1");
  EXPECT_TRUE(p->Has(Permission::kReadCalls));
  EXPECT_TRUE(p->Has(Permission::kPlaceCalls));
  EXPECT_FALSE(p->Has(Permission::kPublishEvents));

  auto rs = SignJwt("RS256", rsa_->private_pem, Claims());
  ASSERT_TRUE(rs.ok());
  EXPECT_TRUE(v->Verify(*rs).ok());
}

TEST_F(JwtTest, AlgNoneIsRefused) {
  auto v = JwtVerifier::Create(Options(true, true));
  const std::string unsigned_token =
      B64Url(R"({"alg":"none","typ":"JWT"})") + "." + B64Url(ClaimsJson()) + ".";
  ExpectUnauthenticated(v->Verify(unsigned_token), "unsigned");
  const std::string with_sig =
      B64Url(R"({"alg":"none"})") + "." + B64Url(ClaimsJson()) + "." + B64Url("sig");
  ExpectUnauthenticated(v->Verify(with_sig), "not accepted");
}

TEST_F(JwtTest, WrongKeysAreRefused) {
  auto v = JwtVerifier::Create(Options(true, true));
  ExpectUnauthenticated(v->Verify(*SignJwt("HS256", RandomHex(32), Claims())), "signature");
  ExpectUnauthenticated(v->Verify(*SignJwt("RS256", other_rsa_->private_pem, Claims())),
                        "signature");
}

TEST_F(JwtTest, Hs256SignedWithTheRsaPublicKeyIsRefused) {
  const std::string forged =
      HandMadeHs256(R"({"alg":"HS256","typ":"JWT"})", ClaimsJson(), rsa_->public_pem);
  // Only the RSA key configured: HS256 is not even an accepted algorithm.
  auto rs_only = JwtVerifier::Create(Options(false, true));
  ExpectUnauthenticated(rs_only->Verify(forged), "not accepted");
  // Both configured: the HMAC key is the secret, never the PEM text.
  auto both = JwtVerifier::Create(Options(true, true));
  ExpectUnauthenticated(both->Verify(forged), "signature");
}

TEST_F(JwtTest, TimeClaimsAreCheckedWithLeeway) {
  auto v = JwtVerifier::Create(Options(true, false));
  JwtClaims c = Claims();
  c.issued_at = absl::Now() - absl::Minutes(20);
  c.lifetime = absl::Minutes(10);  // expired 10 minutes ago
  ExpectUnauthenticated(v->Verify(*SignJwt("HS256", secret_, c)), "expired");
  c.issued_at = absl::Now() - absl::Seconds(610);  // expired 10 s ago: inside the 30 s leeway
  c.lifetime = absl::Seconds(600);
  EXPECT_TRUE(v->Verify(*SignJwt("HS256", secret_, c)).ok());
  c.issued_at = absl::Now() + absl::Minutes(5);  // nbf and iat in the future
  ExpectUnauthenticated(v->Verify(*SignJwt("HS256", secret_, c)), "not valid yet");
  ExpectUnauthenticated(
      v->Verify(HandMadeHs256(R"({"alg":"HS256"})",
                              R"({"iss":"https://auth.clinic.test","sub":"x","aud":"outcall"})",
                              secret_)),
      "no exp");
}

TEST_F(JwtTest, IssuerAudienceAndSubjectAreChecked) {
  auto v = JwtVerifier::Create(Options(true, false));
  JwtClaims c = Claims();
  c.issuer = "https://evil.test";
  ExpectUnauthenticated(v->Verify(*SignJwt("HS256", secret_, c)), "issuer");
  c = Claims();
  c.audiences = {"another-api"};
  ExpectUnauthenticated(v->Verify(*SignJwt("HS256", secret_, c)), "audience");
  c.audiences = {"another-api", "outcall"};
  EXPECT_TRUE(v->Verify(*SignJwt("HS256", secret_, c)).ok());
  c = Claims();
  c.subject = "";
  ExpectUnauthenticated(v->Verify(*SignJwt("HS256", secret_, c)), "sub");
}

TEST_F(JwtTest, HeaderOddities) {
  auto v = JwtVerifier::Create(Options(true, false));
  ExpectUnauthenticated(v->Verify(HandMadeHs256(R"({"alg":"HS256","typ":"JWE"})", ClaimsJson(),
                                                secret_)),
                        "typ");
  ExpectUnauthenticated(v->Verify(HandMadeHs256(R"({"alg":"HS256","crit":["exp"]})",
                                                ClaimsJson(), secret_)),
                        "critical");
  EXPECT_TRUE(v->Verify(HandMadeHs256(R"({"alg":"HS256"})", ClaimsJson(), secret_)).ok());
  for (const char* garbage : {"", "abc", "a.b", "a.b.c.d", "...", "!!.??.**"}) {
    EXPECT_EQ(v->Verify(garbage).status().code(), absl::StatusCode::kUnauthenticated) << garbage;
  }
  ExpectUnauthenticated(v->Verify(std::string(9000, 'a')), "too large");
}

TEST_F(JwtTest, RotationAcceptsBothSecrets) {
  JwtOptions o = Options(true, false);
  const std::string previous = RandomHex(32);
  o.hs256_secrets.push_back(Secret(previous));
  auto v = JwtVerifier::Create(o);
  EXPECT_TRUE(v->Verify(*SignJwt("HS256", secret_, Claims())).ok());
  EXPECT_TRUE(v->Verify(*SignJwt("HS256", previous, Claims())).ok());
}

TEST_F(JwtTest, CreateRefusesBadConfiguration) {
  EXPECT_FALSE(JwtVerifier::Create(Options(false, false)).ok());
  JwtOptions o = Options(false, true);
  o.rs256_public_keys_pem = {"-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"};
  EXPECT_FALSE(JwtVerifier::Create(o).ok());
}

TEST_F(JwtTest, AuthorizerChecksBearerAndPermission) {
  Authorizer auth(*JwtVerifier::Create(Options(true, false)));
  JwtClaims reader = Claims();
  reader.permissions = {"calls:read"};
  const std::string token = *SignJwt("HS256", secret_, reader);
  const std::string bearer = "Bearer " + token;
  const std::string lower = "bearer " + token;
  const std::string basic = "Basic dXNlcjpwYXNz";
  const std::string key = "authorization";

  std::multimap<grpc::string_ref, grpc::string_ref> md;
  EXPECT_EQ(auth.Authorize(md, Permission::kReadCalls).status().code(),
            absl::StatusCode::kUnauthenticated);
  md.emplace(key, basic);
  EXPECT_EQ(auth.Authorize(md, Permission::kReadCalls).status().code(),
            absl::StatusCode::kUnauthenticated);
  md.clear();
  md.emplace(key, lower);
  EXPECT_TRUE(auth.Authorize(md, Permission::kReadCalls).ok());
  md.clear();
  md.emplace(key, bearer);
  EXPECT_TRUE(auth.Authorize(md, Permission::kReadCalls).ok());
  auto denied = auth.Authorize(md, Permission::kPlaceCalls);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(std::string(denied.status().message()).find(token), std::string::npos);
  md.emplace(key, bearer);
  EXPECT_EQ(auth.Authorize(md, Permission::kReadCalls).status().code(),
            absl::StatusCode::kUnauthenticated);  // two authorization headers

  auto forged = auth.AuthorizeBearer("Bearer " + token + "x", Permission::kReadCalls);
  EXPECT_EQ(forged.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(std::string(forged.status().message()).find(token), std::string::npos);
}

}  // namespace
}  // namespace outcall::common
