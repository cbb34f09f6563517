// Campaigns end to end (issue 16): call-gateway's dispatcher calls a campaign's recipients by
// itself through the real path (the simulator at an accelerated clock, signed webhooks through
// webhook-ingest's HTTPS endpoint and publisher, PostgreSQL with each service's role), and what
// a clinic sees is asserted: every recipient in the right final state, counters that add up at
// every moment, nobody dialled twice (the simulator's per-correlation counters: each attempt's
// call id is its key), pause within a tick, two replicas sharing the work, the simulator's
// concurrency cap as back-pressure, the breaker, and retries in the campaign's next window.
#include "outcall/v1/campaigns.grpc.pb.h"
#include "pipeline_fixture.h"

#include <sys/wait.h>

namespace outcall {
namespace {

namespace json = boost::json;
using common::Cat;
using std::chrono::milliseconds;

class CampaignsTest : public testing::PipelineFixture {
 protected:
  void ConfigureSim(sim::SimConfig& sc) override {
    sc.time_scale = 200;  // a 47-second call lasts a quarter of a second
    sc.max_concurrent_calls = 200;
  }
  void ConfigureGateway(call_gateway::GatewayOptions& o) override {
    o.dispatch_every = absl::Milliseconds(100);
    o.max_concurrent_calls = 60;
    o.campaign_reserved_calls = 2;
    o.dial_workers = 8;
  }
  void SetUp() override {
    PipelineFixture::SetUp();
    if (HasFatalFailure()) return;
    campaigns_ = v1::Campaigns::NewStub(grpc::CreateChannel(
        Cat("127.0.0.1:", grpc_->port()), grpc::InsecureChannelCredentials()));
    gateway_service_->StartDispatcher();
  }

  void Writer(grpc::ClientContext& ctx) { Auth(ctx, {"calls:read", "campaigns:write"}); }

  // Numbers +57 300 56N NNNN, each with its scenario set at the simulator.
  std::vector<std::string> Numbers(int n, int offset, const std::string& scenario) {
    std::vector<std::string> out;
    json::object numbers;
    for (int i = 0; i < n; ++i) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "+573005%06d", offset + i);
      out.push_back(buf);
      numbers[buf] = scenario;
    }
    SimPut("/__sim/scenarios", json::serialize(json::object{{"numbers", numbers}}));
    return out;
  }
  void SimPut(const std::string& path, const std::string& body) {
    common::HttpRequest req;
    req.method = "PUT";
    req.url = Cat(sim_->base_url(), path);
    req.body = body;
    auto r = common::HttpClient().Send(req);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
  }
  json::object SimCounters() {
    common::HttpRequest req;
    req.url = Cat(sim_->base_url(), "/__sim/counters");
    auto r = common::HttpClient().Send(req);
    EXPECT_TRUE(r.ok());
    return json::parse(r->body).as_object();
  }

  v1::CampaignSpec Spec(int concurrency, int cpm) {
    v1::CampaignSpec s;
    s.set_name("Confirmaciones de mañana");
    s.set_purpose("confirmation");
    (*s.mutable_variables_template()->mutable_fields())["clinic"].set_string_value("Clínica Norte");
    s.mutable_pacing()->set_max_concurrency(concurrency);
    s.mutable_pacing()->set_calls_per_minute(cpm);
    s.mutable_retry()->add_retry_on("no_answer");
    s.mutable_retry()->add_retry_on("busy");
    s.mutable_retry()->add_intervals_secs(1);
    s.mutable_retry()->set_max_attempts(2);
    // Failures are part of these runs: the breaker only where a test wants it.
    s.mutable_breaker()->set_failure_rate(1.0);
    s.mutable_breaker()->set_window(1000);
    s.mutable_breaker()->set_min_sample(1000);
    return s;
  }

  v1::Campaign Create(const v1::CampaignSpec& spec, const std::vector<std::string>& numbers,
                      bool start = true, grpc::Status* status = nullptr) {
    v1::CreateCampaignRequest req;
    *req.mutable_spec() = spec;
    for (const auto& n : numbers) req.add_recipients()->set_phone_number(n);
    req.set_start(start);
    grpc::ClientContext ctx;
    Writer(ctx);
    v1::Campaign out;
    grpc::Status s = campaigns_->CreateCampaign(&ctx, req, &out);
    if (status) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return out;
  }
  v1::Campaign Get(const std::string& id) {
    grpc::ClientContext ctx;
    Writer(ctx);
    v1::GetCampaignRequest req;
    req.set_campaign_id(id);
    v1::Campaign out;
    auto s = campaigns_->GetCampaign(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }
  grpc::Status Action(const std::string& rpc, const std::string& id, v1::Campaign* out) {
    grpc::ClientContext ctx;
    Writer(ctx);
    v1::CampaignActionRequest req;
    req.set_campaign_id(id);
    if (rpc == "pause") return campaigns_->PauseCampaign(&ctx, req, out);
    if (rpc == "resume") return campaigns_->ResumeCampaign(&ctx, req, out);
    if (rpc == "cancel") return campaigns_->CancelCampaign(&ctx, req, out);
    return campaigns_->StartCampaign(&ctx, req, out);
  }
  static int StateSum(const v1::CampaignCounters& k) {
    return k.pending() + k.scheduled() + k.dialing() + k.in_call() + k.done() + k.exhausted() +
           k.ineligible() + k.opted_out() + k.canceled() + k.expired();
  }
  // Polls the campaign until `done` holds; each look checks that the counters add up.
  v1::Campaign WaitFor(const std::string& id, const std::function<bool(const v1::Campaign&)>& done,
                       int seconds = 90) {
    v1::Campaign c;
    for (int i = 0; i < seconds * 10; ++i) {
      c = Get(id);
      EXPECT_EQ(StateSum(c.counters()), c.counters().total()) << c.DebugString();
      if (done(c)) return c;
      std::this_thread::sleep_for(milliseconds(100));
    }
    ADD_FAILURE() << "campaign never got there: " << c.DebugString();
    return c;
  }
  // Every attempt's call id was dialled at most once, and each recipient as often as it has
  // attempts with a call.
  void ExpectNoDoubleDial() {
    const json::object counters = SimCounters();
    for (const auto& [id, n] : counters.at("dialled_by_correlation_id").as_object()) {
      EXPECT_EQ(n.as_int64(), 1) << "call id " << std::string_view(id) << " dialled " << n;
    }
    const auto& by_number = counters.at("dialled_by_number").as_object();
    for (const auto& r : Query(
             "SELECT r.phone_e164, count(v.id) FROM campaign_recipients r LEFT JOIN "
             "elevenlabs_conversations v ON v.campaign_recipient_id = r.id GROUP BY 1")) {
      const auto* n = by_number.if_contains(r[0].as<std::string>());
      EXPECT_EQ(n ? n->as_int64() : 0, r[1].as<int64_t>()) << "a recipient's dials";
    }
  }

  std::unique_ptr<v1::Campaigns::Stub> campaigns_;
};

TEST_F(CampaignsTest, AFewHundredRecipientsOverEveryScenarioEndRightWithExactCounters) {
  struct Expect {
    std::string scenario, state, outcome;
    int attempts;
  };
  const std::vector<Expect> expected = {
      {"confirmed", "done", "confirmed", 1},        {"reschedule", "done", "reschedule_requested", 1},
      {"opt_out", "opted_out", "opt_out", 1},       {"voicemail", "done", "voicemail", 1},
      {"busy", "exhausted", "busy", 2},             {"no_answer", "exhausted", "no_answer", 2},
      {"failed", "done", "failed", 1},              {"long_call", "done", "unclear", 1}};
  std::vector<std::string> all;
  std::map<std::string, const Expect*> by_number;
  for (size_t i = 0; i < expected.size(); ++i) {
    for (const auto& n : Numbers(30, static_cast<int>(i) * 100, expected[i].scenario)) {
      all.push_back(n);
      by_number[n] = &expected[i];
    }
  }
  const v1::Campaign created = Create(Spec(40, 6000), all);
  ASSERT_EQ(created.counters().total(), 240);
  EXPECT_EQ(created.state(), "running");

  const v1::Campaign c = WaitFor(created.campaign_id(),
                                 [](const v1::Campaign& c) { return c.state() == "completed"; });
  ASSERT_EQ(c.state(), "completed");
  const auto& k = c.counters();
  EXPECT_EQ(k.done(), 150);
  EXPECT_EQ(k.exhausted(), 60);
  EXPECT_EQ(k.opted_out(), 30);
  EXPECT_EQ(k.pending() + k.scheduled() + k.dialing() + k.in_call(), 0);
  EXPECT_EQ(k.outcomes().at("confirmed"), 30);
  EXPECT_EQ(k.outcomes().at("unclear"), 30);
  EXPECT_EQ(k.attempts(), 300);  // busy and no_answer twice each
  // The unclear ones, and only they, wait for staff in the review queue.
  EXPECT_EQ(Scalar("SELECT count(*) FROM campaign_reviews WHERE reason = 'unclear' AND "
                   "resolved_at IS NULL"),
            "30");
  EXPECT_EQ(Scalar("SELECT count(*) FROM campaign_reviews"), "30");

  // Each recipient, from the database: its state, outcome and attempts.
  for (const auto& r : Query("SELECT phone_e164, state, outcome, attempts FROM campaign_recipients")) {
    const Expect& e = *by_number.at(r[0].as<std::string>());
    EXPECT_EQ(r[1].as<std::string>(), e.state) << e.scenario;
    EXPECT_EQ(r[2].as<std::string>(), e.outcome) << e.scenario;
    EXPECT_EQ(r[3].as<int>(), e.attempts) << e.scenario;
  }
  // Written back once from the analysis: the opt-outs are in the register.
  EXPECT_EQ(Scalar("SELECT count(*) FROM call_opt_outs"), "30");
  EXPECT_EQ(Scalar("SELECT count(*) FROM campaign_attempts"), "300");
  // Every placed attempt went through the contact policy, and its decision is stored with it.
  EXPECT_EQ(Scalar("SELECT count(*) FROM elevenlabs_conversations v JOIN policy_decisions d ON "
                   "d.call_row_id = v.id WHERE v.campaign_recipient_id IS NOT NULL AND d.allowed"),
            "300");
  ExpectNoDoubleDial();
}

TEST_F(CampaignsTest, PauseStopsNewDialsWithinATickAndResumeContinues) {
  const auto numbers = Numbers(40, 5000, "confirmed");
  const v1::Campaign created = Create(Spec(5, 300), numbers);  // 5 a second
  WaitFor(created.campaign_id(), [](const v1::Campaign& c) { return c.counters().done() >= 5; });
  v1::Campaign paused;
  ASSERT_TRUE(Action("pause", created.campaign_id(), &paused).ok());
  EXPECT_EQ(paused.state(), "paused");
  // One tick (100 ms) for dials already claimed to leave; after that nothing more is dialled.
  std::this_thread::sleep_for(milliseconds(400));
  const int64_t placed = SimCounters().at("calls_placed").as_int64();
  std::this_thread::sleep_for(milliseconds(1500));
  EXPECT_EQ(SimCounters().at("calls_placed").as_int64(), placed);
  const v1::Campaign still = Get(created.campaign_id());
  EXPECT_EQ(still.state(), "paused");
  EXPECT_GT(still.counters().pending(), 0);
  EXPECT_FALSE(still.has_eta());  // not running: no ETA

  v1::Campaign resumed;
  ASSERT_TRUE(Action("resume", created.campaign_id(), &resumed).ok());
  EXPECT_EQ(resumed.state(), "running");
  EXPECT_TRUE(resumed.has_eta());
  const v1::Campaign c = WaitFor(created.campaign_id(),
                                 [](const v1::Campaign& c) { return c.state() == "completed"; });
  EXPECT_EQ(c.counters().done(), 40);
  ExpectNoDoubleDial();
}

TEST_F(CampaignsTest, TwoReplicasShareTheWorkWithoutADoubleDial) {
  // A second call-gateway on the same database and simulator, dispatching at the same time.
  call_gateway::CallStore second_store(*pool_);
  call_gateway::GatewayOptions o{.default_agent_id = "agent_sim_confirmaciones",
                                 .agent_phone_number_id = "phnum_sim_twilio"};
  ConfigureGateway(o);
  call_gateway::GatewayService second(o, second_store, *elevenlabs_, *auth_, nullptr);
  second.StartDispatcher();

  const auto numbers = Numbers(150, 7000, "confirmed");
  const v1::Campaign created = Create(Spec(30, 6000), numbers);
  const v1::Campaign c = WaitFor(created.campaign_id(),
                                 [](const v1::Campaign& c) { return c.state() == "completed"; });
  second.StopDispatcher();
  EXPECT_EQ(c.counters().done(), 150);
  EXPECT_EQ(c.counters().attempts(), 150);
  ExpectNoDoubleDial();
}

TEST_F(CampaignsTest, TheSimulatorsConcurrencyCapIsBackPressureNotFailure) {
  // The plan allows 3 calls at once, but this gateway was told 60: ElevenLabs answers 429.
  SimPut("/__sim/settings", R"({"max_concurrent_calls":3})");
  const auto numbers = Numbers(25, 9000, "confirmed");
  const v1::Campaign created = Create(Spec(20, 6000), numbers);
  const v1::Campaign c = WaitFor(created.campaign_id(),
                                 [](const v1::Campaign& c) { return c.state() == "completed"; });
  EXPECT_EQ(c.counters().done(), 25);
  EXPECT_EQ(c.counters().outcomes().at("confirmed"), 25);
  // No attempt was spent on a 429, and no call stands as failed for it.
  EXPECT_EQ(c.counters().attempts(), 25);
  EXPECT_EQ(Scalar("SELECT count(*) FROM elevenlabs_conversations WHERE status = 'failed'"), "0");
  const json::object counters = SimCounters();
  const auto& statuses = counters.at("outbound_responses").as_object();
  ASSERT_TRUE(statuses.contains("429")) << json::serialize(counters);
  EXPECT_GT(statuses.at("429").as_int64(), 0);
  ExpectNoDoubleDial();
}

TEST_F(CampaignsTest, TheBreakerTripsOnABurstOfFailures) {
  const auto numbers = Numbers(40, 11000, "failed");
  v1::CampaignSpec spec = Spec(2, 600);
  spec.mutable_breaker()->set_failure_rate(0.5);
  spec.mutable_breaker()->set_window(10);
  spec.mutable_breaker()->set_min_sample(5);
  const v1::Campaign created = Create(spec, numbers);
  const v1::Campaign c = WaitFor(created.campaign_id(),
                                 [](const v1::Campaign& c) { return c.state() == "auto_paused"; });
  ASSERT_EQ(c.state(), "auto_paused");
  EXPECT_NE(c.state_reason().find("circuit breaker:"), std::string::npos) << c.state_reason();
  // It stopped: most recipients were never dialled, and it stays paused until someone resumes.
  std::this_thread::sleep_for(milliseconds(1000));
  const v1::Campaign later = Get(created.campaign_id());
  EXPECT_EQ(later.state(), "auto_paused");
  EXPECT_GT(later.counters().pending(), 20);
  EXPECT_LT(later.counters().attempts(), 15);

  // The cause fixed (the lines answer now, but one), resumed by hand: the breaker starts afresh,
  // so the one failure after the resume does not trip it on the failures from before.
  Numbers(40, 11000, "confirmed");
  const std::string next = Scalar(
      "SELECT phone_e164 FROM campaign_recipients WHERE state = 'pending' ORDER BY id LIMIT 1");
  Numbers(1, std::stoi(next.substr(next.size() - 5)), "failed");  // the first dialled
  v1::Campaign resumed;
  ASSERT_TRUE(Action("resume", created.campaign_id(), &resumed).ok());
  const v1::Campaign done = WaitFor(
      created.campaign_id(), [](const v1::Campaign& c) { return c.state() != "running"; });
  EXPECT_EQ(done.state(), "completed") << done.state_reason();
  EXPECT_EQ(StateSum(done.counters()), 40);
  ExpectNoDoubleDial();
}

TEST_F(CampaignsTest, BadInputNamesTheFieldAndKeepsTheValidRows) {
  grpc::Status s;
  v1::CampaignSpec spec = Spec(5, 60);
  spec.set_agent_id("agent_que_no_existe");
  Create(spec, {}, false, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(),
            "agentId: unknown agent 'agent_que_no_existe' (not among ElevenLabs' agents)");
  spec = Spec(0, 60);
  Create(spec, {}, false, &s);
  EXPECT_EQ(s.error_message(), "pacing.maxConcurrency: must be between 1 and 1000");
  spec = Spec(5, 60);
  spec.mutable_starts_at()->set_seconds(absl::ToUnixSeconds(absl::Now()) + 7200);
  spec.mutable_ends_at()->set_seconds(absl::ToUnixSeconds(absl::Now()) + 3600);
  Create(spec, {}, false, &s);
  EXPECT_EQ(s.error_message(), "endsAt: must be after startsAt");

  // A template variable one row lacks, a bad phone: a create names each bad row and writes
  // nothing; AddRecipients keeps the valid rows and reports the others.
  spec = Spec(5, 60);
  (*spec.mutable_variables_template()->mutable_fields())["slot"].set_string_value(
      "su cita de las {{hora}}");
  v1::CreateCampaignRequest req;
  *req.mutable_spec() = spec;
  auto* good = req.add_recipients();
  good->set_phone_number("300 560 0001");
  (*good->mutable_variables()->mutable_fields())["hora"].set_string_value("10:00");
  req.add_recipients()->set_phone_number("300 560 0002");  // no "hora"
  auto* bad_phone = req.add_recipients();
  bad_phone->set_phone_number("12");
  (*bad_phone->mutable_variables()->mutable_fields())["hora"].set_string_value("11:00");
  {
    grpc::ClientContext ctx;
    Writer(ctx);
    v1::Campaign none;
    const grpc::Status bad = campaigns_->CreateCampaign(&ctx, req, &none);
    EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(bad.error_message().find("2 of 3 recipients are invalid; nothing was created: "
                                       "recipients[1].variables.hora: missing: the template uses "
                                       "{{hora}}; recipients[2].phoneNumber: "),
              std::string::npos)
        << bad.error_message();
    EXPECT_EQ(bad.error_message().find("560"), std::string::npos) << "a phone in an error";
    EXPECT_EQ(Scalar("SELECT count(*) FROM campaigns"), "0");
  }
  const v1::CreateCampaignRequest all_rows = req;
  req.mutable_recipients()->DeleteSubrange(1, 2);
  grpc::ClientContext ctx;
  Writer(ctx);
  ctx.AddMetadata("idempotency-key", "campana-2026-12-03");
  v1::Campaign created;
  ASSERT_TRUE(campaigns_->CreateCampaign(&ctx, req, &created).ok());
  EXPECT_EQ(created.counters().total(), 1);
  EXPECT_EQ(created.state(), "draft");

  v1::AddRecipientsRequest add;
  add.set_campaign_id(created.campaign_id());
  *add.mutable_recipients() = all_rows.recipients();
  grpc::ClientContext actx;
  Writer(actx);
  v1::AddRecipientsResponse added;
  ASSERT_TRUE(campaigns_->AddRecipients(&actx, add, &added).ok());
  EXPECT_EQ(added.added(), 0);
  EXPECT_EQ(added.duplicates(), 1);  // the valid row was in already
  ASSERT_EQ(added.errors_size(), 2);
  EXPECT_EQ(added.errors(0).index(), 1);
  EXPECT_EQ(added.errors(0).field(), "variables.hora");
  EXPECT_EQ(added.errors(0).message(), "missing: the template uses {{hora}}");
  EXPECT_EQ(added.errors(1).index(), 2);
  EXPECT_EQ(added.errors(1).field(), "phoneNumber");

  // The same key and body: the same campaign, nothing added twice; another body: refused.
  grpc::ClientContext rctx;
  Writer(rctx);
  rctx.AddMetadata("idempotency-key", "campana-2026-12-03");
  v1::Campaign again;
  ASSERT_TRUE(campaigns_->CreateCampaign(&rctx, req, &again).ok());
  EXPECT_EQ(again.campaign_id(), created.campaign_id());
  EXPECT_EQ(again.counters().total(), 1);
  req.mutable_spec()->set_name("Otra");
  grpc::ClientContext octx;
  Writer(octx);
  octx.AddMetadata("idempotency-key", "campana-2026-12-03");
  EXPECT_EQ(campaigns_->CreateCampaign(&octx, req, &again).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Scalar("SELECT count(*) FROM campaigns"), "1");

  // Update only while not running; a running campaign says so.
  v1::Campaign started;
  ASSERT_TRUE(Action("start", created.campaign_id(), &started).ok());
  v1::UpdateCampaignRequest up;
  up.set_campaign_id(created.campaign_id());
  up.mutable_spec()->mutable_pacing()->set_max_concurrency(3);
  up.mutable_spec()->mutable_pacing()->set_calls_per_minute(30);
  grpc::ClientContext uctx;
  Writer(uctx);
  v1::Campaign updated;
  auto us = campaigns_->UpdateCampaign(&uctx, up, &updated);
  EXPECT_EQ(us.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(us.error_message().find("is running"), std::string::npos) << us.error_message();
  // No token with campaigns:write, no campaign.
  grpc::ClientContext rd;
  Auth(rd, {"calls:read", "calls:write"});
  EXPECT_EQ(campaigns_->CreateCampaign(&rd, req, &again).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

// The watch stream: a snapshot at once, every recipient's moves as they commit, snapshots whose
// counters add up, and the final one when the campaign completes.
TEST_F(CampaignsTest, TheWatchStreamShowsEveryTransitionAndExactCounters) {
  const auto numbers = Numbers(20, 15000, "confirmed");
  const v1::Campaign created = Create(Spec(5, 6000), numbers, /*start=*/false);
  ASSERT_EQ(created.state(), "draft");

  grpc::ClientContext ctx;
  Auth(ctx, {"calls:read"});
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(90));
  v1::WatchCampaignRequest req;
  req.set_campaign_id(created.campaign_id());
  auto stream = campaigns_->WatchCampaign(&ctx, req);
  v1::CampaignUpdate first;
  ASSERT_TRUE(stream->Read(&first));
  EXPECT_EQ(first.campaign_id(), created.campaign_id());
  EXPECT_EQ(first.state(), "draft");
  EXPECT_EQ(first.counters().total(), 20);
  EXPECT_EQ(first.counters().pending(), 20);

  v1::Campaign started;
  ASSERT_TRUE(Action("start", created.campaign_id(), &started).ok());
  std::map<int64_t, std::vector<std::string>> moves;  // recipient -> the states it went through
  int snapshots = 0;
  v1::CampaignUpdate u;
  while (stream->Read(&u)) {
    EXPECT_EQ(u.campaign_id(), created.campaign_id());
    if (u.has_transition()) {
      auto& m = moves[u.transition().recipient_id()];
      if (m.empty()) m.push_back(u.transition().from_state());
      EXPECT_EQ(m.back(), u.transition().from_state()) << "a move out of order";
      m.push_back(u.transition().to_state());
      continue;
    }
    ++snapshots;
    EXPECT_EQ(StateSum(u.counters()), u.counters().total()) << u.DebugString();
    EXPECT_EQ(u.counters().total(), 20);
    if (u.state() == "completed") break;
  }
  ASSERT_EQ(u.state(), "completed") << "the stream ended before the campaign completed";
  EXPECT_EQ(u.counters().done(), 20) << u.DebugString();
  EXPECT_GE(snapshots, 2);
  ASSERT_EQ(moves.size(), 20u);
  for (const auto& [id, m] : moves) {
    EXPECT_EQ(m, (std::vector<std::string>{"pending", "dialing", "in_call", "done"}))
        << "recipient " << id;
  }
  ctx.TryCancel();
  ExpectNoDoubleDial();

  // A campaign that does not exist, and a token without calls:read.
  grpc::ClientContext nctx;
  Auth(nctx, {"calls:read"});
  req.set_campaign_id("00000000-0000-4000-8000-000000000000");
  auto missing = campaigns_->WatchCampaign(&nctx, req);
  EXPECT_FALSE(missing->Read(&u));
  EXPECT_EQ(missing->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::ClientContext pctx;
  Auth(pctx, {"campaigns:write"});
  req.set_campaign_id(created.campaign_id());
  auto denied = campaigns_->WatchCampaign(&pctx, req);
  EXPECT_FALSE(denied->Read(&u));
  EXPECT_EQ(denied->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

// The CLI's CSV import, the real binary against the real gateway: valid rows kept, each bad one
// reported by its line (number masked), quoted fields and variables read, a second import of the
// same file adding nothing.
TEST_F(CampaignsTest, TheCsvImportKeepsTheValidRowsAndReportsEachBadOneByLine) {
  v1::CampaignSpec spec = Spec(5, 60);
  (*spec.mutable_variables_template()->mutable_fields())["sede"].set_string_value("{{clinic}}");
  const v1::Campaign created = Create(spec, {}, /*start=*/false);
  const std::string dir = ::testing::TempDir();
  const std::string csv = dir + "/recipients.csv";
  {
    std::ofstream out(csv);
    out << "telefono;appointment_time;clinic\n"
           "+57 300 516 0001;\"mañana; 10:00\";Norte\n"
           "3005160002;jueves 08:30;Sur\n"
           "12;jueves 09:00;Sur\n"           // line 4: not a phone number
           "3005160003;jueves 09:30\n"        // line 5: two fields
           "3005160004;viernes 10:00;\n"     // line 6: the template's {{clinic}} missing
           "\n"
           "3005160005;\"viernes\n11:00\";Norte\n";  // a quoted line break: one record
  }
  auto run = [&](std::string* out, std::string* err) {
    grpc::ClientContext unused;
    common::JwtClaims c;
    c.issuer = "outcall-test";
    c.subject = "import-test";
    c.audiences = {"outcall"};
    c.permissions = {"campaigns:write"};
    const std::string token = *common::SignJwt("HS256", jwt_secret_, c);
    const std::string cmd = Cat(OUTCALL_CAMPAIGN_IMPORT_BINARY, " --address 127.0.0.1:",
                                grpc_->port(), " --token ", token, " --batch 2 ",
                                created.campaign_id(), " ", csv, " >", dir, "/out.txt 2>", dir,
                                "/err.txt");
    const int rc = std::system(cmd.c_str());
    auto slurp = [](const std::string& p) {
      std::ifstream f(p);
      return std::string(std::istreambuf_iterator<char>(f), {});
    };
    *out = slurp(dir + "/out.txt");
    *err = slurp(dir + "/err.txt");
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  };
  std::string out, err;
  EXPECT_EQ(run(&out, &err), 3) << out << err;
  const json::object totals = json::parse(out).as_object();
  EXPECT_EQ(totals.at("rows").as_int64(), 6) << out;
  EXPECT_EQ(totals.at("added").as_int64(), 3) << out;
  EXPECT_EQ(totals.at("rejected").as_int64(), 3) << out;
  EXPECT_NE(err.find("line 4: phoneNumber"), std::string::npos) << err;
  EXPECT_NE(err.find("line 5: has 2 fields; the header has 3"), std::string::npos) << err;
  EXPECT_NE(err.find("line 6: variables.clinic"), std::string::npos) << err;
  EXPECT_EQ(err.find("5160003"), std::string::npos) << "a number unmasked: " << err;
  // Batches go several at a time: the rows' order in the table is not the file's.
  EXPECT_EQ(Scalar("SELECT string_agg(phone_e164 || '=' || (variables->>'appointment_time'), ' ' "
                   "ORDER BY phone_e164) FROM campaign_recipients"),
            "+573005160001=mañana; 10:00 +573005160002=jueves 08:30 +573005160005=viernes\n11:00");
  EXPECT_EQ(Get(created.campaign_id()).counters().total(), 3);
  // Again: nothing new, the duplicates counted.
  EXPECT_EQ(run(&out, &err), 3);
  EXPECT_EQ(json::parse(out).as_object().at("duplicates").as_int64(), 3) << out;
  EXPECT_EQ(Get(created.campaign_id()).counters().total(), 3);
}

// A campaign's own contact-policy profile: a clinic's stricter version (reminders need the
// patient's authorisation for calls) decides every dial of that campaign and is named by each
// decision; the same patients in a campaign under the profile in force are called.
TEST_F(CampaignsTest, ACampaignsOwnPolicyProfileDecidesItsDials) {
  Query(
      "INSERT INTO patients (id, full_name, phone_e164) VALUES (1, 'Ana Ruiz', '+573005170001'), "
      "(2, 'Luis Mora', '+573005170002');"
      "INSERT INTO patient_consents (patient_id, purpose, channel, state, source, text_version, "
      "evidence_ref, recorded_at, recorded_by) VALUES (1, 'reminder', 'voice', 'authorised', "
      "'form', 'v1', 'doc-1', now() - interval '1 day', 'front-desk');"
      "INSERT INTO contact_policy_profiles (profile_id, version, document, created_by) SELECT "
      "'estricto', 1, jsonb_set(jsonb_set(jsonb_set(document::jsonb, '{id}', '\"estricto\"'), "
      "'{version}', '1'), '{purposes,reminder}', '[\"hours\", \"holidays\", "
      "\"authorised_channels\"]')::text, 'test' FROM contact_policy_profiles WHERE profile_id = "
      "'test_any_hour'");
  auto create = [&](const std::string& profile, grpc::Status* status) {
    v1::CreateCampaignRequest req;
    *req.mutable_spec() = Spec(5, 6000);
    req.mutable_spec()->set_purpose("reminder");
    if (!profile.empty()) {
      req.mutable_spec()->set_policy_profile_id(profile);
      req.mutable_spec()->set_policy_profile_version(1);
    }
    req.add_recipients()->set_patient_id(1);
    req.add_recipients()->set_patient_id(2);
    req.set_start(true);
    grpc::ClientContext ctx;
    Writer(ctx);
    v1::Campaign out;
    *status = campaigns_->CreateCampaign(&ctx, req, &out);
    return out;
  };
  grpc::Status s;
  create("no_such_profile", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("policyProfileId: no contact-policy profile 'no_such_profile'"),
            std::string::npos)
      << s.error_message();
  const v1::Campaign strict = create("estricto", &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(strict.spec().policy_profile_id(), "estricto");
  WaitFor(strict.campaign_id(), [](const v1::Campaign& c) { return c.state() == "completed"; });
  const std::string strict_row =
      Scalar(Cat("SELECT id FROM campaigns WHERE campaign_id = '", strict.campaign_id(), "'"));
  EXPECT_EQ(Scalar(Cat("SELECT string_agg(patient_id || ' ' || state || ' ' || "
                       "COALESCE(decision_rule, '-'), ', ' ORDER BY patient_id) FROM "
                       "campaign_recipients WHERE campaign_id = ", strict_row)),
            "1 done -, 2 ineligible consent");
  EXPECT_EQ(Scalar("SELECT string_agg(DISTINCT profile_id || ' v' || profile_version, ',') FROM "
                   "policy_decisions WHERE decided_for = 'campaign:" + strict.campaign_id() + "'"),
            "estricto v1");
  // Under the profile in force, the patient without an authorisation is called.
  const v1::Campaign usual = create("", &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const v1::Campaign done =
      WaitFor(usual.campaign_id(), [](const v1::Campaign& c) { return c.state() == "completed"; });
  EXPECT_EQ(done.counters().done(), 2) << done.DebugString();
  ExpectNoDoubleDial();
}

// Outcomes reach the appointments: a reschedule request with the slot asked for, straight from
// the call; the unclear calls through the review queue, resolved once each by staff.
TEST_F(CampaignsTest, UnclearOutcomesGoToStaffAndDecisionsReachTheAppointments) {
  Query(
      "INSERT INTO patients (id, full_name, phone_e164) SELECT g, 'Paciente ' || g, "
      "'+573005' || lpad((14000 + g)::text, 6, '0') FROM generate_series(1, 4) g;"
      "INSERT INTO appointments (id, patient_id, scheduled_at) SELECT 20 + g, g, now() + "
      "interval '1 day' FROM generate_series(1, 4) g");
  Numbers(3, 14001, "long_call");
  Numbers(1, 14004, "reschedule");
  v1::CreateCampaignRequest req;
  *req.mutable_spec() = Spec(4, 6000);
  for (int g = 1; g <= 4; ++g) req.add_recipients()->set_appointment_id(20 + g);
  req.set_start(true);
  grpc::ClientContext ctx;
  Writer(ctx);
  v1::Campaign created;
  ASSERT_TRUE(campaigns_->CreateCampaign(&ctx, req, &created).ok());
  ASSERT_EQ(created.counters().total(), 4);
  ASSERT_EQ(WaitFor(created.campaign_id(), [](const v1::Campaign& c) {
              return c.state() == "completed";
            }).state(),
            "completed");
  EXPECT_EQ(Scalar("SELECT status || ' ' || reschedule_preference FROM appointments WHERE id = 24"),
            "reschedule_requested tarde");

  auto list = [&](const std::string& state) {
    v1::ListReviewsRequest lr;
    lr.set_campaign_id(created.campaign_id());
    lr.set_state(state);
    grpc::ClientContext lctx;
    Auth(lctx, {"calls:read"});
    v1::ListReviewsResponse out;
    EXPECT_TRUE(campaigns_->ListReviews(&lctx, lr, &out).ok());
    return out;
  };
  const v1::ListReviewsResponse open = list("");
  ASSERT_EQ(open.reviews_size(), 3);
  for (const auto& r : open.reviews()) {
    EXPECT_EQ(r.reason(), "unclear");
    EXPECT_FALSE(r.conversation_id().empty());
    EXPECT_EQ(r.phone_number().find("3005014"), std::string::npos) << "a phone unmasked";
  }
  auto resolve = [&](int64_t id, const std::string& decision, v1::Review* out) {
    v1::ResolveReviewRequest rr;
    rr.set_review_id(id);
    rr.set_decision(decision);
    rr.set_note("la paciente confirmó por WhatsApp");
    grpc::ClientContext rctx;
    Writer(rctx);
    return campaigns_->ResolveReview(&rctx, rr, out);
  };
  v1::Review done;
  const auto& first = open.reviews(0);
  ASSERT_TRUE(resolve(first.review_id(), "confirmed", &done).ok());
  EXPECT_EQ(done.decision(), "confirmed");
  EXPECT_FALSE(done.resolved_by().empty());
  EXPECT_EQ(Scalar(Cat("SELECT status FROM appointments WHERE id = ", first.appointment_id())),
            "confirmed");
  EXPECT_EQ(Scalar(Cat("SELECT outcome FROM campaign_recipients WHERE id = ", first.recipient_id())),
            "confirmed");
  // Once: a second decision on the same review is refused and changes nothing.
  const grpc::Status twice = resolve(first.review_id(), "canceled", &done);
  EXPECT_EQ(twice.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(twice.error_message().find("resolved already (confirmed"), std::string::npos);
  EXPECT_EQ(Scalar(Cat("SELECT status FROM appointments WHERE id = ", first.appointment_id())),
            "confirmed");
  EXPECT_EQ(resolve(first.review_id() + 1000, "confirmed", &done).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(resolve(first.review_id(), "maybe", &done).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  ASSERT_TRUE(resolve(open.reviews(1).review_id(), "canceled", &done).ok());
  EXPECT_EQ(Scalar(Cat("SELECT status FROM appointments WHERE id = ",
                       open.reviews(1).appointment_id())),
            "canceled");
  // Called again: the completed campaign runs once more for that recipient, then completes.
  Numbers(1, 14000 + open.reviews(2).patient_id(), "confirmed");
  ASSERT_TRUE(resolve(open.reviews(2).review_id(), "call_again", &done).ok());
  EXPECT_EQ(WaitFor(created.campaign_id(), [](const v1::Campaign& c) {
              return c.state() == "completed";
            }).state(),
            "completed");
  EXPECT_EQ(Scalar(Cat("SELECT state || ' ' || outcome || ' ' || attempts FROM "
                       "campaign_recipients WHERE id = ", open.reviews(2).recipient_id())),
            "done confirmed 2");
  EXPECT_EQ(Scalar(Cat("SELECT status FROM appointments WHERE id = ",
                       open.reviews(2).appointment_id())),
            "confirmed");
  EXPECT_EQ(list("").reviews_size(), 0);
  EXPECT_EQ(list("resolved").reviews_size(), 3);
  ExpectNoDoubleDial();
}

// The retry window, on a clock of its own: a busy line at 11:59 is tried again in the campaign's
// next window (08:00 the next day), not a minute later after hours.
class CampaignWindowTest : public CampaignsTest {
 protected:
  void ConfigureGateway(call_gateway::GatewayOptions& o) override {
    CampaignsTest::ConfigureGateway(o);
    o.clock = &clock_;
  }
  // Wednesday 2 December 2026, 11:59:30 in Bogotá (UTC-5).
  common::ManualClock clock_{absl::FromUnixSeconds(1796230770)};
};

TEST_F(CampaignWindowTest, ARetryLandsInTheNextAllowedWindow) {
  gateway_service_->StopDispatcher();  // ticked by hand, on the test's clock
  const auto numbers = Numbers(1, 13000, "busy");
  v1::CampaignSpec spec = Spec(5, 60);
  spec.mutable_window()->set_start("08:00");
  spec.mutable_window()->set_end("12:00");
  spec.mutable_retry()->clear_intervals_secs();
  spec.mutable_retry()->add_intervals_secs(60);
  const v1::Campaign created = Create(spec, numbers);
  ASSERT_EQ(created.counters().total(), 1) << created.DebugString();
  ASSERT_TRUE(gateway_service_->DispatchOnce().ok());
  gateway_service_->WaitForDials();
  ASSERT_TRUE(WaitForScalar("SELECT status FROM elevenlabs_conversations", "busy"))
      << Scalar("SELECT state || ' ' || attempts FROM campaign_recipients");
  ASSERT_TRUE(gateway_service_->DispatchOnce().ok());
  EXPECT_EQ(Scalar("SELECT state || ' ' || attempts FROM campaign_recipients"), "scheduled 1");
  // Thursday 3 December, 08:00 Bogotá = 13:00 UTC.
  EXPECT_EQ(Scalar("SELECT to_char(next_attempt_at AT TIME ZONE 'America/Bogota', 'YYYY-MM-DD "
                   "HH24:MI') FROM campaign_recipients"),
            "2026-12-03 08:00");
  // Before then nothing is dialled; at 08:00 the second attempt goes.
  clock_.Advance(absl::Hours(20));  // Thursday 07:59:30
  ASSERT_TRUE(gateway_service_->DispatchOnce().ok());
  gateway_service_->WaitForDials();
  EXPECT_EQ(Scalar("SELECT count(*) FROM elevenlabs_conversations"), "1");
  clock_.Advance(absl::Minutes(1));
  ASSERT_TRUE(gateway_service_->DispatchOnce().ok());
  gateway_service_->WaitForDials();
  EXPECT_EQ(Scalar("SELECT count(*) FROM elevenlabs_conversations"), "2")
      << Scalar("SELECT state || ' ' || attempts || ' ' || COALESCE(decision_rule, '') FROM "
                "campaign_recipients");
  ExpectNoDoubleDial();
}

// First attempts wait for the window too: a campaign started at 11:59 with a window from 14:00
// dials nobody until 14:00 Bogotá.
TEST_F(CampaignWindowTest, FirstAttemptsWaitForTheWindow) {
  gateway_service_->StopDispatcher();
  v1::CampaignSpec spec = Spec(5, 60);
  spec.mutable_window()->set_start("14:00");
  spec.mutable_window()->set_end("18:00");
  const v1::Campaign created = Create(spec, Numbers(2, 13100, "confirmed"));
  ASSERT_EQ(created.state(), "running");
  ASSERT_TRUE(gateway_service_->DispatchOnce().ok());
  gateway_service_->WaitForDials();
  EXPECT_EQ(Scalar("SELECT count(*) FROM elevenlabs_conversations"), "0");
  EXPECT_EQ(Scalar("SELECT count(*) FROM campaign_recipients WHERE state = 'pending'"), "2");
  clock_.Advance(absl::Minutes(120));  // 13:59:30
  ASSERT_TRUE(gateway_service_->DispatchOnce().ok());
  gateway_service_->WaitForDials();
  EXPECT_EQ(Scalar("SELECT count(*) FROM elevenlabs_conversations"), "0");
  clock_.Advance(absl::Seconds(30));  // 14:00:00; one a second (60 a minute)
  for (int i = 0; i < 2; ++i, clock_.Advance(absl::Seconds(1))) {
    ASSERT_TRUE(gateway_service_->DispatchOnce().ok());
    gateway_service_->WaitForDials();
  }
  EXPECT_EQ(Scalar("SELECT count(*) FROM elevenlabs_conversations"), "2");
  ExpectNoDoubleDial();
}

// Appointment automation on the test's clock: a "confirm 24 to 48 hours before" rule enrols each
// matching appointment once (two passes at once, a gateway restart and later passes add
// nothing), skips canceled, confirmed and out-of-window ones, gets a campaign per Bogotá day,
// withdraws an appointment canceled before its call, and lets nobody be called once the
// appointment is nearer than the rule's lead.
class AutomationTest : public CampaignWindowTest {
 protected:
  grpc::Status CreateRule(const v1::CreateAutomationRuleRequest& req, v1::AutomationRule* out,
                          const std::string& key = "") {
    grpc::ClientContext ctx;
    Writer(ctx);
    if (!key.empty()) ctx.AddMetadata("idempotency-key", key);
    return campaigns_->CreateAutomationRule(&ctx, req, out);
  }
  v1::CreateAutomationRuleRequest Rule() {
    v1::CreateAutomationRuleRequest r;
    r.set_name("Confirmar 24 a 48 h antes");
    v1::CampaignSpec spec = Spec(5, 60);
    spec.clear_name();
    *r.mutable_spec() = spec;
    r.set_lead_min_minutes(24 * 60);
    r.set_lead_max_minutes(48 * 60);
    return r;
  }
  // An appointment `hours` after the test's clock, of a new patient with the number +57300515NNNN.
  void Appointment(int id, double hours, const std::string& status) {
    Query(Cat("INSERT INTO patients (id, full_name, phone_e164) VALUES (", id,
              ", 'Paciente ", id, "', '+5730051", 50000 + id, "'); INSERT INTO appointments (id, "
              "patient_id, scheduled_at, status) VALUES (", id, ", ", id, ", to_timestamp(",
              absl::ToUnixSeconds(clock_.Now()) + static_cast<int64_t>(hours * 3600), "), '",
              status, "')"));
  }
  void Dispatch() {
    ASSERT_TRUE(gateway_service_->DispatchOnce().ok());
    gateway_service_->WaitForDials();
  }
  std::string Enrolled() {
    return Scalar("SELECT string_agg(appointment_id::text, ',' ORDER BY appointment_id) FROM "
                  "automation_enrollments");
  }
};

TEST_F(AutomationTest, EachMatchingAppointmentIsEnrolledOnceAcrossRestarts) {
  gateway_service_->StopDispatcher();  // ticked by hand, on the test's clock
  // Bad rules are refused naming the field, and nothing is written.
  v1::AutomationRule rule;
  v1::CreateAutomationRuleRequest bad = Rule();
  bad.set_lead_max_minutes(bad.lead_min_minutes());
  grpc::Status s = CreateRule(bad, &rule);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("leadMaxMinutes"), std::string::npos) << s.error_message();
  bad = Rule();
  bad.add_appointment_statuses("canceled");
  s = CreateRule(bad, &rule);
  EXPECT_NE(s.error_message().find("appointmentStatuses[0]"), std::string::npos);
  bad = Rule();
  bad.mutable_spec()->mutable_ends_at()->set_seconds(absl::ToUnixSeconds(clock_.Now()) + 86400);
  s = CreateRule(bad, &rule);
  EXPECT_NE(s.error_message().find("spec.endsAt"), std::string::npos) << s.error_message();
  bad = Rule();
  bad.mutable_spec()->mutable_pacing()->set_max_concurrency(0);
  s = CreateRule(bad, &rule);
  EXPECT_NE(s.error_message().find("spec.pacing.maxConcurrency"), std::string::npos)
      << s.error_message();
  bad = Rule();
  bad.mutable_spec()->set_agent_id("agent_nobody");
  s = CreateRule(bad, &rule);
  EXPECT_NE(s.error_message().find("spec.agentId: unknown agent"), std::string::npos)
      << s.error_message();
  EXPECT_EQ(Scalar("SELECT count(*) FROM automation_rules"), "0");

  Appointment(31, 30, "scheduled");             // in the window: enrolled
  Appointment(32, 30, "canceled");              // canceled: never
  Appointment(33, 30, "confirmed");             // confirmed already: never
  Appointment(34, 60, "scheduled");             // too far ahead today; tomorrow's
  Appointment(35, 10, "scheduled");             // too near: never
  Appointment(36, 40, "reschedule_requested");  // not among the rule's states
  s = CreateRule(Rule(), &rule, "rule-1");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(rule.appointment_statuses_size(), 1);
  EXPECT_EQ(rule.appointment_statuses(0), "scheduled");
  v1::AutomationRule again;
  ASSERT_TRUE(CreateRule(Rule(), &again, "rule-1").ok());  // a retried create: the same rule
  EXPECT_EQ(again.rule_id(), rule.rule_id());

  // Two passes at once (as two replicas would run them), then one more.
  std::thread other([&] { EXPECT_TRUE(gateway_service_->AutomateOnce().ok()); });
  EXPECT_TRUE(gateway_service_->AutomateOnce().ok());
  other.join();
  ASSERT_TRUE(gateway_service_->AutomateOnce().ok());
  EXPECT_EQ(Enrolled(), "31");
  EXPECT_EQ(Scalar("SELECT count(*) FROM campaign_recipients"), "1");
  EXPECT_EQ(Scalar("SELECT count(*) FROM campaigns"), "1");
  EXPECT_EQ(Scalar("SELECT name FROM campaigns"), "Confirmar 24 a 48 h antes · 2026-12-02");

  // A restart (a fresh service object) enrols nothing again; the call is placed once.
  const int port = grpc_->port();  // where ingest's publisher delivers
  StopGateway();
  StartGateway(Cat("127.0.0.1:", port));
  campaigns_ = v1::Campaigns::NewStub(grpc::CreateChannel(
      Cat("127.0.0.1:", grpc_->port()), grpc::InsecureChannelCredentials()));
  ASSERT_TRUE(gateway_service_->AutomateOnce().ok());
  EXPECT_EQ(Enrolled(), "31");
  Dispatch();
  ASSERT_TRUE(WaitForScalar("SELECT status FROM appointments WHERE id = 31", "confirmed"))
      << Scalar("SELECT state || ' ' || COALESCE(decision_rule, '') FROM campaign_recipients");
  ASSERT_TRUE(WaitForScalar("SELECT status FROM elevenlabs_conversations", "completed"));
  Dispatch();
  Dispatch();
  EXPECT_EQ(Scalar("SELECT state || ' ' || outcome FROM campaign_recipients"), "done confirmed");
  EXPECT_EQ(Scalar("SELECT state FROM campaigns"), "completed");
  ASSERT_TRUE(gateway_service_->AutomateOnce().ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM campaign_recipients"), "1");

  // The next day (Thursday 17:59 Bogotá): appointment 34 is 30 hours ahead, enrolled into the
  // rule's campaign of that day; 31 (now due) is not enrolled again.
  clock_.Advance(absl::Hours(30));
  Appointment(37, 25, "scheduled");
  ASSERT_TRUE(gateway_service_->AutomateOnce().ok());
  EXPECT_EQ(Enrolled(), "31,34,37");
  EXPECT_EQ(Scalar("SELECT count(*) FROM automation_campaigns"), "2");
  // 34 is canceled before its call: the next pass withdraws it, and nobody dials it.
  Query("UPDATE appointments SET status = 'canceled' WHERE id = 34");
  ASSERT_TRUE(gateway_service_->AutomateOnce().ok());
  EXPECT_EQ(Scalar("SELECT state || ' ' || outcome FROM campaign_recipients WHERE "
                   "appointment_id = 34"),
            "canceled appointment_canceled");
  // 37 is now 23 hours ahead, nearer than the rule's lead: it expires undialled.
  clock_.Advance(absl::Hours(2));
  Dispatch();
  EXPECT_EQ(Scalar("SELECT state || ' ' || outcome FROM campaign_recipients WHERE "
                   "appointment_id = 37"),
            "expired call_by_passed");
  EXPECT_EQ(Scalar("SELECT count(*) FROM elevenlabs_conversations"), "1");

  grpc::ClientContext ctx;
  Auth(ctx, {"calls:read"});
  v1::ListAutomationRulesResponse listed;
  ASSERT_TRUE(
      campaigns_->ListAutomationRules(&ctx, v1::ListAutomationRulesRequest(), &listed).ok());
  ASSERT_EQ(listed.rules_size(), 1);
  EXPECT_EQ(listed.rules(0).enrolled(), 3);
  EXPECT_EQ(listed.rules(0).current_campaign_id(),
            Scalar("SELECT c.campaign_id::text FROM automation_campaigns a JOIN campaigns c ON "
                   "c.id = a.campaign_id WHERE a.day = '2026-12-03'"));
  // Disabled, a rule enrols nothing more.
  grpc::ClientContext uctx;
  Writer(uctx);
  v1::UpdateAutomationRuleRequest off;
  off.set_rule_id(rule.rule_id());
  off.set_enabled(false);
  v1::AutomationRule updated;
  ASSERT_TRUE(campaigns_->UpdateAutomationRule(&uctx, off, &updated).ok());
  EXPECT_FALSE(updated.enabled());
  Appointment(38, 30, "scheduled");
  ASSERT_TRUE(gateway_service_->AutomateOnce().ok());
  EXPECT_EQ(Enrolled(), "31,34,37");
  ExpectNoDoubleDial();
}

}  // namespace
}  // namespace outcall
