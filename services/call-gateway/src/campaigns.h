// Campaigns as clients manage them (the Campaigns RPCs): requests checked field by field (a
// precise INVALID_ARGUMENT naming the field: an unknown agent, a template variable a recipient
// lacks, an end before the start, a cap of 0), turned into CampaignStore operations, and rows
// turned back into the contract's messages with their counters and ETA. Recipients are checked
// one by one: the valid ones are kept, each invalid one is reported with its index and field.
// Blocking (database, the agents list): run on a worker thread. No gRPC here.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "call_repository.h"
#include "campaign_store.h"
#include "outcall/common/clock.h"
#include "outcall/v1/campaigns.pb.h"

namespace outcall::call_gateway {

struct CampaignsOptions {
  std::string default_agent_id;
  std::string default_country_code = "57";
  int max_recipients_per_request = 10000;
};

class Campaigns {
 public:
  // `agent_exists`: whether ElevenLabs knows the agent (the cached agents list).
  Campaigns(CampaignsOptions options, CampaignStore& store, CallRepository& calls,
            std::function<absl::StatusOr<bool>(const std::string&)> agent_exists,
            const common::Clock& clock);

  absl::StatusOr<v1::Campaign> Create(const std::string& principal, const std::string& idem_key,
                                      const v1::CreateCampaignRequest& request);
  absl::StatusOr<v1::Campaign> Get(const v1::GetCampaignRequest& request);
  absl::StatusOr<v1::ListCampaignsResponse> List(const v1::ListCampaignsRequest& request);
  absl::StatusOr<v1::Campaign> Update(const v1::UpdateCampaignRequest& request);
  absl::StatusOr<v1::AddRecipientsResponse> AddRecipients(const v1::AddRecipientsRequest& request);
  absl::StatusOr<v1::ListRecipientsResponse> ListRecipients(
      const v1::ListRecipientsRequest& request);
  absl::StatusOr<v1::Campaign> Start(const v1::CampaignActionRequest& request);
  absl::StatusOr<v1::Campaign> Pause(const v1::CampaignActionRequest& request);
  absl::StatusOr<v1::Campaign> Resume(const v1::CampaignActionRequest& request);
  absl::StatusOr<v1::Campaign> Cancel(const v1::CampaignActionRequest& request);
  absl::StatusOr<v1::Campaign> RetryFailed(const v1::CampaignActionRequest& request);
  absl::StatusOr<v1::Campaign> Duplicate(const std::string& principal,
                                         const v1::DuplicateCampaignRequest& request);
  absl::StatusOr<v1::ListReviewsResponse> ListReviews(const v1::ListReviewsRequest& request);
  absl::StatusOr<v1::Review> ResolveReview(const std::string& principal,
                                           const v1::ResolveReviewRequest& request);
  // The watch stream's snapshot (state and exact counters) of the campaign, and its row id.
  absl::StatusOr<std::pair<int64_t, v1::CampaignUpdate>> WatchTarget(const std::string& uuid);
  absl::StatusOr<v1::CampaignUpdate> Snapshot(int64_t campaign_row);
  // Whether `spec` would create a campaign: the error CreateCampaign would give, field named.
  absl::Status CheckSpec(const v1::CampaignSpec& spec) { return Settings(spec, nullptr).status(); }

 private:
  // The spec as settings; `base` supplies what an update leaves unset.
  absl::StatusOr<CampaignSettings> Settings(const v1::CampaignSpec& spec,
                                            const CampaignSettings* base);
  absl::StatusOr<CampaignRow> Known(const std::string& uuid);
  v1::Campaign ToProto(const CampaignRow& row) const;
  v1::CampaignUpdate SnapshotOf(const CampaignRow& row) const;
  // Checks and adds; errors are appended with their index offset by `index_base`.
  // The rows of `request` that can be added; the others reported in out.errors.
  std::vector<NewRecipient> Check(const std::string& variables_template_json,
                                  const v1::AddRecipientsRequest& request,
                                  v1::AddRecipientsResponse& out);
  absl::StatusOr<v1::AddRecipientsResponse> Add(const CampaignRow& c,
                                                const v1::AddRecipientsRequest& request);

  CampaignsOptions options_;
  CampaignStore& store_;
  CallRepository& calls_;
  std::function<absl::StatusOr<bool>(const std::string&)> agent_exists_;
  const common::Clock& clock_;
};

}  // namespace outcall::call_gateway
