// Status changes of calls, fanned out in process to whoever watches (WatchCallEvents streams),
// and campaign progress to whoever watches a campaign (WatchCampaign streams, fed by the
// campaign feed): a subscriber is called on the publishing thread, in order, and must not block
// (a stream's reactor queues the update and writes it asynchronously). Also the one place a
// call's change is logged (ids only, never the phone number).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "call_store.h"
#include "outcall/common/clock.h"
#include "outcall/v1/call_gateway.pb.h"
#include "outcall/v1/campaigns.pb.h"

namespace outcall::call_gateway {

class CallEventHub {
 public:
  explicit CallEventHub(const common::Clock& clock = common::Clock::Real()) : clock_(clock) {}

  // Logs the change and hands it to every subscriber; a change that changes nothing is dropped.
  void Publish(const StatusChange& change);
  void Publish(const std::vector<StatusChange>& changes);

  using Subscriber = std::function<void(const v1::CallUpdate&)>;
  // Returns an id for Unsubscribe. Once Unsubscribe returns, the subscriber is never called again.
  uint64_t Subscribe(Subscriber subscriber);
  void Unsubscribe(uint64_t id);
  size_t subscribers() const;

  // Campaigns, by their row id.
  using CampaignSubscriber = std::function<void(const v1::CampaignUpdate&)>;
  uint64_t SubscribeCampaign(int64_t campaign_row, CampaignSubscriber subscriber);
  void UnsubscribeCampaign(uint64_t id);
  void PublishCampaign(int64_t campaign_row, const v1::CampaignUpdate& update);
  std::vector<int64_t> WatchedCampaigns() const;  // sorted, each once
  bool Watched(int64_t campaign_row) const;

 private:
  const common::Clock& clock_;
  mutable absl::Mutex mu_;
  std::map<uint64_t, Subscriber> subscribers_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::pair<int64_t, CampaignSubscriber>> campaign_subscribers_
      ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace outcall::call_gateway
