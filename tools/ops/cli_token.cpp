#include "cli_token.h"

#include "absl/strings/str_split.h"
#include "outcall/common/config.h"
#include "outcall/common/jwt.h"

namespace outcall::ops {

absl::StatusOr<std::string> MintCliToken(const std::string& permissions,
                                         const std::string& subject) {
  common::EnvReader env;
  const auto secret = env.SecretValue("JWT_HS256_SECRET", /*required=*/true);
  common::JwtClaims claims;
  claims.issuer = env.RequiredString("JWT_ISSUER");
  claims.audiences = env.List("JWT_AUDIENCE", "");
  if (claims.audiences.empty()) env.AddError("JWT_AUDIENCE", "is required but not set");
  if (auto s = env.Finish(); !s.ok()) {
    return absl::FailedPreconditionError(
        std::string("no --token and cannot mint one: ") + std::string(s.message()));
  }
  claims.audiences.resize(1);
  claims.subject = subject;
  claims.lifetime = absl::Minutes(5);
  claims.permissions = absl::StrSplit(permissions, ',', absl::SkipEmpty());
  return common::SignJwt("HS256", secret.Reveal(), claims);
}

}  // namespace outcall::ops
