#include "outcall/common/jwt.h"

#include <grpcpp/support/string_ref.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <memory>

#include "absl/strings/escaping.h"
#include "outcall/common/strings.h"

namespace outcall::common {
namespace {

namespace json = boost::json;

constexpr size_t kMaxTokenBytes = 8192;

absl::Status Unauthenticated(std::string_view why) {
  return absl::UnauthenticatedError(Cat("invalid token: ", why));
}

struct JwtDeleter {
  void operator()(jwt_t* j) const { jwt_free(j); }
};
using JwtPtr = std::unique_ptr<jwt_t, JwtDeleter>;

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};

// A NumericDate claim (seconds since the epoch, integer or fraction).
std::optional<double> NumericClaim(const json::object& claims, std::string_view name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::nullopt;
  if (it->value().is_int64()) return static_cast<double>(it->value().as_int64());
  if (it->value().is_uint64()) return static_cast<double>(it->value().as_uint64());
  if (it->value().is_double()) return it->value().as_double();
  return std::nullopt;
}

bool PemParses(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                                               &BIO_free);
  if (!bio) return false;
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) return false;
  const bool rsa = EVP_PKEY_base_id(key) == EVP_PKEY_RSA;
  EVP_PKEY_free(key);
  return rsa;
}

}  // namespace

std::string_view PermissionName(Permission p) {
  switch (p) {
    case Permission::kReadCalls: return "calls:read";
    case Permission::kPlaceCalls: return "calls:write";
    case Permission::kPublishEvents: return "events:publish";
    case Permission::kOverridePolicy: return "policy:override";
    case Permission::kReadPolicy: return "policy:read";
    case Permission::kWriteConsent: return "consent:write";
    case Permission::kPrivacyAdmin: return "privacy:admin";
    case Permission::kWriteCampaigns: return "campaigns:write";
    case Permission::kReadSync: return "sync:read";
    case Permission::kWriteSync: return "sync:write";
    case Permission::kAdminWebhooks: return "webhooks:admin";
  }
  return "";
}

JwtOptions JwtOptionsFrom(const CommonConfig& config) {
  JwtOptions o;
  o.issuer = config.jwt_issuer;
  o.audiences = config.jwt_audiences;
  o.hs256_secrets = config.jwt_hs256_secrets;
  o.rs256_public_keys_pem = config.jwt_rs256_public_keys_pem;
  o.leeway = config.jwt_leeway;
  return o;
}

absl::StatusOr<JwtVerifier> JwtVerifier::Create(JwtOptions options) {
  if (options.hs256_secrets.empty() && options.rs256_public_keys_pem.empty()) {
    return absl::InvalidArgumentError("JWT: no verification key configured");
  }
  if (options.issuer.empty()) return absl::InvalidArgumentError("JWT: issuer must be set");
  if (options.audiences.empty()) return absl::InvalidArgumentError("JWT: audience must be set");
  for (size_t i = 0; i < options.rs256_public_keys_pem.size(); ++i) {
    if (!PemParses(options.rs256_public_keys_pem[i])) {
      return absl::InvalidArgumentError(
          Cat("JWT: public key #", i + 1, " is not a PEM RSA public key"));
    }
  }
  return JwtVerifier(std::move(options));
}

absl::StatusOr<Principal> JwtVerifier::Verify(std::string_view token, absl::Time now) const {
  if (token.empty()) return Unauthenticated("empty");
  if (token.size() > kMaxTokenBytes) return Unauthenticated("too large");
  const std::vector<std::string_view> parts = Split(token, '.');
  if (parts.size() != 3 || parts[0].empty() || parts[1].empty()) {
    return Unauthenticated("not a compact JWS");
  }
  if (parts[2].empty()) return Unauthenticated("unsigned tokens are not accepted");

  // The header decides nothing by itself: its alg must match a key type we hold.
  std::string header_json;
  if (!absl::WebSafeBase64Unescape(ToAbsl(parts[0]), &header_json)) {
    return Unauthenticated("header is not base64url");
  }
  boost::system::error_code ec;
  json::value header = json::parse(header_json, ec);
  if (ec || !header.is_object()) return Unauthenticated("header is not a JSON object");
  const json::object& h = header.as_object();
  auto alg_it = h.find("alg");
  if (alg_it == h.end() || !alg_it->value().is_string()) return Unauthenticated("no alg");
  const std::string alg(alg_it->value().as_string());
  if (auto typ = h.find("typ"); typ != h.end()) {
    if (!typ->value().is_string() ||
        !EqualsIgnoreCase(std::string_view(typ->value().as_string()), "JWT")) {
      return Unauthenticated("typ is not JWT");
    }
  }
  if (h.contains("crit")) return Unauthenticated("critical header extensions are not supported");

  jwt_alg_t expected;
  std::vector<std::string_view> keys;
  if (alg == "HS256" && !options_.hs256_secrets.empty()) {
    expected = JWT_ALG_HS256;
    for (const auto& s : options_.hs256_secrets) keys.emplace_back(s.Reveal());
  } else if (alg == "RS256" && !options_.rs256_public_keys_pem.empty()) {
    expected = JWT_ALG_RS256;
    for (const auto& k : options_.rs256_public_keys_pem) keys.emplace_back(k);
  } else {
    return Unauthenticated(Cat("algorithm '", alg.substr(0, 16), "' is not accepted"));
  }

  const std::string token_str(token);
  JwtPtr decoded;
  for (std::string_view key : keys) {
    jwt_t* raw = nullptr;
    const int rc = jwt_decode(&raw, token_str.c_str(),
                              reinterpret_cast<const unsigned char*>(key.data()),
                              static_cast<int>(key.size()));
    JwtPtr candidate(raw);
    // Belt and braces: libjwt verifies with the header's alg, so insist it is the expected one.
    if (rc == 0 && candidate && jwt_get_alg(candidate.get()) == expected) {
      decoded = std::move(candidate);
      break;
    }
  }
  if (!decoded) return Unauthenticated("signature does not verify");

  std::unique_ptr<char, FreeDeleter> grants(jwt_get_grants_json(decoded.get(), nullptr));
  if (!grants) return Unauthenticated("no claims");
  json::value claims_value = json::parse(grants.get(), ec);
  if (ec || !claims_value.is_object()) return Unauthenticated("claims are not a JSON object");
  const json::object& claims = claims_value.as_object();

  const double now_s = absl::ToDoubleSeconds(now - absl::UnixEpoch());
  const double leeway = absl::ToDoubleSeconds(options_.leeway);
  const auto exp = NumericClaim(claims, "exp");
  if (!exp) return Unauthenticated("no exp claim");
  if (*exp + leeway <= now_s) return Unauthenticated("expired");
  if (const auto nbf = NumericClaim(claims, "nbf"); nbf && *nbf - leeway > now_s) {
    return Unauthenticated("not valid yet (nbf)");
  }
  if (const auto iat = NumericClaim(claims, "iat"); iat && *iat - leeway > now_s) {
    return Unauthenticated("issued in the future (iat)");
  }

  auto iss = claims.find("iss");
  if (iss == claims.end() || !iss->value().is_string() ||
      std::string_view(iss->value().as_string()) != options_.issuer) {
    return Unauthenticated("wrong issuer");
  }

  bool audience_ok = false;
  auto aud_matches = [&](const json::value& v) {
    if (!v.is_string()) return false;
    for (const auto& a : options_.audiences) {
      if (std::string_view(v.as_string()) == a) return true;
    }
    return false;
  };
  if (auto aud = claims.find("aud"); aud != claims.end()) {
    if (aud->value().is_array()) {
      for (const auto& v : aud->value().as_array()) audience_ok = audience_ok || aud_matches(v);
    } else {
      audience_ok = aud_matches(aud->value());
    }
  }
  if (!audience_ok) return Unauthenticated("wrong audience");

  Principal p;
  p.issuer = options_.issuer;
  if (auto sub = claims.find("sub"); sub != claims.end() && sub->value().is_string()) {
    p.subject = std::string(sub->value().as_string());
  }
  if (p.subject.empty()) return Unauthenticated("no sub claim");
  p.expires_at = absl::FromUnixSeconds(static_cast<int64_t>(*exp));
  if (auto scope = claims.find("scope"); scope != claims.end() && scope->value().is_string()) {
    for (std::string_view s : Split(std::string_view(scope->value().as_string()), ' ', true)) {
      p.permissions.emplace(s);
    }
  }
  if (auto perms = claims.find("permissions");
      perms != claims.end() && perms->value().is_array()) {
    for (const auto& v : perms->value().as_array()) {
      if (v.is_string()) p.permissions.emplace(v.as_string());
    }
  }
  return p;
}

absl::StatusOr<Principal> Authorizer::AuthorizeBearer(std::string_view header,
                                                      Permission needed) const {
  constexpr std::string_view kBearer = "bearer ";
  if (header.size() <= kBearer.size() ||
      !EqualsIgnoreCase(header.substr(0, kBearer.size()), kBearer)) {
    return absl::UnauthenticatedError("missing bearer token");
  }
  auto principal = verifier_.Verify(Trim(header.substr(kBearer.size())));
  if (!principal.ok()) return principal.status();
  if (!principal->Has(needed)) {
    return absl::PermissionDeniedError(
        Cat("token lacks the permission ", PermissionName(needed)));
  }
  return principal;
}

absl::StatusOr<Principal> Authorizer::Authorize(
    const std::multimap<grpc::string_ref, grpc::string_ref>& client_metadata,
    Permission needed) const {
  auto range = client_metadata.equal_range("authorization");
  if (range.first == range.second) return absl::UnauthenticatedError("missing bearer token");
  if (std::next(range.first) != range.second) {
    return absl::UnauthenticatedError("more than one authorization header");
  }
  const grpc::string_ref& v = range.first->second;
  return AuthorizeBearer(std::string_view(v.data(), v.size()), needed);
}

absl::StatusOr<std::string> SignJwt(std::string_view algorithm, std::string_view key,
                                    const JwtClaims& claims) {
  jwt_alg_t alg;
  if (algorithm == "HS256") {
    alg = JWT_ALG_HS256;
  } else if (algorithm == "RS256") {
    alg = JWT_ALG_RS256;
  } else {
    return absl::InvalidArgumentError(Cat("unsupported algorithm ", algorithm));
  }
  jwt_t* raw = nullptr;
  if (jwt_new(&raw) != 0) return absl::InternalError("jwt_new failed");
  JwtPtr token(raw);
  json::object c;
  c["iss"] = claims.issuer;
  c["sub"] = claims.subject;
  if (claims.audiences.size() == 1) {
    c["aud"] = claims.audiences[0];
  } else {
    json::array a;
    for (const auto& s : claims.audiences) a.emplace_back(s);
    c["aud"] = std::move(a);
  }
  const int64_t iat = absl::ToUnixSeconds(claims.issued_at);
  c["iat"] = iat;
  c["nbf"] = iat;
  c["exp"] = absl::ToUnixSeconds(claims.issued_at + claims.lifetime);
  c["scope"] = Join(claims.permissions, " ");
  const std::string body = json::serialize(c);
  if (jwt_add_grants_json(token.get(), body.c_str()) != 0) {
    return absl::InternalError("jwt_add_grants_json failed");
  }
  if (!claims.key_id.empty() && jwt_add_header(token.get(), "kid", claims.key_id.c_str()) != 0) {
    return absl::InternalError("jwt_add_header failed");
  }
  if (jwt_set_alg(token.get(), alg, reinterpret_cast<const unsigned char*>(key.data()),
                  static_cast<int>(key.size())) != 0) {
    return absl::InvalidArgumentError("the key does not suit the algorithm");
  }
  std::unique_ptr<char, FreeDeleter> encoded(jwt_encode_str(token.get()));
  if (!encoded) return absl::InvalidArgumentError("signing failed (is the key valid?)");
  return std::string(encoded.get());
}

}  // namespace outcall::common
