// Sends post-call webhooks as ElevenLabs does: the {type, event_timestamp, data} envelope,
// "ElevenLabs-Signature: t=<secs>,v0=<hex HMAC-SHA256 of t.body>", audio with chunked transfer
// encoding, one attempt by default (HIPAA workspaces) or the documented retry schedule, and
// auto-disable after repeated failures. Fault switches bend each of these rules for tests.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "clock.h"
#include "sim_config.h"

namespace outcall::sim {

// One fault switch. `remaining` deliveries are affected (-1: until cleared).
struct WebhookFault {
  std::string kind;  // see kWebhookFaultKinds
  std::string type;  // only webhooks of this type ("" = any)
  int remaining = 1;
  int64_t bytes = 20 * 1024 * 1024;  // huge_audio: size of the MP3 before base64
};
extern const std::vector<std::string_view> kWebhookFaultKinds;

class WebhookSender {
 public:
  WebhookSender(const SimConfig& config, VirtualClock& clock);
  ~WebhookSender();

  void Start();
  void Stop();

  // Builds the envelope (event_timestamp = `event_time`), applies the first matching fault and
  // queues the delivery.
  void Send(std::string_view type, std::string_view conversation_id, boost::json::object data,
            absl::Time event_time);

  void SetFaults(std::vector<WebhookFault> faults);
  boost::json::array FaultsJson() const;
  void SetRetry(bool enabled);
  bool retry() const;
  // Forgets deliveries, faults, counters and the disabled state.
  void Reset();
  // Re-plans waits after the virtual clock moved.
  void Wake();

  // The delivery log and counters for the control endpoint.
  boost::json::object Snapshot() const;
  boost::json::object Counters() const;
  // As GET /v1/workspace/webhooks lists it.
  boost::json::object WorkspaceWebhook() const;
  // True when nothing is due, held or being sent (retries may wait for a later time).
  bool Idle() const;

 private:
  struct Delivery {
    uint64_t seq = 0;
    std::string type;
    std::string conversation_id;
    std::string body;
    int attempt = 1;
    absl::Time due;  // simulated time
    std::string fault;
    bool hold = false;
  };
  struct Outcome {
    long status = 0;
    std::string error;
  };

  void Run();
  Outcome Post(const Delivery& d);
  std::string SignatureHeader(const Delivery& d) const;
  void Record(const Delivery& d, const Outcome& o, std::string_view result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AfterAttempt(Delivery d, const Outcome& o) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Enqueue(Delivery d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SimConfig& config_;
  VirtualClock& clock_;
  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<Delivery> queue_ ABSL_GUARDED_BY(mu_);  // ordered by (due, seq)
  std::optional<Delivery> held_ ABSL_GUARDED_BY(mu_);
  absl::Time held_since_ ABSL_GUARDED_BY(mu_);
  bool in_flight_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<WebhookFault> faults_ ABSL_GUARDED_BY(mu_);
  bool retry_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  boost::json::array log_ ABSL_GUARDED_BY(mu_);
  boost::json::object counters_ ABSL_GUARDED_BY(mu_);
  int consecutive_failures_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<absl::Time> last_success_ ABSL_GUARDED_BY(mu_);
  std::optional<absl::Time> last_failure_ ABSL_GUARDED_BY(mu_);
  long last_failure_code_ ABSL_GUARDED_BY(mu_) = 0;
  bool auto_disabled_ ABSL_GUARDED_BY(mu_) = false;
  int pending_retries_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread worker_;
};

}  // namespace outcall::sim
