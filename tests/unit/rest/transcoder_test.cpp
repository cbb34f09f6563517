// libs/rest on the descriptor set the build emits: routing (literal segments beat variables),
// request binding (body, path variables, query parameters by proto name or json_name, types),
// what is refused and how, the response printing, target parsing.
#include "outcall/rest/transcoder.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "google/api/httpbody.pb.h"
#include "outcall/v1/call_gateway.pb.h"
#include "outcall/v1/campaigns.pb.h"
#include "outcall/v1/stats.pb.h"

namespace outcall::rest {
namespace {

const std::vector<std::string> kServices = {"outcall.v1.CallGateway", "outcall.v1.Campaigns",
                                            "outcall.v1.Stats"};

class TranscoderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto t = Transcoder::FromDescriptorSetFile(OUTCALL_DESCRIPTOR_SET, kServices);
    ASSERT_TRUE(t.ok()) << t.status();
    t_ = t->release();
  }
  static void TearDownTestSuite() { delete t_; }

  static std::string Rpc(std::string_view verb, std::string_view path) {
    auto m = t_->Match(verb, path);
    return m.ok() ? m->binding->grpc_path : std::string(m.status().message());
  }
  template <typename Msg>
  static absl::StatusOr<Msg> Bind(std::string_view verb, std::string_view target, std::string_view body) {
    auto parsed = ParseTarget(target);
    if (!parsed.ok()) return parsed.status();
    auto m = t_->Match(verb, parsed->path);
    if (!m.ok()) return m.status();
    auto wire = t_->Request(*m, body, parsed->query);
    if (!wire.ok()) return wire.status();
    Msg msg;
    if (!msg.ParseFromString(*wire)) return absl::InternalError("does not parse");
    return msg;
  }
  static Transcoder* t_;
};
Transcoder* TranscoderTest::t_ = nullptr;

TEST_F(TranscoderTest, EveryServiceBindingIsLoaded) {
  EXPECT_GE(t_->bindings().size(), 38u);
  bool audio = false, stream = false;
  for (const auto& b : t_->bindings()) {
    if (b.method == "GetConversationAudio") audio = b.http_body_output;
    if (b.method == "WatchCallEvents") stream = b.server_streaming;
  }
  EXPECT_TRUE(audio);
  EXPECT_TRUE(stream);
}

TEST_F(TranscoderTest, LiteralSegmentsBeatVariablesAndVerbsMatter) {
  EXPECT_EQ(Rpc("GET", "/api/elevenlabs/conversation/conv_1"), "/outcall.v1.CallGateway/GetConversation");
  EXPECT_EQ(Rpc("DELETE", "/api/elevenlabs/conversation/conv_1"), "/outcall.v1.CallGateway/EndCall");
  EXPECT_EQ(Rpc("DELETE", "/api/elevenlabs/conversation/conv_1/data"), "/outcall.v1.CallGateway/EraseConversation");
  EXPECT_EQ(Rpc("GET", "/api/elevenlabs/stats/daily"), "/outcall.v1.Stats/GetDailyStats");
  EXPECT_EQ(Rpc("GET", "/api/elevenlabs/stats"), "/outcall.v1.Stats/GetCallStats");
  EXPECT_EQ(Rpc("POST", "/api/elevenlabs/campaigns/x/pause"), "/outcall.v1.Campaigns/PauseCampaign");
  EXPECT_EQ(Rpc("PUT", "/api/elevenlabs/call"), "no method for PUT /api/elevenlabs/call");
  EXPECT_EQ(Rpc("GET", "/api/elevenlabs/conversation"), "no method for GET /api/elevenlabs/conversation");
}

TEST_F(TranscoderTest, BodyPathAndQueryBind) {
  auto r = Bind<v1::CallPatientRequest>("POST", "/api/elevenlabs/call-patient/123",
                                        R"({"appointmentId": 456, "customVariables": {"a": "b"}})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->patient_id(), 123);
  EXPECT_EQ(r->appointment_id(), 456);
  auto q = Bind<v1::ListCallsRequest>("GET", "/api/elevenlabs/calls?page=2&limit=5&patientId=7&status=no+answer&x=1", "");
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->page(), 2);
  EXPECT_EQ(q->limit(), 5);
  EXPECT_EQ(q->patient_id(), 7);
  EXPECT_EQ(q->status(), "no answer");  // '+' is a space; x is ignored
  auto by_proto_name = Bind<v1::ListCallsRequest>("GET", "/api/elevenlabs/calls?patient_id=8", "");
  ASSERT_TRUE(by_proto_name.ok());
  EXPECT_EQ(by_proto_name->patient_id(), 8);
  auto not_overridden = Bind<v1::GetConversationRequest>(
      "GET", "/api/elevenlabs/conversation/conv_a?conversationId=conv_b&conversation_id=conv_c", "");
  ASSERT_TRUE(not_overridden.ok());
  EXPECT_EQ(not_overridden->conversation_id(), "conv_a");  // the path's variable wins
  auto encoded = Bind<v1::GetConversationRequest>("GET", "/api/elevenlabs/conversation/conv%5F1", "");
  ASSERT_TRUE(encoded.ok());
  EXPECT_EQ(encoded->conversation_id(), "conv_1");
}

TEST_F(TranscoderTest, RefusalsNameWhatIsWrong) {
  auto unknown = Bind<v1::InitiateCallRequest>("POST", "/api/elevenlabs/call", R"({"phoneNumbr": "1"})");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(unknown.status().message()).find("phoneNumbr"), std::string::npos);
  auto type = Bind<v1::InitiateCallRequest>("POST", "/api/elevenlabs/call", R"({"patientId": "abc"})");
  EXPECT_EQ(type.status().code(), absl::StatusCode::kInvalidArgument);
  auto not_object = Bind<v1::InitiateCallRequest>("POST", "/api/elevenlabs/call", "[1]");
  EXPECT_EQ(not_object.status().code(), absl::StatusCode::kInvalidArgument);
  auto twice = Bind<v1::CallPatientRequest>("POST", "/api/elevenlabs/call-patient/1", R"({"patientId": 2})");
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(twice.status().message()).find("patientId"), std::string::npos);
  auto bad_int = Bind<v1::ListCallsRequest>("GET", "/api/elevenlabs/calls?page=x", "");
  EXPECT_EQ(bad_int.status().code(), absl::StatusCode::kInvalidArgument);
  auto empty = Bind<v1::InitiateCallRequest>("POST", "/api/elevenlabs/call", "");
  EXPECT_TRUE(empty.ok());  // an empty body is {}: the service says what is missing
}

TEST_F(TranscoderTest, ResponsesPrintJsonNamesAndPrimitives) {
  v1::GetCallStatsResponse resp;
  resp.set_success(true);
  resp.mutable_data();
  auto m = t_->Match("GET", "/api/elevenlabs/stats");
  ASSERT_TRUE(m.ok());
  auto out = t_->Response(*m->binding, resp.SerializeAsString());
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->content_type, "application/json");
  auto v = boost::json::parse(out->body).as_object();
  EXPECT_EQ(v.at("data").at("total_calls").as_int64(), 0);  // json_name kept, zero printed
  EXPECT_TRUE(v.at("success").as_bool());

  google::api::HttpBody audio;
  audio.set_content_type("audio/mpeg");
  audio.set_data(std::string("\xff\xfb\x00\x01", 4));
  auto a = t_->Match("GET", "/api/elevenlabs/conversation/c/audio");
  ASSERT_TRUE(a.ok());
  auto raw = t_->Response(*a->binding, audio.SerializeAsString());
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw->content_type, "audio/mpeg");
  EXPECT_EQ(raw->body, audio.data());
}

TEST(ParseTarget, NormalisesAndRefusesEncodedSlashes) {
  auto t = ParseTarget("/api//elevenlabs/./calls/../stats?startDate=2026-01-01&a=%20b");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/api/elevenlabs/stats");
  ASSERT_EQ(t->query.size(), 2u);
  EXPECT_EQ(t->query[1].second, " b");
  EXPECT_FALSE(ParseTarget("/api/elevenlabs/conversation/a%2Fb").ok());
  EXPECT_FALSE(ParseTarget("http://example.com/x").ok());
}

TEST(StatusMapping, AsEnvoysTranscoder) {
  EXPECT_EQ(HttpStatusForGrpcCode(0), 200);
  EXPECT_EQ(HttpStatusForGrpcCode(3), 400);
  EXPECT_EQ(HttpStatusForGrpcCode(5), 404);
  EXPECT_EQ(HttpStatusForGrpcCode(7), 403);
  EXPECT_EQ(HttpStatusForGrpcCode(8), 429);
  EXPECT_EQ(HttpStatusForGrpcCode(9), 400);
  EXPECT_EQ(HttpStatusForGrpcCode(10), 409);
  EXPECT_EQ(HttpStatusForGrpcCode(14), 503);
  EXPECT_EQ(HttpStatusForGrpcCode(16), 401);
  EXPECT_EQ(ErrorBody(3, "bad \"x\""), R"({"code":3,"message":"bad \"x\"","details":[]})");
}

}  // namespace
}  // namespace outcall::rest
