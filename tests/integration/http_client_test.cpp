// The libcurl client against a real HTTP server on loopback.
#include "outcall/common/http_client.h"

#include <gtest/gtest.h>

#include "http_test_server.h"

namespace outcall {
namespace {

using common::HttpClient;
using common::HttpRequest;
using testing::HttpTestServer;
using testing::TestHttpRequest;
using testing::TestHttpResponse;

TEST(HttpClient, SendsMethodHeadersAndBodyAndReusesTheConnection) {
  HttpTestServer server([](const TestHttpRequest& r) {
    TestHttpResponse out;
    out.status = r.method == "POST" ? 422 : 200;
    out.headers["X-Seen-Key"] = r.headers.count("xi-api-key") ? "yes" : "no";
    out.headers["Content-Type"] = "application/json";
    out.body = r.method + " " + r.target + " " + r.body;
    return out;
  });
  HttpClient client;
  // A POST goes out on a fresh connection (see HttpClient::Send); GETs after it reuse that one.
  HttpRequest post;
  post.method = "POST";
  post.url = server.base_url() + "/v1/convai/twilio/outbound-call";
  post.body = R"({"to_number":"+573001234567"})";
  auto b = client.Send(post);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->status, 422);  // an HTTP error status is a response, not a transport failure
  EXPECT_EQ(b->body, "POST /v1/convai/twilio/outbound-call " + post.body);

  HttpRequest get;
  get.url = server.base_url() + "/v1/convai/agents?page_size=2";
  get.headers = {{"xi-api-key", "test-key"}};
  for (int i = 0; i < 2; ++i) {
    auto a = client.Send(get);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->status, 200);
    EXPECT_EQ(a->body, "GET /v1/convai/agents?page_size=2 ");
    EXPECT_EQ(a->Header("x-seen-key"), "yes");
    EXPECT_EQ(a->Header("content-type"), "application/json");
  }
  EXPECT_EQ(server.requests(), 3);
  EXPECT_EQ(server.connections(), 1);  // keep-alive on the thread's handle
}

TEST(HttpClient, TimeoutAfterSendingIsMarkedMaybeSent) {
  HttpTestServer server([](const TestHttpRequest&) {
    TestHttpResponse out;
    out.delay_ms = 1500;
    return out;
  });
  HttpRequest post;
  post.method = "POST";
  post.url = server.base_url() + "/slow";
  post.body = "{}";
  post.timeout = absl::Milliseconds(300);
  auto r = HttpClient().Send(post);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(common::RequestMayHaveBeenSent(r.status()));
  EXPECT_EQ(server.requests(), 1);
}

TEST(HttpClient, RefusedConnectionWasNeverSent) {
  const int port = testing::FreeLoopbackPort();  // nothing listens there
  HttpRequest post;
  post.method = "POST";
  post.url = "http://127.0.0.1:" + std::to_string(port) + "/x";
  auto r = HttpClient().Send(post);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(common::RequestMayHaveBeenSent(r.status()));
}

TEST(HttpClient, OversizedResponseAndBadInputAreClearErrors) {
  HttpTestServer server([](const TestHttpRequest&) {
    TestHttpResponse out;
    out.body = std::string(64 * 1024, 'x');
    return out;
  });
  HttpRequest get;
  get.url = server.base_url() + "/big";
  auto r = HttpClient({.max_response_bytes = 1024}).Send(get);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(HttpClient().Send(get).ok());
  // A request's own cap replaces the client's, lower or higher.
  get.max_response_bytes = 1024;
  r = HttpClient().Send(get);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("larger than 1024 bytes"), std::string::npos) << r.status();
  get.max_response_bytes = 64 * 1024;
  r = HttpClient({.max_response_bytes = 1024}).Send(get);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body.size(), 64u * 1024);
  get.max_response_bytes = 0;

  get.url = "ftp://127.0.0.1/x";
  EXPECT_EQ(HttpClient().Send(get).status().code(), absl::StatusCode::kInvalidArgument);
  get.url = server.base_url();
  get.method = "GE T";
  EXPECT_EQ(HttpClient().Send(get).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace outcall
