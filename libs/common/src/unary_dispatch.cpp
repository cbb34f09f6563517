#include "outcall/common/unary_dispatch.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <string>

#include "outcall/common/status.h"
#include "outcall/common/strings.h"

namespace outcall::common {

grpc::ServerUnaryReactor* DispatchUnary(grpc::CallbackServerContext* ctx,
                                        BlockingExecutor& executor, DispatchOptions options,
                                        std::function<absl::Status()> work) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const std::string service(options.service);
  const bool log_unavailable = options.log_unavailable;
  const bool queued =
      executor.TrySubmit([ctx, reactor, service, log_unavailable, work = std::move(work)] {
        if (ctx->IsCancelled()) {
          reactor->Finish(grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled"));
          return;
        }
        const absl::Status s = work();
        if (!s.ok() && (s.code() == absl::StatusCode::kInternal ||
                        (log_unavailable && s.code() == absl::StatusCode::kUnavailable))) {
          spdlog::warn("{} request failed: {}", service, ToStd(s.ToString()));
        }
        reactor->Finish(ToGrpcStatus(s));
      });
  if (!queued) reactor->Finish(ToGrpcStatus(absl::ResourceExhaustedError(ToAbsl(options.busy))));
  return reactor;
}

}  // namespace outcall::common
