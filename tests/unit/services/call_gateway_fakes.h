// In-memory stand-ins for what call-gateway's rules talk to, so that CallPlacer and CallControl
// can be tested without PostgreSQL or ElevenLabs:
//   FakeCallRepository: CallRepository over maps, with CallStore's semantics where the interface
//     leaves them open (the forward-only status order, what an idempotency key stores, the
//     phone-masked live-call refusal, opt-outs by number, patient or do_not_call).
//   FakeElevenLabs: ElevenLabsApi answering from queues the test fills, recording every request.
// Both are thread-safe (one mutex each), so a test may drive them from several threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "call_repository.h"
#include "contact_policy.h"
#include "outcall/common/clock.h"
#include "outcall/elevenlabs/api.h"

namespace outcall::call_gateway::fakes {

// One call as the fake keeps it: the row the interface returns, what it was begun with, and what
// the rules recorded about it afterwards.
struct FakeCall {
  CallRow row;
  NewCall request;
  std::string termination_reason;
  std::vector<ProviderErrorRecord> errors;  // RecordError and MarkFailed, in order
  bool erased = false;
};

// One idempotency key (per principal), as idempotency_keys keeps it.
struct FakeKey {
  std::string request_sha256;
  bool in_progress = true;
  int grpc_code = 0;
  std::string response_json;  // empty while in progress
  int64_t call_row = 0;       // 0: no call yet
  absl::Time expires_at;
};

class FakeCallRepository final : public CallRepository {
 public:
  // `clock` stamps created_unix and dial_attempted_unix and expires keys (24 hours, as CallStore).
  explicit FakeCallRepository(const common::Clock& clock = common::Clock::Real()) : clock_(clock) {}

  // Test set-up.
  void AddPatient(PatientRow patient);
  void AddAppointment(int appointment_id, int patient_id);
  void OptOutPhone(std::string e164);
  void OptOutPatient(int patient_id);
  // The next call of `method` (its name, e.g. "MarkInitiated") fails with `status`, once per
  // status queued: a storage failure at exactly that step.
  void FailNext(std::string_view method, absl::Status status);

  // Inspection.
  std::vector<FakeCall> calls() const;
  std::optional<FakeCall> call(int64_t row) const;
  std::optional<FakeKey> key(const std::string& principal, const std::string& idem_key) const;
  // How many times each method was called, by name ("BeginCall", "FinishKey", ...).
  int calls_of(std::string_view method) const;
  // The conversation ids ReplayUnmatched was asked about, in order.
  std::vector<std::string> replayed_conversations() const;

  // CallRepository.
  absl::StatusOr<std::optional<PatientRow>> FindPatient(int id) override;
  absl::StatusOr<std::optional<PatientRow>> FindPatientByPhone(const std::string& e164) override;
  absl::StatusOr<std::optional<int>> AppointmentPatient(int appointment_id) override;
  absl::StatusOr<bool> IsOptedOut(const std::string& e164, std::optional<int> patient_id) override;
  absl::StatusOr<Begin> BeginCall(const NewCall& call, const std::string& principal,
                                  const std::string& idem_key,
                                  const std::string& request_sha256) override;
  absl::StatusOr<std::optional<IdempotencyHit>> FindKey(const std::string& principal,
                                                        const std::string& idem_key,
                                                        const std::string& request_sha256) override;
  absl::Status FinishKey(const std::string& principal, const std::string& idem_key,
                         int64_t call_row, int grpc_code,
                         const std::string& response_json) override;
  absl::StatusOr<StatusChange> MarkInitiated(int64_t row, const std::string& conversation_id,
                                             const std::string& call_sid,
                                             std::string_view cause) override;
  absl::StatusOr<StatusChange> MarkFailed(int64_t row, const ProviderErrorRecord& error,
                                          std::string_view cause,
                                          const absl::Status& answer) override;
  absl::Status RecordError(int64_t row, const std::string& conversation_id,
                           const ProviderErrorRecord& e) override;
  absl::Status DiscardUnplaced(int64_t row) override;
  absl::StatusOr<std::optional<CallRow>> FindCall(const std::string& id) override;
  absl::StatusOr<v1::Conversation> LoadConversation(int64_t row) override;
  absl::StatusOr<std::optional<StoredAudio>> LoadAudio(const std::string& conversation_id) override;
  absl::StatusOr<StatusChange> AdvanceStatus(
      int64_t row, std::string_view status, std::string_view cause,
      std::optional<std::string> termination_reason = std::nullopt) override;
  absl::Status EraseData(int64_t row) override;
  // The patient as a small document ({"patient": {"id", "full_name"}}), or nullopt.
  absl::StatusOr<std::optional<std::string>> ExportPatientData(int patient_id) override;
  absl::Status ReplayUnmatched(const std::string& conversation_id,
                               std::vector<StatusChange>& changes) override;

 private:
  using KeyId = std::pair<std::string, std::string>;  // (principal, idem_key)

  // What an unexpired key holds (BeginCall's replay and FindKey, as CallStore's ReadKey).
  absl::StatusOr<std::optional<IdempotencyHit>> ReadKey(const std::string& principal,
                                                        const std::string& idem_key,
                                                        const std::string& request_sha256,
                                                        absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Counts the call and returns the failure queued for it, if any.
  absl::Status Enter(std::string_view method) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  FakeCall* Find(int64_t row) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  StatusChange Unchanged(const FakeCall& c, std::string_view cause) const;
  // CallStore's Advance: the move when call_status_can_transition allows it, else unchanged.
  StatusChange Advance(FakeCall& c, std::string_view to, std::string_view cause);
  // The call's in_progress keys completed with `code` and `response_json`.
  void CompleteKeys(int64_t row, int code, const std::string& response_json)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const common::Clock& clock_;
  mutable absl::Mutex mu_;
  std::map<int, PatientRow> patients_ ABSL_GUARDED_BY(mu_);
  std::map<int, int> appointments_ ABSL_GUARDED_BY(mu_);  // id -> patient id
  std::set<std::string> opted_out_phones_ ABSL_GUARDED_BY(mu_);
  std::set<int> opted_out_patients_ ABSL_GUARDED_BY(mu_);
  std::map<int64_t, FakeCall> calls_ ABSL_GUARDED_BY(mu_);
  std::map<KeyId, FakeKey> keys_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::deque<absl::Status>, std::less<>> failures_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int, std::less<>> counts_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> replayed_ ABSL_GUARDED_BY(mu_);
  int64_t next_row_ ABSL_GUARDED_BY(mu_) = 1;
};

// The contact policy's storage: `inputs` is what every LoadPolicyInputs answers (the test sets
// history, consents, zone, profile); refusals and profiles are kept for inspection.
class FakePolicyRepository final : public PolicyRepository {
 public:
  absl::StatusOr<PolicyInputs> LoadPolicyInputs(const PolicySubject& subject,
                                                policy::Channel channel, absl::Time at,
                                                const ProfileRef* profile) override;
  absl::Status RecordDecision(const DecisionRecord& decision) override;
  absl::StatusOr<int64_t> AppendConsent(const ConsentRecord& consent) override;
  absl::StatusOr<std::pair<int64_t, bool>> AppendContact(const ContactRecord& contact) override;
  // Answers from `evidence` what the query selects (range, patient, keyset, limit).
  absl::StatusOr<std::vector<EvidenceRecord>> Evidence(const EvidenceQuery& query) override;
  std::vector<EvidenceRecord> evidence;
  absl::Status EnsureProfile(const std::string& id, int version,
                             const std::string& document) override;

  std::vector<DecisionRecord> refusals() const;
  std::vector<ConsentRecord> consents() const;
  std::vector<ContactRecord> contacts() const;
  std::vector<PolicySubject> asked() const;  // the subjects LoadPolicyInputs was asked about

  PolicyInputs inputs;  // set before the calls; read under the lock
  absl::Status fail_load = absl::OkStatus();

 private:
  mutable absl::Mutex mu_;
  std::vector<DecisionRecord> refusals_ ABSL_GUARDED_BY(mu_);
  std::vector<ConsentRecord> consents_ ABSL_GUARDED_BY(mu_);
  std::vector<ContactRecord> contacts_ ABSL_GUARDED_BY(mu_);
  std::vector<PolicySubject> asked_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<std::string, int>, std::string> profiles_ ABSL_GUARDED_BY(mu_);
};

// An ElevenLabs that answers from what the test queued, recording every request. ListAgents
// answers from `agents` (or `fail`), counting the requests. An unqueued PlaceTwilioCall or
// FindByUserId answers INTERNAL (not delivered), so a test that did not expect a request fails
// on its answer as well as on the recorded requests.
class FakeElevenLabs final : public elevenlabs::ElevenLabsApi {
 public:
  struct FindRequest {
    std::string user_id;
    std::string agent_id;
    int64_t after_unix = 0;
  };

  void QueuePlace(elevenlabs::Result<elevenlabs::PlacedCall> result);
  void QueueFind(elevenlabs::Result<std::vector<elevenlabs::ConversationBrief>> result);
  std::vector<elevenlabs::OutboundCall> placed() const;
  std::vector<FindRequest> finds() const;
  // DeleteConversation answers from this queue (an empty queue: deleted); the ids asked, in order.
  void QueueDelete(elevenlabs::Result<elevenlabs::Done> result);
  std::vector<std::string> deleted() const;

  elevenlabs::Result<std::vector<elevenlabs::AgentInfo>> ListAgents() const override;
  elevenlabs::Result<elevenlabs::PlacedCall> PlaceTwilioCall(
      const elevenlabs::OutboundCall& call) const override;
  elevenlabs::Result<std::vector<elevenlabs::ConversationBrief>> FindByUserId(
      std::string_view user_id, std::string_view agent_id, int64_t after_unix) const override;
  elevenlabs::Result<boost::json::object> GetConversation(std::string_view) const override;
  elevenlabs::Result<elevenlabs::ConversationAudio> GetConversationAudio(
      std::string_view, size_t, absl::Duration) const override;
  elevenlabs::Result<elevenlabs::Done> DeleteConversation(std::string_view) const override;
  bool twilio_configured() const override { return false; }
  elevenlabs::Result<std::string> UpdateTwilioCall(std::string_view,
                                                   std::string_view) const override;

  // ListAgents, set by the test before use (not guarded: the agents tests are single-threaded).
  std::vector<elevenlabs::AgentInfo> agents;
  absl::Status fail = absl::OkStatus();
  mutable std::atomic<int> list_agents_calls{0};

 private:
  mutable absl::Mutex mu_;
  mutable std::deque<elevenlabs::Result<elevenlabs::PlacedCall>> place_answers_
      ABSL_GUARDED_BY(mu_);
  mutable std::deque<elevenlabs::Result<std::vector<elevenlabs::ConversationBrief>>> find_answers_
      ABSL_GUARDED_BY(mu_);
  mutable std::vector<elevenlabs::OutboundCall> placed_ ABSL_GUARDED_BY(mu_);
  mutable std::vector<FindRequest> finds_ ABSL_GUARDED_BY(mu_);
  mutable std::deque<elevenlabs::Result<elevenlabs::Done>> delete_answers_ ABSL_GUARDED_BY(mu_);
  mutable std::vector<std::string> deleted_ ABSL_GUARDED_BY(mu_);
};

}  // namespace outcall::call_gateway::fakes
