// What call-gateway's rules need to keep of calls, patients and idempotency keys, as an
// interface: CallStore (PostgreSQL) implements it, and unit tests of the rules (CallPlacer,
// CallControl) use an in-memory fake. Each method is one transaction; none blocks on anything but
// its storage.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "outcall/policy/data_requests.h"
#include "outcall/v1/call_gateway.pb.h"

namespace outcall::call_gateway {

struct PatientRow {
  int id = 0;
  std::string full_name;
  std::string phone_e164;  // may be empty
  bool do_not_call = false;
};

// A decision as it is stored (policy_decisions).
struct DecisionRecord {
  std::optional<int> patient_id;
  std::string purpose;  // PurposeName
  std::string channel;  // ChannelName
  absl::Time decided_at;
  bool allowed = false;
  std::string rule;  // the refusing rule ("" when allowed without an override)
  std::string profile_id;
  int profile_version = 0;
  std::string override_reason;  // non-empty: a refusal passed by a caller with policy:override
  std::string decided_for;      // the principal
  std::string record_json;
};

struct NewCall {
  std::string agent_id;
  std::string agent_phone_number_id;
  std::optional<int> patient_id;
  std::optional<int> appointment_id;
  std::string phone_number;  // E.164
  std::string patient_name;
  std::string custom_variables_json = "{}";
  std::string metadata_json = "{}";
  int max_duration_secs = 600;
  std::string purpose = "confirmation";  // the contact's purpose (contact policy)
  // The contact-policy decision that allowed the call, stored with it (policy_decisions).
  std::optional<DecisionRecord> decision;
  // A purpose under the policy's frequency rules: BeginCall refuses to start the call while
  // another call to the patient or the number is live (its answer may yet count toward the
  // caps), serialised per number and patient, so two such calls never pass the check together.
  bool one_live_contact = false;
  // A campaign's attempt (campaign_dispatcher.h): its recipient and number, and the call id
  // derived from them. At most one call exists per attempt (a unique index): BeginCall of an
  // attempt begun before places nothing and returns that call (Begin::attempt_existed).
  struct Attempt {
    int64_t recipient_id = 0;
    int attempt_no = 0;
    std::string call_id;
  };
  std::optional<Attempt> attempt;
};

struct CallRow {
  int64_t id = 0;
  std::string call_id;
  std::string conversation_id;
  std::string call_sid;
  std::string status;
  std::string agent_id;
  std::string phone_number;
  int64_t dial_attempted_unix = 0;
  int64_t created_unix = 0;
  int max_duration_secs = 600;
};

// What an idempotency key found.
struct IdempotencyHit {
  bool in_progress = false;
  int grpc_code = 0;
  std::string response_json;  // the InitiateCallResponse, or {"message"} for an error
};

struct ProviderErrorRecord {
  std::string source = "provider";
  std::string code;
  int http_status = 0;
  std::string message;
};

// A status change, for WatchCallEvents.
// Whether a call status is final (completed, failed, no_answer, busy, ended_manually, canceled).
bool IsFinalStatus(std::string_view status);

struct StatusChange {
  std::string conversation_id, call_id, status, previous_status, cause;
};

// The seed's answer for a call ElevenLabs accepted (InitiateCall's response, and what an
// idempotency key replays).
v1::InitiateCallResponse InitiatedResponse(const std::string& conversation_id,
                                           const std::string& call_id);
// protobuf's JSON mapping (lowerCamelCase names): what an idempotency key's answer and a
// call's variables are stored as.
std::string MessageJson(const google::protobuf::Message& m);
// The SHA-256 (hex) an Idempotency-Key's request is compared by: the request's deterministic
// serialisation (map entries ordered by key, so a retry parsed anew hashes the same).
std::string RequestSha256(const google::protobuf::Message& m);

class CallRepository {
 public:
  virtual ~CallRepository() = default;

  virtual absl::StatusOr<std::optional<PatientRow>> FindPatient(int id) = 0;
  // The one patient with this number (none, or several: nullopt, no guess).
  virtual absl::StatusOr<std::optional<PatientRow>> FindPatientByPhone(const std::string& e164) = 0;
  // The patient an appointment belongs to, or nullopt when there is no such appointment.
  virtual absl::StatusOr<std::optional<int>> AppointmentPatient(int appointment_id) = 0;
  // True when the number (or the patient) asked not to be called.
  virtual absl::StatusOr<bool> IsOptedOut(const std::string& e164,
                                          std::optional<int> patient_id) = 0;

  // Records a call in "dialing" (dial_attempted_at = now) and, with a key, claims it. Returns the
  // row, or an IdempotencyHit when the key was used before with the same request;
  // ALREADY_EXISTS when the key was used with another request or a live call exists (one live
  // call per phone number and appointment).
  // With one_live_contact, a live call to the patient or the number leaves nothing written and
  // names that call in live_contact.
  struct Begin {
    std::optional<CallRow> call;
    std::optional<IdempotencyHit> replay;
    std::optional<std::string> live_contact;  // its call id
    bool attempt_existed = false;             // `call` is the attempt's call, begun before
  };
  virtual absl::StatusOr<Begin> BeginCall(const NewCall& call, const std::string& principal,
                                          const std::string& idem_key,
                                          const std::string& request_sha256) = 0;
  // What a key holds, without claiming it: nullopt when unused (or expired), ALREADY_EXISTS when
  // it was used with another request. For an answer refused before any claim (opt-out, contact
  // policy): a retry of a request that was placed still gets its first answer.
  virtual absl::StatusOr<std::optional<IdempotencyHit>> FindKey(
      const std::string& principal, const std::string& idem_key,
      const std::string& request_sha256) = 0;
  // Stores the final answer for an idempotency key.
  virtual absl::Status FinishKey(const std::string& principal, const std::string& idem_key,
                                 int64_t call_row, int grpc_code,
                                 const std::string& response_json) = 0;

  // A key follows its call: these two are the ways a "dialing" call is settled, and each gives
  // every in_progress idempotency key of the call its final answer in the same transaction, so
  // that a client retrying with the key after a crash gets that answer.
  //
  // The call was accepted by ElevenLabs: its keys get InitiatedResponse(conversation id, call id).
  virtual absl::StatusOr<StatusChange> MarkInitiated(int64_t row,
                                                     const std::string& conversation_id,
                                                     const std::string& call_sid,
                                                     std::string_view cause) = 0;
  // The call was not placed: its keys get `answer` (a non-OK status: code and message).
  virtual absl::StatusOr<StatusChange> MarkFailed(int64_t row, const ProviderErrorRecord& error,
                                                  std::string_view cause,
                                                  const absl::Status& answer) = 0;
  virtual absl::Status RecordError(int64_t row, const std::string& conversation_id,
                                   const ProviderErrorRecord& e) = 0;
  // Removes a call ElevenLabs definitely did not place (a campaign attempt refused with 429
  // concurrent_limit_exceeded: back-pressure, so the same attempt is dialled again later).
  virtual absl::Status DiscardUnplaced(int64_t row) = 0;

  // By ElevenLabs' conversation id or by our call id (a UUID).
  virtual absl::StatusOr<std::optional<CallRow>> FindCall(const std::string& id) = 0;
  virtual absl::StatusOr<v1::Conversation> LoadConversation(int64_t row) = 0;
  // The call's stored recording (elevenlabs_audio), or nullopt when none is stored here.
  struct StoredAudio {
    std::string content_type;
    std::string bytes;
    bool external = false;  // only a storage_uri: the bytes are elsewhere
  };
  virtual absl::StatusOr<std::optional<StoredAudio>> LoadAudio(const std::string& conversation_id) = 0;
  // Moves a call to `status` if that is a forward move; returns the change (status unchanged
  // when it was not allowed).
  virtual absl::StatusOr<StatusChange> AdvanceStatus(
      int64_t row, std::string_view status, std::string_view cause,
      std::optional<std::string> termination_reason = std::nullopt) = 0;
  // Erases transcript, analysis, audio and variables of a call (the row and its figures stay).
  virtual absl::Status EraseData(int64_t row) = 0;
  // Everything held about a patient as one JSON document (an access request), or nullopt when
  // there is no such patient.
  virtual absl::StatusOr<std::optional<std::string>> ExportPatientData(int patient_id) = 0;
  // Re-applies events kept for a conversation that was unknown when they came.
  virtual absl::Status ReplayUnmatched(const std::string& conversation_id,
                                       std::vector<StatusChange>& changes) = 0;
};

// A data subject's request (DataRequests, data_requests.h) as it is stored
// (data_subject_requests, migration 0014).
struct NewDataRequest {
  int patient_id = 0;
  policy::DataRequestKind kind = policy::DataRequestKind::kAccess;
  std::string received_via;
  std::string external_ref;  // "" when the clinic gave none
  std::string requested_by;  // the principal
  absl::Time received_at;
  policy::Deadlines deadlines;
  // Rectification: the corrected values (set ones only). time_zone "" clears the patient's zone.
  std::optional<std::string> full_name, phone_e164, time_zone;
};

struct DataRequestRow {
  int64_t id = 0;
  int patient_id = 0;
  std::string kind, state, received_via, external_ref, requested_by;
  absl::Time received_at, due_at, extended_due_at;
  std::optional<absl::Time> completed_at;
  std::string detail_json = "{}";
  int erasures_pending = 0;
  std::string last_error;
  bool duplicate = false;  // Create: the externalRef was registered before; nothing changed
};

// One call a deletion erases.
struct ErasureItem {
  int64_t request_id = 0;
  int64_t call_row = 0;
  std::string conversation_id;  // "" when ElevenLabs never gave one
  bool call_final = false;
  int attempts = 0;  // failed tries at ElevenLabs so far
};

class DataRequestRepository {
 public:
  virtual ~DataRequestRepository() = default;
  // Registers the request and, in the same transaction, does what it does at once: a
  // rectification's correction; a deletion's removal of the patient's personal data and one
  // erasure per call (the request completes at once when the patient has no calls). nullopt
  // when there is no such patient; FAILED_PRECONDITION when the patient's data was deleted
  // before (anything but access); an externalRef registered before returns that request
  // (duplicate), or ALREADY_EXISTS when it was for another patient or kind.
  virtual absl::StatusOr<std::optional<DataRequestRow>> CreateDataRequest(
      const NewDataRequest& request) = 0;
  virtual absl::StatusOr<std::optional<DataRequestRow>> GetDataRequest(int64_t id) = 0;
  // state "" for both; open ones by deadline first, then completed ones newest first.
  virtual absl::StatusOr<std::vector<DataRequestRow>> ListDataRequests(
      const std::string& state, std::optional<int> patient_id, int limit) = 0;
  // Up to `limit` due erasures, each leased for `lease` (another replica skips it meanwhile).
  virtual absl::StatusOr<std::vector<ErasureItem>> ClaimErasures(int limit,
                                                                 absl::Duration lease) = 0;
  // The call's content erased here (EraseData's), the item done and, with its last item, the
  // request completed: one transaction.
  virtual absl::Status FinishErasure(const ErasureItem& item) = 0;
  // The item is tried again at `next`; a non-empty `error` counts a failed try and is kept.
  virtual absl::Status PostponeErasure(const ErasureItem& item, absl::Time next,
                                       const std::string& error) = 0;
  struct OpenCount {
    int open = 0, overdue = 0;  // overdue: still open at or after due_at
  };
  virtual absl::StatusOr<OpenCount> CountOpenDataRequests() = 0;
};

}  // namespace outcall::call_gateway
