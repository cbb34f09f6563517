#include "call_event_hub.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace outcall::call_gateway {

void CallEventHub::Publish(const StatusChange& ch) {
  if (ch.status.empty() || ch.status == ch.previous_status) return;
  spdlog::info("call {} ({}): {} -> {} ({})", ch.call_id, ch.conversation_id, ch.previous_status,
               ch.status, ch.cause);
  v1::CallUpdate u;
  u.set_conversation_id(ch.conversation_id);
  u.set_call_id(ch.call_id);
  u.set_status(ch.status);
  u.set_previous_status(ch.previous_status);
  u.set_cause(ch.cause);
  u.mutable_at()->set_seconds(absl::ToUnixSeconds(clock_.Now()));
  absl::MutexLock lock(&mu_);  // held while delivering: Unsubscribe waits for it
  for (const auto& [id, subscriber] : subscribers_) subscriber(u);
}

void CallEventHub::Publish(const std::vector<StatusChange>& changes) {
  for (const auto& c : changes) Publish(c);
}

uint64_t CallEventHub::Subscribe(Subscriber subscriber) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  subscribers_.emplace(id, std::move(subscriber));
  return id;
}

void CallEventHub::Unsubscribe(uint64_t id) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(id);
}

size_t CallEventHub::subscribers() const {
  absl::MutexLock lock(&mu_);
  return subscribers_.size();
}

uint64_t CallEventHub::SubscribeCampaign(int64_t campaign_row, CampaignSubscriber subscriber) {
  absl::MutexLock lock(&mu_);
  const uint64_t id = next_id_++;
  campaign_subscribers_.emplace(id, std::make_pair(campaign_row, std::move(subscriber)));
  return id;
}

void CallEventHub::UnsubscribeCampaign(uint64_t id) {
  absl::MutexLock lock(&mu_);
  campaign_subscribers_.erase(id);
}

void CallEventHub::PublishCampaign(int64_t campaign_row, const v1::CampaignUpdate& update) {
  absl::MutexLock lock(&mu_);  // held while delivering: UnsubscribeCampaign waits for it
  for (const auto& [id, sub] : campaign_subscribers_)
    if (sub.first == campaign_row) sub.second(update);
}

std::vector<int64_t> CallEventHub::WatchedCampaigns() const {
  absl::MutexLock lock(&mu_);
  std::vector<int64_t> out;
  for (const auto& [id, sub] : campaign_subscribers_) out.push_back(sub.first);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool CallEventHub::Watched(int64_t campaign_row) const {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, sub] : campaign_subscribers_)
    if (sub.first == campaign_row) return true;
  return false;
}

}  // namespace outcall::call_gateway
