// Appointment automation (the automation-rule RPCs and the scheduler): rules such as "confirm
// every appointment 24 to 48 hours before, with agent X" or "remind 2 hours before", checked
// field by field; and a pass, every `every`, in which each enabled rule gets its campaign of the
// Bogotá day (created through Campaigns::Create with the rule as principal and the day as
// Idempotency-Key, so a restart or a second replica finds the same one) and enrols what it
// matches, once each (AutomationStore::Enroll). The campaign's dispatcher does the calling.
// Blocking (database): RPCs run on a worker, the pass on its own thread.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "automation_store.h"
#include "campaigns.h"
#include "outcall/common/clock.h"
#include "outcall/common/periodic.h"
#include "outcall/v1/campaigns.pb.h"

namespace outcall::call_gateway {

class Automation {
 public:
  Automation(AutomationStore& store, Campaigns& campaigns, const common::Clock& clock);
  ~Automation();  // stops the loop

  absl::StatusOr<v1::AutomationRule> Create(const std::string& principal,
                                            const std::string& idem_key,
                                            const v1::CreateAutomationRuleRequest& request);
  absl::StatusOr<v1::ListAutomationRulesResponse> List(
      const v1::ListAutomationRulesRequest& request);
  absl::StatusOr<v1::AutomationRule> Update(const v1::UpdateAutomationRuleRequest& request);

  // One pass over the enabled rules. A rule that fails (its agent gone, the database) is logged
  // and the others still run; the first error is returned.
  absl::Status RunOnce();
  void Start(absl::Duration every);
  void Stop();

 private:
  absl::Status RunRule(const AutomationRuleRow& rule, absl::Time now);
  v1::AutomationRule ToProto(const AutomationRuleRow& row) const;

  AutomationStore& store_;
  Campaigns& campaigns_;
  const common::Clock& clock_;

  common::PeriodicThread loop_;
};

}  // namespace outcall::call_gateway
