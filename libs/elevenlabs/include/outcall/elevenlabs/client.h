// The ElevenLabs REST client (libcurl): the ElevenLabsApi over HTTP, and Twilio's call update for
// hang-ups. Every request carries a deadline (ELEVENLABS_TIMEOUT_SECS). Blocking: call from
// worker threads or the reconciler, never from an event loop or a gRPC callback thread.
#pragma once

#include <optional>

#include "outcall/common/http_client.h"
#include "outcall/elevenlabs/api.h"
#include "outcall/elevenlabs/config.h"

namespace outcall::elevenlabs {

class ElevenLabsClient final : public ElevenLabsApi {
 public:
  explicit ElevenLabsClient(const ElevenLabsConfig& config);

  // Every agent (all pages).
  Result<std::vector<AgentInfo>> ListAgents() const override;
  // POST /v1/convai/twilio/outbound-call, exactly once: never retried here.
  Result<PlacedCall> PlaceTwilioCall(const OutboundCall& call) const override;
  // Conversations whose user_id is `user_id` (our call id), started after `after_unix`.
  Result<std::vector<ConversationBrief>> FindByUserId(std::string_view user_id,
                                                      std::string_view agent_id,
                                                      int64_t after_unix) const override;
  // GET /v1/convai/conversations/{id}: the full model (NOT_FOUND when ElevenLabs has none).
  Result<boost::json::object> GetConversation(std::string_view conversation_id) const override;
  // GET /v1/convai/conversations/{id}/audio: the recording, received into memory up to
  // `max_bytes` (a declared or received body over it ends the transfer: FAILED_PRECONDITION
  // "too large", the same every time) within `timeout` (a recording takes longer than an API
  // answer). NOT_FOUND when ElevenLabs has no audio (or no conversation); 429 and 5xx as the
  // other calls; a 200 that is not audio, or is empty, is UNAVAILABLE.
  Result<ConversationAudio> GetConversationAudio(std::string_view conversation_id,
                                                 size_t max_bytes,
                                                 absl::Duration timeout) const override;
  // DELETE /v1/convai/conversations/{id} (erases ElevenLabs' record; never hangs up).
  Result<Done> DeleteConversation(std::string_view conversation_id) const override;

  bool twilio_configured() const override { return !config_.twilio_account_sid.empty(); }
  // Twilio's call update: Status=completed (hang up) or canceled (stop a ringing call). Returns
  // the call's status after the update, as Twilio reports it ("completed", "canceled",
  // "in-progress" when a cancel did not apply, ...).
  Result<std::string> UpdateTwilioCall(std::string_view call_sid,
                                       std::string_view status) const override;

 private:
  // With the configured deadline (ELEVENLABS_TIMEOUT_SECS), or `timeout` when given.
  Result<common::HttpResponse> Send(
      common::HttpRequest req, std::optional<absl::Duration> timeout = std::nullopt) const;
  Result<boost::json::value> Json(common::HttpRequest req, std::string_view what) const;

  ElevenLabsConfig config_;
  common::HttpClient http_;
};

}  // namespace outcall::elevenlabs
