#include "outcall/common/service_main.h"

#include <grpcpp/support/server_interceptor.h>

#include <cstdio>

#include "outcall/common/jwt.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"
#include "spdlog/spdlog.h"

namespace outcall::common {

ServiceMain::ServiceMain(std::string name) : name_(std::move(name)) { BlockShutdownSignals(); }

ServiceMain::~ServiceMain() = default;

void ServiceMain::PrintStartupError(std::string_view message) const {
  std::fprintf(stderr, "%s: %.*s\n", name_.c_str(), static_cast<int>(message.size()),
               message.data());
}

bool ServiceMain::Init(const CommonConfig& config,
                       std::map<std::string, Permission> method_permissions) {
  if (auto s = InitLogging({name_, config.log_level, config.log_format == "json"}); !s.ok()) {
    PrintStartupError(ToStd(s.message()));
    return false;
  }
  auto verifier = JwtVerifier::Create(JwtOptionsFrom(config));
  if (!verifier.ok()) {
    spdlog::critical("{}", ToStd(verifier.status().message()));
    return false;
  }
  authenticator_ = std::make_unique<CallAuthenticator>(Authorizer(*std::move(verifier)),
                                                       std::move(method_permissions));
  server_ = std::make_unique<GrpcServer>(GrpcOptionsFrom(config));
  server_->AddInterceptorFactory(authenticator_->NewInterceptorFactory());
  return true;
}

int ServiceMain::Serve(const Shutdown& hooks) {
  if (auto s = server_->Start(); !s.ok()) {
    spdlog::critical("{}", ToStd(s.message()));
    return 1;
  }
  absl::Time deadline = absl::InfiniteFuture();
  const int code = ServeUntilSignal(*server_, name_, [&](absl::Time d) {
    deadline = d;
    if (hooks.before_grpc_stops) hooks.before_grpc_stops(d);
  });
  if (hooks.after_grpc_stopped) hooks.after_grpc_stopped(deadline);
  return code;
}

}  // namespace outcall::common
