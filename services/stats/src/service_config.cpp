#include "service_config.h"

namespace outcall::stats {

absl::StatusOr<ServiceConfig> LoadServiceConfig(common::EnvReader& env) {
  ServiceConfig c;
  c.common = common::ReadCommonConfig(env, {"0.0.0.0:50052", "0.0.0.0:9102"});
  c.query_timeout = env.Seconds("STATS_QUERY_TIMEOUT_SECS", 10, 1, 300);

  if (auto s = env.Finish(); !s.ok()) return s;
  return c;
}

std::map<std::string, common::Permission> MethodPermissions() {
  using common::Permission;
  const std::string st = "/outcall.v1.Stats/";
  return {
      {st + "ListCalls", Permission::kReadCalls},
      {st + "GetCallStats", Permission::kReadCalls},
      {st + "GetDailyStats", Permission::kReadCalls},
      {st + "ListCallErrors", Permission::kReadCalls},
  };
}

}  // namespace outcall::stats
