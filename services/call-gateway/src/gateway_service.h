// call-gateway's object graph, in one place: the metrics, the hub, the call placer, the call
// control, the event applier and the reconciler (plain classes, each testable alone), the
// bounded executor, and the two gRPC services on top (grpc_handlers.h). main builds one; tests
// too, with their own store, ElevenLabs API and authenticator.
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "call_event_hub.h"
#include "call_store.h"
#include "gateway_options.h"
#include "outcall/common/auth_interceptor.h"
#include "outcall/elevenlabs/api.h"

namespace grpc {
class Service;
}  // namespace grpc
namespace prometheus {
class Registry;
}  // namespace prometheus

namespace outcall::call_gateway {

class GatewayService {
 public:
  GatewayService(GatewayOptions options, CallStore& store, const elevenlabs::ElevenLabsApi& api,
                 const common::CallAuthenticator& auth, prometheus::Registry* registry);
  ~GatewayService();  // stops the reconciler, then drains the executor

  // For GrpcServer::AddService: CallGateway and CallEventSink (callback API).
  grpc::Service* call_gateway();
  grpc::Service* event_sink();
  grpc::Service* campaigns();
  grpc::Service* clinic_sync();
  grpc::Service* webhooks();

  // One reconciliation pass (the background loop runs them; tests may call it).
  absl::Status ReconcileOnce();
  void StartReconciler();
  void StopReconciler();

  // The campaign dispatcher: one tick (tests), the dials it started finished, the loop.
  absl::Status DispatchOnce();
  void WaitForDials();
  void StartDispatcher();
  void StopDispatcher();
  // Appointment automation (automation.h): one pass (tests), the loop.
  absl::Status AutomateOnce();
  void StartAutomation();
  void StopAutomation();
  // Outbound webhooks (webhook_sender.h): one pass (tests; the deliveries attempted), the loop.
  absl::StatusOr<int> SendWebhooksOnce();
  void StartWebhookSender();
  void StopWebhookSender();

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace outcall::call_gateway
