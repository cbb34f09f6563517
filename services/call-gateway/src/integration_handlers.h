// The gRPC face of the integration with the clinic's systems (ClinicSync and Webhooks), on the
// callback API as grpc_handlers.h: the token checked once, the blocking work posted to the
// bounded executor, the answer through one ToGrpcStatus.
#pragma once

#include <grpcpp/grpcpp.h>

#include "clinic_sync.h"
#include "outbound_webhooks.h"
#include "outcall/common/auth_interceptor.h"
#include "outcall/common/blocking_executor.h"
#include "outcall/v1/sync.grpc.pb.h"
#include "outcall/v1/webhooks.grpc.pb.h"

namespace outcall::call_gateway {

class ClinicSyncHandlers final : public v1::ClinicSync::CallbackService {
 public:
  ClinicSyncHandlers(const common::CallAuthenticator& auth, common::BlockingExecutor& executor,
                     ClinicSync& sync)
      : auth_(auth), executor_(executor), sync_(sync) {}

#define OUTCALL_SYNC_RPC(NAME, REQ, RESP)                                     \
  grpc::ServerUnaryReactor* NAME(grpc::CallbackServerContext* ctx, const REQ* req, \
                                 RESP* resp) override;
  OUTCALL_SYNC_RPC(UpsertPatients, v1::UpsertPatientsRequest, v1::SyncResponse)
  OUTCALL_SYNC_RPC(UpsertAppointments, v1::UpsertAppointmentsRequest, v1::SyncResponse)
  OUTCALL_SYNC_RPC(ImportFhir, v1::ImportFhirRequest, v1::SyncResponse)
  OUTCALL_SYNC_RPC(GetPatient, v1::GetSyncedRequest, v1::SyncedPatient)
  OUTCALL_SYNC_RPC(ListPatients, v1::ListSyncedRequest, v1::ListSyncedPatientsResponse)
  OUTCALL_SYNC_RPC(DeletePatient, v1::GetSyncedRequest, v1::DeleteSyncedResponse)
  OUTCALL_SYNC_RPC(GetAppointment, v1::GetSyncedRequest, v1::SyncedAppointment)
  OUTCALL_SYNC_RPC(ListAppointments, v1::ListSyncedRequest, v1::ListSyncedAppointmentsResponse)
  OUTCALL_SYNC_RPC(CancelAppointment, v1::CancelAppointmentRequest, v1::SyncedAppointment)
  OUTCALL_SYNC_RPC(DeleteAppointment, v1::GetSyncedRequest, v1::DeleteSyncedResponse)
  OUTCALL_SYNC_RPC(GetFhirAppointment, v1::GetSyncedRequest, google::protobuf::Struct)
  OUTCALL_SYNC_RPC(GetFhirPatient, v1::GetSyncedRequest, google::protobuf::Struct)

 private:
  const common::CallAuthenticator& auth_;
  common::BlockingExecutor& executor_;
  ClinicSync& sync_;
};

class WebhooksHandlers final : public v1::Webhooks::CallbackService {
 public:
  WebhooksHandlers(const common::CallAuthenticator& auth, common::BlockingExecutor& executor,
                   OutboundWebhooks& webhooks)
      : auth_(auth), executor_(executor), webhooks_(webhooks) {}

  OUTCALL_SYNC_RPC(CreateWebhookSubscription, v1::CreateWebhookSubscriptionRequest,
                   v1::WebhookSubscription)
  OUTCALL_SYNC_RPC(ListWebhookSubscriptions, v1::ListWebhookSubscriptionsRequest,
                   v1::ListWebhookSubscriptionsResponse)
  OUTCALL_SYNC_RPC(GetWebhookSubscription, v1::WebhookSubscriptionRef, v1::WebhookSubscription)
  OUTCALL_SYNC_RPC(UpdateWebhookSubscription, v1::UpdateWebhookSubscriptionRequest,
                   v1::WebhookSubscription)
  OUTCALL_SYNC_RPC(RotateWebhookSecret, v1::RotateWebhookSecretRequest, v1::WebhookSubscription)
  OUTCALL_SYNC_RPC(DeleteWebhookSubscription, v1::WebhookSubscriptionRef,
                   v1::DeleteWebhookSubscriptionResponse)
  OUTCALL_SYNC_RPC(ListWebhookDeliveries, v1::ListWebhookDeliveriesRequest,
                   v1::ListWebhookDeliveriesResponse)
  OUTCALL_SYNC_RPC(ReplayWebhookEvents, v1::ReplayWebhookEventsRequest,
                   v1::ReplayWebhookEventsResponse)
  OUTCALL_SYNC_RPC(ListWebhookEvents, v1::ListWebhookEventsRequest,
                   v1::ListWebhookEventsResponse)
#undef OUTCALL_SYNC_RPC

 private:
  const common::CallAuthenticator& auth_;
  common::BlockingExecutor& executor_;
  OutboundWebhooks& webhooks_;
};

}  // namespace outcall::call_gateway
