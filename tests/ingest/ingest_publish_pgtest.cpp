// Publishing stored events to call-gateway's CallEventSink over a real loopback gRPC socket:
// typed messages, an events:publish token, retry with backoff while the sink fails or is down,
// order per conversation, and pending events surviving a restart of either side.
//
// The sink is RecordingSink (tests/ingest/ingest_support.h), which fails on demand; the real
// call-gateway receives these events in tests/e2e/pipeline_pgtest.cpp.
#include <gtest/gtest.h>

#include <thread>

#include "ingest_fixture.h"
#include "outcall/common/jwt.h"
#include "outcall/common/strings.h"

namespace outcall::ingest_testing {
namespace {

class IngestPublishTest : public IngestTest {
 protected:
  bool WaitFor(const std::function<bool()>& done, int seconds = 30) {
    for (int i = 0; i < seconds * 50; ++i) {
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return done();
  }
  void Send(const std::string& type, const std::string& conversation, const std::string& extra = "") {
    const std::string body = Body(type, conversation, extra);
    ASSERT_EQ(Post(body, Sign(body)).status, 200);
  }
};

TEST_F(IngestPublishTest, DeliversTypedEventsWithAPublishToken) {
  StartIngest();
  RecordingSink sink;
  SinkServer server(&sink);
  auto options = PublisherOptionsFor(server.address());
  webhook_ingest::Publisher publisher(db_->url(), options, metrics_.get());
  on_stored_ = [&publisher] { publisher.Wake(); };
  publisher.Start();

  Send("post_call_transcription", "conv_pub_1",
       R"("status": "done", "transcript": [{"role": "agent", "message": "Hola", "time_in_call_secs": 2},)"
       R"( {"role": "user", "message": null, "time_in_call_secs": 5}],)"
       R"( "metadata": {"call_duration_secs": 31, "cost": 412, "phone_call": {"type": "twilio", "call_sid": "CA1"}},)"
       R"( "analysis": {"call_successful": "success", "data_collection_results": {"appointment_confirmed": {"value": true}}},)"
       R"( "conversation_initiation_client_data": {"user_id": "corr-1", "dynamic_variables": {"patient_id": 7}})");
  Send("call_initiation_failure", "conv_pub_2",
       R"("failure_reason": "busy", "metadata": {"type": "twilio", "body": {"CallSid": "CA2", "CallStatus": "busy", "SipResponseCode": "486"}})");
  ASSERT_TRUE(WaitFor([&] { return sink.events().size() == 2; }));
  const auto events = sink.events();
  const v1::CallEvent& t = events[0];
  EXPECT_EQ(t.type(), v1::EVENT_TYPE_POST_CALL_TRANSCRIPTION);
  EXPECT_EQ(t.conversation_id(), "conv_pub_1");
  EXPECT_EQ(t.event_timestamp(), 1739537297);
  EXPECT_GT(t.inbox_id(), 0);
  ASSERT_EQ(t.transcription().transcript_size(), 2);
  EXPECT_EQ(t.transcription().transcript(0).message(), "Hola");
  EXPECT_TRUE(t.transcription().transcript(0).has_message());
  EXPECT_FALSE(t.transcription().transcript(1).has_message());
  EXPECT_EQ(t.transcription().metadata().call_duration_secs(), 31);
  EXPECT_EQ(t.transcription().metadata().cost(), 412);
  EXPECT_EQ(t.transcription().metadata().call_sid(), "CA1");
  EXPECT_EQ(t.transcription().analysis().call_successful(), "success");
  EXPECT_EQ(t.transcription().user_id(), "corr-1");
  EXPECT_EQ(t.transcription().dynamic_variables().fields().at("patient_id").number_value(), 7);
  const v1::CallEvent& f = events[1];
  EXPECT_EQ(f.type(), v1::EVENT_TYPE_CALL_INITIATION_FAILURE);
  EXPECT_EQ(f.initiation_failure().failure_reason(), "busy");
  EXPECT_EQ(f.initiation_failure().call_sid(), "CA2");
  EXPECT_EQ(f.initiation_failure().sip_status_code(), 486);

  // The token carries events:publish and verifies with the shared secret.
  auto jwt = common::JwtVerifier::Create({.issuer = options.jwt_issuer,
                                          .audiences = options.jwt_audiences,
                                          .hs256_secrets = {options.jwt_hs256_secret}});
  ASSERT_TRUE(jwt.ok());
  const std::string auth = sink.authorizations().at(0);
  ASSERT_TRUE(auth.starts_with("Bearer "));
  auto principal = jwt->Verify(auth.substr(7));
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_TRUE(principal->Has(common::Permission::kPublishEvents));

  ASSERT_TRUE(WaitFor([&] {
    return Count("SELECT count(*) FROM webhook_inbox WHERE published_at IS NULL") == 0;
  }));
  publisher.Stop();
}

TEST_F(IngestPublishTest, RetriesUntilTheGatewayIsBackAndKeepsOrderPerConversation) {
  StartIngest();
  RecordingSink sink;
  SinkServer server(&sink);
  const int port = server.port();
  server.Stop();  // call-gateway down from the start
  webhook_ingest::Publisher publisher(db_->url(), PublisherOptionsFor(server.address()),
                                      metrics_.get());
  on_stored_ = [&publisher] { publisher.Wake(); };
  publisher.Start();
  for (int c = 0; c < 4; ++c) {
    Send("post_call_audio", common::Cat("conv_ord_", c), R"("full_audio": "AAAA")");
    Send("post_call_transcription", common::Cat("conv_ord_", c));
    Send("call_initiation_failure", common::Cat("conv_ord_", c), R"("failure_reason": "unknown")");
  }
  // Attempts are being made and recorded, nothing is acknowledged.
  ASSERT_TRUE(WaitFor([&] {
    return Count("SELECT count(*) FROM webhook_inbox WHERE publish_attempts >= 2") > 0;
  }));
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox WHERE published_at IS NOT NULL"), 0);
  EXPECT_GE(Metric("webhook_publish_retries_total"), 2);

  // Back, but failing its first answers: still retried.
  sink.fail_remaining = 2;
  SinkServer back(&sink, port);
  ASSERT_TRUE(WaitFor([&] { return sink.events().size() == 12; }));
  const auto events = sink.events();
  // Each event exactly once, and per conversation in the order stored (audio, transcription,
  // failure), i.e. by increasing inbox id.
  std::map<std::string, std::vector<const v1::CallEvent*>> by_conversation;
  std::set<int64_t> ids;
  for (const auto& e : events) {
    by_conversation[e.conversation_id()].push_back(&e);
    ids.insert(e.inbox_id());
  }
  EXPECT_EQ(ids.size(), 12u);
  for (const auto& [conversation, list] : by_conversation) {
    ASSERT_EQ(list.size(), 3u) << conversation;
    EXPECT_EQ(list[0]->type(), v1::EVENT_TYPE_POST_CALL_AUDIO);
    EXPECT_EQ(list[1]->type(), v1::EVENT_TYPE_POST_CALL_TRANSCRIPTION);
    EXPECT_EQ(list[2]->type(), v1::EVENT_TYPE_CALL_INITIATION_FAILURE);
    EXPECT_LT(list[0]->inbox_id(), list[1]->inbox_id());
    EXPECT_LT(list[1]->inbox_id(), list[2]->inbox_id());
  }
  EXPECT_EQ(by_conversation["conv_ord_0"][0]->audio().size_bytes(), 3);
  publisher.Stop();
}

TEST_F(IngestPublishTest, PendingEventsSurviveRestartsOfEitherSide) {
  StartIngest();
  RecordingSink sink;
  sink.fail_always = true;
  SinkServer server(&sink);
  {
    webhook_ingest::Publisher first(db_->url(), PublisherOptionsFor(server.address()),
                                    metrics_.get());
    first.Start();
    for (int i = 0; i < 5; ++i) Send("post_call_transcription", common::Cat("conv_restart_", i));
    ASSERT_TRUE(WaitFor([&] { return sink.calls() >= 2; }));
    first.Stop();  // webhook-ingest restarts with everything still pending
  }
  // The HTTPS side restarts too; the inbox is all that carries over.
  StopIngest();
  StartIngest();
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox WHERE published_at IS NULL"), 5);
  server.Stop();
  sink.fail_always = false;
  server.Start();  // call-gateway restarted as well
  webhook_ingest::Publisher second(db_->url(), PublisherOptionsFor(server.address()),
                                   metrics_.get());
  second.Start();
  ASSERT_TRUE(WaitFor([&] { return sink.events().size() == 5; }))
      << "calls " << sink.calls() << " attempts "
      << Count("SELECT max(publish_attempts) FROM webhook_inbox");
  ASSERT_TRUE(WaitFor([&] {
    return Count("SELECT count(*) FROM webhook_inbox WHERE published_at IS NULL") == 0;
  }));
  second.Stop();
  EXPECT_EQ(sink.events().size(), 5u);
}

TEST_F(IngestPublishTest, OnlyOneReplicaPublishesAtATime) {
  StartIngest();
  RecordingSink sink;
  SinkServer server(&sink);
  webhook_ingest::Publisher a(db_->url(), PublisherOptionsFor(server.address()), metrics_.get());
  webhook_ingest::Publisher b(db_->url(), PublisherOptionsFor(server.address()), metrics_.get());
  for (int i = 0; i < 6; ++i) Send("post_call_transcription", common::Cat("conv_rep_", i));
  auto na = a.PublishPending();  // takes the advisory lock
  auto nb = b.PublishPending();
  ASSERT_TRUE(na.ok());
  ASSERT_TRUE(nb.ok());
  EXPECT_EQ(*na, 6);
  EXPECT_EQ(*nb, 0);
  EXPECT_EQ(sink.events().size(), 6u);
}

}  // namespace
}  // namespace outcall::ingest_testing
