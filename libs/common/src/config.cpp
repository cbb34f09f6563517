#include "outcall/common/config.h"

#include <boost/url.hpp>
#include <cstdlib>
#include <optional>

#include "outcall/common/files.h"
#include "outcall/common/strings.h"

namespace outcall::common {

EnvLookup ProcessEnv() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

EnvReader::EnvReader(EnvLookup lookup) : lookup_(std::move(lookup)) {}

std::optional<std::string> EnvReader::Raw(std::string_view name) {
  auto v = lookup_(name);
  // An empty variable means "not set": that is how compose files and shells express absence.
  if (v && v->empty()) return std::nullopt;
  return v;
}

void EnvReader::AddError(std::string_view name, std::string_view problem) {
  errors_.push_back(Cat(name, ": ", problem));
}

absl::Status EnvReader::Finish() const {
  if (errors_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      Cat("invalid configuration: ", Join(errors_, "; ")));
}

std::string EnvReader::String(std::string_view name, std::string_view default_value) {
  auto v = Raw(name);
  return v ? *v : std::string(default_value);
}

std::string EnvReader::RequiredString(std::string_view name) {
  auto v = Raw(name);
  if (!v) {
    AddError(name, "is required but not set");
    return {};
  }
  return *v;
}

Secret EnvReader::SecretValue(std::string_view name, bool required) {
  const std::string file_var = Cat(name, "_FILE");
  auto direct = Raw(name);
  auto file = Raw(file_var);
  if (direct && file) {
    AddError(name, Cat("set either ", name, " or ", file_var, ", not both"));
    return {};
  }
  if (file) {
    auto contents = ReadWholeFile(*file);
    if (!contents) {
      AddError(file_var, Cat("cannot read file ", *file));
      return {};
    }
    std::string value = *std::move(contents);
    if (!value.empty() && value.back() == '\n') value.pop_back();
    if (!value.empty() && value.back() == '\r') value.pop_back();
    if (value.empty()) {
      AddError(file_var, Cat("file ", *file, " is empty"));
      return {};
    }
    return Secret(std::move(value));
  }
  if (direct) return Secret(*direct);
  if (required) AddError(name, Cat("is required but neither it nor ", file_var, " is set"));
  return {};
}

int64_t EnvReader::Int(std::string_view name, int64_t default_value, int64_t min, int64_t max) {
  auto v = Raw(name);
  if (!v) return default_value;
  int64_t out = 0;
  if (!ParseInt(*v, &out) || out < min || out > max) {
    AddError(name, Cat("must be an integer from ", min, " to ", max, ", got '", *v, "'"));
    return default_value;
  }
  return out;
}

bool EnvReader::Bool(std::string_view name, bool default_value) {
  auto v = Raw(name);
  if (!v) return default_value;
  const std::string s = ToLower(Trim(*v));
  if (s == "true" || s == "1" || s == "yes" || s == "on") return true;
  if (s == "false" || s == "0" || s == "no" || s == "off") return false;
  AddError(name, Cat("must be true or false, got '", *v, "'"));
  return default_value;
}

absl::Duration EnvReader::Seconds(std::string_view name, int64_t default_seconds, int64_t min,
                                  int64_t max) {
  return absl::Seconds(Int(name, default_seconds, min, max));
}

namespace {

// An absolute URL with an authority, as RFC 3986 reads it. Boost.URL 1.81 reads
// "http://127.0.0.1.evil.test" as host 127.0.0.1 and path ".evil.test" (fixed in 1.82); a path
// after an authority must be empty or start with '/', so such a parse is refused here.
std::optional<boost::urls::url_view> ParseAbsoluteUrl(std::string_view text) {
  auto u = boost::urls::parse_absolute_uri(text);
  if (!u || !u->has_authority()) return std::nullopt;
  if (!u->encoded_path().empty() && !u->encoded_path().starts_with('/')) return std::nullopt;
  return *u;
}

}  // namespace

std::string EnvReader::Url(std::string_view name, std::string_view default_value, bool required) {
  auto v = Raw(name);
  if (!v) {
    if (required) AddError(name, "is required but not set");
    return std::string(default_value);
  }
  std::string url = *v;
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed || (parsed->scheme_id() != boost::urls::scheme::http &&
                  parsed->scheme_id() != boost::urls::scheme::https)) {
    AddError(name, Cat("must be an http:// or https:// URL, got '", url, "'"));
    return std::string(default_value);
  }
  if (!parsed->has_authority() || parsed->encoded_host().empty()) {
    AddError(name, Cat("has no host: '", url, "'"));
    return std::string(default_value);
  }
  if (!ParseAbsoluteUrl(url)) {
    AddError(name, Cat("has no valid host: '", url, "'"));
    return std::string(default_value);
  }
  // Paths are appended to it: "https://host/v1/" is "https://host/v1".
  while (url.size() > 1 && url.back() == '/') url.pop_back();
  return url;
}

std::vector<std::string> EnvReader::List(std::string_view name, std::string_view default_value) {
  const std::string raw = String(name, default_value);
  std::vector<std::string> out;
  for (std::string_view part : Split(raw, ',')) {
    part = Trim(part);
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

std::string EnvReader::OneOf(std::string_view name, std::string_view default_value,
                             const std::vector<std::string_view>& allowed) {
  std::string v = String(name, default_value);
  for (auto a : allowed) {
    if (v == a) return v;
  }
  AddError(name, Cat("must be one of ", Join(allowed, ", "), ", got '", v, "'"));
  return std::string(default_value);
}

namespace {

bool IsHostPort(std::string_view s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  int64_t port = 0;
  return ParseInt(s.substr(colon + 1), &port) && port >= 0 && port <= 65535;
}

std::string ReadFileOrError(EnvReader& env, std::string_view var, const std::string& path) {
  auto contents = ReadWholeFile(path);
  if (!contents) env.AddError(var, Cat("cannot read file ", path));
  return contents.value_or("");
}

// Splits a PEM bundle into its "-----BEGIN PUBLIC KEY-----" blocks.
std::vector<std::string> SplitPem(const std::string& bundle) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    const size_t begin = bundle.find("-----BEGIN ", pos);
    if (begin == std::string::npos) break;
    const size_t end_marker = bundle.find("-----END ", begin);
    if (end_marker == std::string::npos) break;
    const size_t end = bundle.find("-----", end_marker + 9);
    if (end == std::string::npos) break;
    out.push_back(bundle.substr(begin, end + 5 - begin) + "\n");
    pos = end + 5;
  }
  return out;
}


}  // namespace


CommonConfig ReadCommonConfig(EnvReader& env, const ServiceDefaults& defaults) {
  CommonConfig c;
  c.log_level = env.OneOf("LOG_LEVEL", "info", {"trace", "debug", "info", "warn", "error"});
  c.log_format = env.OneOf("LOG_FORMAT", "json", {"json", "text"});
  c.database_url = env.SecretValue("DATABASE_URL", /*required=*/true);
  if (!c.database_url.empty() &&
      !std::string_view(c.database_url.Reveal()).starts_with("postgresql://") &&
      !std::string_view(c.database_url.Reveal()).starts_with("postgres://") &&
      c.database_url.Reveal().find('=') == std::string::npos) {
    env.AddError("DATABASE_URL",
                 "must be a postgresql:// URL or a libpq key=value string (value not shown)");
  }
  c.database_pool_size = static_cast<int>(env.Int("DATABASE_POOL_SIZE", 8, 1, 200));
  c.grpc_listen_address = env.String("GRPC_LISTEN_ADDRESS", defaults.grpc_listen_address);
  if (!IsHostPort(c.grpc_listen_address)) {
    env.AddError("GRPC_LISTEN_ADDRESS",
                 Cat("must be host:port, got '", c.grpc_listen_address, "'"));
  }
  c.metrics_listen_address =
      env.String("METRICS_LISTEN_ADDRESS", defaults.metrics_listen_address);
  if (!c.metrics_listen_address.empty() && c.metrics_listen_address != "off" &&
      !IsHostPort(c.metrics_listen_address)) {
    env.AddError("METRICS_LISTEN_ADDRESS",
                 Cat("must be host:port or off, got '", c.metrics_listen_address, "'"));
  }
  if (c.metrics_listen_address == "off") c.metrics_listen_address.clear();
  c.shutdown_grace = env.Seconds("SHUTDOWN_GRACE_SECS", 10, 0, 300);

  c.default_country_code = env.String("DEFAULT_COUNTRY_CODE", "57");
  if (c.default_country_code.empty() || c.default_country_code.size() > 3 ||
      c.default_country_code.find_first_not_of("0123456789") != std::string::npos ||
      c.default_country_code[0] == '0') {
    env.AddError("DEFAULT_COUNTRY_CODE",
                 Cat("must be 1 to 3 digits without '+', got '", c.default_country_code,
                              "'"));
  }
  c.clinic_timezone = env.String("CLINIC_TIMEZONE", "America/Bogota");
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(c.clinic_timezone, &tz)) {
    env.AddError("CLINIC_TIMEZONE",
                 Cat("is not a known IANA time zone: '", c.clinic_timezone, "'"));
  }

  ReadJwtConfig(env, c);
  return c;
}

void ReadJwtConfig(EnvReader& env, CommonConfig& c) {
  c.jwt_issuer = env.RequiredString("JWT_ISSUER");
  c.jwt_audiences = env.List("JWT_AUDIENCE", "");
  if (c.jwt_audiences.empty()) env.AddError("JWT_AUDIENCE", "is required but not set");
  for (const char* name : {"JWT_HS256_SECRET", "JWT_HS256_SECRET_PREVIOUS"}) {
    Secret s = env.SecretValue(name, /*required=*/false);
    if (s.empty()) continue;
    if (s.Reveal().size() < 32) {
      env.AddError(name, "must be at least 32 bytes long (value not shown)");
      continue;
    }
    c.jwt_hs256_secrets.push_back(std::move(s));
  }
  const std::string keys_file = env.String("JWT_PUBLIC_KEYS_FILE", "");
  if (!keys_file.empty()) {
    const std::string bundle = ReadFileOrError(env, "JWT_PUBLIC_KEYS_FILE", keys_file);
    c.jwt_rs256_public_keys_pem = SplitPem(bundle);
    if (!bundle.empty() && c.jwt_rs256_public_keys_pem.empty()) {
      env.AddError("JWT_PUBLIC_KEYS_FILE",
                   Cat("holds no PEM public key: ", keys_file));
    }
  }
  if (c.jwt_hs256_secrets.empty() && c.jwt_rs256_public_keys_pem.empty()) {
    env.AddError("JWT_HS256_SECRET",
                 "no JWT key configured: set JWT_HS256_SECRET(_FILE) or JWT_PUBLIC_KEYS_FILE");
  }
  c.jwt_leeway = env.Seconds("JWT_LEEWAY_SECS", 30, 0, 300);
}

// Only an exact loopback host counts: no user-info ("127.0.0.1@evil.test"), no look-alike
// names ("127.0.0.1.evil.test", "localhost.evil.test").
bool IsLoopbackUrl(std::string_view url) {
  auto u = ParseAbsoluteUrl(url);
  if (!u || u->has_userinfo()) return false;
  switch (u->host_type()) {
    case boost::urls::host_type::ipv4:
      return (u->host_ipv4_address().to_uint() >> 24) == 127;
    case boost::urls::host_type::ipv6:
      return u->host_ipv6_address().is_loopback();
    case boost::urls::host_type::name:
      return u->encoded_host() == "localhost";
    default:
      return false;
  }
}

}  // namespace outcall::common
