// The simulator's REST surface: authentication, agents, phone numbers, outbound-call validation
// and errors, conversations (list, get, delete, audio) and the workspace webhook list.
#include <set>

#include "outcall/common/strings.h"
#include "sim_fixture.h"

namespace outcall::sim::testing {
namespace {

using common::Cat;

const json::object& Detail(const Response& r) { return r.json.at("detail").as_object(); }

TEST_F(SimTest, MissingOrWrongApiKeyIs401WithElevenLabsErrorBody) {
  Response missing = Call("GET", "/v1/convai/agents", {}, "-");
  EXPECT_EQ(missing.status, 401);
  EXPECT_EQ(Detail(missing).at("code").as_string(), "missing_api_key");
  EXPECT_EQ(Detail(missing).at("type").as_string(), "authentication_error");
  EXPECT_EQ(Detail(missing).at("status").as_string(), "missing_api_key");
  EXPECT_FALSE(missing.raw.Header("request-id").empty());
  EXPECT_EQ(Detail(missing).at("request_id").as_string(), missing.raw.Header("request-id"));

  Response wrong = Call("GET", "/v1/convai/conversations", {}, "sk_wrong");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(Detail(wrong).at("code").as_string(), "invalid_api_key");
  // Control endpoints and unknown routes need no key; unknown routes are FastAPI's 404.
  EXPECT_EQ(Call("GET", "/v1/convai/nothing-here", {}, "-").status, 404);
  EXPECT_EQ(Call("PUT", "/v1/convai/agents").status, 405);
}

TEST_F(SimTest, AgentsPageWithCursorAndSearch) {
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  while (true) {
    Response r =
        Call("GET", Cat("/v1/convai/agents?page_size=2", cursor.empty() ? "" : "&cursor=", cursor));
    ASSERT_EQ(r.status, 200) << r.raw.body;
    const auto& page = r.json.as_object();
    ++pages;
    for (const auto& a : page.at("agents").as_array()) {
      EXPECT_TRUE(seen.insert(std::string(a.at("agent_id").as_string())).second);
      EXPECT_TRUE(a.as_object().contains("created_at_unix_secs"));
      EXPECT_TRUE(a.as_object().contains("tags"));
      EXPECT_TRUE(a.as_object().contains("access_info"));
      EXPECT_TRUE(a.as_object().contains("last_call_time_unix_secs"));
      EXPECT_TRUE(a.as_object().contains("archived"));
      // The list's AgentSummary has no conversation config: the voice is in GET agents/{id}.
      EXPECT_FALSE(a.as_object().contains("conversation_config"));
      EXPECT_FALSE(a.as_object().contains("voice_id"));
    }
    EXPECT_LE(page.at("agents").as_array().size(), 2u);
    if (!page.at("has_more").as_bool()) {
      EXPECT_TRUE(page.at("next_cursor").is_null());
      break;
    }
    cursor = std::string(page.at("next_cursor").as_string());
    ASSERT_LT(pages, 10);
  }
  EXPECT_EQ(seen.size(), 6u);  // five clinic agents and the original README's agent_123
  EXPECT_EQ(pages, 3);
  EXPECT_TRUE(seen.count("agent_sim_confirmaciones"));

  Response search = Call("GET", "/v1/convai/agents?search=CITAS");
  ASSERT_EQ(search.status, 200);
  EXPECT_EQ(search.json.at("agents").as_array().size(), 2u);  // confirmación, recordatorio

  Response too_big = Call("GET", "/v1/convai/agents?page_size=101");
  EXPECT_EQ(too_big.status, 422);
  const auto& problem = too_big.json.at("detail").as_array().at(0).as_object();
  EXPECT_EQ(problem.at("loc"), (json::array{"query", "page_size"}));
  EXPECT_EQ(problem.at("type").as_string(), "less_than_equal");
  EXPECT_EQ(Call("GET", "/v1/convai/agents?page_size=abc").status, 422);
  Response bad_cursor = Call("GET", "/v1/convai/agents?cursor=%21%21");
  EXPECT_EQ(bad_cursor.status, 400);
  EXPECT_EQ(Detail(bad_cursor).at("code").as_string(), "invalid_cursor");
}

TEST_F(SimTest, GetAgentAndUnknownAgent) {
  Response r = Call("GET", "/v1/convai/agents/agent_sim_confirmaciones");
  ASSERT_EQ(r.status, 200);
  const auto& a = r.json.as_object();
  EXPECT_EQ(a.at("name").as_string(), "Confirmación de citas");
  EXPECT_EQ(a.at("conversation_config").at("conversation").at("max_duration_seconds").as_int64(),
            600);
  EXPECT_FALSE(a.at("conversation_config").at("tts").at("voice_id").as_string().empty());
  EXPECT_TRUE(a.at("platform_settings")
                  .at("overrides")
                  .at("conversation_config_override")
                  .at("conversation")
                  .at("max_duration_seconds")
                  .as_bool());
  EXPECT_EQ(a.at("platform_settings").at("call_limits").at("agent_concurrency_limit").as_int64(),
            -1);
  EXPECT_EQ(a.at("phone_numbers").as_array().at(0).at("phone_number_id").as_string(),
            "phnum_sim_twilio");
  EXPECT_TRUE(a.contains("sim_unannounced_field"));  // clients must tolerate unknown fields

  Response missing = Call("GET", "/v1/convai/agents/agent_nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Detail(missing).at("code").as_string(), "agent_not_found");
}

TEST_F(SimTest, PhoneNumbersArrayFilteredByProvider) {
  Response all = Call("GET", "/v1/convai/phone-numbers");
  ASSERT_EQ(all.status, 200);
  ASSERT_TRUE(all.json.is_array());
  EXPECT_EQ(all.json.as_array().size(), 2u);
  Response sip = Call("GET", "/v1/convai/phone-numbers?provider=sip_trunk");
  ASSERT_EQ(sip.json.as_array().size(), 1u);
  const auto& n = sip.json.as_array().at(0).as_object();
  EXPECT_EQ(n.at("provider").as_string(), "sip_trunk");
  EXPECT_EQ(n.at("phone_number_id").as_string(), "phnum_sim_sip");
  EXPECT_TRUE(n.contains("livekit_stack"));
  // The SIP trunk configs carry what ElevenLabs' SDK requires of each: media_encryption (one of
  // its enum values) and has_auth_credentials (a bool), in provider_config and in both trunks.
  const std::set<std::string> encryptions = {"disabled", "allowed", "required"};
  for (const char* config : {"provider_config", "outbound_trunk", "inbound_trunk"}) {
    ASSERT_TRUE(n.contains(config)) << config;
    ASSERT_TRUE(n.at(config).is_object()) << config;
    const auto& c = n.at(config).as_object();
    ASSERT_TRUE(c.contains("media_encryption")) << config;
    ASSERT_TRUE(c.at("media_encryption").is_string()) << config;
    EXPECT_TRUE(encryptions.count(std::string(c.at("media_encryption").as_string()))) << config;
    ASSERT_TRUE(c.contains("has_auth_credentials")) << config;
    EXPECT_TRUE(c.at("has_auth_credentials").is_bool()) << config;
    EXPECT_FALSE(c.contains("password")) << config;  // credentials are never returned
  }
  EXPECT_EQ(n.at("provider_config").at("transport").as_string(), "tls");
  EXPECT_EQ(n.at("outbound_trunk").at("address").as_string(), "sip.clinica.invalid");
  EXPECT_TRUE(n.at("outbound_trunk").at("has_auth_credentials").as_bool());
  EXPECT_TRUE(n.at("inbound_trunk").at("allowed_addresses").is_array());
  // Twilio numbers have no trunk configuration.
  Response twilio = Call("GET", "/v1/convai/phone-numbers?provider=twilio");
  ASSERT_EQ(twilio.json.as_array().size(), 1u);
  EXPECT_FALSE(twilio.json.as_array().at(0).as_object().contains("provider_config"));
  EXPECT_EQ(Call("GET", "/v1/convai/phone-numbers?provider=vonage").status, 422);
}

TEST_F(SimTest, OutboundCallValidationIsFastApi422) {
  Response empty = Call("POST", "/v1/convai/twilio/outbound-call", "{}");
  ASSERT_EQ(empty.status, 422);
  std::set<std::string> missing;
  for (const auto& p : empty.json.at("detail").as_array()) {
    EXPECT_EQ(p.at("type").as_string(), "missing");
    EXPECT_EQ(p.at("msg").as_string(), "Field required");
    missing.insert(std::string(p.at("loc").as_array().at(1).as_string()));
  }
  EXPECT_EQ(missing, (std::set<std::string>{"agent_id", "agent_phone_number_id", "to_number"}));

  Response not_json = Call("POST", "/v1/convai/twilio/outbound-call", "{not json");
  EXPECT_EQ(not_json.status, 422);
  EXPECT_EQ(not_json.json.at("detail").at(0).at("type").as_string(), "json_invalid");

  const std::string base =
      R"({"agent_id":"agent_sim_confirmaciones","agent_phone_number_id":"phnum_sim_twilio","to_number":"+573001112233")";
  Response nested =
      Call("POST", "/v1/convai/twilio/outbound-call",
           base + R"(,"conversation_initiation_client_data":{"dynamic_variables":{"x":{"a":1}}}})");
  EXPECT_EQ(nested.status, 422);
  EXPECT_EQ(nested.json.at("detail").at(0).at("loc").as_array().back().as_string(), "x");
  Response ring = Call("POST", "/v1/convai/twilio/outbound-call",
                       base + R"(,"telephony_call_config":{"ringing_timeout_secs":0}})");
  EXPECT_EQ(ring.status, 422);
  EXPECT_EQ(ring.json.at("detail").at(0).at("type").as_string(), "greater_than_equal");
  Response wrong_type = Call(
      "POST", "/v1/convai/twilio/outbound-call",
      R"({"agent_id":1,"agent_phone_number_id":"phnum_sim_twilio","to_number":"+573001112233"})");
  EXPECT_EQ(wrong_type.status, 422);
  EXPECT_EQ(wrong_type.json.at("detail").at(0).at("type").as_string(), "string_type");
  EXPECT_EQ(Control("GET", "counters").at("calls_placed").as_int64(), 0);
}

TEST_F(SimTest, OutboundCallDirectoryErrors) {
  auto post = [&](std::string_view endpoint, std::string_view agent, std::string_view number,
                  std::string_view to) {
    return Call("POST", Cat("/v1/convai/", endpoint, "/outbound-call"),
                Cat(R"({"agent_id":")", agent, R"(","agent_phone_number_id":")", number,
                    R"(","to_number":")", to, R"("})"));
  };
  Response agent = post("twilio", "agent_nope", "phnum_sim_twilio", "+573001112233");
  EXPECT_EQ(agent.status, 404);
  EXPECT_EQ(Detail(agent).at("code").as_string(), "agent_not_found");
  Response number = post("twilio", "agent_sim_confirmaciones", "phnum_nope", "+573001112233");
  EXPECT_EQ(number.status, 404);
  EXPECT_EQ(Detail(number).at("code").as_string(), "phone_number_not_found");
  Response sip_on_twilio =
      post("twilio", "agent_sim_confirmaciones", "phnum_sim_sip", "+573001112233");
  EXPECT_EQ(sip_on_twilio.status, 400);
  EXPECT_EQ(Detail(sip_on_twilio).at("code").as_string(), "invalid_provider_config");
  Response twilio_on_sip =
      post("sip-trunk", "agent_sim_confirmaciones", "phnum_sim_twilio", "+573001112233");
  EXPECT_EQ(twilio_on_sip.status, 400);
  EXPECT_EQ(Detail(twilio_on_sip).at("code").as_string(), "invalid_provider_config");
  Response bad_to = post("twilio", "agent_sim_confirmaciones", "phnum_sim_twilio", "3001112233");
  EXPECT_EQ(bad_to.status, 400);
  EXPECT_EQ(Detail(bad_to).at("param").as_string(), "to_number");
  EXPECT_EQ(Control("GET", "counters").at("calls_placed").as_int64(), 0);
}

TEST_F(SimTest, TwilioAndSipCallsAnswerWithTheirOwnIds) {
  Response twilio = Call(
      "POST", "/v1/convai/twilio/outbound-call",
      R"({"agent_id":"agent_sim_confirmaciones","agent_phone_number_id":"phnum_sim_twilio","to_number":"+573001112233"})");
  ASSERT_EQ(twilio.status, 200);
  const auto& t = twilio.json.as_object();
  EXPECT_TRUE(t.at("success").as_bool());
  EXPECT_TRUE(t.at("conversation_id").as_string().starts_with("conv_"));
  EXPECT_TRUE(t.at("callSid").as_string().starts_with("CA"));  // the one camelCase key
  EXPECT_EQ(t.at("callSid").as_string().size(), 34u);
  EXPECT_FALSE(t.contains("sip_call_id"));

  Response sip = Call(
      "POST", "/v1/convai/sip-trunk/outbound-call",
      R"({"agent_id":"agent_sim_recordatorios","agent_phone_number_id":"phnum_sim_sip","to_number":"+573001112244"})");
  ASSERT_EQ(sip.status, 200);
  const auto& s = sip.json.as_object();
  EXPECT_EQ(s.at("sip_call_id").as_string().size(), 36u);  // a UUID
  EXPECT_FALSE(s.contains("callSid"));
  Response conv =
      Call("GET", Cat("/v1/convai/conversations/", s.at("conversation_id").as_string()));
  ASSERT_EQ(conv.status, 200);
  EXPECT_EQ(conv.json.at("metadata").at("phone_call").at("type").as_string(), "sip_trunking");
  EXPECT_EQ(conv.json.at("metadata").at("phone_call").at("call_sid"), s.at("sip_call_id"));
}

TEST_F(SimTest, ConversationEchoesTheRequestAndHasTheRealModel) {
  const std::string id =
      Place("+573001112233",
            R"("dynamic_variables":{"patient_name":"Ana Ruiz","appointment_id":"456","n":3},)"
            R"("conversation_config_override":{"conversation":{"max_duration_seconds":300}})");
  Response r = Call("GET", "/v1/convai/conversations/" + id);
  ASSERT_EQ(r.status, 200);
  const auto& c = r.json.as_object();
  EXPECT_EQ(c.at("status").as_string(), "initiated");
  EXPECT_EQ(c.at("user_id").as_string(), "corr-+573001112233");
  EXPECT_TRUE(c.at("analysis").is_null());
  EXPECT_FALSE(c.at("has_audio").as_bool());
  const auto& cd = c.at("conversation_initiation_client_data").as_object();
  EXPECT_EQ(cd.at("dynamic_variables").at("patient_name").as_string(), "Ana Ruiz");
  EXPECT_EQ(cd.at("dynamic_variables").at("n").as_int64(), 3);
  EXPECT_EQ(cd.at("dynamic_variables").at("system__conversation_id").as_string(), id);
  EXPECT_EQ(cd.at("conversation_config_override")
                .at("conversation")
                .at("max_duration_seconds")
                .as_int64(),
            300);
  const auto& md = c.at("metadata").as_object();
  EXPECT_EQ(md.at("phone_call").at("type").as_string(), "twilio");
  EXPECT_EQ(md.at("phone_call").at("external_number").as_string(), "+573001112233");
  EXPECT_TRUE(md.at("accepted_time_unix_secs").is_null());
  for (const char* key : {"agent_id", "agent_name", "transcript", "has_user_audio",
                          "has_response_audio", "conversation_product", "sim_unannounced_field"}) {
    EXPECT_TRUE(c.contains(key)) << key;
  }
  Response missing = Call("GET", "/v1/convai/conversations/conv_nope");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(Detail(missing).at("code").as_string(), "conversation_not_found");
}

TEST_F(SimTest, ListConversationsFiltersAndPagesNewestFirst) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(Place(Cat("+57300111220", i)));
    Advance(1);  // distinct start times
  }
  Advance(10);
  const int64_t third_start = Call("GET", "/v1/convai/conversations/" + ids[2])
                                  .json.at("metadata")
                                  .at("start_time_unix_secs")
                                  .as_int64();
  std::vector<std::string> listed;
  std::string cursor;
  for (int page = 0; page < 5; ++page) {
    Response r =
        Call("GET", Cat("/v1/convai/conversations?page_size=2&agent_id=agent_sim_confirmaciones",
                        cursor.empty() ? "" : "&cursor=", cursor));
    ASSERT_EQ(r.status, 200);
    for (const auto& c : r.json.at("conversations").as_array()) {
      listed.push_back(std::string(c.at("conversation_id").as_string()));
      EXPECT_TRUE(c.at("transcript_summary").is_null());  // summary_mode=exclude by default
    }
    if (!r.json.at("has_more").as_bool()) break;
    cursor = std::string(r.json.at("next_cursor").as_string());
  }
  EXPECT_EQ(listed, (std::vector<std::string>{ids[4], ids[3], ids[2], ids[1], ids[0]}));

  Response by_user = Call("GET", "/v1/convai/conversations?user_id=corr-%2B573001112202");
  ASSERT_EQ(by_user.json.at("conversations").as_array().size(), 1u);
  EXPECT_EQ(by_user.json.at("conversations").at(0).at("conversation_id").as_string(), ids[2]);

  Response after =
      Call("GET", Cat("/v1/convai/conversations?call_start_after_unix=", third_start - 1));
  EXPECT_EQ(after.json.at("conversations").as_array().size(), 3u);
  Response before =
      Call("GET", Cat("/v1/convai/conversations?call_start_before_unix=", third_start));
  EXPECT_EQ(before.json.at("conversations").as_array().size(), 2u);
  Response other_agent = Call("GET", "/v1/convai/conversations?agent_id=agent_sim_campanas");
  EXPECT_TRUE(other_agent.json.at("conversations").as_array().empty());

  Advance(60);
  Response ok =
      Call("GET", "/v1/convai/conversations?call_successful=success&summary_mode=include");
  ASSERT_EQ(ok.json.at("conversations").as_array().size(), 5u);
  EXPECT_TRUE(ok.json.at("conversations").at(0).at("transcript_summary").is_string());
  EXPECT_TRUE(Call("GET", "/v1/convai/conversations?call_successful=failure")
                  .json.at("conversations")
                  .as_array()
                  .empty());
  EXPECT_EQ(Call("GET", "/v1/convai/conversations?call_successful=maybe").status, 422);
  EXPECT_EQ(Call("GET", "/v1/convai/conversations?page_size=0").status, 422);
  EXPECT_EQ(Call("GET", "/v1/convai/conversations?cursor=Zm9v").status, 400);
}

TEST_F(SimTest, AudioOnlyOnceTheCallIsDone) {
  const std::string id = Place("+573005550001");
  Response early = Call("GET", Cat("/v1/convai/conversations/", id, "/audio"));
  EXPECT_EQ(early.status, 404);
  Advance(60);
  Response audio = Call("GET", Cat("/v1/convai/conversations/", id, "/audio"));
  ASSERT_EQ(audio.status, 200);
  EXPECT_EQ(audio.raw.Header("content-type"), "audio/mpeg");
  ASSERT_GT(audio.raw.body.size(), 144u * 10);
  EXPECT_EQ(static_cast<unsigned char>(audio.raw.body[0]), 0xFF);  // MPEG frame sync
  EXPECT_EQ(static_cast<unsigned char>(audio.raw.body[1]), 0xFB);
  EXPECT_EQ(audio.raw.body.size() % 144, 0u);
}

TEST_F(SimTest, DeleteErasesTheRecordButDoesNotEndALiveCall) {
  const std::string id = Place("+573005550001");
  Advance(10);  // answered
  ASSERT_EQ(Status(id), "in-progress");
  Response del = Call("DELETE", "/v1/convai/conversations/" + id);
  EXPECT_EQ(del.status, 200);
  EXPECT_EQ(Call("GET", "/v1/convai/conversations/" + id).status, 404);
  EXPECT_EQ(Call("DELETE", "/v1/convai/conversations/" + id).status, 404);
  EXPECT_TRUE(Call("GET", "/v1/convai/conversations").json.at("conversations").as_array().empty());
  EXPECT_EQ(Control("GET", "counters").at("live_calls").as_int64(), 1);  // still talking
  Advance(60);
  EXPECT_EQ(Control("GET", "counters").at("live_calls").as_int64(), 0);
  auto hooks = WaitForWebhooks(2);  // the call ended normally and reported
  EXPECT_EQ(hooks[0].Type(), "post_call_transcription");
}

TEST_F(SimTest, WorkspaceWebhookListing) {
  Response r = Call("GET", "/v1/workspace/webhooks");
  ASSERT_EQ(r.status, 200);
  const auto& w = r.json.at("webhooks").at(0).as_object();
  EXPECT_EQ(w.at("auth_type").as_string(), "hmac");
  EXPECT_FALSE(w.at("is_auto_disabled").as_bool());
  EXPECT_EQ(w.at("webhook_url").as_string(), config_.webhook_url);
}

}  // namespace
}  // namespace outcall::sim::testing
