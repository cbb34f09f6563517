#include "call_control.h"

#include <spdlog/spdlog.h>

#include "contact_policy.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"

namespace outcall::call_gateway {

using common::Cat;
using elevenlabs::AgentInfo;

CallControl::CallControl(absl::Duration agents_cache_ttl, CallRepository& store,
                         const elevenlabs::ElevenLabsApi& api, GatewayMetrics& metrics,
                         CallEventHub& hub, const common::Clock& clock)
    : agents_cache_ttl_(agents_cache_ttl),
      store_(store),
      api_(api),
      metrics_(metrics),
      hub_(hub),
      clock_(clock) {}

absl::Status CallControl::ListAgents(v1::ListAgentsResponse* resp) {
  std::vector<AgentInfo> agents;
  {
    absl::MutexLock lock(&agents_mu_);
    if (clock_.Now() - agents_at_ < agents_cache_ttl_) agents = agents_;
  }
  if (agents.empty()) {
    auto fresh = Timed(metrics_, "list_agents", [&] { return api_.ListAgents(); });
    if (!fresh.ok()) return fresh.status();
    agents = *fresh;
    absl::MutexLock lock(&agents_mu_);
    agents_ = agents;
    agents_at_ = clock_.Now();
  }
  resp->set_success(true);
  for (const auto& a : agents) {
    auto* out = resp->add_data();
    out->set_agent_id(a.agent_id);
    out->set_name(a.name);
    for (const auto& t : a.tags) out->add_tags(t);
  }
  resp->set_count(static_cast<int>(agents.size()));
  return absl::OkStatus();
}

absl::StatusOr<CallRow> CallControl::KnownCall(const std::string& id) {
  auto call = store_.FindCall(id);
  if (!call.ok()) return call.status();
  // The id is the caller's: it may be a phone number typed in the wrong field. Masked (ids and
  // UUIDs stay readable).
  if (!call->has_value()) {
    return absl::NotFoundError(Cat("conversation ", common::RedactPhones(id), " not found"));
  }
  return **std::move(call);
}

absl::Status CallControl::GetConversation(const v1::GetConversationRequest& request,
                                          v1::GetConversationResponse* resp) {
  const v1::GetConversationRequest* req = &request;
  if (req->conversation_id().empty())
    return absl::InvalidArgumentError("conversationId is required");
  auto call = KnownCall(req->conversation_id());
  if (!call.ok()) return call.status();
  // While not final, refresh the status from ElevenLabs (webhooks bring the details).
  if (!IsFinalStatus(call->status) && !call->conversation_id.empty()) {
    auto conv = Timed(metrics_, "get_conversation",
                      [&] { return api_.GetConversation(call->conversation_id); });
    if (conv.ok()) {
      const auto* status = conv->if_contains("status");
      const std::string s = status && status->is_string() ? std::string(status->as_string()) : "";
      if (s == "in-progress") {
        if (auto ch = store_.AdvanceStatus(call->id, "in_progress", "get_conversation"); ch.ok())
          hub_.Publish(*ch);
      }
    } else {
      spdlog::warn("refresh of {} failed: {}", call->conversation_id,
                   common::ToStd(conv.status().message()));
    }
  }
  auto loaded = store_.LoadConversation(call->id);
  if (!loaded.ok()) return loaded.status();
  resp->set_success(true);
  *resp->mutable_data() = *std::move(loaded);
  return absl::OkStatus();
}

absl::Status CallControl::GetConversationAudio(const v1::GetConversationAudioRequest& request,
                                               google::api::HttpBody* resp) {
  if (request.conversation_id().empty()) return absl::InvalidArgumentError("conversationId is required");
  auto call = KnownCall(request.conversation_id());
  if (!call.ok()) return call.status();
  auto audio = store_.LoadAudio(call->conversation_id);
  if (!audio.ok()) return audio.status();
  if (!audio->has_value()) {
    return absl::NotFoundError("no recording is stored for this call (SAVE_CALL_AUDIO, or not received yet)");
  }
  if ((*audio)->external) {
    return absl::FailedPreconditionError("this recording is kept in external storage, not in the database");
  }
  resp->set_content_type((*audio)->content_type);
  resp->set_data(std::move((*audio)->bytes));
  return absl::OkStatus();
}

absl::Status CallControl::EndCall(const v1::EndCallRequest& request, v1::EndCallResponse* resp) {
  const v1::EndCallRequest* req = &request;
  auto call = KnownCall(req->conversation_id());
  if (!call.ok()) return call.status();
  const CallRow& c = *call;
  if (IsFinalStatus(c.status)) {
    return absl::FailedPreconditionError(Cat("the call has already ended (", c.status, ")"));
  }
  if (!api_.twilio_configured()) {
    return absl::FailedPreconditionError(
        "no hang-up route is configured (TWILIO_ACCOUNT_SID and "
        "TWILIO_AUTH_TOKEN): the call was not ended");
  }
  if (c.call_sid.empty()) {
    return absl::FailedPreconditionError(
        "this call has no Twilio CallSid (SIP trunk, or not yet "
        "connected): it cannot be hung up through Twilio");
  }
  // An answered call is hung up (completed); one still ringing is canceled. Our record may lag
  // behind (answered but not yet seen): if Twilio says the cancel did not apply, hang up.
  auto update = [&](std::string_view status) {
    return Timed(metrics_, "twilio_update",
                 [&] { return api_.UpdateTwilioCall(c.call_sid, status); });
  };
  auto hung = update(c.status == "in_progress" ? "completed" : "canceled");
  if (hung.ok() && *hung == "in-progress") hung = update("completed");
  if (!hung.ok()) return hung.status();
  auto ch =
      store_.AdvanceStatus(c.id, "ended_manually", "end_call", std::string("ended by the clinic"));
  if (!ch.ok()) return ch.status();
  hub_.Publish(*ch);
  resp->set_success(true);
  resp->set_message("Llamada finalizada");
  auto* d = resp->mutable_data();
  d->set_success(true);
  d->set_conversation_id(c.conversation_id);
  d->set_call_id(c.call_id);
  d->set_status(ch->status);
  return absl::OkStatus();
}

absl::Status CallControl::EraseConversation(const v1::EraseConversationRequest& request,
                                            v1::EraseConversationResponse* resp) {
  const v1::EraseConversationRequest* req = &request;
  auto call = KnownCall(req->conversation_id());
  if (!call.ok()) return call.status();
  const CallRow& c = *call;
  if (!IsFinalStatus(c.status)) {
    return absl::FailedPreconditionError("the call is still live: end it before erasing its data");
  }
  if (!c.conversation_id.empty()) {
    auto del = Timed(metrics_, "delete_conversation",
                     [&] { return api_.DeleteConversation(c.conversation_id); });
    if (!del.ok() && del.status().code() != absl::StatusCode::kNotFound) return del.status();
  }
  if (auto s = store_.EraseData(c.id); !s.ok()) return s;
  spdlog::info("conversation data erased for call {}", c.call_id);
  resp->set_success(true);
  resp->set_message("Datos de la conversación eliminados");
  return absl::OkStatus();
}

absl::Status CallControl::ExportPatientData(const v1::ExportPatientDataRequest& request,
                                            v1::ExportPatientDataResponse* response) {
  if (auto s = PatientIdFromRequest(request.patient_id()); !s.ok()) return s;
  if (auto s = PatientDocument(store_, request.patient_id(), response->mutable_document()); !s.ok())
    return s;
  // Ids only: the document itself is the patient's data and is never logged.
  spdlog::info("access export for patient {}", request.patient_id());
  return absl::OkStatus();
}

}  // namespace outcall::call_gateway
