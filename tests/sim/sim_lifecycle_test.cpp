// Call lifecycles on the virtual clock: every scripted outcome, its states, transcript,
// analysis, cost, and the signed webhooks it sends; hang-ups through Twilio's call update;
// maximum duration and override permissions; concurrency cap; time scaling.
#include <thread>

#include "outcall/common/strings.h"
#include "outcall/elevenlabs/webhook_signature.h"
#include "sim_fixture.h"

namespace outcall::sim::testing {
namespace {

using common::Cat;

// Checks the signature of a received webhook with the project's verifier.
absl::Status Verify(const Received& r, const std::string& secret) {
  elevenlabs::WebhookSignatureVerifier verifier({.secrets = {common::Secret(secret)}});
  auto it = r.headers.find("elevenlabs-signature");
  return verifier.Verify(it == r.headers.end() ? "" : it->second, r.body);
}

struct Outcome {
  std::string number;
  std::string final_status;                // GET status at the end
  std::vector<std::string> webhook_types;  // in order of delivery
  std::string call_successful;             // "" when no analysis
  std::string collected_true;              // the data_collection_results flag that is true
  std::string failure_reason;              // call_initiation_failure's
};

class ScenarioTest : public SimTest, public ::testing::WithParamInterface<Outcome> {};

TEST_P(ScenarioTest, PlaysTheScenarioAndSendsSignedWebhooks) {
  const Outcome& want = GetParam();
  const std::string id = Place(
      want.number, R"("dynamic_variables":{"patient_name":"Ana Ruiz","appointment_time":"10:00"})");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(Status(id), "initiated");
  // Walk the clock second by second and record every status the conversation shows.
  std::vector<std::string> statuses{"initiated"};
  for (int s = 0; s < 700 && statuses.back() != "done" && statuses.back() != "failed"; ++s) {
    Advance(1);
    const std::string now = Status(id);
    if (now != statuses.back()) statuses.push_back(now);
  }
  if (want.final_status == "done") {
    EXPECT_EQ(statuses,
              (std::vector<std::string>{"initiated", "in-progress", "processing", "done"}));
  } else {
    EXPECT_EQ(statuses, (std::vector<std::string>{"initiated", "failed"}));
  }
  Response r = Call("GET", "/v1/convai/conversations/" + id);
  const auto& c = r.json.as_object();
  const auto& md = c.at("metadata").as_object();
  auto hooks = WaitForWebhooks(want.webhook_types.size());
  std::vector<std::string> types;
  for (const auto& h : hooks) {
    types.push_back(h.Type());
    EXPECT_TRUE(Verify(h, webhook_secret_).ok()) << h.Type();
    EXPECT_EQ(h.headers.at("content-type"), "application/json");
  }
  EXPECT_EQ(types, want.webhook_types);
  if (want.final_status == "done") {
    EXPECT_GT(md.at("call_duration_secs").as_int64(), 0);
    EXPECT_GT(md.at("cost").as_int64(), 0);
    EXPECT_FALSE(md.at("accepted_time_unix_secs").is_null());
    EXPECT_TRUE(c.at("has_audio").as_bool());
    const auto& analysis = c.at("analysis").as_object();
    EXPECT_EQ(analysis.at("call_successful").as_string(), want.call_successful);
    EXPECT_FALSE(analysis.at("transcript_summary").as_string().empty());
    const auto& collected = analysis.at("data_collection_results").as_object();
    for (const char* flag :
         {"appointment_confirmed", "reschedule_requested", "do_not_call", "voicemail_detected"}) {
      EXPECT_EQ(collected.at(flag).at("value").as_bool(), want.collected_true == flag) << flag;
    }
    ASSERT_FALSE(c.at("transcript").as_array().empty());
    bool spanish = false, tool_turn = false;
    for (const auto& t : c.at("transcript").as_array()) {
      if (t.at("message").is_null())
        tool_turn = true;
      else if (t.at("message").as_string().find("cita") != json::string::npos)
        spanish = true;
    }
    EXPECT_TRUE(spanish);
    EXPECT_TRUE(tool_turn || want.number.ends_with("8"));
    // The transcription webhook carries the same model as GET.
    const json::value env = hooks[0].Json();
    EXPECT_EQ(env.at("data").at("conversation_id").as_string(), id);
    EXPECT_EQ(env.at("data").at("status").as_string(), "done");
    EXPECT_TRUE(env.at("event_timestamp").is_int64());
    EXPECT_EQ(env.at("data").at("analysis"), c.at("analysis"));
    EXPECT_EQ(env.at("data").at("user_id").as_string(), Cat("corr-", want.number));
    // The audio webhook: chunked, base64 MP3 in full_audio, nothing else.
    const Received& audio = hooks[1];
    EXPECT_EQ(audio.headers.at("transfer-encoding"), "chunked");
    const json::value audio_json = audio.Json();
    const auto& data = audio_json.at("data").as_object();
    EXPECT_EQ(data.size(), 3u);
    EXPECT_EQ(data.at("conversation_id").as_string(), id);
    EXPECT_TRUE(data.at("full_audio").as_string().starts_with("//s"));  // base64 of FF FB 18
  } else {
    EXPECT_EQ(md.at("call_duration_secs").as_int64(), 0);
    EXPECT_FALSE(c.at("has_audio").as_bool());
    const json::value env = hooks[0].Json();
    EXPECT_EQ(env.at("data").at("failure_reason").as_string(), want.failure_reason);
    EXPECT_EQ(env.at("data").at("metadata").at("type").as_string(), "twilio");
    const auto& body = env.at("data").at("metadata").at("body").as_object();
    EXPECT_EQ(body.at("To").as_string(), want.number);
    EXPECT_EQ(body.at("Direction").as_string(), "outbound-api");
    EXPECT_EQ(body.at("CallSid"), c.at("metadata").at("phone_call").at("call_sid"));
    if (want.failure_reason == "unknown") {
      EXPECT_FALSE(md.at("error").is_null());
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllOutcomes, ScenarioTest,
    ::testing::Values(
        Outcome{"+573005550001",
                "done",
                {"post_call_transcription", "post_call_audio"},
                "success",
                "appointment_confirmed",
                ""},
        Outcome{"+573005550002",
                "done",
                {"post_call_transcription", "post_call_audio"},
                "success",
                "reschedule_requested",
                ""},
        Outcome{"+573005550003",
                "done",
                {"post_call_transcription", "post_call_audio"},
                "success",
                "do_not_call",
                ""},
        Outcome{"+573005550004",
                "done",
                {"post_call_transcription", "post_call_audio"},
                "failure",
                "voicemail_detected",
                ""},
        Outcome{"+573005550005", "failed", {"call_initiation_failure"}, "", "", "busy"},
        Outcome{"+573005550006", "failed", {"call_initiation_failure"}, "", "", "no-answer"},
        Outcome{"+573005550007", "failed", {"call_initiation_failure"}, "", "", "unknown"},
        Outcome{"+573005550008",
                "done",
                {"post_call_transcription", "post_call_audio"},
                "unknown",
                "",
                ""}),
    [](const auto& info) { return info.param.number.substr(1); });

TEST_F(SimTest, LongCallIsCutAtItsMaximumDuration) {
  const std::string id =
      Place("+573005550008",
            R"("conversation_config_override":{"conversation":{"max_duration_seconds":120}})");
  Advance(200);
  Response r = Call("GET", "/v1/convai/conversations/" + id);
  EXPECT_EQ(r.json.at("status").as_string(), "done");
  EXPECT_EQ(r.json.at("metadata").at("call_duration_secs").as_int64(), 120);
  EXPECT_EQ(r.json.at("metadata").at("termination_reason").as_string(),
            "Maximum call duration reached.");
  // An agent that does not allow the override keeps its own maximum (600 s), silently.
  const std::string other =
      Place("+573005550008",
            R"("conversation_config_override":{"conversation":{"max_duration_seconds":120}})",
            "agent_sim_campanas");
  Advance(300);
  EXPECT_EQ(Status(other), "in-progress");
  Advance(320);
  Response o = Call("GET", "/v1/convai/conversations/" + other);
  EXPECT_EQ(o.json.at("metadata").at("call_duration_secs").as_int64(), 600);
}

TEST_F(SimTest, OverridePolicyFailMakesADisallowedOverrideFailTheCall) {
  Control("PATCH", "settings", R"({"override_policy":"fail"})");
  const std::string id = Place(
      "+573001112233", R"("conversation_config_override":{"agent":{"prompt":{"prompt":"x"}}})",
      "agent_sim_campanas");
  Advance(10);
  Response r = Call("GET", "/v1/convai/conversations/" + id);
  EXPECT_EQ(r.json.at("status").as_string(), "failed");
  EXPECT_NE(r.json.at("metadata").at("error").at("reason").as_string().find("agent.prompt"),
            json::string::npos);
}

// Twilio's call update on the simulator; an empty `auth` sends the right Basic credentials.
Response TwilioUpdate(const std::string& base, const SimConfig& c, std::string_view call_sid,
                      std::string_view form, std::string_view auth = {}) {
  common::HttpRequest req;
  req.method = "POST";
  req.url = Cat(base, "/2010-04-01/Accounts/", c.twilio_account_sid, "/Calls/", call_sid, ".json");
  const std::string basic =
      "Basic " + Base64Encode(c.twilio_account_sid + ":" + c.twilio_auth_token.Reveal());
  req.headers = {{"Authorization", auth.empty() ? basic : std::string(auth)},
                 {"Content-Type", "application/x-www-form-urlencoded"}};
  req.body = std::string(form);
  auto r = common::HttpClient().Send(req);
  EXPECT_TRUE(r.ok());
  Response out;
  out.status = r->status;
  out.raw = *r;
  out.json = json::parse(r->body);
  return out;
}

TEST_F(SimTest, TwilioCompletedHangsUpAnAnsweredCall) {
  const std::string id = Place("+573005550008");  // would talk for 600 s
  Advance(30);
  ASSERT_EQ(Status(id), "in-progress");
  const std::string sid = CallSid(id);
  // canceled only affects calls that are still ringing: no change.
  Response cancel = TwilioUpdate(base_, config_, sid, "Status=canceled");
  EXPECT_EQ(cancel.status, 200);
  EXPECT_EQ(cancel.json.at("status").as_string(), "in-progress");
  Response hang = TwilioUpdate(base_, config_, sid, "Status=completed");
  ASSERT_EQ(hang.status, 200);
  EXPECT_EQ(hang.json.at("sid").as_string(), sid);
  EXPECT_EQ(hang.json.at("status").as_string(), "completed");
  EXPECT_EQ(Status(id), "processing");
  Advance(10);
  Response r = Call("GET", "/v1/convai/conversations/" + id);
  EXPECT_EQ(r.json.at("status").as_string(), "done");
  EXPECT_EQ(r.json.at("metadata").at("termination_reason").as_string(),
            "Call ended by remote party");
  EXPECT_EQ(r.json.at("metadata").at("call_duration_secs").as_int64(), 24);  // answered at 6 s
  auto hooks = WaitForWebhooks(2);
  EXPECT_EQ(hooks[0].Type(), "post_call_transcription");
  Advance(700);  // the original end of the call must not fire again
  EXPECT_EQ(Webhooks().size(), 2u);
  EXPECT_EQ(Control("GET", "counters").at("hangup_requests").as_int64(), 2);
}

TEST_F(SimTest, TwilioCancelEndsARingingCall) {
  const std::string id = Place("+573005550006");  // would ring for 60 s
  const std::string sid = CallSid(id);
  Response cancel = TwilioUpdate(base_, config_, sid, "Status=canceled");
  ASSERT_EQ(cancel.status, 200);
  EXPECT_EQ(cancel.json.at("status").as_string(), "canceled");
  EXPECT_EQ(Status(id), "failed");
  auto hooks = WaitForWebhooks(1);
  EXPECT_EQ(hooks[0].Json().at("data").at("metadata").at("body").at("CallStatus").as_string(),
            "canceled");
  Advance(120);
  EXPECT_EQ(Webhooks().size(), 1u);  // the scheduled no-answer never happens
}

TEST_F(SimTest, TwilioUpdateErrors) {
  const std::string id = Place("+573005550001");
  const std::string sid = CallSid(id);
  Response unauth = TwilioUpdate(base_, config_, sid, "Status=completed", "Basic bm9wZTpub3Bl");
  EXPECT_EQ(unauth.status, 401);
  EXPECT_EQ(unauth.json.at("code").as_int64(), 20003);
  Response unknown =
      TwilioUpdate(base_, config_, "CA00000000000000000000000000000000", "Status=completed");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.json.at("code").as_int64(), 20404);
  Response bad = TwilioUpdate(base_, config_, sid, "Status=paused");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Status(id), "initiated");
  // SIP-trunk calls are not Twilio's: 404, as the real Twilio answers.
  Response sip = Call(
      "POST", "/v1/convai/sip-trunk/outbound-call",
      R"({"agent_id":"agent_sim_recordatorios","agent_phone_number_id":"phnum_sim_sip","to_number":"+573001112244"})");
  Response sip_update = TwilioUpdate(
      base_, config_, std::string(sip.json.at("sip_call_id").as_string()), "Status=completed");
  EXPECT_EQ(sip_update.status, 404);
}

TEST_F(SimTest, ConcurrencyCapAnswers429UntilACallEnds) {
  Control("PATCH", "settings", R"({"max_concurrent_calls":2})");
  Place("+573005550001");
  Place("+573005550002");
  Response third = Call(
      "POST", "/v1/convai/twilio/outbound-call",
      R"({"agent_id":"agent_sim_confirmaciones","agent_phone_number_id":"phnum_sim_twilio","to_number":"+573005550003"})");
  EXPECT_EQ(third.status, 429);
  EXPECT_EQ(third.json.at("detail").at("code").as_string(), "concurrent_limit_exceeded");
  EXPECT_EQ(third.json.at("detail").at("type").as_string(), "rate_limit_error");
  auto counters = Control("GET", "counters");
  EXPECT_EQ(counters.at("calls_placed").as_int64(), 2);
  EXPECT_FALSE(counters.at("dialled_by_number").as_object().contains("+573005550003"));
  Advance(40);  // the first call has ended (processing does not count as live)
  EXPECT_FALSE(Place("+573005550003").empty());
}

TEST_F(SimTest, ScaledClockPlaysACallInRealTime) {
  Control("POST", "clock", R"({"scale":200})");
  const std::string id = Place("+573005550001");
  std::string status;
  for (int i = 0; i < 300 && status != "done"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    status = Status(id);
  }
  EXPECT_EQ(status, "done");
  WaitForWebhooks(2);
}

TEST_F(SimTest, ScenarioControlByNumberAndDefault) {
  Control("PUT", "scenarios", R"({"default":"busy","numbers":{"+573001112299":"voicemail"}})");
  const std::string busy = Place("+573001112288");
  const std::string voicemail = Place("+573001112299");
  Advance(80);
  EXPECT_EQ(Status(busy), "failed");
  Response v = Call("GET", "/v1/convai/conversations/" + voicemail);
  EXPECT_EQ(v.json.at("analysis")
                .at("data_collection_results")
                .at("voicemail_detected")
                .at("value")
                .as_bool(),
            true);
  auto scenarios = Control("GET", "scenarios");
  EXPECT_EQ(scenarios.at("default").as_string(), "busy");
  EXPECT_EQ(scenarios.at("available").as_array().size(), 8u);
  Response bad = Call("PUT", "/__sim/scenarios", R"({"default":"explode"})", "-");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.raw.body.find("default"), std::string::npos);
  Control("POST", "reset");
  EXPECT_EQ(Control("GET", "scenarios").at("default").as_string(), "confirmed");
  EXPECT_EQ(Control("GET", "counters").at("calls_placed").as_int64(), 0);
}

}  // namespace
}  // namespace outcall::sim::testing
