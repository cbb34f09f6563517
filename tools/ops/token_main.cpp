// outcall-token SUBJECT PERMISSION...: prints a short-lived HS256 token signed with
// JWT_HS256_SECRET(_FILE) for JWT_ISSUER and JWT_AUDIENCE (the first one). For local use and
// scripts; production tokens come from the clinic's identity provider.
#include <cstdio>
#include <string>

#include "outcall/common/config.h"
#include "outcall/common/jwt.h"

int main(int argc, char** argv) {
  using namespace outcall::common;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s SUBJECT PERMISSION... (calls:read calls:write events:publish)\n",
                 argv[0]);
    return 2;
  }
  EnvReader env;
  const Secret secret = env.SecretValue("JWT_HS256_SECRET", /*required=*/true);
  JwtClaims claims;
  claims.issuer = env.RequiredString("JWT_ISSUER");
  claims.audiences = env.List("JWT_AUDIENCE", "");
  claims.lifetime = env.Seconds("TOKEN_LIFETIME_SECS", 3600, 60, 86400);
  if (claims.audiences.empty()) env.AddError("JWT_AUDIENCE", "is required but not set");
  if (auto s = env.Finish(); !s.ok()) {
    std::fprintf(stderr, "outcall-token: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  claims.audiences.resize(1);
  claims.subject = argv[1];
  for (int i = 2; i < argc; ++i) claims.permissions.emplace_back(argv[i]);
  auto token = SignJwt("HS256", secret.Reveal(), claims);
  if (!token.ok()) {
    std::fprintf(stderr, "outcall-token: %s\n", std::string(token.status().message()).c_str());
    return 1;
  }
  std::printf("%s\n", token->c_str());
  return 0;
}
