// call-gateway's PostgreSQL side: the CallRepository (calls, patients, idempotency keys), the
// reconciler's work queues (calls to settle, recordings to recover: claimed FOR UPDATE SKIP
// LOCKED) and the application of webhook events, each in one transaction, through named
// prepared statements (common::Exec: each parsed and planned once per pooled connection).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "call_repository.h"
#include "contact_policy.h"
#include "outcall/common/pg_pool.h"
#include "outcall/v1/call_gateway.pb.h"
#include "outcall/v1/events.pb.h"

namespace outcall::call_gateway {

struct CallStoreOptions {
  // SAVE_CALL_AUDIO: a transcription saying its conversation has audio (has_audio) records that
  // the call needs its recording (call_audio_recovery, migration 0010) until one is stored; the
  // reconciler downloads it if the post_call_audio webhook never comes. Off: nothing is recorded.
  bool save_call_audio = true;
};

// A settled call whose conversation has audio and that the reconciler is to look for.
struct AudioNeed {
  int64_t row = 0;
  std::string call_id;
  std::string conversation_id;
  bool stored = false;  // an elevenlabs_audio row exists after all (nothing to fetch)
  bool erased = false;  // the conversation was erased (nothing may be fetched)
};

// What one retention pass purged (retention_policies, migration 0013).
struct RetentionPass {
  int calls = 0, transcript_turns = 0, recordings = 0, inbox_bodies = 0;
};

// What the reconciler's try at a call's recording left.
struct AudioTry {
  int not_found = 0;     // definite answers so far ("ElevenLabs has no such audio")
  bool gave_up = false;  // this try ended the recovery (reason and error recorded)
};

class CallStore final : public CallRepository,
                        public PolicyRepository,
                        public DataRequestRepository {
 public:
  explicit CallStore(common::PgPool& pool, CallStoreOptions options = {})
      : pool_(pool), options_(options) {}
  common::PgPool& pool() { return pool_; }
  // Folds the rollup stripes of days before yesterday into one row per group
  // (stats_fold_rollups, migration 0022); the rows removed.
  absl::StatusOr<int64_t> FoldRollups();

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
  absl::StatusOr<std::optional<std::string>> ExportPatientData(int patient_id) override;
  absl::Status ReplayUnmatched(const std::string& conversation_id,
                               std::vector<StatusChange>& changes) override;

  // PolicyRepository: the decision's inputs in one statement; refusals; the built-in profile.
  absl::StatusOr<PolicyInputs> LoadPolicyInputs(const PolicySubject& subject,
                                                policy::Channel channel, absl::Time at,
                                                const ProfileRef* profile) override;
  absl::Status RecordDecision(const DecisionRecord& decision) override;
  absl::StatusOr<int64_t> AppendConsent(const ConsentRecord& consent) override;
  absl::StatusOr<std::pair<int64_t, bool>> AppendContact(const ContactRecord& contact) override;
  absl::StatusOr<std::vector<EvidenceRecord>> Evidence(const EvidenceQuery& query) override;
  absl::Status EnsureProfile(const std::string& id, int version,
                             const std::string& document) override;

  // Calls to reconcile: "dialing" ones older than `dialing_grace_secs`, and open ones older
  // than their maximum duration plus `open_grace_secs`.
  absl::StatusOr<std::vector<CallRow>> CallsToReconcile(int dialing_grace_secs, int open_grace_secs,
                                                        int limit);

  // A try of the reconciler that did not settle the call: the call waits first_backoff after its
  // first such try, doubling up to max_backoff; `not_found` counts a definite "ElevenLabs does
  // not know this conversation". Returns the call's count of those.
  absl::StatusOr<int> RecordReconcileTry(int64_t row, bool not_found, const std::string& error,
                                         absl::Duration first_backoff, absl::Duration max_backoff);
  // The call is settled: its reconcile state goes.
  absl::Status ForgetReconcileState(int64_t row);

  // Audio recovery (the reconciler, with SAVE_CALL_AUDIO on). Needs recorded at least
  // `grace_secs` ago whose backoff is over, least recently tried first, at most `limit`: each is
  // claimed for `lease` (its next try is pushed that far) so that another replica's reconciler
  // passes it by (FOR UPDATE SKIP LOCKED); the try's outcome then sets its real next time.
  absl::StatusOr<std::vector<AudioNeed>> ClaimAudioNeeds(int grace_secs, int limit,
                                                         absl::Duration lease);
  // Needs recorded more than `max_age` ago and still not served are given up, with the reason
  // (and their last error) in call_audio_recovery and in elevenlabs_call_errors. Returns them.
  absl::StatusOr<std::vector<AudioNeed>> GiveUpStaleAudioNeeds(absl::Duration max_age);
  enum class RecoveredAudio { kStored, kAlreadyStored, kErased };
  // Stores a recording the reconciler downloaded, as the webhook's would be (size and SHA-256
  // of the bytes), unless the call already has one (a webhook's is never overwritten) or its
  // conversation was erased; the need goes in every case. A later post_call_audio webhook still
  // applies (its recording replaces this one, its parts are cleared).
  absl::StatusOr<RecoveredAudio> StoreRecoveredAudio(int64_t row,
                                                     const std::string& conversation_id,
                                                     const std::string& content_type,
                                                     const std::string& audio);
  // A try that did not store the recording: backs off as RecordReconcileTry; `definite` counts
  // an answer that will not change ("no audio": 404, or a recording over the size bound). At
  // `max_definite` of those the need is given up with error.message as the reason, and an
  // elevenlabs_call_errors row (source reconciler, error.code and error.http_status) says so.
  absl::StatusOr<AudioTry> RecordAudioTry(int64_t row, bool definite,
                                          const ProviderErrorRecord& error,
                                          absl::Duration first_backoff, absl::Duration max_backoff,
                                          int max_definite);
  // The need goes (already stored, or erased).
  absl::Status ForgetAudioNeed(int64_t row);

  // Retention: for at most `limit` final calls whose purpose's limit is over (oldest ended
  // first, SKIP LOCKED), the transcript (and the inbox's copies of its webhooks) or the
  // recording goes, in one transaction; the call is marked retention_purged_at; a pass that
  // purged something is recorded in retention_runs. Idempotent: purged data is not found again.
  absl::StatusOr<RetentionPass> PurgeRetention(int limit);

  // What makes an event impossible to apply, found before any statement runs: INVALID_ARGUMENT
  // naming the field (a negative duration, time or cost, an over-long role or verdict).
  static absl::Status ValidateForApply(const v1::CallEvent& event);

  // Applies one event in one transaction: a batch of one, through the same path as ApplyEvents
  // (INVALID_ARGUMENT when ValidateForApply refuses it).
  absl::StatusOr<v1::ApplyOutcome> ApplyEvent(const v1::CallEvent& event,
                                              std::vector<StatusChange>& changes);
  // Applies events in order in one transaction, transcriptions set-based. If one fails, they are
  // applied again one by one (each a batch of one in its own transaction). An event that can never
  // be applied (ValidateForApply, or a data error from the database) gets APPLY_OUTCOME_REJECTED
  // with its reason in `rejected` (keyed by its index) and the events after it go on, but for the
  // later events of its conversation (APPLY_OUTCOME_HELD: their order is kept). Any other failure
  // (the database is gone, a conflict) stops there: `outcomes` then holds those before it and its
  // error is returned.
  absl::Status ApplyEvents(const google::protobuf::RepeatedPtrField<v1::CallEvent>& events,
                           std::vector<v1::ApplyOutcome>& outcomes,
                           std::vector<StatusChange>& changes,
                           std::map<int, std::string>& rejected);

  // DataRequestRepository (data subjects' requests, migration 0014).
  absl::StatusOr<std::optional<DataRequestRow>> CreateDataRequest(
      const NewDataRequest& request) override;
  absl::StatusOr<std::optional<DataRequestRow>> GetDataRequest(int64_t id) override;
  absl::StatusOr<std::vector<DataRequestRow>> ListDataRequests(const std::string& state,
                                                               std::optional<int> patient_id,
                                                               int limit) override;
  absl::StatusOr<std::vector<ErasureItem>> ClaimErasures(int limit, absl::Duration lease) override;
  absl::Status FinishErasure(const ErasureItem& item) override;
  absl::Status PostponeErasure(const ErasureItem& item, absl::Time next,
                               const std::string& error) override;
  absl::StatusOr<OpenCount> CountOpenDataRequests() override;

 private:
  // One event (already validated) in its own transaction.
  absl::StatusOr<v1::ApplyOutcome> ApplyOne(const v1::CallEvent& event,
                                            std::vector<StatusChange>& changes);

  common::PgPool& pool_;
  CallStoreOptions options_;
};

}  // namespace outcall::call_gateway
