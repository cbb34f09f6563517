// webhook-ingest's typed configuration, read once at start from the environment.
#pragma once

#include "absl/status/statusor.h"
#include "outcall/common/config.h"

namespace outcall::webhook_ingest {

struct ServiceConfig {
  common::CommonConfig common;
};

absl::StatusOr<ServiceConfig> LoadServiceConfig(common::EnvReader& env);

}  // namespace outcall::webhook_ingest
