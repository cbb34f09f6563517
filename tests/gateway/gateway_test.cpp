// call-gateway over real gRPC, a real PostgreSQL database and the ElevenLabs simulator
// (in-process, frozen clock): placing calls exactly once, idempotency, reconciliation of lost
// answers, provider errors, opt-outs, events, hang-ups and erasure.
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <pqxx/pqxx>
#include <set>
#include <thread>

#include "call_store.h"
#include "gateway_service.h"
#include "http_test_server.h"
#include "outcall/common/auth_interceptor.h"
#include "outcall/common/clock.h"
#include "outcall/common/crypto.h"
#include "outcall/common/grpc_server.h"
#include "outcall/common/http_client.h"
#include "outcall/common/jwt.h"
#include "outcall/common/pg_pool.h"
#include "outcall/common/strings.h"
#include "outcall/elevenlabs/client.h"
#include "outcall/policy/profile.h"
#include "outcall/v1/call_gateway.grpc.pb.h"
#include "outcall/v1/events.grpc.pb.h"
#include "service_config.h"
#include "simulator.h"
#include "test_database.h"

namespace outcall::call_gateway {
namespace {

namespace json = boost::json;
using common::Cat;
using elevenlabs::ElevenLabsClient;
using elevenlabs::OutboundCall;

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    db_.Migrate(Profile());
    pool_ = std::make_unique<common::PgPool>(common::PgPoolOptions{.url = db_.url(), .size = 4});
    sim::SimConfig sc;
    sc.listen_address = "127.0.0.1:0";
    sc.api_key = common::Secret("sk_test_" + common::RandomHex(16));
    api_key_ = sc.api_key.Reveal();
    sc.agent_id = "agent_sim_confirmaciones";
    sc.phone_number_id = "phnum_sim_twilio";
    sc.twilio_account_sid = "AC" + common::RandomHex(16);
    sc.twilio_auth_token = common::Secret(common::RandomHex(16));
    sc.time_scale = 0;
    sim_ = std::make_unique<sim::Simulator>(sc);
    ASSERT_TRUE(sim_->Start().ok());
    elevenlabs::ElevenLabsConfig ec;
    ec.api_key = sc.api_key;
    ec.base_url = sim_->base_url();
    ec.agent_id = sc.agent_id;
    ec.agent_phone_number_id = sc.phone_number_id;
    ec.request_timeout = absl::Seconds(2);
    ec.twilio_account_sid = sc.twilio_account_sid;
    ec.twilio_auth_token = sc.twilio_auth_token;
    ec.twilio_base_url = sim_->base_url();
    Configure(ec);
    elevenlabs_ = std::make_unique<ElevenLabsClient>(ec);
    store_ = std::make_unique<CallStore>(*pool_);
    secret_ = common::RandomHex(32);
    common::JwtOptions jo;
    jo.issuer = "outcall-test";
    jo.audiences = {"outcall"};
    jo.hs256_secrets = {common::Secret(secret_)};
    auth_ = std::make_unique<common::CallAuthenticator>(
        common::Authorizer(*common::JwtVerifier::Create(jo)), MethodPermissions());
    service_ = std::make_unique<GatewayService>(
        GatewayOptions{.default_agent_id = ec.agent_id,
                       .agent_phone_number_id = ec.agent_phone_number_id,
                       .dialing_grace_secs = 0,
                       // No backoff: each ReconcileOnce here tries every due call again.
                       .reconcile_every = absl::ZeroDuration(),
                       .clock = GatewayClock()},
        *store_, *elevenlabs_, *auth_, registry_.get());
    common::GrpcServerOptions o;
    o.listen_address = "127.0.0.1:0";
    server_ = std::make_unique<common::GrpcServer>(o);
    server_->AddService(service_->call_gateway());
    server_->AddService(service_->event_sink());
    server_->AddInterceptorFactory(auth_->NewInterceptorFactory());
    ASSERT_TRUE(server_->Start().ok());
    auto channel =
        grpc::CreateChannel(Cat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials());
    gateway_ = v1::CallGateway::NewStub(channel);
    sink_ = v1::CallEventSink::NewStub(channel);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
    service_.reset();
    if (sim_) sim_->Stop();
  }
  virtual void Configure(elevenlabs::ElevenLabsConfig&) {}
  // The contact-policy profile in force and the gateway's clock (the policy tests set both).
  virtual testing::TestDatabase::ContactProfile Profile() {
    return testing::TestDatabase::ContactProfile::kTestAnyHour;
  }
  virtual const common::Clock* GatewayClock() { return &common::Clock::Real(); }

  std::string Token(std::vector<std::string> perms, std::string subject = "clinic-app") {
    common::JwtClaims c;
    c.issuer = "outcall-test";
    c.subject = std::move(subject);
    c.audiences = {"outcall"};
    c.permissions = std::move(perms);
    return *common::SignJwt("HS256", secret_, c);
  }
  void Auth(grpc::ClientContext& ctx,
            std::vector<std::string> perms = {"calls:read", "calls:write", "events:publish"}) {
    ctx.AddMetadata("authorization", "Bearer " + Token(std::move(perms)));
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }
  grpc::Status Initiate(const v1::InitiateCallRequest& req, v1::InitiateCallResponse* resp,
                        std::string idem_key = "") {
    grpc::ClientContext ctx;
    Auth(ctx);
    if (!idem_key.empty()) ctx.AddMetadata("idempotency-key", idem_key);
    return gateway_->InitiateCall(&ctx, req, resp);
  }
  v1::InitiateCallRequest Req(std::string phone, std::optional<int> appointment = std::nullopt) {
    v1::InitiateCallRequest r;
    r.set_phone_number(std::move(phone));
    r.set_patient_name("Ana Ruiz");
    if (appointment) r.set_appointment_id(*appointment);
    (*r.mutable_custom_variables()->mutable_fields())["appointment_time"].set_string_value("10:00");
    return r;
  }
  // An ElevenLabs route of the simulator, with the API key: the raw body.
  std::string SimGetRaw(std::string_view path) {
    common::HttpRequest req;
    req.url = Cat(sim_->base_url(), path);
    req.headers.emplace_back("xi-api-key", api_key_);
    auto r = common::HttpClient().Send(req);
    EXPECT_TRUE(r.ok());
    EXPECT_EQ(r.ok() ? r->status : 0, 200);
    return r.ok() ? r->body : "";
  }
  json::object SimGet(std::string_view path) {
    common::HttpRequest req;
    req.url = Cat(sim_->base_url(), path);
    auto r = common::HttpClient().Send(req);
    EXPECT_TRUE(r.ok());
    return json::parse(r->body).as_object();
  }
  void SimPut(std::string_view path, std::string_view body, std::string method = "PUT") {
    common::HttpRequest req;
    req.method = method;
    req.url = Cat(sim_->base_url(), path);
    req.body = std::string(body);
    auto r = common::HttpClient().Send(req);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
  }
  // CallEventSink.ApplyEvents as webhook-ingest's publisher calls it: the outcomes in order.
  std::vector<v1::ApplyOutcome> Apply(const std::vector<v1::CallEvent>& events) {
    grpc::ClientContext ctx;
    Auth(ctx, {"events:publish"});
    v1::ApplyEventsRequest req;
    for (const auto& e : events) *req.add_events() = e;
    v1::ApplyEventsResponse out;
    auto s = sink_->ApplyEvents(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<v1::ApplyOutcome> outcomes;
    for (const auto& r : out.results()) outcomes.push_back(r.outcome());
    return outcomes;
  }
  int64_t Dialled(std::string_view number) {
    auto c = SimGet("/__sim/counters");
    const auto& by = c.at("dialled_by_number").as_object();
    auto* n = by.if_contains(number);
    return n ? n->as_int64() : 0;
  }
  std::string DbStatus(const std::string& call_id) {
    pqxx::connection conn(db_.url());
    pqxx::work tx(conn);
    return tx
        .exec_params1("SELECT status FROM elevenlabs_conversations WHERE call_id = $1::uuid",
                      call_id)[0]
        .as<std::string>();
  }
  int64_t Count(const std::string& sql) {
    pqxx::connection conn(db_.url());
    pqxx::work tx(conn);
    return tx.exec1(sql)[0].as<int64_t>();
  }
  void Exec(const std::string& sql) {
    pqxx::connection conn(db_.url());
    pqxx::work tx(conn);
    tx.exec(sql);
    tx.commit();
  }

  std::string Metrics() { return prometheus::TextSerializer().Serialize(registry_->Collect()); }

  testing::TestDatabase db_;
  std::string api_key_;
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  std::unique_ptr<common::PgPool> pool_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<ElevenLabsClient> elevenlabs_;
  std::unique_ptr<CallStore> store_;
  std::string secret_;
  std::unique_ptr<common::CallAuthenticator> auth_;
  std::unique_ptr<GatewayService> service_;
  std::unique_ptr<common::GrpcServer> server_;
  std::unique_ptr<v1::CallGateway::Stub> gateway_;
  std::unique_ptr<v1::CallEventSink::Stub> sink_;
};

TEST_F(GatewayTest, InitiateCallPlacesItOnceAndAnswersLikeTheSeed) {
  v1::InitiateCallResponse resp;
  auto s = Initiate(Req("300 555 0001"), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(resp.success());
  EXPECT_TRUE(resp.data().success());
  EXPECT_EQ(resp.data().status(), "initiated");
  EXPECT_TRUE(resp.data().conversation_id().starts_with("conv_"));
  EXPECT_EQ(resp.data().call_id().size(), 36u);
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(resp, &json);
  EXPECT_NE(json.find("\"conversationId\""), std::string::npos);
  EXPECT_NE(json.find("\"callId\""), std::string::npos);
  EXPECT_EQ(DbStatus(resp.data().call_id()), "initiated");
  EXPECT_EQ(Dialled("+573005550001"), 1);
  // What ElevenLabs received: our call id as correlation, variables, the maximum duration.
  auto conv = SimGet(Cat("/__sim/counters"));
  EXPECT_EQ(conv.at("dialled_by_correlation_id").at(resp.data().call_id()).as_int64(), 1);
}

TEST_F(GatewayTest, BadInputIsInvalidArgumentAndNothingIsDialled) {
  v1::InitiateCallResponse resp;
  auto bad_phone = Initiate(Req("12"), &resp);
  EXPECT_EQ(bad_phone.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad_phone.error_message().find("phoneNumber"), std::string::npos);
  auto nested = Req("3005550001");
  (*nested.mutable_custom_variables()->mutable_fields())["x"].mutable_struct_value();
  auto s = Initiate(nested, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("customVariables.x"), std::string::npos);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_conversations"), 0);
  EXPECT_EQ(Dialled("+573005550001"), 0);

  grpc::ClientContext no_token;
  EXPECT_EQ(gateway_->InitiateCall(&no_token, Req("3005550001"), &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  grpc::ClientContext reader;
  Auth(reader, {"calls:read"});
  EXPECT_EQ(gateway_->InitiateCall(&reader, Req("3005550001"), &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(GatewayTest, ASecondCallWhileOneIsLiveIsRefused) {
  v1::InitiateCallResponse first, second;
  EXPECT_EQ(Initiate(Req("3005550001", 7), &first).error_code(), grpc::StatusCode::NOT_FOUND);
  Exec(
      "INSERT INTO patients (id, full_name, phone_e164) VALUES (1, 'Ana Ruiz', '+573005550001');"
      "INSERT INTO appointments (id, patient_id, scheduled_at) VALUES (7, 1, now() + interval '1 "
      "day')");
  ASSERT_TRUE(Initiate(Req("3005550001", 7), &first).ok());
  auto s = Initiate(Req("+57 300 555 0001", 7), &second);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();
  EXPECT_NE(s.error_message().find(first.data().call_id()), std::string::npos);
  // The guard that fired is the appointment's: the message says so, and names no number.
  EXPECT_NE(s.error_message().find("a call to this patient for appointment 7 is already live"),
            std::string::npos)
      << s.error_message();
  EXPECT_EQ(s.error_message().find("5550001"), std::string::npos) << s.error_message();
  EXPECT_EQ(Dialled("+573005550001"), 1);
  // Another appointment of the same patient is another call.
  Exec(
      "INSERT INTO appointments (id, patient_id, scheduled_at) VALUES (8, 1, now() + interval '2 "
      "days')");
  EXPECT_TRUE(Initiate(Req("3005550001", 8), &second).ok());
  EXPECT_EQ(Dialled("+573005550001"), 2);
}

// Two requests for a capped purpose (promotion) at the same moment both pass the decision,
// which reads the ledger before either call exists; the insert's lock per number and patient
// lets exactly one start.
TEST_F(GatewayTest, ConcurrentCappedCallsToOnePatientStartOnlyOne) {
  Exec(
      "INSERT INTO patients (id, full_name, phone_e164) VALUES (1, 'Ana Ruiz', '+573005550001');"
      "INSERT INTO appointments (id, patient_id, scheduled_at) SELECT g, 1, now() + "
      "make_interval(days => g) FROM generate_series(1, 8) g");
  std::vector<std::thread> threads;
  std::atomic<int> started{0}, waited{0}, failed{0};
  for (int i = 1; i <= 8; ++i) {
    threads.emplace_back([&, i] {
      NewCall c;
      c.agent_id = "agent_test";
      c.patient_id = 1;
      c.appointment_id = i;
      c.phone_number = "+573005550001";
      c.purpose = "promotion";
      c.one_live_contact = true;
      // A well-formed request hash: whichever thread wins, keyed or not, its row is valid.
      auto b = store_->BeginCall(c, "clinic", i % 2 ? "" : common::Cat("key-", i),
                                 std::string(64, 'a'));
      if (!b.ok()) {
        ADD_FAILURE() << b.status();
        ++failed;
      } else if (b->call) {
        ++started;
      } else if (b->live_contact) {
        ++waited;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(started.load(), 1);
  EXPECT_EQ(waited.load(), 7);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_conversations"), 1);
  // Nothing written for the refused ones: no key was claimed.
  EXPECT_EQ(Count("SELECT count(*) FROM idempotency_keys WHERE call_row_id IS NULL"), 0);
}

// The 3 a.m. signal for data subjects' requests: each reconciler pass reports how many are open
// and how many of them are past their legal deadline.
TEST_F(GatewayTest, OpenAndOverdueDataRequestsAreOnTheMetrics) {
  Exec(
      "INSERT INTO patients (id, full_name, phone_e164) VALUES (1, 'Ana Ruiz', '+573005550001');"
      "INSERT INTO data_subject_requests (patient_id, kind, state, received_at, received_via, "
      "requested_by, due_at, extended_due_at) VALUES "
      "(1, 'deletion', 'in_progress', now() - interval '40 days', 'email', 'dpo', now() - "
      "interval '19 days', now() - interval '8 days'), "
      "(1, 'deletion', 'in_progress', now(), 'email', 'dpo', now() + interval '21 days', now() + "
      "interval '32 days');"
      "INSERT INTO data_subject_requests (patient_id, kind, state, received_at, received_via, "
      "requested_by, due_at, extended_due_at, completed_at) VALUES (1, 'access', 'completed', "
      "now() - interval '30 days', 'web', 'dpo', now() - interval '16 days', now() - interval "
      "'9 days', now() - interval '29 days')");
  ASSERT_TRUE(service_->ReconcileOnce().ok());
  const std::string m = Metrics();
  EXPECT_NE(m.find(R"(outcall_data_requests_open{overdue="true"} 1)"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(outcall_data_requests_open{overdue="false"} 1)"), std::string::npos) << m;
}

TEST_F(GatewayTest, IdempotencyKeyReturnsTheFirstAnswer) {
  v1::InitiateCallResponse a, b, c;
  ASSERT_TRUE(Initiate(Req("3005550001"), &a, "key-1").ok());
  ASSERT_TRUE(Initiate(Req("3005550001"), &b, "key-1").ok());
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
  EXPECT_EQ(Dialled("+573005550001"), 1);
  auto other = Initiate(Req("3005550002"), &c, "key-1");
  EXPECT_EQ(other.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_NE(other.error_message().find("Idempotency-Key"), std::string::npos);
  EXPECT_EQ(Dialled("+573005550002"), 0);
}

TEST_F(GatewayTest, LostAnswerIsReconciledNotRedialled) {
  SimPut("/__sim/faults", R"({"outbound":[{"kind":"lost_response"}]})");
  v1::InitiateCallResponse resp;
  auto s = Initiate(Req("3005550001"), &resp, "lost-1");
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.data().status(), "initiated");
  EXPECT_TRUE(resp.data().conversation_id().starts_with("conv_"));
  EXPECT_EQ(DbStatus(resp.data().call_id()), "initiated");
  // The client retries with the same key: the same answer, no second call.
  v1::InitiateCallResponse again;
  ASSERT_TRUE(Initiate(Req("3005550001"), &again, "lost-1").ok());
  EXPECT_EQ(again.data().conversation_id(), resp.data().conversation_id());
  EXPECT_EQ(Dialled("+573005550001"), 1);
}

TEST_F(GatewayTest, ProviderErrorsMapToPreciseCodesAndAreRecorded) {
  SimPut(
      "/__sim/faults",
      R"({"outbound":[{"kind":"error","status":429,"code":"concurrent_limit_exceeded","message":"too many calls"},)"
      R"({"kind":"error","status":503},{"kind":"success_false"}]})");
  v1::InitiateCallResponse resp;
  auto limited = Initiate(Req("3005550001"), &resp);
  EXPECT_EQ(limited.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(limited.error_message().find("too many calls"), std::string::npos);
  auto down = Initiate(Req("3005550001"), &resp);  // 5xx: looked up, not found, failed
  EXPECT_EQ(down.error_code(), grpc::StatusCode::UNAVAILABLE);
  auto refused = Initiate(Req("3005550001"), &resp);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_conversations WHERE status = 'failed'"), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_call_errors WHERE http_status = 429 AND "
                  "error_code = 'concurrent_limit_exceeded'"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_call_errors WHERE message LIKE '%sk_test%'"), 0);
  EXPECT_EQ(Dialled("+573005550001"), 0);
}

// ElevenLabs echoes what it was sent ("Invalid phone number +57..."): the number and the
// patient's name are masked before the text is stored in elevenlabs_call_errors, returned in the
// gRPC error, or kept as the idempotency key's answer.
TEST_F(GatewayTest, ProviderErrorTextIsStoredAndReturnedWithoutPatientData) {
  SimPut("/__sim/faults",
         R"({"outbound":[{"kind":"error","status":400,"code":"invalid_phone_number",)"
         R"("message":"Invalid phone number +573005550001 (3005550001) for Ana Ruiz"},)"
         R"({"kind":"error","status":503,"message":"upstream refused +573005550002, Ana Ruiz"}]})");
  v1::InitiateCallResponse resp;
  auto bad = Initiate(Req("3005550001"), &resp, "pii-1");
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("Invalid phone number +"), std::string::npos)
      << bad.error_message();
  auto down = Initiate(Req("3005550002"), &resp, "pii-2");  // 5xx: looked up, not found
  EXPECT_EQ(down.error_code(), grpc::StatusCode::UNAVAILABLE);
  auto replay = Initiate(Req("3005550001"), &resp, "pii-1");
  EXPECT_EQ(replay.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  for (const auto& s : {bad, down, replay}) {
    EXPECT_EQ(s.error_message().find("555000"), std::string::npos) << s.error_message();
    EXPECT_EQ(s.error_message().find("Ruiz"), std::string::npos) << s.error_message();
  }
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_call_errors WHERE message LIKE 'outbound "
                  "call: ElevenLabs answered 400 invalid_phone_number: Invalid phone number +%'"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_call_errors"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_call_errors WHERE message LIKE '%555000%' OR "
                  "message LIKE '%Ruiz%' OR message LIKE '%Ana %'"),
            0);
  EXPECT_EQ(Count("SELECT count(*) FROM idempotency_keys WHERE response::text LIKE '%555000%' OR "
                  "response::text LIKE '%Ruiz%'"),
            0);
  EXPECT_EQ(Dialled("+573005550001"), 0);
}

// A phone number passed where a conversation id goes is not echoed in NOT_FOUND; an unknown
// call id (a UUID, even with a group of digits only) is, whole.
TEST_F(GatewayTest, NotFoundErrorsDoNotEchoPhoneNumbers) {
  auto get = [&](const std::string& id) {
    grpc::ClientContext ctx;
    Auth(ctx);
    v1::GetConversationRequest req;
    req.set_conversation_id(id);
    v1::GetConversationResponse resp;
    return gateway_->GetConversation(&ctx, req, &resp);
  };
  auto end = [&](const std::string& id) {
    grpc::ClientContext ctx;
    Auth(ctx);
    v1::EndCallRequest req;
    req.set_conversation_id(id);
    v1::EndCallResponse resp;
    return gateway_->EndCall(&ctx, req, &resp);
  };
  for (const std::string phone : {"+573024445566", "3024445566", "+57 302 444 5566"}) {
    for (const auto& s : {get(phone), end(phone)}) {
      EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << phone;
      EXPECT_EQ(s.error_message().find("444"), std::string::npos) << s.error_message();
    }
  }
  const std::string id = "3f2b7c1e-8d4a-4b7e-9c1d-123456789012";
  auto s = get(id);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(s.error_message().find(id), std::string::npos) << s.error_message();
  auto conv = get("conv_0123456789abcdef");
  EXPECT_NE(conv.error_message().find("conv_0123456789abcdef"), std::string::npos)
      << conv.error_message();
}

TEST_F(GatewayTest, OptedOutPatientsAreNotCalled) {
  Exec(
      "INSERT INTO call_opt_outs (phone_e164, source) VALUES ('+573005550003', 'patient_request')");
  v1::InitiateCallResponse resp;
  auto s = Initiate(Req("3005550003"), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Dialled("+573005550003"), 0);
}

TEST_F(GatewayTest, CallPatientLooksThePatientUp) {
  Exec(
      "INSERT INTO patients (id, full_name, phone_e164) VALUES (1, 'Ana Ruiz', '+573005550001'), "
      "(2, 'Sin Teléfono', NULL)");
  auto call = [&](int id, v1::InitiateCallResponse* resp) {
    grpc::ClientContext ctx;
    Auth(ctx);
    v1::CallPatientRequest req;
    req.set_patient_id(id);
    return gateway_->CallPatient(&ctx, req, resp);
  };
  v1::InitiateCallResponse resp;
  EXPECT_EQ(call(99, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(call(2, &resp).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(call(1, &resp).ok());
  EXPECT_EQ(Count(Cat("SELECT patient_id FROM elevenlabs_conversations WHERE call_id = '",
                      resp.data().call_id(), "'")),
            1);
  // A phone-only call to a known patient is linked to the patient.
  v1::InitiateCallResponse other;
  Exec("INSERT INTO patients (id, full_name, phone_e164) VALUES (3, 'Luis Mora', '+573005550002')");
  ASSERT_TRUE(Initiate(Req("3005550002"), &other).ok());
  EXPECT_EQ(Count(Cat("SELECT patient_id FROM elevenlabs_conversations WHERE call_id = '",
                      other.data().call_id(), "'")),
            3);
}

v1::CallEvent Transcription(const std::string& conv, int64_t inbox, bool do_not_call = false) {
  v1::CallEvent ev;
  ev.set_inbox_id(inbox);
  ev.set_type(v1::EVENT_TYPE_POST_CALL_TRANSCRIPTION);
  ev.set_conversation_id(conv);
  auto* t = ev.mutable_transcription();
  t->set_status("done");
  auto* turn = t->add_transcript();
  turn->set_role("agent");
  turn->set_message("Hola, ¿podrá asistir?");
  turn->set_has_message(true);
  auto* md = t->mutable_metadata();
  md->set_start_time_unix_secs(1795000000);
  md->set_accepted_time_unix_secs(1795000006);
  md->set_call_duration_secs(31);
  md->set_cost(309);
  t->mutable_analysis()->set_call_successful("success");
  auto& fields = *t->mutable_analysis()->mutable_data_collection_results()->mutable_fields();
  (*fields["do_not_call"].mutable_struct_value()->mutable_fields())["value"].set_bool_value(
      do_not_call);
  (*fields["appointment_confirmed"].mutable_struct_value()->mutable_fields())["value"]
      .set_bool_value(true);
  return ev;
}

TEST_F(GatewayTest, EventsApplyOnceInOrderAndUnknownOnesAreKept) {
  Exec(
      "INSERT INTO patients (id, full_name, phone_e164) VALUES (1, 'Ana Ruiz', '+573005550001');"
      "INSERT INTO appointments (id, patient_id, scheduled_at) VALUES (5, 1, now() + interval '1 "
      "day')");
  v1::InitiateCallResponse resp;
  ASSERT_TRUE(Initiate(Req("3005550001", 5), &resp).ok());
  const std::string conv = resp.data().conversation_id();
  v1::CallEvent late_failure;
  late_failure.set_inbox_id(3);
  late_failure.set_type(v1::EVENT_TYPE_CALL_INITIATION_FAILURE);
  late_failure.set_conversation_id(conv);
  late_failure.mutable_initiation_failure()->set_failure_reason("busy");
  EXPECT_EQ(Apply({Transcription(conv, 1, true), Transcription(conv, 1, true), late_failure}),
            (std::vector<v1::ApplyOutcome>{v1::APPLY_OUTCOME_APPLIED, v1::APPLY_OUTCOME_DUPLICATE,
                                           v1::APPLY_OUTCOME_STALE}));
  EXPECT_EQ(DbStatus(resp.data().call_id()), "completed");  // never moved back to busy
  EXPECT_EQ(
      Count(Cat("SELECT duration_secs FROM elevenlabs_conversations WHERE conversation_id = '",
                conv, "'")),
      31);
  EXPECT_EQ(Count(Cat("SELECT count(*) FROM elevenlabs_transcriptions WHERE conversation_id = '",
                      conv, "'")),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM call_opt_outs WHERE phone_e164 = '+573005550001' AND "
                  "source = 'call_outcome'"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM appointments WHERE id = 5 AND status = 'confirmed'"), 1);
  // Unknown conversation: kept, and a second delivery is a duplicate.
  EXPECT_EQ(
      Apply({Transcription("conv_unknown", 7), Transcription("conv_unknown", 7)}),
      (std::vector<v1::ApplyOutcome>{v1::APPLY_OUTCOME_UNMATCHED, v1::APPLY_OUTCOME_DUPLICATE}));
  EXPECT_EQ(
      Count("SELECT count(*) FROM unmatched_call_events WHERE conversation_id = 'conv_unknown'"),
      1);
  // An opted-out number is not called again.
  v1::InitiateCallResponse again;
  EXPECT_EQ(Initiate(Req("3005550001"), &again).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(GatewayTest, ABatchOfTranscriptionsIsAppliedAsOneByOne) {
  Exec(
      "INSERT INTO patients (id, full_name, phone_e164) VALUES (1, 'Ana Ruiz', '+573005550001');"
      "INSERT INTO appointments (id, patient_id, scheduled_at) VALUES (5, 1, now() + interval '1 "
      "day')");
  v1::InitiateCallResponse a, b, c;
  ASSERT_TRUE(Initiate(Req("3005550001", 5), &a).ok());
  ASSERT_TRUE(Initiate(Req("3005550002"), &b).ok());
  ASSERT_TRUE(Initiate(Req("3005550003"), &c).ok());
  ASSERT_EQ(Apply({Transcription(c.data().conversation_id(), 9)}),
            std::vector<v1::ApplyOutcome>{v1::APPLY_OUTCOME_APPLIED});
  // Four transcriptions of four conversations in one batch (the set-based path): new, new,
  // already applied, unknown.
  EXPECT_EQ(
      Apply({Transcription(a.data().conversation_id(), 1, /*do_not_call=*/true),
             Transcription(b.data().conversation_id(), 2),
             Transcription(c.data().conversation_id(), 3), Transcription("conv_not_ours", 4)}),
      (std::vector<v1::ApplyOutcome>{v1::APPLY_OUTCOME_APPLIED, v1::APPLY_OUTCOME_APPLIED,
                                     v1::APPLY_OUTCOME_DUPLICATE, v1::APPLY_OUTCOME_UNMATCHED}));
  for (const auto* r : {&a, &b, &c}) {
    const std::string conv = r->data().conversation_id();
    EXPECT_EQ(DbStatus(r->data().call_id()), "completed");
    EXPECT_EQ(
        Count(Cat("SELECT count(*) FROM elevenlabs_conversations WHERE conversation_id = '", conv,
                  "' AND duration_secs = 31 AND cost_credits = 309 AND started_at IS NOT "
                  "NULL AND call_successful = 'success'")),
        1)
        << conv;
    EXPECT_EQ(Count(Cat("SELECT count(*) FROM elevenlabs_transcriptions WHERE conversation_id = '",
                        conv, "'")),
              1);
    EXPECT_EQ(
        Count(Cat("SELECT count(*) FROM elevenlabs_analysis WHERE conversation_id = '", conv, "'")),
        1);
  }
  // What the patient said, written back, as on the one-event path.
  EXPECT_EQ(Count("SELECT count(*) FROM appointments WHERE id = 5 AND status = 'confirmed'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM call_opt_outs WHERE phone_e164 = '+573005550001'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM call_opt_outs"), 1);
  EXPECT_EQ(
      Count("SELECT count(*) FROM unmatched_call_events WHERE conversation_id = 'conv_not_ours'"),
      1);
  EXPECT_EQ(Count("SELECT count(*) FROM applied_call_events"), 3);
}

TEST_F(GatewayTest, AnEventThatCannotBeAppliedIsRejectedAndOnlyItsConversationWaits) {
  v1::InitiateCallResponse a, b, c;
  ASSERT_TRUE(Initiate(Req("3005550001"), &a).ok());
  ASSERT_TRUE(Initiate(Req("3005550002"), &b).ok());
  ASSERT_TRUE(Initiate(Req("3005550003"), &c).ok());
  v1::CallEvent no_payload;  // a type but nothing to apply
  no_payload.set_inbox_id(2);
  no_payload.set_type(v1::EVENT_TYPE_POST_CALL_TRANSCRIPTION);
  no_payload.set_conversation_id(b.data().conversation_id());
  v1::CallEvent negative = Transcription(c.data().conversation_id(), 4);
  negative.mutable_transcription()->mutable_metadata()->set_call_duration_secs(-3);
  v1::CallEvent after_b;  // a later event of b's conversation: waits behind the rejected one
  after_b.set_inbox_id(5);
  after_b.set_type(v1::EVENT_TYPE_POST_CALL_AUDIO);
  after_b.set_conversation_id(b.data().conversation_id());
  after_b.mutable_audio()->set_stored(false);
  grpc::ClientContext ctx;
  Auth(ctx, {"events:publish"});
  v1::ApplyEventsRequest req;
  *req.add_events() = Transcription(a.data().conversation_id(), 1);
  *req.add_events() = no_payload;
  *req.add_events() = negative;
  *req.add_events() = after_b;
  v1::ApplyEventsResponse out;
  ASSERT_TRUE(sink_->ApplyEvents(&ctx, req, &out).ok());
  ASSERT_EQ(out.results_size(), 4);
  EXPECT_EQ(out.results(0).outcome(), v1::APPLY_OUTCOME_APPLIED);
  EXPECT_EQ(out.results(1).inbox_id(), 2);
  EXPECT_EQ(out.results(1).outcome(), v1::APPLY_OUTCOME_REJECTED);
  EXPECT_NE(out.results(1).reason().find("no payload"), std::string::npos)
      << out.results(1).reason();
  EXPECT_EQ(out.results(2).outcome(), v1::APPLY_OUTCOME_REJECTED);
  EXPECT_EQ(out.results(2).reason(), "metadata.call_duration_secs is negative");
  EXPECT_EQ(out.results(3).inbox_id(), 5);
  EXPECT_EQ(out.results(3).outcome(), v1::APPLY_OUTCOME_HELD);
  EXPECT_EQ(DbStatus(a.data().call_id()), "completed");
  EXPECT_EQ(DbStatus(b.data().call_id()), "initiated");
  EXPECT_EQ(DbStatus(c.data().call_id()), "initiated");
  // Nothing of a rejected event was kept: it can be applied once fixed.
  EXPECT_EQ(Count("SELECT count(*) FROM applied_call_events"), 1);
  negative.mutable_transcription()->mutable_metadata()->set_call_duration_secs(3);
  EXPECT_EQ(Apply({negative}), std::vector<v1::ApplyOutcome>{v1::APPLY_OUTCOME_APPLIED});
  EXPECT_EQ(DbStatus(c.data().call_id()), "completed");
}

// Our clock and ElevenLabs' differ: a call we marked started after ElevenLabs says it started
// (and ended) still completes, with ElevenLabs' times (before, the end came before our start and
// the apply failed on elevenlabs_conversations_ended_after_started_check, one by one or in a
// batch).
TEST_F(GatewayTest, ATranscriptFromAClockBehindOursStillApplies) {
  v1::InitiateCallResponse a, b, c;
  ASSERT_TRUE(Initiate(Req("3005550001"), &a).ok());
  ASSERT_TRUE(Initiate(Req("3005550002"), &b).ok());
  ASSERT_TRUE(Initiate(Req("3005550003"), &c).ok());
  Exec("UPDATE elevenlabs_conversations SET started_at = to_timestamp(1795000100)");
  EXPECT_EQ(Apply({Transcription(a.data().conversation_id(), 1)}),
            std::vector<v1::ApplyOutcome>{v1::APPLY_OUTCOME_APPLIED});
  EXPECT_EQ(Apply({Transcription(b.data().conversation_id(), 2),
                   Transcription(c.data().conversation_id(), 3)}),
            (std::vector<v1::ApplyOutcome>{v1::APPLY_OUTCOME_APPLIED, v1::APPLY_OUTCOME_APPLIED}));
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_conversations WHERE status = 'completed' AND "
                  "started_at = to_timestamp(1795000006) AND ended_at = to_timestamp(1795000037)"),
            3);
}

TEST_F(GatewayTest, UnknownRolesAndVerdictsAreData) {
  v1::InitiateCallResponse a;
  ASSERT_TRUE(Initiate(Req("3005550001"), &a).ok());
  v1::CallEvent ev = Transcription(a.data().conversation_id(), 1);
  auto* t = ev.mutable_transcription();
  t->set_status("weird");
  auto* tool = t->add_transcript();
  tool->set_role("tool");
  tool->set_time_in_call_secs(7);
  t->add_transcript()->set_time_in_call_secs(8);  // no role at all
  t->mutable_analysis()->set_call_successful("maybe");
  EXPECT_EQ(Apply({ev}), std::vector<v1::ApplyOutcome>{v1::APPLY_OUTCOME_APPLIED});
  EXPECT_EQ(DbStatus(a.data().call_id()), "completed");
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_transcriptions WHERE role = 'tool'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_transcriptions WHERE role = 'unknown'"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_analysis WHERE call_successful = 'maybe'"), 1);
}

TEST_F(GatewayTest, StoredAudioPartsAreCheckedBeforeTheyBecomeTheRecording) {
  v1::InitiateCallResponse good, bad;
  ASSERT_TRUE(Initiate(Req("3005550001"), &good).ok());
  ASSERT_TRUE(Initiate(Req("3005550002"), &bad).ok());
  // What webhook-ingest leaves for two audio events: inbox rows and their parts, in order.
  Exec(Cat(
      "INSERT INTO webhook_inbox (id, event_type, conversation_id, body, body_sha256) OVERRIDING "
      "SYSTEM VALUE VALUES (100, 'post_call_audio', '",
      good.data().conversation_id(), "', '\\x7b7d', repeat('a', 64)), (101, 'post_call_audio', '",
      bad.data().conversation_id(),
      "', '\\x7b7d', repeat('a', 64));"
      "INSERT INTO webhook_audio_parts (inbox_id, part, data) VALUES (100, 1, '\\x0304'), "
      "(100, 0, '\\x0102'), (101, 0, '\\x0102'), (101, 1, '\\x0305')"));
  const std::string mp3("\x01\x02\x03\x04", 4);
  auto audio = [&](int64_t inbox, const std::string& conv) {
    v1::CallEvent ev;
    ev.set_inbox_id(inbox);
    ev.set_type(v1::EVENT_TYPE_POST_CALL_AUDIO);
    ev.set_conversation_id(conv);
    ev.mutable_audio()->set_stored(true);
    ev.mutable_audio()->set_size_bytes(4);
    ev.mutable_audio()->set_sha256(common::Sha256::Hex(mp3));
    ev.mutable_audio()->set_content_type("audio/mpeg");
    return ev;
  };
  grpc::ClientContext ctx;
  Auth(ctx, {"events:publish"});
  v1::ApplyEventsRequest req;
  *req.add_events() = audio(100, good.data().conversation_id());
  *req.add_events() = audio(101, bad.data().conversation_id());
  v1::ApplyEventsResponse out;
  auto applied = sink_->ApplyEvents(&ctx, req, &out);
  ASSERT_TRUE(applied.ok()) << applied.error_message();
  ASSERT_EQ(out.results_size(), 2);
  // The good one, assembled in part order, is the recording; its parts are gone.
  EXPECT_EQ(Count(Cat("SELECT count(*) FROM elevenlabs_audio WHERE conversation_id = '",
                      good.data().conversation_id(), "' AND audio = '\\x01020304'")),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_audio_parts WHERE inbox_id = 100"), 0);
  // The damaged one is not presented as a recording; its parts stay, the problem is recorded.
  EXPECT_EQ(Count(Cat("SELECT count(*) FROM elevenlabs_audio WHERE conversation_id = '",
                      bad.data().conversation_id(), "'")),
            0);
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_audio_parts WHERE inbox_id = 101"), 2);
  EXPECT_EQ(Count(Cat("SELECT count(*) FROM elevenlabs_call_errors WHERE conversation_id = '",
                      bad.data().conversation_id(), "' AND error_code = 'audio_unavailable'")),
            1);
  EXPECT_EQ(
      Count(Cat("SELECT count(*) FROM elevenlabs_conversations WHERE conversation_id = '",
                bad.data().conversation_id(), "' AND metadata->'audio'->>'stored' = 'false'")),
      1);
}

TEST_F(GatewayTest, EventBeforeTheCallIsRecordedIsAppliedWhenItIs) {
  // Simulates the race: the webhook for a conversation arrives while the row is still dialing.
  Exec(
      "INSERT INTO elevenlabs_conversations (agent_id, phone_number, status, dial_attempted_at, "
      "call_id) VALUES "
      "('agent_sim_confirmaciones', '+573005559999', 'dialing', now() - interval '1 minute', "
      "'11111111-1111-4111-8111-111111111111')");
  std::vector<StatusChange> changes;
  auto kept = store_->ApplyEvent(Transcription("conv_race", 11), changes);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, v1::APPLY_OUTCOME_UNMATCHED);
  auto row = store_->FindCall("11111111-1111-4111-8111-111111111111");
  ASSERT_TRUE(row.ok() && row->has_value());
  ASSERT_TRUE(store_->MarkInitiated((*row)->id, "conv_race", "", "test").ok());
  ASSERT_TRUE(store_->ReplayUnmatched("conv_race", changes).ok());
  EXPECT_EQ(DbStatus("11111111-1111-4111-8111-111111111111"), "completed");
  EXPECT_EQ(Count("SELECT count(*) FROM unmatched_call_events WHERE resolved_at IS NOT NULL"), 1);
}

TEST_F(GatewayTest, ReconcilerSettlesDialingCalls) {
  // A call whose answer was lost and whose process died: still "dialing" in our table.
  SimPut("/__sim/faults", R"({"outbound":[{"kind":"lost_response"}]})");
  // Place it with ElevenLabs directly under a call id we record as dialing.
  Exec(
      "INSERT INTO elevenlabs_conversations (agent_id, phone_number, status, dial_attempted_at, "
      "call_id) VALUES "
      "('agent_sim_confirmaciones', '+573005550001', 'dialing', now() - interval '1 minute', "
      "'22222222-2222-4222-8222-222222222222'), "
      "('agent_sim_confirmaciones', '+573005550002', 'dialing', now() - interval '1 minute', "
      "'33333333-3333-4333-8333-333333333333')");
  OutboundCall out{"agent_sim_confirmaciones",
                   "phnum_sim_twilio",
                   "+573005550001",
                   "22222222-2222-4222-8222-222222222222",
                   {},
                   600};
  EXPECT_FALSE(elevenlabs_->PlaceTwilioCall(out).ok());  // answer lost, call placed
  ASSERT_TRUE(service_->ReconcileOnce().ok());
  EXPECT_EQ(DbStatus("22222222-2222-4222-8222-222222222222"), "initiated");
  EXPECT_EQ(DbStatus("33333333-3333-4333-8333-333333333333"),
            "failed");  // never reached ElevenLabs
  EXPECT_EQ(Dialled("+573005550001"), 1);
  EXPECT_EQ(Dialled("+573005550002"), 0);
}

// 404s from ElevenLabs for a few open calls must not keep a call stuck in "dialing" forever
// (its patient could not be called: "already live"), nor be retried every pass forever.
TEST_F(GatewayTest, ReconcilerIsFairBacksOffAndGivesUpAfterRepeated404s) {
  GatewayService reconciler(GatewayOptions{.default_agent_id = "agent_sim_confirmaciones",
                                           .agent_phone_number_id = "phnum_sim_twilio",
                                           .dialing_grace_secs = 0,
                                           .reconcile_every = absl::Hours(1),
                                           .reconcile_batch = 2,
                                           .reconcile_max_backoff = absl::Hours(24),
                                           .reconcile_max_not_found = 3},
                            *store_, *elevenlabs_, *auth_, nullptr);
  // Three open calls ElevenLabs does not know (404), long past their maximum, ahead in id order
  // of a call left dialing that never reached ElevenLabs.
  Exec(
      "INSERT INTO elevenlabs_conversations (agent_id, phone_number, status, conversation_id, "
      "dial_attempted_at, max_duration_secs) SELECT 'agent_sim_confirmaciones', '+57300555100' "
      "|| n, 'initiated', 'conv_gone_' || n, now() - interval '2 hours', 60 FROM "
      "generate_series(1, 3) AS n;"
      "INSERT INTO elevenlabs_conversations (agent_id, phone_number, status, dial_attempted_at, "
      "call_id) VALUES ('agent_sim_confirmaciones', '+573005550002', 'dialing', now() - "
      "interval '1 minute', '44444444-4444-4444-8444-444444444444')");
  const std::string gone = "status = 'initiated' AND conversation_id LIKE 'conv_gone_%'";
  auto state = [&](const std::string& what) {
    return Count(Cat("SELECT ", what,
                     " FROM call_reconcile_state s JOIN elevenlabs_conversations "
                     "c ON c.id = s.call_row_id WHERE c.conversation_id LIKE 'conv_gone_%'"));
  };
  ASSERT_TRUE(reconciler.ReconcileOnce().ok());  // two of the 404 calls
  ASSERT_TRUE(reconciler.ReconcileOnce().ok());  // the third, and the dialing call, settled
  EXPECT_EQ(DbStatus("44444444-4444-4444-8444-444444444444"), "failed");
  EXPECT_EQ(Count(Cat("SELECT count(*) FROM elevenlabs_conversations WHERE ", gone)), 3);
  EXPECT_EQ(state("count(*) FILTER (WHERE attempts = 1 AND not_found = 1)"), 3);
  // Each waits out its backoff (an hour after its first failed try): a pass now tries nothing.
  EXPECT_EQ(state("count(*) FILTER (WHERE next_attempt_at - now() BETWEEN interval '55 minutes' "
                  "AND interval '1 hour')"),
            3);
  ASSERT_TRUE(reconciler.ReconcileOnce().ok());
  EXPECT_EQ(state("sum(attempts)"), 3);
  // Due again: the second failed try doubles the wait.
  Exec("UPDATE call_reconcile_state SET next_attempt_at = now() - interval '1 second'");
  ASSERT_TRUE(reconciler.ReconcileOnce().ok());
  ASSERT_TRUE(reconciler.ReconcileOnce().ok());
  EXPECT_EQ(state("count(*) FILTER (WHERE attempts = 2 AND next_attempt_at - now() BETWEEN "
                  "interval '115 minutes' AND interval '2 hours')"),
            3);
  // The third 404 is final: failed, with the reason recorded, and nothing left to reconcile.
  Exec("UPDATE call_reconcile_state SET next_attempt_at = now() - interval '1 second'");
  ASSERT_TRUE(reconciler.ReconcileOnce().ok());
  ASSERT_TRUE(reconciler.ReconcileOnce().ok());
  EXPECT_EQ(Count(Cat("SELECT count(*) FROM elevenlabs_conversations WHERE ", gone)), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_conversations WHERE conversation_id LIKE "
                  "'conv_gone_%' AND status = 'failed'"),
            3);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_call_errors WHERE source = 'reconciler' AND "
                  "error_code = 'not_found' AND http_status = 404 AND message LIKE '%gave up%'"),
            3);
  EXPECT_EQ(Count("SELECT count(*) FROM call_reconcile_state"), 0);
}

// A crash during a dial leaves the key in_progress and its call "dialing" (what BeginCall wrote
// before the process died). The reconciler settles the call, and the key with it: a retry with
// the same key gets the call's answer instead of "still being processed", and nothing is
// dialled again.
TEST_F(GatewayTest, ReconcilerSettlesTheIdempotencyKeyWithItsCall) {
  const std::string placed_id = "44444444-4444-4444-8444-444444444444";
  const std::string lost_id = "55555555-5555-4555-8555-555555555555";
  const v1::InitiateCallRequest placed_req = Req("3005550001");
  const v1::InitiateCallRequest lost_req = Req("3005550002");
  Exec(Cat(
      "INSERT INTO elevenlabs_conversations (agent_id, agent_phone_number_id, phone_number, "
      "patient_name, status, dial_attempted_at, call_id) VALUES "
      "('agent_sim_confirmaciones', 'phnum_sim_twilio', '+573005550001', 'Ana Ruiz', 'dialing', "
      "now() - interval '1 minute', '",
      placed_id,
      "'), ('agent_sim_confirmaciones', 'phnum_sim_twilio', '+573005550002', 'Ana Ruiz', "
      "'dialing', now() - interval '1 minute', '",
      lost_id,
      "');"
      "INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, state, "
      "expires_at, call_row_id) SELECT 'InitiateCall', 'clinic-app', k.key, k.sha, 'in_progress', "
      "now() + interval '24 hours', c.id FROM elevenlabs_conversations c JOIN (VALUES ('",
      placed_id, "'::uuid, 'crash-1', '", common::Sha256::Hex(placed_req.SerializeAsString()),
      "'), ('", lost_id, "'::uuid, 'crash-2', '", common::Sha256::Hex(lost_req.SerializeAsString()),
      "')) AS k(call_id, key, sha) ON c.call_id = k.call_id"));
  ASSERT_EQ(Count("SELECT count(*) FROM idempotency_keys WHERE state = 'in_progress'"), 2);
  // The first dial reached ElevenLabs (its answer died with the process); the second did not.
  OutboundCall out{
      "agent_sim_confirmaciones", "phnum_sim_twilio", "+573005550001", placed_id, {}, 600};
  auto placed = elevenlabs_->PlaceTwilioCall(out);
  ASSERT_TRUE(placed.ok()) << placed.status();
  ASSERT_EQ(Dialled("+573005550001"), 1);

  v1::InitiateCallResponse resp;
  EXPECT_EQ(Initiate(placed_req, &resp, "crash-1").error_code(), grpc::StatusCode::ABORTED);

  ASSERT_TRUE(service_->ReconcileOnce().ok());
  EXPECT_EQ(DbStatus(placed_id), "initiated");
  EXPECT_EQ(DbStatus(lost_id), "failed");
  EXPECT_EQ(Count("SELECT count(*) FROM idempotency_keys WHERE state = 'completed'"), 2);

  // The same key: the call that was placed, not "still being processed", and no second dial.
  v1::InitiateCallResponse again;
  auto s = Initiate(placed_req, &again, "crash-1");
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_TRUE(again.success());
  EXPECT_EQ(again.data().call_id(), placed_id);
  EXPECT_EQ(again.data().conversation_id(), placed->conversation_id);
  EXPECT_EQ(again.data().status(), "initiated");
  EXPECT_EQ(Dialled("+573005550001"), 1);
  // The call that never reached ElevenLabs: its final answer (not placed), and still no dial.
  auto lost = Initiate(lost_req, &again, "crash-2");
  EXPECT_EQ(lost.error_code(), grpc::StatusCode::UNAVAILABLE) << lost.error_message();
  EXPECT_NE(lost.error_message().find(lost_id), std::string::npos) << lost.error_message();
  EXPECT_NE(lost.error_message().find("not placed"), std::string::npos) << lost.error_message();
  EXPECT_EQ(Dialled("+573005550002"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_conversations"), 2);
}

TEST_F(GatewayTest, GetConversationRefreshesAndEndCallHangsUp) {
  v1::InitiateCallResponse resp;
  ASSERT_TRUE(Initiate(Req("3005550008"), &resp).ok());  // a long call
  SimPut("/__sim/clock", R"({"advance_secs":10})", "POST");
  grpc::ClientContext ctx;
  Auth(ctx);
  v1::GetConversationRequest get;
  get.set_conversation_id(resp.data().call_id());  // our call id works too
  v1::GetConversationResponse conv;
  ASSERT_TRUE(gateway_->GetConversation(&ctx, get, &conv).ok());
  EXPECT_EQ(conv.data().status(), "in_progress");
  EXPECT_EQ(conv.data().conversation_id(), resp.data().conversation_id());

  grpc::ClientContext end_ctx;
  Auth(end_ctx);
  v1::EndCallRequest end;
  end.set_conversation_id(resp.data().conversation_id());
  v1::EndCallResponse ended;
  auto s = gateway_->EndCall(&end_ctx, end, &ended);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(ended.data().status(), "ended_manually");
  EXPECT_EQ(SimGet("/__sim/counters").at("hangup_requests").as_int64(), 1);
  EXPECT_EQ(SimGet("/__sim/counters").at("live_calls").as_int64(), 0);  // really hung up
  grpc::ClientContext again_ctx;
  Auth(again_ctx);
  EXPECT_EQ(gateway_->EndCall(&again_ctx, end, &ended).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  grpc::ClientContext erase_ctx;
  Auth(erase_ctx);
  v1::EraseConversationRequest erase;
  erase.set_conversation_id(resp.data().conversation_id());
  v1::EraseConversationResponse erased;
  ASSERT_TRUE(gateway_->EraseConversation(&erase_ctx, erase, &erased).ok());
  EXPECT_EQ(Count(Cat("SELECT count(*) FROM elevenlabs_conversations WHERE patient_name IS NULL "
                      "AND call_id = '",
                      resp.data().call_id(), "'")),
            1);
}

class NoTwilioGatewayTest : public GatewayTest {
  void Configure(elevenlabs::ElevenLabsConfig& ec) override {
    ec.twilio_account_sid.clear();
    ec.twilio_auth_token = common::Secret();
  }
};

TEST_F(NoTwilioGatewayTest, EndCallSaysNoHangUpRouteIsConfigured) {
  v1::InitiateCallResponse resp;
  ASSERT_TRUE(Initiate(Req("3005550008"), &resp).ok());
  grpc::ClientContext ctx;
  Auth(ctx);
  v1::EndCallRequest end;
  end.set_conversation_id(resp.data().conversation_id());
  v1::EndCallResponse ended;
  auto s = gateway_->EndCall(&ctx, end, &ended);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(s.error_message().find("no hang-up route"), std::string::npos);
  EXPECT_EQ(DbStatus(resp.data().call_id()), "initiated");
}

TEST_F(GatewayTest, ListAgentsReturnsEveryAgentInTheSeedEnvelope) {
  grpc::ClientContext ctx;
  Auth(ctx, {"calls:read"});
  v1::ListAgentsResponse agents;
  ASSERT_TRUE(gateway_->ListAgents(&ctx, {}, &agents).ok());
  EXPECT_TRUE(agents.success());
  EXPECT_EQ(agents.count(), 6);
  EXPECT_EQ(agents.data_size(), 6);
}

TEST_F(GatewayTest, ConcurrentCallsToANumberWithoutPatientOrAppointmentNameTheNumberGuard) {
  // No patient has this number and no appointment is given: the only guard is "one live call per
  // phone number", and the refusals must say that (masked), not speak of a patient or appointment.
  constexpr int kClients = 8;
  std::vector<grpc::StatusCode> codes(kClients);
  std::vector<std::string> messages(kClients);
  std::vector<std::string> call_ids(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      v1::InitiateCallResponse resp;
      auto s = Initiate(Req("3005550009"), &resp);
      codes[i] = s.error_code();
      messages[i] = s.error_message();
      call_ids[i] = resp.data().call_id();
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(std::count(codes.begin(), codes.end(), grpc::StatusCode::OK), 1);
  EXPECT_EQ(std::count(codes.begin(), codes.end(), grpc::StatusCode::ALREADY_EXISTS), kClients - 1);
  EXPECT_EQ(Dialled("+573005550009"), 1);
  const std::string placed =
      call_ids[std::find(codes.begin(), codes.end(), grpc::StatusCode::OK) - codes.begin()];
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_conversations WHERE patient_id IS NULL AND "
                  "appointment_id IS NULL"),
            1);
  for (int i = 0; i < kClients; ++i) {
    if (codes[i] != grpc::StatusCode::ALREADY_EXISTS) continue;
    const std::string& m = messages[i];
    EXPECT_NE(m.find("a call to this phone number (+57******0009) is already live"),
              std::string::npos)
        << m;
    EXPECT_EQ(m.find("patient"), std::string::npos) << m;
    EXPECT_EQ(m.find("appointment"), std::string::npos) << m;
    EXPECT_EQ(m.find("5550009"), std::string::npos) << m;  // never the raw number
    // The live call is named by id whenever it was visible to the refused request.
    if (m.find("(call ") != std::string::npos) EXPECT_NE(m.find(placed), std::string::npos) << m;
  }
}

TEST_F(GatewayTest, ConcurrentDuplicatesDialOnce) {
  Exec(
      "INSERT INTO patients (id, full_name, phone_e164) VALUES (1, 'Ana Ruiz', '+573005550001');"
      "INSERT INTO appointments (id, patient_id, scheduled_at) VALUES (7, 1, now() + interval '1 "
      "day')");
  // Eight clients (a double-clicked button, a retried job) call the same patient for the same
  // appointment at once, without a key: one call is placed, the others are refused.
  constexpr int kClients = 8;
  std::vector<grpc::StatusCode> codes(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      v1::InitiateCallResponse resp;
      codes[i] = Initiate(Req("3005550001", 7), &resp).error_code();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(std::count(codes.begin(), codes.end(), grpc::StatusCode::OK), 1);
  EXPECT_EQ(std::count(codes.begin(), codes.end(), grpc::StatusCode::ALREADY_EXISTS), kClients - 1);
  EXPECT_EQ(Dialled("+573005550001"), 1);

  // The same with one Idempotency-Key: every answer is the first call's (or "still being
  // placed, retry" while it is in flight), and still one dial.
  threads.clear();
  std::vector<std::string> conversations(kClients);
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      v1::InitiateCallResponse resp;
      codes[i] = Initiate(Req("3005550002"), &resp, "same-key").error_code();
      conversations[i] = resp.data().conversation_id();
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> distinct;
  for (int i = 0; i < kClients; ++i) {
    EXPECT_TRUE(codes[i] == grpc::StatusCode::OK || codes[i] == grpc::StatusCode::ABORTED)
        << codes[i];
    if (codes[i] == grpc::StatusCode::OK) distinct.insert(conversations[i]);
  }
  EXPECT_EQ(distinct.size(), 1u);
  EXPECT_EQ(Dialled("+573005550002"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_conversations"), 2);
}

TEST_F(GatewayTest, ReconcilerFinalisesACallWhoseWebhookWasLost) {
  Exec(
      "INSERT INTO patients (id, full_name, phone_e164) VALUES (1, 'Ana Ruiz', '+573005550001');"
      "INSERT INTO appointments (id, patient_id, scheduled_at) VALUES (7, 1, now() + interval '1 "
      "day')");
  v1::InitiateCallResponse resp;
  ASSERT_TRUE(Initiate(Req("3005550001", 7), &resp).ok());
  const std::string conv = resp.data().conversation_id();
  const std::string overdue =
      Cat("UPDATE elevenlabs_conversations SET dial_attempted_at = now() - make_interval(secs => "
          "max_duration_secs + 3600) WHERE conversation_id = '",
          conv, "'");
  // Still talking at ElevenLabs (long after its maximum, in our clock): the reconciler follows
  // it but does not close it.
  SimPut("/__sim/clock", R"({"advance_secs":20})", "POST");
  Exec(overdue);
  ASSERT_TRUE(service_->ReconcileOnce().ok());
  EXPECT_EQ(DbStatus(resp.data().call_id()), "in_progress");
  // Over, analysed, and no webhook ever came (none is configured here).
  SimPut("/__sim/clock", R"({"advance_secs":60})", "POST");
  ASSERT_TRUE(service_->ReconcileOnce().ok());
  EXPECT_EQ(DbStatus(resp.data().call_id()), "completed");
  // What the patient said is not lost: transcript, analysis, duration and the confirmation.
  EXPECT_GE(Count(Cat("SELECT count(*) FROM elevenlabs_transcriptions WHERE conversation_id = '",
                      conv, "'")),
            3);
  EXPECT_EQ(Count(Cat("SELECT count(*) FROM elevenlabs_analysis WHERE conversation_id = '", conv,
                      "' AND call_successful = 'success'")),
            1);
  EXPECT_EQ(Count(Cat("SELECT duration_secs FROM elevenlabs_conversations WHERE "
                      "conversation_id = '",
                      conv, "'")),
            31);
  EXPECT_EQ(Count("SELECT count(*) FROM appointments WHERE id = 7 AND status = 'confirmed'"), 1);
  // The webhook arriving after all changes nothing.
  grpc::ClientContext ctx;
  Auth(ctx, {"events:publish"});
  v1::ApplyEventsRequest late;
  *late.add_events() = Transcription(conv, 41);
  v1::ApplyEventsResponse applied;
  ASSERT_TRUE(sink_->ApplyEvents(&ctx, late, &applied).ok());
  EXPECT_EQ(applied.results(0).outcome(), v1::APPLY_OUTCOME_DUPLICATE);
  EXPECT_GE(Count(Cat("SELECT count(*) FROM elevenlabs_transcriptions WHERE conversation_id = '",
                      conv, "'")),
            3);
}

TEST_F(GatewayTest, AgentsAreCachedBriefly) {
  auto list = [&] {
    grpc::ClientContext ctx;
    Auth(ctx, {"calls:read"});
    v1::ListAgentsResponse agents;
    EXPECT_TRUE(gateway_->ListAgents(&ctx, {}, &agents).ok());
    return agents.count();
  };
  EXPECT_EQ(list(), 6);
  const int64_t requests =
      SimGet("/__sim/counters").at("requests").at("GET /v1/convai/agents").as_int64();
  EXPECT_GE(requests, 1);  // every page
  EXPECT_EQ(list(), 6);
  EXPECT_EQ(SimGet("/__sim/counters").at("requests").at("GET /v1/convai/agents").as_int64(),
            requests);
}

TEST_F(GatewayTest, OutcomesProviderLatencyAndErrorsAreMeasured) {
  v1::InitiateCallResponse resp;
  ASSERT_TRUE(Initiate(Req("3005550001"), &resp).ok());
  SimPut("/__sim/faults", R"({"outbound":[{"kind":"error","status":503}]})");
  EXPECT_EQ(Initiate(Req("3005550002"), &resp).error_code(), grpc::StatusCode::UNAVAILABLE);
  const std::string m = Metrics();
  EXPECT_NE(m.find(R"(outcall_calls_total{outcome="initiated"} 1)"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(outcall_provider_request_seconds_count{operation="outbound_call"} 2)"),
            std::string::npos)
      << m;
  EXPECT_NE(
      m.find(R"(outcall_provider_errors_total{code="UNAVAILABLE",operation="outbound_call"} 1)"),
      std::string::npos)
      << m;
  // No secret or phone number in the metrics.
  EXPECT_EQ(m.find("3005550001"), std::string::npos);
  EXPECT_EQ(m.find(secret_), std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Recordings whose post_call_audio webhook was lost (SAVE_CALL_AUDIO)

// A transcription whose conversation has audio, as ElevenLabs sends it for a connected call.
TEST_F(GatewayTest, RetentionPurgesTranscriptsAndRecordingsPerPurposeOnceAndKeepsTheFigures) {
  // Confirmations keep their transcript and recording 7 days; surveys have no limit.
  Exec(
      "INSERT INTO retention_policies (purpose, transcript_days, audio_days, updated_by) VALUES "
      "('confirmation', 7, 7, 'dpo')");
  v1::InitiateCallResponse a, b;
  ASSERT_TRUE(Initiate(Req("300 555 0201"), &a).ok());
  v1::InitiateCallRequest survey = Req("300 555 0202");
  survey.set_purpose("survey");
  ASSERT_TRUE(Initiate(survey, &b).ok());
  const std::string ca = a.data().conversation_id(), cb = b.data().conversation_id();
  // The transcriptions say the calls ended on 2026-11-18, more than 7 days before any run.
  ASSERT_EQ(Apply({Transcription(ca, 0), Transcription(cb, 0)}),
            (std::vector<v1::ApplyOutcome>{v1::APPLY_OUTCOME_APPLIED, v1::APPLY_OUTCOME_APPLIED}));
  Exec(
      Cat("INSERT INTO elevenlabs_audio (conversation_id, content_type, size_bytes, sha256, audio) "
          "VALUES ('",
          ca,
          "', 'audio/mpeg', 3, encode(sha256('\\x010203'::bytea), 'hex'), "
          "'\\x010203'::bytea), ('",
          cb,
          "', 'audio/mpeg', 3, encode(sha256('\\x010203'::bytea), "
          "'hex'), '\\x010203'::bytea)"));
  ASSERT_TRUE(service_->ReconcileOnce().ok());
  auto count = [&](const std::string& table, const std::string& conv) {
    return Count(Cat("SELECT count(*) FROM ", table, " WHERE conversation_id = '", conv, "'"));
  };
  EXPECT_EQ(count("elevenlabs_transcriptions", ca), 0);
  EXPECT_EQ(count("elevenlabs_audio", ca), 0);
  EXPECT_EQ(count("elevenlabs_transcriptions", cb), 1) << "no limit for surveys";
  EXPECT_EQ(count("elevenlabs_audio", cb), 1);
  EXPECT_EQ(count("elevenlabs_analysis", ca), 1) << "the analysis and figures stay";
  EXPECT_EQ(Count(Cat("SELECT count(*) FROM elevenlabs_conversations WHERE conversation_id = '", ca,
                      "' AND duration_secs = 31 AND metadata ? 'retention_purged_at'")),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM retention_runs WHERE calls = 1 AND transcript_turns = 1 "
                  "AND recordings = 1"),
            1);
  // Idempotent: nothing is due any more, and a pass that purges nothing writes nothing.
  auto again = store_->PurgeRetention(100);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->calls, 0);
  EXPECT_EQ(Count("SELECT count(*) FROM retention_runs"), 1);
}

v1::CallEvent TranscriptionWithAudio(const std::string& conv, int64_t inbox) {
  v1::CallEvent ev = Transcription(conv, inbox);
  ev.mutable_transcription()->set_has_audio(true);
  return ev;
}

std::string Hex(std::string_view bytes) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

class AudioRecoveryTest : public GatewayTest {
 protected:
  // A reconciler whose grace for the audio webhook is over (the fixture's service_ keeps the
  // default grace): no backoff unless `every` says otherwise.
  std::unique_ptr<GatewayService> Recoverer(CallStore& store, bool save_call_audio = true,
                                            absl::Duration every = absl::ZeroDuration(),
                                            prometheus::Registry* registry = nullptr) {
    return std::make_unique<GatewayService>(
        GatewayOptions{.default_agent_id = "agent_sim_confirmaciones",
                       .agent_phone_number_id = "phnum_sim_twilio",
                       .dialing_grace_secs = 0,
                       .reconcile_every = every,
                       .reconcile_max_backoff = absl::Hours(24),
                       .reconcile_max_not_found = 3,
                       .save_call_audio = save_call_audio,
                       .audio_grace_secs = 0},
        store, *elevenlabs_, *auth_, registry);
  }
  int64_t AudioRequests() {
    auto c = SimGet("/__sim/counters");
    const auto* n = c.at("requests")
                        .as_object()
                        .if_contains("GET /v1/convai/conversations/{conversation_id}/audio");
    return n ? n->as_int64() : 0;
  }
  // Two calls, over and analysed at ElevenLabs (the simulator's clock moved past them).
  void TwoFinishedCalls(v1::InitiateCallResponse& a, v1::InitiateCallResponse& b) {
    ASSERT_TRUE(Initiate(Req("3005550001"), &a).ok());
    ASSERT_TRUE(Initiate(Req("3005550002"), &b).ok());
    SimPut("/__sim/clock", R"({"advance_secs":120})", "POST");
  }
  // Makes an open call overdue, so that the reconciler fetches its conversation.
  void Overdue(const std::string& conv) {
    Exec(
        Cat("UPDATE elevenlabs_conversations SET dial_attempted_at = now() - make_interval(secs "
            "=> max_duration_secs + 3600) WHERE conversation_id = '",
            conv, "'"));
  }
  std::string Sql(const std::string& sql) {
    pqxx::connection conn(db_.url());
    pqxx::work tx(conn);
    auto r = tx.exec1(sql);
    return r[0].is_null() ? "NULL" : r[0].as<std::string>();
  }
  // What webhook-ingest leaves for a post_call_audio event (its inbox row and the decoded
  // parts), and the event its publisher sends.
  v1::CallEvent AudioWebhook(int64_t inbox, const std::string& conv, const std::string& mp3) {
    Exec(
        Cat("INSERT INTO webhook_inbox (id, event_type, conversation_id, body, body_sha256) "
            "OVERRIDING SYSTEM VALUE VALUES (",
            inbox, ", 'post_call_audio', '", conv,
            "', '\\x7b7d', repeat('a', 64)); INSERT INTO webhook_audio_parts (inbox_id, part, "
            "data) VALUES (",
            inbox, ", 0, '\\x", Hex(mp3), "')"));
    v1::CallEvent ev;
    ev.set_inbox_id(inbox);
    ev.set_type(v1::EVENT_TYPE_POST_CALL_AUDIO);
    ev.set_conversation_id(conv);
    ev.mutable_audio()->set_stored(true);
    ev.mutable_audio()->set_size_bytes(static_cast<int64_t>(mp3.size()));
    ev.mutable_audio()->set_sha256(common::Sha256::Hex(mp3));
    ev.mutable_audio()->set_content_type("audio/mpeg");
    return ev;
  }
};

TEST_F(AudioRecoveryTest, ASettledCallWhoseAudioWebhookWasLostGetsItsRecording) {
  v1::InitiateCallResponse a, b;
  TwoFinishedCalls(a, b);
  const std::string conv_a = a.data().conversation_id();
  const std::string conv_b = b.data().conversation_id();
  // a: its transcription webhook came (the conversation has audio); its audio webhook never did.
  ASSERT_EQ(Apply({TranscriptionWithAudio(conv_a, 1)}),
            std::vector<v1::ApplyOutcome>{v1::APPLY_OUTCOME_APPLIED});
  // b: no webhook at all; the reconciler settles it from the conversation (has_audio true).
  Overdue(conv_b);
  // Within the grace (the fixture's reconciler, default 300 s) the webhook has its head start:
  // the calls are settled and their need recorded, but nothing is fetched.
  ASSERT_TRUE(service_->ReconcileOnce().ok());
  EXPECT_EQ(DbStatus(b.data().call_id()), "completed");
  EXPECT_EQ(Count("SELECT count(*) FROM call_audio_recovery WHERE gave_up_at IS NULL"), 2);
  EXPECT_EQ(AudioRequests(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_audio"), 0);

  // The grace is over: one pass fetches both recordings and stores them as the webhook would.
  auto registry = std::make_shared<prometheus::Registry>();
  auto recoverer = Recoverer(*store_, true, absl::ZeroDuration(), registry.get());
  ASSERT_TRUE(recoverer->ReconcileOnce().ok());
  EXPECT_EQ(AudioRequests(), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_audio"), 2);
  EXPECT_EQ(Count("SELECT count(*) FROM call_audio_recovery"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_call_errors"), 0);
  const std::string m = prometheus::TextSerializer().Serialize(registry->Collect());
  EXPECT_NE(m.find(R"(outcall_audio_recovery_total{outcome="recovered"} 2)"), std::string::npos)
      << m;
  EXPECT_NE(
      m.find(R"(outcall_provider_request_seconds_count{operation="get_conversation_audio"} 2)"),
      std::string::npos)
      << m;
  // Nothing left to look for: a second pass fetches nothing.
  ASSERT_TRUE(recoverer->ReconcileOnce().ok());
  EXPECT_EQ(AudioRequests(), 2);
  for (const std::string& conv : {conv_a, conv_b}) {
    const std::string mp3 = SimGetRaw(Cat("/v1/convai/conversations/", conv, "/audio"));
    ASSERT_GT(mp3.size(), 0u);
    const std::string where = Cat(" FROM elevenlabs_audio WHERE conversation_id = '", conv, "'");
    EXPECT_EQ(Sql(Cat("SELECT size_bytes", where)), std::to_string(mp3.size())) << conv;
    EXPECT_EQ(Sql(Cat("SELECT sha256", where)), common::Sha256::Hex(mp3)) << conv;
    EXPECT_EQ(Sql(Cat("SELECT encode(sha256(audio), 'hex')", where)), common::Sha256::Hex(mp3));
    EXPECT_EQ(Sql(Cat("SELECT encode(audio, 'hex')", where)), Hex(mp3)) << conv;
    EXPECT_EQ(Sql(Cat("SELECT content_type", where)), "audio/mpeg");
    EXPECT_EQ(
        Count(Cat("SELECT count(*) FROM elevenlabs_conversations WHERE conversation_id = '", conv,
                  "' AND metadata->'audio'->>'stored' = 'true' AND "
                  "metadata->'audio'->>'recovered' = 'true' AND "
                  "metadata->'audio'->>'sha256' = '",
                  common::Sha256::Hex(mp3), "'")),
        1)
        << conv;
  }
}

TEST_F(AudioRecoveryTest, NothingIsFetchedWhenSaveCallAudioIsOff) {
  v1::InitiateCallResponse a, b;
  TwoFinishedCalls(a, b);
  CallStore store(*pool_, {.save_call_audio = false});
  auto reconciler = Recoverer(store, /*save_call_audio=*/false);
  // a's transcription webhook and b's conversation both say there is audio: no need recorded.
  std::vector<StatusChange> changes;
  auto applied = store.ApplyEvent(TranscriptionWithAudio(a.data().conversation_id(), 1), changes);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(*applied, v1::APPLY_OUTCOME_APPLIED);
  Overdue(b.data().conversation_id());
  ASSERT_TRUE(reconciler->ReconcileOnce().ok());
  EXPECT_EQ(DbStatus(a.data().call_id()), "completed");
  EXPECT_EQ(DbStatus(b.data().call_id()), "completed");
  EXPECT_EQ(Count("SELECT count(*) FROM call_audio_recovery"), 0);
  // Even a need recorded before (while it was on) is not served while it is off.
  Exec(
      Cat("INSERT INTO call_audio_recovery (call_row_id, needed_since) SELECT id, now() - "
          "interval '1 hour' FROM elevenlabs_conversations WHERE conversation_id = '",
          a.data().conversation_id(), "'"));
  ASSERT_TRUE(reconciler->ReconcileOnce().ok());
  ASSERT_TRUE(reconciler->ReconcileOnce().ok());
  EXPECT_EQ(AudioRequests(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_audio"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM call_audio_recovery WHERE attempts = 0"), 1);
}

TEST_F(AudioRecoveryTest, ARecordingTheWebhookBroughtIsNeitherFetchedNorOverwritten) {
  v1::InitiateCallResponse a, b;
  TwoFinishedCalls(a, b);
  const std::string conv = a.data().conversation_id();
  const std::string webhook_mp3("\x01\x02\x03\x04\x05", 5);  // not what the simulator serves
  ASSERT_EQ(Apply({TranscriptionWithAudio(conv, 1)}),
            std::vector<v1::ApplyOutcome>{v1::APPLY_OUTCOME_APPLIED});
  EXPECT_EQ(Count("SELECT count(*) FROM call_audio_recovery"), 1);
  // The audio webhook comes in time: the need is served.
  ASSERT_EQ(Apply({AudioWebhook(100, conv, webhook_mp3)}),
            std::vector<v1::ApplyOutcome>{v1::APPLY_OUTCOME_APPLIED});
  EXPECT_EQ(Count("SELECT count(*) FROM call_audio_recovery"), 0);
  auto recoverer = Recoverer(*store_);
  ASSERT_TRUE(recoverer->ReconcileOnce().ok());
  EXPECT_EQ(AudioRequests(), 0);
  // A need left over (the webhook's recording stored while a pass held it) is dropped, unfetched.
  Exec(
      Cat("INSERT INTO call_audio_recovery (call_row_id, needed_since) SELECT id, now() - "
          "interval '1 hour' FROM elevenlabs_conversations WHERE conversation_id = '",
          conv, "'"));
  ASSERT_TRUE(recoverer->ReconcileOnce().ok());
  EXPECT_EQ(AudioRequests(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM call_audio_recovery"), 0);
  // A download that lands after the webhook's recording never replaces it.
  auto row = store_->FindCall(conv);
  ASSERT_TRUE(row.ok() && row->has_value());
  auto late = store_->StoreRecoveredAudio((*row)->id, conv, "audio/mpeg", std::string(64, 'x'));
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_EQ(*late, CallStore::RecoveredAudio::kAlreadyStored);
  const std::string where = Cat(" FROM elevenlabs_audio WHERE conversation_id = '", conv, "'");
  EXPECT_EQ(Sql(Cat("SELECT encode(audio, 'hex')", where)), Hex(webhook_mp3));
  EXPECT_EQ(Sql(Cat("SELECT sha256", where)), common::Sha256::Hex(webhook_mp3));
  EXPECT_EQ(Count(Cat("SELECT count(*) FROM elevenlabs_conversations WHERE conversation_id = '",
                      conv, "' AND metadata->'audio' ? 'recovered'")),
            0);
}

TEST_F(AudioRecoveryTest, RepeatedNotFoundEndsInARecordedGiveUpNotEndlessTries) {
  // A settled call whose conversation ElevenLabs says had audio, but answers 404 for it.
  Exec(
      "INSERT INTO elevenlabs_conversations (agent_id, phone_number, status, conversation_id, "
      "dial_attempted_at) VALUES ('agent_sim_confirmaciones', '+573005551001', 'initiated', "
      "'conv_no_audio', now() - interval '1 hour')");
  ASSERT_EQ(Apply({TranscriptionWithAudio("conv_no_audio", 1)}),
            std::vector<v1::ApplyOutcome>{v1::APPLY_OUTCOME_APPLIED});
  auto recoverer = Recoverer(*store_, true, /*every=*/absl::Hours(1));
  auto need = [&](const std::string& what) {
    return Count(Cat("SELECT ", what, " FROM call_audio_recovery"));
  };
  ASSERT_TRUE(recoverer->ReconcileOnce().ok());
  EXPECT_EQ(AudioRequests(), 1);
  EXPECT_EQ(need("count(*) FILTER (WHERE attempts = 1 AND not_found = 1 AND gave_up_at IS NULL "
                 "AND last_error LIKE '%404%')"),
            1);
  // It waits out its backoff (an hour): the next pass fetches nothing.
  EXPECT_EQ(need("count(*) FILTER (WHERE next_attempt_at - now() BETWEEN interval '55 minutes' "
                 "AND interval '1 hour')"),
            1);
  ASSERT_TRUE(recoverer->ReconcileOnce().ok());
  EXPECT_EQ(AudioRequests(), 1);
  // Due again: the second 404 doubles the wait; the third ends it.
  Exec("UPDATE call_audio_recovery SET next_attempt_at = now() - interval '1 second'");
  ASSERT_TRUE(recoverer->ReconcileOnce().ok());
  EXPECT_EQ(AudioRequests(), 2);
  EXPECT_EQ(need("count(*) FILTER (WHERE attempts = 2 AND next_attempt_at - now() BETWEEN "
                 "interval '115 minutes' AND interval '2 hours')"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_call_errors"), 0);
  Exec("UPDATE call_audio_recovery SET next_attempt_at = now() - interval '1 second'");
  ASSERT_TRUE(recoverer->ReconcileOnce().ok());
  EXPECT_EQ(AudioRequests(), 3);
  // Given up, visibly: the need keeps when and why, and the call's errors say so.
  EXPECT_EQ(need("count(*) FILTER (WHERE gave_up_at IS NOT NULL AND not_found = 3 AND "
                 "gave_up_reason LIKE '%404%' AND gave_up_reason LIKE '%gave up%')"),
            1);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_call_errors WHERE source = 'reconciler' AND "
                  "error_code = 'audio_not_found' AND http_status = 404 AND conversation_id = "
                  "'conv_no_audio' AND message LIKE '%gave up%'"),
            1);
  // And never tried again.
  Exec("UPDATE call_audio_recovery SET next_attempt_at = now() - interval '1 second'");
  ASSERT_TRUE(recoverer->ReconcileOnce().ok());
  ASSERT_TRUE(recoverer->ReconcileOnce().ok());
  EXPECT_EQ(AudioRequests(), 3);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_call_errors"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_audio"), 0);
}

TEST_F(AudioRecoveryTest, TheAudioWebhookArrivingAfterARecoveryStillApplies) {
  v1::InitiateCallResponse a, b;
  TwoFinishedCalls(a, b);
  const std::string conv = a.data().conversation_id();
  ASSERT_EQ(Apply({TranscriptionWithAudio(conv, 1)}),
            std::vector<v1::ApplyOutcome>{v1::APPLY_OUTCOME_APPLIED});
  ASSERT_TRUE(Recoverer(*store_)->ReconcileOnce().ok());
  ASSERT_EQ(Count("SELECT count(*) FROM elevenlabs_audio"), 1);
  // The webhook was late, not lost: it applies cleanly, once, and its parts are cleared.
  const std::string mp3 = SimGetRaw(Cat("/v1/convai/conversations/", conv, "/audio"));
  const v1::CallEvent late = AudioWebhook(100, conv, mp3);
  EXPECT_EQ(Apply({late}), std::vector<v1::ApplyOutcome>{v1::APPLY_OUTCOME_APPLIED});
  EXPECT_EQ(Apply({late}), std::vector<v1::ApplyOutcome>{v1::APPLY_OUTCOME_DUPLICATE});
  EXPECT_EQ(
      Count(Cat("SELECT count(*) FROM elevenlabs_audio WHERE conversation_id = '", conv,
                "' AND sha256 = '", common::Sha256::Hex(mp3), "' AND size_bytes = ", mp3.size())),
      1);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_audio"), 1);
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_audio_parts"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_call_errors"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM call_audio_recovery"), 0);
  EXPECT_EQ(Count(Cat("SELECT count(*) FROM elevenlabs_conversations WHERE conversation_id = '",
                      conv, "' AND metadata->'audio'->>'stored' = 'true'")),
            1);
}

TEST_F(AudioRecoveryTest, AnErasedConversationsRecordingIsNeverFetched) {
  v1::InitiateCallResponse a, b;
  TwoFinishedCalls(a, b);
  const std::string conv = a.data().conversation_id();
  ASSERT_EQ(Apply({TranscriptionWithAudio(conv, 1)}),
            std::vector<v1::ApplyOutcome>{v1::APPLY_OUTCOME_APPLIED});
  auto row = store_->FindCall(conv);
  ASSERT_TRUE(row.ok() && row->has_value());
  ASSERT_TRUE(store_->EraseData((*row)->id).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM call_audio_recovery"), 0);
  // Even with a need left over, and even for a download already under way.
  Exec(Cat("INSERT INTO call_audio_recovery (call_row_id) VALUES (", (*row)->id, ")"));
  ASSERT_TRUE(Recoverer(*store_)->ReconcileOnce().ok());
  EXPECT_EQ(AudioRequests(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM call_audio_recovery"), 0);
  auto late = store_->StoreRecoveredAudio((*row)->id, conv, "audio/mpeg", "mp3");
  ASSERT_TRUE(late.ok()) << late.status();
  EXPECT_EQ(*late, CallStore::RecoveredAudio::kErased);
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_audio"), 0);
}

TEST_F(AudioRecoveryTest, TheClientDownloadsWithinItsBoundAndMapsErrors) {
  v1::InitiateCallResponse a, b;
  TwoFinishedCalls(a, b);
  const std::string conv = a.data().conversation_id();
  auto audio = elevenlabs_->GetConversationAudio(conv, 1 << 20, absl::Seconds(5));
  ASSERT_TRUE(audio.ok()) << audio.status();
  EXPECT_EQ(audio->content_type, "audio/mpeg");
  EXPECT_GT(audio->bytes.size(), 0u);
  // Over the bound: refused, the same way every time, with the bound named.
  auto big = elevenlabs_->GetConversationAudio(conv, audio->bytes.size() - 1, absl::Seconds(5));
  EXPECT_EQ(big.status().code(), absl::StatusCode::kFailedPrecondition) << big.status();
  EXPECT_NE(big.status().message().find("larger than"), std::string::npos) << big.status();
  auto unknown = elevenlabs_->GetConversationAudio("conv_unknown", 1 << 20, absl::Seconds(5));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound) << unknown.status();
  EXPECT_EQ(unknown.failure().http_status, 404);
  EXPECT_FALSE(unknown.failure().maybe_delivered);
  EXPECT_EQ(big.failure().code, "too_large") << "the typed failure says why, not the message";
  // The API key is never in an error.
  EXPECT_EQ(unknown.status().ToString().find(api_key_), std::string::npos);
}

TEST(GatewayConfig, AudioRecoveryDefaultsAndBounds) {
  std::map<std::string, std::string> env = {{"DATABASE_URL", "postgresql://localhost/outcall"},
                                            {"JWT_ISSUER", "outcall-test"},
                                            {"JWT_AUDIENCE", "outcall"},
                                            {"JWT_HS256_SECRET", common::RandomHex(32)},
                                            {"ELEVENLABS_API_KEY", "sk_test"},
                                            {"ELEVENLABS_AGENT_ID", "agent_x"},
                                            {"ELEVENLABS_AGENT_PHONE_NUMBER_ID", "phnum_x"}};
  auto load = [&] {
    common::EnvReader reader([&](std::string_view name) -> std::optional<std::string> {
      auto it = env.find(std::string(name));
      if (it == env.end()) return std::nullopt;
      return it->second;
    });
    return LoadServiceConfig(reader);
  };
  auto c = load();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->elevenlabs.save_call_audio);
  EXPECT_EQ(c->reconciler.audio_grace_secs, 300);
  EXPECT_EQ(c->reconciler.audio_batch, 10);
  EXPECT_EQ(c->reconciler.audio_max_age_secs, 7 * 24 * 3600);
  EXPECT_EQ(c->reconciler.audio_max_bytes, 64 << 20);
  EXPECT_EQ(c->reconciler.audio_timeout_secs, 120);
  env["RECONCILE_AUDIO_GRACE_SECS"] = "0";
  env["RECONCILE_AUDIO_MAX_BYTES"] = "1048576";
  c = load();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->reconciler.audio_grace_secs, 0);
  EXPECT_EQ(c->reconciler.audio_max_bytes, 1 << 20);
  env["RECONCILE_AUDIO_BATCH"] = "0";
  env["RECONCILE_AUDIO_TIMEOUT_SECS"] = "601";
  c = load();
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("RECONCILE_AUDIO_BATCH"), std::string::npos) << c.status();
  EXPECT_NE(c.status().message().find("RECONCILE_AUDIO_TIMEOUT_SECS"), std::string::npos)
      << c.status();
}

// ---- The contact policy over the real database: the built-in profile, an injected clock

// Wednesday 2027-01-13 10:00 in Bogotá.
constexpr int64_t kWednesdayMorning = 1799852400;

class ContactPolicyTest : public GatewayTest {
 protected:
  testing::TestDatabase::ContactProfile Profile() override {
    return testing::TestDatabase::ContactProfile::kBuiltIn;
  }
  const common::Clock* GatewayClock() override { return &clock_; }
  grpc::Status Check(const v1::CheckContactPolicyRequest& req, v1::ContactPolicyDecision* out) {
    grpc::ClientContext ctx;
    Auth(ctx, {"policy:read"});
    return gateway_->CheckContactPolicy(&ctx, req, out);
  }
  common::ManualClock clock_{absl::FromUnixSeconds(kWednesdayMorning)};
};

TEST_F(ContactPolicyTest, ARefusalPlacesNothingAndEveryDecisionIsStoredWithItsAttempt) {
  // The built-in profile is in the database, exactly as compiled.
  EXPECT_EQ(Count("SELECT count(*) FROM contact_policy_profiles WHERE profile_id = "
                  "'co_ley2300_v1' AND version = 1 AND document = " +
                  pqxx::connection(db_.url()).quote(std::string(policy::DefaultProfileJson()))),
            1);
  // Saturday 16:00: after the Saturday window.
  clock_.Advance(absl::Hours(3 * 24 + 6));
  v1::InitiateCallResponse resp;
  auto refused = Initiate(Req("300 555 0101"), &resp);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(refused.error_message(),
            "contact policy co_ley2300_v1 v1 (hours): fuera del horario permitido (sábado "
            "08:00-15:00); próximo horario: lunes 2027-01-18 07:00 America/Bogota");
  EXPECT_EQ(Count("SELECT count(*) FROM elevenlabs_conversations"), 0);
  EXPECT_EQ(SimGet("/__sim/counters").at("calls_placed").as_int64(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM policy_decisions WHERE NOT allowed AND rule = 'hours' "
                  "AND call_row_id IS NULL AND profile_id = 'co_ley2300_v1' AND profile_version = "
                  "1 AND decided_at = to_timestamp(1799852400 + 3 * 86400 + 6 * 3600) AND "
                  "decided_for = 'clinic-app' AND record->'profile'->>'id' = 'co_ley2300_v1' AND "
                  "record->>'local_time' = '2027-01-16T16:00:00'"),
            1);
  // Monday 10:00: allowed, and the decision is stored with the call.
  clock_.Advance(absl::Hours(2 * 24 - 6));
  ASSERT_TRUE(Initiate(Req("300 555 0101"), &resp).ok());
  EXPECT_EQ(
      Count("SELECT count(*) FROM policy_decisions d JOIN elevenlabs_conversations c ON "
            "c.id = d.call_row_id WHERE d.allowed AND d.rule IS NULL AND c.call_id::text = '" +
            resp.data().call_id() + "' AND c.contact_purpose = 'confirmation'"),
      1);
}

TEST_F(ContactPolicyTest, CapsHoldAcrossChannelsAndConsentIsRead) {
  Exec(
      "INSERT INTO patients (id, full_name, phone_e164) VALUES (7, 'Ana Ruiz', '+573005550107');"
      "INSERT INTO excluded_number_lists (list_version, entries) VALUES ('2027-01-10', 0);");
  v1::InitiateCallRequest req = Req("300 555 0107");
  req.set_purpose("promotion");
  v1::InitiateCallResponse resp;
  auto no_consent = Initiate(req, &resp);
  EXPECT_EQ(no_consent.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(no_consent.error_message().find("(consent)"), std::string::npos)
      << no_consent.error_message();
  Exec(
      "INSERT INTO patient_consents (patient_id, purpose, channel, state, source, text_version, "
      "evidence_ref, recorded_at, recorded_by) VALUES (7, 'promotion', 'voice', 'authorised', "
      "'form', 'v3', 'doc-881', to_timestamp(1799852400 - 86400), 'front-desk'), "
      "(7, 'promotion', 'whatsapp', 'authorised', 'form', 'v3', 'doc-881', "
      "to_timestamp(1799852400 - 86400), 'front-desk');"
      // The clinic's WhatsApp system reached the patient for a promotion this morning.
      "INSERT INTO contact_records (patient_id, channel, purpose, at, answered, source, "
      "external_ref, recorded_by) VALUES (7, 'whatsapp', 'promotion', "
      "to_timestamp(1799852400 - 3600), true, 'crm', 'wa-1', 'crm-sync')");
  auto capped = Initiate(req, &resp);
  EXPECT_EQ(capped.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(capped.error_message().find("(daily_cap)"), std::string::npos)
      << capped.error_message();
  // CheckContactPolicy answers the same without dialling or recording; a confirmation is fine.
  const int64_t decisions = Count("SELECT count(*) FROM policy_decisions");
  v1::CheckContactPolicyRequest check;
  check.set_patient_id(7);
  check.set_purpose("promotion");
  v1::ContactPolicyDecision d;
  ASSERT_TRUE(Check(check, &d).ok());
  EXPECT_FALSE(d.allowed());
  EXPECT_EQ(d.rule(), "daily_cap");
  EXPECT_TRUE(d.has_next_allowed_at());
  EXPECT_EQ(d.time_zone(), "America/Bogota");
  check.set_purpose("confirmation");
  ASSERT_TRUE(Check(check, &d).ok());
  EXPECT_TRUE(d.allowed());
  EXPECT_EQ(Count("SELECT count(*) FROM policy_decisions"), decisions);
  EXPECT_EQ(SimGet("/__sim/counters").at("calls_placed").as_int64(), 0);
  // The next day the WhatsApp contact still holds the week to WhatsApp: no voice promotion.
  clock_.Advance(absl::Hours(24));
  auto channel = Initiate(req, &resp);
  EXPECT_EQ(channel.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(channel.error_message().find("(weekly_channel)"), std::string::npos)
      << channel.error_message();
}

TEST_F(ContactPolicyTest, ConsentsAndContactsRecordedThroughTheApiDecideTheNextDial) {
  Exec(
      "INSERT INTO patients (id, full_name, phone_e164) VALUES (9, 'Eva Paz', '+573005550109');"
      "INSERT INTO excluded_number_lists (list_version, entries) VALUES ('2027-01-10', 0);");
  auto call = [&](auto rpc, const auto& req, auto* resp, std::vector<std::string> perms) {
    grpc::ClientContext ctx;
    Auth(ctx, std::move(perms));
    return (gateway_.get()->*rpc)(&ctx, req, resp);
  };
  v1::RecordConsentRequest consent;
  consent.set_patient_id(9);
  consent.set_purpose("promotion");
  consent.set_channel("voice");
  consent.set_state("authorised");
  consent.set_source("form");
  consent.set_text_version("aut-v3");
  consent.set_evidence_ref("doc-9");
  consent.mutable_recorded_at()->set_seconds(kWednesdayMorning - 86400);
  v1::RecordConsentResponse consented;
  EXPECT_EQ(call(&v1::CallGateway::Stub::RecordConsent, consent, &consented, {"calls:write"})
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(
      call(&v1::CallGateway::Stub::RecordConsent, consent, &consented, {"consent:write"}).ok());
  EXPECT_GT(consented.consent_id(), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM patient_consents WHERE patient_id = 9 AND state = "
                  "'authorised' AND text_version = 'aut-v3' AND recorded_by = 'clinic-app'"),
            1);
  // Authorised: a promotion by voice is allowed now (checked, not placed).
  v1::CheckContactPolicyRequest check;
  check.set_patient_id(9);
  check.set_purpose("promotion");
  v1::ContactPolicyDecision d;
  ASSERT_TRUE(Check(check, &d).ok());
  EXPECT_TRUE(d.allowed()) << d.rule() << ": " << d.message();
  // The clinic's SMS system reached the patient this morning for a promotion: recorded twice
  // (a retry), counted once, and today's promotion by voice is capped.
  v1::RecordContactRequest sms;
  sms.set_patient_id(9);
  sms.set_channel("sms");
  sms.set_purpose("promotion");
  sms.mutable_at()->set_seconds(kWednesdayMorning - 1800);
  sms.set_answered(true);
  sms.set_source("sms-gw");
  sms.set_external_ref("m-1");
  v1::RecordContactResponse first, again;
  ASSERT_TRUE(call(&v1::CallGateway::Stub::RecordContact, sms, &first, {"consent:write"}).ok());
  ASSERT_TRUE(call(&v1::CallGateway::Stub::RecordContact, sms, &again, {"consent:write"}).ok());
  EXPECT_FALSE(first.duplicate());
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(again.contact_id(), first.contact_id());
  EXPECT_EQ(Count("SELECT count(*) FROM contact_ledger WHERE patient_id = 9"), 1);
  ASSERT_TRUE(Check(check, &d).ok());
  EXPECT_FALSE(d.allowed());
  EXPECT_EQ(d.rule(), "daily_cap");
  // A revocation through the API: refused for consent, whatever the caps say tomorrow.
  consent.set_state("revoked");
  consent.clear_text_version();
  consent.clear_evidence_ref();
  consent.mutable_recorded_at()->set_seconds(kWednesdayMorning - 60);
  ASSERT_TRUE(
      call(&v1::CallGateway::Stub::RecordConsent, consent, &consented, {"consent:write"}).ok());
  ASSERT_TRUE(Check(check, &d).ok());
  EXPECT_EQ(d.rule(), "consent");
  // The ledger is append-only for the gateway's role.
  EXPECT_EQ(Count("SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = "
                  "'outcall_gateway' AND table_name = 'patient_consents' AND privilege_type IN "
                  "('UPDATE', 'DELETE')"),
            0);
}

TEST_F(ContactPolicyTest, AnAccessRequestExportsEverythingHeldAboutThePatient) {
  Exec(
      "INSERT INTO patients (id, full_name, phone_e164) VALUES (11, 'Rosa Gil', '+573005550111');"
      "INSERT INTO patient_consents (patient_id, purpose, channel, state, source, text_version, "
      "evidence_ref, recorded_at, recorded_by) VALUES (11, 'survey', 'voice', 'authorised', "
      "'form', 'v1', 'doc-11', now(), 'front-desk');");
  v1::InitiateCallRequest req = Req("300 555 0111");
  req.set_patient_id(11);
  v1::InitiateCallResponse placed;
  ASSERT_TRUE(Initiate(req, &placed).ok());
  clock_.Advance(absl::Hours(10));  // 20:00: a second attempt is refused and kept
  v1::InitiateCallResponse refused;
  EXPECT_EQ(Initiate(req, &refused).error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  v1::ExportPatientDataRequest ask;
  ask.set_patient_id(11);
  v1::ExportPatientDataResponse out;
  {
    grpc::ClientContext ctx;
    Auth(ctx, {"calls:read", "calls:write"});
    EXPECT_EQ(gateway_->ExportPatientData(&ctx, ask, &out).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  grpc::ClientContext ctx;
  Auth(ctx, {"privacy:admin"});
  ASSERT_TRUE(gateway_->ExportPatientData(&ctx, ask, &out).ok());
  std::string text;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(out.document(), &text).ok());
  const json::object doc = json::parse(text).as_object();
  EXPECT_EQ(doc.at("patient").at("full_name").as_string(), "Rosa Gil");
  const auto& calls = doc.at("calls").as_array();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].at("call_id").as_string(), placed.data().call_id());
  const auto& decisions = calls[0].at("policy_decisions").as_array();
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_TRUE(decisions[0].at("allowed").as_bool());
  const auto& refusals = doc.at("refused_attempts").as_array();
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].at("rule").as_string(), "hours");
  ASSERT_EQ(doc.at("consents").as_array().size(), 1u);
  EXPECT_EQ(doc.at("consents").as_array()[0].at("evidence_ref").as_string(), "doc-11");
  EXPECT_TRUE(doc.at("opt_outs").as_array().empty());

  // The evidence of the same two attempts, oldest first, with the call's outcome.
  v1::ExportEvidenceRequest ev;
  ev.set_patient_id(11);
  ev.mutable_from()->set_seconds(kWednesdayMorning - 3600);
  ev.mutable_to()->set_seconds(kWednesdayMorning + 86400);
  v1::ExportEvidenceResponse evidence;
  {
    grpc::ClientContext ectx;
    Auth(ectx, {"privacy:admin"});
    ASSERT_TRUE(gateway_->ExportEvidence(&ectx, ev, &evidence).ok());
  }
  ASSERT_EQ(evidence.rows_size(), 2);
  EXPECT_TRUE(evidence.rows(0).allowed());
  EXPECT_EQ(evidence.rows(0).call_id(), placed.data().call_id());
  EXPECT_EQ(evidence.rows(0).decided_at(), "2027-01-13 10:00:00");
  EXPECT_EQ(evidence.rows(0).phone_number(), "+573005550111");
  EXPECT_EQ(evidence.rows(0).outcome(), "initiated");
  EXPECT_FALSE(evidence.rows(1).allowed());
  EXPECT_EQ(evidence.rows(1).rule(), "hours");
  EXPECT_EQ(evidence.rows(1).outcome(), "refused");
  EXPECT_EQ(evidence.rows(1).decided_at(), "2027-01-13 20:00:00");
  ev.set_format("csv");
  {
    grpc::ClientContext ectx;
    Auth(ectx, {"privacy:admin"});
    ASSERT_TRUE(gateway_->ExportEvidence(&ectx, ev, &evidence).ok());
  }
  EXPECT_EQ(std::count(evidence.csv().begin(), evidence.csv().end(), '\n'), 3);

  grpc::ClientContext none;
  Auth(none, {"privacy:admin"});
  ask.set_patient_id(999);
  EXPECT_EQ(gateway_->ExportPatientData(&none, ask, &out).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ContactPolicyTest, APatientsOwnZoneDecidesTheHours) {
  // America/Mazatlan is UTC-7 all year, two hours behind Bogotá: 08:00 there is 06:00.
  clock_.Advance(-absl::Hours(2));  // Wednesday 08:00 Bogotá
  Exec(
      "INSERT INTO patients (id, full_name, phone_e164, time_zone) VALUES (8, 'Luis Mora', "
      "'+573005550108', 'America/Mazatlan')");
  v1::CheckContactPolicyRequest check;
  check.set_patient_id(8);
  v1::ContactPolicyDecision d;
  ASSERT_TRUE(Check(check, &d).ok());
  EXPECT_FALSE(d.allowed());
  EXPECT_EQ(d.rule(), "hours");
  EXPECT_EQ(d.time_zone(), "America/Mazatlan");
  EXPECT_EQ(d.next_allowed_at().seconds(), kWednesdayMorning - 2 * 3600 + 3600);  // 07:00 there
  check.set_phone_number("300 555 0199");  // ignored: the patient's number
  check.clear_patient_id();
  ASSERT_TRUE(Check(check, &d).ok());
  EXPECT_TRUE(d.allowed()) << "a number alone has the clinic's zone: 08:00 in Bogotá";
}

TEST_F(ContactPolicyTest, AnOverrideNeedsItsPermissionAndItsReasonIsStored) {
  clock_.Advance(absl::Hours(3 * 24 + 6));  // Saturday 16:00
  v1::InitiateCallRequest req = Req("300 555 0110");
  req.set_policy_override_reason("el paciente pidió la llamada a esta hora");
  v1::InitiateCallResponse resp;
  auto denied = Initiate(req, &resp);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext ctx;
  Auth(ctx, {"calls:write", "policy:override"});
  ASSERT_TRUE(gateway_->InitiateCall(&ctx, req, &resp).ok());
  EXPECT_EQ(Count("SELECT count(*) FROM policy_decisions WHERE allowed AND rule = 'hours' AND "
                  "override_reason = 'el paciente pidió la llamada a esta hora' AND call_row_id "
                  "IS NOT NULL"),
            1);
}

}  // namespace
}  // namespace outcall::call_gateway
