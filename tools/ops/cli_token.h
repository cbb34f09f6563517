// The short-lived token the operator tools send when given no --token: minted from
// JWT_HS256_SECRET, JWT_ISSUER and JWT_AUDIENCE (`set -a; . .local/env`), as outcall-cli does.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace outcall::ops {

// `permissions`: comma-separated; `subject`: who the services will log as the principal.
absl::StatusOr<std::string> MintCliToken(const std::string& permissions,
                                         const std::string& subject);

}  // namespace outcall::ops
