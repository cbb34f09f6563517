// The ElevenLabs Agents Platform endpoints: agents, phone numbers, Twilio and SIP-trunk outbound
// calls (validation, fault switches, the call cap), conversations (list, get, delete, audio) and
// the workspace webhooks; and the xi-api-key check they share.
#include <algorithm>
#include <boost/json.hpp>

#include "mp3.h"
#include "outcall/common/crypto.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"
#include "routes.h"
#include "simulator.h"
#include "simulator_internal.h"

namespace outcall::sim {

namespace json = boost::json;

namespace {

std::string RandomId(std::string_view prefix, size_t hex_chars) {
  return common::Cat(prefix, common::RandomHex(hex_chars / 2));
}

std::string Uuid4() {
  std::string h = common::RandomHex(16);
  h[12] = '4';
  h[16] = "89ab"[h[16] % 4];
  return common::Cat(h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4), "-",
                     h.substr(16, 4), "-", h.substr(20));
}

// A query parameter that must be an integer in [min, max] (FastAPI's 422 otherwise).
std::optional<Reply> IntParam(const HttpRequest& req, std::string_view name, int64_t min,
                              int64_t max, int64_t& out) {
  auto raw = req.Query(name);
  if (!raw) return std::nullopt;
  int64_t v = 0;
  if (!common::ParseInt(*raw, &v)) {
    return ValidationError(
        {{json::array{"query", name},
          "int_parsing",
          "Input should be a valid integer, unable to parse string as an integer",
          json::value(*raw),
          {}}});
  }
  if (v > max) {
    return ValidationError({{json::array{"query", name}, "less_than_equal",
                             common::Cat("Input should be less than or equal to ", max),
                             json::value(*raw), json::object{{"le", max}}}});
  }
  if (v < min) {
    return ValidationError({{json::array{"query", name}, "greater_than_equal",
                             common::Cat("Input should be greater than or equal to ", min),
                             json::value(*raw), json::object{{"ge", min}}}});
  }
  out = v;
  return std::nullopt;
}

std::string EncodeCursor(std::string_view raw) {
  std::string b = Base64Encode(raw);
  for (auto& c : b) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  while (!b.empty() && b.back() == '=') b.pop_back();
  return b;
}

std::optional<std::string> DecodeCursor(std::string_view cursor) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  int bits = 0, acc = 0;
  for (char c : cursor) {
    const size_t v = kAlphabet.find(c);
    if (v == std::string::npos) return std::nullopt;
    acc = (acc << 6) | static_cast<int>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

std::string TypeForStatus(int status) {
  switch (status) {
    case 400:
      return "invalid_request";
    case 401:
      return "authentication_error";
    case 402:
      return "payment_required";
    case 403:
      return "authorization_error";
    case 404:
      return "not_found";
    case 409:
      return "conflict";
    case 429:
      return "rate_limit_error";
    case 503:
      return "service_unavailable";
    default:
      return status >= 500 ? "internal_error" : "invalid_request";
  }
}

std::string CodeForStatus(int status) {
  switch (status) {
    case 429:
      return "system_busy";
    case 503:
      return "maintenance";
    case 402:
      return "insufficient_credits";
    default:
      return status >= 500 ? "internal_server_error" : "invalid_parameters";
  }
}

}  // namespace

std::optional<Reply> Simulator::CheckApiKey(const HttpRequest& req) const {
  const std::string_view key = req.Header("xi-api-key");
  if (key.empty()) {
    return ElevenLabsError(401, "authentication_error", "missing_api_key",
                           "Missing API key. Send it in the xi-api-key header.", req.request_id);
  }
  if (!common::ConstantTimeEquals(key, config_.api_key.Reveal())) {
    return ElevenLabsError(401, "authentication_error", "invalid_api_key", "Invalid API key",
                           req.request_id);
  }
  return std::nullopt;
}

Reply Simulator::ListAgents(const HttpRequest& req, const PathParams&) {
  int64_t page_size = 30;
  if (auto bad = IntParam(req, "page_size", 1, 100, page_size)) return *bad;
  const std::string search = common::ToLower(req.Query("search").value_or(""));
  std::vector<const Agent*> matching;
  for (const auto& a : agents_) {
    if (search.empty() || common::ToLower(a.name).find(search) != std::string::npos) {
      matching.push_back(&a);
    }
  }
  std::sort(matching.begin(), matching.end(),
            [](const Agent* a, const Agent* b) { return a->created_at > b->created_at; });
  size_t offset = 0;
  if (auto cursor = req.Query("cursor"); cursor && !cursor->empty()) {
    auto raw = DecodeCursor(*cursor);
    int64_t v = -1;
    if (!raw || !raw->starts_with("agents:") || !common::ParseInt(raw->substr(7), &v) || v < 0) {
      return ElevenLabsError(400, "invalid_request", "invalid_cursor", "Invalid cursor",
                             req.request_id, false, "cursor");
    }
    offset = static_cast<size_t>(v);
  }
  json::array agents;
  for (size_t i = offset; i < matching.size() && agents.size() < static_cast<size_t>(page_size);
       ++i) {
    const Agent& a = *matching[i];
    json::array tags;
    for (const auto& t : a.tags) tags.push_back(json::value(t));
    json::object item{{"agent_id", a.id},
                      {"name", a.name},
                      {"tags", std::move(tags)},
                      {"created_at_unix_secs", a.created_at},
                      {"access_info", json::object{{"is_creator", true},
                                                   {"creator_name", "Clínica (simulada)"},
                                                   {"creator_email", "admin@clinica.invalid"},
                                                   {"role", "admin"}}},
                      {"last_call_time_unix_secs", nullptr},
                      {"archived", false}};
    AddExtraFields(item);
    agents.push_back(std::move(item));
  }
  const size_t next = offset + agents.size();
  const bool more = next < matching.size();
  return JsonReply(200, json::object{{"agents", std::move(agents)},
                                     {"next_cursor",
                                      more ? json::value(EncodeCursor(common::Cat("agents:", next)))
                                           : json::value(nullptr)},
                                     {"has_more", more}});
}

Reply Simulator::GetAgent(const HttpRequest& req, const PathParams& path) {
  const std::string_view id = path.Get("agent_id");
  const Agent* a = FindAgent(id);
  if (a == nullptr) {
    return ElevenLabsError(404, "not_found", "agent_not_found",
                           common::Cat("Agent with id ", id, " was not found"), req.request_id);
  }
  auto allowed = [&](std::string_view f) { return a->overridable.count(std::string(f)) > 0; };
  json::array numbers;
  for (const auto& n : numbers_) {
    if (n.agent_id == a->id) {
      numbers.push_back(json::object{{"phone_number", n.number},
                                     {"label", n.label},
                                     {"phone_number_id", n.id},
                                     {"provider", n.provider}});
    }
  }
  json::array tags;
  for (const auto& t : a->tags) tags.push_back(json::value(t));
  json::object out{
      {"agent_id", a->id},
      {"name", a->name},
      {"conversation_config",
       json::object{
           {"agent",
            json::object{{"first_message", a->first_message},
                         {"language", "es"},
                         {"dynamic_variables",
                          json::object{{"dynamic_variable_placeholders", json::object()}}},
                         {"disable_first_message_interruptions", false},
                         {"max_conversation_duration_message", a->max_duration_message},
                         {"prompt", json::object{{"prompt", "Eres un asistente de una clínica."},
                                                 {"llm", "gemini-2.0-flash"}}}}},
           {"conversation",
            json::object{{"max_duration_seconds", a->max_duration_secs}, {"text_only", false}}},
           {"tts",
            json::object{{"voice_id", "sim_voice_es_co"}, {"model_id", "eleven_flash_v2_5"}}},
           {"asr", json::object{{"quality", "high"}}},
           {"turn", json::object{{"turn_timeout", 7}}},
           {"language_presets", json::object()},
           {"vad", json::object()}}},
      {"metadata", json::object{{"created_at_unix_secs", a->created_at},
                                {"updated_at_unix_secs", a->created_at}}},
      {"platform_settings",
       json::object{
           {"overrides",
            json::object{
                {"conversation_config_override",
                 json::object{
                     {"agent",
                      json::object{{"first_message", allowed("agent.first_message")},
                                   {"language", allowed("agent.language")},
                                   {"prompt", json::object{{"prompt", allowed("agent.prompt")}}}}},
                     {"conversation",
                      json::object{
                          {"max_duration_seconds", allowed("conversation.max_duration_seconds")},
                          {"text_only", allowed("conversation.text_only")}}},
                     {"tts", json::object{{"voice_id", allowed("tts.voice_id")}}}}}}},
           {"call_limits", json::object{{"agent_concurrency_limit", -1},
                                        {"daily_limit", 100000},
                                        {"bursting_enabled", true}}},
           {"workspace_overrides",
            json::object{
                {"webhooks", json::object{{"post_call_webhook_id", "wh_sim_postcall"},
                                          {"events", json::array{"transcript", "audio",
                                                                 "call_initiation_failure"}},
                                          {"transcript_format", "json"}}}}},
           {"privacy", json::object{{"record_voice", true}, {"retention_days", -1}}}}},
      {"phone_numbers", std::move(numbers)},
      {"tags", std::move(tags)},
      {"version_id", nullptr},
      {"branch_id", nullptr},
      {"main_branch_id", nullptr},
  };
  AddExtraFields(out);
  return JsonReply(200, out);
}

Reply Simulator::ListPhoneNumbers(const HttpRequest& req, const PathParams&) {
  const auto provider = req.Query("provider");
  if (provider && *provider != "twilio" && *provider != "sip_trunk" && *provider != "exotel") {
    return ValidationError(
        {{json::array{"query", "provider"}, "enum",
          "Input should be 'twilio', 'sip_trunk' or 'exotel'", json::value(*provider),
          json::object{{"expected", "'twilio', 'sip_trunk' or 'exotel'"}}}});
  }
  const auto agent = req.Query("agent_id");
  json::array out;
  for (const auto& n : numbers_) {
    if (provider && n.provider != *provider) continue;
    if (agent && n.agent_id != *agent) continue;
    const Agent* a = FindAgent(n.agent_id);
    json::object item{{"phone_number", n.number},
                      {"label", n.label},
                      {"phone_number_id", n.id},
                      {"provider", n.provider},
                      {"supports_inbound", true},
                      {"supports_outbound", true},
                      {"assigned_agent",
                       a ? json::value(json::object{{"agent_id", a->id}, {"agent_name", a->name}})
                         : json::value(nullptr)}};
    if (n.provider == "sip_trunk") {
      // The shapes of the real API's SIP trunk models: media_encryption ("disabled", "allowed"
      // or "required") and has_auth_credentials are required in each (ElevenLabs' SDK refuses
      // an object without them); credentials themselves are never returned, only the username.
      item["provider_config"] =
          json::object{{"address", "sip.clinica.invalid"}, {"transport", "tls"},
                       {"media_encryption", "required"},   {"headers", json::object()},
                       {"has_auth_credentials", true},     {"username", "clinica-sip"},
                       {"has_outbound_trunk", true}};
      item["outbound_trunk"] =
          json::object{{"address", "sip.clinica.invalid"}, {"transport", "tls"},
                       {"media_encryption", "required"},   {"headers", json::object()},
                       {"has_auth_credentials", true},     {"username", "clinica-sip"}};
      item["inbound_trunk"] =
          json::object{{"allowed_addresses", json::array{"sip.clinica.invalid"}},
                       {"allowed_numbers", nullptr},
                       {"media_encryption", "allowed"},
                       {"has_auth_credentials", false},
                       {"username", nullptr},
                       {"remote_domains", nullptr}};
      item["livekit_stack"] = "standard";
      item["store_sip_messages"] = false;
    }
    AddExtraFields(item);
    out.push_back(std::move(item));
  }
  return JsonReply(200, out);
}

Reply Simulator::OutboundCall(const HttpRequest& req, std::string_view provider) {
  {
    absl::MutexLock lock(&mu_);
    ++outbound_requests_;
  }
  auto answer = [&](Reply r) {
    absl::MutexLock lock(&mu_);
    ++outbound_by_status_[std::to_string(r.status)];
    return r;
  };
  // 1. Validation (FastAPI/pydantic 422, every problem at once).
  std::string parse_error;
  json::object body = ParseJsonObject(req.body, parse_error);
  if (!parse_error.empty()) {
    if (parse_error == "not an object") {
      return answer(
          ValidationError({{json::array{"body"},
                            "model_attributes_type",
                            "Input should be a valid dictionary or object to extract fields from",
                            json::value(req.body),
                            {}}}));
    }
    return answer(ValidationError({{json::array{"body", 0}, "json_invalid", "JSON decode error",
                                    json::object(), json::object{{"error", parse_error}}}}));
  }
  std::vector<FieldProblem> problems;
  auto required_string = [&](std::string_view key) -> std::string {
    const json::value* v = Field(body, key);
    if (v == nullptr || v->is_null()) {
      problems.push_back({json::array{"body", key}, "missing", "Field required", body, {}});
      return {};
    }
    if (!v->is_string()) {
      problems.push_back(
          {json::array{"body", key}, "string_type", "Input should be a valid string", *v, {}});
      return {};
    }
    return std::string(v->as_string());
  };
  const std::string agent_id = required_string("agent_id");
  const std::string number_id = required_string("agent_phone_number_id");
  const std::string to_number = required_string("to_number");
  json::object client_data;
  if (const json::value* cd = Field(body, "conversation_initiation_client_data");
      cd && !cd->is_null()) {
    if (!cd->is_object()) {
      problems.push_back({json::array{"body", "conversation_initiation_client_data"},
                          "model_attributes_type",
                          "Input should be a valid dictionary or object to extract fields from",
                          *cd,
                          {}});
    } else {
      client_data = cd->as_object();
      if (const json::value* dv = Field(client_data, "dynamic_variables"); dv && !dv->is_null()) {
        if (!dv->is_object()) {
          problems.push_back(
              {json::array{"body", "conversation_initiation_client_data", "dynamic_variables"},
               "dict_type",
               "Input should be a valid dictionary",
               *dv,
               {}});
        } else {
          for (const auto& kv : dv->as_object()) {
            if (kv.value().is_object() || kv.value().is_array()) {
              problems.push_back({json::array{"body", "conversation_initiation_client_data",
                                              "dynamic_variables", kv.key()},
                                  "string_type",
                                  "Input should be a valid string, number, integer or boolean",
                                  kv.value(),
                                  {}});
            }
          }
        }
      }
      if (const json::value* uid = Field(client_data, "user_id");
          uid && !uid->is_null() && !uid->is_string()) {
        problems.push_back({json::array{"body", "conversation_initiation_client_data", "user_id"},
                            "string_type",
                            "Input should be a valid string",
                            *uid,
                            {}});
      }
    }
  }
  int ringing_timeout = 60;
  if (const json::value* tc = Field(body, "telephony_call_config"); tc && !tc->is_null()) {
    if (!tc->is_object()) {
      problems.push_back({json::array{"body", "telephony_call_config"},
                          "model_attributes_type",
                          "Input should be a valid dictionary or object to extract fields from",
                          *tc,
                          {}});
    } else if (const json::value* rt = Field(tc->as_object(), "ringing_timeout_secs");
               rt && !rt->is_null()) {
      if (!rt->is_int64()) {
        problems.push_back({json::array{"body", "telephony_call_config", "ringing_timeout_secs"},
                            "int_type",
                            "Input should be a valid integer",
                            *rt,
                            {}});
      } else if (rt->as_int64() < 1 || rt->as_int64() > 999) {
        const bool low = rt->as_int64() < 1;
        problems.push_back({json::array{"body", "telephony_call_config", "ringing_timeout_secs"},
                            low ? "greater_than_equal" : "less_than_equal",
                            low ? "Input should be greater than or equal to 1"
                                : "Input should be less than or equal to 999",
                            *rt, low ? json::object{{"ge", 1}} : json::object{{"le", 999}}});
      } else {
        ringing_timeout = static_cast<int>(rt->as_int64());
      }
    }
  }
  if (!problems.empty()) return answer(ValidationError(problems));

  // 2. Directory lookups.
  const Agent* agent = FindAgent(agent_id);
  if (agent == nullptr) {
    return answer(ElevenLabsError(404, "not_found", "agent_not_found",
                                  common::Cat("Agent with id ", agent_id, " was not found"),
                                  req.request_id));
  }
  const PhoneNumber* number = FindNumber(number_id);
  if (number == nullptr) {
    return answer(ElevenLabsError(404, "not_found", "phone_number_not_found",
                                  common::Cat("Phone number with id ", number_id, " was not found"),
                                  req.request_id));
  }
  if (number->provider != provider) {
    return answer(ElevenLabsError(
        400, "invalid_request", "invalid_provider_config",
        provider == "twilio"
            ? common::Cat("We are missing some Twilio credentials for the number ", number_id,
                          ". Is it a SIP trunk number?")
            : common::Cat("Phone number ", number_id, " is not configured as a SIP trunk"),
        req.request_id));
  }
  if (!IsE164(to_number)) {
    return answer(ElevenLabsError(400, "invalid_request", "invalid_parameters",
                                  "to_number must be a phone number in E.164 format",
                                  req.request_id, false, "to_number"));
  }

  absl::MutexLock lock(&mu_);
  // 3. Fault switches.
  std::optional<OutboundFault> fault;
  for (auto it = outbound_faults_.begin(); it != outbound_faults_.end(); ++it) {
    if (!it->to_number.empty() && it->to_number != to_number) continue;
    fault = *it;
    if (it->remaining > 0 && --it->remaining == 0) outbound_faults_.erase(it);
    break;
  }
  auto finish = [&](Reply r) {
    ++outbound_by_status_[r.drop_connection ? std::string("lost") : std::to_string(r.status)];
    return r;
  };
  auto fault_error = [&]() {
    Reply r = ElevenLabsError(fault->status,
                              fault->type.empty() ? TypeForStatus(fault->status) : fault->type,
                              fault->code.empty() ? CodeForStatus(fault->status) : fault->code,
                              fault->message.empty() ? "Simulated failure" : fault->message,
                              req.request_id, fault->legacy);
    if (fault->retry_after > 0)
      r.headers.emplace_back("Retry-After", std::to_string(fault->retry_after));
    r.delay = absl::Milliseconds(fault->delay_ms);
    return r;
  };
  if (fault && fault->kind == "error" && !fault->place_call) return finish(fault_error());
  if (fault && fault->kind == "success_false") {
    json::object r{{"success", false},
                   {"message", "HTTP 401 error: Unable to create record: Authenticate"},
                   {"conversation_id", nullptr}};
    r[provider == "twilio" ? "callSid" : "sip_call_id"] = nullptr;
    return finish(JsonReply(200, r));
  }
  // 4. Call concurrency.
  if (LiveCalls() >= max_concurrent_calls_) {
    return finish(ElevenLabsError(
        429, "rate_limit_error", "concurrent_limit_exceeded",
        common::Cat("Too many concurrent calls: the limit of ", max_concurrent_calls_,
                    " simultaneous calls is reached. Retry once a call has finished."),
        req.request_id));
  }
  // 5. Place the call.
  Conversation c;
  c.id = RandomId("conv_", 28);
  c.agent_id = agent->id;
  c.agent_name = agent->name;
  c.phone_number_id = number->id;
  c.provider = std::string(provider);
  c.to_number = to_number;
  c.call_sid = provider == "twilio" ? RandomId("CA", 32) : Uuid4();
  c.stream_sid = RandomId("MZ", 32);
  c.client_data = client_data;
  if (const json::value* uid = Field(client_data, "user_id"); uid && uid->is_string()) {
    c.user_id = std::string(uid->as_string());
  }
  c.ringing_timeout_secs = ringing_timeout;
  c.max_duration_secs = agent->max_duration_secs;
  if (const json::value* ov = Field(client_data, "conversation_config_override");
      ov && ov->is_object()) {
    for (const auto& section : ov->as_object()) {
      if (!section.value().is_object()) continue;
      for (const auto& f : section.value().as_object()) {
        if (f.value().is_null()) continue;
        const std::string path =
            common::Cat(std::string_view(section.key()), ".", std::string_view(f.key()));
        if (agent->overridable.count(path) == 0) {
          if (override_policy_ == "fail" && c.override_error.empty()) {
            c.override_error =
                common::Cat("Override for field '", path, "' is not allowed by config.");
          }
          continue;
        }
        if (path == "conversation.max_duration_seconds" && f.value().is_int64() &&
            f.value().as_int64() > 0) {
          c.max_duration_secs = static_cast<int>(f.value().as_int64());
        }
      }
    }
  }
  auto chosen = number_scenarios_.find(to_number);
  c.scenario = chosen != number_scenarios_.end()
                   ? chosen->second
                   : ScenarioForNumber(to_number).value_or(default_scenario_);
  c.start = clock_.Now();
  if (!c.call_sid.empty()) by_call_sid_[c.call_sid] = c.id;
  ++calls_placed_;
  ++dialled_by_number_[to_number];
  if (!c.user_id.empty()) ++dialled_by_correlation_[c.user_id];
  const std::string id = c.id, call_sid = c.call_sid;
  auto [it, inserted] = conversations_.emplace(c.id, std::move(c));
  Schedule(it->second, absl::Seconds(RingSeconds(it->second.scenario, ringing_timeout)),
           Step::kRingEnd);
  spdlog::info("simulated call placed: conversation {} to {} scenario {}", id,
               common::MaskPhone(to_number), ScenarioName(it->second.scenario));

  if (fault && fault->kind == "error") return finish(fault_error());  // placed, then failed
  json::object ok{{"success", true}, {"message", "Success"}, {"conversation_id", id}};
  ok[provider == "twilio" ? "callSid" : "sip_call_id"] = call_sid;
  AddExtraFields(ok);
  Reply r = JsonReply(200, ok);
  if (fault && fault->kind == "slow") r.delay = absl::Milliseconds(fault->delay_ms);
  if (fault && fault->kind == "lost_response") {
    r.drop_connection = true;
    r.delay = absl::Milliseconds(fault->delay_ms);
  }
  return finish(std::move(r));
}

Reply Simulator::ListConversations(const HttpRequest& req, const PathParams&) {
  int64_t page_size = 30;
  if (auto bad = IntParam(req, "page_size", 1, 100, page_size)) return *bad;
  int64_t after = INT64_MIN, before = INT64_MAX;
  if (auto bad = IntParam(req, "call_start_after_unix", INT64_MIN, INT64_MAX, after)) return *bad;
  if (auto bad = IntParam(req, "call_start_before_unix", INT64_MIN, INT64_MAX, before)) return *bad;
  const auto successful = req.Query("call_successful");
  if (successful && *successful != "success" && *successful != "failure" &&
      *successful != "unknown") {
    return ValidationError(
        {{json::array{"query", "call_successful"}, "enum",
          "Input should be 'success', 'failure' or 'unknown'", json::value(*successful),
          json::object{{"expected", "'success', 'failure' or 'unknown'"}}}});
  }
  const auto summary_mode = req.Query("summary_mode").value_or("exclude");
  if (summary_mode != "exclude" && summary_mode != "include") {
    return ValidationError(
        {{json::array{"query", "summary_mode"}, "enum", "Input should be 'exclude' or 'include'",
          json::value(summary_mode), json::object{{"expected", "'exclude' or 'include'"}}}});
  }
  const auto agent = req.Query("agent_id");
  const auto user = req.Query("user_id");
  // Keyset cursor: (start time, conversation id) of the last item returned, newest first.
  std::optional<std::pair<int64_t, std::string>> from;
  if (auto cursor = req.Query("cursor"); cursor && !cursor->empty()) {
    auto raw = DecodeCursor(*cursor);
    const size_t colon = raw ? raw->find(':', 5) : std::string::npos;
    int64_t t = 0;
    if (!raw || !raw->starts_with("conv:") || colon == std::string::npos ||
        !common::ParseInt(raw->substr(5, colon - 5), &t)) {
      return ElevenLabsError(400, "invalid_request", "invalid_cursor", "Invalid cursor",
                             req.request_id, false, "cursor");
    }
    from = std::make_pair(t, raw->substr(colon + 1));
  }
  absl::MutexLock lock(&mu_);
  std::vector<const Conversation*> rows;
  for (const auto& [id, c] : conversations_) {
    if (c.deleted) continue;
    const int64_t start = absl::ToUnixSeconds(c.start);
    if (start <= after || start >= before) continue;
    if (agent && c.agent_id != *agent) continue;
    if (user && c.user_id != *user) continue;
    if (successful) {
      const std::string s =
          c.analysis.is_object()
              ? std::string(c.analysis.as_object().at("call_successful").as_string())
              : "unknown";
      if (s != *successful) continue;
    }
    rows.push_back(&c);
  }
  auto key = [](const Conversation* c) {
    return std::make_pair(absl::ToUnixMicros(c->start), c->id);
  };
  std::sort(rows.begin(), rows.end(), [&](auto* a, auto* b) { return key(a) > key(b); });
  json::array out;
  std::pair<int64_t, std::string> last;
  bool more = false;
  for (const Conversation* c : rows) {
    if (from && !(key(c) < *from)) continue;
    if (out.size() == static_cast<size_t>(page_size)) {
      more = true;
      break;
    }
    out.push_back(SummaryJson(*c, summary_mode == "include"));
    last = key(c);
  }
  return JsonReply(200,
                   json::object{{"conversations", std::move(out)},
                                {"next_cursor", more ? json::value(EncodeCursor(common::Cat(
                                                           "conv:", last.first, ":", last.second)))
                                                     : json::value(nullptr)},
                                {"has_more", more}});
}

Reply Simulator::GetConversation(const HttpRequest& req, const PathParams& path) {
  const std::string_view id = path.Get("conversation_id");
  absl::MutexLock lock(&mu_);
  auto it = conversations_.find(std::string(id));
  if (it == conversations_.end() || it->second.deleted) {
    return ElevenLabsError(404, "not_found", "conversation_not_found",
                           common::Cat("Conversation with id ", id, " was not found"),
                           req.request_id);
  }
  return JsonReply(200, ConversationJson(it->second));
}

Reply Simulator::DeleteConversation(const HttpRequest& req, const PathParams& path) {
  const std::string_view id = path.Get("conversation_id");
  absl::MutexLock lock(&mu_);
  auto it = conversations_.find(std::string(id));
  if (it == conversations_.end() || it->second.deleted) {
    return ElevenLabsError(404, "not_found", "conversation_not_found",
                           common::Cat("Conversation with id ", id, " was not found"),
                           req.request_id);
  }
  // As in ElevenLabs: the record (transcript, analysis, audio) is erased; a live call is NOT
  // hung up and keeps running (its webhooks are still sent when it ends).
  Conversation& c = it->second;
  c.deleted = true;
  c.transcript.clear();
  c.pending_analysis.clear();
  c.analysis = nullptr;
  c.has_audio = false;
  c.client_data.clear();
  spdlog::info("conversation {} deleted (call status {})", c.id, c.status);
  return JsonReply(200, json::object());
}

Reply Simulator::GetAudio(const HttpRequest& req, const PathParams& path) {
  const std::string_view id = path.Get("conversation_id");
  absl::MutexLock lock(&mu_);
  auto it = conversations_.find(std::string(id));
  if (it == conversations_.end() || it->second.deleted) {
    return ElevenLabsError(404, "not_found", "conversation_not_found",
                           common::Cat("Conversation with id ", id, " was not found"),
                           req.request_id);
  }
  if (!it->second.has_audio) {
    return ElevenLabsError(404, "not_found", "audio_not_found",
                           common::Cat("Conversation ", id, " has no audio"), req.request_id);
  }
  Reply r;
  r.content_type = "audio/mpeg";
  r.body = SilentMp3(it->second.duration_secs);
  return r;
}

Reply Simulator::WorkspaceWebhooks(const HttpRequest&, const PathParams&) {
  return JsonReply(200, json::object{{"webhooks", json::array{webhooks_.WorkspaceWebhook()}}});
}
}  // namespace outcall::sim
