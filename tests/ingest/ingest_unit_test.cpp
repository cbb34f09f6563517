// webhook-ingest units: the streaming body scanner and base64 decoder, the envelope checks, the
// audio summary body and the JSON -> CallEvent mapping.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "outcall/elevenlabs/body_scanner.h"
#include "outcall/elevenlabs/event_mapping.h"
#include "outcall/common/strings.h"
#include "outcall/elevenlabs/webhook_signature.h"
#include "outcall/common/clock.h"
#include "outcall/common/jwt.h"
#include "publisher.h"

namespace outcall::webhook_ingest {
namespace {
using common::Cat;
using namespace ::outcall::elevenlabs;  // what these tests test: the scanner and the mapping

elevenlabs::Envelope Scan(std::string_view body, size_t piece, std::string* audio = nullptr,
              std::string* error = nullptr) {
  elevenlabs::BodyScanner s([&](std::string_view d) {
    if (audio) audio->append(d);
  });
  for (size_t i = 0; i < body.size(); i += piece) s.Write(body.substr(i, piece));
  const bool ok = s.Finish();
  if (error) *error = ok ? "" : s.error();
  return s.envelope();
}

TEST(BodyScanner, CapturesTheEnvelopeWhateverTheSplit) {
  const std::string body =
      R"({"data": {"transcript": [{"conversation_id": "inner"}], "conversation_id": "conv_1",)"
      R"( "agent_id": "ag", "full_audio": "aGVsbG8gd29ybGQ="}, "type": "post_call_audio",)"
      R"( "event_timestamp": 1739537297, "extra": {"type": "not this"}})";
  for (size_t piece : {1u, 2u, 3u, 7u, 64u, 4096u}) {
    std::string audio;
    std::string error;
    elevenlabs::Envelope e = Scan(body, piece, &audio, &error);
    EXPECT_EQ(error, "") << piece;
    EXPECT_EQ(e.type, "post_call_audio");
    EXPECT_EQ(e.conversation_id, "conv_1");
    EXPECT_EQ(e.agent_id, "ag");
    EXPECT_EQ(e.event_timestamp, 1739537297);
    EXPECT_TRUE(e.has_data_object);
    EXPECT_EQ(audio, "hello world") << piece;
  }
  // event_timestamp as a string (the docs disagree on its type).
  EXPECT_EQ(Scan(R"({"type":"x","event_timestamp":"12","data":{}})", 3).event_timestamp, 12);
}

TEST(BodyScanner, RefusesMalformedInput) {
  std::string error;
  Scan(R"({"type": "post_call_audio", "data": {)", 5, nullptr, &error);
  EXPECT_EQ(error, "malformed JSON");
  Scan(R"({"a": 1} trailing)", 5, nullptr, &error);
  EXPECT_EQ(error, "malformed JSON");
  for (size_t piece : {1u, 3u, 100u}) {  // a complete document followed by more bytes
    Scan("3333 {}", piece, nullptr, &error);
    EXPECT_EQ(error, "malformed JSON") << piece;
    Scan(R"({"type": "x"}{"type": "y"})", piece, nullptr, &error);
    EXPECT_EQ(error, "malformed JSON") << piece;
  }
  Scan(R"({"data": {"full_audio": "ab$d"}})", 4, nullptr, &error);
  EXPECT_EQ(error, "full_audio is not base64");
  Scan(R"({"data": {"full_audio": "abcde"}})", 4, nullptr, &error);
  EXPECT_EQ(error, "full_audio is not base64");
  Scan(R"({"data": {"full_audio": "ab==cd"}})", 4, nullptr, &error);
  EXPECT_EQ(error, "full_audio is not base64");
  Scan(R"({"type": ")" + std::string(300, 't') + R"("})", 16, nullptr, &error);
  EXPECT_EQ(error, "envelope field too long");
  // Deep nesting is refused, not recursed into.
  Scan(std::string(200, '[') + std::string(200, ']'), 16, nullptr, &error);
  EXPECT_EQ(error, "malformed JSON");
}

// Everything the scanner concludes from one body, for comparing two ways of cutting it.
struct Verdict {
  bool ok = false;
  std::string error;
  elevenlabs::Envelope env;
  std::string audio;
  bool operator==(const Verdict& o) const {
    // A refused body's audio is discarded by the caller: only an accepted body's must match.
    return ok == o.ok && error == o.error && (!ok || audio == o.audio) && env.type == o.env.type &&
           env.conversation_id == o.env.conversation_id && env.agent_id == o.env.agent_id &&
           env.event_timestamp == o.env.event_timestamp &&
           env.has_data_object == o.env.has_data_object;
  }
};

Verdict ScanCuts(std::string_view body, const std::vector<size_t>& cuts) {
  Verdict v;
  elevenlabs::BodyScanner s([&](std::string_view d) { v.audio.append(d); });
  size_t from = 0;
  for (size_t cut : cuts) {
    s.Write(body.substr(from, cut - from));
    from = cut;
  }
  s.Write(body.substr(from));
  v.ok = s.Finish();
  v.error = s.error();
  v.env = s.envelope();
  return v;
}

// The verdict of every two-piece split, every three-piece split with a short middle, and one
// byte at a time equals the verdict of the whole body in one piece.
void ExpectSplitInvariant(std::string_view body) {
  const Verdict whole = ScanCuts(body, {});
  for (size_t a = 0; a <= body.size(); ++a) {
    ASSERT_EQ(ScanCuts(body, {a}), whole) << "split at " << a;
    for (size_t b = a; b <= std::min(body.size(), a + 9); ++b) {
      ASSERT_EQ(ScanCuts(body, {a, b}), whole) << "split at " << a << " and " << b;
    }
  }
  std::vector<size_t> every;
  for (size_t i = 1; i < body.size(); ++i) every.push_back(i);
  ASSERT_EQ(ScanCuts(body, every), whole) << "one byte at a time";
}

TEST(BodyScanner, VerdictNeverDependsOnTheSplit) {
  // Found by the fuzzer (issue 12): an 80-byte unknown key ending in "data", cut just before
  // "data", used to be read as the data object.
  const std::string found =
      R"({"type": "post_call_audio", "event_timestamp": "1739537297", ")" + std::string(73, 'P') +
      R"(data": {"agent_id": "a", "conversation_id": "conv_2", "full_audio": "SUQzBAAAAAAAI1RTU0UAAAAPAAADTGF2ZjU4Ljc2LjEwMAAAAAAAAAAAAAAA//tQ"}})";
  ExpectSplitInvariant(found);
  const Verdict v = ScanCuts(found, {});
  EXPECT_TRUE(v.ok);
  EXPECT_EQ(v.env.conversation_id, "") << "the long key is not \"data\"";
  EXPECT_FALSE(v.env.has_data_object);
  EXPECT_EQ(v.audio, "");

  // Keys around the length limit, for each name the scanner looks for, at both levels.
  for (const char* name : {"data", "type", "event_timestamp"}) {
    for (size_t pad : {0u, 1u, 49u, 50u, 59u, 60u, 61u, 64u, 65u, 80u, 200u}) {
      const std::string key = std::string(pad, 'k') + name;
      ExpectSplitInvariant(R"({")" + key + R"(": {"conversation_id": "c", "full_audio": "aGk="},)"
                           R"( "type": "post_call_audio", "data": {"agent_id": "x"}})");
    }
  }
  for (const char* name : {"conversation_id", "agent_id", "full_audio"}) {
    for (size_t pad : {0u, 48u, 49u, 50u, 54u, 56u, 64u, 65u, 100u}) {
      const std::string key = std::string(pad, 'k') + name;
      ExpectSplitInvariant(R"({"type": "t", "data": {")" + key +
                           R"(": "aGVsbG8=", "conversation_id": "c1"}})");
    }
  }
  // Values around the field limit, escapes in keys and values, empty strings.
  ExpectSplitInvariant(R"({"type": ")" + std::string(kMaxFieldBytes, 't') + R"("})");
  ExpectSplitInvariant(R"({"type": ")" + std::string(kMaxFieldBytes + 1, 't') + R"("})");
  ExpectSplitInvariant(R"({"d\u0061ta": {"conversation_id": "c\u00e9", "full_audio": ""}})");
  ExpectSplitInvariant(R"({"data": {"full_audio": "", "full_audio": "aGk="}})");
  ExpectSplitInvariant(R"({"data": {"full_audio": "aGk="}, "data": {"full_audio": "aGk="}})");
}

TEST(BodyScanner, RefusesASecondAudioString) {
  std::string error;
  Scan(R"({"data": {"full_audio": "aGk=", "full_audio": "aGk="}})", 3, nullptr, &error);
  EXPECT_EQ(error, "full_audio appears twice");
}

TEST(Base64StreamDecoder, DecodesPaddedAndUnpadded) {
  for (const auto& [in, out] : std::vector<std::pair<std::string, std::string>>{
           {"", ""}, {"YQ==", "a"}, {"YWI=", "ab"}, {"YWJj", "abc"}, {"YQ", "a"}, {"YWI", "ab"}}) {
    elevenlabs::Base64StreamDecoder d;
    std::string got;
    for (char c : in) ASSERT_TRUE(d.Update(std::string_view(&c, 1), got)) << in;
    EXPECT_TRUE(d.Finish(got)) << in;
    EXPECT_EQ(got, out) << in;
  }
  elevenlabs::Base64StreamDecoder d;
  std::string got;
  EXPECT_TRUE(d.Update("YWJjZ", got));
  EXPECT_FALSE(d.Finish(got));  // one dangling character
}

TEST(Envelope, ValidationNamesTheProblem) {
  elevenlabs::Envelope e{"post_call_transcription", "conv_1", "", 1, true};
  EXPECT_TRUE(elevenlabs::ValidateEnvelope(e).ok());
  elevenlabs::Envelope unknown = e;
  unknown.type = "voice_removed";
  EXPECT_EQ(elevenlabs::ValidateEnvelope(unknown).message(), "unknown type");
  elevenlabs::Envelope missing = e;
  missing.conversation_id = " ";
  EXPECT_EQ(elevenlabs::ValidateEnvelope(missing).message(), "missing conversation_id");
  elevenlabs::Envelope no_data = e;
  no_data.has_data_object = false;
  EXPECT_FALSE(elevenlabs::ValidateEnvelope(no_data).ok());
  elevenlabs::Envelope no_type = e;
  no_type.type = "";
  EXPECT_EQ(elevenlabs::ValidateEnvelope(no_type).message(), "missing type");
}

TEST(EventMapping, AudioSummaryRoundTrips) {
  elevenlabs::Envelope e{"post_call_audio", "conv_a", "agent_1", 1739537297, true};
  elevenlabs::AudioSummary a{true, 1234, std::string(64, 'f'), "audio/mpeg"};
  const std::string body = elevenlabs::AudioInboxBody(e, a);
  EXPECT_EQ(body.find("full_audio"), std::string::npos);
  auto ev = elevenlabs::MapInboxEvent(9, "post_call_audio", "conv_a", std::nullopt, body);
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->inbox_id(), 9);
  EXPECT_EQ(ev->event_timestamp(), 1739537297);
  EXPECT_EQ(ev->audio().agent_id(), "agent_1");
  EXPECT_TRUE(ev->audio().stored());
  EXPECT_EQ(ev->audio().size_bytes(), 1234);
  EXPECT_EQ(ev->audio().sha256(), std::string(64, 'f'));
}

// The reconciler maps the conversation JSON it fetched directly: the same event as the
// webhook carrying that conversation, and the same refusal of an impossible value.
TEST(EventMapping, AConversationMapsLikeItsWebhook) {
  const std::string data =
      R"({"agent_id": "agent_1", "conversation_id": "conv_r", "status": "done", "transcript": )"
      R"([{"role": "agent", "message": "Hola", "time_in_call_secs": 0}, {"role": "tool", )"
      R"("message": "x", "time_in_call_secs": 3}], "metadata": {"start_time_unix_secs": )"
      R"(1795000000, "call_duration_secs": 31, "cost": 309}, "analysis": {"call_successful": )"
      R"("success", "transcript_summary": "Confirma."}})";
  auto direct = elevenlabs::MapConversation("conv_r", boost::json::parse(data).as_object());
  auto webhook = elevenlabs::MapInboxEvent(
      0, "post_call_transcription", "conv_r", std::nullopt,
      Cat(R"({"type": "post_call_transcription", "data": )", data, "}"));
  ASSERT_TRUE(direct.ok()) << direct.status();
  ASSERT_TRUE(webhook.ok()) << webhook.status();
  EXPECT_EQ(direct->SerializeAsString(), webhook->SerializeAsString());
  EXPECT_EQ(direct->transcription().transcript_size(), 2);
  EXPECT_EQ(direct->transcription().metadata().call_duration_secs(), 31);
  auto negative = elevenlabs::MapConversation(
      "conv_r", boost::json::parse(R"({"metadata": {"call_duration_secs": -1}})").as_object());
  EXPECT_EQ(negative.status().message(), "data.metadata.call_duration_secs is negative");
}

TEST(EventMapping, SipFailureAndLenientFields) {
  auto ev = elevenlabs::MapInboxEvent(
      1, "call_initiation_failure", "conv_f", 5,
      R"({"type":"call_initiation_failure","data":{"agent_id":"a","failure_reason":"busy",)"
      R"("metadata":{"type":"sip","body":{"sip_status_code":486,"error_reason":"Busy here",)"
      R"("call_sid":"uuid-1","to_number":"+441234"}}}})");
  ASSERT_TRUE(ev.ok());
  EXPECT_EQ(ev->initiation_failure().provider_type(), "sip");
  EXPECT_EQ(ev->initiation_failure().sip_status_code(), 486);
  EXPECT_EQ(ev->initiation_failure().provider_status(), "Busy here");
  EXPECT_EQ(ev->initiation_failure().call_sid(), "uuid-1");
  // Unknown strings are data; a missing or null analysis is no error.
  auto lenient = elevenlabs::MapInboxEvent(
      2, "post_call_transcription", "conv_t", std::nullopt,
      R"({"type":"post_call_transcription","event_timestamp":"77","data":{"status":"weird",)"
      R"("transcript":[{"role":"tool","message":null,"time_in_call_secs":2.0},null],)"
      R"("metadata":{"call_duration_secs":"12"},"analysis":null}})");
  ASSERT_TRUE(lenient.ok()) << lenient.status();
  EXPECT_EQ(lenient->event_timestamp(), 77);
  EXPECT_EQ(lenient->transcription().status(), "weird");
  ASSERT_EQ(lenient->transcription().transcript_size(), 1);
  EXPECT_EQ(lenient->transcription().transcript(0).role(), "tool");
  EXPECT_EQ(lenient->transcription().transcript(0).time_in_call_secs(), 2);
  EXPECT_EQ(lenient->transcription().metadata().call_duration_secs(), 12);
  EXPECT_FALSE(lenient->transcription().metadata().has_cost());
  // A value that is there but impossible is refused, naming it (the event is quarantined),
  // never turned into a silent 0 or an empty transcript.
  auto refused = [](std::string_view data) {
    auto ev = elevenlabs::MapInboxEvent(4, "post_call_transcription", "conv_t", 1,
                            Cat(R"({"type":"post_call_transcription","data":)", data, "}"));
    return ev.ok() ? std::string("accepted") : std::string(ev.status().message());
  };
  EXPECT_EQ(refused(R"({"transcript":"oops"})"), "data.transcript is not a list");
  EXPECT_EQ(refused(R"({"transcript":[{"role":"user"}, 3]})"), "data.transcript[1] is not an object");
  EXPECT_EQ(refused(R"({"transcript":[{"role":"user","time_in_call_secs":-1}]})"),
            "data.transcript[0].time_in_call_secs is negative");
  EXPECT_EQ(refused(R"({"metadata":{"call_duration_secs":1e40}})"),
            "data.metadata.call_duration_secs is out of range");
  EXPECT_EQ(refused(R"({"metadata":{"call_duration_secs":-5}})"),
            "data.metadata.call_duration_secs is negative");
  EXPECT_EQ(refused(R"({"metadata":{"cost":"x"}})"), "data.metadata.cost is out of range");
  EXPECT_EQ(refused(R"({"metadata":{"cost":-3}})"), "data.metadata.cost is negative");
  EXPECT_EQ(refused(R"({"metadata":{"cost_fiat":-0.5}})"),
            "data.metadata.cost_fiat is negative or out of range");
  EXPECT_EQ(refused(R"({"metadata":{"start_time_unix_secs":{}}})"),
            "data.metadata.start_time_unix_secs is not a number");
  EXPECT_EQ(refused(R"({"metadata":{"cost":null,"cost_fiat":null}})"), "accepted");
  EXPECT_FALSE(elevenlabs::MapInboxEvent(3, "post_call_transcription", "c", 1, "[1,2]").ok());
  EXPECT_FALSE(elevenlabs::MapInboxEvent(3, "other", "c", 1, "{}").ok());
}

}  // namespace
}  // namespace outcall::webhook_ingest

namespace outcall::webhook_ingest {
namespace {

// The publisher's own token, on an injected clock: reused for 5 minutes, then minted again,
// each with 10 minutes of life from when it was made.
TEST(GatewayToken, RenewsOnItsClockNotOnEveryBatch) {
  common::ManualClock clock(absl::FromUnixSeconds(1800000000));
  PublisherOptions o;
  o.jwt_issuer = "outcall-test";
  o.jwt_audiences = {"outcall"};
  o.jwt_hs256_secret = common::Secret("0123456789abcdef0123456789abcdef");
  o.clock = &clock;
  GatewayToken token(o);
  auto first = token.Get();
  ASSERT_TRUE(first.ok()) << first.status();
  clock.Advance(absl::Minutes(4));
  EXPECT_EQ(*token.Get(), *first) << "reused within 5 minutes";
  clock.Advance(absl::Minutes(2));
  auto renewed = token.Get();
  ASSERT_TRUE(renewed.ok());
  EXPECT_NE(*renewed, *first);
  common::JwtOptions jo;
  jo.issuer = "outcall-test";
  jo.audiences = {"outcall"};
  jo.hs256_secrets = {o.jwt_hs256_secret};
  auto verifier = common::JwtVerifier::Create(jo);
  ASSERT_TRUE(verifier.ok());
  auto claims = verifier->Verify(*renewed, clock.Now());
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->subject, "webhook-ingest");
  EXPECT_FALSE(verifier->Verify(*renewed, clock.Now() + absl::Minutes(11)).ok()) << "expired";
}

}  // namespace
}  // namespace outcall::webhook_ingest
