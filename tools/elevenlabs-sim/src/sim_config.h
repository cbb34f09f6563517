// The simulator's settings, from the same environment the services read (so one .local/env
// drives both sides) plus a few SIM_* knobs of its own.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "outcall/common/config.h"

namespace outcall::sim {

struct SimConfig {
  std::string listen_address = "127.0.0.1:8090";  // SIM_LISTEN_ADDRESS
  common::Secret api_key;                         // ELEVENLABS_API_KEY: the one xi-api-key accepted
  std::string agent_id;           // ELEVENLABS_AGENT_ID: id of the seeded default agent
  std::string phone_number_id;    // ELEVENLABS_AGENT_PHONE_NUMBER_ID: the seeded Twilio number
  std::string webhook_url;        // ELEVENLABS_WEBHOOK_URL: where post-call webhooks go ("" = none)
  common::Secret webhook_secret;  // ELEVENLABS_WEBHOOK_SECRET: signing key
  std::string webhook_ca_file;    // SIM_WEBHOOK_CA_FILE: CA bundle trusted for an https URL
  int webhook_timeout_secs = 10;  // SIM_WEBHOOK_TIMEOUT_SECS
  bool webhook_retry = false;     // SIM_WEBHOOK_RETRY: ElevenLabs' opt-in retry schedule
  std::string twilio_account_sid;    // TWILIO_ACCOUNT_SID: the fake Twilio account
  common::Secret twilio_auth_token;  // TWILIO_AUTH_TOKEN
  double time_scale = 1.0;        // SIM_TIME_SCALE: simulated seconds per real second (0 = frozen)
  int max_concurrent_calls = 10;  // SIM_MAX_CONCURRENT_CALLS
  std::string override_policy = "ignore";  // SIM_OVERRIDE_POLICY: ignore | fail
  bool extra_fields = true;                // SIM_EXTRA_FIELDS: add fields clients don't know
  std::string log_level = "info";          // LOG_LEVEL
  std::string log_format = "json";         // LOG_FORMAT
};

absl::StatusOr<SimConfig> LoadSimConfig(common::EnvReader& env);

}  // namespace outcall::sim
