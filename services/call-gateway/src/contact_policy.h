// The contact policy as call-gateway applies it: before every dial (and for CheckContactPolicy)
// the inputs are read in one statement (the profile in force, the patient's zone, the contact
// ledger around the instant, consents, opt-out, the RNE), libs/policy decides, and the decision
// is stored with the attempt (CallRepository::BeginCall for a placed call, RecordDecision for a
// refusal). No gRPC, no SQL here: PolicyRepository is the storage (CallStore implements it, unit
// tests use a fake).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "call_repository.h"
#include "outcall/policy/decision.h"
#include "outcall/policy/profile.h"

namespace outcall::call_gateway {

// Who would be contacted: a patient (and the number dialled), or a number alone.
struct PolicySubject {
  std::optional<int> patient_id;
  std::string phone_e164;
};

// A stored profile version a decision is asked to apply instead of the one in force (a
// campaign's own).
struct ProfileRef {
  std::string id;
  int version = 0;
};

// What the decision reads from storage.
struct PolicyInputs {
  // The profile in force; profile_json empty: none is set, the built-in default applies.
  std::string profile_id;
  int profile_version = 0;
  std::string profile_json;
  std::string time_zone = "America/Bogota";  // the patient's, else the clinic's
  std::vector<policy::LedgerEntry> history;  // contacts in the 8 days up to the instant
  std::vector<policy::Consent> consents;     // the patient's, up to the instant
  bool opted_out = false;
  std::optional<policy::ExcludedNumberCheck> excluded_number;  // nullopt: no RNE list loaded
};

// A consent ledger entry (patient_consents).
struct ConsentRecord {
  int patient_id = 0;
  std::string purpose, channel, state, source, text_version, evidence_ref;
  absl::Time recorded_at;
  std::string recorded_by;
};

// A contact made on another channel (contact_records).
struct ContactRecord {
  std::optional<int> patient_id;
  std::string phone_e164;  // may be empty with a patient
  std::string channel, purpose;
  absl::Time at;
  bool answered = false;
  std::string outcome, source, external_ref, recorded_by;
};

// One attempt's evidence (policy_decisions with its call), as the export gives it.
struct EvidenceRecord {
  int64_t decision_id = 0;
  absl::Time decided_at;
  std::optional<int> patient_id;
  std::string phone_e164, purpose, channel;
  bool allowed = false;
  std::string rule, profile_id;
  int profile_version = 0;
  std::string override_reason, decided_for, consent_reference, excluded_list_version;
  std::string call_id, outcome;
  std::string retention = "kept";  // kept | purged (retention policy) | erased (on request)
};

struct EvidenceQuery {
  std::optional<int> patient_id;
  absl::Time from, to;
  int64_t after_id = 0;  // keyset: decisions with a larger id (ids follow the decisions' order)
  int limit = 1000;
};

class PolicyRepository {
 public:
  virtual ~PolicyRepository() = default;
  // `profile`: that version instead of the one in force (nullptr: the one in force).
  virtual absl::StatusOr<PolicyInputs> LoadPolicyInputs(const PolicySubject& subject,
                                                        policy::Channel channel, absl::Time at,
                                                        const ProfileRef* profile) = 0;
  // A refusal (nothing was placed). Allowed decisions are stored by BeginCall with the call.
  virtual absl::Status RecordDecision(const DecisionRecord& decision) = 0;
  // Appends to the consent ledger; the entry's id.
  virtual absl::StatusOr<int64_t> AppendConsent(const ConsentRecord& consent) = 0;
  // Appends a contact; its id and whether (source, external_ref) was recorded before.
  virtual absl::StatusOr<std::pair<int64_t, bool>> AppendContact(const ContactRecord& contact) = 0;
  // Decisions in [from, to), in the order they were taken, after `after_id`, at most `limit`.
  virtual absl::StatusOr<std::vector<EvidenceRecord>> Evidence(const EvidenceQuery& query) = 0;
  // Stores a profile version unless it is there (the built-in default, at start-up).
  virtual absl::Status EnsureProfile(const std::string& id, int version,
                                     const std::string& document) = 0;
};

class ContactPolicy {
 public:
  explicit ContactPolicy(PolicyRepository& repo) : repo_(repo) {}

  struct Outcome {
    policy::Decision decision;
    std::string time_zone;
    // The purpose is under a frequency rule (daily_cap, weekly_cap, weekly_channel): a call
    // still live for the patient or number may yet count, so none may start beside it
    // (NewCall::one_live_contact).
    bool capped = false;
  };
  // The decision for contacting `subject` for `purpose` on `channel` at `at`. A profile in the
  // database that does not parse is FAILED_PRECONDITION (no call leaves under a policy nobody
  // can read); a patient zone the time-zone database does not know is FAILED_PRECONDITION too.
  // `profile`: a stored version to apply instead of the one in force (a campaign's); NOT_FOUND
  // "contact-policy profile <id> v<n> not found" when it is not stored.
  absl::StatusOr<Outcome> Decide(const PolicySubject& subject, policy::Purpose purpose,
                                 policy::Channel channel, absl::Time at,
                                 const ProfileRef* profile = nullptr);

  // Stores a refused decision (nothing was placed).
  absl::Status RecordRefusal(const DecisionRecord& d) { return repo_.RecordDecision(d); }

  // The built-in default into contact_policy_profiles, so decisions can name it.
  absl::Status RegisterDefaultProfile();

 private:
  absl::StatusOr<policy::Profile> ProfileFor(const PolicyInputs& in);

  PolicyRepository& repo_;
  absl::Mutex mu_;
  // Parsed profiles by (id, version): a version never changes (migration 0011's trigger).
  std::map<std::pair<std::string, int>, policy::Profile> profiles_ ABSL_GUARDED_BY(mu_);
};

// "purpose: unknown value 'x' (confirmation, reminder, survey, promotion, collection)"; "" is
// confirmation, the seed's calls.
absl::StatusOr<policy::Purpose> PurposeFromRequest(std::string_view value);
absl::StatusOr<policy::Channel> ChannelFromRequest(std::string_view value);
// A request's instant: INVALID_ARGUMENT "<field>: not a valid instant" outside 1970-9999 or with
// nanos out of range.
absl::StatusOr<absl::Time> InstantFromRequest(const google::protobuf::Timestamp& t,
                                              std::string_view field);
// A request's phoneNumber in E.164 (any common spelling): INVALID_ARGUMENT "phoneNumber: ...".
absl::StatusOr<std::string> PhoneFromRequest(std::string_view value,
                                             std::string_view default_country_code);
// Clocks of other systems drift: an instant a request gives a minute ahead of ours is still
// "now".
inline constexpr absl::Duration kRequestClockSlack = absl::Minutes(1);
// A request's free-text field: INVALID_ARGUMENT "<field> is required" (when `required` and
// empty) or "<field> is longer than <max> characters".
absl::Status TextFromRequest(const std::string& value, std::string_view field, bool required,
                             size_t max = 200);
// A patientId a request gave: INVALID_ARGUMENT "patientId must be a positive integer".
absl::Status PatientIdFromRequest(int id);
// The patient a request names: NOT_FOUND "patient <id> not found".
absl::StatusOr<PatientRow> KnownPatient(CallRepository& calls, int id);
// Everything held about the patient (an access request) as one document into `out`: NOT_FOUND
// "patient <id> not found" when there is no such patient.
absl::Status PatientDocument(CallRepository& calls, int id, google::protobuf::Struct* out);
// An instant as the clinic's staff and the evidence read it: "2026-12-01 10:00:00", Bogotá time
// (Colombia's only zone; UTC-5 since 1993, used as such if tzdata were missing).
std::string BogotaTime(absl::Time t);
absl::TimeZone BogotaZone();

// The FAILED_PRECONDITION a refused dial gets: the decision's message (the rule and the next
// allowed time in the patient's zone).
absl::Status RefusalStatus(const policy::Decision& decision);

}  // namespace outcall::call_gateway
