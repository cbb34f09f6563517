// Typed configuration from environment variables. Every secret can also come from a file named
// by <NAME>_FILE (Kubernetes and Docker secrets). Errors are collected and reported together,
// each naming its variable, and never include a secret's value.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace outcall::common {

// A value that must never be printed. There is deliberately no operator<<.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}
  const std::string& Reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

 private:
  std::string value_;
};

using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// Reads the process environment.
EnvLookup ProcessEnv();

class EnvReader {
 public:
  explicit EnvReader(EnvLookup lookup = ProcessEnv());

  std::string String(std::string_view name, std::string_view default_value);
  std::string RequiredString(std::string_view name);
  // <name> or the contents of the file named by <name>_FILE (one trailing newline removed).
  Secret SecretValue(std::string_view name, bool required);
  int64_t Int(std::string_view name, int64_t default_value, int64_t min, int64_t max);
  bool Bool(std::string_view name, bool default_value);
  absl::Duration Seconds(std::string_view name, int64_t default_seconds, int64_t min,
                         int64_t max);
  // An http(s) URL; trailing slashes removed.
  std::string Url(std::string_view name, std::string_view default_value, bool required);
  // Comma-separated, trimmed, empty items dropped.
  std::vector<std::string> List(std::string_view name, std::string_view default_value);
  // One of `allowed` (case-sensitive).
  std::string OneOf(std::string_view name, std::string_view default_value,
                    const std::vector<std::string_view>& allowed);

  // Records an error about a variable (for cross-field checks done by callers).
  void AddError(std::string_view name, std::string_view problem);
  // OK, or INVALID_ARGUMENT listing every problem found so far.
  absl::Status Finish() const;

 private:
  std::optional<std::string> Raw(std::string_view name);

  EnvLookup lookup_;
  std::vector<std::string> errors_;
};

// Settings every service shares.
struct CommonConfig {
  std::string log_level;   // LOG_LEVEL: trace, debug, info, warn, error
  std::string log_format;  // LOG_FORMAT: json or text
  Secret database_url;     // DATABASE_URL (may hold a password: treated as a secret)
  int database_pool_size = 8;
  std::string grpc_listen_address;  // GRPC_LISTEN_ADDRESS, host:port
  std::string metrics_listen_address;  // METRICS_LISTEN_ADDRESS, host:port, empty disables
  absl::Duration shutdown_grace;
  std::string default_country_code;  // DEFAULT_COUNTRY_CODE, digits
  std::string clinic_timezone;       // CLINIC_TIMEZONE, IANA name

  // JWT
  std::string jwt_issuer;
  std::vector<std::string> jwt_audiences;
  std::vector<Secret> jwt_hs256_secrets;       // JWT_HS256_SECRET (+ JWT_HS256_SECRET_PREVIOUS)
  std::vector<std::string> jwt_rs256_public_keys_pem;  // from JWT_PUBLIC_KEYS_FILE
  absl::Duration jwt_leeway;
};

struct ServiceDefaults {
  std::string grpc_listen_address;
  std::string metrics_listen_address;
};

// Reads the shared settings; problems are recorded in `env` (see EnvReader::Finish).
CommonConfig ReadCommonConfig(EnvReader& env, const ServiceDefaults& defaults);

// The JWT settings alone (JWT_ISSUER, JWT_AUDIENCE, JWT_HS256_SECRET[_PREVIOUS],
// JWT_PUBLIC_KEYS_FILE, JWT_LEEWAY_SECS), for a process that checks tokens but has no database
// (the REST edge). ReadCommonConfig reads them too.
void ReadJwtConfig(EnvReader& env, CommonConfig& c);

// True for an http(s) URL whose host is exactly a loopback address (localhost, 127.x.y.z, [::1]):
// no user-info, no look-alike names. Plain http is only allowed there (a local simulator).
bool IsLoopbackUrl(std::string_view url);


}  // namespace outcall::common
