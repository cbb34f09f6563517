// Standard Webhooks (https://www.standardwebhooks.com), version 1 signatures, for the webhooks
// outcall sends: the signed content is "<webhook-id>.<webhook-timestamp>.<body>", the MAC
// HMAC-SHA256 with the secret's key, the header "v1,<base64 MAC>" once per signing secret,
// space-separated (a receiver accepts any one it knows, which is what makes rotation lossless).
// Secrets are shown as "whsec_" + base64(key).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace outcall::common::standard_webhooks {

inline constexpr std::string_view kSecretPrefix = "whsec_";

// "whsec_" + the key's base64.
std::string SecretFromKey(std::string_view key_bytes);
// The base64 key of a "whsec_..." secret (or of a bare base64 key); INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> KeyFromSecret(std::string_view secret);

// The webhook-signature header for `keys_b64` (base64 keys, newest first).
// INVALID_ARGUMENT when there is no key or one is not base64.
absl::StatusOr<std::string> Sign(const std::vector<std::string>& keys_b64, std::string_view id,
                                 int64_t timestamp, std::string_view body);

}  // namespace outcall::common::standard_webhooks
