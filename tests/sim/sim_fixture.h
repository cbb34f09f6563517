// Runs the ElevenLabs simulator in-process on a loopback port with a frozen clock, a webhook
// receiver (a real HTTP server) and a freshly generated API key and webhook secret.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http_test_server.h"
#include "outcall/common/http_client.h"
#include "simulator.h"

namespace outcall::sim::testing {

namespace json = boost::json;

struct Received {
  std::map<std::string, std::string> headers;
  std::string body;
  json::value Json() const { return json::parse(body); }
  std::string Type() const;  // "type" of the envelope ("" when none)
};

struct Response {
  long status = 0;
  json::value json;
  common::HttpResponse raw;
};

class SimTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  virtual void Configure(SimConfig& config) {}

  // A request to the simulator with the right xi-api-key (`key` overrides it; "-" sends none).
  Response Call(std::string_view method, std::string_view path, std::string_view body = {},
                std::string_view key = {});
  // Control endpoint helpers.
  json::object Control(std::string_view method, std::string_view path, std::string_view body = {});
  void Advance(int seconds);
  // Places a Twilio call to `to_number` and returns the conversation id.
  std::string Place(std::string_view to_number, std::string_view extra_client_data = {},
                    std::string_view agent_id = {});
  std::string Status(const std::string& conversation_id);
  // The Twilio CallSid (or SIP call id) of a conversation.
  std::string CallSid(const std::string& conversation_id);
  // Waits (up to 15 s of real time) until `n` webhooks arrived and the sender is idle.
  std::vector<Received> WaitForWebhooks(size_t n);
  std::vector<Received> Webhooks();

  void SetReceiverStatus(std::function<int(size_t index)> status_for);

  std::string api_key_;
  std::string webhook_secret_;
  SimConfig config_;
  std::unique_ptr<Simulator> sim_;
  std::unique_ptr<outcall::testing::HttpTestServer> receiver_;
  std::string base_;
  std::mutex mu_;
  std::vector<Received> received_;
  std::function<int(size_t)> receiver_status_;
};

}  // namespace outcall::sim::testing
