#include "outcall/common/auth_interceptor.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include "outcall/common/status.h"
#include "outcall/common/strings.h"

namespace outcall::common {

class AuthInterceptor final : public grpc::experimental::Interceptor {
 public:
  AuthInterceptor(CallAuthenticator* auth, grpc::experimental::ServerRpcInfo* info)
      : auth_(auth), info_(info), is_public_(CallAuthenticator::IsPublicMethod(info->method())) {}

  ~AuthInterceptor() override {
    if (recorded_) auth_->Forget(info_->server_context());
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (!is_public_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      verdict_ = auth_->Verify(info_->method(), *methods->GetRecvInitialMetadata());
      auth_->Record(info_->server_context(), verdict_);
      recorded_ = true;
    }
    if (!is_public_ && recorded_ && !verdict_.ok() &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS) &&
        methods->GetSendStatus().ok()) {
      methods->ModifySendStatus(ToGrpcStatus(verdict_.status()));
    }
    methods->Proceed();
  }

 private:
  CallAuthenticator* auth_;
  grpc::experimental::ServerRpcInfo* info_;
  bool is_public_;
  bool recorded_ = false;
  absl::StatusOr<Principal> verdict_ = absl::UnauthenticatedError("not verified");
};

namespace {

class AuthInterceptorFactory final : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit AuthInterceptorFactory(CallAuthenticator* auth) : auth_(auth) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new AuthInterceptor(auth_, info);
  }

 private:
  CallAuthenticator* auth_;
};

}  // namespace

CallAuthenticator::CallAuthenticator(Authorizer authorizer,
                                     std::map<std::string, Permission> method_permissions)
    : authorizer_(std::move(authorizer)), method_permissions_(std::move(method_permissions)) {}

CallAuthenticator::~CallAuthenticator() = default;

bool CallAuthenticator::IsPublicMethod(std::string_view method) {
  return method.starts_with("/grpc.health.v1.Health/") ||
         method.starts_with("/grpc.reflection.v1alpha.ServerReflection/") ||
         method.starts_with("/grpc.reflection.v1.ServerReflection/");
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
CallAuthenticator::NewInterceptorFactory() {
  return std::make_unique<AuthInterceptorFactory>(this);
}

absl::StatusOr<Principal> CallAuthenticator::Verify(
    std::string_view method,
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const {
  auto it = method_permissions_.find(std::string(method));
  if (it == method_permissions_.end()) {
    return absl::PermissionDeniedError(Cat("no permission is defined for ", method));
  }
  return authorizer_.Authorize(metadata, it->second);
}

void CallAuthenticator::Record(const grpc::ServerContextBase* context,
                               absl::StatusOr<Principal> verdict) {
  absl::MutexLock l(&mu_);
  verdicts_.insert_or_assign(context, std::move(verdict));
}

void CallAuthenticator::Forget(const grpc::ServerContextBase* context) {
  absl::MutexLock l(&mu_);
  verdicts_.erase(context);
}

absl::StatusOr<Principal> CallAuthenticator::Check(const grpc::ServerContextBase* context) const {
  absl::MutexLock l(&mu_);
  auto it = verdicts_.find(context);
  if (it == verdicts_.end()) return absl::UnauthenticatedError("call was not authenticated");
  return it->second;
}

}  // namespace outcall::common
