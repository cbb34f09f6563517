#include "service_config.h"

namespace outcall::webhook_ingest {

absl::StatusOr<ServiceConfig> LoadServiceConfig(common::EnvReader& env) {
  ServiceConfig c;
  c.common = common::ReadCommonConfig(env, {"0.0.0.0:50053", "0.0.0.0:9103"});
  if (auto s = env.Finish(); !s.ok()) return s;
  return c;
}

std::map<std::string, common::Permission> MethodPermissions() {
  // Its gRPC port only serves health and metrics; the webhook itself is HTTPS.
  return {};
}

}  // namespace outcall::webhook_ingest
