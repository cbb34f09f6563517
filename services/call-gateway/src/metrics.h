// call-gateway's Prometheus metrics (on the service's /metrics endpoint), and a helper that
// times a provider request into them. A null registry (tests) records nothing.
#pragma once

#include <string_view>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace prometheus {
class Registry;
class Counter;
class Histogram;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace outcall::call_gateway {

class GatewayMetrics {
 public:
  explicit GatewayMetrics(prometheus::Registry* registry);

  // InitiateCall/CallPatient outcomes (initiated, opted_out, provider_error, ...).
  void Call(std::string_view outcome);
  // A request to ElevenLabs or Twilio: its latency, and its error code when it failed.
  void Provider(std::string_view operation, absl::Duration latency, const absl::Status& status);
  // Recordings the reconciler looked for: recovered, already_stored, erased, failed, gave_up,
  // expired.
  void Audio(std::string_view outcome);
  // A webhook event applied, by type and outcome.
  void Event(std::string_view type, std::string_view outcome);
  // Data subjects' requests still open, and those of them past their legal deadline (set by
  // each reconciler pass); calls a deletion erased or failed to erase at ElevenLabs.
  void DataRequests(int open, int overdue);
  void Erasure(std::string_view outcome, int n);
  // The campaign dispatcher's events (campaign_dispatcher.h).
  void Campaign(std::string_view event, int n);
  // An outbound webhook attempt (delivered, retry, failed) and, delivered, the event's lag.
  void Webhook(std::string_view result, absl::Duration lag);

 private:
  prometheus::Family<prometheus::Counter>* calls_ = nullptr;
  prometheus::Family<prometheus::Histogram>* provider_ = nullptr;
  prometheus::Family<prometheus::Counter>* errors_ = nullptr;
  prometheus::Family<prometheus::Counter>* events_ = nullptr;
  prometheus::Family<prometheus::Counter>* audio_ = nullptr;
  prometheus::Family<prometheus::Gauge>* data_requests_ = nullptr;
  prometheus::Family<prometheus::Counter>* erasures_ = nullptr;
  prometheus::Family<prometheus::Counter>* campaign_ = nullptr;
  prometheus::Family<prometheus::Counter>* webhooks_ = nullptr;
  prometheus::Family<prometheus::Histogram>* webhook_lag_ = nullptr;
};

// Runs `fn` (a provider request returning a Status or StatusOr) and records it as `operation`.
template <typename Fn>
auto Timed(GatewayMetrics& m, std::string_view operation, Fn&& fn) {
  const absl::Time start = absl::Now();
  auto result = fn();
  if constexpr (std::is_same_v<decltype(result), absl::Status>) {
    m.Provider(operation, absl::Now() - start, result);
  } else {
    m.Provider(operation, absl::Now() - start, result.status());
  }
  return result;
}

}  // namespace outcall::call_gateway
