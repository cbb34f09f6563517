// call-gateway's typed configuration, read once at start from the environment.
#pragma once

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "outcall/common/config.h"
#include "outcall/common/jwt.h"
#include "outcall/elevenlabs/config.h"

namespace outcall::call_gateway {

// The reconciler: how often it passes, which calls are due, how it backs off and gives up.
struct ReconcilerConfig {
  int interval_secs = 30;        // RECONCILE_INTERVAL_SECS: a pass; also the first backoff
  int dialing_grace_secs = 30;   // RECONCILE_DIALING_GRACE_SECS
  int open_grace_secs = 300;     // RECONCILE_OPEN_GRACE_SECS
  int batch = 100;               // RECONCILE_BATCH: calls per pass
  int max_backoff_secs = 1800;   // RECONCILE_MAX_BACKOFF_SECS
  int max_not_found = 3;         // RECONCILE_MAX_NOT_FOUND: 404s before a call is given up
  // Recordings whose post_call_audio webhook was lost (only with SAVE_CALL_AUDIO).
  int audio_grace_secs = 300;          // RECONCILE_AUDIO_GRACE_SECS: the webhook's head start
  int audio_batch = 10;                // RECONCILE_AUDIO_BATCH: recordings per pass
  int audio_max_age_secs = 604800;     // RECONCILE_AUDIO_MAX_AGE_SECS: then given up
  int64_t audio_max_bytes = 64 << 20;  // RECONCILE_AUDIO_MAX_BYTES: largest recording fetched
  int audio_timeout_secs = 120;        // RECONCILE_AUDIO_TIMEOUT_SECS: deadline of one download
};

// The campaign dispatcher (docs/campaigns.md).
struct DispatcherConfig {
  bool enabled = true;             // CAMPAIGN_DISPATCHER
  int tick_ms = 1000;              // CAMPAIGN_TICK_MS
  int max_concurrent_calls = 10;   // ELEVENLABS_MAX_CONCURRENT_CALLS: the plan's limit
  int reserved_calls = 2;          // CAMPAIGN_RESERVED_CALLS: kept for ad-hoc calls
  int dial_workers = 8;            // CAMPAIGN_DIAL_WORKERS
  int lease_secs = 120;            // CAMPAIGN_LEASE_SECS
  int automation_secs = 60;        // AUTOMATION_INTERVAL_SECS: appointment automation passes
};

// Outbound webhooks' sender (docs/integration.md).
struct WebhookConfig {
  bool enabled = true;               // OUTBOX_SENDER
  int workers = 16;                  // OUTBOX_WORKERS: requests in parallel
  int batch = 200;                   // OUTBOX_BATCH: deliveries per pass
  int poll_ms = 100;                 // OUTBOX_POLL_MS: the wait when caught up
  int timeout_ms = 10000;            // OUTBOX_TIMEOUT_MS: per request
  int lease_secs = 60;               // OUTBOX_LEASE_SECS: then a crashed sender's work returns
  int64_t retry_base_ms = 10000;     // OUTBOX_RETRY_BASE_MS: the first retry's wait
  int64_t retry_max_secs = 21600;    // OUTBOX_RETRY_MAX_SECS: the longest wait
  int64_t retry_hours = 72;          // OUTBOX_RETRY_HOURS: then a delivery is failed
  int64_t disable_after_secs = 172800;  // OUTBOX_DISABLE_AFTER_SECS: failing this long, and
  int disable_min_failures = 10;        // OUTBOX_DISABLE_MIN_FAILURES: this many in a row
  std::string ca_file;               // OUTBOX_CA_FILE: trust these CAs ("" = the system's)
};

struct ServiceConfig {
  common::CommonConfig common;
  elevenlabs::ElevenLabsConfig elevenlabs;
  ReconcilerConfig reconciler;
  DispatcherConfig dispatcher;
  WebhookConfig webhooks;
};

absl::StatusOr<ServiceConfig> LoadServiceConfig(common::EnvReader& env);

// The permission each RPC this service serves requires (full method name -> permission).
std::map<std::string, common::Permission> MethodPermissions();

}  // namespace outcall::call_gateway
