#include "service_config.h"

namespace outcall::stats {

absl::StatusOr<ServiceConfig> LoadServiceConfig(common::EnvReader& env) {
  ServiceConfig c;
  c.common = common::ReadCommonConfig(env, {"0.0.0.0:50052", "0.0.0.0:9102"});

  if (auto s = env.Finish(); !s.ok()) return s;
  return c;
}

}  // namespace outcall::stats
