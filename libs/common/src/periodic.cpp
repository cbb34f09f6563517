#include "outcall/common/periodic.h"

namespace outcall::common {

void PeriodicThread::Start(absl::Duration every, std::function<void()> fn) {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this, every, fn = std::move(fn)] {
    for (;;) {
      fn();
      absl::MutexLock lock(&mu_);
      const auto stopping = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping), every)) return;
    }
  });
}

void PeriodicThread::Stop() {
  std::thread t;
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    t = std::move(thread_);
  }
  if (t.joinable()) t.join();
}

}  // namespace outcall::common
