// The Stats gRPC service (callback API): each handler checks the caller's JWT verdict first
// (CallAuthenticator::Check), validates the request, then runs the query on the blocking
// executor and answers in the seed's envelopes ({success, data, pagination|count}).
#pragma once

#include <string>

#include "absl/time/time.h"
#include "outcall/common/auth_interceptor.h"
#include "outcall/v1/stats.grpc.pb.h"
#include "outcall/common/blocking_executor.h"
#include "stats_store.h"

namespace outcall::stats {

struct StatsServiceOptions {
  // Upper bound of one request's database work when the client sets no shorter deadline.
  absl::Duration request_timeout = absl::Seconds(10);
};

class StatsService final : public v1::Stats::CallbackService {
 public:
  // Borrowed pointers: all must outlive the service. The store's clinic time zone decides what
  // "today" is for GetDailyStats' default range.
  StatsService(const common::CallAuthenticator* auth, StatsStore* store, common::BlockingExecutor* executor,
               StatsServiceOptions options = {});

  grpc::ServerUnaryReactor* ListCalls(grpc::CallbackServerContext* ctx,
                                      const v1::ListCallsRequest* request,
                                      v1::ListCallsResponse* response) override;
  grpc::ServerUnaryReactor* GetCallStats(grpc::CallbackServerContext* ctx,
                                         const v1::GetCallStatsRequest* request,
                                         v1::GetCallStatsResponse* response) override;
  grpc::ServerUnaryReactor* GetDailyStats(grpc::CallbackServerContext* ctx,
                                          const v1::GetDailyStatsRequest* request,
                                          v1::GetDailyStatsResponse* response) override;
  grpc::ServerUnaryReactor* ListCallErrors(grpc::CallbackServerContext* ctx,
                                           const v1::ListCallErrorsRequest* request,
                                           v1::ListCallErrorsResponse* response) override;

 private:
  // Runs work(deadline) on the executor and finishes the reactor with its status.
  grpc::ServerUnaryReactor* Dispatch(grpc::CallbackServerContext* ctx,
                                     std::function<absl::Status(absl::Time deadline)> work);
  absl::Time DeadlineOf(const grpc::CallbackServerContext* ctx) const;

  const common::CallAuthenticator* auth_;
  StatsStore* store_;
  common::BlockingExecutor* executor_;
  StatsServiceOptions options_;
  absl::TimeZone clinic_zone_;
};

}  // namespace outcall::stats
