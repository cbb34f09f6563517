#include "service_config.h"

#include "outcall/common/strings.h"

namespace outcall::webhook_ingest {

absl::StatusOr<ServiceConfig> LoadServiceConfig(common::EnvReader& env) {
  ServiceConfig c;
  c.common = common::ReadCommonConfig(env, {"0.0.0.0:50053", "0.0.0.0:9103"});
  c.listen_address = env.String("WEBHOOK_LISTEN_ADDRESS", "0.0.0.0:8443");
  if (c.listen_address.rfind(':') == std::string::npos) {
    env.AddError("WEBHOOK_LISTEN_ADDRESS", "must be host:port");
  }
  c.tls_cert_file = env.RequiredString("TLS_CERT_FILE");
  c.tls_key_file = env.RequiredString("TLS_KEY_FILE");
  for (const char* name : {"ELEVENLABS_WEBHOOK_SECRET", "ELEVENLABS_WEBHOOK_SECRET_PREVIOUS"}) {
    common::Secret s = env.SecretValue(name, /*required=*/false);
    if (!s.empty()) c.webhook_secrets.push_back(std::move(s));
  }
  if (c.webhook_secrets.empty()) {
    env.AddError("ELEVENLABS_WEBHOOK_SECRET", "is required (or ELEVENLABS_WEBHOOK_SECRET_FILE)");
  }
  c.signature_tolerance = env.Seconds("WEBHOOK_SIGNATURE_TOLERANCE_SECS", 1800, 60, 86400);
  c.signature_future_skew = env.Seconds("WEBHOOK_SIGNATURE_FUTURE_SKEW_SECS", 300, 0, 3600);
  c.save_call_audio = env.Bool("SAVE_CALL_AUDIO", true);

  HttpLimits& l = c.limits;
  l.threads = static_cast<int>(env.Int("WEBHOOK_THREADS", 2, 1, 64));
  l.max_connections = static_cast<int>(env.Int("WEBHOOK_MAX_CONNECTIONS", 512, 1, 100000));
  l.max_handshakes = static_cast<int>(env.Int("WEBHOOK_MAX_HANDSHAKES", 64, 1, 100000));
  l.max_connections_per_source =
      static_cast<int>(env.Int("WEBHOOK_MAX_CONNECTIONS_PER_SOURCE", 64, 0, 100000));
  l.header_limit_bytes = env.Int("WEBHOOK_MAX_HEADER_BYTES", 16 * 1024, 1024, 1024 * 1024);
  l.small_body_bytes = env.Int("WEBHOOK_SMALL_BODY_BYTES", 256 * 1024, 1024, 64 << 20);
  l.max_event_bytes = env.Int("WEBHOOK_MAX_EVENT_BYTES", 4 << 20, 1024, 256 << 20);
  l.max_audio_bytes = env.Int("WEBHOOK_MAX_AUDIO_BYTES", 100 << 20, 1024, int64_t{4} << 30);
  l.max_large_bodies = static_cast<int>(env.Int("WEBHOOK_MAX_CONCURRENT_LARGE_BODIES", 4, 1, 1024));
  l.handshake_timeout = env.Seconds("WEBHOOK_HANDSHAKE_TIMEOUT_SECS", 3, 1, 300);
  l.read_timeout = env.Seconds("WEBHOOK_READ_TIMEOUT_SECS", 15, 1, 600);
  l.request_timeout = env.Seconds("WEBHOOK_REQUEST_TIMEOUT_SECS", 120, 1, 3600);
  l.write_timeout = env.Seconds("WEBHOOK_WRITE_TIMEOUT_SECS", 15, 1, 600);
  l.idle_timeout = env.Seconds("WEBHOOK_IDLE_TIMEOUT_SECS", 10, 1, 3600);
  if (l.max_event_bytes < l.small_body_bytes) {
    env.AddError("WEBHOOK_MAX_EVENT_BYTES", "must be at least WEBHOOK_SMALL_BODY_BYTES");
  }
  if (l.max_audio_bytes < l.max_event_bytes) {
    env.AddError("WEBHOOK_MAX_AUDIO_BYTES", "must be at least WEBHOOK_MAX_EVENT_BYTES");
  }

  c.store.commit_workers = static_cast<int>(env.Int("WEBHOOK_COMMIT_WORKERS", 2, 1, 32));
  c.store.max_batch = static_cast<int>(env.Int("WEBHOOK_COMMIT_MAX_BATCH", 256, 1, 10000));
  c.store.audio_workers = static_cast<int>(env.Int("WEBHOOK_AUDIO_WORKERS", 1, 1, 16));
  c.store.spool_dir = env.String("WEBHOOK_SPOOL_DIR", "/var/spool/outcall");
  c.store.spool_max_bytes =
      env.Int("WEBHOOK_SPOOL_MAX_BYTES", int64_t{1} << 30, 1 << 20, int64_t{1} << 40);

  PublisherOptions& p = c.publisher;
  p.gateway_address = env.String("CALL_GATEWAY_ADDRESS", "127.0.0.1:50051");
  p.gateway_ca_file = env.String("CALL_GATEWAY_CA_FILE", "");
  p.gateway_token = env.SecretValue("CALL_GATEWAY_TOKEN", /*required=*/false);
  p.jwt_issuer = c.common.jwt_issuer;
  p.jwt_audiences = c.common.jwt_audiences;
  if (!c.common.jwt_hs256_secrets.empty()) p.jwt_hs256_secret = c.common.jwt_hs256_secrets.front();
  if (p.gateway_token.empty() && p.jwt_hs256_secret.empty()) {
    env.AddError("CALL_GATEWAY_TOKEN",
                 "CALL_GATEWAY_TOKEN (or _FILE) or JWT_HS256_SECRET is needed to publish events");
  }
  p.batch_size = static_cast<int>(env.Int("PUBLISH_BATCH_SIZE", 100, 1, 1000));
  p.rpc_timeout = env.Seconds("PUBLISH_RPC_TIMEOUT_SECS", 10, 1, 300);
  p.min_backoff = absl::Milliseconds(env.Int("PUBLISH_MIN_BACKOFF_MS", 200, 10, 60000));
  p.max_backoff = env.Seconds("PUBLISH_MAX_BACKOFF_SECS", 30, 1, 3600);
  p.poll_interval = absl::Milliseconds(env.Int("PUBLISH_POLL_INTERVAL_MS", 2000, 50, 600000));
  if (auto s = env.Finish(); !s.ok()) return s;
  return c;
}

std::map<std::string, common::Permission> MethodPermissions() {
  // Its gRPC port only serves health and metrics; the webhook itself is HTTPS.
  return {};
}

}  // namespace outcall::webhook_ingest
