// A function run on a thread of its own every `every` until Stop: the first run at Start, each
// next one `every` after the previous one ended. Stop wakes the wait at once and joins (a run in
// progress finishes first). The loops of call-gateway's dispatcher and appointment automation.
#pragma once

#include <functional>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace outcall::common {

class PeriodicThread {
 public:
  PeriodicThread() = default;
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;
  ~PeriodicThread() { Stop(); }

  // No-op when it runs already.
  void Start(absl::Duration every, std::function<void()> fn);
  void Stop();

 private:
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace outcall::common
