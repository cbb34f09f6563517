#include "sim_config.h"

#include <cstdlib>

#include "outcall/common/strings.h"

namespace outcall::sim {

absl::StatusOr<SimConfig> LoadSimConfig(common::EnvReader& env) {
  SimConfig c;
  c.listen_address = env.String("SIM_LISTEN_ADDRESS", c.listen_address);
  c.api_key = env.SecretValue("ELEVENLABS_API_KEY", /*required=*/true);
  c.agent_id = env.String("ELEVENLABS_AGENT_ID", "agent_sim_confirmaciones");
  c.phone_number_id = env.String("ELEVENLABS_AGENT_PHONE_NUMBER_ID", "phnum_sim_twilio");
  c.webhook_url = env.Url("ELEVENLABS_WEBHOOK_URL", "", /*required=*/false);
  c.webhook_secret = env.SecretValue("ELEVENLABS_WEBHOOK_SECRET", /*required=*/false);
  if (!c.webhook_url.empty() && c.webhook_secret.empty()) {
    env.AddError("ELEVENLABS_WEBHOOK_SECRET", "is required when ELEVENLABS_WEBHOOK_URL is set");
  }
  c.webhook_ca_file = env.String("SIM_WEBHOOK_CA_FILE", "");
  c.webhook_timeout_secs = static_cast<int>(env.Int("SIM_WEBHOOK_TIMEOUT_SECS", 10, 1, 600));
  c.webhook_retry = env.Bool("SIM_WEBHOOK_RETRY", false);
  c.twilio_account_sid = env.String("TWILIO_ACCOUNT_SID", "");
  c.twilio_auth_token = env.SecretValue("TWILIO_AUTH_TOKEN", /*required=*/false);
  if (c.twilio_account_sid.empty() != c.twilio_auth_token.empty()) {
    env.AddError("TWILIO_ACCOUNT_SID", "and TWILIO_AUTH_TOKEN must be set together");
  }
  const std::string scale = env.String("SIM_TIME_SCALE", "1");
  char* end = nullptr;
  c.time_scale = std::strtod(scale.c_str(), &end);
  if (end == scale.c_str() || *end != '\0' || c.time_scale < 0 || c.time_scale > 100000) {
    env.AddError("SIM_TIME_SCALE", "must be a number from 0 (frozen) to 100000");
  }
  c.max_concurrent_calls = static_cast<int>(env.Int("SIM_MAX_CONCURRENT_CALLS", 10, 1, 100000));
  c.override_policy = env.OneOf("SIM_OVERRIDE_POLICY", "ignore", {"ignore", "fail"});
  c.extra_fields = env.Bool("SIM_EXTRA_FIELDS", true);
  c.log_level = env.OneOf("LOG_LEVEL", "info", {"trace", "debug", "info", "warn", "error"});
  c.log_format = env.OneOf("LOG_FORMAT", "json", {"json", "text"});
  if (auto s = env.Finish(); !s.ok()) return s;
  return c;
}

}  // namespace outcall::sim
