// The relay from the inbox to call-gateway: reads stored, unacknowledged events in inbox order,
// maps them to typed CallEvents and sends them with CallEventSink.ApplyEvents, retrying with
// jittered exponential backoff until call-gateway acknowledges them; then marks them published.
// State lives only in webhook_inbox, so pending events survive restarts of either side. One
// replica publishes at a time (a PostgreSQL advisory lock), which keeps each conversation's
// events in order.
#pragma once

#include <grpcpp/channel.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include <pqxx/pqxx>

#include "metrics.h"
#include "outcall/v1/events.grpc.pb.h"
#include "service_config.h"

namespace outcall::webhook_ingest {

// The bearer token sent to call-gateway: CALL_GATEWAY_TOKEN as is, or a short-lived HS256 token
// with the "events:publish" scope minted from JWT_HS256_SECRET (renewed before it expires).
class GatewayToken {
 public:
  explicit GatewayToken(const PublisherOptions& options);
  absl::StatusOr<std::string> Get();

 private:
  const PublisherOptions& options_;
  std::mutex mu_;
  std::string token_;
  absl::Time renew_at_ = absl::InfinitePast();
};

class Publisher {
 public:
  Publisher(std::string database_url, PublisherOptions options, IngestMetrics* metrics);
  ~Publisher();
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  void Start();
  // Stops after the batch in hand; an ApplyEvents still in flight at `deadline` is cancelled (its
  // events stay pending and are sent again later: call-gateway applies them idempotently).
  void Stop(absl::Time deadline = absl::InfiniteFuture());
  // Something new was stored: publish without waiting for the poll interval.
  void Wake();

  // One pass (tests): publishes what is pending, batch after batch. Returns the number of events
  // acknowledged, or the first error (the failed batch stays pending).
  absl::StatusOr<int> PublishPending();

 private:
  void Loop();
  absl::StatusOr<int> PublishBatch();
  // Marks an event that cannot be applied as it is: counted, logged once with its inbox id.
  void Quarantine(pqxx::transaction_base& tx, int64_t id, const std::string& type,
                  const std::string& conversation, std::string_view where,
                  const std::string& reason);
  bool EnsureLeader();
  void SleepFor(absl::Duration d, bool wakeable);

  std::string url_;
  PublisherOptions options_;
  IngestMetrics* metrics_;
  GatewayToken token_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::CallEventSink::Stub> stub_;
  std::unique_ptr<pqxx::connection> conn_;
  bool leader_ = false;
  std::mt19937_64 rng_{std::random_device{}()};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool woken_ = false;
  bool loop_done_ = false;
  bool cancel_rpcs_ = false;           // Stop's deadline passed: cancel what is in flight
  grpc::ClientContext* in_flight_ = nullptr;  // the ApplyEvents being sent, under mu_
  std::thread thread_;
};

}  // namespace outcall::webhook_ingest
