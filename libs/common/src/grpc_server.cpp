#include "outcall/common/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <signal.h>

#include <chrono>

#include "outcall/common/strings.h"
#include "outcall/common/config.h"
#include "outcall/common/logging.h"

namespace outcall::common {
namespace {

// Counts every RPC by method and status code and records its latency.
class MetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(grpc::experimental::ServerRpcInfo* info,
                     prometheus::Family<prometheus::Counter>* handled,
                     prometheus::Histogram* latency)
      : info_(info), handled_(handled), latency_(latency),
        start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      handled_
          ->Add({{"method", info_->method()},
                 {"code", std::to_string(static_cast<int>(status.error_code()))}})
          .Increment();
      latency_->Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* info_;
  prometheus::Family<prometheus::Counter>* handled_;
  prometheus::Histogram* latency_;
  std::chrono::steady_clock::time_point start_;
};

class MetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit MetricsInterceptorFactory(prometheus::Registry& registry)
      : handled_(&prometheus::BuildCounter()
                      .Name("grpc_server_handled_total")
                      .Help("RPCs completed, by method and gRPC status code")
                      .Register(registry)),
        latency_family_(&prometheus::BuildHistogram()
                             .Name("grpc_server_handling_seconds")
                             .Help("RPC handling time")
                             .Register(registry)),
        latency_(&latency_family_->Add(
            {}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                        0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10})) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(info, handled_, latency_);
  }

 private:
  prometheus::Family<prometheus::Counter>* handled_;
  prometheus::Family<prometheus::Histogram>* latency_family_;
  prometheus::Histogram* latency_;
};

int Ms(absl::Duration d) { return static_cast<int>(absl::ToInt64Milliseconds(d)); }

}  // namespace

GrpcServer::GrpcServer(GrpcServerOptions options)
    : options_(std::move(options)), registry_(std::make_shared<prometheus::Registry>()) {}

GrpcServer::~GrpcServer() {
  if (server_ && !shut_down_) Shutdown();
}

void GrpcServer::AddService(grpc::Service* service) { services_.push_back(service); }

void GrpcServer::AddInterceptorFactory(
    std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> factory) {
  interceptor_factories_.push_back(std::move(factory));
}

prometheus::Registry& GrpcServer::metrics() { return *registry_; }

int GrpcServer::metrics_port() const {
  if (!exposer_) return 0;
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

absl::Status GrpcServer::Start() {
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options_.listen_address, grpc::InsecureServerCredentials(), &port_);
  // gRPC enables SO_REUSEPORT by default: a second process would silently share the port.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
  builder.SetMaxSendMessageSize(options_.max_send_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Ms(options_.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Ms(options_.keepalive_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             Ms(options_.min_client_ping_interval));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, Ms(options_.max_connection_idle));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, Ms(options_.max_connection_age));
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                             Ms(options_.max_connection_age_grace));
  for (grpc::Service* s : services_) builder.RegisterService(s);

  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
  // The service's own interceptors first, so the metrics see the status they may have set.
  for (auto& f : interceptor_factories_) factories.push_back(std::move(f));
  interceptor_factories_.clear();
  factories.push_back(std::make_unique<MetricsInterceptorFactory>(*registry_));
  builder.experimental().SetInterceptorCreators(std::move(factories));

  server_ = builder.BuildAndStart();
  if (!server_ || port_ == 0) {
    server_.reset();
    return absl::UnavailableError(
        Cat("cannot listen for gRPC on ", options_.listen_address));
  }
  if (!options_.metrics_listen_address.empty()) {
    try {
      exposer_ = std::make_unique<prometheus::Exposer>(options_.metrics_listen_address);
      exposer_->RegisterCollectable(registry_);
    } catch (const std::exception& e) {
      server_->Shutdown();
      server_.reset();
      return absl::UnavailableError(Cat("cannot serve metrics on ",
                                                 options_.metrics_listen_address, ": ", e.what()));
    }
  }
  SetServing(false);
  return absl::OkStatus();
}

void GrpcServer::SetServing(bool serving) {
  if (!server_) return;
  auto* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus(serving);
}

void GrpcServer::Shutdown() { Shutdown(absl::Now() + options_.shutdown_grace); }

void GrpcServer::Shutdown(absl::Time deadline) {
  if (!server_ || shut_down_) return;
  shut_down_ = true;
  SetServing(false);
  // A deadline already past cancels what is in flight at once.
  server_->Shutdown(absl::ToChronoTime(deadline));
}

void GrpcServer::Wait() {
  if (server_) server_->Wait();
}

GrpcServerOptions GrpcOptionsFrom(const CommonConfig& config) {
  GrpcServerOptions o;
  o.listen_address = config.grpc_listen_address;
  o.metrics_listen_address = config.metrics_listen_address;
  o.shutdown_grace = config.shutdown_grace;
  return o;
}

int ServeUntilSignal(GrpcServer& server, std::string_view service_name,
                     const std::function<void(absl::Time deadline)>& drain_first) {
  server.SetServing(true);
  spdlog::info("{} serving gRPC on port {} (metrics port {})", service_name, server.port(),
               server.metrics_port());
  const int sig = WaitForShutdownSignal();
  // One deadline for the whole shutdown: the orchestrator's stop timeout is set above it.
  const absl::Time deadline = absl::Now() + server.shutdown_grace();
  spdlog::info("{} received signal {}, shutting down (grace {}s)", service_name, sig,
               absl::ToInt64Seconds(server.shutdown_grace()));
  server.SetServing(false);  // load balancers and probes stop sending work first
  if (drain_first) drain_first(deadline);
  server.Shutdown(deadline);
  server.Wait();
  spdlog::info("{} stopped", service_name);
  return 0;
}

void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForShutdownSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace outcall::common
