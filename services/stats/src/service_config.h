// stats's typed configuration, read once at start from the environment.
#pragma once

#include "absl/status/statusor.h"
#include "outcall/common/config.h"

namespace outcall::stats {

struct ServiceConfig {
  common::CommonConfig common;

};

absl::StatusOr<ServiceConfig> LoadServiceConfig(common::EnvReader& env);

}  // namespace outcall::stats
