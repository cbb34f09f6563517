// JWT verification for every RPC (libjwt for signatures, our own claim checks): HS256 and RS256
// only, the algorithm taken from the configured key type and never from the token alone, with
// exp, nbf, iss and aud checked and a small clock skew. Also a signer for tools and tests.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "outcall/common/config.h"

namespace grpc {
class string_ref;
}

namespace outcall::common {

enum class Permission {
  kReadCalls,      // "calls:read": history, stats, conversation details, agents
  kPlaceCalls,     // "calls:write": place, end and erase calls
  kPublishEvents,  // "events:publish": webhook-ingest delivering events to call-gateway
  kOverridePolicy,  // "policy:override": place a call the contact policy refuses, with a reason
  kReadPolicy,      // "policy:read": contact-policy decisions without dialling
  kWriteConsent,    // "consent:write": the consent ledger and other channels' contacts
  kPrivacyAdmin,    // "privacy:admin": data subjects' requests (access export)
  kWriteCampaigns,  // "campaigns:write": create, change, start, pause and cancel campaigns
  kReadSync,        // "sync:read": the clinic's synced patients and appointments
  kWriteSync,       // "sync:write": upsert, cancel and delete them (the clinic's systems)
  kAdminWebhooks,   // "webhooks:admin": outbound webhook subscriptions, deliveries, replays
};

std::string_view PermissionName(Permission p);

struct Principal {
  std::string subject;
  std::string issuer;
  std::set<std::string> permissions;
  absl::Time expires_at;

  bool Has(Permission p) const { return permissions.count(std::string(PermissionName(p))) > 0; }
};

struct JwtOptions {
  std::string issuer;
  std::vector<std::string> audiences;  // the token's aud must contain one of these
  std::vector<Secret> hs256_secrets;   // several while a secret is being rotated
  std::vector<std::string> rs256_public_keys_pem;
  absl::Duration leeway = absl::Seconds(30);
};

JwtOptions JwtOptionsFrom(const CommonConfig& config);

class JwtVerifier {
 public:
  // Fails when no key is configured or a PEM key does not parse.
  static absl::StatusOr<JwtVerifier> Create(JwtOptions options);

  // UNAUTHENTICATED with a short reason (never echoing the token) when the token is not valid.
  absl::StatusOr<Principal> Verify(std::string_view token, absl::Time now = absl::Now()) const;

 private:
  explicit JwtVerifier(JwtOptions options) : options_(std::move(options)) {}
  JwtOptions options_;
};

// Checks the "authorization: Bearer <jwt>" metadata of a gRPC call and the permission.
// UNAUTHENTICATED without a valid token; PERMISSION_DENIED when it lacks the permission.
class Authorizer {
 public:
  explicit Authorizer(JwtVerifier verifier) : verifier_(std::move(verifier)) {}

  absl::StatusOr<Principal> Authorize(
      const std::multimap<grpc::string_ref, grpc::string_ref>& client_metadata,
      Permission needed) const;
  absl::StatusOr<Principal> AuthorizeBearer(std::string_view authorization_header,
                                            Permission needed) const;

 private:
  JwtVerifier verifier_;
};

struct JwtClaims {
  std::string issuer;
  std::string subject;
  std::vector<std::string> audiences;
  std::vector<std::string> permissions;  // written as the space-separated "scope" claim
  absl::Time issued_at = absl::Now();
  absl::Duration lifetime = absl::Minutes(15);
  std::string key_id;  // "kid" header, optional
};

// Signs a token. `algorithm` is "HS256" (key = the secret) or "RS256" (key = PEM private key).
absl::StatusOr<std::string> SignJwt(std::string_view algorithm, std::string_view key,
                                    const JwtClaims& claims);

}  // namespace outcall::common
