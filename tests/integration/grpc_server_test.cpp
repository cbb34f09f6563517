// The gRPC bootstrap over real sockets: health flips with serving state and shutdown, the
// Prometheus endpoint counts RPCs, message size limits are enforced.
#include <gtest/gtest.h>

#include <grpcpp/grpcpp.h>

#include "grpc/health/v1/health.grpc.pb.h"
#include "outcall/common/auth_interceptor.h"
#include "outcall/common/crypto.h"
#include "outcall/common/grpc_server.h"
#include "outcall/common/http_client.h"
#include "outcall/common/jwt.h"
#include "outcall/v1/events.grpc.pb.h"

namespace outcall {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

HealthCheckResponse::ServingStatus Check(Health::Stub& stub, grpc::Status* status) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  HealthCheckRequest req;
  HealthCheckResponse resp;
  *status = stub.Check(&ctx, req, &resp);
  return resp.status();
}

// A trivial sink so the server has one of our services registered.
class EchoSink final : public v1::CallEventSink::CallbackService {
  grpc::ServerUnaryReactor* ApplyEvents(grpc::CallbackServerContext* ctx,
                                        const v1::ApplyEventsRequest* req,
                                        v1::ApplyEventsResponse* resp) override {
    for (const auto& e : req->events()) resp->add_results()->set_inbox_id(e.inbox_id());
    auto* r = ctx->DefaultReactor();
    r->Finish(grpc::Status::OK);
    return r;
  }
};

TEST(GrpcServer, HealthMetricsLimitsAndGracefulShutdown) {
  common::GrpcServerOptions o;
  o.listen_address = "127.0.0.1:0";
  o.metrics_listen_address = "127.0.0.1:0";
  o.max_receive_message_bytes = 64 * 1024;
  o.shutdown_grace = absl::Seconds(2);
  common::GrpcServer server(o);
  EchoSink sink;
  server.AddService(&sink);
  ASSERT_TRUE(server.Start().ok());
  ASSERT_GT(server.port(), 0);
  ASSERT_GT(server.metrics_port(), 0);

  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()),
                                     grpc::InsecureChannelCredentials());
  Health::Stub health(channel);
  grpc::Status st;
  EXPECT_EQ(Check(health, &st), HealthCheckResponse::NOT_SERVING);
  ASSERT_TRUE(st.ok()) << st.error_message();
  server.SetServing(true);
  EXPECT_EQ(Check(health, &st), HealthCheckResponse::SERVING);

  auto sink_stub = v1::CallEventSink::NewStub(channel);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ApplyEventsRequest req;
    req.add_events()->set_inbox_id(42);
    v1::ApplyEventsResponse resp;
    ASSERT_TRUE(sink_stub->ApplyEvents(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.results_size(), 1);
    EXPECT_EQ(resp.results(0).inbox_id(), 42);
  }
  {
    // Over the receive limit: refused with RESOURCE_EXHAUSTED, never processed.
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::ApplyEventsRequest req;
    req.add_events()->set_conversation_id(std::string(100 * 1024, 'x'));
    v1::ApplyEventsResponse resp;
    EXPECT_EQ(sink_stub->ApplyEvents(&ctx, req, &resp).error_code(),
              grpc::StatusCode::RESOURCE_EXHAUSTED);
  }

  common::HttpRequest scrape;
  scrape.url = "http://127.0.0.1:" + std::to_string(server.metrics_port()) + "/metrics";
  auto scraped = common::HttpClient().Send(scrape);
  ASSERT_TRUE(scraped.ok()) << scraped.status();
  EXPECT_EQ(scraped->status, 200);
  const std::string& metrics = scraped->body;
  EXPECT_NE(metrics.find("grpc_server_handled_total{"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("method=\"/outcall.v1.CallEventSink/ApplyEvents\""), std::string::npos);
  EXPECT_NE(metrics.find("grpc_server_handling_seconds_bucket"), std::string::npos);

  server.Shutdown();
  server.Wait();
  // After shutdown the port no longer answers.
  Health::Stub after(grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()),
                                         grpc::InsecureChannelCredentials()));
  Check(after, &st);
  EXPECT_FALSE(st.ok());
}

// A sink whose handler checks the interceptor's verdict first, as every handler must.
class CheckingSink final : public v1::CallEventSink::CallbackService {
 public:
  CheckingSink(const common::CallAuthenticator* auth, bool check) : auth_(auth), check_(check) {}
  grpc::ServerUnaryReactor* ApplyEvents(grpc::CallbackServerContext* ctx,
                                        const v1::ApplyEventsRequest* req,
                                        v1::ApplyEventsResponse* resp) override {
    auto* r = ctx->DefaultReactor();
    if (check_) {
      if (auto p = auth_->Check(ctx); !p.ok()) {
        r->Finish(grpc::Status(static_cast<grpc::StatusCode>(p.status().code()),
                               std::string(p.status().message())));
        return r;
      }
    }
    ++handled;
    r->Finish(grpc::Status::OK);
    return r;
  }
  std::atomic<int> handled{0};

 private:
  const common::CallAuthenticator* auth_;
  bool check_;
};

class AuthOverGrpc : public ::testing::TestWithParam<bool> {};

TEST_P(AuthOverGrpc, TokensArePolicedPerMethodAndHealthStaysPublic) {
  const bool handler_checks = GetParam();
  const std::string secret = common::RandomHex(32);
  common::JwtOptions jo;
  jo.issuer = "outcall-test";
  jo.audiences = {"outcall"};
  jo.hs256_secrets = {common::Secret(secret)};
  auto verifier = common::JwtVerifier::Create(jo);
  ASSERT_TRUE(verifier.ok());
  common::CallAuthenticator auth(
      common::Authorizer(*std::move(verifier)),
      {{"/outcall.v1.CallEventSink/ApplyEvents", common::Permission::kPublishEvents}});

  common::GrpcServerOptions o;
  o.listen_address = "127.0.0.1:0";
  common::GrpcServer server(o);
  CheckingSink sink(&auth, handler_checks);
  server.AddService(&sink);
  server.AddInterceptorFactory(auth.NewInterceptorFactory());
  ASSERT_TRUE(server.Start().ok());
  server.SetServing(true);
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(server.port()),
                                     grpc::InsecureChannelCredentials());

  auto token = [&](std::vector<std::string> perms) {
    common::JwtClaims c;
    c.issuer = "outcall-test";
    c.subject = "webhook-ingest";
    c.audiences = {"outcall"};
    c.permissions = std::move(perms);
    return *common::SignJwt("HS256", secret, c);
  };
  auto call = [&](const std::string& bearer) {
    auto stub = v1::CallEventSink::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!bearer.empty()) ctx.AddMetadata("authorization", "Bearer " + bearer);
    v1::ApplyEventsRequest req;
    v1::ApplyEventsResponse resp;
    return stub->ApplyEvents(&ctx, req, &resp).error_code();
  };

  EXPECT_EQ(call(""), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call("not-a-token"), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call(token({"calls:read"})), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(call(token({"events:publish"})), grpc::StatusCode::OK);
  if (handler_checks) EXPECT_EQ(sink.handled.load(), 1);

  Health::Stub health(channel);
  grpc::Status st;
  EXPECT_EQ(Check(health, &st), HealthCheckResponse::SERVING);
  EXPECT_TRUE(st.ok());
}

// false: a handler that forgets to check still cannot answer OK to an unauthenticated caller.
INSTANTIATE_TEST_SUITE_P(HandlerChecksOrNot, AuthOverGrpc, ::testing::Bool());

TEST(GrpcServer, BusyPortIsAClearError) {
  common::GrpcServerOptions o;
  o.listen_address = "127.0.0.1:0";
  common::GrpcServer first(o);
  ASSERT_TRUE(first.Start().ok());
  common::GrpcServerOptions o2;
  o2.listen_address = "127.0.0.1:" + std::to_string(first.port());
  common::GrpcServer second(o2);
  auto s = second.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(s.message().find(o2.listen_address), std::string_view::npos);
}

}  // namespace
}  // namespace outcall
