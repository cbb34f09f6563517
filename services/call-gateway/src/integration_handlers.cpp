#include "integration_handlers.h"

#include "grpc_handlers.h"

namespace outcall::call_gateway {

namespace {

// Checks the token, then runs fn(principal, idempotency key) on the executor into `resp`.
template <typename Resp, typename Fn>
grpc::ServerUnaryReactor* Serve(const common::CallAuthenticator& auth,
                                common::BlockingExecutor& executor,
                                grpc::CallbackServerContext* ctx, Resp* resp, Fn fn) {
  auto p = auth.Check(ctx);
  if (!p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor,
                  [resp, fn = std::move(fn), principal = p->subject, key = IdempotencyKey(ctx)] {
                    return Answer(resp, fn(principal, key));
                  });
}

}  // namespace

#define OUTCALL_SERVE(CLASS, NAME, REQ, RESP, CALL)                                     \
  grpc::ServerUnaryReactor* CLASS::NAME(grpc::CallbackServerContext* ctx, const REQ* req, \
                                        RESP* resp) {                                    \
    return Serve(auth_, executor_, ctx, resp,                                           \
                 [this, req](const std::string& principal, const std::string& key) {    \
                   (void)principal, (void)key;                                          \
                   return CALL;                                                         \
                 });                                                                    \
  }

OUTCALL_SERVE(ClinicSyncHandlers, UpsertPatients, v1::UpsertPatientsRequest, v1::SyncResponse,
              sync_.UpsertPatients(*req))
OUTCALL_SERVE(ClinicSyncHandlers, UpsertAppointments, v1::UpsertAppointmentsRequest,
              v1::SyncResponse, sync_.UpsertAppointments(*req))
OUTCALL_SERVE(ClinicSyncHandlers, ImportFhir, v1::ImportFhirRequest, v1::SyncResponse,
              sync_.ImportFhir(*req))
OUTCALL_SERVE(ClinicSyncHandlers, GetPatient, v1::GetSyncedRequest, v1::SyncedPatient,
              sync_.GetPatient(*req))
OUTCALL_SERVE(ClinicSyncHandlers, ListPatients, v1::ListSyncedRequest,
              v1::ListSyncedPatientsResponse, sync_.ListPatients(*req))
OUTCALL_SERVE(ClinicSyncHandlers, DeletePatient, v1::GetSyncedRequest, v1::DeleteSyncedResponse,
              sync_.DeletePatient(*req))
OUTCALL_SERVE(ClinicSyncHandlers, GetAppointment, v1::GetSyncedRequest, v1::SyncedAppointment,
              sync_.GetAppointment(*req))
OUTCALL_SERVE(ClinicSyncHandlers, ListAppointments, v1::ListSyncedRequest,
              v1::ListSyncedAppointmentsResponse, sync_.ListAppointments(*req))
OUTCALL_SERVE(ClinicSyncHandlers, CancelAppointment, v1::CancelAppointmentRequest,
              v1::SyncedAppointment, sync_.CancelAppointment(*req))
OUTCALL_SERVE(ClinicSyncHandlers, DeleteAppointment, v1::GetSyncedRequest,
              v1::DeleteSyncedResponse, sync_.DeleteAppointment(*req))
OUTCALL_SERVE(ClinicSyncHandlers, GetFhirAppointment, v1::GetSyncedRequest,
              google::protobuf::Struct, sync_.GetFhirAppointment(*req))
OUTCALL_SERVE(ClinicSyncHandlers, GetFhirPatient, v1::GetSyncedRequest, google::protobuf::Struct,
              sync_.GetFhirPatient(*req))

OUTCALL_SERVE(WebhooksHandlers, CreateWebhookSubscription, v1::CreateWebhookSubscriptionRequest,
              v1::WebhookSubscription, webhooks_.Create(principal, key, *req))
OUTCALL_SERVE(WebhooksHandlers, ListWebhookSubscriptions, v1::ListWebhookSubscriptionsRequest,
              v1::ListWebhookSubscriptionsResponse, webhooks_.List())
OUTCALL_SERVE(WebhooksHandlers, GetWebhookSubscription, v1::WebhookSubscriptionRef,
              v1::WebhookSubscription, webhooks_.Get(*req))
OUTCALL_SERVE(WebhooksHandlers, UpdateWebhookSubscription, v1::UpdateWebhookSubscriptionRequest,
              v1::WebhookSubscription, webhooks_.Update(*req))
OUTCALL_SERVE(WebhooksHandlers, RotateWebhookSecret, v1::RotateWebhookSecretRequest,
              v1::WebhookSubscription, webhooks_.Rotate(*req))
OUTCALL_SERVE(WebhooksHandlers, DeleteWebhookSubscription, v1::WebhookSubscriptionRef,
              v1::DeleteWebhookSubscriptionResponse, webhooks_.Delete(*req))
OUTCALL_SERVE(WebhooksHandlers, ListWebhookDeliveries, v1::ListWebhookDeliveriesRequest,
              v1::ListWebhookDeliveriesResponse, webhooks_.Deliveries(*req))
OUTCALL_SERVE(WebhooksHandlers, ReplayWebhookEvents, v1::ReplayWebhookEventsRequest,
              v1::ReplayWebhookEventsResponse, webhooks_.Replay(*req))
OUTCALL_SERVE(WebhooksHandlers, ListWebhookEvents, v1::ListWebhookEventsRequest,
              v1::ListWebhookEventsResponse, webhooks_.Events(*req))
#undef OUTCALL_SERVE

}  // namespace outcall::call_gateway
