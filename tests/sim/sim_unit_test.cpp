// Pieces of the simulator that need no socket: MP3 frames, scenario selection, URL decoding,
// the virtual clock, the route table, configuration errors; and the binary's start-up line.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cstdio>
#include <map>

#include "clock.h"
#include "mp3.h"
#include "outcall/common/strings.h"
#include "routes.h"
#include "scenarios.h"
#include "sim_config.h"
#include "simulator.h"
#include "wire.h"

namespace outcall::sim {
namespace {

TEST(SimMp3, FramesAreValidMpeg1LayerIII) {
  const std::string one_second = SilentMp3(1.0);
  ASSERT_EQ(one_second.size() % kMp3FrameBytes, 0u);
  EXPECT_EQ(one_second.size() / kMp3FrameBytes, 28u);  // ceil(1 / 0.036)
  for (size_t at = 0; at < one_second.size(); at += kMp3FrameBytes) {
    EXPECT_EQ(static_cast<unsigned char>(one_second[at]), 0xFF);
    EXPECT_EQ(static_cast<unsigned char>(one_second[at + 1]), 0xFB);  // MPEG-1, Layer III, no CRC
    EXPECT_EQ(static_cast<unsigned char>(one_second[at + 2]), 0x18);  // 32 kbit/s, 32 kHz
    EXPECT_EQ(static_cast<unsigned char>(one_second[at + 3]), 0xC0);  // mono
  }
  EXPECT_EQ(SilentMp3(0).size(), kMp3FrameBytes);
  EXPECT_EQ(SilentMp3OfSize(1000).size(), 7 * kMp3FrameBytes);
}

TEST(SimScenarios, ChosenByNumberSuffix) {
  EXPECT_EQ(ScenarioForNumber("+573005550001"), Scenario::kConfirmed);
  EXPECT_EQ(ScenarioForNumber("+573005550005"), Scenario::kBusy);
  EXPECT_EQ(ScenarioForNumber("+14155550008"), Scenario::kLongCall);
  EXPECT_EQ(ScenarioForNumber("+573005550009"), std::nullopt);
  EXPECT_EQ(ScenarioForNumber("+573001234567"), std::nullopt);
  for (const auto& info : AllScenarios()) {
    EXPECT_EQ(ScenarioFromName(info.name), info.scenario);
    EXPECT_EQ(ScenarioName(info.scenario), info.name);
  }
  EXPECT_EQ(ScenarioFromName("nope"), std::nullopt);
}

TEST(SimScenarios, HungUpCallKeepsOnlyWhatWasSaid) {
  const auto full = BuildContent(Scenario::kConfirmed, {}, 31, false, "agent_x", "");
  const auto cut = BuildContent(Scenario::kConfirmed, {}, 8, true, "agent_x", "");
  EXPECT_GT(full.transcript.size(), cut.transcript.size());
  EXPECT_EQ(cut.transcript.size(), 2u);  // the greeting and the answer at 7 s
  EXPECT_EQ(cut.termination_reason, "Call ended by remote party");
  EXPECT_EQ(cut.analysis.at("call_successful").as_string(), "unknown");
  boost::json::object vars{{"patient_name", "Ana Ruiz"}};
  const auto named = BuildContent(Scenario::kConfirmed, vars, 31, false, "agent_x", "");
  EXPECT_NE(named.transcript.at(0).at("message").as_string().find("Ana Ruiz"),
            boost::json::string::npos);
}

TEST(SimWire, TargetsAreDecoded) {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;
  ASSERT_TRUE(ParseTarget("/v1/convai/conversations/conv%20a?user_id=corr-%2B57300&search=a+b&flag",
                          path, query));
  EXPECT_EQ(path, "/v1/convai/conversations/conv a");
  ASSERT_EQ(query.size(), 3u);
  EXPECT_EQ(query[0].second, "corr-+57300");
  EXPECT_EQ(query[1].second, "a b");
  EXPECT_EQ(query[2].first, "flag");
  EXPECT_EQ(query[2].second, "");
  // Not a target: refused (the server answers 400), never guessed at.
  EXPECT_FALSE(ParseTarget("/v1/x?q=100%", path, query));
  EXPECT_FALSE(ParseTarget("/v1/%zz", path, query));
  EXPECT_FALSE(ParseTarget("v1/no-leading-slash", path, query));
  EXPECT_TRUE(path.empty() && query.empty());
}

TEST(SimClock, FrozenAdvancedAndScaled) {
  const absl::Time start = absl::FromUnixSeconds(1800000000);
  VirtualClock clock(0, start);
  EXPECT_EQ(clock.Now(), start);
  EXPECT_EQ(clock.RealDelayUntil(start + absl::Seconds(5)), absl::InfiniteDuration());
  int changes = 0;
  clock.OnChange([&] { ++changes; });
  clock.Advance(absl::Seconds(90));
  EXPECT_EQ(clock.Now(), start + absl::Seconds(90));
  EXPECT_EQ(clock.RealDelayUntil(start), absl::ZeroDuration());
  clock.SetScale(100);
  const absl::Duration d = clock.RealDelayUntil(clock.Now() + absl::Seconds(100));
  EXPECT_GT(d, absl::Milliseconds(900));
  EXPECT_LE(d, absl::Seconds(1));
  EXPECT_EQ(changes, 2);
}

TEST(SimRoutes, PatternsMatchLiteralsParamsSuffixesAndRest) {
  PathParams p;
  EXPECT_TRUE(
      PathPattern("/v1/convai/agents/{agent_id}").Match(SplitPath("/v1/convai/agents/a1"), p));
  EXPECT_EQ(p.Get("agent_id"), "a1");
  EXPECT_EQ(p.Get("nope"), "");
  const PathPattern twilio("/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json");
  PathParams t;
  EXPECT_TRUE(twilio.Match(SplitPath("/2010-04-01/Accounts/AC1/Calls/CA2.json"), t));
  EXPECT_EQ(t.Get("AccountSid"), "AC1");
  EXPECT_EQ(t.Get("CallSid"), "CA2");
  PathParams empty;
  EXPECT_TRUE(twilio.Match(SplitPath("/2010-04-01/Accounts/AC1/Calls/.json"), empty));
  EXPECT_EQ(empty.Get("CallSid"), "");
  PathParams unused;
  EXPECT_FALSE(twilio.Match(SplitPath("/2010-04-01/Accounts/AC1/Calls/CA2"), unused));
  EXPECT_FALSE(twilio.Match(SplitPath("/2010-04-01/Accounts/AC1/Calls/CA2.json/x"), unused));
  EXPECT_FALSE(PathPattern("/v1/convai/agents").Match(SplitPath("/v1/convai"), unused));
  // Empty segments are skipped, in paths and patterns alike.
  EXPECT_TRUE(PathPattern("/v1/convai/agents").Match(SplitPath("//v1//convai/agents/"), unused));
  const PathPattern rest("/__sim/{path...}");
  PathParams r;
  EXPECT_TRUE(rest.Match(SplitPath("/__sim/health/x/y"), r));
  EXPECT_EQ(r.Get("path"), "health/x/y");
  PathParams none;
  EXPECT_TRUE(rest.Match(SplitPath("/__sim"), none));
  EXPECT_EQ(none.Get("path"), "");
  EXPECT_FALSE(rest.Match(SplitPath("/v1/__sim"), unused));
  EXPECT_THROW(PathPattern("/a/{rest...}/b"), std::invalid_argument);
  EXPECT_THROW(PathPattern("/a/{}"), std::invalid_argument);
  EXPECT_THROW(PathPattern("/a/b{c}"), std::invalid_argument);
}

TEST(SimRoutes, FirstRouteForTheMethodWinsAndAKnownPathIsAWrongMethod) {
  RouteTable<int> table;
  table.Add("GET", "/things/{id}", 1).Add("DELETE|PUT", "/things/{id}", 2).Add("*", "/any", 3);
  auto get = table.Find("GET", "/things/7");
  ASSERT_NE(get.route, nullptr);
  EXPECT_EQ(get.route->handler, 1);
  EXPECT_EQ(get.params.Get("id"), "7");
  EXPECT_EQ(get.route->pattern.text(), "/things/{id}");
  ASSERT_NE(table.Find("PUT", "/things/7").route, nullptr);
  EXPECT_EQ(table.Find("PUT", "/things/7").route->handler, 2);
  auto post = table.Find("POST", "/things/7");
  EXPECT_EQ(post.route, nullptr);
  EXPECT_TRUE(post.path_known);
  auto unknown = table.Find("GET", "/things");
  EXPECT_EQ(unknown.route, nullptr);
  EXPECT_FALSE(unknown.path_known);
  EXPECT_EQ(table.Find("PATCH", "/any").route->handler, 3);
}

// The simulator's table, through Handle (no socket): matching comes before the API key.
TEST(SimRoutes, SimulatorAnswersUnknownRoutesAndWrongMethodsBeforeTheKey) {
  SimConfig config;
  config.api_key = common::Secret("sk_unit");
  config.time_scale = 0;
  Simulator sim(config);
  auto handle = [&](std::string method, std::string path, std::string key = "") {
    HttpRequest req;
    req.method = std::move(method);
    req.target = req.path = std::move(path);
    if (!key.empty()) req.headers["xi-api-key"] = key;
    return sim.Handle(req);
  };
  EXPECT_EQ(handle("GET", "/v1/convai/nothing-here").body, R"({"detail":"Not Found"})");
  EXPECT_EQ(handle("GET", "/").status, 404);
  const Reply wrong = handle("PUT", "/v1/convai/conversations/conv_1");
  EXPECT_EQ(wrong.status, 405);
  EXPECT_EQ(wrong.body, R"({"detail":"Method Not Allowed"})");
  EXPECT_EQ(handle("GET", "/v1/convai/agents").status, 401);
  EXPECT_EQ(handle("GET", "/v1/convai/agents/agent_sim_campanas", "sk_unit").status, 200);
  EXPECT_EQ(handle("DELETE", "/v1/convai/conversations/conv_1", "sk_unit").status, 404);
  // Twilio's route: 405 before its own (Basic) authentication.
  EXPECT_EQ(handle("DELETE", "/2010-04-01/Accounts/AC1/Calls/CA1.json").status, 405);
  EXPECT_EQ(handle("GET", "/2010-04-01/Accounts/AC1/Calls/CA1.json").status, 401);
  // The control endpoint: its own listing for unknown endpoints and single-method ones.
  EXPECT_EQ(handle("GET", "/__sim/health/anything").status, 200);
  EXPECT_EQ(handle("POST", "/__sim/health").status, 404);
  EXPECT_EQ(handle("DELETE", "/__sim/clock").status, 405);
  const Reply counters = handle("GET", "/__sim/counters");
  const auto requests = boost::json::parse(counters.body).at("requests").as_object();
  EXPECT_EQ(requests.at("GET /v1/convai/agents/{agent_id}").as_int64(), 1);
  EXPECT_EQ(requests.at("DELETE /v1/convai/conversations/{conversation_id}").as_int64(), 1);
  EXPECT_EQ(requests.at("GET /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json").as_int64(),
            1);
  EXPECT_EQ(requests.size(), 3u);  // neither 401s, 404s, 405s nor /__sim are counted
}

TEST(SimConfig, NamesEveryBadVariable) {
  std::map<std::string, std::string> vars{{"ELEVENLABS_WEBHOOK_URL", "http://127.0.0.1:1/hook"},
                                          {"SIM_TIME_SCALE", "fast"},
                                          {"TWILIO_ACCOUNT_SID", "ACx"}};
  common::EnvReader env([&](std::string_view n) -> std::optional<std::string> {
    auto it = vars.find(std::string(n));
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
  auto config = LoadSimConfig(env);
  ASSERT_FALSE(config.ok());
  const std::string msg(config.status().message());
  for (const char* name : {"ELEVENLABS_API_KEY", "ELEVENLABS_WEBHOOK_SECRET", "SIM_TIME_SCALE",
                           "TWILIO_ACCOUNT_SID"}) {
    EXPECT_NE(msg.find(name), std::string::npos) << name << " in " << msg;
  }
}

TEST(SimBinary, StartsInSimulationModeAndSaysSo) {
  const std::string cmd = common::Cat(
      "ELEVENLABS_API_KEY=sk_unit SIM_LISTEN_ADDRESS=127.0.0.1:0 LOG_FORMAT=text timeout "
      "--preserve-status -s TERM 1 ",
      OUTCALL_SIM_BINARY, " 2>&1");
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[512];
  while (fgets(buf, sizeof buf, p)) out += buf;
  const int rc = pclose(p);
  EXPECT_NE(out.find("simulation mode"), std::string::npos) << out;
  EXPECT_EQ(out.find("sk_unit"), std::string::npos);  // the key is never logged
  EXPECT_EQ(WEXITSTATUS(rc), 0) << out;               // clean stop on SIGTERM

  FILE* bad =
      popen(common::Cat("env -u ELEVENLABS_API_KEY ", OUTCALL_SIM_BINARY, " 2>&1").c_str(), "r");
  out.clear();
  while (fgets(buf, sizeof buf, bad)) out += buf;
  EXPECT_EQ(WEXITSTATUS(pclose(bad)), 2);
  EXPECT_NE(out.find("ELEVENLABS_API_KEY"), std::string::npos);
}

}  // namespace
}  // namespace outcall::sim
