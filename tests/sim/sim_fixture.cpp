#include "sim_fixture.h"

#include <thread>

#include "outcall/common/crypto.h"
#include "outcall/common/strings.h"

namespace outcall::sim::testing {

std::string Received::Type() const {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object() || !v.as_object().contains("type")) return "";
  return std::string(v.as_object().at("type").as_string());
}

void SimTest::SetUp() {
  api_key_ = "sk_test_" + common::RandomHex(16);
  webhook_secret_ = "wsec_" + common::RandomHex(16);
  receiver_ = std::make_unique<outcall::testing::HttpTestServer>(
      [this](const outcall::testing::TestHttpRequest& r) {
        outcall::testing::TestHttpResponse out;
        std::lock_guard<std::mutex> lock(mu_);
        const size_t index = received_.size();
        received_.push_back({r.headers, r.body});
        out.status = receiver_status_ ? receiver_status_(index) : 200;
        out.body = "{}";
        return out;
      });
  config_.listen_address = "127.0.0.1:0";
  config_.api_key = common::Secret(api_key_);
  config_.agent_id = "agent_sim_confirmaciones";
  config_.phone_number_id = "phnum_sim_twilio";
  config_.webhook_url = receiver_->base_url() + "/api/webhooks/elevenlabs";
  config_.webhook_secret = common::Secret(webhook_secret_);
  config_.twilio_account_sid = "AC" + common::RandomHex(16);
  config_.twilio_auth_token = common::Secret(common::RandomHex(16));
  config_.time_scale = 0;  // frozen: tests move time with Advance()
  config_.max_concurrent_calls = 10;
  Configure(config_);
  sim_ = std::make_unique<Simulator>(config_);
  auto port = sim_->Start();
  ASSERT_TRUE(port.ok()) << port.status();
  base_ = sim_->base_url();
}

void SimTest::TearDown() {
  if (sim_) sim_->Stop();
  sim_.reset();
  receiver_.reset();
}

void SimTest::SetReceiverStatus(std::function<int(size_t)> status_for) {
  std::lock_guard<std::mutex> lock(mu_);
  receiver_status_ = std::move(status_for);
}

Response SimTest::Call(std::string_view method, std::string_view path, std::string_view body,
                       std::string_view key) {
  common::HttpRequest req;
  req.method = std::string(method);
  req.url = common::Cat(base_, path);
  req.body = std::string(body);
  if (key != "-") req.headers = {{"xi-api-key", std::string(key.empty() ? api_key_ : key)}};
  if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
  auto r = common::HttpClient().Send(req);
  EXPECT_TRUE(r.ok()) << r.status();
  Response out;
  if (!r.ok()) return out;
  out.status = r->status;
  out.raw = *r;
  boost::system::error_code ec;
  out.json = json::parse(r->body, ec);
  return out;
}

json::object SimTest::Control(std::string_view method, std::string_view path,
                              std::string_view body) {
  Response r = Call(method, common::Cat("/__sim/", path), body, "-");
  EXPECT_EQ(r.status, 200) << r.raw.body;
  return r.json.is_object() ? r.json.as_object() : json::object();
}

void SimTest::Advance(int seconds) {
  Control("POST", "clock", common::Cat(R"({"advance_secs":)", seconds, "}"));
}

std::string SimTest::Place(std::string_view to_number, std::string_view extra_client_data,
                           std::string_view agent_id) {
  const std::string body =
      common::Cat(R"({"agent_id":")",
                  agent_id.empty() ? std::string_view("agent_sim_confirmaciones") : agent_id,
                  R"(","agent_phone_number_id":"phnum_sim_twilio","to_number":")", to_number,
                  R"(","conversation_initiation_client_data":{"user_id":"corr-)", to_number, R"(")",
                  extra_client_data.empty() ? "" : ",", extra_client_data, "}}");
  Response r = Call("POST", "/v1/convai/twilio/outbound-call", body);
  EXPECT_EQ(r.status, 200) << r.raw.body;
  if (r.status != 200) return "";
  return std::string(r.json.at("conversation_id").as_string());
}

std::string SimTest::Status(const std::string& id) {
  Response r = Call("GET", "/v1/convai/conversations/" + id);
  if (r.status != 200) return common::Cat("http ", r.status);
  return std::string(r.json.at("status").as_string());
}

std::string SimTest::CallSid(const std::string& id) {
  Response r = Call("GET", "/v1/convai/conversations/" + id);
  if (r.status != 200) return "";
  return std::string(r.json.at("metadata").at("phone_call").at("call_sid").as_string());
}

std::vector<Received> SimTest::Webhooks() {
  std::lock_guard<std::mutex> lock(mu_);
  return received_;
}

std::vector<Received> SimTest::WaitForWebhooks(size_t n) {
  for (int i = 0; i < 1500; ++i) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (received_.size() >= n && sim_->webhooks().Idle()) return received_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::lock_guard<std::mutex> lock(mu_);
  ADD_FAILURE() << "expected " << n << " webhooks, got " << received_.size();
  return received_;
}

}  // namespace outcall::sim::testing
