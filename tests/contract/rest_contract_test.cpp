// The REST contract Envoy serves, checked on the descriptor set the build emits: each of the
// seed's routes maps to the intended RPC, and messages printed as JSON the way Envoy's
// transcoder prints them (lowerCamelCase/json_name, primitives always printed) carry exactly
// the seed's field names.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include <boost/json.hpp>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/util/json_util.h>

#include "google/api/annotations.pb.h"
#include "outcall/v1/call_gateway.pb.h"
#include "outcall/v1/stats.pb.h"

namespace outcall {
namespace {

namespace pb = google::protobuf;

pb::FileDescriptorSet LoadSet() {
  std::ifstream in(OUTCALL_DESCRIPTOR_SET, std::ios::binary);
  pb::FileDescriptorSet set;
  EXPECT_TRUE(set.ParseFromIstream(&in)) << "cannot read " << OUTCALL_DESCRIPTOR_SET;
  return set;
}

struct Route {
  std::string verb;
  std::string path;
  std::string body;
  std::string rpc;  // full method name
};

// Every HTTP binding in the descriptor set, as Envoy would read it.
std::vector<Route> AllRoutes(const pb::FileDescriptorSet& set) {
  std::vector<Route> out;
  for (const auto& file : set.file()) {
    for (const auto& service : file.service()) {
      for (const auto& method : service.method()) {
        if (!method.options().HasExtension(google::api::http)) continue;
        const auto& rule = method.options().GetExtension(google::api::http);
        Route r;
        r.rpc = file.package() + "." + service.name() + "." + method.name();
        r.body = rule.body();
        if (!rule.get().empty()) r = {"GET", rule.get(), rule.body(), r.rpc};
        if (!rule.post().empty()) r = {"POST", rule.post(), rule.body(), r.rpc};
        if (!rule.delete_().empty()) r = {"DELETE", rule.delete_(), rule.body(), r.rpc};
        if (!rule.put().empty()) r = {"PUT", rule.put(), rule.body(), r.rpc};
        if (!rule.patch().empty()) r = {"PATCH", rule.patch(), rule.body(), r.rpc};
        out.push_back(r);
      }
    }
  }
  return out;
}

TEST(RestContract, SeedRoutesMapToTheIntendedRpcs) {
  const auto routes = AllRoutes(LoadSet());
  const std::vector<Route> seed = {
      {"GET", "/api/elevenlabs/agents", "", "outcall.v1.CallGateway.ListAgents"},
      {"POST", "/api/elevenlabs/call", "*", "outcall.v1.CallGateway.InitiateCall"},
      {"POST", "/api/elevenlabs/call-patient/{patient_id}", "*",
       "outcall.v1.CallGateway.CallPatient"},
      {"GET", "/api/elevenlabs/conversation/{conversation_id}", "",
       "outcall.v1.CallGateway.GetConversation"},
      {"DELETE", "/api/elevenlabs/conversation/{conversation_id}", "",
       "outcall.v1.CallGateway.EndCall"},
      {"GET", "/api/elevenlabs/calls", "", "outcall.v1.Stats.ListCalls"},
      {"GET", "/api/elevenlabs/stats", "", "outcall.v1.Stats.GetCallStats"},
  };
  for (const auto& want : seed) {
    int matches = 0;
    for (const auto& r : routes) {
      if (r.verb == want.verb && r.path == want.path) {
        ++matches;
        EXPECT_EQ(r.rpc, want.rpc) << want.verb << " " << want.path;
        EXPECT_EQ(r.body, want.body) << want.verb << " " << want.path;
      }
    }
    EXPECT_EQ(matches, 1) << want.verb << " " << want.path;
  }
  // The eighth seed route, the webhook, is served by webhook-ingest, never transcoded.
  for (const auto& r : routes) EXPECT_NE(r.path, "/api/webhooks/elevenlabs");
  // Every REST route is under the JWT-protected prefix.
  for (const auto& r : routes) EXPECT_EQ(r.path.rfind("/api/elevenlabs/", 0), 0u) << r.path;
}

// The fields a query string or path can bind, by the names clients use.
std::set<std::string> JsonNames(const pb::Descriptor* d) {
  std::set<std::string> out;
  for (int i = 0; i < d->field_count(); ++i) out.insert(d->field(i)->json_name());
  return out;
}

TEST(RestContract, QueryAndPathParametersUseTheSeedNames) {
  const auto calls = JsonNames(v1::ListCallsRequest::descriptor());
  for (const char* p : {"page", "limit", "patientId", "status"}) EXPECT_TRUE(calls.count(p)) << p;
  const auto stats = JsonNames(v1::GetCallStatsRequest::descriptor());
  for (const char* p : {"startDate", "endDate"}) EXPECT_TRUE(stats.count(p)) << p;
  // Path variables name real fields of the request message.
  EXPECT_NE(v1::CallPatientRequest::descriptor()->FindFieldByName("patient_id"), nullptr);
  EXPECT_NE(v1::GetConversationRequest::descriptor()->FindFieldByName("conversation_id"), nullptr);
  EXPECT_NE(v1::EndCallRequest::descriptor()->FindFieldByName("conversation_id"), nullptr);
}

boost::json::object PrintAsEnvoy(const pb::Message& m) {
  pb::util::JsonPrintOptions o;
  o.always_print_primitive_fields = true;  // as configured in deploy/envoy
  o.preserve_proto_field_names = false;
  std::string out;
  EXPECT_TRUE(pb::util::MessageToJsonString(m, &out, o).ok());
  return boost::json::parse(out).as_object();
}

std::set<std::string> Keys(const boost::json::object& o) {
  std::set<std::string> out;
  for (const auto& kv : o) out.insert(std::string(kv.key()));
  return out;
}

using Names = std::set<std::string>;

TEST(RestContract, InitiateCallAnswersWithTheSeedEnvelope) {
  v1::InitiateCallResponse r;
  r.set_success(true);
  r.set_message("Llamada iniciada exitosamente");
  r.mutable_data()->set_success(true);
  r.mutable_data()->set_conversation_id("conv_abc123");
  r.mutable_data()->set_call_id("7f9c0e1e-0000-4000-8000-000000000001");
  r.mutable_data()->set_status("initiated");
  const auto json = PrintAsEnvoy(r);
  EXPECT_EQ(Keys(json), (Names{"success", "message", "data"}));
  EXPECT_EQ(Keys(json.at("data").as_object()),
            (Names{"success", "conversationId", "callId", "status"}));
  EXPECT_EQ(json.at("data").at("status").as_string(), "initiated");
  EXPECT_TRUE(json.at("success").as_bool());
}

TEST(RestContract, SeedRequestBodiesParseWithoutUnknownFields) {
  const std::string body = R"({
    "phoneNumber": "+573001234567", "patientId": 123, "patientName": "Juan Pérez",
    "appointmentId": 456, "agentId": "agent_123",
    "customVariables": {"appointment_date": "2025-10-27", "appointment_time": "10:00 AM",
                        "doctor_name": "Dr. García"},
    "metadata": {"campaign": "appointment_confirmation", "priority": "high"}})";
  v1::InitiateCallRequest req;
  pb::util::JsonParseOptions strict;
  strict.ignore_unknown_fields = false;
  ASSERT_TRUE(pb::util::JsonStringToMessage(body, &req, strict).ok());
  EXPECT_EQ(req.phone_number(), "+573001234567");
  EXPECT_EQ(req.patient_id(), 123);
  EXPECT_EQ(req.patient_name(), "Juan Pérez");
  EXPECT_EQ(req.appointment_id(), 456);
  EXPECT_EQ(req.agent_id(), "agent_123");
  EXPECT_EQ(req.custom_variables().fields().at("doctor_name").string_value(), "Dr. García");
  EXPECT_EQ(req.metadata().fields().at("priority").string_value(), "high");

  v1::CallPatientRequest cp;
  ASSERT_TRUE(pb::util::JsonStringToMessage(
                  R"({"appointmentId": 456, "customVariables": {"appointment_time": "10:00 AM"}})",
                  &cp, strict)
                  .ok());
  EXPECT_EQ(cp.appointment_id(), 456);
}

TEST(RestContract, ListAgentsKeepsTheSeedEnvelopeAndAgentFields) {
  v1::ListAgentsResponse r;
  r.set_success(true);
  auto* a = r.add_data();
  a->set_agent_id("agent_123");
  a->set_name("Valeria - Asistente Médica");
  (*a->mutable_conversation_config()->mutable_fields())["agent"].set_string_value("x");
  r.set_count(1);
  const auto json = PrintAsEnvoy(r);
  EXPECT_EQ(Keys(json), (Names{"success", "data", "count"}));
  EXPECT_EQ(json.at("count").as_int64(), 1);  // a JSON number, as the seed returns
  EXPECT_EQ(Keys(json.at("data").as_array().at(0).as_object()),
            (Names{"agent_id", "name", "tags", "conversation_config"}));
}

TEST(RestContract, StatsKeepTheSeedNamesAsNumbers) {
  v1::GetCallStatsResponse r;
  r.set_success(true);
  auto* d = r.mutable_data();
  d->set_total_calls(150);
  d->set_completed_calls(120);
  d->set_failed_calls(30);
  d->set_avg_duration(180.5);
  d->set_total_cost(25.5);
  const auto json = PrintAsEnvoy(r);
  EXPECT_EQ(Keys(json), (Names{"success", "data"}));
  const auto& data = json.at("data").as_object();
  // The seed's five figures, plus the per-status breakdown this product adds.
  EXPECT_EQ(Keys(data), (Names{"total_calls", "completed_calls", "failed_calls", "avg_duration",
                               "total_cost", "by_status"}));
  EXPECT_TRUE(data.at("total_calls").is_int64());
  EXPECT_EQ(data.at("total_calls").as_int64(), 150);
  EXPECT_DOUBLE_EQ(data.at("avg_duration").as_double(), 180.5);
  EXPECT_DOUBLE_EQ(data.at("total_cost").as_double(), 25.5);
}

TEST(RestContract, CallHistoryHasDataAndPagination) {
  v1::ListCallsResponse r;
  r.set_success(true);
  auto* c = r.add_data();
  c->set_conversation_id("conv_1");
  c->set_call_id("id");
  c->set_status("completed");
  c->set_patient_id(123);
  r.mutable_pagination()->set_page(1);
  const auto json = PrintAsEnvoy(r);
  EXPECT_EQ(Keys(json), (Names{"success", "data", "pagination"}));
  EXPECT_EQ(Keys(json.at("pagination").as_object()),
            (Names{"page", "limit", "total", "pages", "nextCursor"}));
  const auto row = Keys(json.at("data").as_array().at(0).as_object());
  for (const char* k : {"conversationId", "callId", "status", "patientId", "appointmentId",
                        "agentId", "phoneNumber"}) {
    EXPECT_TRUE(row.count(k)) << k;
  }
  EXPECT_TRUE(json.at("data").as_array().at(0).at("patientId").is_int64());
}

TEST(RestContract, ConversationAndEndCallUseTheSameCallNames) {
  v1::GetConversationResponse g;
  g.set_success(true);
  g.mutable_data()->set_conversation_id("conv_1");
  const auto gj = PrintAsEnvoy(g);
  EXPECT_EQ(Keys(gj), (Names{"success", "data"}));
  const auto data = Keys(gj.at("data").as_object());
  for (const char* k : {"conversationId", "callId", "status", "transcript", "errors"}) {
    EXPECT_TRUE(data.count(k)) << k;
  }
  v1::EndCallResponse e;
  e.set_success(true);
  e.mutable_data()->set_status("ended_manually");
  const auto ej = PrintAsEnvoy(e);
  EXPECT_EQ(Keys(ej), (Names{"success", "message", "data"}));
  EXPECT_EQ(Keys(ej.at("data").as_object()),
            (Names{"success", "conversationId", "callId", "status"}));
}

}  // namespace
}  // namespace outcall
