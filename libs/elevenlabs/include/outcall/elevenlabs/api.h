// What call-gateway asks of ElevenLabs (and of Twilio, for hang-ups), as an interface: the HTTP
// client (client.h) implements it, and tests of call-gateway's rules use a fake. Errors are absl
// statuses whose code says what the caller may do (RESOURCE_EXHAUSTED: 429; UNAVAILABLE: 5xx,
// timeouts, transport; INVALID_ARGUMENT or FAILED_PRECONDITION: other 4xx; NOT_FOUND), with a
// ProviderFailure attached (GetProviderFailure) and never the key in the message.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace outcall::elevenlabs {

// Details of a provider failure, for elevenlabs_call_errors.
struct ProviderFailure {
  int http_status = 0;  // 0: no HTTP answer
  std::string code;     // ElevenLabs' detail.code (or legacy detail.status), or a transport code
  std::string message;  // the provider's message (no secret)
  bool maybe_delivered = false;  // the request may have reached ElevenLabs (outcome unknown)
};

// The ProviderFailure attached to a status returned by this client (if any).
std::optional<ProviderFailure> GetProviderFailure(const absl::Status& status);

struct AgentInfo {
  std::string agent_id;
  std::string name;
  std::vector<std::string> tags;
};

struct OutboundCall {
  std::string agent_id;
  std::string agent_phone_number_id;
  std::string to_number;
  std::string user_id;  // our call id: the correlation ElevenLabs echoes back and filters on
  boost::json::object dynamic_variables;
  int max_duration_secs = 0;
};

struct PlacedCall {
  std::string conversation_id;
  std::string call_sid;  // Twilio CallSid (empty when ElevenLabs gave none)
};

struct ConversationBrief {
  std::string conversation_id;
  std::string status;  // initiated, in-progress, processing, done, failed
  int64_t start_time_unix_secs = 0;
};

// A conversation's recording as ElevenLabs serves it.
struct ConversationAudio {
  std::string content_type;  // as sent (audio/mpeg), without parameters
  std::string bytes;
};

class ElevenLabsApi {
 public:
  virtual ~ElevenLabsApi() = default;
  // Every agent (all pages).
  virtual absl::StatusOr<std::vector<AgentInfo>> ListAgents() const = 0;
  // POST /v1/convai/twilio/outbound-call, exactly once: never retried by the implementation.
  virtual absl::StatusOr<PlacedCall> PlaceTwilioCall(const OutboundCall& call) const = 0;
  // Conversations whose user_id is `user_id` (our call id), started after `after_unix`.
  virtual absl::StatusOr<std::vector<ConversationBrief>> FindByUserId(std::string_view user_id,
                                                                      std::string_view agent_id,
                                                                      int64_t after_unix) const = 0;
  // GET /v1/convai/conversations/{id}: the full model (NOT_FOUND when ElevenLabs has none).
  virtual absl::StatusOr<boost::json::object> GetConversation(
      std::string_view conversation_id) const = 0;
  // GET /v1/convai/conversations/{id}/audio, up to `max_bytes` within `timeout`.
  virtual absl::StatusOr<ConversationAudio> GetConversationAudio(std::string_view conversation_id,
                                                                 size_t max_bytes,
                                                                 absl::Duration timeout) const = 0;
  // DELETE /v1/convai/conversations/{id} (erases ElevenLabs' record; never hangs up).
  virtual absl::Status DeleteConversation(std::string_view conversation_id) const = 0;
  // Whether hang-ups can be sent (Twilio credentials configured).
  virtual bool twilio_configured() const = 0;
  // Twilio's call update: Status=completed or canceled; the call's status afterwards.
  virtual absl::StatusOr<std::string> UpdateTwilioCall(std::string_view call_sid,
                                                       std::string_view status) const = 0;
};

}  // namespace outcall::elevenlabs
