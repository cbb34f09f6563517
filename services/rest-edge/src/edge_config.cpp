#include "edge_config.h"

namespace outcall::rest_edge {

absl::StatusOr<EdgeConfig> LoadEdgeConfig(common::EnvReader& env) {
  EdgeConfig c;
  c.common.log_level = env.OneOf("LOG_LEVEL", "info", {"trace", "debug", "info", "warn", "error"});
  c.common.log_format = env.OneOf("LOG_FORMAT", "json", {"json", "text"});
  common::ReadJwtConfig(env, c.common);
  c.listen_address = env.String("EDGE_LISTEN_ADDRESS", "127.0.0.1:8080");
  c.metrics_listen_address = env.String("METRICS_LISTEN_ADDRESS", "127.0.0.1:9104");
  if (c.metrics_listen_address == "off") c.metrics_listen_address.clear();
  c.descriptor_set = env.RequiredString("EDGE_DESCRIPTOR_SET");
  c.call_gateway_address = env.String("CALL_GATEWAY_ADDRESS", "127.0.0.1:50051");
  c.stats_address = env.String("STATS_ADDRESS", "127.0.0.1:50052");
  c.webhook_ingest_url = env.Url("WEBHOOK_INGEST_URL", "https://127.0.0.1:8443", false);
  c.webhook_ingest_ca_file = env.String("WEBHOOK_INGEST_CA_FILE", "");
  c.console_dir = env.String("EDGE_CONSOLE_DIR", "");
  c.max_body_bytes = static_cast<size_t>(env.Int("EDGE_MAX_BODY_BYTES", 4 << 20, 1024, 64 << 20));
  c.max_connections = static_cast<int>(env.Int("EDGE_MAX_CONNECTIONS", 10000, 1, 1000000));
  c.threads = static_cast<int>(env.Int("EDGE_THREADS", 2, 1, 64));
  c.request_headers_timeout = env.Seconds("EDGE_REQUEST_HEADERS_TIMEOUT_SECS", 10, 1, 600);
  c.idle_timeout = env.Seconds("EDGE_IDLE_TIMEOUT_SECS", 300, 1, 3600);
  c.stream_idle_timeout = env.Seconds("EDGE_STREAM_IDLE_TIMEOUT_SECS", 300, 1, 86400);
  c.access_log = env.Bool("EDGE_ACCESS_LOG", true);
  if (auto s = env.Finish(); !s.ok()) return s;
  return c;
}

}  // namespace outcall::rest_edge
