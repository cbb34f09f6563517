// The patient side of the contact policy, over the API: the consent ledger (authorisations with
// their evidence, revocations; Ley 1581) and contacts the clinic's own systems made on other
// channels, which count toward the caps. Requests are checked here (names, evidence, times, the
// patient) and appended through PolicyRepository; nothing is ever edited. Blocking: run on a
// worker thread.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "call_repository.h"
#include "contact_policy.h"
#include "outcall/common/clock.h"
#include "outcall/v1/call_gateway.pb.h"

namespace outcall::call_gateway {

class ContactLedger {
 public:
  ContactLedger(PolicyRepository& policy, CallRepository& calls, const common::Clock& clock,
                std::string default_country_code)
      : policy_(policy),
        calls_(calls),
        clock_(clock),
        default_country_code_(std::move(default_country_code)) {}

  absl::StatusOr<v1::RecordConsentResponse> RecordConsent(const std::string& principal,
                                                          const v1::RecordConsentRequest& req);
  absl::StatusOr<v1::RecordContactResponse> RecordContact(const std::string& principal,
                                                          const v1::RecordContactRequest& req);
  // Every attempt's decision in a range (a patient's, or all), Bogotá times, paged; as rows or
  // as CSV.
  absl::StatusOr<v1::ExportEvidenceResponse> ExportEvidence(const v1::ExportEvidenceRequest& req);

 private:
  PolicyRepository& policy_;
  CallRepository& calls_;
  const common::Clock& clock_;
  std::string default_country_code_;
};

}  // namespace outcall::call_gateway
