// The public HTTPS endpoint (Boost.Beast over OpenSSL, TLS 1.2+): POST /api/webhooks/elevenlabs,
// GET /healthz and GET /metrics. Each connection is a coroutine on its own strand; every read and
// write has a timeout and the whole request a deadline; headers and bodies have limits per route;
// connections and concurrent large bodies are capped. A webhook is verified while its body
// streams in, checked, stored durably (InboxWriter) and only then answered 200.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "inbox_store.h"
#include "metrics.h"
#include "outcall/elevenlabs/webhook_signature.h"
#include "service_config.h"

namespace prometheus {
class Registry;
}

namespace outcall::webhook_ingest {

inline constexpr std::string_view kWebhookPath = "/api/webhooks/elevenlabs";

struct WebhookServerOptions {
  std::string listen_address = "127.0.0.1:0";  // port 0 picks a free port (tests)
  std::string tls_cert_file;
  std::string tls_key_file;
  HttpLimits limits;
  bool save_call_audio = true;
  absl::Duration shutdown_grace = absl::Seconds(10);
};

class WebhookServer {
 public:
  WebhookServer(WebhookServerOptions options, elevenlabs::WebhookVerifierOptions verifier,
                InboxWriter* inbox, IngestMetrics* metrics,
                prometheus::Registry* registry = nullptr);
  ~WebhookServer();
  WebhookServer(const WebhookServer&) = delete;
  WebhookServer& operator=(const WebhookServer&) = delete;

  // Loads the certificate and key, binds and starts the worker threads.
  absl::Status Start();
  int port() const { return port_; }
  // Stops accepting, lets in-flight requests finish (up to shutdown_grace), then stops.
  void Stop();
  // The same, with in-flight requests given until `deadline` (shared with the rest of the
  // service's shutdown). Idle keep-alive connections are closed at once.
  void Stop(absl::Time deadline);
  // Requests being handled now (read, stored or answered); tests.
  int active_requests() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace outcall::webhook_ingest
