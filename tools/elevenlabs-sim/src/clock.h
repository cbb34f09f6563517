// A virtual clock: simulated time runs at `scale` simulated seconds per real second (0 freezes
// it) and can be moved forward on demand, so tests play a ten-minute call in milliseconds.
#pragma once

#include <functional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace outcall::sim {

class VirtualClock {
 public:
  explicit VirtualClock(double scale, absl::Time start = absl::Now());

  absl::Time Now() const;
  double scale() const;
  void SetScale(double scale);
  void Advance(absl::Duration d);

  // The real time to wait until simulated time reaches `t` (InfiniteDuration when frozen).
  absl::Duration RealDelayUntil(absl::Time t) const;

  // Called (without the clock's lock held) after every SetScale/Advance, so waiters re-plan.
  void OnChange(std::function<void()> listener);

 private:
  absl::Time NowLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Notify();

  mutable absl::Mutex mu_;
  absl::Time real_anchor_ ABSL_GUARDED_BY(mu_);
  absl::Time sim_anchor_ ABSL_GUARDED_BY(mu_);
  double scale_ ABSL_GUARDED_BY(mu_);
  std::function<void()> listener_;
};

}  // namespace outcall::sim
