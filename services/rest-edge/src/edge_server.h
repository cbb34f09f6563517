// The REST edge's HTTP/1.1 server (Boost.Beast): what Envoy does in production, on one machine.
// /api/elevenlabs/* is checked for a JWT (issuer, audience, keys, as jwt_authn does), matched to
// a route of route_policy.h and a binding of the descriptor set, transcoded to gRPC (unary, or a
// server stream sent as newline-delimited JSON) with a per-route deadline and the request's
// headers as metadata (Idempotency-Key among them); /api/webhooks/elevenlabs is passed to
// webhook-ingest untouched; /healthz answers; anything else is the console's files or 404.
// Each connection is a coroutine on its own strand; reads and writes have timeouts; bodies and
// headers have limits; connections are capped (the oldest idle one is closed for a new one).
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace grpc {
class Channel;
}
namespace prometheus {
class Registry;
}
namespace outcall::common {
class Clock;
class JwtVerifier;
}  // namespace outcall::common
namespace outcall::rest {
class Transcoder;
}

namespace outcall::rest_edge {

class StaticFiles;

struct EdgeServerOptions {
  std::string listen_address = "127.0.0.1:0";  // port 0: a free port (tests)
  size_t max_body_bytes = 4 << 20;
  size_t max_header_bytes = 60 * 1024;         // Envoy's default max_request_headers_kb
  int max_connections = 10000;
  int threads = 2;
  absl::Duration request_headers_timeout = absl::Seconds(10);
  absl::Duration idle_timeout = absl::Seconds(300);
  absl::Duration stream_idle_timeout = absl::Seconds(300);
  absl::Duration body_timeout = absl::Seconds(60);
  bool access_log = true;
};

// What the edge talks to; all outlive the server.
struct EdgeBackends {
  const rest::Transcoder* transcoder = nullptr;
  const common::JwtVerifier* jwt = nullptr;
  const common::Clock* clock = nullptr;
  std::shared_ptr<grpc::Channel> call_gateway;
  std::shared_ptr<grpc::Channel> stats;
  const StaticFiles* console = nullptr;  // null: no console
  std::string webhook_ingest_url;        // base URL, e.g. https://127.0.0.1:8443
  std::string webhook_ingest_ca_file;
  prometheus::Registry* registry = nullptr;  // null: no metrics
};

class EdgeServer {
 public:
  EdgeServer(EdgeServerOptions options, EdgeBackends backends);
  ~EdgeServer();
  EdgeServer(const EdgeServer&) = delete;
  EdgeServer& operator=(const EdgeServer&) = delete;

  absl::Status Start();
  int port() const { return port_; }
  // /healthz turns 503, the listener closes, requests in flight get until `deadline`, streams
  // are ended, then the threads stop.
  void Stop(absl::Time deadline);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace outcall::rest_edge
