#include "outcall/elevenlabs/client.h"

#include <boost/json.hpp>
#include <boost/url.hpp>

#include "outcall/common/crypto.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"

namespace outcall::elevenlabs {

namespace json = boost::json;
using common::Cat;

namespace {

// base_url (checked when the configuration was read) with the path segments appended, each
// percent-encoded as a segment, and the query parameters, each encoded as a query value.
std::string Endpoint(std::string_view base, std::initializer_list<std::string_view> segments,
                     std::initializer_list<std::pair<std::string_view, std::string_view>> params = {}) {
  auto parsed = boost::urls::parse_absolute_uri(base);
  if (!parsed) return std::string();  // refused by the transport as a malformed URL
  boost::urls::url u(*parsed);
  auto path = u.segments();
  if (!path.empty() && path.back().empty()) path.pop_back();  // "https://host/prefix/"
  for (std::string_view s : segments) path.push_back(s);
  for (const auto& [k, v] : params) {
    if (!v.empty()) u.params().append({k, v});
  }
  return std::string(u.buffer());
}

// ElevenLabs' error bodies: {"detail": [...]} (422), {"detail": {"code"|"status", "message"}}.
ProviderFailure ParseError(const common::HttpResponse& r) {
  ProviderFailure f;
  f.http_status = static_cast<int>(r.status);
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    const auto& o = v.as_object();
    if (auto* d = o.if_contains("detail")) {
      if (d->is_object()) {
        const auto& detail = d->as_object();
        for (const char* k : {"code", "status"}) {
          if (auto* c = detail.if_contains(k); c && c->is_string() && f.code.empty()) {
            f.code = std::string(c->as_string());
          }
        }
        if (auto* m = detail.if_contains("message"); m && m->is_string()) {
          f.message = std::string(m->as_string());
        }
      } else if (d->is_array()) {
        f.code = "validation_error";
        std::vector<std::string> parts;
        for (const auto& item : d->as_array()) {
          if (!item.is_object()) continue;
          std::vector<std::string> loc;
          if (auto* l = item.as_object().if_contains("loc"); l && l->is_array()) {
            for (const auto& x : l->as_array()) {
              if (x.is_string()) loc.emplace_back(x.as_string());
            }
          }
          std::string msg;
          if (auto* m = item.as_object().if_contains("msg"); m && m->is_string())
            msg = std::string(m->as_string());
          parts.push_back(Cat(common::Join(loc, "."), ": ", msg));
        }
        f.message = common::Join(parts, "; ");
      } else if (d->is_string()) {
        f.message = std::string(d->as_string());
      }
    } else if (auto* m = o.if_contains("message"); m && m->is_string()) {  // Twilio
      f.message = std::string(m->as_string());
      if (auto* c = o.if_contains("code"); c && c->is_int64())
        f.code = std::to_string(c->as_int64());
    }
  }
  if (f.message.empty()) f.message = Cat("HTTP ", f.http_status);
  // Providers echo what they were sent ("Invalid phone number +57..."): the message is stored in
  // elevenlabs_call_errors and returned in gRPC errors, so phone numbers are masked first.
  f.message = common::RedactPhones(f.message);
  if (f.message.size() > 500) f.message.resize(500);
  return f;
}

// The status for a non-success HTTP answer: its code says what the caller may do.
absl::Status StatusForHttp(const ProviderFailure& f, std::string_view what) {
  const std::string msg = Cat(what, ": ElevenLabs answered ", f.http_status,
                              f.code.empty() ? "" : " ", f.code, ": ", f.message);
  absl::Status s;
  if (f.http_status == 429) {
    s = absl::ResourceExhaustedError(msg);
  } else if (f.http_status >= 500 || f.http_status == 408) {
    s = absl::UnavailableError(msg);
  } else if (f.http_status == 400 || f.http_status == 422) {
    s = absl::InvalidArgumentError(msg);
  } else if (f.http_status == 404) {
    s = absl::NotFoundError(msg);
  } else {
    s = absl::FailedPreconditionError(msg);  // 401, 402, 403, 409: configuration or account
  }
  return s;
}

// A failed answer as a Result of any type: the status for it and the failure beside it.
struct Failed {
  absl::Status status;
  ProviderFailure failure;
  template <typename T>
  operator Result<T>() const {  // NOLINT(google-explicit-constructor)
    return Result<T>(status, failure);
  }
};

Failed HttpFailure(ProviderFailure f, std::string_view what) {
  absl::Status s = StatusForHttp(f, what);
  return {std::move(s), std::move(f)};
}

// A Result's failure passed on as a Result of another type.
template <typename T>
Failed Forward(const Result<T>& r) {
  return {r.status(), r.failure()};
}

std::string Str(const json::object& o, std::string_view k) {
  auto* v = o.if_contains(k);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

ElevenLabsClient::ElevenLabsClient(const ElevenLabsConfig& config)
    : config_(config),
      http_({.max_response_bytes = 32 * 1024 * 1024, .user_agent = "outcall-call-gateway/0.1"}) {}

Result<common::HttpResponse> ElevenLabsClient::Send(
    common::HttpRequest req, std::optional<absl::Duration> timeout) const {
  req.timeout = timeout.value_or(config_.request_timeout);
  auto r = http_.Send(req);
  if (!r.ok()) {
    ProviderFailure f;
    switch (r.status().code()) {
      case absl::StatusCode::kDeadlineExceeded:
        f.code = "timeout";
        break;
      case absl::StatusCode::kResourceExhausted:
        f.code = "too_large";  // the answer was over the response cap
        break;
      default:
        f.code = "transport";
    }
    f.message = common::RedactPhones(common::ToStd(r.status().message()));
    f.maybe_delivered = common::RequestMayHaveBeenSent(r.status());
    return Failed{absl::UnavailableError(Cat("ElevenLabs unreachable: ", f.message)), f};
  }
  return *std::move(r);
}

Result<json::value> ElevenLabsClient::Json(common::HttpRequest req, std::string_view what) const {
  auto r = Send(std::move(req));
  if (!r.ok()) return Forward(r);
  if (r->status != 200) return HttpFailure(ParseError(*r), what);
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec) {
    return Failed{absl::UnavailableError(Cat(what, ": ElevenLabs sent invalid JSON")),
                  {200, "invalid_json", "invalid JSON", false}};
  }
  return v;
}

Result<std::vector<AgentInfo>> ElevenLabsClient::ListAgents() const {
  std::vector<AgentInfo> out;
  std::string cursor;
  for (int page = 0; page < 100; ++page) {
    common::HttpRequest req;
    req.url = Endpoint(config_.base_url, {"v1", "convai", "agents"},
                       {{"page_size", "100"}, {"cursor", cursor}});
    req.headers = {{"xi-api-key", config_.api_key.Reveal()}};
    auto v = Json(req, "list agents");
    if (!v.ok()) return Forward(v);
    const auto* body = v->if_object();
    const auto* agents = body ? body->if_contains("agents") : nullptr;
    if (!agents || !agents->is_array()) {
      return absl::UnavailableError("list agents: unexpected answer from ElevenLabs (no agents)");
    }
    for (const auto& a : agents->as_array()) {
      if (!a.is_object()) continue;
      AgentInfo info{Str(a.as_object(), "agent_id"), Str(a.as_object(), "name"), {}};
      if (auto* tags = a.as_object().if_contains("tags"); tags && tags->is_array()) {
        for (const auto& t : tags->as_array()) {
          if (t.is_string()) info.tags.emplace_back(t.as_string());
        }
      }
      out.push_back(std::move(info));
    }
    auto* more = body->if_contains("has_more");
    cursor = Str(*body, "next_cursor");
    if (!more || !more->is_bool() || !more->as_bool() || cursor.empty()) return out;
  }
  return absl::UnavailableError("list agents: too many pages");
}

Result<PlacedCall> ElevenLabsClient::PlaceTwilioCall(const OutboundCall& call) const {
  json::object client_data{{"user_id", call.user_id},
                           {"dynamic_variables", call.dynamic_variables}};
  if (call.max_duration_secs > 0) {
    client_data["conversation_config_override"] = json::object{
        {"conversation", json::object{{"max_duration_seconds", call.max_duration_secs}}}};
  }
  json::object body{{"agent_id", call.agent_id},
                    {"agent_phone_number_id", call.agent_phone_number_id},
                    {"to_number", call.to_number},
                    {"conversation_initiation_client_data", std::move(client_data)}};
  common::HttpRequest req;
  req.method = "POST";
  req.url = Endpoint(config_.base_url, {"v1", "convai", "twilio", "outbound-call"});
  req.headers = {{"xi-api-key", config_.api_key.Reveal()}, {"Content-Type", "application/json"}};
  req.body = json::serialize(body);
  auto r = Send(std::move(req));
  if (!r.ok()) return Forward(r);
  // The patient's name went out in the dynamic variables and may come back in an error.
  const json::value* name_value = call.dynamic_variables.if_contains("patient_name");
  const std::string patient_name =
      name_value && name_value->is_string() ? std::string(name_value->as_string()) : "";
  if (r->status != 200) {
    ProviderFailure f = ParseError(*r);
    f.message = common::RedactPatientData(f.message, patient_name);
    // A 5xx may come after the call was placed: the outcome is unknown.
    f.maybe_delivered = r->status >= 500;
    return HttpFailure(std::move(f), "outbound call");
  }
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec || !v.is_object()) {
    return Failed{absl::UnavailableError("outbound call: ElevenLabs sent invalid JSON"),
                  {200, "invalid_json", "invalid JSON in a 200 answer", true}};
  }
  const auto& o = v.as_object();
  auto* success = o.if_contains("success");
  PlacedCall placed{Str(o, "conversation_id"), Str(o, "callSid")};
  if (!success || !success->is_bool() || !success->as_bool() || placed.conversation_id.empty()) {
    ProviderFailure f{200, "success_false",
                      common::RedactPatientData(Str(o, "message"), patient_name), false};
    if (f.message.empty()) f.message = "ElevenLabs did not accept the call";
    return Failed{
        absl::FailedPreconditionError(Cat("outbound call refused by ElevenLabs: ", f.message)), f};
  }
  return placed;
}

Result<std::vector<ConversationBrief>> ElevenLabsClient::FindByUserId(
    std::string_view user_id, std::string_view agent_id, int64_t after_unix) const {
  std::vector<ConversationBrief> out;
  std::string cursor;
  for (int page = 0; page < 20; ++page) {
    common::HttpRequest req;
    const std::string after = std::to_string(after_unix);
    req.url = Endpoint(config_.base_url, {"v1", "convai", "conversations"},
                       {{"page_size", "100"},
                        {"user_id", user_id},
                        {"call_start_after_unix", after},
                        {"agent_id", agent_id},
                        {"cursor", cursor}});
    req.headers = {{"xi-api-key", config_.api_key.Reveal()}};
    auto v = Json(req, "list conversations");
    if (!v.ok()) return Forward(v);
    const auto* body = v->if_object();
    const auto* list = body ? body->if_contains("conversations") : nullptr;
    if (!list || !list->is_array()) {
      return absl::UnavailableError("list conversations: unexpected answer from ElevenLabs");
    }
    for (const auto& c : list->as_array()) {
      if (!c.is_object()) continue;
      ConversationBrief b{Str(c.as_object(), "conversation_id"), Str(c.as_object(), "status"), 0};
      if (auto* t = c.as_object().if_contains("start_time_unix_secs"); t && t->is_int64()) {
        b.start_time_unix_secs = t->as_int64();
      }
      out.push_back(std::move(b));
    }
    auto* more = body->if_contains("has_more");
    cursor = Str(*body, "next_cursor");
    if (!more || !more->is_bool() || !more->as_bool() || cursor.empty()) return out;
  }
  return out;
}

Result<json::object> ElevenLabsClient::GetConversation(std::string_view id) const {
  common::HttpRequest req;
  req.url = Endpoint(config_.base_url, {"v1", "convai", "conversations", id});
  req.headers = {{"xi-api-key", config_.api_key.Reveal()}};
  auto v = Json(req, "get conversation");
  if (!v.ok()) return Forward(v);
  if (!v->is_object())
    return absl::UnavailableError("get conversation: unexpected answer from ElevenLabs");
  return std::move(v->as_object());
}

Result<ConversationAudio> ElevenLabsClient::GetConversationAudio(
    std::string_view id, size_t max_bytes, absl::Duration timeout) const {
  constexpr std::string_view kWhat = "get conversation audio";
  common::HttpRequest req;
  req.url = Endpoint(config_.base_url, {"v1", "convai", "conversations", id, "audio"});
  req.headers = {{"xi-api-key", config_.api_key.Reveal()}, {"Accept", "audio/*"}};
  // Received as it streams in, never past the bound: a longer recording is refused as soon as
  // its Content-Length (or its bytes) say so.
  req.max_response_bytes = max_bytes;
  auto r = Send(std::move(req), timeout);
  if (!r.ok()) {
    if (r.failure().code == "too_large") {
      return Failed{absl::FailedPreconditionError(
                        Cat(kWhat, ": the recording is larger than ", max_bytes, " bytes")),
                    r.failure()};
    }
    return Forward(r);
  }
  if (r->status != 200) return HttpFailure(ParseError(*r), kWhat);
  // The media type without parameters ("audio/mpeg; charset=..." -> "audio/mpeg").
  std::string type = common::ToLower(
      common::Trim(r->Header("content-type").substr(0, r->Header("content-type").find(';'))));
  if (type.empty()) type = "audio/mpeg";  // what the endpoint serves
  if (!type.starts_with("audio/") && type != "application/octet-stream") {
    return Failed{absl::UnavailableError(
                      Cat(kWhat, ": ElevenLabs answered with ", type.substr(0, 100), ", not audio")),
                  {200, "not_audio", "not audio", false}};
  }
  if (type == "application/octet-stream") type = "audio/mpeg";
  if (r->body.empty()) {
    return Failed{absl::UnavailableError(Cat(kWhat, ": ElevenLabs sent an empty recording")),
                  {200, "empty_audio", "empty recording", false}};
  }
  return ConversationAudio{type.substr(0, 100), std::move(r->body)};
}

Result<Done> ElevenLabsClient::DeleteConversation(std::string_view id) const {
  common::HttpRequest req;
  req.method = "DELETE";
  req.url = Endpoint(config_.base_url, {"v1", "convai", "conversations", id});
  req.headers = {{"xi-api-key", config_.api_key.Reveal()}};
  auto r = Send(std::move(req));
  if (!r.ok()) return Forward(r);
  if (r->status != 200 && r->status != 204)
    return HttpFailure(ParseError(*r), "delete conversation");
  return Done{};
}

Result<std::string> ElevenLabsClient::UpdateTwilioCall(std::string_view call_sid,
                                                               std::string_view status) const {
  if (!twilio_configured()) {
    return absl::FailedPreconditionError(
        "no hang-up route configured: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN");
  }
  common::HttpRequest req;
  req.method = "POST";
  req.url = Endpoint(config_.twilio_base_url, {"2010-04-01", "Accounts", config_.twilio_account_sid,
                                               "Calls", Cat(call_sid, ".json")});
  const std::string encoded = common::Base64Encode(
      Cat(config_.twilio_account_sid, ":", config_.twilio_auth_token.Reveal()));
  req.headers = {{"Authorization", Cat("Basic ", encoded)},
                 {"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = Cat("Status=", status);
  auto r = Send(std::move(req));
  if (!r.ok()) return Forward(r);
  if (r->status != 200) return HttpFailure(ParseError(*r), "Twilio call update");
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec || !v.is_object())
    return absl::UnavailableError("Twilio call update: invalid JSON answer");
  return Str(v.as_object(), "status");
}

}  // namespace outcall::elevenlabs
