// webhook-ingest's Prometheus metrics: requests by outcome, signature verification failures,
// group-commit batch sizes, inbox lag and publishing. Registered once, on the registry the
// service exposes (the gRPC server's /metrics and the HTTPS /metrics).
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <mutex>
#include <string_view>

namespace outcall::webhook_ingest {

class IngestMetrics {
 public:
  explicit IngestMetrics(prometheus::Registry& registry);

  // outcome: stored, duplicate, unauthorized, bad_request, not_found, method_not_allowed,
  // too_large, unavailable, busy, ok (other routes)
  void Request(std::string_view outcome);
  // reason: missing, malformed, stale, future, mismatch
  void VerificationFailure(std::string_view reason);
  void Batch(size_t size) { batch_size_->Observe(static_cast<double>(size)); }
  void CommitFailure() { commit_failures_->Increment(); }
  void PublishRetry() { publish_retries_->Increment(); }
  void Published(size_t n) { published_->Increment(static_cast<double>(n)); }
  void InboxLag(double seconds, double pending, double quarantined) {
    inbox_lag_->Set(seconds);
    inbox_pending_->Set(pending);
    inbox_quarantined_->Set(quarantined);
  }
  // where: mapping (the stored body cannot become an event), gateway (call-gateway rejected it)
  void Quarantined(std::string_view where);
  void OpenConnections(double n) { connections_->Set(n); }
  void Spool(double events, double bytes) {
    spool_events_->Set(events);
    spool_bytes_->Set(bytes);
  }
  void LargeBodies(double n) { large_bodies_->Set(n); }
  void MaxBufferedBytes(double n);
  double max_buffered_bytes() const { return max_buffered_->Value(); }

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& verification_;
  prometheus::Family<prometheus::Counter>& quarantined_;
  prometheus::Histogram* batch_size_;
  prometheus::Counter* commit_failures_;
  prometheus::Counter* publish_retries_;
  prometheus::Counter* published_;
  prometheus::Gauge* inbox_lag_;
  prometheus::Gauge* inbox_pending_;
  prometheus::Gauge* inbox_quarantined_;
  prometheus::Gauge* connections_;
  prometheus::Gauge* spool_events_;
  prometheus::Gauge* spool_bytes_;
  prometheus::Gauge* large_bodies_;
  prometheus::Gauge* max_buffered_;
  std::mutex max_mu_;
};

}  // namespace outcall::webhook_ingest
