// webhook-ingest: builds the object graph from the environment and serves until SIGTERM: the
// public HTTPS webhook endpoint, the durable inbox (group commit), the publisher to call-gateway
// and the gRPC port (health, metrics).
#include <spdlog/spdlog.h>

#include "inbox_store.h"
#include "metrics.h"
#include "outcall/common/service_main.h"
#include "outcall/common/strings.h"
#include "publisher.h"
#include "service_config.h"
#include "spool.h"
#include "webhook_server.h"

int main() {
  using namespace outcall;
  common::ServiceMain svc("webhook-ingest");
  auto config = svc.Load(webhook_ingest::LoadServiceConfig);
  if (!config || !svc.Init(config->common, webhook_ingest::MethodPermissions())) return 2;
  const common::CommonConfig& cc = config->common;
  common::GrpcServer& grpc_server = svc.server();
  webhook_ingest::IngestMetrics metrics(grpc_server.metrics());

  // The local spool: what PostgreSQL cannot take is acknowledged from there (and drained into
  // the inbox later) instead of refused, since ElevenLabs sends each webhook once.
  std::unique_ptr<webhook_ingest::Spool> spool;
  if (config->store.spool_dir != "off") {
    auto opened =
        webhook_ingest::Spool::Open(config->store.spool_dir, config->store.spool_max_bytes);
    if (!opened.ok()) {
      spdlog::critical("WEBHOOK_SPOOL_DIR: {}", common::ToStd(opened.status().message()));
      return 2;
    }
    spool = *std::move(opened);
    spdlog::info("webhook-ingest: spool {} holds {} event(s)", config->store.spool_dir,
                 spool->count());
  }
  webhook_ingest::Publisher publisher(cc.database_url.Reveal(), config->publisher, &metrics);
  webhook_ingest::InboxStore inbox(
      cc.database_url.Reveal(), config->store, &metrics, [&publisher] { publisher.Wake(); },
      spool.get());

  webhook_ingest::WebhookServerOptions http_options;
  http_options.listen_address = config->listen_address;
  http_options.tls_cert_file = config->tls_cert_file;
  http_options.tls_key_file = config->tls_key_file;
  http_options.limits = config->limits;
  http_options.save_call_audio = config->save_call_audio;
  http_options.shutdown_grace = cc.shutdown_grace;
  elevenlabs::WebhookVerifierOptions verifier_options;
  verifier_options.secrets = config->webhook_secrets;
  verifier_options.tolerance = config->signature_tolerance;
  verifier_options.future_skew = config->signature_future_skew;
  webhook_ingest::WebhookServer http(std::move(http_options), std::move(verifier_options), &inbox,
                                     &metrics, &grpc_server.metrics());
  if (auto s = http.Start(); !s.ok()) {
    spdlog::critical("{}", common::ToStd(s.message()));
    return 1;
  }
  publisher.Start();
  spdlog::info("webhook-ingest: SAVE_CALL_AUDIO={}, publishing to {}", config->save_call_audio,
               config->publisher.gateway_address);
  // One deadline, SHUTDOWN_GRACE_SECS after SIGTERM, for everything: health turns NOT_SERVING,
  // the webhook endpoint stops accepting and its in-flight requests finish (they need the
  // store), then gRPC stops; then the store and the publisher, whose RPC still in flight at the
  // deadline is cancelled (its events stay pending in the inbox).
  const int code = svc.Serve({.before_grpc_stops = [&](absl::Time d) { http.Stop(d); },
                              .after_grpc_stopped =
                                  [&](absl::Time d) {
                                    inbox.Stop();
                                    publisher.Stop(d);
                                  }});
  spdlog::info("webhook-ingest: shutdown complete");
  return code;
}
