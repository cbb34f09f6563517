#include "metrics.h"

#include <mutex>

namespace outcall::webhook_ingest {

IngestMetrics::IngestMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("webhook_requests_total")
                    .Help("Webhook endpoint requests by outcome")
                    .Register(registry)),
      verification_(prometheus::BuildCounter()
                        .Name("webhook_signature_failures_total")
                        .Help("Requests refused by the signature check, by reason")
                        .Register(registry)),
      quarantined_(prometheus::BuildCounter()
                       .Name("webhook_events_quarantined_total")
                       .Help("Stored events put in quarantine, by where they failed")
                       .Register(registry)) {
  batch_size_ = &prometheus::BuildHistogram()
                     .Name("webhook_commit_batch_size")
                     .Help("Events per group-commit transaction")
                     .Register(registry)
                     .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128, 256});
  commit_failures_ = &prometheus::BuildCounter()
                          .Name("webhook_commit_failures_total")
                          .Help("Group commits that failed (their requests got 503)")
                          .Register(registry)
                          .Add({});
  publish_retries_ = &prometheus::BuildCounter()
                          .Name("webhook_publish_retries_total")
                          .Help("ApplyEvents batches that failed and will be retried")
                          .Register(registry)
                          .Add({});
  published_ = &prometheus::BuildCounter()
                    .Name("webhook_published_events_total")
                    .Help("Events acknowledged by call-gateway")
                    .Register(registry)
                    .Add({});
  inbox_lag_ = &prometheus::BuildGauge()
                    .Name("webhook_inbox_lag_seconds")
                    .Help("Age of the oldest stored event not yet acknowledged by call-gateway")
                    .Register(registry)
                    .Add({});
  inbox_pending_ = &prometheus::BuildGauge()
                        .Name("webhook_inbox_pending")
                        .Help("Stored events not yet acknowledged by call-gateway, not quarantined")
                        .Register(registry)
                        .Add({});
  spool_events_ = &prometheus::BuildGauge()
                       .Name("webhook_spool_events")
                       .Help("Events acknowledged while PostgreSQL was away, kept in the local "
                             "spool until they are moved into the inbox")
                       .Register(registry)
                       .Add({});
  spool_bytes_ = &prometheus::BuildGauge()
                      .Name("webhook_spool_bytes")
                      .Help("Bytes held by the local spool")
                      .Register(registry)
                      .Add({});
  inbox_quarantined_ = &prometheus::BuildGauge()
                            .Name("webhook_inbox_quarantined")
                            .Help("Events in quarantine: they cannot be applied as they are "
                                  "(outcall-inbox lists them); later events of their "
                                  "conversations wait")
                            .Register(registry)
                            .Add({});
  connections_ = &prometheus::BuildGauge()
                      .Name("webhook_open_connections")
                      .Help("Open HTTPS connections")
                      .Register(registry)
                      .Add({});
  large_bodies_ = &prometheus::BuildGauge()
                       .Name("webhook_large_bodies_in_flight")
                       .Help("Bodies above WEBHOOK_SMALL_BODY_BYTES being read")
                       .Register(registry)
                       .Add({});
  max_buffered_ = &prometheus::BuildGauge()
                       .Name("webhook_max_buffered_body_bytes")
                       .Help("Most body bytes one request ever held in memory")
                       .Register(registry)
                       .Add({});
}

void IngestMetrics::Quarantined(std::string_view where) {
  quarantined_.Add({{"where", std::string(where)}}).Increment();
}

void IngestMetrics::Request(std::string_view outcome) {
  requests_.Add({{"outcome", std::string(outcome)}}).Increment();
}

void IngestMetrics::VerificationFailure(std::string_view reason) {
  verification_.Add({{"reason", std::string(reason)}}).Increment();
}

void IngestMetrics::MaxBufferedBytes(double n) {
  std::lock_guard lock(max_mu_);
  if (n > max_buffered_->Value()) max_buffered_->Set(n);
}

}  // namespace outcall::webhook_ingest
