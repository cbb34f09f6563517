// A data subject's requests under Ley 1581 de 2012 (arts. 14-15): access, rectification and
// deletion, each registered with its legal deadline (libs/policy data_requests.h) and tracked to
// completion. Access and rectification complete when registered. A deletion erases every call of
// the patient at ElevenLabs and here, one work item per call, done by the reconciler's pass
// (WorkErasures): a live call waits until it ends, a refused or unanswered DELETE is retried
// with backoff, and the request completes when its last call is erased. What a deletion keeps
// (call figures, the ledgers) is in migration 0014. Blocking: run on a worker thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "call_repository.h"
#include "metrics.h"
#include "outcall/common/clock.h"
#include "outcall/elevenlabs/api.h"
#include "outcall/v1/call_gateway.pb.h"

namespace outcall::call_gateway {

class DataRequests {
 public:
  DataRequests(DataRequestRepository& repo, CallRepository& calls,
               const elevenlabs::ElevenLabsApi& api, GatewayMetrics& metrics,
               const common::Clock& clock, std::string default_country_code)
      : repo_(repo),
        calls_(calls),
        api_(api),
        metrics_(metrics),
        clock_(clock),
        default_country_code_(std::move(default_country_code)) {}

  absl::StatusOr<v1::DataRequest> Create(const std::string& principal,
                                         const v1::CreateDataRequestRequest& req);
  absl::StatusOr<v1::DataRequest> Get(const v1::GetDataRequestRequest& req);
  absl::StatusOr<v1::ListDataRequestsResponse> List(const v1::ListDataRequestsRequest& req);

  struct ErasurePass {
    int erased = 0;   // calls erased at ElevenLabs and here
    int waiting = 0;  // calls still live: tried again when they have ended
    int failed = 0;   // ElevenLabs did not confirm: retried with backoff
  };
  // The due erasures, at most `limit` (the reconciler's pass).
  absl::StatusOr<ErasurePass> WorkErasures(int limit);

 private:
  v1::DataRequest ToProto(const DataRequestRow& row) const;

  DataRequestRepository& repo_;
  CallRepository& calls_;
  const elevenlabs::ElevenLabsApi& api_;
  GatewayMetrics& metrics_;
  const common::Clock& clock_;
  std::string default_country_code_;
};

}  // namespace outcall::call_gateway
