#include "metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <string>

namespace outcall::call_gateway {

GatewayMetrics::GatewayMetrics(prometheus::Registry* r) {
  if (r == nullptr) return;
  calls_ = &prometheus::BuildCounter()
                .Name("outcall_calls_total")
                .Help("InitiateCall/CallPatient outcomes")
                .Register(*r);
  provider_ = &prometheus::BuildHistogram()
                   .Name("outcall_provider_request_seconds")
                   .Help("Latency of requests to ElevenLabs and Twilio")
                   .Register(*r);
  errors_ = &prometheus::BuildCounter()
                 .Name("outcall_provider_errors_total")
                 .Help("Failed requests to ElevenLabs and Twilio, by operation and code")
                 .Register(*r);
  events_ = &prometheus::BuildCounter()
                 .Name("outcall_call_events_total")
                 .Help("Webhook events applied, by type and outcome")
                 .Register(*r);
  audio_ = &prometheus::BuildCounter()
                .Name("outcall_audio_recovery_total")
                .Help(
                    "Recordings the reconciler looked for after their webhook was lost, by "
                    "outcome")
                .Register(*r);
  data_requests_ = &prometheus::BuildGauge()
                        .Name("outcall_data_requests_open")
                        .Help(
                            "Data subjects' requests (Ley 1581) still open; overdue=\"true\": "
                            "past their legal deadline")
                        .Register(*r);
  erasures_ = &prometheus::BuildCounter()
                   .Name("outcall_data_request_erasures_total")
                   .Help("Calls a deletion request erased, or failed to erase at ElevenLabs")
                   .Register(*r);
  campaign_ = &prometheus::BuildCounter()
                   .Name("outcall_campaign_dispatch_total")
                   .Help(
                       "The campaign dispatcher's work, by event: dialled, back_pressure, "
                       "policy_deferred, retry_later, ineligible, opted_out, lease_recovered, "
                       "auto_paused, attempt_<outcome>")
                   .Register(*r);
  webhooks_ = &prometheus::BuildCounter()
                   .Name("outcall_webhook_deliveries_total")
                   .Help("Outbound webhook attempts, by result: delivered, retry, failed")
                   .Register(*r);
  webhook_lag_ = &prometheus::BuildHistogram()
                      .Name("outcall_webhook_lag_seconds")
                      .Help("From an outbound event's commit to its delivery")
                      .Register(*r);
}

void GatewayMetrics::Webhook(std::string_view result, absl::Duration lag) {
  if (!webhooks_) return;
  webhooks_->Add({{"result", std::string(result)}}).Increment();
  if (result == "delivered") {
    webhook_lag_
        ->Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10,
                                                          60, 600, 3600})
        .Observe(absl::ToDoubleSeconds(lag));
  }
}

void GatewayMetrics::Call(std::string_view outcome) {
  if (calls_) calls_->Add({{"outcome", std::string(outcome)}}).Increment();
}

void GatewayMetrics::Provider(std::string_view op, absl::Duration d, const absl::Status& s) {
  if (!provider_) return;
  provider_
      ->Add({{"operation", std::string(op)}},
            prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})
      .Observe(absl::ToDoubleSeconds(d));
  if (!s.ok()) {
    errors_->Add({{"operation", std::string(op)}, {"code", absl::StatusCodeToString(s.code())}})
        .Increment();
  }
}

void GatewayMetrics::Audio(std::string_view outcome) {
  if (audio_) audio_->Add({{"outcome", std::string(outcome)}}).Increment();
}

void GatewayMetrics::Event(std::string_view type, std::string_view outcome) {
  if (events_) {
    events_->Add({{"type", std::string(type)}, {"outcome", std::string(outcome)}}).Increment();
  }
}

void GatewayMetrics::DataRequests(int open, int overdue) {
  if (!data_requests_) return;
  data_requests_->Add({{"overdue", "false"}}).Set(open - overdue);
  data_requests_->Add({{"overdue", "true"}}).Set(overdue);
}

void GatewayMetrics::Erasure(std::string_view outcome, int n) {
  if (erasures_ && n > 0) erasures_->Add({{"outcome", std::string(outcome)}}).Increment(n);
}

void GatewayMetrics::Campaign(std::string_view event, int n) {
  if (campaign_ && n > 0) campaign_->Add({{"event", std::string(event)}}).Increment(n);
}

}  // namespace outcall::call_gateway
