// The gRPC server every service runs: health service, reflection, a Prometheus /metrics
// endpoint with per-method RPC counters and latencies, message size limits, a keepalive policy,
// and graceful shutdown (health NOT_SERVING first, then in-flight RPCs get a deadline).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace grpc {
class Server;
class Service;
namespace experimental {
class ServerInterceptorFactoryInterface;
}  // namespace experimental
}  // namespace grpc

namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace outcall::common {

struct GrpcServerOptions {
  std::string listen_address = "0.0.0.0:50051";  // port 0 picks a free port (tests)
  std::string metrics_listen_address;             // empty: no /metrics endpoint
  int max_receive_message_bytes = 4 * 1024 * 1024;
  int max_send_message_bytes = 16 * 1024 * 1024;
  absl::Duration keepalive_time = absl::Seconds(60);      // server pings idle clients
  absl::Duration keepalive_timeout = absl::Seconds(20);
  absl::Duration min_client_ping_interval = absl::Seconds(10);  // stricter pings get GOAWAY
  absl::Duration max_connection_idle = absl::Minutes(30);
  absl::Duration max_connection_age = absl::Minutes(30);  // lets load balancers rebalance
  absl::Duration max_connection_age_grace = absl::Minutes(5);
  absl::Duration shutdown_grace = absl::Seconds(10);
};

class GrpcServer {
 public:
  explicit GrpcServer(GrpcServerOptions options);
  ~GrpcServer();
  GrpcServer(const GrpcServer&) = delete;
  GrpcServer& operator=(const GrpcServer&) = delete;

  // Services must outlive the server. Call before Start().
  void AddService(grpc::Service* service);
  // Interceptors run in the order added, before the metrics one (e.g. the JWT check).
  void AddInterceptorFactory(
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> factory);
  // The registry for the service's own metrics, exposed on the same /metrics endpoint.
  prometheus::Registry& metrics();

  absl::Status Start();
  int port() const { return port_; }
  int metrics_port() const;

  // Health of the whole server ("") and of every added service.
  void SetServing(bool serving);
  // NOT_SERVING, then stops accepting and waits up to shutdown_grace for in-flight RPCs.
  void Shutdown();
  // The same with an absolute deadline (one shared by every part of a service's shutdown).
  void Shutdown(absl::Time deadline);
  void Wait();
  absl::Duration shutdown_grace() const { return options_.shutdown_grace; }

 private:
  GrpcServerOptions options_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::vector<grpc::Service*> services_;
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptor_factories_;
  std::vector<std::string> service_names_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  bool shut_down_ = false;
};

struct CommonConfig;
GrpcServerOptions GrpcOptionsFrom(const CommonConfig& config);

// Marks the server SERVING, waits for SIGTERM/SIGINT, then shuts down gracefully within one
// deadline, shutdown_grace after the signal: health turns NOT_SERVING at once, then
// `drain_first` (when given) gets the deadline to finish the service's other front door (e.g.
// webhook-ingest's HTTPS endpoint: stop accepting, let in-flight requests finish), then gRPC
// stops accepting and its in-flight RPCs get what is left of the same deadline. Returns the
// process exit code.
int ServeUntilSignal(GrpcServer& server, std::string_view service_name,
                     const std::function<void(absl::Time deadline)>& drain_first = {});

// Blocks SIGTERM and SIGINT in the calling thread and in every thread it starts afterwards:
// call first thing in main(). WaitForShutdownSignal() then returns the signal received.
void BlockShutdownSignals();
int WaitForShutdownSignal();

}  // namespace outcall::common
