// webhook-ingest's typed configuration, read once at start from the environment.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "outcall/common/clock.h"
#include "outcall/common/config.h"
#include "outcall/common/jwt.h"

namespace outcall::webhook_ingest {

// Limits of the HTTPS endpoint (docs/configuration.md documents each variable).
struct HttpLimits {
  int threads = 2;                          // WEBHOOK_THREADS
  // Open connections in all. At the cap, the oldest idle one (no request in progress: waiting
  // for one, or for the next on keep-alive) is closed to make room, then the oldest still in
  // its TLS handshake; a new one is refused only when every connection is busy.
  int max_connections = 512;                // WEBHOOK_MAX_CONNECTIONS
  // Connections still in their TLS handshake, capped apart (they cost a socket and a little
  // memory each): at the cap the oldest is closed. A real client finishes in milliseconds.
  int max_handshakes = 64;                  // WEBHOOK_MAX_HANDSHAKES
  // Open connections from one address (0: no limit; set 0, or above the proxy's pool, when a
  // proxy fronts the endpoint, since every connection then comes from the proxy).
  int max_connections_per_source = 64;      // WEBHOOK_MAX_CONNECTIONS_PER_SOURCE
  int64_t header_limit_bytes = 16 * 1024;   // WEBHOOK_MAX_HEADER_BYTES
  // Bodies up to this size are read with no further admission (every connection may hold one).
  int64_t small_body_bytes = 256 * 1024;    // WEBHOOK_SMALL_BODY_BYTES
  // Largest JSON event kept in memory (transcriptions); needs a large-body slot above small_body.
  int64_t max_event_bytes = 4 * 1024 * 1024;  // WEBHOOK_MAX_EVENT_BYTES
  // Largest post_call_audio body; streamed, never held in memory.
  int64_t max_audio_bytes = 100 * 1024 * 1024;  // WEBHOOK_MAX_AUDIO_BYTES
  int max_large_bodies = 4;                 // WEBHOOK_MAX_CONCURRENT_LARGE_BODIES
  int64_t max_body_bytes_other = 4 * 1024;  // bodies of other routes (/healthz, /metrics)
  absl::Duration handshake_timeout = absl::Seconds(3);   // WEBHOOK_HANDSHAKE_TIMEOUT_SECS
  absl::Duration read_timeout = absl::Seconds(15);       // WEBHOOK_READ_TIMEOUT_SECS (each read)
  absl::Duration request_timeout = absl::Seconds(120);   // WEBHOOK_REQUEST_TIMEOUT_SECS (whole)
  absl::Duration write_timeout = absl::Seconds(15);      // WEBHOOK_WRITE_TIMEOUT_SECS
  absl::Duration idle_timeout = absl::Seconds(10);       // WEBHOOK_IDLE_TIMEOUT_SECS (keep-alive)
};

struct StoreOptions {
  int commit_workers = 2;     // WEBHOOK_COMMIT_WORKERS: connections doing group commits
  int max_batch = 256;        // WEBHOOK_COMMIT_MAX_BATCH: events per transaction at most
  int audio_workers = 1;      // WEBHOOK_AUDIO_WORKERS: connections storing audio
  int64_t audio_part_bytes = 1024 * 1024;  // bytes per stored audio part
  absl::Duration connect_timeout = absl::Seconds(3);
  // The local spool for events PostgreSQL cannot take ("off": none, such events get 503).
  std::string spool_dir = "/var/spool/outcall";   // WEBHOOK_SPOOL_DIR
  int64_t spool_max_bytes = int64_t{1} << 30;      // WEBHOOK_SPOOL_MAX_BYTES
};

struct PublisherOptions {
  std::string gateway_address = "127.0.0.1:50051";  // CALL_GATEWAY_ADDRESS
  std::string gateway_ca_file;                       // CALL_GATEWAY_CA_FILE ("" = plaintext)
  common::Secret gateway_token;                      // CALL_GATEWAY_TOKEN (+_FILE)
  // Used to mint short-lived tokens with "events:publish" when no token is given.
  std::string jwt_issuer;
  std::vector<std::string> jwt_audiences;
  common::Secret jwt_hs256_secret;
  int batch_size = 100;                              // PUBLISH_BATCH_SIZE
  absl::Duration rpc_timeout = absl::Seconds(10);    // PUBLISH_RPC_TIMEOUT_SECS
  absl::Duration min_backoff = absl::Milliseconds(200);  // PUBLISH_MIN_BACKOFF_MS
  absl::Duration max_backoff = absl::Seconds(30);        // PUBLISH_MAX_BACKOFF_SECS
  absl::Duration poll_interval = absl::Seconds(2);       // PUBLISH_POLL_INTERVAL_MS
  // What the publisher reads the time from (tokens and their renewal, RPC deadlines).
  const common::Clock* clock = &common::Clock::Real();
};

struct ServiceConfig {
  common::CommonConfig common;
  std::string listen_address = "0.0.0.0:8443";  // WEBHOOK_LISTEN_ADDRESS
  std::string tls_cert_file;                     // TLS_CERT_FILE
  std::string tls_key_file;                      // TLS_KEY_FILE
  std::vector<common::Secret> webhook_secrets;   // ELEVENLABS_WEBHOOK_SECRET (+_PREVIOUS)
  absl::Duration signature_tolerance = absl::Minutes(30);  // WEBHOOK_SIGNATURE_TOLERANCE_SECS
  absl::Duration signature_future_skew = absl::Minutes(5);  // WEBHOOK_SIGNATURE_FUTURE_SKEW_SECS
  bool save_call_audio = true;                   // SAVE_CALL_AUDIO
  HttpLimits limits;
  StoreOptions store;
  PublisherOptions publisher;
};

absl::StatusOr<ServiceConfig> LoadServiceConfig(common::EnvReader& env);

// The permission each RPC this service serves requires (full method name -> permission).
std::map<std::string, common::Permission> MethodPermissions();

}  // namespace outcall::webhook_ingest
