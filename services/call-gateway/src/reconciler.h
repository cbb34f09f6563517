// The reconciler: a background pass every reconcile_every that settles what webhooks and lost
// answers left open. Calls left "dialing" are looked up by our call id (CallPlacer::SettleDial);
// open calls past their maximum duration are fetched from ElevenLabs and applied through the
// same mapping and transaction as their webhook; a call ElevenLabs keeps answering 404 for ends
// failed with the reason. With SAVE_CALL_AUDIO, recordings whose webhook was lost are fetched.
// Deletion requests' erasures (DataRequests::WorkErasures) and retention purges run in the same
// pass. Fair (least recently tried first), backing off per call, bounded per pass.
#pragma once

#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "call_event_hub.h"
#include "call_placer.h"
#include "call_store.h"
#include "data_requests.h"
#include "gateway_options.h"
#include "metrics.h"
#include "outcall/elevenlabs/api.h"

namespace outcall::call_gateway {

using ReconcilerOptions = GatewayOptions;

class Reconciler {
 public:
  Reconciler(ReconcilerOptions options, CallStore& store, const elevenlabs::ElevenLabsApi& api,
             CallPlacer& placer, DataRequests& data_requests, GatewayMetrics& metrics,
             CallEventHub& hub);
  ~Reconciler();  // stops the loop

  // One pass (the loop calls it; tests may too).
  absl::Status RunOnce();
  void Start();
  void Stop();

 private:
  absl::StatusOr<StatusChange> Reconcile(const CallRow& call, std::string_view cause);
  absl::Status ReconcileCalls();
  absl::Status RecoverAudio();
  absl::Status PurgeRetention();
  absl::Status EraseRequested();

  ReconcilerOptions options_;
  CallStore& store_;
  const elevenlabs::ElevenLabsApi& api_;
  CallPlacer& placer_;
  DataRequests& data_requests_;
  GatewayMetrics& metrics_;
  CallEventHub& hub_;
  absl::Time last_retention_ = absl::InfinitePast();  // the loop's thread (or a test's) only
  absl::Mutex reconciler_mu_;
  bool reconciler_stop_ ABSL_GUARDED_BY(reconciler_mu_) = false;
  std::thread reconciler_;
};

}  // namespace outcall::call_gateway
