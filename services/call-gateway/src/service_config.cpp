#include "service_config.h"

namespace outcall::call_gateway {

absl::StatusOr<ServiceConfig> LoadServiceConfig(common::EnvReader& env) {
  ServiceConfig c;
  c.common = common::ReadCommonConfig(env, {"0.0.0.0:50051", "0.0.0.0:9101"});
  c.elevenlabs = common::ReadElevenLabsConfig(env);
  if (auto s = env.Finish(); !s.ok()) return s;
  return c;
}

}  // namespace outcall::call_gateway
