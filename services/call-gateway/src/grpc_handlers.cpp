#include "grpc_handlers.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <deque>
#include <optional>

#include "outcall/common/logging.h"
#include "outcall/common/status.h"
#include "outcall/common/strings.h"
#include "outcall/common/unary_dispatch.h"

namespace outcall::call_gateway {

grpc::ServerUnaryReactor* Finished(grpc::CallbackServerContext* ctx, const absl::Status& s) {
  grpc::ServerUnaryReactor* r = ctx->DefaultReactor();
  r->Finish(common::ToGrpcStatus(s));
  return r;
}

std::string IdempotencyKey(const grpc::CallbackServerContext* ctx) {
  auto it = ctx->client_metadata().find("idempotency-key");
  if (it == ctx->client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

namespace {

// A token with policy:override may pass a contact-policy refusal with a recorded reason.
bool MayOverride(const common::Principal& p) { return p.Has(common::Permission::kOverridePolicy); }

// A server stream whose messages are queued and written one at a time; a watcher that falls
// kMaxQueued messages behind is ended (RESOURCE_EXHAUSTED) rather than holding memory without
// bound.
template <typename Msg>
class QueuedStream : public grpc::ServerWriteReactor<Msg> {
 public:
  static constexpr size_t kMaxQueued = 1000;

  void Fail(const absl::Status& s) { FinishOnce(common::ToGrpcStatus(s)); }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    queue_.pop_front();
    if (pending_finish_) {  // finished while that write was in flight: send the status now
      this->Finish(*std::move(pending_finish_));
      pending_finish_.reset();
      return;
    }
    if (!ok) {
      FinishLocked(grpc::Status::OK);  // the client went away
      return;
    }
    WriteNextLocked();
  }
  void OnCancel() override { FinishOnce(grpc::Status::OK); }

 protected:
  void Offer(const Msg& u) {
    absl::MutexLock lock(&mu_);
    if (finished_) return;
    if (queue_.size() >= kMaxQueued) {
      FinishLocked(common::ToGrpcStatus(absl::ResourceExhaustedError(
          "this watcher fell too far behind the updates; watch again")));
      return;
    }
    queue_.push_back(u);
    WriteNextLocked();
  }

 private:
  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || queue_.empty()) return;
    writing_ = true;
    this->StartWrite(&queue_.front());
  }
  void FinishOnce(const grpc::Status& s) {
    absl::MutexLock lock(&mu_);
    FinishLocked(s);
  }
  void FinishLocked(const grpc::Status& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    if (writing_) {
      pending_finish_ = s;  // after the write in flight completes (OnWriteDone)
      return;
    }
    this->Finish(s);
  }

  absl::Mutex mu_;
  std::deque<Msg> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> pending_finish_ ABSL_GUARDED_BY(mu_);
};

// One WatchCallEvents stream, optionally for one call.
class WatchReactor final : public QueuedStream<v1::CallUpdate> {
 public:
  WatchReactor(CallEventHub& hub, std::string filter) : hub_(hub), filter_(std::move(filter)) {
    // Headers at once, not with the first change: an HTTP client (the REST edge) then knows the
    // stream is open even when nothing happens for a while.
    this->StartSendInitialMetadata();
    subscription_ = hub_.Subscribe([this](const v1::CallUpdate& u) {
      if (filter_.empty() || u.conversation_id() == filter_ || u.call_id() == filter_) Offer(u);
    });
  }
  void OnDone() override {
    hub_.Unsubscribe(subscription_);  // no Offer runs after this returns
    delete this;
  }

 private:
  CallEventHub& hub_;
  const std::string filter_;
  uint64_t subscription_ = 0;
};

// One WatchCampaign stream. Its first snapshot is read on a worker: the reactor lives until both
// gRPC is done with it and that work has finished (two references).
class CampaignWatchReactor final : public QueuedStream<v1::CampaignUpdate> {
 public:
  explicit CampaignWatchReactor(CallEventHub& hub) : hub_(hub) {}

  // On the worker, with the campaign's row and first snapshot: the snapshot, then what the feed
  // publishes (a move between the read and the subscription is in the next snapshot).
  void Begin(int64_t campaign_row, const v1::CampaignUpdate& first) {
    {
      absl::MutexLock lock(&mu_);
      if (done_) return;
    }
    Offer(first);
    const uint64_t id =
        hub_.SubscribeCampaign(campaign_row, [this](const v1::CampaignUpdate& u) { Offer(u); });
    bool done;
    {
      absl::MutexLock lock(&mu_);
      done = done_;
      if (!done) subscription_ = id;
    }
    if (done) hub_.UnsubscribeCampaign(id);
  }
  void Release() {
    if (refs_.fetch_sub(1) == 1) delete this;
  }
  void OnDone() override {
    uint64_t id;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      id = subscription_;
    }
    if (id != 0) hub_.UnsubscribeCampaign(id);  // no Offer runs after this returns
    Release();
  }

 private:
  CallEventHub& hub_;
  std::atomic<int> refs_{2};
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t subscription_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace

grpc::ServerUnaryReactor* Dispatch(grpc::CallbackServerContext* ctx,
                                   common::BlockingExecutor& executor,
                                   std::function<absl::Status()> work) {
  return common::DispatchUnary(
      ctx, executor, {.service = "call-gateway", .busy = "call-gateway is busy; retry shortly"},
      std::move(work));
}

CallGatewayHandlers::CallGatewayHandlers(const common::CallAuthenticator& auth,
                                         common::BlockingExecutor& executor, CallPlacer& placer,
                                         CallControl& control, ContactLedger& ledger,
                                         DataRequests& data_requests, CallEventHub& hub)
    : auth_(auth),
      executor_(executor),
      placer_(placer),
      control_(control),
      ledger_(ledger),
      data_requests_(data_requests),
      hub_(hub) {}

grpc::ServerUnaryReactor* CallGatewayHandlers::ListAgents(grpc::CallbackServerContext* ctx,
                                                          const v1::ListAgentsRequest*,
                                                          v1::ListAgentsResponse* resp) {
  if (auto p = auth_.Check(ctx); !p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor_, [this, resp] { return control_.ListAgents(resp); });
}

grpc::ServerUnaryReactor* CallGatewayHandlers::InitiateCall(grpc::CallbackServerContext* ctx,
                                                            const v1::InitiateCallRequest* req,
                                                            v1::InitiateCallResponse* resp) {
  auto p = auth_.Check(ctx);
  if (!p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor_,
                  [this, req, resp, principal = p->subject, key = IdempotencyKey(ctx),
                   may_override = MayOverride(*p)] {
                    return Answer(resp, placer_.InitiateCall(principal, key, *req, may_override));
                  });
}

grpc::ServerUnaryReactor* CallGatewayHandlers::CallPatient(grpc::CallbackServerContext* ctx,
                                                           const v1::CallPatientRequest* req,
                                                           v1::InitiateCallResponse* resp) {
  auto p = auth_.Check(ctx);
  if (!p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor_,
                  [this, req, resp, principal = p->subject, key = IdempotencyKey(ctx),
                   may_override = MayOverride(*p)] {
                    return Answer(resp, placer_.CallPatient(principal, key, *req, may_override));
                  });
}

grpc::ServerUnaryReactor* CallGatewayHandlers::CheckContactPolicy(
    grpc::CallbackServerContext* ctx, const v1::CheckContactPolicyRequest* req,
    v1::ContactPolicyDecision* resp) {
  if (auto p = auth_.Check(ctx); !p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor_,
                  [this, req, resp] { return Answer(resp, placer_.CheckContactPolicy(*req)); });
}

grpc::ServerUnaryReactor* CallGatewayHandlers::RecordConsent(grpc::CallbackServerContext* ctx,
                                                             const v1::RecordConsentRequest* req,
                                                             v1::RecordConsentResponse* resp) {
  auto p = auth_.Check(ctx);
  if (!p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor_, [this, req, resp, principal = p->subject] {
    return Answer(resp, ledger_.RecordConsent(principal, *req));
  });
}

grpc::ServerUnaryReactor* CallGatewayHandlers::RecordContact(grpc::CallbackServerContext* ctx,
                                                             const v1::RecordContactRequest* req,
                                                             v1::RecordContactResponse* resp) {
  auto p = auth_.Check(ctx);
  if (!p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor_, [this, req, resp, principal = p->subject] {
    return Answer(resp, ledger_.RecordContact(principal, *req));
  });
}

grpc::ServerUnaryReactor* CallGatewayHandlers::ExportEvidence(grpc::CallbackServerContext* ctx,
                                                              const v1::ExportEvidenceRequest* req,
                                                              v1::ExportEvidenceResponse* resp) {
  if (auto p = auth_.Check(ctx); !p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor_,
                  [this, req, resp] { return Answer(resp, ledger_.ExportEvidence(*req)); });
}

grpc::ServerUnaryReactor* CallGatewayHandlers::ExportPatientData(
    grpc::CallbackServerContext* ctx, const v1::ExportPatientDataRequest* req,
    v1::ExportPatientDataResponse* resp) {
  if (auto p = auth_.Check(ctx); !p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor_,
                  [this, req, resp] { return control_.ExportPatientData(*req, resp); });
}

grpc::ServerUnaryReactor* CallGatewayHandlers::CreateDataRequest(
    grpc::CallbackServerContext* ctx, const v1::CreateDataRequestRequest* req,
    v1::DataRequest* resp) {
  auto p = auth_.Check(ctx);
  if (!p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor_, [this, req, resp, principal = p->subject] {
    return Answer(resp, data_requests_.Create(principal, *req));
  });
}

grpc::ServerUnaryReactor* CallGatewayHandlers::GetDataRequest(grpc::CallbackServerContext* ctx,
                                                              const v1::GetDataRequestRequest* req,
                                                              v1::DataRequest* resp) {
  if (auto p = auth_.Check(ctx); !p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor_,
                  [this, req, resp] { return Answer(resp, data_requests_.Get(*req)); });
}

grpc::ServerUnaryReactor* CallGatewayHandlers::ListDataRequests(
    grpc::CallbackServerContext* ctx, const v1::ListDataRequestsRequest* req,
    v1::ListDataRequestsResponse* resp) {
  if (auto p = auth_.Check(ctx); !p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor_,
                  [this, req, resp] { return Answer(resp, data_requests_.List(*req)); });
}

grpc::ServerUnaryReactor* CallGatewayHandlers::GetConversation(
    grpc::CallbackServerContext* ctx, const v1::GetConversationRequest* req,
    v1::GetConversationResponse* resp) {
  if (auto p = auth_.Check(ctx); !p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor_,
                  [this, req, resp] { return control_.GetConversation(*req, resp); });
}

grpc::ServerUnaryReactor* CallGatewayHandlers::EndCall(grpc::CallbackServerContext* ctx,
                                                       const v1::EndCallRequest* req,
                                                       v1::EndCallResponse* resp) {
  if (auto p = auth_.Check(ctx); !p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor_, [this, req, resp] { return control_.EndCall(*req, resp); });
}

grpc::ServerUnaryReactor* CallGatewayHandlers::GetConversationAudio(
    grpc::CallbackServerContext* ctx, const v1::GetConversationAudioRequest* req,
    google::api::HttpBody* resp) {
  if (auto p = auth_.Check(ctx); !p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor_,
                  [this, req, resp] { return control_.GetConversationAudio(*req, resp); });
}

grpc::ServerUnaryReactor* CallGatewayHandlers::EraseConversation(
    grpc::CallbackServerContext* ctx, const v1::EraseConversationRequest* req,
    v1::EraseConversationResponse* resp) {
  if (auto p = auth_.Check(ctx); !p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor_,
                  [this, req, resp] { return control_.EraseConversation(*req, resp); });
}

grpc::ServerWriteReactor<v1::CallUpdate>* CallGatewayHandlers::WatchCallEvents(
    grpc::CallbackServerContext* ctx, const v1::WatchCallEventsRequest* req) {
  auto* reactor = new WatchReactor(hub_, req->conversation_id());
  if (auto p = auth_.Check(ctx); !p.ok()) reactor->Fail(p.status());
  return reactor;
}

CallEventSinkHandlers::CallEventSinkHandlers(const common::CallAuthenticator& auth,
                                             common::BlockingExecutor& executor,
                                             EventApplier& applier)
    : auth_(auth), executor_(executor), applier_(applier) {}

grpc::ServerUnaryReactor* CallEventSinkHandlers::ApplyEvents(grpc::CallbackServerContext* ctx,
                                                             const v1::ApplyEventsRequest* req,
                                                             v1::ApplyEventsResponse* resp) {
  if (auto p = auth_.Check(ctx); !p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor_, [this, req, resp] { return applier_.Apply(*req, resp); });
}

// ---- Campaigns ------------------------------------------------------------------------------

CampaignsHandlers::CampaignsHandlers(const common::CallAuthenticator& auth,
                                     common::BlockingExecutor& executor, Campaigns& campaigns,
                                     Automation& automation, CallEventHub& hub)
    : auth_(auth),
      executor_(executor),
      campaigns_(campaigns),
      automation_(automation),
      hub_(hub) {}

grpc::ServerWriteReactor<v1::CampaignUpdate>* CampaignsHandlers::WatchCampaign(
    grpc::CallbackServerContext* ctx, const v1::WatchCampaignRequest* req) {
  auto* reactor = new CampaignWatchReactor(hub_);
  if (auto p = auth_.Check(ctx); !p.ok()) {
    reactor->Fail(p.status());
    reactor->Release();
    return reactor;
  }
  const bool queued = executor_.TrySubmit([this, reactor, uuid = req->campaign_id()] {
    auto target = campaigns_.WatchTarget(uuid);
    if (target.ok()) {
      reactor->Begin(target->first, target->second);
    } else {
      reactor->Fail(target.status());
    }
    reactor->Release();
  });
  if (!queued) {
    reactor->Fail(absl::UnavailableError("call-gateway is busy; retry shortly"));
    reactor->Release();
  }
  return reactor;
}

template <typename Resp, typename Fn>
grpc::ServerUnaryReactor* CampaignsHandlers::Serve(grpc::CallbackServerContext* ctx, Resp* resp,
                                                   Fn fn) {
  auto p = auth_.Check(ctx);
  if (!p.ok()) return Finished(ctx, p.status());
  return Dispatch(ctx, executor_,
                  [resp, fn = std::move(fn), principal = p->subject, key = IdempotencyKey(ctx)] {
                    return Answer(resp, fn(principal, key));
                  });
}

grpc::ServerUnaryReactor* CampaignsHandlers::CreateCampaign(grpc::CallbackServerContext* ctx,
                                                            const v1::CreateCampaignRequest* req,
                                                            v1::Campaign* resp) {
  return Serve(ctx, resp, [this, req](const std::string& principal, const std::string& key) {
    return campaigns_.Create(principal, key, *req);
  });
}

grpc::ServerUnaryReactor* CampaignsHandlers::GetCampaign(grpc::CallbackServerContext* ctx,
                                                         const v1::GetCampaignRequest* req,
                                                         v1::Campaign* resp) {
  return Serve(ctx, resp, [this, req](const std::string&, const std::string&) {
    return campaigns_.Get(*req);
  });
}

grpc::ServerUnaryReactor* CampaignsHandlers::ListCampaigns(grpc::CallbackServerContext* ctx,
                                                           const v1::ListCampaignsRequest* req,
                                                           v1::ListCampaignsResponse* resp) {
  return Serve(ctx, resp, [this, req](const std::string&, const std::string&) {
    return campaigns_.List(*req);
  });
}

grpc::ServerUnaryReactor* CampaignsHandlers::UpdateCampaign(grpc::CallbackServerContext* ctx,
                                                            const v1::UpdateCampaignRequest* req,
                                                            v1::Campaign* resp) {
  return Serve(ctx, resp, [this, req](const std::string&, const std::string&) {
    return campaigns_.Update(*req);
  });
}

grpc::ServerUnaryReactor* CampaignsHandlers::AddRecipients(grpc::CallbackServerContext* ctx,
                                                           const v1::AddRecipientsRequest* req,
                                                           v1::AddRecipientsResponse* resp) {
  return Serve(ctx, resp, [this, req](const std::string&, const std::string&) {
    return campaigns_.AddRecipients(*req);
  });
}

grpc::ServerUnaryReactor* CampaignsHandlers::ListRecipients(grpc::CallbackServerContext* ctx,
                                                            const v1::ListRecipientsRequest* req,
                                                            v1::ListRecipientsResponse* resp) {
  return Serve(ctx, resp, [this, req](const std::string&, const std::string&) {
    return campaigns_.ListRecipients(*req);
  });
}

grpc::ServerUnaryReactor* CampaignsHandlers::StartCampaign(grpc::CallbackServerContext* ctx,
                                                           const v1::CampaignActionRequest* req,
                                                           v1::Campaign* resp) {
  return Serve(ctx, resp, [this, req](const std::string&, const std::string&) {
    return campaigns_.Start(*req);
  });
}

grpc::ServerUnaryReactor* CampaignsHandlers::PauseCampaign(grpc::CallbackServerContext* ctx,
                                                           const v1::CampaignActionRequest* req,
                                                           v1::Campaign* resp) {
  return Serve(ctx, resp, [this, req](const std::string&, const std::string&) {
    return campaigns_.Pause(*req);
  });
}

grpc::ServerUnaryReactor* CampaignsHandlers::ResumeCampaign(grpc::CallbackServerContext* ctx,
                                                            const v1::CampaignActionRequest* req,
                                                            v1::Campaign* resp) {
  return Serve(ctx, resp, [this, req](const std::string&, const std::string&) {
    return campaigns_.Resume(*req);
  });
}

grpc::ServerUnaryReactor* CampaignsHandlers::CancelCampaign(grpc::CallbackServerContext* ctx,
                                                            const v1::CampaignActionRequest* req,
                                                            v1::Campaign* resp) {
  return Serve(ctx, resp, [this, req](const std::string&, const std::string&) {
    return campaigns_.Cancel(*req);
  });
}

grpc::ServerUnaryReactor* CampaignsHandlers::RetryFailed(grpc::CallbackServerContext* ctx,
                                                         const v1::CampaignActionRequest* req,
                                                         v1::Campaign* resp) {
  return Serve(ctx, resp, [this, req](const std::string&, const std::string&) {
    return campaigns_.RetryFailed(*req);
  });
}

grpc::ServerUnaryReactor* CampaignsHandlers::DuplicateCampaign(
    grpc::CallbackServerContext* ctx, const v1::DuplicateCampaignRequest* req,
    v1::Campaign* resp) {
  return Serve(ctx, resp, [this, req](const std::string& principal, const std::string&) {
    return campaigns_.Duplicate(principal, *req);
  });
}

grpc::ServerUnaryReactor* CampaignsHandlers::ListReviews(grpc::CallbackServerContext* ctx,
                                                         const v1::ListReviewsRequest* req,
                                                         v1::ListReviewsResponse* resp) {
  return Serve(ctx, resp, [this, req](const std::string&, const std::string&) {
    return campaigns_.ListReviews(*req);
  });
}

grpc::ServerUnaryReactor* CampaignsHandlers::ResolveReview(grpc::CallbackServerContext* ctx,
                                                           const v1::ResolveReviewRequest* req,
                                                           v1::Review* resp) {
  return Serve(ctx, resp, [this, req](const std::string& principal, const std::string&) {
    return campaigns_.ResolveReview(principal, *req);
  });
}

grpc::ServerUnaryReactor* CampaignsHandlers::CreateAutomationRule(
    grpc::CallbackServerContext* ctx, const v1::CreateAutomationRuleRequest* req,
    v1::AutomationRule* resp) {
  return Serve(ctx, resp, [this, req](const std::string& principal, const std::string& key) {
    return automation_.Create(principal, key, *req);
  });
}

grpc::ServerUnaryReactor* CampaignsHandlers::ListAutomationRules(
    grpc::CallbackServerContext* ctx, const v1::ListAutomationRulesRequest* req,
    v1::ListAutomationRulesResponse* resp) {
  return Serve(ctx, resp, [this, req](const std::string&, const std::string&) {
    return automation_.List(*req);
  });
}

grpc::ServerUnaryReactor* CampaignsHandlers::UpdateAutomationRule(
    grpc::CallbackServerContext* ctx, const v1::UpdateAutomationRuleRequest* req,
    v1::AutomationRule* resp) {
  return Serve(ctx, resp, [this, req](const std::string&, const std::string&) {
    return automation_.Update(*req);
  });
}

}  // namespace outcall::call_gateway
