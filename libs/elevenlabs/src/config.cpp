#include "outcall/elevenlabs/config.h"

namespace outcall::elevenlabs {

using common::EnvReader;
using common::Secret;

ElevenLabsConfig ReadElevenLabsConfig(EnvReader& env) {
  ElevenLabsConfig c;
  c.api_key = env.SecretValue("ELEVENLABS_API_KEY", /*required=*/true);
  c.base_url = env.Url("ELEVENLABS_BASE_URL", "https://api.elevenlabs.io", /*required=*/false);
  c.agent_id = env.RequiredString("ELEVENLABS_AGENT_ID");
  c.agent_phone_number_id = env.RequiredString("ELEVENLABS_AGENT_PHONE_NUMBER_ID");
  c.webhook_url = env.Url("ELEVENLABS_WEBHOOK_URL", "", /*required=*/false);
  for (const char* name : {"ELEVENLABS_WEBHOOK_SECRET", "ELEVENLABS_WEBHOOK_SECRET_PREVIOUS"}) {
    Secret s = env.SecretValue(name, /*required=*/false);
    if (!s.empty()) c.webhook_secrets.push_back(std::move(s));
  }
  c.max_call_duration_secs =
      static_cast<int>(env.Int("ELEVENLABS_MAX_CALL_DURATION", 600, 10, 7200));
  c.save_call_audio = env.Bool("SAVE_CALL_AUDIO", true);
  c.request_timeout = env.Seconds("ELEVENLABS_TIMEOUT_SECS", 15, 1, 120);
  c.twilio_account_sid = env.String("TWILIO_ACCOUNT_SID", "");
  c.twilio_auth_token = env.SecretValue("TWILIO_AUTH_TOKEN", /*required=*/false);
  c.twilio_base_url = env.Url("TWILIO_BASE_URL", "https://api.twilio.com", /*required=*/false);
  if (c.twilio_account_sid.empty() != c.twilio_auth_token.empty()) {
    env.AddError("TWILIO_ACCOUNT_SID",
                 "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set together");
  }
  // The API key must not travel in clear: plain http is only for the simulator on loopback.
  if (std::string_view(c.base_url).starts_with("http://") && !common::IsLoopbackUrl(c.base_url)) {
    env.AddError("ELEVENLABS_BASE_URL",
                 "must be https:// (plain http only for a simulator on loopback)");
  }
  return c;
}

}  // namespace outcall::elevenlabs
