// Placing a call, the rules first: the request checked (phone number normalised, variables
// scalar, ids positive), the patient and appointment looked up and linked, the opt-out honoured,
// the contact policy decided (ContactPolicy; a refusal places nothing and is stored, an allowed
// decision is stored with the call), the Idempotency-Key claimed (a retry replays the first answer,
// never dials again), the call recorded, then the one outbound request to ElevenLabs; an answer
// that never came is settled by looking the call up by our call id before anyone may dial again.
// Blocking (database, HTTP): run on a worker thread. No gRPC here: the handlers turn the statuses
// into answers.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "call_event_hub.h"
#include "call_repository.h"
#include "contact_policy.h"
#include "metrics.h"
#include "outcall/common/clock.h"
#include "outcall/elevenlabs/api.h"
#include "outcall/v1/call_gateway.pb.h"

namespace outcall::call_gateway {

struct PlacerOptions {
  std::string default_agent_id;
  std::string agent_phone_number_id;
  int max_call_duration_secs = 600;
  std::string default_country_code = "57";
};

// One campaign attempt to dial (the dispatcher's): who, with what, under which key.
struct AttemptDial {
  std::string principal;  // "campaign:<uuid>": decisions are made for it
  NewCall::Attempt attempt;
  std::string agent_id;   // "" = the default agent
  std::string purpose;
  std::string phone_e164;
  std::string patient_name;
  std::optional<int> patient_id, appointment_id;
  google::protobuf::Struct variables;  // the call's dynamic variables, rendered
  std::string metadata_json = "{}";
  std::optional<ProfileRef> profile;  // the campaign's contact-policy profile, if it names one
};

// What an attempt's dial came to.
struct AttemptPlacement {
  enum class Kind {
    kPlaced,        // a call exists for the attempt (placed, failed or being settled): follow it
    kRefused,       // the contact policy or an opt-out refused it (rule; next_allowed_at when a
                    // time-based rule did): nothing was dialled
    kBackPressure,  // ElevenLabs answered 429 (concurrent calls): nothing was placed
    kRetryLater,    // a passing obstacle (the database, a live call to the number)
    kInvalid,       // the attempt cannot be placed as it is (status says why)
  };
  Kind kind = Kind::kInvalid;
  absl::Status status;
  std::string rule;
  std::optional<absl::Time> next_allowed_at;
  std::optional<int64_t> call_row;
  bool back_pressure = false;
};

class CallPlacer {
 public:
  // `policy` decides before every dial, at `clock`'s time.
  CallPlacer(PlacerOptions options, CallRepository& store, const elevenlabs::ElevenLabsApi& api,
             ContactPolicy& policy, const common::Clock& clock, GatewayMetrics& metrics,
             CallEventHub& hub);

  // `principal`: the caller's JWT subject (idempotency keys are per principal); `idem_key` may
  // be empty (no idempotency). `may_override`: the caller holds policy:override (a
  // policyOverrideReason passes a contact-policy refusal, never an opt-out).
  absl::StatusOr<v1::InitiateCallResponse> InitiateCall(const std::string& principal,
                                                        const std::string& idem_key,
                                                        const v1::InitiateCallRequest& request,
                                                        bool may_override = false);
  // The phone number comes from the patients table.
  absl::StatusOr<v1::InitiateCallResponse> CallPatient(const std::string& principal,
                                                       const std::string& idem_key,
                                                       const v1::CallPatientRequest& request,
                                                       bool may_override = false);

  // A campaign's attempt, through the same checks as InitiateCall: the opt-out, the contact
  // policy immediately before the dial, the one-live-contact lock, the attempt's own key.
  AttemptPlacement PlaceAttempt(const AttemptDial& dial);

  // The decision a dial would get (CheckContactPolicy): nothing is dialled or recorded.
  absl::StatusOr<v1::ContactPolicyDecision> CheckContactPolicy(
      const v1::CheckContactPolicyRequest& request);

  // Settles a call whose outbound request may have reached ElevenLabs: found by our call id in
  // the conversation list -> initiated; not found -> failed; list unavailable -> stays dialing.
  // Its idempotency keys follow (CallRepository::MarkInitiated, MarkFailed); `not_placed_answer` is
  // what they get when the call was not placed (OK: a generic UNAVAILABLE naming the call).
  absl::StatusOr<StatusChange> SettleDial(const CallRow& call, std::string_view cause,
                                          const absl::Status& not_placed_answer = absl::OkStatus());

  // Applies events kept for a conversation that was unknown when they came.
  void ApplyEarlyEvents(const std::string& conversation_id);

 private:
  struct Dial;  // one call being placed
  absl::StatusOr<v1::InitiateCallResponse> Place(Dial& dial);
  // A refused request: its key's first answer when the key was used for it, else `refusal`.
  absl::StatusOr<v1::InitiateCallResponse> Refuse(const Dial& dial, const absl::Status& refusal);
  absl::StatusOr<v1::InitiateCallResponse> Replay(const IdempotencyHit& hit);

  PlacerOptions options_;
  CallRepository& store_;
  const elevenlabs::ElevenLabsApi& api_;
  ContactPolicy& policy_;
  const common::Clock& clock_;
  GatewayMetrics& metrics_;
  CallEventHub& hub_;
};

}  // namespace outcall::call_gateway
