// The outbox sender: delivers webhook_events to the clinic's subscriptions as Standard Webhooks
// (webhook-id = the event's id, the same on every retry and replay, so receivers drop
// duplicates by it; webhook-timestamp = the attempt's time; webhook-signature with every secret
// that still signs). A pass claims up to `batch` due deliveries under a lease (only the oldest
// pending one of each subscription and subject: order per subject), posts them in parallel on
// `workers` threads with keep-alive connections (one not started while a whole request still
// fits in the lease is given back, never sent late), and writes the results as they come, in
// one statement per 100 ms or 64 results: 2xx
// delivered; anything else retried with exponential backoff and jitter until `retry_period`
// after it was queued, then failed (kept, replayable). A subscription failing continuously is
// disabled (its queue held, not dropped). Passes follow each other at once while batches come
// back full, else every `poll`.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "metrics.h"
#include "outcall/common/blocking_executor.h"
#include "outcall/common/clock.h"
#include "outcall/common/http_client.h"
#include "outcall/common/periodic.h"
#include "webhook_sender_options.h"
#include "webhook_store.h"

namespace outcall::call_gateway {

class WebhookSender {
 public:
  // `random01()`: uniform in [0, 1), for the jitter.
  WebhookSender(WebhookSenderOptions options, WebhookStore& store, const common::Clock& clock,
                std::function<double()> random01, GatewayMetrics& metrics);
  ~WebhookSender();

  // One pass: the deliveries attempted.
  absl::StatusOr<int> RunOnce();
  void Start();
  void Stop();

  // The wait before attempt `round_attempt + 1` after `round_attempt` failed: base * 2^(n-1),
  // at most retry_max, times a jitter factor in [0.5, 1).
  static absl::Duration Backoff(const WebhookSenderOptions& o, int round_attempt, double unit);

 private:
  DeliveryResult Deliver(const DueDelivery& d);

  WebhookSenderOptions options_;
  WebhookStore& store_;
  const common::Clock& clock_;
  std::function<double()> random01_;
  GatewayMetrics& metrics_;
  common::HttpClient http_;
  std::atomic<bool> stopping_{false};
  std::unique_ptr<common::BlockingExecutor> workers_;
  common::PeriodicThread loop_;
};

}  // namespace outcall::call_gateway
