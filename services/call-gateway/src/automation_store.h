// Appointment automation in PostgreSQL (migration 0019): the rules, each rule's campaign of a
// Bogotá day, and the enrolments. An enrolment is one statement under the rule's advisory lock:
// the (rule, appointment, appointment time) row and the campaign recipient are written together,
// the key refusing a second one, so a restart, a second pass or a second replica enrols nothing
// twice.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "outcall/common/pg_pool.h"

namespace outcall::call_gateway {

struct AutomationRuleRow {
  int64_t id = 0;
  std::string uuid, name;
  std::string spec_json = "{}";  // v1::CampaignSpec as JSON
  int lead_min_minutes = 0, lead_max_minutes = 0;
  std::vector<std::string> appointment_statuses;
  bool enabled = true;
  std::string created_by;
  absl::Time created_at;
  std::optional<absl::Time> last_run_at;
  int64_t enrolled = 0;
  std::string current_day, current_campaign_uuid;  // its latest day campaign ("" = none)
  bool duplicate = false;  // CreateRule: the key had created it before
};

struct Enrolment {
  int enrolled = 0;   // appointments enrolled by this pass
  int withdrawn = 0;  // waiting recipients whose appointment no longer matches
  std::string skipped;  // why nothing was enrolled ("" = it ran)
};

class AutomationStore {
 public:
  explicit AutomationStore(common::PgPool& pool) : pool_(pool) {}

  // With a key: a second create with the same principal and key returns the first rule
  // (duplicate), or ALREADY_EXISTS when its body differed.
  absl::StatusOr<AutomationRuleRow> CreateRule(const AutomationRuleRow& r,
                                               const std::string& idem_key,
                                               const std::string& request_sha256);
  // Oldest first. for_scheduler: the enabled ones only, without their `enrolled` count (0).
  absl::StatusOr<std::vector<AutomationRuleRow>> ListRules(bool for_scheduler);
  // NOT_FOUND when there is no such rule.
  absl::StatusOr<AutomationRuleRow> SetEnabled(const std::string& uuid, bool enabled);
  // The rule's campaign of `day` (YYYY-MM-DD, Bogotá) is this one (the first record stays).
  absl::Status RecordDayCampaign(int64_t rule_row, const std::string& day,
                                 const std::string& campaign_uuid);
  // One pass of one rule at `now`: the rule's waiting recipients whose appointment was
  // canceled, confirmed elsewhere or moved end canceled; appointments now between lead_min and
  // lead_max ahead in the rule's states, of patients with a number, are enrolled once into
  // `campaign_uuid` (not dialled once nearer than lead_min); a completed day campaign that gets
  // new recipients runs again. Nothing is enrolled into a canceled or expired campaign.
  absl::StatusOr<Enrolment> Enroll(const AutomationRuleRow& rule,
                                   const std::string& campaign_uuid, absl::Time now);

 private:
  common::PgPool& pool_;
};

}  // namespace outcall::call_gateway
