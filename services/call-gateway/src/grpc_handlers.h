// call-gateway's gRPC face, on gRPC's callback API: each handler checks the caller's token once,
// posts the work (blocking: database, ElevenLabs) to the bounded executor and returns at once;
// the worker answers through one ToGrpcStatus. A full executor answers RESOURCE_EXHAUSTED at
// once instead of queueing behind a slow database or provider. WatchCallEvents is a write
// reactor fed by the in-process hub: no thread and no polling per watcher.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>

#include "absl/status/status.h"
#include "call_control.h"
#include "call_event_hub.h"
#include "automation.h"
#include "call_placer.h"
#include "campaigns.h"
#include "contact_ledger.h"
#include "data_requests.h"
#include "event_applier.h"
#include "outcall/common/auth_interceptor.h"
#include "outcall/common/blocking_executor.h"
#include "outcall/v1/call_gateway.grpc.pb.h"
#include "outcall/v1/campaigns.grpc.pb.h"
#include "outcall/v1/events.grpc.pb.h"

namespace outcall::call_gateway {

// Runs `work` on the executor and finishes the call with its status (RESOURCE_EXHAUSTED when the
// executor is full, CANCELLED when the client went away before it started).
grpc::ServerUnaryReactor* Dispatch(grpc::CallbackServerContext* ctx,
                                   common::BlockingExecutor& executor,
                                   std::function<absl::Status()> work);
// The call finished at once with `s` (a refused token).
grpc::ServerUnaryReactor* Finished(grpc::CallbackServerContext* ctx, const absl::Status& s);
// The idempotency key from gRPC metadata ("idempotency-key"; Envoy forwards the HTTP header).
std::string IdempotencyKey(const grpc::CallbackServerContext* ctx);

// A logic class's answer into the RPC's response message.
template <typename Response>
absl::Status Answer(Response* resp, absl::StatusOr<Response> r) {
  if (!r.ok()) return r.status();
  *resp = *std::move(r);
  return absl::OkStatus();
}

class CallGatewayHandlers final : public v1::CallGateway::CallbackService {
 public:
  CallGatewayHandlers(const common::CallAuthenticator& auth, common::BlockingExecutor& executor,
                      CallPlacer& placer, CallControl& control, ContactLedger& ledger,
                      DataRequests& data_requests, CallEventHub& hub);

  grpc::ServerUnaryReactor* ListAgents(grpc::CallbackServerContext* ctx,
                                       const v1::ListAgentsRequest* req,
                                       v1::ListAgentsResponse* resp) override;
  grpc::ServerUnaryReactor* InitiateCall(grpc::CallbackServerContext* ctx,
                                         const v1::InitiateCallRequest* req,
                                         v1::InitiateCallResponse* resp) override;
  grpc::ServerUnaryReactor* CallPatient(grpc::CallbackServerContext* ctx,
                                        const v1::CallPatientRequest* req,
                                        v1::InitiateCallResponse* resp) override;
  grpc::ServerUnaryReactor* GetConversation(grpc::CallbackServerContext* ctx,
                                            const v1::GetConversationRequest* req,
                                            v1::GetConversationResponse* resp) override;
  grpc::ServerUnaryReactor* EndCall(grpc::CallbackServerContext* ctx, const v1::EndCallRequest* req,
                                    v1::EndCallResponse* resp) override;
  grpc::ServerUnaryReactor* GetConversationAudio(grpc::CallbackServerContext* ctx,
                                                 const v1::GetConversationAudioRequest* req,
                                                 google::api::HttpBody* resp) override;
  grpc::ServerUnaryReactor* EraseConversation(grpc::CallbackServerContext* ctx,
                                              const v1::EraseConversationRequest* req,
                                              v1::EraseConversationResponse* resp) override;
  grpc::ServerWriteReactor<v1::CallUpdate>* WatchCallEvents(
      grpc::CallbackServerContext* ctx, const v1::WatchCallEventsRequest* req) override;
  grpc::ServerUnaryReactor* CheckContactPolicy(grpc::CallbackServerContext* ctx,
                                               const v1::CheckContactPolicyRequest* req,
                                               v1::ContactPolicyDecision* resp) override;
  grpc::ServerUnaryReactor* RecordConsent(grpc::CallbackServerContext* ctx,
                                          const v1::RecordConsentRequest* req,
                                          v1::RecordConsentResponse* resp) override;
  grpc::ServerUnaryReactor* RecordContact(grpc::CallbackServerContext* ctx,
                                          const v1::RecordContactRequest* req,
                                          v1::RecordContactResponse* resp) override;
  grpc::ServerUnaryReactor* ExportEvidence(grpc::CallbackServerContext* ctx,
                                           const v1::ExportEvidenceRequest* req,
                                           v1::ExportEvidenceResponse* resp) override;
  grpc::ServerUnaryReactor* ExportPatientData(grpc::CallbackServerContext* ctx,
                                              const v1::ExportPatientDataRequest* req,
                                              v1::ExportPatientDataResponse* resp) override;
  grpc::ServerUnaryReactor* CreateDataRequest(grpc::CallbackServerContext* ctx,
                                              const v1::CreateDataRequestRequest* req,
                                              v1::DataRequest* resp) override;
  grpc::ServerUnaryReactor* GetDataRequest(grpc::CallbackServerContext* ctx,
                                           const v1::GetDataRequestRequest* req,
                                           v1::DataRequest* resp) override;
  grpc::ServerUnaryReactor* ListDataRequests(grpc::CallbackServerContext* ctx,
                                             const v1::ListDataRequestsRequest* req,
                                             v1::ListDataRequestsResponse* resp) override;

 private:
  const common::CallAuthenticator& auth_;
  common::BlockingExecutor& executor_;
  CallPlacer& placer_;
  CallControl& control_;
  ContactLedger& ledger_;
  DataRequests& data_requests_;
  CallEventHub& hub_;
};

class CallEventSinkHandlers final : public v1::CallEventSink::CallbackService {
 public:
  CallEventSinkHandlers(const common::CallAuthenticator& auth, common::BlockingExecutor& executor,
                        EventApplier& applier);

  grpc::ServerUnaryReactor* ApplyEvents(grpc::CallbackServerContext* ctx,
                                        const v1::ApplyEventsRequest* req,
                                        v1::ApplyEventsResponse* resp) override;

 private:
  const common::CallAuthenticator& auth_;
  common::BlockingExecutor& executor_;
  EventApplier& applier_;
};

class CampaignsHandlers final : public v1::Campaigns::CallbackService {
 public:
  CampaignsHandlers(const common::CallAuthenticator& auth, common::BlockingExecutor& executor,
                    Campaigns& campaigns, Automation& automation, CallEventHub& hub);

  grpc::ServerWriteReactor<v1::CampaignUpdate>* WatchCampaign(
      grpc::CallbackServerContext* ctx, const v1::WatchCampaignRequest* req) override;

  grpc::ServerUnaryReactor* CreateCampaign(grpc::CallbackServerContext* ctx,
                                           const v1::CreateCampaignRequest* req,
                                           v1::Campaign* resp) override;
  grpc::ServerUnaryReactor* GetCampaign(grpc::CallbackServerContext* ctx,
                                        const v1::GetCampaignRequest* req,
                                        v1::Campaign* resp) override;
  grpc::ServerUnaryReactor* ListCampaigns(grpc::CallbackServerContext* ctx,
                                          const v1::ListCampaignsRequest* req,
                                          v1::ListCampaignsResponse* resp) override;
  grpc::ServerUnaryReactor* UpdateCampaign(grpc::CallbackServerContext* ctx,
                                           const v1::UpdateCampaignRequest* req,
                                           v1::Campaign* resp) override;
  grpc::ServerUnaryReactor* AddRecipients(grpc::CallbackServerContext* ctx,
                                          const v1::AddRecipientsRequest* req,
                                          v1::AddRecipientsResponse* resp) override;
  grpc::ServerUnaryReactor* ListRecipients(grpc::CallbackServerContext* ctx,
                                           const v1::ListRecipientsRequest* req,
                                           v1::ListRecipientsResponse* resp) override;
  grpc::ServerUnaryReactor* StartCampaign(grpc::CallbackServerContext* ctx,
                                          const v1::CampaignActionRequest* req,
                                          v1::Campaign* resp) override;
  grpc::ServerUnaryReactor* PauseCampaign(grpc::CallbackServerContext* ctx,
                                          const v1::CampaignActionRequest* req,
                                          v1::Campaign* resp) override;
  grpc::ServerUnaryReactor* ResumeCampaign(grpc::CallbackServerContext* ctx,
                                           const v1::CampaignActionRequest* req,
                                           v1::Campaign* resp) override;
  grpc::ServerUnaryReactor* CancelCampaign(grpc::CallbackServerContext* ctx,
                                           const v1::CampaignActionRequest* req,
                                           v1::Campaign* resp) override;
  grpc::ServerUnaryReactor* RetryFailed(grpc::CallbackServerContext* ctx,
                                        const v1::CampaignActionRequest* req,
                                        v1::Campaign* resp) override;
  grpc::ServerUnaryReactor* DuplicateCampaign(grpc::CallbackServerContext* ctx,
                                              const v1::DuplicateCampaignRequest* req,
                                              v1::Campaign* resp) override;
  grpc::ServerUnaryReactor* ListReviews(grpc::CallbackServerContext* ctx,
                                        const v1::ListReviewsRequest* req,
                                        v1::ListReviewsResponse* resp) override;
  grpc::ServerUnaryReactor* ResolveReview(grpc::CallbackServerContext* ctx,
                                          const v1::ResolveReviewRequest* req,
                                          v1::Review* resp) override;
  grpc::ServerUnaryReactor* CreateAutomationRule(grpc::CallbackServerContext* ctx,
                                                 const v1::CreateAutomationRuleRequest* req,
                                                 v1::AutomationRule* resp) override;
  grpc::ServerUnaryReactor* ListAutomationRules(grpc::CallbackServerContext* ctx,
                                                const v1::ListAutomationRulesRequest* req,
                                                v1::ListAutomationRulesResponse* resp) override;
  grpc::ServerUnaryReactor* UpdateAutomationRule(grpc::CallbackServerContext* ctx,
                                                 const v1::UpdateAutomationRuleRequest* req,
                                                 v1::AutomationRule* resp) override;

 private:
  // Checks the token, then runs fn(principal, idempotency key) on the executor into `resp`.
  template <typename Resp, typename Fn>
  grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* ctx, Resp* resp, Fn fn);

  const common::CallAuthenticator& auth_;
  common::BlockingExecutor& executor_;
  Campaigns& campaigns_;
  Automation& automation_;
  CallEventHub& hub_;
};

}  // namespace outcall::call_gateway
