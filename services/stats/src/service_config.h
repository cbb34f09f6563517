// stats's typed configuration, read once at start from the environment.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "outcall/common/config.h"
#include "outcall/common/jwt.h"

namespace outcall::stats {

struct ServiceConfig {
  common::CommonConfig common;
  // STATS_QUERY_TIMEOUT_SECS: longest database work of one request (a shorter client deadline
  // wins); also the statement timeout of its queries.
  absl::Duration query_timeout = absl::Seconds(10);
};

absl::StatusOr<ServiceConfig> LoadServiceConfig(common::EnvReader& env);

// The permission each RPC this service serves requires (full method name -> permission).
std::map<std::string, common::Permission> MethodPermissions();

}  // namespace outcall::stats
