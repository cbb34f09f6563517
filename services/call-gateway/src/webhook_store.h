// Outbound webhooks in PostgreSQL (migration 0023): subscriptions and their versioned secrets,
// the outbox (webhook_events, written by triggers in the transaction of each change), one
// delivery per subscription and event, and the attempt log. The sender claims the due heads of
// each (subscription, subject) queue with FOR UPDATE SKIP LOCKED and a lease, so replicas share
// the work and a crashed sender's deliveries are sent again once its lease ends; results are
// written back for a whole batch in one statement.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "outcall/common/pg_pool.h"
#include "webhook_sender_options.h"

namespace outcall::call_gateway {

struct SubscriptionRow {
  int64_t id = 0;
  std::string uuid, url;
  std::vector<std::string> event_types;
  bool full_data = false;
  std::string description, state, disabled_reason;
  std::optional<absl::Time> disabled_at, failing_since, last_success_at;
  int failure_streak = 0;
  int pending = 0;
  int secret_version = 0;
  absl::Time created_at;
};

struct SubscriptionChange {
  std::optional<std::string> url, description;
  std::optional<std::vector<std::string>> event_types;
  std::optional<bool> full_data, enabled;
};

struct AttemptRow {
  int attempt = 0;
  absl::Time at;
  int http_status = 0;
  std::string error;
  int duration_ms = 0;
};

struct DeliveryRow {
  int64_t id = 0;
  std::string event_id, event_type, subject, state;
  int attempts = 0;
  std::optional<absl::Time> next_attempt_at, delivered_at;
  absl::Time created_at;
  std::vector<AttemptRow> log;
};

struct EventRow {
  int64_t id = 0;
  std::string event_id, event_type, subject, data_json;
  absl::Time created_at;
};

// A delivery the sender holds under its lease.
struct DueDelivery {
  int64_t id = 0;
  int64_t subscription_row = 0;
  int attempt = 0;        // this attempt's number (1-based, over the delivery's life)
  int round_attempt = 0;  // its number since it was last queued (the backoff's exponent)
  absl::Time queued_at;   // when it was last queued (the retry period runs from here)
  std::string url;
  std::string event_id, event_type;
  absl::Time event_at;
  std::string data_json;             // masked unless the subscription has full_data
  std::vector<std::string> secrets;  // base64 keys that sign, newest first
};

struct DeliveryResult {
  int64_t id = 0;
  int attempt = 0;
  bool ok = false;
  int http_status = 0;
  std::string error;
  int duration_ms = 0;
  absl::Time at;
  std::optional<absl::Time> next_attempt_at;  // failed: when to try again
  bool give_up = false;                       // failed after the retry period: state failed
};

class WebhookStore {
 public:
  explicit WebhookStore(common::PgPool& pool) : pool_(pool) {}

  // With a key: a second create with the same principal and key returns the first subscription
  // (duplicate, with its current secret in *secret_b64), or ALREADY_EXISTS when its body differed.
  absl::StatusOr<SubscriptionRow> Create(const SubscriptionRow& s, std::string* secret_b64,
                                         const std::string& created_by,
                                         const std::string& idem_key,
                                         const std::string& request_sha256);
  absl::StatusOr<std::vector<SubscriptionRow>> List();
  absl::StatusOr<SubscriptionRow> Get(const std::string& uuid);
  // Enabling a disabled subscription requeues its pending deliveries from now (a new retry
  // period, due at once, oldest first per subject).
  absl::StatusOr<SubscriptionRow> Update(const std::string& uuid, const SubscriptionChange& c,
                                         absl::Time now);
  // The new secret becomes the current one; the previous current one signs until `previous_until`.
  absl::StatusOr<SubscriptionRow> Rotate(const std::string& uuid, const std::string& secret_b64,
                                         absl::Time previous_until);
  absl::Status Delete(const std::string& uuid);
  absl::StatusOr<std::vector<DeliveryRow>> Deliveries(const std::string& uuid,
                                                      const std::string& state,
                                                      const std::string& event_id,
                                                      int64_t before_id, int limit);
  // Queues again (pending, due now, a new retry period) one event or the events of [from, to)
  // of the subscription's types. The count queued.
  absl::StatusOr<int> Replay(const std::string& uuid, const std::string& event_id,
                             std::optional<absl::Time> from, std::optional<absl::Time> to,
                             absl::Time now);
  absl::StatusOr<std::vector<EventRow>> Events(const std::string& type,
                                               std::optional<absl::Time> since, int64_t before_id,
                                               int limit);

  // The sender's side.
  absl::StatusOr<std::vector<DueDelivery>> Claim(const std::string& owner, absl::Time now,
                                                 int limit, absl::Duration lease);
  absl::Status Complete(const std::string& owner, const std::vector<DeliveryResult>& results,
                        const DisablePolicy& disable, absl::Time now);
  // Gives back claimed deliveries that were not attempted (the lease was nearly over): due
  // again at once, their attempt not counted.
  absl::Status Release(const std::string& owner, const std::vector<int64_t>& ids);

 private:
  common::PgPool& pool_;
};

}  // namespace outcall::call_gateway
