// The campaign feed: campaign progress from every replica to this replica's WatchCampaign
// streams. One thread with its own PostgreSQL connection LISTENs on 'outcall_campaigns'
// (migration 0020: the triggers announce each recipient's and campaign's change of state as its
// transaction commits). For each campaign someone watches it publishes, through the hub, every
// recipient transition, and a snapshot of the state and exact counters at most every
// `snapshot_every` while the campaign changes (at once when the campaign's own state changes).
// A lost connection is reopened with backoff; the snapshots after it make good what was missed.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "absl/time/time.h"
#include "call_event_hub.h"
#include "campaigns.h"
#include "outcall/common/clock.h"

namespace outcall::call_gateway {

struct CampaignFeedOptions {
  std::string database_url;  // "" = no feed (watchers get their first snapshot only)
  absl::Duration snapshot_every = absl::Milliseconds(500);
  absl::Duration poll = absl::Milliseconds(200);
  absl::Duration reconnect_max = absl::Seconds(10);
};

class CampaignFeed {
 public:
  CampaignFeed(CampaignFeedOptions options, Campaigns& campaigns, CallEventHub& hub,
               const common::Clock& clock);
  ~CampaignFeed();  // stops

  void Start();
  void Stop();

  // One notification's payload (the listener calls it; tests may too).
  void OnNotification(const std::string& payload);

 private:
  void Run();
  // Snapshots of the watched campaigns that changed (all: every watched one, after a reconnect).
  void Flush(bool all);
  void Snapshot(int64_t campaign_row);

  CampaignFeedOptions options_;
  Campaigns& campaigns_;
  CallEventHub& hub_;
  const common::Clock& clock_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  // The feed thread's own, per watched campaign row.
  struct Watched {
    std::string uuid;                                // "" until its first snapshot
    bool dirty = false;                              // changed since its last snapshot
    std::chrono::steady_clock::time_point snapshot;  // when that was
  };
  std::map<int64_t, Watched> watched_;
};

}  // namespace outcall::call_gateway
