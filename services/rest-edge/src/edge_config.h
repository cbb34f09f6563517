// The REST edge's configuration, from the environment (docs/configuration.md, "rest-edge").
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "outcall/common/config.h"

namespace outcall::rest_edge {

struct EdgeConfig {
  common::CommonConfig common;        // logging and the JWT settings only (no database)
  std::string listen_address;         // EDGE_LISTEN_ADDRESS
  std::string metrics_listen_address; // METRICS_LISTEN_ADDRESS ("" disables)
  std::string descriptor_set;         // EDGE_DESCRIPTOR_SET: the file Envoy loads too
  std::string call_gateway_address;   // CALL_GATEWAY_ADDRESS
  std::string stats_address;          // STATS_ADDRESS
  std::string webhook_ingest_url;     // WEBHOOK_INGEST_URL: base, e.g. https://127.0.0.1:8443
  std::string webhook_ingest_ca_file; // WEBHOOK_INGEST_CA_FILE: trust for its certificate
  std::string console_dir;            // EDGE_CONSOLE_DIR: the built console ("" : none)
  size_t max_body_bytes = 4 << 20;    // EDGE_MAX_BODY_BYTES (Envoy: max_request_body_size)
  int max_connections = 10000;        // EDGE_MAX_CONNECTIONS
  int threads = 2;                    // EDGE_THREADS
  absl::Duration request_headers_timeout = absl::Seconds(10);  // EDGE_REQUEST_HEADERS_TIMEOUT_SECS
  absl::Duration idle_timeout = absl::Seconds(300);            // EDGE_IDLE_TIMEOUT_SECS
  absl::Duration stream_idle_timeout = absl::Seconds(300);     // EDGE_STREAM_IDLE_TIMEOUT_SECS
  bool access_log = true;             // EDGE_ACCESS_LOG
};

absl::StatusOr<EdgeConfig> LoadEdgeConfig(common::EnvReader& env);

}  // namespace outcall::rest_edge
