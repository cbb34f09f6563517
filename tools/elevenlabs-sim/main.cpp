// elevenlabs-sim: serves the simulated ElevenLabs API (and Twilio's call update) until SIGTERM.
#include <curl/curl.h>

#include <cstdio>
#include <string>

#include "outcall/common/config.h"
#include "outcall/common/grpc_server.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"
#include "sim_config.h"
#include "simulator.h"

int main() {
  using namespace outcall;
  common::BlockShutdownSignals();
  curl_global_init(CURL_GLOBAL_DEFAULT);
  common::EnvReader env;
  auto config = sim::LoadSimConfig(env);
  if (!config.ok()) {
    std::fprintf(stderr, "elevenlabs-sim: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  if (auto s =
          common::InitLogging({"elevenlabs-sim", config->log_level, config->log_format == "json"});
      !s.ok()) {
    std::fprintf(stderr, "elevenlabs-sim: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  sim::Simulator simulator(*config);
  auto port = simulator.Start();
  if (!port.ok()) {
    spdlog::critical("{}", common::ToStd(port.status().message()));
    return 1;
  }
  spdlog::info(
      "simulation mode: ElevenLabs simulator listening on {} (time scale {}, webhooks {}); "
      "no real call is placed",
      simulator.base_url(), config->time_scale,
      config->webhook_url.empty() ? std::string("off") : config->webhook_url);
  const int signal = common::WaitForShutdownSignal();
  spdlog::info("signal {} received, stopping", signal);
  simulator.Stop();
  curl_global_cleanup();
  return 0;
}
