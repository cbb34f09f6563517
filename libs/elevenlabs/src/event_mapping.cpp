#include "outcall/elevenlabs/event_mapping.h"

#include <boost/json.hpp>
#include <cmath>
#include <limits>

#include "google/protobuf/struct.pb.h"

namespace outcall::elevenlabs {
namespace json = boost::json;
namespace {

const json::object* Obj(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  return v ? v->if_object() : nullptr;
}

std::string Str(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr) return {};
  if (const json::string* s = v->if_string()) return std::string(s->data(), s->size());
  if (v->is_int64()) return std::to_string(v->get_int64());
  if (v->is_uint64()) return std::to_string(v->get_uint64());
  return {};
}

std::optional<int64_t> Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) {
    const uint64_t u = v->get_uint64();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(u);
    }
    return std::nullopt;
  }
  if (v->is_double()) {
    const double d = v->get_double();
    if (std::isfinite(d) && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
    return std::nullopt;
  }
  if (const json::string* s = v->if_string()) {
    int64_t out = 0;
    if (s->empty() || s->size() > 18) return std::nullopt;
    for (char c : *s) {
      if (c < '0' || c > '9') return std::nullopt;
      out = out * 10 + (c - '0');
    }
    return out;
  }
  return std::nullopt;
}

std::optional<double> Double(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr) return std::nullopt;
  if (v->is_double()) return v->get_double();
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  return std::nullopt;
}

bool Bool(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  return v != nullptr && v->is_bool() && v->get_bool();
}

int32_t Int32(const json::object& o, std::string_view key) {
  auto v = Int(o, key);
  if (!v || *v < std::numeric_limits<int32_t>::min() || *v > std::numeric_limits<int32_t>::max()) {
    return 0;
  }
  return static_cast<int32_t>(*v);
}

// A count or time that must be a whole number in [0, max] when present: absent or null is 0;
// anything else present (negative, fractional beyond rounding, too large, not a number) is an
// error naming `path`, instead of a silent 0 or a value a database constraint would refuse.
absl::StatusOr<int64_t> Count(const json::object& o, std::string_view key, std::string_view path,
                              int64_t max) {
  const json::value* v = o.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr || v->is_null()) return 0;
  const std::optional<int64_t> n = Int(o, key);
  if (!n) {
    return absl::InvalidArgumentError(std::string(path) + (v->is_number() || v->is_string()
                                                               ? " is out of range"
                                                               : " is not a number"));
  }
  if (*n < 0) return absl::InvalidArgumentError(std::string(path) + " is negative");
  if (*n > max) return absl::InvalidArgumentError(std::string(path) + " is out of range");
  return *n;
}

constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();
constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();

void ToProtoValue(const json::value& in, google::protobuf::Value* out, int depth);

void ToProtoStruct(const json::object& in, google::protobuf::Struct* out, int depth) {
  for (const auto& [k, v] : in) {
    ToProtoValue(v, &(*out->mutable_fields())[std::string(k.data(), k.size())], depth + 1);
  }
}

void ToProtoValue(const json::value& in, google::protobuf::Value* out, int depth) {
  if (depth > 32) {  // deeper than any ElevenLabs payload: keep it bounded
    out->set_null_value(google::protobuf::NULL_VALUE);
    return;
  }
  switch (in.kind()) {
    case json::kind::null: out->set_null_value(google::protobuf::NULL_VALUE); break;
    case json::kind::bool_: out->set_bool_value(in.get_bool()); break;
    case json::kind::int64: out->set_number_value(static_cast<double>(in.get_int64())); break;
    case json::kind::uint64: out->set_number_value(static_cast<double>(in.get_uint64())); break;
    case json::kind::double_: out->set_number_value(in.get_double()); break;
    case json::kind::string:
      out->set_string_value(std::string(in.get_string().data(), in.get_string().size()));
      break;
    case json::kind::array: {
      auto* list = out->mutable_list_value();
      for (const auto& item : in.get_array()) ToProtoValue(item, list->add_values(), depth + 1);
      break;
    }
    case json::kind::object: ToProtoStruct(in.get_object(), out->mutable_struct_value(), depth); break;
  }
}

absl::Status MapTranscription(const json::object& d, v1::PostCallTranscription* t) {
  t->set_agent_id(Str(d, "agent_id"));
  t->set_status(Str(d, "status"));
  t->set_user_id(Str(d, "user_id"));
  t->set_has_audio(Bool(d, "has_audio"));
  const json::value* tr = d.if_contains("transcript");
  if (tr != nullptr && !tr->is_null() && !tr->is_array()) {
    // Not "a call with no turns": what the patient said would be lost without a word.
    return absl::InvalidArgumentError("data.transcript is not a list");
  }
  if (tr != nullptr && tr->is_array()) {
    int index = 0;
    for (const auto& item : tr->get_array()) {
      const std::string path = "data.transcript[" + std::to_string(index++) + "]";
      const json::object* turn = item.if_object();
      if (turn == nullptr) {
        if (item.is_null()) continue;
        return absl::InvalidArgumentError(path + " is not an object");
      }
      auto at = Count(*turn, "time_in_call_secs", path + ".time_in_call_secs", kMaxInt32);
      if (!at.ok()) return at.status();
      v1::TranscriptItem* out = t->add_transcript();
      out->set_role(Str(*turn, "role"));
      if (const json::value* m = turn->if_contains("message"); m && m->is_string()) {
        out->set_message(std::string(m->get_string().data(), m->get_string().size()));
        out->set_has_message(true);
      }
      out->set_time_in_call_secs(static_cast<int32_t>(*at));
      out->set_interrupted(Bool(*turn, "interrupted"));
      if (const json::value* tc = turn->if_contains("tool_calls"); tc && tc->is_array()) {
        google::protobuf::Value v;
        ToProtoValue(*tc, &v, 0);
        *out->mutable_tool_calls() = v.list_value();
      }
    }
  }
  if (const json::object* md = Obj(d, "metadata")) {
    v1::ConversationMetadata* m = t->mutable_metadata();
    auto start = Count(*md, "start_time_unix_secs", "data.metadata.start_time_unix_secs", kMaxInt64);
    if (!start.ok()) return start.status();
    auto accepted =
        Count(*md, "accepted_time_unix_secs", "data.metadata.accepted_time_unix_secs", kMaxInt64);
    if (!accepted.ok()) return accepted.status();
    auto duration =
        Count(*md, "call_duration_secs", "data.metadata.call_duration_secs", kMaxInt32);
    if (!duration.ok()) return duration.status();
    m->set_start_time_unix_secs(*start);
    m->set_accepted_time_unix_secs(*accepted);
    m->set_call_duration_secs(static_cast<int32_t>(*duration));
    if (const json::value* c = md->if_contains("cost"); c != nullptr && !c->is_null()) {
      auto cost = Count(*md, "cost", "data.metadata.cost", kMaxInt64);
      if (!cost.ok()) return cost.status();
      m->set_cost(*cost);
    }
    if (const json::value* c = md->if_contains("cost_fiat"); c != nullptr && !c->is_null()) {
      const std::optional<double> fiat = Double(*md, "cost_fiat");
      if (!fiat || !std::isfinite(*fiat) || *fiat < 0 || *fiat >= 1e10) {
        return absl::InvalidArgumentError("data.metadata.cost_fiat is negative or out of range");
      }
      m->set_cost_fiat(*fiat);
    }
    m->set_termination_reason(Str(*md, "termination_reason"));
    if (const json::object* pc = Obj(*md, "phone_call")) {
      m->set_phone_call_type(Str(*pc, "type"));
      m->set_call_sid(Str(*pc, "call_sid"));
    }
    if (const json::object* err = Obj(*md, "error")) {
      m->mutable_error()->set_code(Int32(*err, "code"));
      m->mutable_error()->set_reason(Str(*err, "reason"));
    }
  }
  if (const json::object* an = Obj(d, "analysis")) {
    v1::ConversationAnalysis* a = t->mutable_analysis();
    a->set_call_successful(Str(*an, "call_successful"));
    a->set_transcript_summary(Str(*an, "transcript_summary"));
    a->set_call_summary_title(Str(*an, "call_summary_title"));
    if (const json::object* dc = Obj(*an, "data_collection_results")) {
      ToProtoStruct(*dc, a->mutable_data_collection_results(), 0);
    }
    if (const json::object* ec = Obj(*an, "evaluation_criteria_results")) {
      ToProtoStruct(*ec, a->mutable_evaluation_criteria_results(), 0);
    }
  }
  if (const json::object* cd = Obj(d, "conversation_initiation_client_data")) {
    if (t->user_id().empty()) t->set_user_id(Str(*cd, "user_id"));
    if (const json::object* dv = Obj(*cd, "dynamic_variables")) {
      ToProtoStruct(*dv, t->mutable_dynamic_variables(), 0);
    }
  }
  return absl::OkStatus();
}

void MapFailure(const json::object& d, v1::CallInitiationFailure* f) {
  f->set_agent_id(Str(d, "agent_id"));
  f->set_failure_reason(Str(d, "failure_reason"));
  const json::object* md = Obj(d, "metadata");
  if (md == nullptr) return;
  f->set_provider_type(Str(*md, "type"));
  const json::object* body = Obj(*md, "body");
  if (body == nullptr) return;
  ToProtoStruct(*body, f->mutable_provider_body(), 0);
  if (f->provider_type() == "sip") {
    f->set_call_sid(Str(*body, "call_sid"));
    f->set_sip_status_code(Int32(*body, "sip_status_code"));
    f->set_provider_status(Str(*body, "error_reason"));
  } else {
    f->set_call_sid(Str(*body, "CallSid"));
    f->set_provider_status(Str(*body, "CallStatus"));
    f->set_sip_status_code(Int32(*body, "SipResponseCode"));
  }
}

}  // namespace

v1::EventType EventTypeFromName(std::string_view type) {
  if (type == kTranscription) return v1::EVENT_TYPE_POST_CALL_TRANSCRIPTION;
  if (type == kAudio) return v1::EVENT_TYPE_POST_CALL_AUDIO;
  if (type == kInitiationFailure) return v1::EVENT_TYPE_CALL_INITIATION_FAILURE;
  return v1::EVENT_TYPE_UNSPECIFIED;
}

absl::Status ValidateEnvelope(const Envelope& e) {
  if (e.type.empty()) return absl::InvalidArgumentError("missing type");
  if (EventTypeFromName(e.type) == v1::EVENT_TYPE_UNSPECIFIED) {
    return absl::InvalidArgumentError("unknown type");
  }
  if (!e.has_data_object) return absl::InvalidArgumentError("missing data object");
  if (e.conversation_id.find_first_not_of(" \t\r\n") == std::string::npos) {
    return absl::InvalidArgumentError("missing conversation_id");
  }
  return absl::OkStatus();
}

std::string AudioInboxBody(const Envelope& e, const AudioSummary& a) {
  json::object data;
  data["agent_id"] = e.agent_id;
  data["conversation_id"] = e.conversation_id;
  json::object audio;
  audio["stored"] = a.stored;
  audio["size_bytes"] = a.size_bytes;
  audio["sha256"] = a.sha256;
  audio["content_type"] = a.content_type;
  json::object root;
  root["type"] = e.type;
  if (e.event_timestamp) root["event_timestamp"] = *e.event_timestamp;
  root["data"] = std::move(data);
  root["outcall_audio"] = std::move(audio);
  return json::serialize(root);
}

absl::StatusOr<v1::CallEvent> MapInboxEvent(int64_t inbox_id, std::string_view event_type,
                                            std::string_view conversation_id,
                                            std::optional<int64_t> event_timestamp,
                                            std::string_view body) {
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 64;
  json::value root = json::parse(json::string_view(body.data(), body.size()), ec, {}, opts);
  if (ec || !root.is_object()) return absl::InvalidArgumentError("body is not a JSON object");
  const json::object& r = root.get_object();
  static const json::object kEmpty;
  const json::object* data = Obj(r, "data");
  if (data == nullptr) data = &kEmpty;

  v1::CallEvent ev;
  ev.set_inbox_id(inbox_id);
  ev.set_type(EventTypeFromName(event_type));
  ev.set_conversation_id(std::string(conversation_id));
  ev.set_event_timestamp(event_timestamp.value_or(Int(r, "event_timestamp").value_or(0)));
  switch (ev.type()) {
    case v1::EVENT_TYPE_POST_CALL_TRANSCRIPTION:
      if (absl::Status s = MapTranscription(*data, ev.mutable_transcription()); !s.ok()) return s;
      break;
    case v1::EVENT_TYPE_POST_CALL_AUDIO: {
      v1::PostCallAudio* a = ev.mutable_audio();
      a->set_agent_id(Str(*data, "agent_id"));
      if (const json::object* au = Obj(r, "outcall_audio")) {
        a->set_stored(Bool(*au, "stored"));
        a->set_size_bytes(Int(*au, "size_bytes").value_or(0));
        a->set_sha256(Str(*au, "sha256"));
        a->set_content_type(Str(*au, "content_type"));
      }
      break;
    }
    case v1::EVENT_TYPE_CALL_INITIATION_FAILURE: MapFailure(*data, ev.mutable_initiation_failure()); break;
    default: return absl::InvalidArgumentError("unknown event type");
  }
  return ev;
}

absl::StatusOr<v1::CallEvent> MapConversation(std::string_view conversation_id,
                                              const json::object& conversation) {
  v1::CallEvent ev;
  ev.set_type(v1::EVENT_TYPE_POST_CALL_TRANSCRIPTION);
  ev.set_conversation_id(std::string(conversation_id));
  if (absl::Status s = MapTranscription(conversation, ev.mutable_transcription()); !s.ok()) return s;
  return ev;
}

}  // namespace outcall::elevenlabs
