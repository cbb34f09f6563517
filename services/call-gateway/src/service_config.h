// call-gateway's typed configuration, read once at start from the environment.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "outcall/common/config.h"
#include "outcall/common/jwt.h"

namespace outcall::call_gateway {

// The reconciler: how often it passes, which calls are due, how it backs off and gives up.
struct ReconcilerConfig {
  int interval_secs = 30;        // RECONCILE_INTERVAL_SECS: a pass; also the first backoff
  int dialing_grace_secs = 30;   // RECONCILE_DIALING_GRACE_SECS
  int open_grace_secs = 300;     // RECONCILE_OPEN_GRACE_SECS
  int batch = 100;               // RECONCILE_BATCH: calls per pass
  int max_backoff_secs = 1800;   // RECONCILE_MAX_BACKOFF_SECS
  int max_not_found = 3;         // RECONCILE_MAX_NOT_FOUND: 404s before an open call is failed
};

struct ServiceConfig {
  common::CommonConfig common;
  common::ElevenLabsConfig elevenlabs;
  ReconcilerConfig reconciler;
};

absl::StatusOr<ServiceConfig> LoadServiceConfig(common::EnvReader& env);

// The permission each RPC this service serves requires (full method name -> permission).
std::map<std::string, common::Permission> MethodPermissions();

}  // namespace outcall::call_gateway
