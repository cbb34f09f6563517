// ElevenLabs' and Twilio's settings, read from the environment (the seed's names first). Only
// call-gateway uses them; webhook-ingest reads its webhook secrets itself.
#pragma once

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "outcall/common/config.h"

namespace outcall::elevenlabs {

struct ElevenLabsConfig {
  common::Secret api_key;  // ELEVENLABS_API_KEY (the local simulator's key in simulation mode)
  std::string base_url;    // ELEVENLABS_BASE_URL
  std::string agent_id;    // ELEVENLABS_AGENT_ID
  std::string agent_phone_number_id;  // ELEVENLABS_AGENT_PHONE_NUMBER_ID
  std::string webhook_url;            // ELEVENLABS_WEBHOOK_URL
  std::vector<common::Secret>
      webhook_secrets;               // ELEVENLABS_WEBHOOK_SECRET (+ _PREVIOUS, for rotation)
  int max_call_duration_secs = 600;  // ELEVENLABS_MAX_CALL_DURATION
  bool save_call_audio = true;       // SAVE_CALL_AUDIO
  absl::Duration request_timeout;    // ELEVENLABS_TIMEOUT_SECS
  std::string twilio_account_sid;    // TWILIO_ACCOUNT_SID
  common::Secret twilio_auth_token;  // TWILIO_AUTH_TOKEN
  std::string twilio_base_url;       // TWILIO_BASE_URL
};

ElevenLabsConfig ReadElevenLabsConfig(common::EnvReader& env);

}  // namespace outcall::elevenlabs
