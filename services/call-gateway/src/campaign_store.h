// Campaigns in PostgreSQL (migrations 0015, 0016): campaigns and their recipients, and the
// dispatcher's work on them, each operation one transaction through named prepared statements.
// Claims take the dispatch lock (one advisory lock: the global cap and the pace are counted and
// moved by one replica at a time) and the recipients FOR UPDATE SKIP LOCKED with a lease; an
// attempt is settled by the UPDATE that moves its recipient out of in_call, so exactly once.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "campaign_rules.h"
#include "contact_policy.h"
#include "outcall/common/pg_pool.h"

namespace outcall::call_gateway {

// A campaign's settings as stored.
struct CampaignSettings {
  std::string name, purpose, agent_id;
  std::string variables_template_json = "{}";
  std::optional<absl::Time> starts_at, ends_at;
  int max_concurrency = 5;
  int calls_per_minute = 10;
  campaign::RetryRule retry;
  std::optional<campaign::DailyWindow> window;
  campaign::BreakerRule breaker;
  std::optional<ProfileRef> policy_profile;  // its dials' contact-policy profile (else in force)
};

struct CampaignCountersRow {
  std::map<std::string, int> by_state;    // every recipient state, 0 included
  std::map<std::string, int> by_outcome;  // final recipients
  int total = 0;
  int64_t attempts = 0;
};

struct CampaignRow {
  int64_t id = 0;
  std::string uuid;
  CampaignSettings settings;
  std::string state, state_reason, created_by;
  absl::Time created_at, updated_at;
  std::optional<absl::Time> started_at, finished_at;
  CampaignCountersRow counters;  // filled by GetCampaign and ListCampaigns
  bool duplicate = false;        // CreateCampaign: the key had created it before
};

struct NewRecipient {
  std::optional<int> patient_id, appointment_id;
  std::string phone_e164;
  std::string variables_json = "{}";
};

struct ReviewRow {
  int64_t id = 0;
  std::string campaign_uuid;
  int64_t recipient_id = 0;
  int attempt_no = 0;
  std::string reason, conversation_id, phone_e164, call_successful, summary;
  std::optional<int> patient_id, appointment_id;
  absl::Time created_at;
  std::string decision, resolved_by, note;
  std::optional<absl::Time> resolved_at;
};

struct RecipientRow {
  int64_t id = 0;
  std::optional<int> patient_id, appointment_id;
  std::string phone_e164, state, outcome, decision_rule;
  std::string variables_json = "{}";
  int attempts = 0;
  std::optional<absl::Time> next_attempt_at;
  absl::Time updated_at;
};

// One attempt the dispatcher claimed: everything its dial needs.
struct ClaimedAttempt {
  int64_t campaign_row = 0;
  std::string campaign_uuid, purpose, agent_id, variables_template_json;
  int64_t recipient_id = 0;
  int attempt_no = 0;
  std::optional<int> patient_id, appointment_id;
  std::string phone_e164, patient_name, variables_json;
  std::optional<absl::Time> appointment_at;
  std::optional<ProfileRef> policy_profile;
};

// An attempt whose call ended and that waits to be settled.
struct EndedAttempt {
  int64_t campaign_row = 0;
  int64_t recipient_id = 0;
  int attempt_no = 0;
  int attempt_limit = 0;
  int64_t call_row = 0;
  std::optional<int> patient_id;
  std::string phone_e164, purpose;
  campaign::CallEnd end;
  campaign::RetryRule retry;
  std::optional<campaign::DailyWindow> window;
  std::optional<absl::Time> ends_at;  // the campaign's
  std::string campaign_state;         // a canceled or expired campaign retries nothing
  std::optional<ProfileRef> policy_profile;
};

// Where a settled (or undialled) attempt leaves its recipient.
struct AttemptSettlement {
  std::string state;             // scheduled or a final state
  std::string outcome;           // final: why
  std::string decision_rule;     // ineligible: the policy rule
  std::string detail;            // names and codes only
  std::optional<absl::Time> next_attempt_at;  // scheduled
  std::string attempt_outcome;   // campaign_attempts.outcome ("" = no attempt row)
  bool failure = false;
  std::optional<int64_t> call_row;
  std::string review;  // "" or the reason a campaign_reviews row is written with the settlement
};

struct DispatchLimits {
  int max_concurrent_calls = 10;  // the ElevenLabs plan's concurrent calls
  int reserved_calls = 2;         // kept for ad-hoc calls
  int max_claim = 50;             // recipients one claim takes at most
  absl::Duration lease = absl::Minutes(2);
  absl::Duration burst = absl::Seconds(1);  // the pace's tolerance (one tick)
};

class CampaignStore {
 public:
  explicit CampaignStore(common::PgPool& pool) : pool_(pool) {}

  // With a key: a second create with the same principal and key returns the first campaign
  // (duplicate), or ALREADY_EXISTS when its body differed.
  absl::StatusOr<CampaignRow> CreateCampaign(const CampaignSettings& s, const std::string& state,
                                             const std::string& principal,
                                             const std::string& idem_key,
                                             const std::string& request_sha256);
  absl::StatusOr<std::optional<CampaignRow>> GetCampaign(const std::string& uuid);
  // With its counters (the campaign feed's snapshots); NOT_FOUND when it is gone.
  absl::StatusOr<CampaignRow> GetCampaignByRow(int64_t campaign_row);
  // Newest first; after_id 0 = from the newest.
  absl::StatusOr<std::vector<CampaignRow>> ListCampaigns(const std::string& state, int64_t before_id,
                                                         int limit);
  // Replaces the settings while the campaign is in one of `editable`; FAILED_PRECONDITION naming
  // its state otherwise.
  absl::StatusOr<CampaignRow> UpdateSettings(const std::string& uuid, const CampaignSettings& s);
  // Moves the campaign from one of `from` to `to` with the reason; FAILED_PRECONDITION naming the
  // state it is in otherwise. canceled also ends its pending and scheduled recipients canceled.
  absl::StatusOr<CampaignRow> Transition(const std::string& uuid,
                                         const std::vector<std::string>& from,
                                         const std::string& to, const std::string& reason);
  // Exhausted recipients back to pending with max_attempts more; how many.
  absl::StatusOr<int> RetryExhausted(const std::string& uuid);

  struct Added {
    int added = 0, duplicates = 0;
  };
  absl::StatusOr<Added> AddRecipients(int64_t campaign_row, const std::vector<NewRecipient>& rows);
  // Appointments scheduled in [from, to) in `statuses`, of patients with a number, enrolled once.
  absl::StatusOr<Added> AddAppointments(int64_t campaign_row, absl::Time from, absl::Time to,
                                        const std::vector<std::string>& statuses);
  absl::StatusOr<std::vector<RecipientRow>> ListRecipients(int64_t campaign_row,
                                                           const std::string& state,
                                                           int64_t after_id, int limit);

  // The review queue. state: open, resolved or all; campaign_row 0: every campaign.
  absl::StatusOr<std::vector<ReviewRow>> ListReviews(int64_t campaign_row, const std::string& state,
                                                     int64_t after_id, int limit);
  // Resolves an open review once, with what the decision implies (the appointment's status, the
  // recipient's outcome, one more attempt), in one transaction. FAILED_PRECONDITION when it was
  // resolved before or the decision cannot apply; NOT_FOUND when there is no such review.
  absl::StatusOr<ReviewRow> ResolveReview(int64_t review_id, const std::string& decision,
                                          const std::string& note, const std::string& principal);

  // The dispatcher's tick.
  //
  // scheduled -> running once started; active campaigns past ends_at -> expired (their pending
  // and scheduled recipients too); running ones with every recipient final -> completed. The
  // uuids that changed.
  absl::StatusOr<std::vector<std::string>> AdvanceCampaigns(absl::Time now);
  // Recipients left dialing by a replica whose lease ran out: in_call when their attempt's call
  // exists, else pending again with the attempt not counted. How many.
  absl::StatusOr<int> RecoverLeases(absl::Time now);
  // Running campaigns, oldest first.
  absl::StatusOr<std::vector<int64_t>> RunningCampaigns();
  // Up to what the campaign's concurrency, the global cap (less the reserve and the ad-hoc calls
  // live) and the pace allow, due recipients move to dialing with attempt + 1 and a lease.
  absl::StatusOr<std::vector<ClaimedAttempt>> Claim(int64_t campaign_row, const std::string& owner,
                                                    const DispatchLimits& limits, absl::Time now);
  // The attempt's call exists: dialing -> in_call (its lease dropped).
  absl::Status MarkInCall(int64_t recipient_id, int attempt_no);
  // The attempt was not made (back-pressure, a transient error, a time-based refusal): back to
  // scheduled at `at`, its number given back. `detail` says why.
  absl::Status Unclaim(int64_t recipient_id, int attempt_no, const std::string& owner,
                       absl::Time at, const std::string& detail);
  // The attempt ended without a call (ineligible, opted out) or is settled: the recipient moves
  // from `from_state` (dialing with the owner's lease, or in_call) as `s` says, and the attempt
  // is written to campaign_attempts. False when it was not there any more (settled elsewhere).
  absl::StatusOr<bool> Settle(int64_t recipient_id, int attempt_no, const std::string& from_state,
                              const std::string& owner, const AttemptSettlement& s,
                              absl::Time now);
  // Attempts in_call whose call has ended, oldest first.
  absl::StatusOr<std::vector<EndedAttempt>> EndedAttempts(int limit);
  // The newest settled attempts of the campaign (true: a failure), at most n.
  absl::StatusOr<std::vector<bool>> LatestFailures(int64_t campaign_row, int n);
  // running -> auto_paused with the reason; false when it was not running.
  absl::StatusOr<bool> AutoPause(int64_t campaign_row, const std::string& reason);
  absl::StatusOr<campaign::BreakerRule> Breaker(int64_t campaign_row);
  // Whether the contact-policy profile version is stored.
  absl::StatusOr<bool> ProfileExists(const ProfileRef& profile);

 private:
  common::PgPool& pool_;
};

}  // namespace outcall::call_gateway
