// Fault switches: outbound-call errors, slowness, lost responses and success:false; webhook
// drops, duplicates, reordering, bad/stale/future/missing/odd signatures, no envelope, huge
// audio; the optional retry schedule and auto-disable; per-number and per-correlation counters.
#include "outcall/common/http_client.h"
#include "outcall/common/strings.h"
#include "outcall/elevenlabs/webhook_signature.h"
#include "sim_fixture.h"

namespace outcall::sim::testing {
namespace {

using common::Cat;

const char kCall[] =
    R"({"agent_id":"agent_sim_confirmaciones","agent_phone_number_id":"phnum_sim_twilio","to_number":"+573005550001","conversation_initiation_client_data":{"user_id":"call-42"}})";

absl::Status Verify(const Received& r, const std::string& secret) {
  elevenlabs::WebhookSignatureVerifier verifier({.secrets = {common::Secret(secret)}});
  auto it = r.headers.find("elevenlabs-signature");
  return verifier.Verify(it == r.headers.end() ? "" : it->second, r.body);
}

TEST_F(SimTest, ErrorFaultsAnswerWithoutPlacingTheCall) {
  Control(
      "PUT", "faults",
      R"({"outbound":[{"kind":"error","status":503},{"kind":"error","status":429,"code":"rate_limit_exceeded","retry_after":7},{"kind":"error","status":429,"code":"too_many_concurrent_requests","legacy":true}]})");
  Response unavailable = Call("POST", "/v1/convai/twilio/outbound-call", kCall);
  EXPECT_EQ(unavailable.status, 503);
  EXPECT_EQ(unavailable.json.at("detail").at("type").as_string(), "service_unavailable");
  Response limited = Call("POST", "/v1/convai/twilio/outbound-call", kCall);
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.json.at("detail").at("code").as_string(), "rate_limit_exceeded");
  EXPECT_EQ(limited.raw.Header("retry-after"), "7");
  Response legacy = Call("POST", "/v1/convai/twilio/outbound-call", kCall);
  EXPECT_EQ(legacy.status, 429);
  EXPECT_EQ(legacy.json.at("detail").at("status").as_string(), "too_many_concurrent_requests");
  EXPECT_FALSE(legacy.json.at("detail").as_object().contains("type"));
  auto counters = Control("GET", "counters");
  EXPECT_EQ(counters.at("calls_placed").as_int64(), 0);
  EXPECT_EQ(counters.at("outbound_call_requests").as_int64(), 3);
  // Faults are used up: the next call goes through.
  EXPECT_EQ(Call("POST", "/v1/convai/twilio/outbound-call", kCall).status, 200);
  EXPECT_EQ(Control("GET", "counters").at("dialled_by_number").at("+573005550001").as_int64(), 1);
}

TEST_F(SimTest, ErrorAfterPlacingTheCallStillDials) {
  Control("PUT", "faults", R"({"outbound":[{"kind":"error","status":500,"place_call":true}]})");
  EXPECT_EQ(Call("POST", "/v1/convai/twilio/outbound-call", kCall).status, 500);
  auto counters = Control("GET", "counters");
  EXPECT_EQ(counters.at("calls_placed").as_int64(), 1);
  // The call is findable by its correlation id: what a client reconciles with.
  Response found = Call("GET", "/v1/convai/conversations?user_id=call-42");
  EXPECT_EQ(found.json.at("conversations").as_array().size(), 1u);
}

TEST_F(SimTest, LostResponseAfterPlacingTheCall) {
  // Control() has just left a keep-alive connection in this thread's client: libcurl would
  // silently re-send a request whose reused connection dies, so the client must not reuse it
  // for a POST. The counters prove the patient was dialled once.
  Control("PUT", "faults", R"({"outbound":[{"kind":"lost_response"}]})");
  common::HttpRequest req;
  req.method = "POST";
  req.url = base_ + "/v1/convai/twilio/outbound-call";
  req.headers = {{"xi-api-key", api_key_}, {"Content-Type", "application/json"}};
  req.body = kCall;
  auto r = common::HttpClient().Send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(common::RequestMayHaveBeenSent(r.status())) << r.status();
  auto counters = Control("GET", "counters");
  EXPECT_EQ(counters.at("calls_placed").as_int64(), 1);
  EXPECT_EQ(counters.at("dialled_by_correlation_id").at("call-42").as_int64(), 1);
  EXPECT_EQ(counters.at("outbound_responses").at("lost").as_int64(), 1);
  EXPECT_EQ(Call("GET", "/v1/convai/conversations?user_id=call-42")
                .json.at("conversations")
                .as_array()
                .size(),
            1u);
}

TEST_F(SimTest, SlowResponseOutlastsAShortClientDeadline) {
  Control("PUT", "faults", R"({"outbound":[{"kind":"slow","delay_ms":1500}]})");
  common::HttpRequest req;
  req.method = "POST";
  req.url = base_ + "/v1/convai/twilio/outbound-call";
  req.headers = {{"xi-api-key", api_key_}};
  req.body = kCall;
  req.timeout = absl::Milliseconds(300);
  auto r = common::HttpClient().Send(req);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Control("GET", "counters").at("calls_placed").as_int64(), 1);  // it was placed
}

TEST_F(SimTest, SuccessFalseWithNullIds) {
  Control("PUT", "faults", R"({"outbound":[{"kind":"success_false"}]})");
  Response r = Call("POST", "/v1/convai/twilio/outbound-call", kCall);
  EXPECT_EQ(r.status, 200);
  EXPECT_FALSE(r.json.at("success").as_bool());
  EXPECT_TRUE(r.json.at("conversation_id").is_null());
  EXPECT_TRUE(r.json.at("callSid").is_null());
  EXPECT_EQ(Control("GET", "counters").at("calls_placed").as_int64(), 0);
}

TEST_F(SimTest, FaultsForOneNumberOnlyAndBadFaultSpecs) {
  Control("PUT", "faults",
          R"({"outbound":[{"kind":"error","status":503,"to_number":"+573009999999","times":0}]})");
  EXPECT_EQ(Call("POST", "/v1/convai/twilio/outbound-call", kCall).status, 200);
  EXPECT_EQ(Control("GET", "faults").at("outbound").as_array().size(), 1u);  // unlimited, unused
  EXPECT_EQ(Call("PUT", "/__sim/faults", R"({"outbound":[{"kind":"explode"}]})", "-").status, 400);
  EXPECT_EQ(Call("PUT", "/__sim/faults", R"({"webhooks":[{"kind":"explode"}]})", "-").status, 400);
  EXPECT_EQ(Call("DELETE", "/__sim/faults", {}, "-").status, 200);
  EXPECT_TRUE(Control("GET", "faults").at("outbound").as_array().empty());
}

class WebhookFaultTest : public SimTest {
 protected:
  // Plays one confirmed call with the given webhook faults and returns what the receiver got.
  std::vector<Received> Play(std::string_view faults, size_t expect) {
    Control("PUT", "faults", Cat(R"({"webhooks":)", faults, "}"));
    Place("+573005550001");
    Advance(60);
    return WaitForWebhooks(expect);
  }
};

TEST_F(WebhookFaultTest, DropSendsNothingAndLogsIt) {
  auto hooks = Play(R"([{"kind":"drop","type":"post_call_transcription"}])", 1);
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_EQ(hooks[0].Type(), "post_call_audio");
  auto log = Control("GET", "webhooks").at("deliveries").as_array();
  EXPECT_EQ(log.at(0).at("result").as_string(), "dropped");
  EXPECT_EQ(Control("GET", "counters")
                .at("webhooks")
                .at("post_call_transcription")
                .at("dropped")
                .as_int64(),
            1);
}

TEST_F(WebhookFaultTest, DuplicateSendsIdenticalBytesTwice) {
  auto hooks = Play(R"([{"kind":"duplicate","type":"post_call_transcription"}])", 3);
  ASSERT_EQ(hooks.size(), 3u);
  EXPECT_EQ(hooks[0].Type(), "post_call_transcription");
  EXPECT_EQ(hooks[1].Type(), "post_call_transcription");
  EXPECT_EQ(hooks[0].body, hooks[1].body);
  EXPECT_TRUE(Verify(hooks[1], webhook_secret_).ok());
}

TEST_F(WebhookFaultTest, ReorderSendsAudioBeforeTranscription) {
  auto hooks = Play(R"([{"kind":"reorder","type":"post_call_transcription"}])", 2);
  ASSERT_EQ(hooks.size(), 2u);
  EXPECT_EQ(hooks[0].Type(), "post_call_audio");
  EXPECT_EQ(hooks[1].Type(), "post_call_transcription");
}

TEST_F(WebhookFaultTest, SignatureFaults) {
  struct Case {
    const char* kind;
    bool verifies;  // with the project's verifier (30 min back, 5 min ahead, strict parsing)
  } cases[] = {{"bad_signature", false},       {"stale_signature", false},
               {"future_signature", false},    {"missing_signature", false},
               {"spaces_in_signature", false}, {"v0_first", true}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.kind);
    Control("POST", "reset");
    {
      std::lock_guard<std::mutex> lock(mu_);
      received_.clear();
    }
    auto hooks = Play(Cat(R"([{"kind":")", c.kind, R"(","type":"post_call_transcription"}])"), 2);
    ASSERT_EQ(hooks.size(), 2u);
    const Received& t = hooks[0].Type() == "post_call_transcription" ? hooks[0] : hooks[1];
    const Received& a = hooks[0].Type() == "post_call_transcription" ? hooks[1] : hooks[0];
    EXPECT_EQ(Verify(t, webhook_secret_).ok(), c.verifies);
    EXPECT_TRUE(Verify(a, webhook_secret_).ok());  // the fault touched one webhook only
    const std::string header =
        t.headers.count("elevenlabs-signature") ? t.headers.at("elevenlabs-signature") : "";
    if (std::string_view(c.kind) == "missing_signature") {
      EXPECT_TRUE(header.empty());
    }
    if (std::string_view(c.kind) == "spaces_in_signature") {
      EXPECT_NE(header.find(", v0="), std::string::npos);
    }
    if (std::string_view(c.kind) == "v0_first") {
      EXPECT_TRUE(header.starts_with("v0="));
    }
    if (std::string_view(c.kind) == "stale_signature") {
      auto parsed = elevenlabs::ParseElevenLabsSignature(header);
      ASSERT_TRUE(parsed.ok());
      int64_t t_secs = 0;
      ASSERT_TRUE(common::ParseInt(parsed->timestamp, &t_secs));
      EXPECT_LT(t_secs, absl::ToUnixSeconds(absl::Now()) - 30 * 60);
      // Correctly signed, only old: a verifier with a longer tolerance accepts it.
      elevenlabs::WebhookSignatureVerifier lenient(
          {.secrets = {common::Secret(webhook_secret_)}, .tolerance = absl::Hours(1)});
      EXPECT_TRUE(lenient.Verify(header, t.body).ok());
    }
  }
}

TEST_F(WebhookFaultTest, NoEnvelopeSendsTheDataAlone) {
  auto hooks = Play(R"([{"kind":"no_envelope","type":"post_call_transcription"}])", 2);
  const json::value first = hooks[0].Json();
  EXPECT_FALSE(first.as_object().contains("type"));
  EXPECT_TRUE(first.as_object().contains("conversation_id"));
  EXPECT_TRUE(Verify(hooks[0], webhook_secret_).ok());
}

TEST_F(WebhookFaultTest, HugeAudioIsSentChunked) {
  auto hooks = Play(R"([{"kind":"huge_audio","bytes":21000000}])", 2);
  ASSERT_EQ(hooks.size(), 2u);
  const Received& audio = hooks[1];
  EXPECT_EQ(audio.Type(), "post_call_audio");
  EXPECT_EQ(audio.headers.at("transfer-encoding"), "chunked");
  EXPECT_GT(audio.body.size(), 28000000u);  // base64 of 21 MB
  EXPECT_TRUE(Verify(audio, webhook_secret_).ok());
}

TEST_F(SimTest, OneAttemptByDefaultRetryScheduleWhenEnabled) {
  SetReceiverStatus([](size_t i) { return i == 0 ? 503 : 200; });
  Place("+573005550001");
  Advance(60);
  auto hooks = WaitForWebhooks(2);
  Advance(3600);
  EXPECT_EQ(Webhooks().size(), 2u);  // no retry by default (HIPAA-like)

  Control("POST", "reset");
  {
    std::lock_guard<std::mutex> lock(mu_);
    received_.clear();
  }
  SetReceiverStatus([](size_t i) { return i < 2 ? 503 : 200; });  // transcription 1, then its retry
  Control("PATCH", "settings", R"({"webhook_retry":true})");
  Place("+573005550001");
  Advance(45);
  WaitForWebhooks(2);  // transcription (503), audio (503, never retried)
  Advance(40);         // 30 s (+10 % jitter at most): the second attempt
  hooks = WaitForWebhooks(3);
  ASSERT_EQ(hooks.size(), 3u);
  EXPECT_EQ(hooks[2].Type(), "post_call_transcription");
  EXPECT_EQ(hooks[2].body, hooks[0].body);  // identical payload
  Advance(3600);
  EXPECT_EQ(Webhooks().size(), 3u);  // delivered: no more attempts
  auto log = Control("GET", "webhooks").at("deliveries").as_array();
  EXPECT_EQ(log.back().at("attempt").as_int64(), 2);
  EXPECT_EQ(log.back().at("result").as_string(), "delivered");
}

TEST_F(SimTest, AutoDisabledAfterTenConsecutiveFailures) {
  SetReceiverStatus([](size_t) { return 500; });
  for (int i = 0; i < 6; ++i) Place(Cat("+57300555000", 1 + i % 3));
  Advance(80);
  WaitForWebhooks(10);
  Response list = Call("GET", "/v1/workspace/webhooks");
  const auto& w = list.json.at("webhooks").at(0).as_object();
  EXPECT_TRUE(w.at("is_auto_disabled").as_bool());
  EXPECT_EQ(w.at("most_recent_failure_error_code").as_int64(), 500);
  EXPECT_EQ(Webhooks().size(), 10u);  // the rest were not sent
  EXPECT_EQ(Control("GET", "counters")
                    .at("webhooks")
                    .at("post_call_audio")
                    .at("skipped_disabled")
                    .as_int64() +
                Control("GET", "counters")
                    .at("webhooks")
                    .at("post_call_transcription")
                    .at("skipped_disabled")
                    .as_int64(),
            2);
}

TEST_F(SimTest, CountersPerNumberAndCorrelationId) {
  Place("+573001112233");
  Place("+573001112233");
  Place("+573001112244");
  auto c = Control("GET", "counters");
  EXPECT_EQ(c.at("dialled_by_number").at("+573001112233").as_int64(), 2);
  EXPECT_EQ(c.at("dialled_by_number").at("+573001112244").as_int64(), 1);
  EXPECT_EQ(c.at("dialled_by_correlation_id").at("corr-+573001112233").as_int64(), 2);
  EXPECT_EQ(c.at("requests").at("POST /v1/convai/twilio/outbound-call").as_int64(), 3);
  EXPECT_EQ(c.at("live_calls").as_int64(), 3);
}

}  // namespace
}  // namespace outcall::sim::testing
