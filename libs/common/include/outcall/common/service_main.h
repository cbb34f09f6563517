// What every service's main does around its own object graph: shutdown signals blocked before
// any thread starts, configuration read from the environment (a bad one exits 2 naming the
// variable, never the secret), logging, the JWT verifier and the per-method authenticator, the
// gRPC server with its auth interceptor, then serving until SIGTERM and one graceful shutdown
// within SHUTDOWN_GRACE_SECS.
//
//   int main() {
//     common::ServiceMain svc("stats");
//     auto config = svc.Load(stats::LoadServiceConfig);
//     if (!config || !svc.Init(config->common, stats::MethodPermissions())) return 2;
//     ...build the service's objects, svc.server().AddService(&service)...
//     return svc.Serve();
//   }
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "outcall/common/auth_interceptor.h"
#include "outcall/common/config.h"
#include "outcall/common/grpc_server.h"

namespace outcall::common {

class ServiceMain {
 public:
  // Blocks SIGTERM/SIGINT in the calling (main) thread, so every thread started later inherits
  // the mask and the signal is taken by Serve() alone.
  explicit ServiceMain(std::string name);
  ~ServiceMain();
  ServiceMain(const ServiceMain&) = delete;
  ServiceMain& operator=(const ServiceMain&) = delete;

  // Reads the service's configuration with `load`; on error prints "<name>: <message>" to
  // stderr and returns nothing (the caller exits 2).
  template <typename Loader>
  auto Load(Loader&& load)
      -> std::optional<typename decltype(load(std::declval<EnvReader&>()))::value_type> {
    EnvReader env;
    auto config = load(env);
    if (!config.ok()) {
      PrintStartupError(std::string(config.status().message()));
      return std::nullopt;
    }
    return *std::move(config);
  }

  // Logging, the JWT verifier, the authenticator for `method_permissions` and the gRPC server
  // (not started). False after printing the reason (the caller exits 2).
  bool Init(const CommonConfig& config, std::map<std::string, Permission> method_permissions);

  const std::string& name() const { return name_; }
  CallAuthenticator& authenticator() { return *authenticator_; }
  GrpcServer& server() { return *server_; }

  // Hooks of the shutdown, both given the one deadline (SIGTERM + SHUTDOWN_GRACE_SECS).
  struct Shutdown {
    // After health turns NOT_SERVING, before gRPC stops (e.g. drain an HTTP endpoint).
    std::function<void(absl::Time deadline)> before_grpc_stops;
    // After gRPC stopped (e.g. stop background workers).
    std::function<void(absl::Time deadline)> after_grpc_stopped;
  };
  // Starts the gRPC server, serves until SIGTERM/SIGINT and shuts down: the exit code (1 when
  // the server could not start).
  int Serve(const Shutdown& hooks);
  int Serve() { return Serve(Shutdown{}); }

 private:
  void PrintStartupError(std::string_view message) const;

  std::string name_;
  std::unique_ptr<CallAuthenticator> authenticator_;
  std::unique_ptr<GrpcServer> server_;
};

}  // namespace outcall::common
