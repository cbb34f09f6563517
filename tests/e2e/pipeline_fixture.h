// The whole call path in one process, over real sockets (pipeline_pgtest.cpp says what it
// covers): webhook-ingest (HTTPS), the ElevenLabs simulator, call-gateway (gRPC) and
// ingest's publisher, on the test database with each service's own role. Shared by the e2e
// tests.
#pragma once

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>


#include <boost/json.hpp>
#include <fstream>
#include <pqxx/pqxx>
#include <thread>

#include "call_store.h"
#include "gateway_service.h"
#include "http_test_server.h"
#include "inbox_store.h"
#include "metrics.h"
#include "outcall/common/auth_interceptor.h"
#include "outcall/common/crypto.h"
#include "outcall/common/grpc_server.h"
#include "outcall/common/http_client.h"
#include "outcall/common/jwt.h"
#include "outcall/common/pg_pool.h"
#include "outcall/common/strings.h"
#include "outcall/elevenlabs/client.h"
#include "outcall/v1/call_gateway.grpc.pb.h"
#include "outcall/v1/events.grpc.pb.h"
#include "publisher.h"
#include "service_config.h"
#include "simulator.h"
#include "test_database.h"
#include "test_tls.h"
#include "webhook_server.h"


namespace outcall::testing {

namespace json = boost::json;
using common::Cat;

class PipelineFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    tls_ = testing::MakeSelfSignedCert();
    ASSERT_FALSE(tls_.cert.empty()) << "openssl could not make a certificate";
    ASSERT_TRUE(db_.ok());
    db_.Migrate();
    jwt_secret_ = common::RandomHex(32);
    const std::string webhook_secret = "wsec_" + common::RandomHex(16);

    // webhook-ingest's HTTPS endpoint, saving call audio.
    webhook_ingest::StoreOptions so;
    so.audio_part_bytes = 64 * 1024;  // several parts even for a short call
    registry_ = std::make_shared<prometheus::Registry>();
    metrics_ = std::make_unique<webhook_ingest::IngestMetrics>(*registry_);
    inbox_ = std::make_unique<webhook_ingest::InboxStore>(AsRole("outcall_ingest"), so,
                                                          metrics_.get(), [this] {
                                                            if (publisher_) publisher_->Wake();
                                                          });
    webhook_ingest::WebhookServerOptions wo;
    wo.listen_address = "127.0.0.1:0";
    wo.tls_cert_file = tls_.cert;
    wo.tls_key_file = tls_.key;
    wo.save_call_audio = true;
    wo.shutdown_grace = absl::Seconds(2);
    elevenlabs::WebhookVerifierOptions vo;
    vo.secrets.emplace_back(webhook_secret);
    ingest_ = std::make_unique<webhook_ingest::WebhookServer>(wo, vo, inbox_.get(), metrics_.get(),
                                                              registry_.get());
    ASSERT_TRUE(ingest_->Start().ok());

    // The simulator, frozen in time, delivering to ingest over verified TLS.
    sim::SimConfig sc;
    sc.listen_address = "127.0.0.1:0";
    api_key_ = "sk_test_" + common::RandomHex(16);
    sc.api_key = common::Secret(api_key_);
    sc.agent_id = "agent_sim_confirmaciones";
    sc.phone_number_id = "phnum_sim_twilio";
    sc.twilio_account_sid = "AC" + common::RandomHex(16);
    sc.twilio_auth_token = common::Secret(common::RandomHex(16));
    sc.webhook_url = Cat("https://127.0.0.1:", ingest_->port(), "/api/webhooks/elevenlabs");
    sc.webhook_secret = common::Secret(webhook_secret);
    sc.webhook_ca_file = tls_.cert;
    sc.time_scale = 0;
    ConfigureSim(sc);
    sim_ = std::make_unique<sim::Simulator>(sc);
    ASSERT_TRUE(sim_->Start().ok());

    // call-gateway.
    pool_ = std::make_unique<common::PgPool>(
        common::PgPoolOptions{.url = AsRole("outcall_gateway"), .size = 4});
    elevenlabs::ElevenLabsConfig ec;
    ec.api_key = sc.api_key;
    ec.base_url = sim_->base_url();
    ec.agent_id = sc.agent_id;
    ec.agent_phone_number_id = sc.phone_number_id;
    ec.request_timeout = absl::Seconds(5);
    ec.twilio_account_sid = sc.twilio_account_sid;
    ec.twilio_auth_token = sc.twilio_auth_token;
    ec.twilio_base_url = sim_->base_url();
    elevenlabs_ = std::make_unique<elevenlabs::ElevenLabsClient>(ec);
    store_ = std::make_unique<call_gateway::CallStore>(*pool_);
    common::JwtOptions jo;
    jo.issuer = "outcall-test";
    jo.audiences = {"outcall"};
    jo.hs256_secrets = {common::Secret(jwt_secret_)};
    auth_ = std::make_unique<common::CallAuthenticator>(
        common::Authorizer(*common::JwtVerifier::Create(jo)), call_gateway::MethodPermissions());
    StartGateway("127.0.0.1:0");
    gateway_ = v1::CallGateway::NewStub(
        grpc::CreateChannel(Cat("127.0.0.1:", grpc_->port()), grpc::InsecureChannelCredentials()));

    // webhook-ingest's publisher, minting its own events:publish token with the shared key.
    webhook_ingest::PublisherOptions po;
    po.gateway_address = Cat("127.0.0.1:", grpc_->port());
    po.jwt_issuer = "outcall-test";
    po.jwt_audiences = {"outcall"};
    po.jwt_hs256_secret = common::Secret(jwt_secret_);
    po.rpc_timeout = absl::Seconds(5);
    po.min_backoff = absl::Milliseconds(50);
    po.max_backoff = absl::Milliseconds(400);
    po.poll_interval = absl::Milliseconds(100);
    publisher_ =
        std::make_unique<webhook_ingest::Publisher>(AsRole("outcall_ingest"), po, metrics_.get());
    publisher_->Start();
  }

  void TearDown() override {
    if (publisher_) publisher_->Stop();
    if (sim_) sim_->Stop();
    if (ingest_) ingest_->Stop();
    if (inbox_) inbox_->Stop();
    if (grpc_) StopGateway();
    testing::RemoveTlsFiles(tls_);
  }

  // Hooks for the tests that need another simulator or gateway setting.
  virtual void ConfigureSim(sim::SimConfig&) {}
  virtual void ConfigureGateway(call_gateway::GatewayOptions&) {}

  // call-gateway's gRPC server (a fresh service object each time, as after a restart).
  void StartGateway(const std::string& address) {
    call_gateway::GatewayOptions o{.default_agent_id = "agent_sim_confirmaciones",
                                   .agent_phone_number_id = "phnum_sim_twilio"};
    o.feed_database_url = AsRole("outcall_gateway");
    ConfigureGateway(o);
    gateway_service_ =
        std::make_unique<call_gateway::GatewayService>(o, *store_, *elevenlabs_, *auth_, nullptr);
    common::GrpcServerOptions go;
    go.listen_address = address;
    grpc_ = std::make_unique<common::GrpcServer>(go);
    grpc_->AddService(gateway_service_->call_gateway());
    grpc_->AddService(gateway_service_->event_sink());
    grpc_->AddService(gateway_service_->campaigns());
    grpc_->AddService(gateway_service_->clinic_sync());
    grpc_->AddService(gateway_service_->webhooks());
    grpc_->AddInterceptorFactory(auth_->NewInterceptorFactory());
    ASSERT_TRUE(grpc_->Start().ok());
  }
  void StopGateway() {
    grpc_->Shutdown();
    grpc_.reset();
    gateway_service_.reset();
  }

  // Each service works with its own database role, as deployed (db/migrations/0002_roles.sql):
  // what it may read and write is part of what these tests check.
  std::string AsRole(std::string_view role) const {
    return Cat(db_.url(), db_.url().find('?') == std::string::npos ? "?" : "&",
               "options=-c%20role%3D", role);
  }
  void Auth(grpc::ClientContext& ctx,
            std::vector<std::string> permissions = {"calls:read", "calls:write"}) {
    common::JwtClaims c;
    c.issuer = "outcall-test";
    c.subject = "clinic-app";
    c.audiences = {"outcall"};
    c.permissions = std::move(permissions);
    ctx.AddMetadata("authorization", "Bearer " + *common::SignJwt("HS256", jwt_secret_, c));
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }
  void AdvanceSim(int secs) {
    common::HttpRequest req;
    req.method = "POST";
    req.url = Cat(sim_->base_url(), "/__sim/clock");
    req.body = Cat(R"({"advance_secs":)", secs, "}");
    auto r = common::HttpClient().Send(req);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, 200) << r->body;
  }
  std::string SimGetRaw(std::string_view path) {
    common::HttpRequest req;
    req.url = Cat(sim_->base_url(), path);
    req.headers.emplace_back("xi-api-key", api_key_);
    auto r = common::HttpClient().Send(req);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->body : "";
  }
  pqxx::result Query(const std::string& sql) {
    pqxx::connection conn(db_.url());
    pqxx::nontransaction tx(conn);
    return tx.exec(sql);
  }
  std::string Scalar(const std::string& sql) {
    auto r = Query(sql);
    return r.empty() || r[0][0].is_null() ? "" : r[0][0].as<std::string>();
  }
  // Waits (real time) until `sql` returns `want`.
  // After a hang-up the simulator ends the call on a thread of its own: a single jump of its clock
  // can come first, leaving the call's webhooks due at a simulated time never reached (seen once
  // in CI). This keeps the clock moving, 10 s at a time, until `sql` answers `want`.
  bool AdvanceSimUntil(const std::string& sql, const std::string& want) {
    for (int i = 0; i < 30; ++i) {
      AdvanceSim(10);
      if (WaitForScalar(sql, want, 1)) return true;
    }
    return false;
  }
  bool WaitForScalar(const std::string& sql, const std::string& want, int seconds = 30) {
    for (int i = 0; i < seconds * 20; ++i) {
      if (Scalar(sql) == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return Scalar(sql) == want;
  }
  v1::InitiateCallResponse Place(const std::string& phone, std::optional<int> appointment) {
    v1::InitiateCallRequest req;
    req.set_phone_number(phone);
    req.set_patient_name("Ana Ruiz");
    if (appointment) req.set_appointment_id(*appointment);
    (*req.mutable_custom_variables()->mutable_fields())["appointment_time"].set_string_value(
        "10:00");
    grpc::ClientContext ctx;
    Auth(ctx);
    v1::InitiateCallResponse resp;
    auto s = gateway_->InitiateCall(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }
  std::string StatusOf(const std::string& conv) {
    return Scalar(
        Cat("SELECT status FROM elevenlabs_conversations WHERE conversation_id = '", conv, "'"));
  }

  testing::TlsFiles tls_;
  testing::TestDatabase db_;
  std::string jwt_secret_;
  std::string api_key_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<webhook_ingest::IngestMetrics> metrics_;
  std::unique_ptr<webhook_ingest::InboxStore> inbox_;
  std::unique_ptr<webhook_ingest::WebhookServer> ingest_;
  std::unique_ptr<sim::Simulator> sim_;
  std::unique_ptr<common::PgPool> pool_;
  std::unique_ptr<elevenlabs::ElevenLabsClient> elevenlabs_;
  std::unique_ptr<call_gateway::CallStore> store_;
  std::unique_ptr<common::CallAuthenticator> auth_;
  std::unique_ptr<call_gateway::GatewayService> gateway_service_;
  std::unique_ptr<common::GrpcServer> grpc_;
  std::unique_ptr<v1::CallGateway::Stub> gateway_;
  std::unique_ptr<webhook_ingest::Publisher> publisher_;
};


}  // namespace outcall::testing
