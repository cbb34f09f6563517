// The campaign dispatcher: a loop in call-gateway that calls campaigns' recipients by itself,
// safe with several replicas. Each tick (every `tick`):
//   1. campaigns due start, those past their end expire, finished ones complete;
//   2. recipients a dead replica left dialing are recovered from their lease: in_call when the
//      attempt's call exists, else pending again with the attempt not counted;
//   3. attempts whose call ended are settled (exactly once): outcome, retry into the next
//      allowed window (the campaign's hours, then the contact policy's), or a final state; the
//      circuit breaker reads the campaign's latest attempts and may auto-pause it;
//   4. running campaigns claim what their concurrency, the global cap and their pace allow
//      (CampaignStore::Claim) and each claimed attempt is dialled on a worker through
//      CallPlacer::PlaceAttempt: the same opt-out, contact-policy and lock checks as
//      InitiateCall, immediately before the dial, under the attempt's own key.
// ElevenLabs' 429 (concurrent_limit_exceeded) is back-pressure: the attempt is given back, and
// this replica waits (1, 2, 4 ... s, up to back_pressure_max) before claiming again.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "call_placer.h"
#include "campaign_store.h"
#include "contact_policy.h"
#include "metrics.h"
#include "outcall/common/blocking_executor.h"
#include "outcall/common/clock.h"
#include "outcall/common/periodic.h"

namespace outcall::call_gateway {

struct DispatcherOptions {
  DispatchLimits limits;
  absl::Duration tick = absl::Seconds(1);
  int dial_workers = 8;
  int settle_batch = 500;
  absl::Duration back_pressure_min = absl::Seconds(1);
  absl::Duration back_pressure_max = absl::Seconds(60);
  absl::Duration retry_later = absl::Minutes(1);  // after a passing obstacle
  std::string replica_id;                         // "" = host, pid and a random suffix
};

class CampaignDispatcher {
 public:
  CampaignDispatcher(DispatcherOptions options, CampaignStore& store, CallPlacer& placer,
                     ContactPolicy& policy, const common::Clock& clock, GatewayMetrics& metrics);
  ~CampaignDispatcher();  // stops the loop; dials in progress finish

  // One tick (the loop runs them; tests may too). Dials run on the workers: WaitIdle waits.
  absl::Status Tick();
  void WaitIdle();
  void Start();
  void Stop();
  const std::string& replica_id() const { return options_.replica_id; }

 private:
  void Dial(const ClaimedAttempt& a);
  absl::Status SettleEnded(absl::Time now);
  AttemptSettlement Plan(const EndedAttempt& e, absl::Time now);
  // The first instant at or after `t` inside the campaign's window and allowed by the contact
  // policy's time rules for the recipient.
  absl::Time NextAllowed(absl::Time t, const std::optional<campaign::DailyWindow>& window,
                         const PolicySubject& subject, const std::string& purpose,
                         const std::optional<ProfileRef>& profile);
  void BackPressure(absl::Time now);

  DispatcherOptions options_;
  CampaignStore& store_;
  CallPlacer& placer_;
  ContactPolicy& policy_;
  const common::Clock& clock_;
  GatewayMetrics& metrics_;

  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time hold_until_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();  // back-pressure
  absl::Duration hold_ ABSL_GUARDED_BY(mu_) = absl::ZeroDuration();
  common::PeriodicThread loop_;
  common::BlockingExecutor workers_;  // last: destroyed (drained) first
};

}  // namespace outcall::call_gateway
