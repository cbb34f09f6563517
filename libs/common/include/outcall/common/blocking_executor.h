// A fixed pool of threads for the blocking work (database, HTTP) of the RPC handlers (gRPC's
// callback threads must never block), with a bounded queue: when it is full, work is refused at
// once (the handler answers RESOURCE_EXHAUSTED) instead of piling up behind a slow database.
#pragma once

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace outcall::common {

class BlockingExecutor {
 public:
  BlockingExecutor(int threads, int max_queued);
  // Runs what is queued, then joins the threads.
  ~BlockingExecutor();
  BlockingExecutor(const BlockingExecutor&) = delete;
  BlockingExecutor& operator=(const BlockingExecutor&) = delete;

  // False when the queue is full or the executor is stopping.
  bool TrySubmit(std::function<void()> task);

 private:
  void Run();

  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace outcall::common
