#include "outcall/common/standard_webhooks.h"

#include "absl/strings/escaping.h"
#include "outcall/common/crypto.h"
#include "outcall/common/strings.h"

namespace outcall::common::standard_webhooks {

std::string SecretFromKey(std::string_view key_bytes) {
  return Cat(kSecretPrefix, Base64Encode(key_bytes));
}

absl::StatusOr<std::string> KeyFromSecret(std::string_view secret) {
  if (secret.substr(0, kSecretPrefix.size()) == kSecretPrefix) {
    secret.remove_prefix(kSecretPrefix.size());
  }
  std::string key;
  if (secret.empty() || !absl::Base64Unescape(ToAbsl(secret), &key) || key.size() < 24) {
    return absl::InvalidArgumentError("webhook secret: not whsec_ followed by a base64 key of 24+ bytes");
  }
  return std::string(secret);
}

absl::StatusOr<std::string> Sign(const std::vector<std::string>& keys_b64, std::string_view id,
                                 int64_t timestamp, std::string_view body) {
  if (keys_b64.empty()) return absl::InvalidArgumentError("webhook signature: no signing secret");
  const std::string ts = std::to_string(timestamp);
  std::string header;
  for (const std::string& b64 : keys_b64) {
    std::string key;
    if (!absl::Base64Unescape(b64, &key) || key.empty()) {
      return absl::InvalidArgumentError("webhook signature: a signing secret is not base64");
    }
    HmacSha256 mac(key);
    mac.Update(id);
    mac.Update(".");
    mac.Update(ts);
    mac.Update(".");
    mac.Update(body);
    const Sha256Digest d = mac.Finish();
    if (!header.empty()) header += ' ';
    header += "v1,";
    header += Base64Encode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
  }
  return header;
}

}  // namespace outcall::common::standard_webhooks
