// Applying the webhook events webhook-ingest publishes (CallEventSink.ApplyEvents): in order, in
// one set-based transaction per batch (CallStore::ApplyEvents), each event once (duplicates are
// answered as such); an event that cannot be applied is rejected with its reason and only its
// conversation's later events wait behind it. Status changes go to the hub; outcomes to the
// metrics. Blocking (database): run on a worker thread. No gRPC here.
#pragma once

#include "absl/status/status.h"
#include "call_event_hub.h"
#include "call_store.h"
#include "metrics.h"
#include "outcall/v1/events.pb.h"

namespace outcall::call_gateway {

class EventApplier {
 public:
  EventApplier(CallStore& store, GatewayMetrics& metrics, CallEventHub& hub);

  // One result per event applied or refused; an error only when nothing could be (the
  // publisher retries the whole batch).
  absl::Status Apply(const v1::ApplyEventsRequest& request, v1::ApplyEventsResponse* response);

 private:
  CallStore& store_;
  GatewayMetrics& metrics_;
  CallEventHub& hub_;
};

}  // namespace outcall::call_gateway
