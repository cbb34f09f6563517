// The whole call path with every real part in one process, over real sockets: call-gateway
// (gRPC) places the call with the ElevenLabs simulator (HTTP), the simulator sends its signed
// webhooks to webhook-ingest (HTTPS, certificate made at test time), ingest stores them in
// PostgreSQL and publishes them to call-gateway's CallEventSink (gRPC, self-minted token), and
// call-gateway applies them. Nothing is stubbed: what a clinic sees at the end is what these
// tests assert (status, transcript, analysis, appointment, recording, the live watch stream).
#include "pipeline_fixture.h"

namespace outcall {
namespace {

namespace json = boost::json;
using common::Cat;

class PipelineTest : public testing::PipelineFixture {};

TEST_F(PipelineTest, ConfirmedCallEndsWithTranscriptAnalysisAppointmentAndRecording) {
  Query(
      "INSERT INTO patients (id, full_name, phone_e164) VALUES (1, 'Ana Ruiz', '+573005550001');"
      "INSERT INTO appointments (id, patient_id, scheduled_at) VALUES (10, 1, now() + interval "
      "'1 day')");
  // A dashboard watching every call, from before the call is placed.
  grpc::ClientContext watch_ctx;
  Auth(watch_ctx);
  watch_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = gateway_->WatchCallEvents(&watch_ctx, v1::WatchCallEventsRequest());
  std::vector<v1::CallUpdate> updates;
  std::thread watcher([&] {
    v1::CallUpdate u;
    while (stream->Read(&u)) {
      updates.push_back(u);
      if (u.status() == "completed") break;
    }
  });
  struct StopWatching {  // also when an assertion below returns early
    grpc::ClientContext& ctx;
    std::thread& thread;
    ~StopWatching() {
      ctx.TryCancel();
      if (thread.joinable()) thread.join();
    }
  } stop_watching{watch_ctx, watcher};

  const auto placed = Place("+57 300 555 0001", 10);
  const std::string conv = placed.data().conversation_id();
  ASSERT_FALSE(conv.empty());
  AdvanceSim(60);  // rings 6 s, talks 31 s, analysis 4 s: both webhooks go out

  ASSERT_TRUE(WaitForScalar(
      Cat("SELECT count(*) FROM elevenlabs_audio WHERE conversation_id = '", conv, "'"), "1"))
      << "the recording never reached elevenlabs_audio";
  EXPECT_EQ(StatusOf(conv), "completed");
  watcher.join();

  // Transcript (with the tool turn whose message is null), analysis and the patient's answer.
  EXPECT_GE(
      std::stoi(Scalar(Cat(
          "SELECT count(*) FROM elevenlabs_transcriptions WHERE conversation_id = '", conv, "'"))),
      3);
  EXPECT_EQ(Scalar(Cat("SELECT count(*) FROM elevenlabs_transcriptions WHERE conversation_id = '",
                       conv, "' AND message IS NULL")),
            "1");
  EXPECT_EQ(Scalar(Cat("SELECT call_successful FROM elevenlabs_analysis WHERE conversation_id = '",
                       conv, "'")),
            "success");
  EXPECT_EQ(Scalar("SELECT status FROM appointments WHERE id = 10"), "confirmed");
  // Cost in USD (ElevenLabs' cost_fiat: 31 s at the simulator's 0.10 USD a minute) and credits.
  EXPECT_EQ(Scalar(Cat("SELECT cost || ' ' || cost_credits FROM elevenlabs_conversations WHERE "
                       "conversation_id = '",
                       conv, "'")),
            "0.0517 309");
  EXPECT_EQ(Scalar(Cat("SELECT duration_secs FROM elevenlabs_conversations WHERE "
                       "conversation_id = '",
                       conv, "'")),
            "31");

  // The stored recording is byte for byte the simulator's, and its parts are gone.
  const std::string mp3 = SimGetRaw(Cat("/v1/convai/conversations/", conv, "/audio"));
  ASSERT_GT(mp3.size(), 64u * 1024) << "expected several 64 KiB parts";
  EXPECT_EQ(Scalar(Cat("SELECT encode(sha256(audio), 'hex') || ':' || size_bytes FROM "
                       "elevenlabs_audio WHERE conversation_id = '",
                       conv, "'")),
            Cat(common::Sha256::Hex(mp3), ":", mp3.size()));
  EXPECT_EQ(Scalar("SELECT count(*) FROM webhook_audio_parts"), "0");
  EXPECT_EQ(Scalar(Cat("SELECT metadata->'audio'->>'stored' FROM elevenlabs_conversations WHERE "
                       "conversation_id = '",
                       conv, "'")),
            "true");
  // Both events were delivered once and acknowledged.
  EXPECT_EQ(Scalar(Cat("SELECT count(*) FROM webhook_inbox WHERE conversation_id = '", conv,
                       "' AND published_at IS NOT NULL")),
            "2");
  EXPECT_EQ(
      Scalar(Cat("SELECT count(*) FROM applied_call_events WHERE conversation_id = '", conv, "'")),
      "2");

  // The watcher saw the call move forward to completed.
  ASSERT_FALSE(updates.empty());
  EXPECT_EQ(updates.back().conversation_id(), conv);
  EXPECT_EQ(updates.back().status(), "completed");
  EXPECT_EQ(updates.back().cause(), "post_call_transcription");
}

// ElevenLabs sends each webhook once: when the post_call_audio webhook is lost (ingest down,
// a network fault), the reconciler fetches the recording from the audio endpoint once the grace
// is over, through the gateway's database role, and stores the same bytes the webhook would have.
TEST_F(PipelineTest, ALostAudioWebhookIsMadeGoodByTheReconciler) {
  sim_->webhooks().SetFaults({{.kind = "drop", .type = "post_call_audio"}});
  const auto placed = Place("+57 300 555 0001", std::nullopt);
  const std::string conv = placed.data().conversation_id();
  ASSERT_FALSE(conv.empty());
  AdvanceSim(60);
  ASSERT_TRUE(WaitForScalar(
      Cat("SELECT count(*) FROM applied_call_events WHERE conversation_id = '", conv, "'"), "1"));
  EXPECT_EQ(StatusOf(conv), "completed");
  EXPECT_EQ(
      Scalar(Cat("SELECT count(*) FROM elevenlabs_audio WHERE conversation_id = '", conv, "'")),
      "0");
  call_gateway::GatewayService reconciler(
      call_gateway::GatewayOptions{.default_agent_id = "agent_sim_confirmaciones",
                                   .agent_phone_number_id = "phnum_sim_twilio",
                                   .audio_grace_secs = 0},
      *store_, *elevenlabs_, *auth_, nullptr);
  ASSERT_TRUE(reconciler.ReconcileOnce().ok());
  const std::string mp3 = SimGetRaw(Cat("/v1/convai/conversations/", conv, "/audio"));
  ASSERT_GT(mp3.size(), 0u);
  EXPECT_EQ(Scalar(Cat("SELECT encode(sha256(audio), 'hex') || ':' || sha256 || ':' || "
                       "size_bytes FROM elevenlabs_audio WHERE conversation_id = '",
                       conv, "'")),
            Cat(common::Sha256::Hex(mp3), ":", common::Sha256::Hex(mp3), ":", mp3.size()));
  EXPECT_EQ(Scalar("SELECT count(*) FROM call_audio_recovery"), "0");
}

TEST_F(PipelineTest, BusyLineBecomesBusyWithTheProviderReasonRecorded) {
  const auto placed = Place("+57 300 555 0005", std::nullopt);
  const std::string conv = placed.data().conversation_id();
  AdvanceSim(10);
  ASSERT_TRUE(WaitForScalar(Cat("SELECT status FROM elevenlabs_conversations WHERE "
                                "conversation_id = '",
                                conv, "'"),
                            "busy"));
  EXPECT_EQ(Scalar(Cat("SELECT count(*) FROM elevenlabs_call_errors WHERE conversation_id = '",
                       conv, "' AND source = 'webhook' AND error_code = 'busy'")),
            "1");
  EXPECT_EQ(Scalar("SELECT count(*) FROM elevenlabs_transcriptions"), "0");
}

TEST_F(PipelineTest, WebhooksAfterAnErasureDoNotBringTheDataBack) {
  const auto placed = Place("+57 300 555 0008", std::nullopt);  // a long call
  const std::string conv = placed.data().conversation_id();
  AdvanceSim(10);  // answered, talking
  {
    grpc::ClientContext ctx;
    Auth(ctx);
    v1::EndCallRequest req;
    req.set_conversation_id(conv);
    v1::EndCallResponse resp;
    ASSERT_TRUE(gateway_->EndCall(&ctx, req, &resp).ok());
  }
  {
    grpc::ClientContext ctx;
    Auth(ctx);
    v1::EraseConversationRequest req;
    req.set_conversation_id(conv);
    v1::EraseConversationResponse resp;
    auto s = gateway_->EraseConversation(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // The hung-up call still produces its webhooks (ElevenLabs sends them after a hang-up).
  const std::string applied =
      Cat("SELECT count(*) FROM applied_call_events WHERE conversation_id = '", conv, "'");
  ASSERT_TRUE(AdvanceSimUntil(applied, "2")) << "applied events: " << Scalar(applied);
  EXPECT_EQ(StatusOf(conv), "ended_manually");
  EXPECT_EQ(Scalar(Cat("SELECT count(*) FROM elevenlabs_transcriptions WHERE conversation_id = '",
                       conv, "'")),
            "0");
  EXPECT_EQ(
      Scalar(Cat("SELECT count(*) FROM elevenlabs_analysis WHERE conversation_id = '", conv, "'")),
      "0");
  EXPECT_EQ(
      Scalar(Cat("SELECT count(*) FROM elevenlabs_audio WHERE conversation_id = '", conv, "'")),
      "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM webhook_audio_parts"), "0");
  // The inbox keeps that the events came (and would recognise a redelivery), not what they said.
  EXPECT_EQ(Scalar(Cat("SELECT count(*) FROM webhook_inbox WHERE conversation_id = '", conv,
                       "' AND length(body) = 0 AND published_at IS NOT NULL")),
            "2");
  EXPECT_EQ(Scalar(Cat("SELECT patient_name IS NULL FROM elevenlabs_conversations WHERE "
                       "conversation_id = '",
                       conv, "'")),
            "t");
}

TEST_F(PipelineTest, ADeletionRequestErasesEveryCallHereAndAtElevenLabsAndTheFiguresStay) {
  Query("INSERT INTO patients (id, full_name, phone_e164) VALUES (1, 'Ana Ruiz', '+573005550001')");
  auto request = [&](v1::CreateDataRequestRequest req) {
    grpc::ClientContext ctx;
    Auth(ctx, {"privacy:admin"});
    req.set_patient_id(1);
    req.set_received_via("email");
    v1::DataRequest out;
    auto s = gateway_->CreateDataRequest(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  };
  // A confirmed call, over.
  const std::string first = Place("+57 300 555 0001", std::nullopt).data().conversation_id();
  AdvanceSim(60);
  ASSERT_TRUE(WaitForScalar(
      Cat("SELECT count(*) FROM elevenlabs_audio WHERE conversation_id = '", first, "'"), "1"));
  // The patient corrects the number (a rectification, done at once) and is called on the new one:
  // a long call, still live when the patient asks for deletion.
  v1::CreateDataRequestRequest rectify;
  rectify.set_kind("rectification");
  rectify.set_phone_number("300 555 0008");
  const v1::DataRequest rectified = request(rectify);
  EXPECT_EQ(rectified.state(), "completed");
  EXPECT_EQ(rectified.legal_basis(), "Ley 1581 de 2012 art. 15");
  EXPECT_EQ(Scalar("SELECT phone_e164 FROM patients WHERE id = 1"), "+573005550008");
  const std::string second = Place("+57 300 555 0008", std::nullopt).data().conversation_id();
  AdvanceSim(10);
  EXPECT_EQ(Scalar(Cat("SELECT patient_id FROM elevenlabs_conversations WHERE conversation_id = '",
                       second, "'")),
            "1");

  v1::CreateDataRequestRequest del;
  del.set_kind("deletion");
  del.set_external_ref("RAD-2026-0042");
  const v1::DataRequest deletion = request(del);
  EXPECT_EQ(deletion.state(), "in_progress");
  EXPECT_EQ(deletion.erasures_pending(), 2);
  EXPECT_FALSE(deletion.due_at().empty());
  EXPECT_FALSE(deletion.overdue());
  // The patient's own data goes at once; the row stays for the ledgers.
  EXPECT_EQ(Scalar("SELECT (full_name IS NULL AND phone_e164 IS NULL AND erased_at IS NOT NULL)"
                   "::text FROM patients WHERE id = 1"),
            "true");
  // The same filing number again: the same request, nothing new.
  const v1::DataRequest again = request(del);
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(again.request_id(), deletion.request_id());

  // A pass erases the call that is over, at ElevenLabs and here; the live one waits.
  ASSERT_TRUE(gateway_service_->ReconcileOnce().ok());
  EXPECT_NE(SimGetRaw(Cat("/v1/convai/conversations/", first)).find("conversation_not_found"),
            std::string::npos);
  EXPECT_EQ(Scalar(Cat("SELECT count(*) FROM elevenlabs_transcriptions WHERE conversation_id = '",
                       first, "'")),
            "0");
  EXPECT_EQ(
      Scalar(Cat("SELECT count(*) FROM elevenlabs_audio WHERE conversation_id = '", first, "'")),
      "0");
  EXPECT_EQ(SimGetRaw(Cat("/v1/convai/conversations/", second)).find("conversation_not_found"),
            std::string::npos);
  EXPECT_EQ(Scalar(Cat("SELECT count(*) FROM data_request_erasures WHERE done_at IS NULL")), "1");

  // The live call ends; its webhooks are applied; then it is erased too.
  {
    grpc::ClientContext ctx;
    Auth(ctx);
    v1::EndCallRequest req;
    req.set_conversation_id(second);
    v1::EndCallResponse resp;
    ASSERT_TRUE(gateway_->EndCall(&ctx, req, &resp).ok());
  }
  ASSERT_TRUE(AdvanceSimUntil(
      Cat("SELECT count(*) FROM applied_call_events WHERE conversation_id = '", second, "'"), "2"));
  const std::string figures_sql =
      "SELECT string_agg(concat_ws(' ', status, duration_secs, cost, started_at, ended_at), ', ' "
      "ORDER BY id) FROM elevenlabs_conversations";
  const std::string rollups_sql =
      "SELECT string_agg(to_jsonb(r)::text, ', ' ORDER BY to_jsonb(r)::text) FROM "
      "call_daily_rollups r";
  const std::string figures = Scalar(figures_sql), rollups = Scalar(rollups_sql);
  // The waiting item's next look is a minute away (real time): brought forward.
  Query("UPDATE data_request_erasures SET next_attempt_at = now() WHERE done_at IS NULL");
  ASSERT_TRUE(gateway_service_->ReconcileOnce().ok());
  EXPECT_NE(SimGetRaw(Cat("/v1/convai/conversations/", second)).find("conversation_not_found"),
            std::string::npos);
  EXPECT_EQ(Scalar("SELECT count(*) FROM elevenlabs_transcriptions"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM elevenlabs_analysis"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM elevenlabs_conversations WHERE patient_name IS NOT NULL "
                   "OR custom_variables <> '{}'"),
            "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM webhook_inbox WHERE length(body) > 0"), "0");
  // What stats reads is untouched: every call's figures and the daily rollups.
  EXPECT_EQ(Scalar(figures_sql), figures);
  EXPECT_EQ(Scalar(rollups_sql), rollups);
  EXPECT_EQ(Scalar("SELECT count(*) FROM elevenlabs_conversations"), "2");

  grpc::ClientContext ctx;
  Auth(ctx, {"privacy:admin"});
  v1::GetDataRequestRequest get;
  get.set_request_id(deletion.request_id());
  v1::DataRequest done;
  ASSERT_TRUE(gateway_->GetDataRequest(&ctx, get, &done).ok());
  EXPECT_EQ(done.state(), "completed");
  EXPECT_EQ(done.erasures_pending(), 0);
  EXPECT_EQ(done.detail().fields().at("calls_erased").number_value(), 2);
  // Nothing is left to delete or rectify, and without calls:write nothing may be asked.
  grpc::ClientContext again_ctx;
  Auth(again_ctx, {"privacy:admin"});
  v1::CreateDataRequestRequest late = rectify;
  late.set_patient_id(1);
  late.set_received_via("email");
  v1::DataRequest refused;
  const grpc::Status s = gateway_->CreateDataRequest(&again_ctx, late, &refused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(),
            "patient 1's personal data was deleted on request: nothing is left to rectify");
  grpc::ClientContext denied_ctx;
  Auth(denied_ctx);
  EXPECT_EQ(gateway_->GetDataRequest(&denied_ctx, get, &done).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(PipelineTest, NoMeLlamenMasInACallStopsThePatientsQueuedAttempts) {
  Query(
      "INSERT INTO patients (id, full_name, phone_e164) VALUES (1, 'Ana Ruiz', '+573005550003'), "
      "(2, 'Luis Gómez', '+573005550004');"
      "INSERT INTO campaigns (id, name, purpose, agent_id, created_by) VALUES (1, 'Recordatorios', "
      "'reminder', 'agent_sim_confirmaciones', 'test');"
      "INSERT INTO campaign_recipients (id, campaign_id, patient_id, phone_e164, state) VALUES "
      "(1, 1, 1, '+573005550003', 'pending'), (2, 1, 2, '+573005550004', 'scheduled')");
  // The opt-out scenario: the patient says "no me llamen más"; the analysis' do_not_call comes
  // through ingest's verified webhook, the publisher and ApplyEvents.
  const std::string conv = Place("+57 300 555 0003", std::nullopt).data().conversation_id();
  AdvanceSim(60);
  ASSERT_TRUE(
      WaitForScalar("SELECT count(*) FROM call_opt_outs WHERE phone_e164 = '+573005550003'", "1"));
  EXPECT_EQ(Scalar("SELECT state || ':' || outcome FROM campaign_recipients WHERE id = 1"),
            "opted_out:opt_out");
  EXPECT_EQ(Scalar("SELECT state FROM campaign_recipients WHERE id = 2"), "scheduled");
  // The consent ledger has the revocations, with the conversation as evidence.
  EXPECT_NE(Scalar(Cat("SELECT count(*) FROM patient_consents WHERE patient_id = 1 AND state = "
                       "'revoked' AND evidence_ref LIKE '%",
                       conv, "%'")),
            "0");
}

// What webhook-ingest's HTTPS handler stores for a verified transcription webhook.
std::string TranscriptionBody(const std::string& conv, const std::string& metadata,
                              const std::string& transcript) {
  return Cat(R"({"type": "post_call_transcription", "event_timestamp": 1795000100, "data": )",
             R"({"agent_id": "agent_sim_confirmaciones", "conversation_id": ")", conv,
             R"(", "status": "done", "transcript": )", transcript, R"(, "metadata": )", metadata,
             R"(, "analysis": {"call_successful": "success"}}})");
}

TEST_F(PipelineTest, AnEventThatCannotBeAppliedIsQuarantinedAndOnlyItsConversationWaits) {
  const auto poisoned = Place("+57 300 555 0001", std::nullopt);
  const auto healthy = Place("+57 300 555 0002", std::nullopt);
  const std::string bad_conv = poisoned.data().conversation_id();
  const std::string good_conv = healthy.data().conversation_id();
  const std::string turns = R"([{"role": "agent", "message": "Hola", "time_in_call_secs": 0}])";
  auto store = [&](const std::string& type, const std::string& conv, const std::string& body) {
    pqxx::connection conn(AsRole("outcall_ingest"));
    pqxx::work tx(conn);
    const auto r = tx.exec_params1(
        "INSERT INTO webhook_inbox (event_type, conversation_id, body, body_sha256) VALUES ($1, "
        "$2, convert_to($3, 'UTF8'), repeat('a', 64)) RETURNING id",
        type, conv, body);
    tx.commit();
    publisher_->Wake();
    return r[0].as<int64_t>();
  };
  // A negative duration: the mapping names the field; the event is quarantined, not applied
  // with a silent 0 and not retried forever ahead of everyone else.
  const int64_t bad = store("post_call_transcription", bad_conv,
                            TranscriptionBody(bad_conv, R"({"call_duration_secs": -40})", turns));
  const int64_t later =
      store("post_call_audio", bad_conv,
            Cat(R"({"type": "post_call_audio", "data": {"agent_id": "a", "conversation_id": ")",
                bad_conv, R"("}, "outcall_audio": {"stored": false, "size_bytes": 10, "sha256": ")",
                std::string(64, 'b'), R"(", "content_type": "audio/mpeg"}})"));
  // Another conversation's event, stored after both, still goes through, with a tool turn and an
  // unknown verdict kept as data.
  store("post_call_transcription", good_conv,
        Cat(R"({"type": "post_call_transcription", "data": {"conversation_id": ")", good_conv,
            R"(", "transcript": [{"role": "tool", "message": null, "time_in_call_secs": 3}],)",
            R"( "metadata": {"call_duration_secs": 12}, "analysis": {"call_successful":)",
            R"( "maybe"}}})"));
  ASSERT_TRUE(WaitForScalar(Cat("SELECT status FROM elevenlabs_conversations WHERE "
                                "conversation_id = '",
                                good_conv, "'"),
                            "completed"));
  EXPECT_EQ(Scalar(Cat("SELECT role FROM elevenlabs_transcriptions WHERE conversation_id = '",
                       good_conv, "'")),
            "tool");
  ASSERT_TRUE(WaitForScalar(Cat("SELECT quarantine_reason FROM webhook_inbox WHERE id = ", bad),
                            "mapping: data.metadata.call_duration_secs is negative"));
  EXPECT_EQ(StatusOf(bad_conv), "initiated");
  // The later event of the poisoned conversation waits behind it, untouched.
  EXPECT_EQ(Scalar(Cat("SELECT published_at IS NULL AND quarantined_at IS NULL AND "
                       "publish_attempts = 0 FROM webhook_inbox WHERE id = ",
                       later)),
            "t");

  // The operator sees it, fixes the body, and both events go through in order.
  const std::string cli = OUTCALL_INBOX_BINARY;
  const std::string env = Cat("DATABASE_URL='", db_.url(), "' ");
  FILE* list = popen((env + cli + " list").c_str(), "r");
  ASSERT_NE(list, nullptr);
  std::string listed;
  char buf[512];
  while (fgets(buf, sizeof buf, list) != nullptr) listed += buf;
  ASSERT_EQ(pclose(list), 0);
  EXPECT_NE(listed.find(std::to_string(bad)), std::string::npos) << listed;
  EXPECT_NE(listed.find("call_duration_secs is negative"), std::string::npos) << listed;
  EXPECT_NE(listed.find("1 in quarantine"), std::string::npos) << listed;
  const std::string fixed = ::testing::TempDir() + "/fixed.json";
  { std::ofstream(fixed) << TranscriptionBody(bad_conv, R"({"call_duration_secs": 40})", turns); }
  EXPECT_EQ(std::system((env + cli + " replace " + std::to_string(bad) + " " + fixed).c_str()), 0);
  EXPECT_NE(std::system((env + cli + " retry " + std::to_string(bad) + " 2>/dev/null").c_str()), 0)
      << "no longer in quarantine";
  ASSERT_TRUE(WaitForScalar(Cat("SELECT count(*) FROM webhook_inbox WHERE conversation_id = '",
                                bad_conv, "' AND published_at IS NOT NULL"),
                            "2"));
  EXPECT_EQ(StatusOf(bad_conv), "completed");
  EXPECT_EQ(Scalar(Cat("SELECT duration_secs FROM elevenlabs_conversations WHERE "
                       "conversation_id = '",
                       bad_conv, "'")),
            "40");
  EXPECT_EQ(Scalar(Cat("SELECT convert_from(original_body, 'UTF8') LIKE '%-40%' FROM "
                       "webhook_inbox WHERE id = ",
                       bad)),
            "t");
}

TEST_F(PipelineTest, EventsWaitInTheInboxWhileTheGatewayIsDownAndArriveWhenItIsBack) {
  const auto placed = Place("+57 300 555 0002", std::nullopt);  // reschedule
  const std::string conv = placed.data().conversation_id();
  const int port = grpc_->port();
  StopGateway();
  AdvanceSim(70);  // the call ends; both webhooks are acknowledged by ingest
  ASSERT_TRUE(WaitForScalar(
      Cat("SELECT count(*) FROM webhook_inbox WHERE conversation_id = '", conv, "'"), "2"));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // several failed attempts
  EXPECT_EQ(Scalar(Cat("SELECT count(*) FROM webhook_inbox WHERE conversation_id = '", conv,
                       "' AND published_at IS NULL AND publish_attempts > 0")),
            "2");
  EXPECT_EQ(StatusOf(conv), "initiated");

  StartGateway(Cat("127.0.0.1:", port));  // back, with nothing in memory
  ASSERT_TRUE(WaitForScalar(Cat("SELECT count(*) FROM webhook_inbox WHERE conversation_id = '",
                                conv, "' AND published_at IS NOT NULL"),
                            "2"));
  EXPECT_EQ(StatusOf(conv), "completed");
  EXPECT_EQ(Scalar(Cat("SELECT data_collection_results->'reschedule_requested'->>'value' FROM "
                       "elevenlabs_analysis WHERE conversation_id = '",
                       conv, "'")),
            "true");
  EXPECT_EQ(
      Scalar(Cat("SELECT count(*) FROM elevenlabs_audio WHERE conversation_id = '", conv, "'")),
      "1");
}

}  // namespace
}  // namespace outcall
