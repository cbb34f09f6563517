// The one way a callback-API unary handler runs blocking work: posted to a bounded executor, the
// call finished with the work's status (one ToGrpcStatus); RESOURCE_EXHAUSTED at once when the
// executor is full, CANCELLED when the client left before the work started.
#pragma once

#include <functional>
#include <string_view>

#include "absl/status/status.h"
#include "outcall/common/blocking_executor.h"

namespace grpc {
class CallbackServerContext;
class ServerUnaryReactor;
}  // namespace grpc

namespace outcall::common {

struct DispatchOptions {
  std::string_view service;  // names the log line of a failed request ("<service> request failed")
  std::string_view busy;     // the RESOURCE_EXHAUSTED message
  bool log_unavailable = false;  // also log UNAVAILABLE failures (INTERNAL always are)
};

grpc::ServerUnaryReactor* DispatchUnary(grpc::CallbackServerContext* ctx,
                                        BlockingExecutor& executor, DispatchOptions options,
                                        std::function<absl::Status()> work);

}  // namespace outcall::common
