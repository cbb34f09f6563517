// The conversation model as JSON: GET /v1/convai/conversations/{id} and the post-call
// transcription webhook (ConversationJson), the list's summaries (SummaryJson).
#include <boost/json.hpp>

#include "outcall/common/strings.h"
#include "simulator.h"
#include "simulator_internal.h"

namespace outcall::sim {

namespace json = boost::json;

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
}  // namespace outcall::sim
