#include "gateway_service.h"

#include <google/protobuf/util/json_util.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <algorithm>
#include <boost/json.hpp>

#include "outcall/elevenlabs/event_mapping.h"
#include "outcall/common/crypto.h"
#include "outcall/common/logging.h"
#include "outcall/common/phone.h"
#include "outcall/common/status.h"
#include "outcall/common/strings.h"

namespace outcall::call_gateway {

namespace json = boost::json;
using common::Cat;
using common::ToGrpcStatus;

// ---------------------------------------------------------------------------------------------
// Metrics

class Metrics {
 public:
  explicit Metrics(prometheus::Registry* r) {
    if (r == nullptr) return;
    calls_ = &prometheus::BuildCounter()
                  .Name("outcall_calls_total")
                  .Help("InitiateCall/CallPatient outcomes")
                  .Register(*r);
    provider_ = &prometheus::BuildHistogram()
                     .Name("outcall_provider_request_seconds")
                     .Help("Latency of requests to ElevenLabs and Twilio")
                     .Register(*r);
    errors_ = &prometheus::BuildCounter()
                   .Name("outcall_provider_errors_total")
                   .Help("Failed requests to ElevenLabs and Twilio, by operation and code")
                   .Register(*r);
    events_ = &prometheus::BuildCounter()
                   .Name("outcall_call_events_total")
                   .Help("Webhook events applied, by type and outcome")
                   .Register(*r);
    audio_ = &prometheus::BuildCounter()
                  .Name("outcall_audio_recovery_total")
                  .Help(
                      "Recordings the reconciler looked for after their webhook was lost, by "
                      "outcome")
                  .Register(*r);
  }
  void Call(std::string_view outcome) {
    if (calls_) calls_->Add({{"outcome", std::string(outcome)}}).Increment();
  }
  void Provider(std::string_view op, absl::Duration d, const absl::Status& s) {
    if (!provider_) return;
    provider_
        ->Add({{"operation", std::string(op)}},
              prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30})
        .Observe(absl::ToDoubleSeconds(d));
    if (!s.ok()) {
      errors_->Add({{"operation", std::string(op)}, {"code", absl::StatusCodeToString(s.code())}})
          .Increment();
    }
  }
  // recovered, already_stored, erased, failed (backing off), gave_up, expired
  void Audio(std::string_view outcome) {
    if (audio_) audio_->Add({{"outcome", std::string(outcome)}}).Increment();
  }
  void Event(std::string_view type, std::string_view outcome) {
    if (events_)
      events_->Add({{"type", std::string(type)}, {"outcome", std::string(outcome)}}).Increment();
  }

 private:
  prometheus::Family<prometheus::Counter>* calls_ = nullptr;
  prometheus::Family<prometheus::Histogram>* provider_ = nullptr;
  prometheus::Family<prometheus::Counter>* errors_ = nullptr;
  prometheus::Family<prometheus::Counter>* events_ = nullptr;
  prometheus::Family<prometheus::Counter>* audio_ = nullptr;
};

namespace {

template <typename Fn>
auto Timed(Metrics& m, std::string_view op, Fn&& fn) {
  const absl::Time start = absl::Now();
  auto result = fn();
  if constexpr (std::is_same_v<decltype(result), absl::Status>) {
    m.Provider(op, absl::Now() - start, result);
  } else {
    m.Provider(op, absl::Now() - start, result.status());
  }
  return result;
}

bool IsFinal(std::string_view s) {
  return s == "completed" || s == "failed" || s == "no_answer" || s == "busy" ||
         s == "ended_manually" || s == "canceled";
}


// customVariables: values must be scalars (ElevenLabs' dynamic variables).
absl::Status CheckScalars(const google::protobuf::Struct& s, std::string_view field) {
  for (const auto& [k, v] : s.fields()) {
    if (v.has_struct_value() || v.has_list_value()) {
      return absl::InvalidArgumentError(
          Cat(field, ".", k, ": values must be strings, numbers or booleans"));
    }
    if (k.rfind("system__", 0) == 0) {
      return absl::InvalidArgumentError(
          Cat(field, ".", k, ": the system__ prefix is reserved by ElevenLabs"));
    }
  }
  return absl::OkStatus();
}

json::value ToJsonValue(const google::protobuf::Value& v) {
  if (v.has_string_value()) return json::value(v.string_value());
  if (v.has_bool_value()) return json::value(v.bool_value());
  if (v.has_number_value()) {
    const double d = v.number_value();
    if (d == static_cast<double>(static_cast<int64_t>(d)))
      return json::value(static_cast<int64_t>(d));
    return json::value(d);
  }
  return json::value(nullptr);
}

std::string MessageFor(const absl::Status& s) { return std::string(s.message()); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Watch hub

void CallEventHub::Publish(const StatusChange& ch) {
  v1::CallUpdate u;
  u.set_conversation_id(ch.conversation_id);
  u.set_call_id(ch.call_id);
  u.set_status(ch.status);
  u.set_previous_status(ch.previous_status);
  u.set_cause(ch.cause);
  u.mutable_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  absl::MutexLock lock(&mu_);
  recent_.emplace_back(next_++, std::move(u));
  while (recent_.size() > 1000) recent_.pop_front();
}

std::vector<v1::CallUpdate> CallEventHub::Wait(uint64_t* cursor, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  if (*cursor == 0) *cursor = next_ - 1;  // a new watcher starts from now
  auto newer = [&] { return !recent_.empty() && recent_.back().first > *cursor; };
  mu_.AwaitWithDeadline(absl::Condition(&newer), deadline);
  std::vector<v1::CallUpdate> out;
  for (const auto& [seq, u] : recent_) {
    if (seq > *cursor) {
      out.push_back(u);
      *cursor = seq;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

struct GatewayService::Dial {
  NewCall call;
  std::string principal;
  std::string idem_key;
  std::string request_sha256;
  json::object dynamic_variables;
};

GatewayService::GatewayService(GatewayOptions options, CallStore& store,
                               ElevenLabsClient& elevenlabs, const common::CallAuthenticator& auth,
                               prometheus::Registry* registry)
    : options_(std::move(options)),
      store_(store),
      elevenlabs_(elevenlabs),
      auth_(auth),
      metrics_(std::make_unique<Metrics>(registry)) {}

GatewayService::~GatewayService() { StopReconciler(); }

void GatewayService::Notify(const StatusChange& ch) {
  if (ch.status.empty() || ch.status == ch.previous_status) return;
  spdlog::info("call {} ({}): {} -> {} ({})", ch.call_id, ch.conversation_id, ch.previous_status,
               ch.status, ch.cause);
  hub_.Publish(ch);
}

void GatewayService::Notify(const std::vector<StatusChange>& changes) {
  for (const auto& c : changes) Notify(c);
}

void GatewayService::ApplyEarlyEvents(const std::string& conversation_id) {
  std::vector<StatusChange> replayed;
  if (auto s = store_.ReplayUnmatched(conversation_id, replayed); !s.ok()) {
    // Still kept in unmatched_call_events; the next replay for this conversation retries.
    spdlog::warn("replaying early events for {} failed: {}", conversation_id,
                 common::ToStd(s.message()));
  }
  Notify(replayed);
}

grpc::Status GatewayService::ListAgents(grpc::ServerContext* ctx, const v1::ListAgentsRequest*,
                                        v1::ListAgentsResponse* resp) {
  if (auto p = auth_.Check(ctx); !p.ok()) return ToGrpcStatus(p.status());
  std::vector<AgentInfo> agents;
  {
    absl::MutexLock lock(&agents_mu_);
    if (absl::Now() - agents_at_ < options_.agents_cache_ttl) agents = agents_;
  }
  if (agents.empty()) {
    auto fresh = Timed(*metrics_, "list_agents", [&] { return elevenlabs_.ListAgents(); });
    if (!fresh.ok()) return ToGrpcStatus(fresh.status());
    agents = *fresh;
    absl::MutexLock lock(&agents_mu_);
    agents_ = agents;
    agents_at_ = absl::Now();
  }
  resp->set_success(true);
  for (const auto& a : agents) {
    auto* out = resp->add_data();
    out->set_agent_id(a.agent_id);
    out->set_name(a.name);
    for (const auto& t : a.tags) out->add_tags(t);
  }
  resp->set_count(static_cast<int>(agents.size()));
  return grpc::Status::OK;
}

// The idempotency key from gRPC metadata ("idempotency-key"; Envoy forwards the HTTP header).
static std::string IdempotencyKey(const grpc::ServerContext* ctx) {
  auto it = ctx->client_metadata().find("idempotency-key");
  if (it == ctx->client_metadata().end()) return "";
  return std::string(it->second.data(), it->second.size());
}

grpc::Status GatewayService::InitiateCall(grpc::ServerContext* ctx,
                                          const v1::InitiateCallRequest* req,
                                          v1::InitiateCallResponse* resp) {
  auto principal = auth_.Check(ctx);
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  if (req->phone_number().empty())
    return ToGrpcStatus(absl::InvalidArgumentError("phoneNumber is required"));
  auto phone = common::NormalizePhone(req->phone_number(), options_.default_country_code);
  if (!phone.ok())
    return ToGrpcStatus(absl::InvalidArgumentError(Cat("phoneNumber: ", phone.status().message())));
  if (auto s = CheckScalars(req->custom_variables(), "customVariables"); !s.ok())
    return ToGrpcStatus(s);
  if (req->has_patient_id() && req->patient_id() <= 0) {
    return ToGrpcStatus(absl::InvalidArgumentError("patientId must be a positive integer"));
  }
  if (req->has_appointment_id() && req->appointment_id() <= 0) {
    return ToGrpcStatus(absl::InvalidArgumentError("appointmentId must be a positive integer"));
  }
  Dial dial;
  dial.principal = principal->subject;
  dial.idem_key = IdempotencyKey(ctx);
  if (dial.idem_key.size() > 255) {
    return ToGrpcStatus(
        absl::InvalidArgumentError("Idempotency-Key is longer than 255 characters"));
  }
  dial.request_sha256 = common::Sha256::Hex(req->SerializeAsString());
  NewCall& call = dial.call;
  call.agent_id = req->agent_id().empty() ? options_.default_agent_id : req->agent_id();
  call.agent_phone_number_id = options_.agent_phone_number_id;
  call.phone_number = *phone;
  call.patient_name = req->patient_name();
  call.max_duration_secs = options_.max_call_duration_secs;
  if (req->has_appointment_id()) call.appointment_id = req->appointment_id();
  if (req->has_patient_id()) {
    auto p = store_.FindPatient(req->patient_id());
    if (!p.ok()) return ToGrpcStatus(p.status());
    if (!p->has_value())
      return ToGrpcStatus(absl::NotFoundError(Cat("patient ", req->patient_id(), " not found")));
    call.patient_id = req->patient_id();
    if (call.patient_name.empty()) call.patient_name = (*p)->full_name;
  } else {
    auto p = store_.FindPatientByPhone(*phone);  // a known patient is linked by number
    if (!p.ok()) return ToGrpcStatus(p.status());
    if (p->has_value()) {
      call.patient_id = (*p)->id;
      if (call.patient_name.empty()) call.patient_name = (*p)->full_name;
    }
  }
  if (call.appointment_id) {
    auto owner = store_.AppointmentPatient(*call.appointment_id);
    if (!owner.ok()) return ToGrpcStatus(owner.status());
    if (!owner->has_value()) {
      return ToGrpcStatus(
          absl::NotFoundError(Cat("appointment ", *call.appointment_id, " not found")));
    }
    if (call.patient_id && **owner != *call.patient_id) {
      return ToGrpcStatus(absl::InvalidArgumentError(
          Cat("appointmentId ", *call.appointment_id, " belongs to another patient")));
    }
    if (!call.patient_id) call.patient_id = **owner;
  }
  call.custom_variables_json = req->has_custom_variables() ? MessageJson(req->custom_variables()) : "{}";
  call.metadata_json = req->has_metadata() ? MessageJson(req->metadata()) : "{}";
  for (const auto& [k, v] : req->custom_variables().fields())
    dial.dynamic_variables[k] = ToJsonValue(v);
  auto result = Place(dial);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *resp = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status GatewayService::CallPatient(grpc::ServerContext* ctx,
                                         const v1::CallPatientRequest* req,
                                         v1::InitiateCallResponse* resp) {
  auto principal = auth_.Check(ctx);
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  if (req->patient_id() <= 0)
    return ToGrpcStatus(absl::InvalidArgumentError("patientId must be a positive integer"));
  auto p = store_.FindPatient(req->patient_id());
  if (!p.ok()) return ToGrpcStatus(p.status());
  if (!p->has_value())
    return ToGrpcStatus(absl::NotFoundError(Cat("patient ", req->patient_id(), " not found")));
  const PatientRow& patient = **p;
  if (patient.phone_e164.empty()) {
    return ToGrpcStatus(
        absl::FailedPreconditionError(Cat("patient ", patient.id, " has no usable phone number")));
  }
  v1::InitiateCallRequest call;
  call.set_phone_number(patient.phone_e164);
  call.set_patient_id(patient.id);
  call.set_patient_name(patient.full_name);
  if (req->has_appointment_id()) call.set_appointment_id(req->appointment_id());
  call.set_agent_id(req->agent_id());
  *call.mutable_custom_variables() = req->custom_variables();
  *call.mutable_metadata() = req->metadata();
  return InitiateCall(ctx, &call, resp);
}

absl::StatusOr<v1::InitiateCallResponse> GatewayService::Place(Dial& dial) {
  NewCall& call = dial.call;
  auto opted_out = store_.IsOptedOut(call.phone_number, call.patient_id);
  if (!opted_out.ok()) return opted_out.status();
  if (*opted_out) {
    metrics_->Call("opted_out");
    return absl::FailedPreconditionError("the patient asked not to be called (opt-out)");
  }
  auto begun = store_.BeginCall(call, dial.principal, dial.idem_key, dial.request_sha256);
  if (!begun.ok()) {
    metrics_->Call(begun.status().code() == absl::StatusCode::kAlreadyExists ? "refused_duplicate"
                                                                             : "error");
    return begun.status();
  }
  if (begun->replay) {
    metrics_->Call("idempotent_replay");
    if (begun->replay->in_progress) {
      return absl::AbortedError(
          "a request with this Idempotency-Key is still being processed; retry shortly");
    }
    if (begun->replay->grpc_code != 0) {
      boost::system::error_code ec;
      json::value v = json::parse(begun->replay->response_json, ec);
      std::string message = !ec && v.is_object() && v.as_object().contains("message")
                                ? std::string(v.as_object().at("message").as_string())
                                : std::string("the first request with this Idempotency-Key failed");
      return absl::Status(static_cast<absl::StatusCode>(begun->replay->grpc_code), message);
    }
    v1::InitiateCallResponse replay;
    if (!google::protobuf::util::JsonStringToMessage(begun->replay->response_json, &replay).ok()) {
      return absl::InternalError("stored answer for this Idempotency-Key is unreadable");
    }
    return replay;
  }
  const CallRow row = *begun->call;
  OutboundCall out{call.agent_id, call.agent_phone_number_id, call.phone_number,
                   row.call_id,   dial.dynamic_variables,     call.max_duration_secs};
  out.dynamic_variables["call_id"] = row.call_id;
  if (!call.patient_name.empty()) out.dynamic_variables["patient_name"] = call.patient_name;
  if (call.appointment_id)
    out.dynamic_variables["appointment_id"] = std::to_string(*call.appointment_id);
  if (call.patient_id) out.dynamic_variables["patient_id"] = std::to_string(*call.patient_id);
  spdlog::info("placing call {} to {} (agent {})", row.call_id,
               common::MaskPhone(call.phone_number), call.agent_id);
  auto placed = Timed(*metrics_, "outbound_call", [&] { return elevenlabs_.PlaceTwilioCall(out); });

  absl::StatusOr<v1::InitiateCallResponse> answer;
  // False while the call is left "dialing" for the reconciler: its key then stays in_progress
  // (a retry with it hears "still being processed") until the reconciler settles the call and,
  // in the same transaction, the key (CallStore::MarkInitiated, MarkFailed).
  bool settled = true;
  if (placed.ok()) {
    auto ch =
        store_.MarkInitiated(row.id, placed->conversation_id, placed->call_sid, "outbound_call");
    if (!ch.ok()) {
      // ElevenLabs has the call; our record stays "dialing" and the reconciler will find it by
      // call id. The client must not dial again: say the outcome is being settled.
      spdlog::error("call {} placed but not recorded: {}", row.call_id,
                    common::ToStd(ch.status().message()));
      settled = false;
      answer = absl::UnavailableError(
          Cat("call ", row.call_id,
              " was placed but could not be recorded yet; it will be reconciled"));
    } else {
      Notify(*ch);
      ApplyEarlyEvents(placed->conversation_id);
      metrics_->Call("initiated");
      answer = InitiatedResponse(placed->conversation_id, row.call_id);
    }
  } else {
    auto failure = GetProviderFailure(placed.status());
    const bool unknown = failure && failure->maybe_delivered;
    if (unknown) {
      // The request may have placed the call: look for it before anything else happens.
      auto settled_call = Reconcile(row, "outbound_call_reconciled", placed.status());
      if (settled_call.ok() && settled_call->status == "initiated") {
        metrics_->Call("initiated_after_reconcile");
        answer = InitiatedResponse(settled_call->conversation_id, row.call_id);
      } else if (settled_call.ok() && settled_call->status == "dialing") {
        metrics_->Call("unknown");
        settled = false;
        answer = absl::UnavailableError(
            Cat("call ", row.call_id,
                ": ElevenLabs did not answer and the outcome is not known yet; it will be "
                "reconciled (do not place it again): ",
                placed.status().message()));
      } else {
        metrics_->Call("provider_error");
        settled = settled_call.ok();  // not recorded: still "dialing", for the reconciler
        answer = placed.status();
      }
    } else {
      ProviderErrorRecord e{"provider", failure ? failure->code : "",
                            failure ? failure->http_status : 0,
                            std::string(placed.status().message())};
      auto ch = store_.MarkFailed(row.id, e, "outbound_call", placed.status());
      if (ch.ok()) Notify(*ch);
      metrics_->Call("provider_error");
      answer = placed.status();
    }
  }
  // Remember the answer for this key (a retry with the same key and body gets it again).
  if (!dial.idem_key.empty() && settled) {
    const int code = static_cast<int>(answer.status().code());
    const std::string body =
        answer.ok() ? MessageJson(*answer)
                    : json::serialize(json::object{{"message", MessageFor(answer.status())}});
    if (auto s = store_.FinishKey(dial.principal, dial.idem_key, row.id, code, body); !s.ok()) {
      spdlog::warn("idempotency answer not stored: {}", common::ToStd(s.message()));
    }
  }
  return answer;
}

absl::StatusOr<StatusChange> GatewayService::Reconcile(const CallRow& call,
                                                       std::string_view cause,
                                                       const absl::Status& not_placed_answer) {
  if (call.status == "dialing") {
    const int64_t after =
        (call.dial_attempted_unix > 0 ? call.dial_attempted_unix : call.created_unix) - 120;
    auto found = Timed(*metrics_, "list_conversations", [&] {
      return elevenlabs_.FindByUserId(call.call_id, call.agent_id, after);
    });
    if (!found.ok()) {
      StatusChange unchanged{call.conversation_id, call.call_id, "dialing", "dialing",
                             std::string(cause)};
      return unchanged;  // still unknown: the reconciler tries again later
    }
    if (!found->empty()) {
      auto ch = store_.MarkInitiated(call.id, found->front().conversation_id, "", cause);
      if (ch.ok()) {
        Notify(*ch);
        ApplyEarlyEvents(found->front().conversation_id);
      }
      return ch;
    }
    auto ch = store_.MarkFailed(
        call.id,
        {"reconciler", "not_placed", 0,
         "ElevenLabs has no conversation for this call: it was not placed"},
        cause,
        !not_placed_answer.ok()
            ? not_placed_answer
            : absl::UnavailableError(Cat("call ", call.call_id,
                                         " was not placed (ElevenLabs has no conversation for "
                                         "it); use a new Idempotency-Key to place it again")));
    if (ch.ok()) Notify(*ch);
    return ch;
  }
  // An open call past its maximum duration: ask ElevenLabs how it ended.
  auto conv = Timed(*metrics_, "get_conversation",
                    [&] { return elevenlabs_.GetConversation(call.conversation_id); });
  if (!conv.ok()) return conv.status();
  const auto* status = conv->if_contains("status");
  const std::string s = status && status->is_string() ? std::string(status->as_string()) : "";
  const StatusChange unchanged{call.conversation_id, call.call_id, call.status, call.status,
                               std::string(cause)};
  if (s == "done") {
    // Its post_call_transcription webhook was lost (or is late). The conversation carries the
    // same model as that webhook's data, so it goes through the same mapping and the same
    // transaction: transcript, analysis, cost, the appointment's answer, an opt-out. The
    // webhook, if it comes after all, is then a duplicate.
    auto ev = elevenlabs::MapInboxEvent(
        0, elevenlabs::kTranscription, call.conversation_id, std::nullopt,
        Cat(R"({"type":"post_call_transcription","data":)", boost::json::serialize(*conv), "}"));
    if (!ev.ok()) return ev.status();
    std::vector<StatusChange> changes;
    auto applied = store_.ApplyEvent(*ev, changes);
    if (!applied.ok()) return applied.status();
    for (auto& ch : changes) ch.cause = std::string(cause);
    Notify(changes);
    return changes.empty() ? unchanged : changes.back();
  }
  std::string to;
  if (s == "failed")
    to = "failed";
  else if (s == "in-progress")
    to = "in_progress";
  // "processing": the call is over and ElevenLabs is still analysing it; the webhook (or the
  // next pass) brings the analysis with the transcript.
  if (to.empty()) return unchanged;
  auto ch = store_.AdvanceStatus(call.id, to, cause);
  if (ch.ok()) Notify(*ch);
  return ch;
}

absl::StatusOr<CallRow> GatewayService::KnownCall(const std::string& id) {
  auto call = store_.FindCall(id);
  if (!call.ok()) return call.status();
  // The id is the caller's: it may be a phone number typed in the wrong field. Masked (ids and
  // UUIDs stay readable).
  if (!call->has_value()) {
    return absl::NotFoundError(Cat("conversation ", common::RedactPhones(id), " not found"));
  }
  return **std::move(call);
}

grpc::Status GatewayService::GetConversation(grpc::ServerContext* ctx,
                                             const v1::GetConversationRequest* req,
                                             v1::GetConversationResponse* resp) {
  if (auto p = auth_.Check(ctx); !p.ok()) return ToGrpcStatus(p.status());
  if (req->conversation_id().empty())
    return ToGrpcStatus(absl::InvalidArgumentError("conversationId is required"));
  auto call = KnownCall(req->conversation_id());
  if (!call.ok()) return ToGrpcStatus(call.status());
  // While not final, refresh the status from ElevenLabs (webhooks bring the details).
  if (!IsFinal(call->status) && !call->conversation_id.empty()) {
    auto conv = Timed(*metrics_, "get_conversation",
                      [&] { return elevenlabs_.GetConversation(call->conversation_id); });
    if (conv.ok()) {
      const auto* status = conv->if_contains("status");
      const std::string s = status && status->is_string() ? std::string(status->as_string()) : "";
      if (s == "in-progress") {
        if (auto ch = store_.AdvanceStatus(call->id, "in_progress", "get_conversation"); ch.ok())
          Notify(*ch);
      }
    } else {
      spdlog::warn("refresh of {} failed: {}", call->conversation_id,
                   common::ToStd(conv.status().message()));
    }
  }
  auto loaded = store_.LoadConversation(call->id);
  if (!loaded.ok()) return ToGrpcStatus(loaded.status());
  resp->set_success(true);
  *resp->mutable_data() = *std::move(loaded);
  return grpc::Status::OK;
}

grpc::Status GatewayService::EndCall(grpc::ServerContext* ctx, const v1::EndCallRequest* req,
                                     v1::EndCallResponse* resp) {
  if (auto p = auth_.Check(ctx); !p.ok()) return ToGrpcStatus(p.status());
  auto call = KnownCall(req->conversation_id());
  if (!call.ok()) return ToGrpcStatus(call.status());
  const CallRow& c = *call;
  if (IsFinal(c.status)) {
    return ToGrpcStatus(
        absl::FailedPreconditionError(Cat("the call has already ended (", c.status, ")")));
  }
  if (!elevenlabs_.twilio_configured()) {
    return ToGrpcStatus(
        absl::FailedPreconditionError("no hang-up route is configured (TWILIO_ACCOUNT_SID and "
                                      "TWILIO_AUTH_TOKEN): the call was not ended"));
  }
  if (c.call_sid.empty()) {
    return ToGrpcStatus(
        absl::FailedPreconditionError("this call has no Twilio CallSid (SIP trunk, or not yet "
                                      "connected): it cannot be hung up through Twilio"));
  }
  // An answered call is hung up (completed); one still ringing is canceled. Our record may lag
  // behind (answered but not yet seen): if Twilio says the cancel did not apply, hang up.
  auto update = [&](std::string_view status) {
    return Timed(*metrics_, "twilio_update",
                 [&] { return elevenlabs_.UpdateTwilioCall(c.call_sid, status); });
  };
  auto hung = update(c.status == "in_progress" ? "completed" : "canceled");
  if (hung.ok() && *hung == "in-progress") hung = update("completed");
  if (!hung.ok()) return ToGrpcStatus(hung.status());
  auto ch =
      store_.AdvanceStatus(c.id, "ended_manually", "end_call", std::string("ended by the clinic"));
  if (!ch.ok()) return ToGrpcStatus(ch.status());
  Notify(*ch);
  resp->set_success(true);
  resp->set_message("Llamada finalizada");
  auto* d = resp->mutable_data();
  d->set_success(true);
  d->set_conversation_id(c.conversation_id);
  d->set_call_id(c.call_id);
  d->set_status(ch->status);
  return grpc::Status::OK;
}

grpc::Status GatewayService::EraseConversation(grpc::ServerContext* ctx,
                                               const v1::EraseConversationRequest* req,
                                               v1::EraseConversationResponse* resp) {
  if (auto p = auth_.Check(ctx); !p.ok()) return ToGrpcStatus(p.status());
  auto call = KnownCall(req->conversation_id());
  if (!call.ok()) return ToGrpcStatus(call.status());
  const CallRow& c = *call;
  if (!IsFinal(c.status)) {
    return ToGrpcStatus(
        absl::FailedPreconditionError("the call is still live: end it before erasing its data"));
  }
  if (!c.conversation_id.empty()) {
    auto del = Timed(*metrics_, "delete_conversation",
                     [&] { return elevenlabs_.DeleteConversation(c.conversation_id); });
    if (!del.ok() && del.code() != absl::StatusCode::kNotFound) return ToGrpcStatus(del);
  }
  if (auto s = store_.EraseData(c.id); !s.ok()) return ToGrpcStatus(s);
  spdlog::info("conversation data erased for call {}", c.call_id);
  resp->set_success(true);
  resp->set_message("Datos de la conversación eliminados");
  return grpc::Status::OK;
}

grpc::Status GatewayService::WatchCallEvents(grpc::ServerContext* ctx,
                                             const v1::WatchCallEventsRequest* req,
                                             grpc::ServerWriter<v1::CallUpdate>* writer) {
  if (auto p = auth_.Check(ctx); !p.ok()) return ToGrpcStatus(p.status());
  uint64_t cursor = 0;
  while (!ctx->IsCancelled()) {
    for (const auto& u : hub_.Wait(&cursor, absl::Now() + absl::Milliseconds(500))) {
      if (!req->conversation_id().empty() && u.conversation_id() != req->conversation_id() &&
          u.call_id() != req->conversation_id()) {
        continue;
      }
      if (!writer->Write(u)) return grpc::Status::OK;
    }
  }
  return grpc::Status::OK;
}

grpc::Status GatewayService::ApplyEvents(grpc::ServerContext* ctx,
                                         const v1::ApplyEventsRequest* req,
                                         v1::ApplyEventsResponse* resp) {
  if (auto p = auth_.Check(ctx); !p.ok()) return ToGrpcStatus(p.status());
  std::vector<v1::ApplyOutcome> outcomes;
  std::vector<StatusChange> changes;
  std::map<int, std::string> rejected;
  const absl::Status applied = store_.ApplyEvents(req->events(), outcomes, changes, rejected);
  Notify(changes);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const auto& ev = req->events(static_cast<int>(i));
    metrics_->Event(v1::EventType_Name(ev.type()), v1::ApplyOutcome_Name(outcomes[i]));
    auto* r = resp->add_results();
    r->set_inbox_id(ev.inbox_id());
    r->set_outcome(outcomes[i]);
    if (auto it = rejected.find(static_cast<int>(i)); it != rejected.end()) {
      r->set_reason(it->second);
      spdlog::warn("event {} ({}, conversation {}) cannot be applied: {}", ev.inbox_id(),
                   v1::EventType_Name(ev.type()), ev.conversation_id(), it->second);
    }
  }
  // Events are applied in order: the first that could not be ends the answer, and the publisher
  // retries from there. Those before it stay acknowledged.
  if (!applied.ok() && outcomes.empty()) return ToGrpcStatus(applied);
  if (!applied.ok()) {
    spdlog::warn("event {} not applied, {} before it were: {}",
                 req->events(static_cast<int>(outcomes.size())).inbox_id(), outcomes.size(),
                 common::ToStd(applied.message()));
  }
  return grpc::Status::OK;
}

absl::Status GatewayService::ReconcileOnce() {
  const absl::Status calls = ReconcileCalls();
  const absl::Status audio = options_.save_call_audio ? RecoverAudio() : absl::OkStatus();
  return calls.ok() ? audio : calls;
}

absl::Status GatewayService::ReconcileCalls() {
  auto calls = store_.CallsToReconcile(options_.dialing_grace_secs, options_.open_grace_secs,
                                       options_.reconcile_batch);
  if (!calls.ok()) return calls.status();
  for (const auto& c : *calls) {
    auto r = Reconcile(c, "reconciler");
    if (r.ok() && IsFinal(r->status)) {
      if (auto s = store_.ForgetReconcileState(c.id); !s.ok()) {
        spdlog::warn("reconciler: state of call {} not cleared: {}", c.call_id,
                     common::ToStd(s.message()));
      }
      continue;
    }
    // Not settled (still unknown, still processing, or the try failed): the call backs off, and
    // the others are tried first next time.
    const bool not_found = !r.ok() && r.status().code() == absl::StatusCode::kNotFound;
    const std::string error = r.ok() ? std::string() : std::string(common::ToStd(r.status().message()));
    auto definite = store_.RecordReconcileTry(c.id, not_found, error, options_.reconcile_every,
                                              options_.reconcile_max_backoff);
    if (!definite.ok()) {
      spdlog::warn("reconciler: try of call {} not recorded: {}", c.call_id,
                   common::ToStd(definite.status().message()));
      continue;
    }
    if (not_found && *definite >= options_.reconcile_max_not_found) {
      // ElevenLabs keeps saying it does not know the conversation: a final state with the
      // reason, so the call stops blocking its patient ("already live") and the reconciler.
      const std::string why = Cat("ElevenLabs answered 404 for the conversation ", *definite,
                                  " times; the reconciler gave up");
      auto ch = store_.MarkFailed(c.id, {"reconciler", "not_found", 404, why}, "reconciler_gave_up",
                                  absl::OkStatus());
      if (ch.ok()) {
        Notify(*ch);
        (void)store_.ForgetReconcileState(c.id);
        metrics_->Call("reconciler_gave_up");
        spdlog::warn("reconciler: call {} failed: {}", c.call_id, why);
      }
    } else if (!r.ok()) {
      // Once per try of this call, and tries back off: no longer a line per call every pass.
      spdlog::warn("reconcile of call {} failed (try recorded, backing off): {}", c.call_id, error);
    }
  }
  return absl::OkStatus();
}

absl::Status GatewayService::RecoverAudio() {
  // Needs past their window are given up first (their last error is kept as the reason).
  auto stale = store_.GiveUpStaleAudioNeeds(options_.audio_max_age);
  if (!stale.ok()) return stale.status();
  for (const auto& n : *stale) {
    metrics_->Audio("expired");
    spdlog::warn("reconciler: recording of call {} ({}) given up: none fetched within {}",
                 n.call_id, n.conversation_id, absl::FormatDuration(options_.audio_max_age));
  }
  // Claimed until the slowest download of the batch could end: another replica passes them by.
  const absl::Duration lease =
      std::max(options_.reconcile_max_backoff, options_.audio_timeout * options_.audio_batch);
  auto due = store_.ClaimAudioNeeds(options_.audio_grace_secs, options_.audio_batch, lease);
  if (!due.ok()) return due.status();
  for (const auto& n : *due) {
    if (n.stored || n.erased) {
      // The webhook's recording came after all, or the patient's data was erased: nothing to
      // fetch (and nothing erased may come back).
      metrics_->Audio(n.stored ? "already_stored" : "erased");
      if (auto s = store_.ForgetAudioNeed(n.row); !s.ok()) {
        spdlog::warn("reconciler: recording need of call {} not cleared: {}", n.call_id,
                     common::ToStd(s.message()));
      }
      continue;
    }
    auto audio = Timed(*metrics_, "get_conversation_audio", [&] {
      return elevenlabs_.GetConversationAudio(n.conversation_id, options_.audio_max_bytes,
                                              options_.audio_timeout);
    });
    absl::Status failed = audio.status();
    if (audio.ok()) {
      auto stored =
          store_.StoreRecoveredAudio(n.row, n.conversation_id, audio->content_type, audio->bytes);
      if (stored.ok()) {
        switch (*stored) {
          case CallStore::RecoveredAudio::kStored:
            metrics_->Audio("recovered");
            spdlog::info(
                "reconciler: recording of call {} ({}) recovered from ElevenLabs: {} "
                "bytes, {}",
                n.call_id, n.conversation_id, audio->bytes.size(), audio->content_type);
            break;
          case CallStore::RecoveredAudio::kAlreadyStored:
            metrics_->Audio("already_stored");
            break;
          case CallStore::RecoveredAudio::kErased:
            metrics_->Audio("erased");
            break;
        }
        continue;
      }
      failed = stored.status();
    }
    // Not stored: the call backs off. A 404 (ElevenLabs has no audio for it) or a recording over
    // the bound will not change: after reconcile_max_not_found of those the need is given up.
    const auto f = GetProviderFailure(failed);
    const bool not_found = failed.code() == absl::StatusCode::kNotFound;
    const bool too_large = f && f->code == "too_large";
    const std::string error(common::ToStd(failed.message()));
    const ProviderErrorRecord record{
        "reconciler",
        not_found ? "audio_not_found" : (too_large ? "audio_too_large" : "audio_unavailable"),
        f ? f->http_status : 0, error};
    auto tried =
        store_.RecordAudioTry(n.row, not_found || too_large, record, options_.reconcile_every,
                              options_.reconcile_max_backoff, options_.reconcile_max_not_found);
    if (!tried.ok()) {
      spdlog::warn("reconciler: try of the recording of call {} not recorded: {}", n.call_id,
                   common::ToStd(tried.status().message()));
    } else if (tried->gave_up) {
      metrics_->Audio("gave_up");
      spdlog::warn("reconciler: recording of call {} ({}) given up after {} definite answers: {}",
                   n.call_id, n.conversation_id, tried->not_found, error);
    } else {
      metrics_->Audio("failed");
      // Once per try of this call, and tries back off.
      spdlog::warn("recording of call {} ({}) not recovered (try recorded, backing off): {}",
                   n.call_id, n.conversation_id, error);
    }
  }
  return absl::OkStatus();
}

void GatewayService::StartReconciler() {
  reconciler_ = std::thread([this] {
    absl::MutexLock lock(&reconciler_mu_);
    while (!reconciler_stop_) {
      reconciler_mu_.Unlock();
      if (auto s = ReconcileOnce(); !s.ok())
        spdlog::warn("reconciler: {}", common::ToStd(s.message()));
      reconciler_mu_.Lock();
      reconciler_mu_.AwaitWithTimeout(absl::Condition(&reconciler_stop_), options_.reconcile_every);
    }
  });
}

void GatewayService::StopReconciler() {
  {
    absl::MutexLock lock(&reconciler_mu_);
    reconciler_stop_ = true;
  }
  if (reconciler_.joinable()) reconciler_.join();
}

}  // namespace outcall::call_gateway
