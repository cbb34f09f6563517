// JWT check for every RPC of a server: a gRPC server interceptor verifies the bearer token of
// each call against the permission its method needs (a table given at start; a method missing
// from the table is denied; health and reflection are public), and handlers read the verdict
// with Check() as their first step. gRPC 1.51's C++ interceptors cannot fail a call before the
// handler runs, so a handler must call Check(); as a second line of defence the interceptor
// turns an OK status into the auth error if a handler forgot.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "outcall/common/jwt.h"

namespace grpc {
class ServerContextBase;
namespace experimental {
class ServerInterceptorFactoryInterface;
}  // namespace experimental
}  // namespace grpc

namespace outcall::common {

class CallAuthenticator {
 public:
  // `method_permissions` maps full method names ("/outcall.v1.Stats/ListCalls") to permissions.
  CallAuthenticator(Authorizer authorizer, std::map<std::string, Permission> method_permissions);
  ~CallAuthenticator();

  // The verified principal of this call, or UNAUTHENTICATED / PERMISSION_DENIED.
  absl::StatusOr<Principal> Check(const grpc::ServerContextBase* context) const;

  // For GrpcServer::AddInterceptorFactory. The authenticator must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> NewInterceptorFactory();

  // Whether a method needs no token (health checks, reflection).
  static bool IsPublicMethod(std::string_view method);

 private:
  friend class AuthInterceptor;
  absl::StatusOr<Principal> Verify(
      std::string_view method,
      const std::multimap<grpc::string_ref, grpc::string_ref>& metadata) const;
  void Record(const grpc::ServerContextBase* context, absl::StatusOr<Principal> verdict);
  void Forget(const grpc::ServerContextBase* context);

  Authorizer authorizer_;
  std::map<std::string, Permission> method_permissions_;
  mutable absl::Mutex mu_;
  std::unordered_map<const grpc::ServerContextBase*, absl::StatusOr<Principal>> verdicts_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace outcall::common
