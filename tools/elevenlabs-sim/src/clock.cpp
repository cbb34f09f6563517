#include "clock.h"

namespace outcall::sim {

VirtualClock::VirtualClock(double scale, absl::Time start)
    : real_anchor_(absl::Now()), sim_anchor_(start), scale_(scale) {}

absl::Time VirtualClock::NowLocked() const {
  return sim_anchor_ + (absl::Now() - real_anchor_) * scale_;
}

absl::Time VirtualClock::Now() const {
  absl::MutexLock lock(&mu_);
  return NowLocked();
}

double VirtualClock::scale() const {
  absl::MutexLock lock(&mu_);
  return scale_;
}

void VirtualClock::SetScale(double scale) {
  {
    absl::MutexLock lock(&mu_);
    sim_anchor_ = NowLocked();
    real_anchor_ = absl::Now();
    scale_ = scale;
  }
  Notify();
}

void VirtualClock::Advance(absl::Duration d) {
  {
    absl::MutexLock lock(&mu_);
    sim_anchor_ += d;
  }
  Notify();
}

absl::Duration VirtualClock::RealDelayUntil(absl::Time t) const {
  absl::MutexLock lock(&mu_);
  const absl::Duration ahead = t - NowLocked();
  if (ahead <= absl::ZeroDuration()) return absl::ZeroDuration();
  if (scale_ <= 0) return absl::InfiniteDuration();
  return ahead / scale_;
}

void VirtualClock::OnChange(std::function<void()> listener) { listener_ = std::move(listener); }

void VirtualClock::Notify() {
  if (listener_) listener_();
}

}  // namespace outcall::sim
