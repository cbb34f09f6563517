// Pieces of the simulator that need no socket: MP3 frames, scenario selection, URL decoding,
// the virtual clock, configuration errors; and the binary's start-up line.
#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "clock.h"
#include "mp3.h"
#include "outcall/common/strings.h"
#include "scenarios.h"
#include "sim_config.h"
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
  ParseTarget("/v1/convai/conversations?user_id=corr-%2B57300&search=a+b&flag", path, query);
  EXPECT_EQ(path, "/v1/convai/conversations");
  ASSERT_EQ(query.size(), 3u);
  EXPECT_EQ(query[0].second, "corr-+57300");
  EXPECT_EQ(query[1].second, "a b");
  EXPECT_EQ(query[2].first, "flag");
  EXPECT_EQ(PercentDecode("100%", false), "100%");
  EXPECT_EQ(PercentDecode("%zz", false), "%zz");
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
