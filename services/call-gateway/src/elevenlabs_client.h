// The ElevenLabs REST calls call-gateway makes, and Twilio's call update for hang-ups. Every
// request carries a deadline; errors become absl statuses whose code says what the caller may
// do (RESOURCE_EXHAUSTED: 429; UNAVAILABLE: 5xx, timeouts, transport; INVALID_ARGUMENT or
// FAILED_PRECONDITION: other 4xx) and whose message carries the provider's message, never the key.
// Blocking (libcurl): call from gRPC handler threads or the reconciler, never an event loop.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "outcall/common/config.h"
#include "outcall/common/http_client.h"

namespace outcall::call_gateway {

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

class ElevenLabsClient {
 public:
  explicit ElevenLabsClient(const common::ElevenLabsConfig& config);

  // Every agent (all pages).
  absl::StatusOr<std::vector<AgentInfo>> ListAgents() const;
  // POST /v1/convai/twilio/outbound-call, exactly once: never retried here.
  absl::StatusOr<PlacedCall> PlaceTwilioCall(const OutboundCall& call) const;
  // Conversations whose user_id is `user_id` (our call id), started after `after_unix`.
  absl::StatusOr<std::vector<ConversationBrief>> FindByUserId(std::string_view user_id,
                                                              std::string_view agent_id,
                                                              int64_t after_unix) const;
  // GET /v1/convai/conversations/{id}: the full model (NOT_FOUND when ElevenLabs has none).
  absl::StatusOr<boost::json::object> GetConversation(std::string_view conversation_id) const;
  // GET /v1/convai/conversations/{id}/audio: the recording, received into memory up to
  // `max_bytes` (a declared or received body over it ends the transfer: FAILED_PRECONDITION
  // "too large", the same every time) within `timeout` (a recording takes longer than an API
  // answer). NOT_FOUND when ElevenLabs has no audio (or no conversation); 429 and 5xx as the
  // other calls; a 200 that is not audio, or is empty, is UNAVAILABLE.
  absl::StatusOr<ConversationAudio> GetConversationAudio(std::string_view conversation_id,
                                                         size_t max_bytes,
                                                         absl::Duration timeout) const;
  // DELETE /v1/convai/conversations/{id} (erases ElevenLabs' record; never hangs up).
  absl::Status DeleteConversation(std::string_view conversation_id) const;

  bool twilio_configured() const { return !config_.twilio_account_sid.empty(); }
  // Twilio's call update: Status=completed (hang up) or canceled (stop a ringing call). Returns
  // the call's status after the update, as Twilio reports it ("completed", "canceled",
  // "in-progress" when a cancel did not apply, ...).
  absl::StatusOr<std::string> UpdateTwilioCall(std::string_view call_sid,
                                               std::string_view status) const;

 private:
  // With the configured deadline (ELEVENLABS_TIMEOUT_SECS), or `timeout` when given.
  absl::StatusOr<common::HttpResponse> Send(
      common::HttpRequest req, std::optional<absl::Duration> timeout = std::nullopt) const;
  absl::StatusOr<boost::json::value> Json(common::HttpRequest req, std::string_view what) const;

  common::ElevenLabsConfig config_;
  common::HttpClient http_;
};

}  // namespace outcall::call_gateway
