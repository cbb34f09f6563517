// What call-gateway asks of ElevenLabs (and of Twilio, for hang-ups), as an interface: the HTTP
// client (client.h) implements it, and tests of call-gateway's rules use a fake. Errors are absl
// statuses whose code says what the caller may do (RESOURCE_EXHAUSTED: 429; UNAVAILABLE: 5xx,
// timeouts, transport; INVALID_ARGUMENT or FAILED_PRECONDITION: other 4xx; NOT_FOUND), carried
// in a Result with the typed ProviderFailure beside it, and never the key in the message.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace outcall::elevenlabs {

// Details of a provider failure, for elevenlabs_call_errors and for deciding what to do next.
struct ProviderFailure {
  int http_status = 0;  // 0: no HTTP answer
  std::string code;     // ElevenLabs' detail.code (or legacy detail.status), or a transport code
                        // ("timeout", "transport", "too_large", "invalid_json", ...)
  std::string message;  // the provider's message (no secret, phone numbers masked)
  bool maybe_delivered = false;  // the request may have reached ElevenLabs (outcome unknown)
};

// What an ElevenLabsApi call gives: its value, or a failure as a status (whose code says what
// the caller may do) with its typed ProviderFailure. A status alone (a fake's, a local refusal)
// has an empty ProviderFailure: not delivered, no HTTP answer.
template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(absl::Status status, ProviderFailure failure = {})  // NOLINT(google-explicit-constructor)
      : status_(status.ok() ? absl::InternalError("a failed Result without an error") : status),
        failure_(std::move(failure)) {}

  bool ok() const { return value_.has_value(); }
  const absl::Status& status() const { return status_; }
  // Meaningful when !ok().
  const ProviderFailure& failure() const { return failure_; }
  const T& operator*() const& { return *value_; }
  T& operator*() & { return *value_; }
  T&& operator*() && { return *std::move(value_); }
  const T* operator->() const { return &*value_; }
  T* operator->() { return &*value_; }

 private:
  absl::Status status_;
  std::optional<T> value_;
  ProviderFailure failure_;
};

// The value of a call that returns nothing but success.
struct Done {};

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
  virtual Result<std::vector<AgentInfo>> ListAgents() const = 0;
  // POST /v1/convai/twilio/outbound-call, exactly once: never retried by the implementation.
  virtual Result<PlacedCall> PlaceTwilioCall(const OutboundCall& call) const = 0;
  // Conversations whose user_id is `user_id` (our call id), started after `after_unix`.
  virtual Result<std::vector<ConversationBrief>> FindByUserId(std::string_view user_id,
                                                              std::string_view agent_id,
                                                              int64_t after_unix) const = 0;
  // GET /v1/convai/conversations/{id}: the full model (NOT_FOUND when ElevenLabs has none).
  virtual Result<boost::json::object> GetConversation(std::string_view conversation_id) const = 0;
  // GET /v1/convai/conversations/{id}/audio, up to `max_bytes` within `timeout`.
  virtual Result<ConversationAudio> GetConversationAudio(std::string_view conversation_id,
                                                         size_t max_bytes,
                                                         absl::Duration timeout) const = 0;
  // DELETE /v1/convai/conversations/{id} (erases ElevenLabs' record; never hangs up).
  virtual Result<Done> DeleteConversation(std::string_view conversation_id) const = 0;
  // Whether hang-ups can be sent (Twilio credentials configured).
  virtual bool twilio_configured() const = 0;
  // Twilio's call update: Status=completed or canceled; the call's status afterwards.
  virtual Result<std::string> UpdateTwilioCall(std::string_view call_sid,
                                               std::string_view status) const = 0;
};

}  // namespace outcall::elevenlabs
