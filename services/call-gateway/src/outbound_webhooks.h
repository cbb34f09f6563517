// The Webhooks RPCs as plain logic: subscriptions checked field by field (an https URL, or http
// to a loopback address for a receiver on the same machine; known event types), secrets made
// from injected random bytes and shown only in the answers of create and rotate, the delivery
// log, replays and the outbox. Blocking (database): run on a worker thread. No gRPC here.
#pragma once

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "outcall/common/clock.h"
#include "outcall/v1/webhooks.pb.h"
#include "webhook_store.h"

namespace outcall::call_gateway {

// The event types a subscription may ask for (webhook_event_type_is_known in 0023).
const std::vector<std::string>& WebhookEventTypes();

class OutboundWebhooks {
 public:
  // `random_bytes(n)`: n bytes from a CSPRNG (common::RandomBytes in production).
  OutboundWebhooks(WebhookStore& store, const common::Clock& clock,
                   std::function<std::string(size_t)> random_bytes)
      : store_(store), clock_(clock), random_bytes_(std::move(random_bytes)) {}

  absl::StatusOr<v1::WebhookSubscription> Create(const std::string& principal,
                                                 const std::string& idem_key,
                                                 const v1::CreateWebhookSubscriptionRequest& r);
  absl::StatusOr<v1::ListWebhookSubscriptionsResponse> List();
  absl::StatusOr<v1::WebhookSubscription> Get(const v1::WebhookSubscriptionRef& r);
  absl::StatusOr<v1::WebhookSubscription> Update(const v1::UpdateWebhookSubscriptionRequest& r);
  absl::StatusOr<v1::WebhookSubscription> Rotate(const v1::RotateWebhookSecretRequest& r);
  absl::StatusOr<v1::DeleteWebhookSubscriptionResponse> Delete(const v1::WebhookSubscriptionRef& r);
  absl::StatusOr<v1::ListWebhookDeliveriesResponse> Deliveries(
      const v1::ListWebhookDeliveriesRequest& r);
  absl::StatusOr<v1::ReplayWebhookEventsResponse> Replay(const v1::ReplayWebhookEventsRequest& r);
  absl::StatusOr<v1::ListWebhookEventsResponse> Events(const v1::ListWebhookEventsRequest& r);

  // The reason `url` cannot receive webhooks ("" = it can).
  static std::string UrlProblem(const std::string& url);

 private:
  std::string NewKey();

  WebhookStore& store_;
  const common::Clock& clock_;
  std::function<std::string(size_t)> random_bytes_;
};

}  // namespace outcall::call_gateway
