#include "simulator.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>

#include "http_server.h"
#include "mp3.h"
#include "outcall/common/crypto.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"

namespace outcall::sim {

namespace json = boost::json;

namespace {

constexpr int kAnalysisSeconds = 4;                // processing -> done
constexpr int64_t kDirectoryCreated = 1740787200;  // 2025-03-01

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

std::string Rfc2822(absl::Time t) {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", t, absl::UTCTimeZone());
}

const json::value* Field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() ? nullptr : &it->value();
}

bool IsE164(std::string_view s) {
  if (s.size() < 8 || s.size() > 16 || s[0] != '+' || s[1] == '0') return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; });
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

Reply NotFoundRoute() { return JsonReply(404, json::object{{"detail", "Not Found"}}); }
Reply MethodNotAllowed() { return JsonReply(405, json::object{{"detail", "Method Not Allowed"}}); }

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

json::object ParseJsonObject(std::string_view body, std::string& error) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) {
    error = ec.message();
    return {};
  }
  if (!v.is_object()) {
    error = "not an object";
    return {};
  }
  return std::move(v.as_object());
}

}  // namespace

Simulator::Simulator(SimConfig config)
    : config_(std::move(config)),
      clock_(config_.time_scale),
      webhooks_(config_, clock_),
      max_concurrent_calls_(config_.max_concurrent_calls),
      override_policy_(config_.override_policy) {
  SeedDirectory();
  clock_.OnChange([this] {
    {
      absl::MutexLock lock(&mu_);
      cv_.SignalAll();
    }
    webhooks_.Wake();
  });
}

Simulator::~Simulator() { Stop(); }

void Simulator::SeedDirectory() {
  const std::string cut = "Hemos alcanzado el tiempo máximo de la llamada. Gracias por atendernos.";
  agents_ = {
      {config_.agent_id,
       "Confirmación de citas",
       {"citas", "confirmacion"},
       kDirectoryCreated,
       {"agent.first_message", "agent.language", "conversation.max_duration_seconds"},
       600,
       "Hola, le hablamos de la clínica para confirmar su cita.",
       cut},
      {"agent_sim_recordatorios",
       "Recordatorio de citas",
       {"citas", "recordatorio"},
       kDirectoryCreated + 86400,
       {"conversation.max_duration_seconds"},
       600,
       "Hola, le recordamos su cita.",
       cut},
      {"agent_sim_campanas",
       "Campaña de vacunación",
       {"campanas"},
       kDirectoryCreated + 2 * 86400,
       {},
       600,
       "Hola, le invitamos a la jornada de vacunación.",
       cut},
      {"agent_sim_encuestas",
       "Encuesta de satisfacción",
       {"encuestas"},
       kDirectoryCreated + 3 * 86400,
       {},
       300,
       "Hola, ¿nos regala un minuto para una encuesta?",
       cut},
      {"agent_sim_resultados",
       "Entrega de resultados",
       {"resultados"},
       kDirectoryCreated + 4 * 86400,
       {},
       600,
       "Hola, sus resultados están listos.",
       cut},
  };
  numbers_ = {
      {config_.phone_number_id, "+576015550100", "Línea principal (Twilio)", "twilio",
       config_.agent_id},
      {"phnum_sim_sip", "+576015550101", "Troncal SIP", "sip_trunk", "agent_sim_recordatorios"},
  };
}

absl::StatusOr<int> Simulator::Start() {
  server_ = std::make_unique<HttpServer>([this](HttpRequest& req) { return Handle(req); }, 2);
  auto port = server_->Listen(config_.listen_address);
  if (!port.ok()) return port.status();
  port_ = *port;
  {
    absl::MutexLock lock(&mu_);
    running_ = true;
  }
  scheduler_ = std::thread([this] { RunScheduler(); });
  webhooks_.Start();
  return port_;
}

void Simulator::Stop() {
  if (server_) server_->Stop();
  {
    absl::MutexLock lock(&mu_);
    if (!running_) return;
    running_ = false;
    cv_.SignalAll();
  }
  scheduler_.join();
  webhooks_.Stop();
}

std::string Simulator::base_url() const {
  const size_t colon = config_.listen_address.rfind(':');
  std::string host = config_.listen_address.substr(0, colon);
  if (host == "0.0.0.0") host = "127.0.0.1";
  return common::Cat("http://", host, ":", port_);
}

// ---------------------------------------------------------------------------------------------
// Call engine

void Simulator::RunScheduler() {
  absl::MutexLock lock(&mu_);
  while (running_) {
    if (events_.empty()) {
      cv_.WaitWithTimeout(&mu_, absl::Seconds(1));
      continue;
    }
    const Event next = events_.top();
    const absl::Duration wait = clock_.RealDelayUntil(next.at);
    if (wait > absl::ZeroDuration()) {
      cv_.WaitWithTimeout(&mu_, std::min(wait, absl::Seconds(1)));
      continue;
    }
    events_.pop();
    auto it = conversations_.find(next.conversation_id);
    if (it == conversations_.end() || it->second.generation != next.generation) continue;
    Advance(it->second, next.step);
  }
}

void Simulator::Schedule(const Conversation& c, absl::Duration after, Step step) {
  events_.push(Event{clock_.Now() + after, next_seq_++, c.id, c.generation, step});
  cv_.SignalAll();
}

void Simulator::Advance(Conversation& c, Step step) {
  switch (step) {
    case Step::kRingEnd:
      if (!c.override_error.empty() || !IsAnswered(c.scenario)) {
        FailInitiation(c, c.scenario == Scenario::kBusy       ? "busy"
                          : c.scenario == Scenario::kNoAnswer ? "no-answer"
                                                              : "failed");
      } else {
        Answer(c);
      }
      break;
    case Step::kTalkEnd:
      EndTalk(c, /*hung_up=*/false);
      break;
    case Step::kDone:
      Finish(c);
      break;
  }
}

void Simulator::Answer(Conversation& c) {
  c.status = "in-progress";
  c.twilio_status = "in-progress";
  c.accepted = clock_.Now();
  Schedule(c, absl::Seconds(TalkSeconds(c.scenario, c.max_duration_secs)), Step::kTalkEnd);
}

void Simulator::EndTalk(Conversation& c, bool hung_up) {
  const absl::Time now = clock_.Now();
  c.status = "processing";
  c.twilio_status = "completed";
  c.ended = now;
  c.hung_up = hung_up;
  c.duration_secs = static_cast<int>(absl::ToInt64Seconds(now - c.accepted.value_or(now)));
  const Agent* agent = FindAgent(c.agent_id);
  json::object vars;
  if (const json::value* dv = Field(c.client_data, "dynamic_variables"); dv && dv->is_object()) {
    vars = dv->as_object();
  }
  CallContent content = BuildContent(c.scenario, vars, c.duration_secs, hung_up, c.agent_id,
                                     agent ? agent->max_duration_message : "");
  c.transcript = std::move(content.transcript);
  c.pending_analysis = std::move(content.analysis);
  c.termination_reason = std::move(content.termination_reason);
  ++c.generation;  // a hang-up cancels the scheduled end
  Schedule(c, absl::Seconds(kAnalysisSeconds), Step::kDone);
}

void Simulator::Finish(Conversation& c) {
  c.status = "done";
  c.analysis = std::move(c.pending_analysis);
  c.has_audio = true;
  c.cost = 30 + int64_t{c.duration_secs} * 9;
  c.cost_fiat = std::round(c.duration_secs / 60.0 * 0.10 * 10000.0) / 10000.0;
  const absl::Time now = clock_.Now();
  webhooks_.Send("post_call_transcription", c.id, ConversationJson(c), now);
  webhooks_.Send("post_call_audio", c.id,
                 json::object{{"agent_id", c.agent_id},
                              {"conversation_id", c.id},
                              {"full_audio", Base64Encode(SilentMp3(c.duration_secs))}},
                 now);
  spdlog::info("simulated call finished: conversation {} scenario {} duration {}s", c.id,
               ScenarioName(c.scenario), c.duration_secs);
}

void Simulator::FailInitiation(Conversation& c, std::string_view twilio_status) {
  const absl::Time now = clock_.Now();
  c.status = "failed";
  c.twilio_status = std::string(twilio_status);
  c.ended = now;
  ++c.generation;
  std::string reason = "unknown";
  int sip_code = 500;
  std::string sip_reason = "Server Internal Error";
  if (twilio_status == "busy") {
    reason = "busy";
    sip_code = 486;
    sip_reason = "Busy Here";
  } else if (twilio_status == "no-answer") {
    reason = "no-answer";
    sip_code = 480;
    sip_reason = "Temporarily Unavailable";
  } else if (twilio_status == "canceled") {
    sip_code = 487;
    sip_reason = "Request Terminated";
  }
  if (!c.override_error.empty()) {
    c.error = std::make_pair(1008, c.override_error);
  } else if (twilio_status == "failed") {
    c.error = std::make_pair(1011, std::string("Call could not be connected: SIP 500"));
  }
  c.termination_reason = reason == "unknown" ? "Call failed" : common::Cat("Call ", reason);
  const PhoneNumber* number = FindNumber(c.phone_number_id);
  json::object metadata;
  if (c.provider == "twilio") {
    metadata =
        json::object{{"type", "twilio"},
                     {"body", json::object{{"AccountSid", config_.twilio_account_sid.empty()
                                                              ? "ACsimulated00000000000000000000000"
                                                              : config_.twilio_account_sid},
                                           {"ApiVersion", "2010-04-01"},
                                           {"CallSid", c.call_sid},
                                           {"CallStatus", twilio_status},
                                           {"CallbackSource", "call-progress-events"},
                                           {"Called", c.to_number},
                                           {"Caller", number ? number->number : ""},
                                           {"Direction", "outbound-api"},
                                           {"From", number ? number->number : ""},
                                           {"To", c.to_number},
                                           {"ToCountry", "CO"},
                                           {"FromCountry", "CO"},
                                           {"SipResponseCode", std::to_string(sip_code)},
                                           {"SequenceNumber", "0"},
                                           {"Timestamp", Rfc2822(now)},
                                           {"Duration", "0"},
                                           {"CallDuration", "0"}}}};
  } else {
    metadata = json::object{
        {"type", "sip"},
        {"body",
         json::object{{"from_number", number ? number->number : ""},
                      {"to_number", c.to_number},
                      {"sip_status_code", sip_code},
                      {"sip_status", sip_reason},
                      {"error_reason", common::Cat("INVITE failed: sip status: ", sip_code, ": ",
                                                   sip_reason, " (SIP ", sip_code, ")")},
                      {"call_sid", c.call_sid}}}};
  }
  webhooks_.Send("call_initiation_failure", c.id,
                 json::object{{"agent_id", c.agent_id},
                              {"conversation_id", c.id},
                              {"failure_reason", reason},
                              {"metadata", std::move(metadata)}},
                 now);
  spdlog::info("simulated call failed to connect: conversation {} reason {}", c.id, reason);
}

int Simulator::LiveCalls() const {
  int n = 0;
  for (const auto& [id, c] : conversations_) {
    if (c.status == "initiated" || c.status == "in-progress") ++n;
  }
  return n;
}

const Simulator::Agent* Simulator::FindAgent(std::string_view id) const {
  for (const auto& a : agents_) {
    if (a.id == id) return &a;
  }
  return nullptr;
}

const Simulator::PhoneNumber* Simulator::FindNumber(std::string_view id) const {
  for (const auto& n : numbers_) {
    if (n.id == id) return &n;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// JSON models

void Simulator::AddExtraFields(json::object& o) const {
  if (!config_.extra_fields) return;
  // Fields a client cannot know about, as the real API keeps adding them.
  o["sim_unannounced_field"] =
      json::object{{"introduced", "future"}, {"values", json::array{1, 2}}};
}

json::object Simulator::ConversationJson(const Conversation& c) const {
  const PhoneNumber* number = FindNumber(c.phone_number_id);
  json::object phone_call;
  if (c.provider == "twilio") {
    phone_call = json::object{{"direction", "outbound"},
                              {"phone_number_id", c.phone_number_id},
                              {"agent_number", number ? number->number : ""},
                              {"external_number", c.to_number},
                              {"type", "twilio"},
                              {"stream_sid", c.stream_sid},
                              {"call_sid", c.call_sid}};
  } else {
    phone_call = json::object{{"direction", "outbound"},
                              {"phone_number_id", c.phone_number_id},
                              {"agent_number", number ? number->number : ""},
                              {"external_number", c.to_number},
                              {"type", "sip_trunking"},
                              {"call_sid", c.call_sid},
                              {"call_id", nullptr},
                              {"sip_header_dynamic_variables", json::object()}};
  }
  int duration = c.duration_secs;
  if (c.status == "in-progress" && c.accepted) {
    duration = static_cast<int>(absl::ToInt64Seconds(clock_.Now() - *c.accepted));
  }
  json::object metadata{
      {"start_time_unix_secs", absl::ToUnixSeconds(c.start)},
      {"accepted_time_unix_secs",
       c.accepted ? json::value(absl::ToUnixSeconds(*c.accepted)) : json::value(nullptr)},
      {"call_duration_secs", duration},
      {"cost", c.cost ? json::value(*c.cost) : json::value(nullptr)},
      {"cost_fiat", c.cost ? json::value(c.cost_fiat) : json::value(nullptr)},
      {"deletion_settings", json::object{{"deletion_time_unix_secs", nullptr},
                                         {"deleted_logs_at_time_unix_secs", nullptr},
                                         {"deleted_audio_at_time_unix_secs", nullptr},
                                         {"deleted_transcript_at_time_unix_secs", nullptr},
                                         {"delete_transcript_and_pii", false},
                                         {"delete_audio", false}}},
      {"feedback", json::object{{"type", nullptr},
                                {"overall_score", nullptr},
                                {"likes", 0},
                                {"dislikes", 0},
                                {"rating", nullptr},
                                {"comment", nullptr}}},
      {"authorization_method", "authorization_header"},
      {"charging",
       json::object{{"dev_discount", false},
                    {"is_burst", false},
                    {"tier", "business"},
                    {"llm_usage", json::object()},
                    {"llm_price", nullptr},
                    {"llm_charge", nullptr},
                    {"call_charge", c.cost ? json::value(*c.cost) : json::value(nullptr)}}},
      {"phone_call", std::move(phone_call)},
      {"batch_call", nullptr},
      {"termination_reason", c.termination_reason},
      {"error",
       c.error ? json::value(json::object{{"code", c.error->first}, {"reason", c.error->second}})
               : json::value(nullptr)},
      {"main_language", "es"},
      {"text_only", false},
      {"rag_usage", nullptr},
      {"features_usage", json::object()},
      {"conversation_initiation_source", c.provider == "twilio" ? "twilio" : "sip_trunk"},
      {"timezone", nullptr},
      {"warnings", json::array()},
  };
  json::object client_data = c.client_data;
  json::object vars;
  if (const json::value* dv = Field(client_data, "dynamic_variables"); dv && dv->is_object()) {
    vars = dv->as_object();
  }
  vars["system__agent_id"] = c.agent_id;
  vars["system__conversation_id"] = c.id;
  vars["system__called_number"] = c.to_number;
  vars["system__caller_id"] = number ? number->number : "";
  if (c.provider == "twilio") vars["system__call_sid"] = c.call_sid;
  client_data["dynamic_variables"] = std::move(vars);
  for (const char* key : {"conversation_config_override", "custom_llm_extra_body"}) {
    if (!client_data.contains(key)) client_data[key] = json::object();
  }
  if (!client_data.contains("user_id")) client_data["user_id"] = nullptr;
  json::object out{
      {"agent_id", c.agent_id},
      {"agent_name", c.agent_name},
      {"conversation_id", c.id},
      {"status", c.status},
      {"user_id", c.user_id.empty() ? json::value(nullptr) : json::value(c.user_id)},
      {"branch_id", nullptr},
      {"version_id", nullptr},
      {"transcript", c.transcript},
      {"metadata", std::move(metadata)},
      {"analysis", c.analysis},
      {"conversation_initiation_client_data", std::move(client_data)},
      {"has_audio", c.has_audio},
      {"has_user_audio", c.has_audio},
      {"has_response_audio", c.has_audio},
      {"has_auxiliary_audio", false},
      {"conversation_product", "agent"},
      {"environment", "production"},
      {"visited_agents",
       json::array{json::object{{"agent_id", c.agent_id}, {"branch_id", nullptr}}}},
      {"tag_ids", json::array()},
  };
  AddExtraFields(out);
  return out;
}

json::object Simulator::SummaryJson(const Conversation& c, bool with_summary) const {
  std::string successful = "unknown";
  json::value summary = nullptr, title = nullptr;
  if (c.analysis.is_object()) {
    const auto& a = c.analysis.as_object();
    successful = std::string(a.at("call_successful").as_string());
    if (with_summary) summary = a.at("transcript_summary");
    title = a.at("call_summary_title");
  }
  int duration = c.duration_secs;
  if (c.status == "in-progress" && c.accepted) {
    duration = static_cast<int>(absl::ToInt64Seconds(clock_.Now() - *c.accepted));
  }
  json::object out{
      {"agent_id", c.agent_id},
      {"agent_name", c.agent_name},
      {"conversation_id", c.id},
      {"start_time_unix_secs", absl::ToUnixSeconds(c.start)},
      {"call_duration_secs", duration},
      {"message_count", c.transcript.size()},
      {"status", c.status},
      {"call_successful", successful},
      {"transcript_summary", summary},
      {"call_summary_title", title},
      {"direction", "outbound"},
      {"termination_reason", c.termination_reason},
      {"main_language", "es"},
      {"conversation_initiation_source", c.provider == "twilio" ? "twilio" : "sip_trunk"},
      {"tag_ids", json::array()}};
  AddExtraFields(out);
  return out;
}

json::object Simulator::TwilioCallJson(const Conversation& c) const {
  const PhoneNumber* number = FindNumber(c.phone_number_id);
  const std::string uri = common::Cat("/2010-04-01/Accounts/", config_.twilio_account_sid,
                                      "/Calls/", c.call_sid, ".json");
  const int duration = c.ended && c.accepted ? c.duration_secs : 0;
  return json::object{
      {"sid", c.call_sid},
      {"account_sid", config_.twilio_account_sid},
      {"to", c.to_number},
      {"from", number ? number->number : ""},
      {"status", c.twilio_status},
      {"direction", "outbound-api"},
      {"date_created", Rfc2822(c.start)},
      {"date_updated", Rfc2822(clock_.Now())},
      {"start_time", c.accepted ? json::value(Rfc2822(*c.accepted)) : json::value(nullptr)},
      {"end_time", c.ended ? json::value(Rfc2822(*c.ended)) : json::value(nullptr)},
      {"duration", c.ended ? json::value(std::to_string(duration)) : json::value(nullptr)},
      {"price", nullptr},
      {"price_unit", "USD"},
      {"answered_by", nullptr},
      {"parent_call_sid", nullptr},
      {"phone_number_sid", nullptr},
      {"queue_time", "0"},
      {"api_version", "2010-04-01"},
      {"uri", uri},
  };
}

// ---------------------------------------------------------------------------------------------
// Routing

Reply Simulator::Handle(HttpRequest& req) {
  Reply reply = Route(req);
  if (req.path.starts_with("/v1/") && config_.extra_fields) {
    reply.headers.emplace_back("x-sim-note", "simulated ElevenLabs API");
  }
  return reply;
}

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

Reply Simulator::Route(HttpRequest& req) {
  const std::vector<std::string_view> parts = common::Split(req.path, '/', /*skip_empty=*/true);
  const std::string& m = req.method;
  auto count = [&](std::string_view route) {
    absl::MutexLock lock(&mu_);
    ++requests_by_route_[common::Cat(m, " ", route)];
  };
  if (!parts.empty() && parts[0] == "__sim") return Control(req, parts);

  // Twilio: /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json
  if (parts.size() == 5 && parts[0] == "2010-04-01" && parts[1] == "Accounts" &&
      parts[3] == "Calls" && parts[4].ends_with(".json")) {
    if (m != "POST" && m != "GET") return MethodNotAllowed();
    count("/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json");
    return TwilioCall(req, parts[2], parts[4].substr(0, parts[4].size() - 5));
  }
  if (parts.size() < 2 || parts[0] != "v1") return NotFoundRoute();
  // Route matching first (unknown routes are 404 even without a key, as in FastAPI).
  enum class R { kNone, kAgents, kAgent, kNumbers, kTwilio, kSip, kConvs, kConv, kAudio, kHooks };
  R route = R::kNone;
  std::string_view want;  // the method the route accepts
  std::string_view id;
  const size_t n = parts.size();
  if (n == 3 && parts[1] == "convai" && parts[2] == "agents")
    route = R::kAgents, want = "GET";
  else if (n == 4 && parts[1] == "convai" && parts[2] == "agents")
    route = R::kAgent, want = "GET", id = parts[3];
  else if (n == 3 && parts[1] == "convai" && parts[2] == "phone-numbers")
    route = R::kNumbers, want = "GET";
  else if (n == 4 && parts[1] == "convai" && parts[2] == "twilio" && parts[3] == "outbound-call")
    route = R::kTwilio, want = "POST";
  else if (n == 4 && parts[1] == "convai" && parts[2] == "sip-trunk" && parts[3] == "outbound-call")
    route = R::kSip, want = "POST";
  else if (n == 3 && parts[1] == "convai" && parts[2] == "conversations")
    route = R::kConvs, want = "GET";
  else if (n == 4 && parts[1] == "convai" && parts[2] == "conversations")
    route = R::kConv, id = parts[3];
  else if (n == 5 && parts[1] == "convai" && parts[2] == "conversations" && parts[4] == "audio")
    route = R::kAudio, want = "GET", id = parts[3];
  else if (n == 3 && parts[1] == "workspace" && parts[2] == "webhooks")
    route = R::kHooks, want = "GET";
  if (route == R::kNone) return NotFoundRoute();
  if (route == R::kConv) {
    if (m != "GET" && m != "DELETE") return MethodNotAllowed();
  } else if (m != want) {
    return MethodNotAllowed();
  }
  if (auto denied = CheckApiKey(req)) return *denied;
  switch (route) {
    case R::kAgents:
      count("/v1/convai/agents");
      return ListAgents(req);
    case R::kAgent:
      count("/v1/convai/agents/{agent_id}");
      return GetAgent(req, id);
    case R::kNumbers:
      count("/v1/convai/phone-numbers");
      return ListPhoneNumbers(req);
    case R::kTwilio:
      count("/v1/convai/twilio/outbound-call");
      return OutboundCall(req, "twilio");
    case R::kSip:
      count("/v1/convai/sip-trunk/outbound-call");
      return OutboundCall(req, "sip_trunk");
    case R::kConvs:
      count("/v1/convai/conversations");
      return ListConversations(req);
    case R::kConv:
      count("/v1/convai/conversations/{conversation_id}");
      return m == "GET" ? GetConversation(req, id) : DeleteConversation(req, id);
    case R::kAudio:
      count("/v1/convai/conversations/{conversation_id}/audio");
      return GetAudio(req, id);
    case R::kHooks:
      count("/v1/workspace/webhooks");
      return WorkspaceWebhooks(req);
    case R::kNone:
      break;
  }
  return NotFoundRoute();
}

// ---------------------------------------------------------------------------------------------
// ElevenLabs endpoints

Reply Simulator::ListAgents(const HttpRequest& req) {
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

Reply Simulator::GetAgent(const HttpRequest& req, std::string_view id) {
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

Reply Simulator::ListPhoneNumbers(const HttpRequest& req) {
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
      item["provider_config"] = json::object{{"address", "sip.clinica.invalid"},
                                             {"transport", "tls"},
                                             {"media_encryption", "required"},
                                             {"headers", json::object()},
                                             {"has_auth_credentials", true},
                                             {"username", "clinica-sip"},
                                             {"has_outbound_trunk", true}};
      item["outbound_trunk"] = json::object{{"address", "sip.clinica.invalid"},
                                            {"transport", "tls"},
                                            {"media_encryption", "required"},
                                            {"headers", json::object()},
                                            {"has_auth_credentials", true},
                                            {"username", "clinica-sip"}};
      item["inbound_trunk"] = json::object{{"allowed_addresses", json::array{"sip.clinica.invalid"}},
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

Reply Simulator::ListConversations(const HttpRequest& req) {
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

Reply Simulator::GetConversation(const HttpRequest& req, std::string_view id) {
  absl::MutexLock lock(&mu_);
  auto it = conversations_.find(std::string(id));
  if (it == conversations_.end() || it->second.deleted) {
    return ElevenLabsError(404, "not_found", "conversation_not_found",
                           common::Cat("Conversation with id ", id, " was not found"),
                           req.request_id);
  }
  return JsonReply(200, ConversationJson(it->second));
}

Reply Simulator::DeleteConversation(const HttpRequest& req, std::string_view id) {
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

Reply Simulator::GetAudio(const HttpRequest& req, std::string_view id) {
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

Reply Simulator::WorkspaceWebhooks(const HttpRequest& req) {
  return JsonReply(200, json::object{{"webhooks", json::array{webhooks_.WorkspaceWebhook()}}});
}

// ---------------------------------------------------------------------------------------------
// Twilio: POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json  (Status=completed|canceled)

Reply Simulator::TwilioCall(const HttpRequest& req, std::string_view account_sid,
                            std::string_view call_sid) {
  bool authorised = false;
  const std::string_view auth = req.Header("authorization");
  if (!config_.twilio_account_sid.empty() && auth.starts_with("Basic ")) {
    const std::string expected = Base64Encode(
        common::Cat(config_.twilio_account_sid, ":", config_.twilio_auth_token.Reveal()));
    authorised = common::ConstantTimeEquals(auth.substr(6), expected) &&
                 account_sid == config_.twilio_account_sid;
  }
  if (!authorised) return TwilioError(401, 20003, "Authenticate");
  const std::string uri =
      common::Cat("/2010-04-01/Accounts/", account_sid, "/Calls/", call_sid, ".json");
  absl::MutexLock lock(&mu_);
  auto sid = by_call_sid_.find(std::string(call_sid));
  auto it = sid == by_call_sid_.end() ? conversations_.end() : conversations_.find(sid->second);
  if (it == conversations_.end() || it->second.provider != "twilio") {
    // Twilio does not know SIP-trunk calls either.
    return TwilioError(404, 20404, common::Cat("The requested resource ", uri, " was not found"));
  }
  Conversation& c = it->second;
  if (req.method == "GET") return JsonReply(200, TwilioCallJson(c));
  std::string status;
  std::vector<std::pair<std::string, std::string>> form;
  ParseTarget(common::Cat("?", req.body), status, form);
  status.clear();
  for (const auto& [k, v] : form) {
    if (k == "Status")
      status = v;
    else if (k == "Url" || k == "Twiml" || k == "Method") {
      return TwilioError(400, 20001,
                         common::Cat("The simulator only supports Status updates, not ", k));
    }
  }
  if (status != "completed" && status != "canceled") {
    return TwilioError(400, 20001, "Status must be completed or canceled");
  }
  ++hangups_;
  if (c.status == "initiated") {
    FailInitiation(c, "canceled");  // both values end a call that is still ringing
  } else if (c.status == "in-progress" && status == "completed") {
    EndTalk(c, /*hung_up=*/true);
  }
  // canceled on an answered call, or any update of a finished call: no change (as Twilio).
  spdlog::info("twilio call update Status={} for conversation {}: now {}", status, c.id,
               c.twilio_status);
  return JsonReply(200, TwilioCallJson(c));
}

// ---------------------------------------------------------------------------------------------
// Control endpoint: /__sim/...

Reply Simulator::Control(HttpRequest& req, const std::vector<std::string_view>& parts) {
  const std::string what = parts.size() > 1 ? std::string(parts[1]) : "";
  const std::string& m = req.method;
  std::string parse_error;
  json::object body;
  if (m == "POST" || m == "PUT" || m == "PATCH") {
    body = req.body.empty() ? json::object() : ParseJsonObject(req.body, parse_error);
    if (!parse_error.empty()) {
      return JsonReply(
          400, json::object{{"error", common::Cat("body must be a JSON object: ", parse_error)}});
    }
  }
  auto bad = [](std::string msg) {
    return JsonReply(400, json::object{{"error", std::move(msg)}});
  };

  if (what == "health" && m == "GET") return JsonReply(200, json::object{{"status", "ok"}});

  if (what == "reset" && m == "POST") {
    {
      absl::MutexLock lock(&mu_);
      conversations_.clear();
      by_call_sid_.clear();
      events_ = {};
      number_scenarios_.clear();
      default_scenario_ = Scenario::kConfirmed;
      outbound_faults_.clear();
      max_concurrent_calls_ = config_.max_concurrent_calls;
      override_policy_ = config_.override_policy;
      outbound_requests_ = calls_placed_ = hangups_ = 0;
      dialled_by_number_.clear();
      dialled_by_correlation_.clear();
      requests_by_route_.clear();
      outbound_by_status_.clear();
    }
    webhooks_.Reset();
    clock_.SetScale(config_.time_scale);
    return JsonReply(200, json::object{{"reset", true}});
  }

  if (what == "counters" && m == "GET") {
    json::object out;
    {
      absl::MutexLock lock(&mu_);
      auto to_json = [](const std::map<std::string, int64_t>& m) {
        json::object o;
        for (const auto& [k, v] : m)
          if (v != 0) o[k] = v;
        return o;
      };
      int live = LiveCalls();
      out = json::object{{"outbound_call_requests", outbound_requests_},
                         {"calls_placed", calls_placed_},
                         {"live_calls", live},
                         {"hangup_requests", hangups_},
                         {"dialled_by_number", to_json(dialled_by_number_)},
                         {"dialled_by_correlation_id", to_json(dialled_by_correlation_)},
                         {"outbound_responses", to_json(outbound_by_status_)},
                         {"requests", to_json(requests_by_route_)}};
    }
    out["webhooks"] = webhooks_.Counters();
    return JsonReply(200, out);
  }

  if (what == "scenarios") {
    if (m == "PUT" || m == "POST") {
      absl::MutexLock lock(&mu_);
      if (const json::value* d = Field(body, "default")) {
        auto s = d->is_string() ? ScenarioFromName(d->as_string()) : std::nullopt;
        if (!s) return bad("default: unknown scenario");
        default_scenario_ = *s;
      }
      if (const json::value* nums = Field(body, "numbers")) {
        if (!nums->is_object())
          return bad("numbers: must be an object of E.164 number -> scenario");
        for (const auto& kv : nums->as_object()) {
          if (!IsE164(kv.key()))
            return bad(
                common::Cat("numbers: '", std::string_view(kv.key()), "' is not an E.164 number"));
          if (kv.value().is_null()) {
            number_scenarios_.erase(std::string(kv.key()));
            continue;
          }
          auto s = kv.value().is_string() ? ScenarioFromName(kv.value().as_string()) : std::nullopt;
          if (!s)
            return bad(common::Cat("numbers: unknown scenario for ", std::string_view(kv.key())));
          number_scenarios_[std::string(kv.key())] = *s;
        }
      }
    } else if (m != "GET") {
      return MethodNotAllowed();
    }
    absl::MutexLock lock(&mu_);
    json::array available;
    for (const auto& info : AllScenarios()) {
      available.push_back(json::object{
          {"name", info.name},
          {"description", info.description},
          {"example_number", common::Cat("+57300555000", std::string(1, info.suffix_digit))}});
    }
    json::object numbers;
    for (const auto& [num, s] : number_scenarios_) numbers[num] = ScenarioName(s);
    return JsonReply(200, json::object{{"default", ScenarioName(default_scenario_)},
                                       {"numbers", std::move(numbers)},
                                       {"available", std::move(available)}});
  }

  if (what == "faults") {
    if (m == "DELETE") {
      {
        absl::MutexLock lock(&mu_);
        outbound_faults_.clear();
      }
      webhooks_.SetFaults({});
    } else if (m == "PUT" || m == "POST") {
      std::vector<OutboundFault> outbound;
      std::vector<WebhookFault> hooks;
      auto remaining = [](const json::object& o) {
        const json::value* t = Field(o, "times");
        return t && t->is_int64() ? (t->as_int64() == 0 ? -1 : static_cast<int>(t->as_int64())) : 1;
      };
      auto str = [](const json::object& o, std::string_view k) {
        const json::value* v = Field(o, k);
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
      };
      auto num = [](const json::object& o, std::string_view k, int64_t d) {
        const json::value* v = Field(o, k);
        return v && v->is_int64() ? v->as_int64() : d;
      };
      if (const json::value* list = Field(body, "outbound")) {
        if (!list->is_array()) return bad("outbound: must be an array");
        for (const auto& item : list->as_array()) {
          if (!item.is_object()) return bad("outbound: items must be objects");
          const auto& o = item.as_object();
          OutboundFault f;
          f.kind = str(o, "kind");
          if (f.kind != "error" && f.kind != "slow" && f.kind != "lost_response" &&
              f.kind != "success_false") {
            return bad("outbound: kind must be error, slow, lost_response or success_false");
          }
          f.status = static_cast<int>(num(o, "status", 503));
          if (f.status < 400 || f.status > 599) return bad("outbound: status must be 400-599");
          f.type = str(o, "type");
          f.code = str(o, "code");
          f.message = str(o, "message");
          f.retry_after = static_cast<int>(num(o, "retry_after", 0));
          f.delay_ms = static_cast<int>(num(o, "delay_ms", f.kind == "slow" ? 2000 : 0));
          const json::value* legacy = Field(o, "legacy");
          f.legacy = legacy && legacy->is_bool() && legacy->as_bool();
          const json::value* place = Field(o, "place_call");
          f.place_call = place && place->is_bool() && place->as_bool();
          f.to_number = str(o, "to_number");
          f.remaining = remaining(o);
          outbound.push_back(std::move(f));
        }
      }
      if (const json::value* list = Field(body, "webhooks")) {
        if (!list->is_array()) return bad("webhooks: must be an array");
        for (const auto& item : list->as_array()) {
          if (!item.is_object()) return bad("webhooks: items must be objects");
          const auto& o = item.as_object();
          WebhookFault f;
          f.kind = str(o, "kind");
          if (std::find(kWebhookFaultKinds.begin(), kWebhookFaultKinds.end(), f.kind) ==
              kWebhookFaultKinds.end()) {
            return bad(common::Cat("webhooks: unknown kind '", f.kind, "'"));
          }
          f.type = str(o, "type");
          f.bytes = num(o, "bytes", f.bytes);
          if (f.bytes < 1 || f.bytes > (int64_t{512} << 20))
            return bad("webhooks: bytes must be 1..512 MiB");
          f.remaining = remaining(o);
          hooks.push_back(std::move(f));
        }
      }
      if (Field(body, "outbound")) {
        absl::MutexLock lock(&mu_);
        outbound_faults_ = std::move(outbound);
      }
      if (Field(body, "webhooks")) webhooks_.SetFaults(std::move(hooks));
    } else if (m != "GET") {
      return MethodNotAllowed();
    }
    json::array outbound;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& f : outbound_faults_) {
        json::object o{{"kind", f.kind}, {"remaining", f.remaining}};
        if (f.kind == "error") {
          o["status"] = f.status;
          o["place_call"] = f.place_call;
        }
        if (f.delay_ms) o["delay_ms"] = f.delay_ms;
        if (!f.to_number.empty()) o["to_number"] = common::MaskPhone(f.to_number);
        outbound.push_back(std::move(o));
      }
    }
    return JsonReply(
        200, json::object{{"outbound", std::move(outbound)}, {"webhooks", webhooks_.FaultsJson()}});
  }

  if (what == "clock") {
    if (m == "POST" || m == "PUT") {
      if (const json::value* s = Field(body, "scale")) {
        if (!s->is_number() || s->to_number<double>() < 0)
          return bad("scale: must be a number >= 0");
        clock_.SetScale(s->to_number<double>());
      }
      if (const json::value* a = Field(body, "advance_secs")) {
        if (!a->is_number() || a->to_number<double>() < 0)
          return bad("advance_secs: must be a number >= 0");
        // Step in small increments so every event in between fires in order.
        double left = a->to_number<double>();
        while (left > 0) {
          const double step = std::min(left, 1.0);
          clock_.Advance(absl::Seconds(step));
          left -= step;
          for (int i = 0; i < 200; ++i) {  // let due events run before the next step
            bool pending = false;
            {
              absl::MutexLock lock(&mu_);
              pending = !events_.empty() && events_.top().at <= clock_.Now();
            }
            if (!pending) break;
            absl::SleepFor(absl::Milliseconds(1));
          }
        }
      }
    } else if (m != "GET") {
      return MethodNotAllowed();
    }
    return JsonReply(200, json::object{{"now_unix_ms", absl::ToUnixMillis(clock_.Now())},
                                       {"real_now_unix_ms", absl::ToUnixMillis(absl::Now())},
                                       {"scale", clock_.scale()}});
  }

  if (what == "settings") {
    if (m == "PATCH" || m == "PUT" || m == "POST") {
      if (const json::value* v = Field(body, "max_concurrent_calls")) {
        if (!v->is_int64() || v->as_int64() < 1)
          return bad("max_concurrent_calls: must be an integer >= 1");
        absl::MutexLock lock(&mu_);
        max_concurrent_calls_ = static_cast<int>(v->as_int64());
      }
      if (const json::value* v = Field(body, "webhook_retry")) {
        if (!v->is_bool()) return bad("webhook_retry: must be true or false");
        webhooks_.SetRetry(v->as_bool());
      }
      if (const json::value* v = Field(body, "override_policy")) {
        if (!v->is_string() || (v->as_string() != "ignore" && v->as_string() != "fail")) {
          return bad("override_policy: must be ignore or fail");
        }
        absl::MutexLock lock(&mu_);
        override_policy_ = std::string(v->as_string());
      }
    } else if (m != "GET") {
      return MethodNotAllowed();
    }
    absl::MutexLock lock(&mu_);
    return JsonReply(200, json::object{{"max_concurrent_calls", max_concurrent_calls_},
                                       {"webhook_retry", webhooks_.retry()},
                                       {"override_policy", override_policy_},
                                       {"webhook_url_configured", !config_.webhook_url.empty()},
                                       {"twilio_configured", !config_.twilio_account_sid.empty()}});
  }

  if (what == "webhooks" && m == "GET") return JsonReply(200, webhooks_.Snapshot());

  return JsonReply(
      404, json::object{
               {"error", "unknown control endpoint"},
               {"endpoints", json::array{"GET /__sim/health", "GET /__sim/counters",
                                         "POST /__sim/reset", "GET|PUT /__sim/scenarios",
                                         "GET|PUT|DELETE /__sim/faults", "GET|POST /__sim/clock",
                                         "GET|PATCH /__sim/settings", "GET /__sim/webhooks"}}});
}

}  // namespace outcall::sim
