// call-gateway's typed configuration, read once at start from the environment.
#pragma once

#include "absl/status/statusor.h"
#include "outcall/common/config.h"

namespace outcall::call_gateway {

struct ServiceConfig {
  common::CommonConfig common;
  common::ElevenLabsConfig elevenlabs;
};

absl::StatusOr<ServiceConfig> LoadServiceConfig(common::EnvReader& env);

}  // namespace outcall::call_gateway
