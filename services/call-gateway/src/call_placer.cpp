#include "call_placer.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "outcall/common/crypto.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"

namespace outcall::call_gateway {

namespace json = boost::json;
using common::Cat;
using elevenlabs::OutboundCall;

namespace {

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

// The bytes an Idempotency-Key's request hash covers. Map fields (the Structs' fields) serialise
// in their iteration order, which protobuf seeds per map instance: a retry, parsed into a new
// message, would hash differently and be refused as "another request". Deterministic
// serialisation orders map entries by key.
static std::string CanonicalBytes(const google::protobuf::Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }  // the coded stream flushes into `out` when it goes
  return out;
}

std::string RequestSha256(const google::protobuf::Message& m) {
  return common::Sha256::Hex(CanonicalBytes(m));
}

struct CallPlacer::Dial {
  NewCall call;
  policy::Purpose purpose = policy::Purpose::kConfirmation;
  std::string override_reason;  // checked: the caller may override
  std::string principal;
  std::string idem_key;
  std::string request_sha256;
  json::object dynamic_variables;
  AttemptPlacement* attempt = nullptr;  // a campaign's attempt: what happened, for the dispatcher
  const ProfileRef* profile = nullptr;   // a campaign's own contact-policy profile
};

CallPlacer::CallPlacer(PlacerOptions options, CallRepository& store,
                       const elevenlabs::ElevenLabsApi& api, ContactPolicy& policy,
                       const common::Clock& clock, GatewayMetrics& metrics, CallEventHub& hub)
    : options_(std::move(options)),
      store_(store),
      api_(api),
      policy_(policy),
      clock_(clock),
      metrics_(metrics),
      hub_(hub) {}

void CallPlacer::ApplyEarlyEvents(const std::string& conversation_id) {
  std::vector<StatusChange> replayed;
  if (auto s = store_.ReplayUnmatched(conversation_id, replayed); !s.ok()) {
    // Still kept in unmatched_call_events; the next replay for this conversation retries.
    spdlog::warn("replaying early events for {} failed: {}", conversation_id,
                 common::ToStd(s.message()));
  }
  hub_.Publish(replayed);
}

absl::StatusOr<v1::InitiateCallResponse> CallPlacer::InitiateCall(
    const std::string& principal, const std::string& idem_key,
    const v1::InitiateCallRequest& request, bool may_override) {
  const v1::InitiateCallRequest* req = &request;
  if (req->phone_number().empty()) return absl::InvalidArgumentError("phoneNumber is required");
  auto phone = PhoneFromRequest(req->phone_number(), options_.default_country_code);
  if (!phone.ok()) return phone.status();
  if (auto s = CheckScalars(req->custom_variables(), "customVariables"); !s.ok()) return s;
  if (req->has_patient_id() && req->patient_id() <= 0) {
    return absl::InvalidArgumentError("patientId must be a positive integer");
  }
  if (req->has_appointment_id() && req->appointment_id() <= 0) {
    return absl::InvalidArgumentError("appointmentId must be a positive integer");
  }
  auto purpose = PurposeFromRequest(req->purpose());
  if (!purpose.ok()) return purpose.status();
  if (!req->policy_override_reason().empty()) {
    if (!may_override) {
      return absl::PermissionDeniedError(
          "policyOverrideReason needs the policy:override permission");
    }
    if (req->policy_override_reason().size() > 500) {
      return absl::InvalidArgumentError("policyOverrideReason is longer than 500 characters");
    }
  }
  Dial dial;
  dial.purpose = *purpose;
  dial.override_reason = req->policy_override_reason();
  dial.principal = principal;
  dial.idem_key = idem_key;
  if (dial.idem_key.size() > 255) {
    return absl::InvalidArgumentError("Idempotency-Key is longer than 255 characters");
  }
  dial.request_sha256 = RequestSha256(*req);
  NewCall& call = dial.call;
  call.agent_id = req->agent_id().empty() ? options_.default_agent_id : req->agent_id();
  call.agent_phone_number_id = options_.agent_phone_number_id;
  call.phone_number = *phone;
  call.patient_name = req->patient_name();
  call.max_duration_secs = options_.max_call_duration_secs;
  call.purpose = std::string(policy::PurposeName(dial.purpose));
  if (req->has_appointment_id()) call.appointment_id = req->appointment_id();
  if (req->has_patient_id()) {
    auto p = KnownPatient(store_, req->patient_id());
    if (!p.ok()) return p.status();
    call.patient_id = req->patient_id();
    if (call.patient_name.empty()) call.patient_name = p->full_name;
  } else {
    auto p = store_.FindPatientByPhone(*phone);  // a known patient is linked by number
    if (!p.ok()) return p.status();
    if (p->has_value()) {
      call.patient_id = (*p)->id;
      if (call.patient_name.empty()) call.patient_name = (*p)->full_name;
    }
  }
  if (call.appointment_id) {
    auto owner = store_.AppointmentPatient(*call.appointment_id);
    if (!owner.ok()) return owner.status();
    if (!owner->has_value()) {
      return absl::NotFoundError(Cat("appointment ", *call.appointment_id, " not found"));
    }
    if (call.patient_id && **owner != *call.patient_id) {
      return absl::InvalidArgumentError(
          Cat("appointmentId ", *call.appointment_id, " belongs to another patient"));
    }
    if (!call.patient_id) call.patient_id = **owner;
  }
  call.custom_variables_json =
      req->has_custom_variables() ? MessageJson(req->custom_variables()) : "{}";
  call.metadata_json = req->has_metadata() ? MessageJson(req->metadata()) : "{}";
  for (const auto& [k, v] : req->custom_variables().fields())
    dial.dynamic_variables[k] = ToJsonValue(v);
  return Place(dial);
}

absl::StatusOr<v1::InitiateCallResponse> CallPlacer::CallPatient(
    const std::string& principal, const std::string& idem_key,
    const v1::CallPatientRequest& request, bool may_override) {
  const v1::CallPatientRequest* req = &request;
  if (auto s = PatientIdFromRequest(req->patient_id()); !s.ok()) return s;
  auto p = KnownPatient(store_, req->patient_id());
  if (!p.ok()) return p.status();
  const PatientRow& patient = *p;
  if (patient.phone_e164.empty()) {
    return absl::FailedPreconditionError(
        Cat("patient ", patient.id, " has no usable phone number"));
  }
  v1::InitiateCallRequest call;
  call.set_phone_number(patient.phone_e164);
  call.set_patient_id(patient.id);
  call.set_patient_name(patient.full_name);
  if (req->has_appointment_id()) call.set_appointment_id(req->appointment_id());
  call.set_agent_id(req->agent_id());
  *call.mutable_custom_variables() = req->custom_variables();
  *call.mutable_metadata() = req->metadata();
  call.set_purpose(req->purpose());
  call.set_policy_override_reason(req->policy_override_reason());
  return InitiateCall(principal, idem_key, call, may_override);
}

AttemptPlacement CallPlacer::PlaceAttempt(const AttemptDial& a) {
  AttemptPlacement out;
  auto purpose = PurposeFromRequest(a.purpose);
  if (!purpose.ok()) {
    out.status = purpose.status();
    return out;
  }
  if (auto s = CheckScalars(a.variables, "variables"); !s.ok()) {
    out.status = s;
    return out;
  }
  Dial dial;
  dial.purpose = *purpose;
  dial.principal = a.principal;
  dial.attempt = &out;
  if (a.profile) dial.profile = &*a.profile;
  NewCall& call = dial.call;
  call.agent_id = a.agent_id.empty() ? options_.default_agent_id : a.agent_id;
  call.agent_phone_number_id = options_.agent_phone_number_id;
  call.phone_number = a.phone_e164;
  call.patient_id = a.patient_id;
  call.appointment_id = a.appointment_id;
  call.patient_name = a.patient_name;
  call.max_duration_secs = options_.max_call_duration_secs;
  call.purpose = std::string(policy::PurposeName(dial.purpose));
  call.custom_variables_json = MessageJson(a.variables);
  call.metadata_json = a.metadata_json;
  call.attempt = a.attempt;
  for (const auto& [k, v] : a.variables.fields()) dial.dynamic_variables[k] = ToJsonValue(v);
  if (!call.patient_id) {
    auto p = store_.FindPatientByPhone(a.phone_e164);  // a known patient is linked by number
    if (!p.ok()) {
      out.kind = AttemptPlacement::Kind::kRetryLater;
      out.status = p.status();
      return out;
    }
    if (p->has_value()) {
      call.patient_id = (*p)->id;
      if (call.patient_name.empty()) call.patient_name = (*p)->full_name;
    }
  }
  auto placed = Place(dial);
  out.status = placed.status();
  using Kind = AttemptPlacement::Kind;
  if (out.back_pressure) {
    out.kind = Kind::kBackPressure;
  } else if (out.call_row) {
    out.kind = Kind::kPlaced;
  } else if (!out.rule.empty()) {
    out.kind = Kind::kRefused;
  } else {
    switch (out.status.code()) {
      case absl::StatusCode::kAlreadyExists:  // a live call to the number for the appointment
      case absl::StatusCode::kUnavailable:
      case absl::StatusCode::kDeadlineExceeded:
      case absl::StatusCode::kAborted:
      case absl::StatusCode::kInternal:
      case absl::StatusCode::kResourceExhausted:
        out.kind = Kind::kRetryLater;
        break;
      default:
        out.kind = Kind::kInvalid;
    }
  }
  return out;
}

absl::StatusOr<v1::ContactPolicyDecision> CallPlacer::CheckContactPolicy(
    const v1::CheckContactPolicyRequest& req) {
  auto purpose = PurposeFromRequest(req.purpose());
  if (!purpose.ok()) return purpose.status();
  auto channel = ChannelFromRequest(req.channel());
  if (!channel.ok()) return channel.status();
  PolicySubject subject;
  if (req.has_patient_id()) {
    if (auto s = PatientIdFromRequest(req.patient_id()); !s.ok()) return s;
    auto p = KnownPatient(store_, req.patient_id());
    if (!p.ok()) return p.status();
    subject.patient_id = req.patient_id();
    subject.phone_e164 = p->phone_e164;
  } else {
    if (req.phone_number().empty())
      return absl::InvalidArgumentError("patientId or phoneNumber is required");
    auto phone = PhoneFromRequest(req.phone_number(), options_.default_country_code);
    if (!phone.ok()) return phone.status();
    subject.phone_e164 = *phone;
    auto p = store_.FindPatientByPhone(*phone);  // as a dial links it
    if (!p.ok()) return p.status();
    if (p->has_value()) subject.patient_id = (*p)->id;
  }
  absl::Time at = clock_.Now();
  if (req.has_at()) {
    auto given = InstantFromRequest(req.at(), "at");
    if (!given.ok()) return given.status();
    at = *given;
  }
  auto outcome = policy_.Decide(subject, *purpose, *channel, at);
  if (!outcome.ok()) return outcome.status();
  const policy::Decision& d = outcome->decision;
  v1::ContactPolicyDecision out;
  out.set_allowed(d.allowed);
  out.set_rule(d.rule);
  out.set_message(d.message);
  if (d.next_allowed_at) {
    out.mutable_next_allowed_at()->set_seconds(absl::ToUnixSeconds(*d.next_allowed_at));
  }
  out.set_time_zone(outcome->time_zone);
  out.set_profile_id(d.profile_id);
  out.set_profile_version(d.profile_version);
  return out;
}

absl::StatusOr<v1::InitiateCallResponse> CallPlacer::Replay(const IdempotencyHit& hit) {
  metrics_.Call("idempotent_replay");
  if (hit.in_progress) {
    return absl::AbortedError(
        "a request with this Idempotency-Key is still being processed; retry shortly");
  }
  if (hit.grpc_code != 0) {
    boost::system::error_code ec;
    json::value v = json::parse(hit.response_json, ec);
    std::string message = !ec && v.is_object() && v.as_object().contains("message")
                              ? std::string(v.as_object().at("message").as_string())
                              : std::string("the first request with this Idempotency-Key failed");
    return absl::Status(static_cast<absl::StatusCode>(hit.grpc_code), message);
  }
  v1::InitiateCallResponse replay;
  if (!google::protobuf::util::JsonStringToMessage(hit.response_json, &replay).ok()) {
    return absl::InternalError("stored answer for this Idempotency-Key is unreadable");
  }
  return replay;
}

absl::StatusOr<v1::InitiateCallResponse> CallPlacer::Refuse(const Dial& dial,
                                                            const absl::Status& refusal) {
  // A retry of a request that was placed before the refusal came to apply (the patient opted
  // out since, the window closed) gets its first answer: a key's answer never changes.
  auto hit = store_.FindKey(dial.principal, dial.idem_key, dial.request_sha256);
  if (!hit.ok()) return hit.status();
  if (hit->has_value()) return Replay(**hit);
  return refusal;
}

absl::StatusOr<v1::InitiateCallResponse> CallPlacer::Place(Dial& dial) {
  NewCall& call = dial.call;
  auto opted_out = store_.IsOptedOut(call.phone_number, call.patient_id);
  if (!opted_out.ok()) return opted_out.status();
  if (*opted_out) {
    metrics_.Call("opted_out");
    if (dial.attempt) dial.attempt->rule = "opt_out";
    return Refuse(dial,
                  absl::FailedPreconditionError("the patient asked not to be called (opt-out)"));
  }
  // The contact policy, immediately before the dial: refused -> nothing is placed, the decision
  // is stored; allowed -> the decision goes in with the call (BeginCall).
  const absl::Time now = clock_.Now();
  auto outcome = policy_.Decide({call.patient_id, call.phone_number}, dial.purpose,
                                policy::Channel::kVoice, now, dial.profile);
  if (!outcome.ok()) {
    metrics_.Call("error");
    return outcome.status();
  }
  const policy::Decision& decision = outcome->decision;
  DecisionRecord record{.patient_id = call.patient_id,
                        .purpose = call.purpose,
                        .channel = "voice",
                        .decided_at = now,
                        .allowed = decision.allowed,
                        .rule = decision.rule,
                        .profile_id = decision.profile_id,
                        .profile_version = decision.profile_version,
                        .decided_for = dial.principal,
                        .record_json = decision.record_json};
  if (!decision.allowed) {
    // An override passes any rule but the opt-out (the patient's own word: never overridden).
    if (dial.override_reason.empty() || decision.rule == "opt_out") {
      if (dial.attempt) {
        dial.attempt->rule = decision.rule;
        dial.attempt->next_allowed_at = decision.next_allowed_at;
      }
      auto replay = Refuse(dial, RefusalStatus(decision));
      if (!replay.ok() && replay.status().code() == absl::StatusCode::kFailedPrecondition) {
        metrics_.Call("policy_refused");
        if (auto s = policy_.RecordRefusal(record); !s.ok()) {
          spdlog::warn("contact-policy refusal not stored: {}", common::ToStd(s.message()));
        }
      }
      return replay;
    }
    record.override_reason = dial.override_reason;
    record.allowed = true;
    // The reason is free text (it may name the patient): stored with the decision, not logged.
    spdlog::warn("contact policy rule {} overridden by {} for a call to {} ({})", decision.rule,
                 dial.principal, common::MaskPhone(call.phone_number), call.purpose);
  }
  call.one_live_contact = outcome->capped && record.override_reason.empty();
  call.decision = record;
  auto begun = store_.BeginCall(call, dial.principal, dial.idem_key, dial.request_sha256);
  if (!begun.ok()) {
    metrics_.Call(begun.status().code() == absl::StatusCode::kAlreadyExists ? "refused_duplicate"
                                                                            : "error");
    return begun.status();
  }
  if (begun->live_contact && dial.attempt) {
    // Not a refusal of the patient: the attempt waits for the live call to end.
    dial.attempt->rule = "daily_cap";
    dial.attempt->next_allowed_at = now + absl::Minutes(2);
    return absl::FailedPreconditionError(
        Cat("another call to this patient is live (call ", *begun->live_contact, ")"));
  }
  if (begun->live_contact) {
    // Checked with the insert, under a lock per number and patient: the decision above could not
    // see a call that another request was starting at the same moment.
    auto replay =
        Refuse(dial, absl::FailedPreconditionError(
                         Cat("contact policy ", decision.profile_id, " v", decision.profile_version,
                             " (daily_cap): another call to this patient is live (call ",
                             *begun->live_contact, "); its answer counts toward the caps, so this ",
                             call.purpose, " call waits until it has ended")));
    if (!replay.ok() && replay.status().code() == absl::StatusCode::kFailedPrecondition) {
      metrics_.Call("policy_refused");
      record.allowed = false;
      record.rule = "daily_cap";
      if (auto s = policy_.RecordRefusal(record); !s.ok()) {
        spdlog::warn("contact-policy refusal not stored: {}", common::ToStd(s.message()));
      }
    }
    return replay;
  }
  if (begun->replay) return Replay(*begun->replay);
  const CallRow row = *begun->call;
  if (dial.attempt) dial.attempt->call_row = row.id;
  if (begun->attempt_existed) {
    metrics_.Call("refused_duplicate");
    return absl::AlreadyExistsError(Cat("attempt ", dial.call.attempt->attempt_no,
                                        " of this recipient was placed before (call ", row.call_id,
                                        ")"));
  }
  OutboundCall out{call.agent_id, call.agent_phone_number_id, call.phone_number,
                   row.call_id,   dial.dynamic_variables,     call.max_duration_secs};
  out.dynamic_variables["call_id"] = row.call_id;
  if (!call.patient_name.empty()) out.dynamic_variables["patient_name"] = call.patient_name;
  if (call.appointment_id)
    out.dynamic_variables["appointment_id"] = std::to_string(*call.appointment_id);
  if (call.patient_id) out.dynamic_variables["patient_id"] = std::to_string(*call.patient_id);
  spdlog::info("placing call {} to {} (agent {})", row.call_id,
               common::MaskPhone(call.phone_number), call.agent_id);
  auto placed = Timed(metrics_, "outbound_call", [&] { return api_.PlaceTwilioCall(out); });

  absl::StatusOr<v1::InitiateCallResponse> answer;
  // False while the call is left "dialing" for the reconciler: its key then stays in_progress
  // (a retry with it hears "still being processed") until the reconciler settles the call and,
  // in the same transaction, the key (CallRepository::MarkInitiated, MarkFailed).
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
      hub_.Publish(*ch);
      ApplyEarlyEvents(placed->conversation_id);
      metrics_.Call("initiated");
      answer = InitiatedResponse(placed->conversation_id, row.call_id);
    }
  } else {
    const elevenlabs::ProviderFailure& failure = placed.failure();
    const bool unknown = failure.maybe_delivered;
    if (unknown) {
      // The request may have placed the call: look for it before anything else happens. Not
      // found: it was not placed, and the key says so for good (a retry with it must not wait
      // for a call that will never exist).
      const absl::Status not_placed = absl::UnavailableError(
          Cat("call ", row.call_id, " was not placed (", placed.status().message(),
              "; ElevenLabs has no conversation for it): use a new Idempotency-Key to place it "
              "again"));
      auto settled_call = SettleDial(row, "outbound_call_reconciled", not_placed);
      if (settled_call.ok() && settled_call->status == "initiated") {
        metrics_.Call("initiated_after_reconcile");
        answer = InitiatedResponse(settled_call->conversation_id, row.call_id);
      } else if (settled_call.ok() && settled_call->status == "dialing") {
        metrics_.Call("unknown");
        settled = false;
        answer = absl::UnavailableError(
            Cat("call ", row.call_id,
                ": ElevenLabs did not answer and the outcome is not known yet; it will be "
                "reconciled (do not place it again): ",
                placed.status().message()));
      } else {
        metrics_.Call("provider_error");
        settled = settled_call.ok();  // not recorded: still "dialing", for the reconciler
        answer = settled ? not_placed : placed.status();
      }
    } else if (dial.attempt && failure.http_status == 429 &&
               store_.DiscardUnplaced(row.id).ok()) {
      // Back-pressure for a campaign: ElevenLabs placed nothing, so the attempt never happened
      // and is dialled again later under the same key; it is not a failed call.
      metrics_.Call("back_pressure");
      dial.attempt->call_row.reset();
      dial.attempt->back_pressure = true;
      answer = placed.status();
    } else {
      ProviderErrorRecord e{"provider", failure.code, failure.http_status,
                            std::string(placed.status().message())};
      auto ch = store_.MarkFailed(row.id, e, "outbound_call", placed.status());
      if (ch.ok()) hub_.Publish(*ch);
      metrics_.Call("provider_error");
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

absl::StatusOr<StatusChange> CallPlacer::SettleDial(const CallRow& call, std::string_view cause,
                                                    const absl::Status& not_placed_answer) {
  {
    const int64_t after =
        (call.dial_attempted_unix > 0 ? call.dial_attempted_unix : call.created_unix) - 120;
    auto found = Timed(metrics_, "list_conversations",
                       [&] { return api_.FindByUserId(call.call_id, call.agent_id, after); });
    if (!found.ok()) {
      StatusChange unchanged{call.conversation_id, call.call_id, "dialing", "dialing",
                             std::string(cause)};
      return unchanged;  // still unknown: the reconciler tries again later
    }
    if (!found->empty()) {
      auto ch = store_.MarkInitiated(call.id, found->front().conversation_id, "", cause);
      if (ch.ok()) {
        hub_.Publish(*ch);
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
    if (ch.ok()) hub_.Publish(*ch);
    return ch;
  }
}

}  // namespace outcall::call_gateway
