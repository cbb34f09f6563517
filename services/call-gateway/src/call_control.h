// What a clinic asks about or does to a call once it exists: the agents list (cached), a
// conversation with its transcript (refreshing a live call's status from ElevenLabs), hanging a
// call up through Twilio, and erasing a conversation's data (here and at ElevenLabs). Blocking
// (database, HTTP): run on a worker thread. No gRPC here.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "call_event_hub.h"
#include "call_repository.h"
#include "metrics.h"
#include "outcall/common/clock.h"
#include "outcall/elevenlabs/api.h"
#include "google/api/httpbody.pb.h"
#include "outcall/v1/call_gateway.pb.h"

namespace outcall::call_gateway {

class CallControl {
 public:
  CallControl(absl::Duration agents_cache_ttl, CallRepository& store,
              const elevenlabs::ElevenLabsApi& api, GatewayMetrics& metrics, CallEventHub& hub,
              const common::Clock& clock = common::Clock::Real());

  absl::Status ListAgents(v1::ListAgentsResponse* response);
  absl::Status GetConversation(const v1::GetConversationRequest& request,
                               v1::GetConversationResponse* response);
  absl::Status GetConversationAudio(const v1::GetConversationAudioRequest& request,
                                    google::api::HttpBody* response);
  absl::Status EndCall(const v1::EndCallRequest& request, v1::EndCallResponse* response);
  absl::Status EraseConversation(const v1::EraseConversationRequest& request,
                                 v1::EraseConversationResponse* response);
  // A data subject's access request: the patient's whole record as one document.
  absl::Status ExportPatientData(const v1::ExportPatientDataRequest& request,
                                 v1::ExportPatientDataResponse* response);

 private:
  // The call with this conversation id or call id; NOT_FOUND naming it (masked) otherwise.
  absl::StatusOr<CallRow> KnownCall(const std::string& id);

  const absl::Duration agents_cache_ttl_;
  CallRepository& store_;
  const elevenlabs::ElevenLabsApi& api_;
  GatewayMetrics& metrics_;
  CallEventHub& hub_;
  const common::Clock& clock_;
  absl::Mutex agents_mu_;
  std::vector<elevenlabs::AgentInfo> agents_ ABSL_GUARDED_BY(agents_mu_);
  absl::Time agents_at_ ABSL_GUARDED_BY(agents_mu_) = absl::InfinitePast();
};

}  // namespace outcall::call_gateway
