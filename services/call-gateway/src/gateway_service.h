// call-gateway's gRPC services: CallGateway (place, follow, end and erase calls; agents; live
// watch) and CallEventSink (webhook events from webhook-ingest), plus the reconciler that
// settles calls whose outcome is unknown (a lost answer, a crash while dialling, a lost webhook).
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "call_store.h"
#include "elevenlabs_client.h"
#include "outcall/common/auth_interceptor.h"
#include "outcall/v1/call_gateway.grpc.pb.h"
#include "outcall/v1/events.grpc.pb.h"

namespace prometheus {
class Registry;
}

namespace outcall::call_gateway {

struct GatewayOptions {
  std::string default_agent_id;
  std::string agent_phone_number_id;
  int max_call_duration_secs = 600;
  std::string default_country_code = "57";
  absl::Duration agents_cache_ttl = absl::Seconds(60);
  int dialing_grace_secs = 30;  // a "dialing" call older than this is reconciled
  int open_grace_secs = 300;    // an open call this long past its maximum is fetched
  absl::Duration reconcile_every = absl::Seconds(30);
  int reconcile_batch = 100;  // calls per pass, least recently tried first
  // A call a pass could not settle waits reconcile_every, then twice that, ... up to this.
  absl::Duration reconcile_max_backoff = absl::Minutes(30);
  // Definite "not found" answers (404) after which an open call is failed with the reason, or a
  // call's recording is given up.
  int reconcile_max_not_found = 3;
  // SAVE_CALL_AUDIO: settled calls whose conversation has audio but whose post_call_audio
  // webhook did not bring it within audio_grace_secs get it from ElevenLabs' audio endpoint.
  bool save_call_audio = true;
  int audio_grace_secs = 300;
  int audio_batch = 10;                                // recordings per pass, one at a time
  absl::Duration audio_max_age = absl::Hours(24 * 7);  // a need this old is given up
  size_t audio_max_bytes = 64 << 20;
  absl::Duration audio_timeout = absl::Seconds(120);
};

// Fans status changes out to WatchCallEvents streams.
class CallEventHub {
 public:
  void Publish(const StatusChange& change);
  // Blocks until an update newer than `*cursor` exists (or `deadline`); returns them.
  std::vector<v1::CallUpdate> Wait(uint64_t* cursor, absl::Time deadline);

 private:
  absl::Mutex mu_;
  std::deque<std::pair<uint64_t, v1::CallUpdate>> recent_ ABSL_GUARDED_BY(mu_);
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 1;
};

class Metrics;

class GatewayService final : public v1::CallGateway::Service, public v1::CallEventSink::Service {
 public:
  GatewayService(GatewayOptions options, CallStore& store, ElevenLabsClient& elevenlabs,
                 const common::CallAuthenticator& auth, prometheus::Registry* registry);
  ~GatewayService() override;

  grpc::Status ListAgents(grpc::ServerContext* ctx, const v1::ListAgentsRequest* req,
                          v1::ListAgentsResponse* resp) override;
  grpc::Status InitiateCall(grpc::ServerContext* ctx, const v1::InitiateCallRequest* req,
                            v1::InitiateCallResponse* resp) override;
  grpc::Status CallPatient(grpc::ServerContext* ctx, const v1::CallPatientRequest* req,
                           v1::InitiateCallResponse* resp) override;
  grpc::Status GetConversation(grpc::ServerContext* ctx, const v1::GetConversationRequest* req,
                               v1::GetConversationResponse* resp) override;
  grpc::Status EndCall(grpc::ServerContext* ctx, const v1::EndCallRequest* req,
                       v1::EndCallResponse* resp) override;
  grpc::Status EraseConversation(grpc::ServerContext* ctx, const v1::EraseConversationRequest* req,
                                 v1::EraseConversationResponse* resp) override;
  grpc::Status WatchCallEvents(grpc::ServerContext* ctx, const v1::WatchCallEventsRequest* req,
                               grpc::ServerWriter<v1::CallUpdate>* writer) override;
  grpc::Status ApplyEvents(grpc::ServerContext* ctx, const v1::ApplyEventsRequest* req,
                           v1::ApplyEventsResponse* resp) override;

  // One reconciliation pass (the background loop calls it; tests may too).
  absl::Status ReconcileOnce();
  void StartReconciler();
  void StopReconciler();

 private:
  struct Dial;  // one InitiateCall in flight
  absl::StatusOr<v1::InitiateCallResponse> Place(Dial& dial);
  // Settles a call whose outbound request may have reached ElevenLabs: found by our call id in
  // the conversation list -> initiated; not found -> failed; list unavailable -> stays dialing.
  // Its idempotency keys follow (CallStore::MarkInitiated, MarkFailed); `not_placed_answer` is
  // what they get when the call was not placed (OK: a generic UNAVAILABLE naming the call).
  absl::StatusOr<StatusChange> Reconcile(const CallRow& call, std::string_view cause,
                                         const absl::Status& not_placed_answer = absl::OkStatus());
  // The open and dialing calls of one pass.
  absl::Status ReconcileCalls();
  // The recordings of one pass (SAVE_CALL_AUDIO).
  absl::Status RecoverAudio();
  void Notify(const std::vector<StatusChange>& changes);
  void Notify(const StatusChange& change);
  // The call with this conversation id or call id; NOT_FOUND naming it otherwise.
  absl::StatusOr<CallRow> KnownCall(const std::string& id);
  // Applies events kept for a conversation that was unknown when they came.
  void ApplyEarlyEvents(const std::string& conversation_id);

  GatewayOptions options_;
  CallStore& store_;
  ElevenLabsClient& elevenlabs_;
  const common::CallAuthenticator& auth_;
  std::unique_ptr<Metrics> metrics_;
  CallEventHub hub_;

  absl::Mutex agents_mu_;
  std::vector<AgentInfo> agents_ ABSL_GUARDED_BY(agents_mu_);
  absl::Time agents_at_ ABSL_GUARDED_BY(agents_mu_) = absl::InfinitePast();

  absl::Mutex reconciler_mu_;
  bool reconciler_stop_ ABSL_GUARDED_BY(reconciler_mu_) = false;
  std::thread reconciler_;
};

}  // namespace outcall::call_gateway
