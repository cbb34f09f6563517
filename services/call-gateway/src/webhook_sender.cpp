#include "webhook_sender.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

#include "absl/synchronization/mutex.h"
#include "outcall/common/standard_webhooks.h"
#include "outcall/common/strings.h"

namespace outcall::call_gateway {

using common::Cat;

namespace {

constexpr size_t kMaxErrorChars = 200;

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", t, absl::UTCTimeZone());
}

}  // namespace

WebhookSender::WebhookSender(WebhookSenderOptions options, WebhookStore& store,
                             const common::Clock& clock, std::function<double()> random01,
                             GatewayMetrics& metrics)
    : options_(std::move(options)),
      store_(store),
      clock_(clock),
      random01_(std::move(random01)),
      metrics_(metrics),
      http_({.max_response_bytes = 4096,
             .user_agent = "outcall-webhooks/1",
             .ca_file = options_.ca_file}),
      workers_(std::make_unique<common::BlockingExecutor>(std::max(1, options_.workers),
                                                          std::max(1, options_.batch))) {}

WebhookSender::~WebhookSender() { Stop(); }

absl::Duration WebhookSender::Backoff(const WebhookSenderOptions& o, int round_attempt,
                                      double unit) {
  const int n = std::clamp(round_attempt, 1, 40);
  absl::Duration d = o.retry_base * std::pow(2.0, n - 1);
  if (d > o.retry_max) d = o.retry_max;
  return d * (0.5 + 0.5 * std::clamp(unit, 0.0, 1.0));
}

DeliveryResult WebhookSender::Deliver(const DueDelivery& d) {
  DeliveryResult r;
  r.id = d.id;
  r.attempt = d.attempt;
  const absl::Time start = clock_.Now();
  r.at = start;
  const std::string body = Cat(R"({"type":")", d.event_type, R"(","timestamp":")",
                               Rfc3339(d.event_at), R"(","data":)", d.data_json, "}");
  const int64_t ts = absl::ToUnixSeconds(start);
  auto signature = common::standard_webhooks::Sign(d.secrets, d.event_id, ts, body);
  if (!signature.ok()) {
    r.error = std::string(signature.status().message());
  } else {
    common::HttpRequest req;
    req.method = "POST";
    req.url = d.url;
    req.timeout = options_.timeout;
    req.safe_to_repeat = true;  // receivers drop a repeat by its webhook-id: keep-alive is fine
    req.body = body;
    req.headers = {{"content-type", "application/json"},
                   {"webhook-id", d.event_id},
                   {"webhook-timestamp", std::to_string(ts)},
                   {"webhook-signature", *signature}};
    auto resp = http_.Send(req);
    if (!resp.ok()) {
      r.error = std::string(resp.status().message()).substr(0, kMaxErrorChars);
    } else {
      r.http_status = static_cast<int>(resp->status);
      r.ok = resp->status >= 200 && resp->status < 300;
      if (!r.ok) r.error = Cat("HTTP ", resp->status);
    }
  }
  const absl::Time end = clock_.Now();
  r.duration_ms = static_cast<int>(absl::ToInt64Milliseconds(end - start));
  if (r.ok) {
    metrics_.Webhook("delivered", end - d.event_at);
    return r;
  }
  const absl::Time next = end + Backoff(options_, d.round_attempt, random01_());
  if (next - d.queued_at > options_.retry_period) {
    r.give_up = true;
    metrics_.Webhook("failed", absl::ZeroDuration());
  } else {
    r.next_attempt_at = next;
    metrics_.Webhook("retry", absl::ZeroDuration());
  }
  return r;
}

absl::StatusOr<int> WebhookSender::RunOnce() {
  const absl::Time now = clock_.Now();
  auto due = store_.Claim(options_.owner, now, options_.batch, options_.lease);
  if (!due.ok()) return due.status();
  if (due->empty()) return 0;
  // A delivery not started while a whole request still fits in its lease is given back rather
  // than sent late: another replica may have claimed it (and the next event of its subject) by
  // the time it would be sent.
  const absl::Time start_by = now + options_.lease - options_.timeout;
  struct Shared {
    absl::Mutex mu;
    std::vector<DeliveryResult> done ABSL_GUARDED_BY(mu);
    std::vector<int64_t> skipped ABSL_GUARDED_BY(mu);
    int left ABSL_GUARDED_BY(mu) = 0;
  };
  auto shared = std::make_shared<Shared>();
  {
    absl::MutexLock lock(&shared->mu);
    shared->left = static_cast<int>(due->size());
  }
  for (const DueDelivery& d : *due) {
    auto task = [this, d, shared, start_by] {
      std::optional<DeliveryResult> r;
      if (clock_.Now() <= start_by) r = Deliver(d);
      absl::MutexLock lock(&shared->mu);
      if (r) {
        shared->done.push_back(std::move(*r));
      } else {
        shared->skipped.push_back(d.id);
      }
      --shared->left;
    };
    if (!workers_->TrySubmit(task)) task();  // the pool holds `batch`: only when stopping
  }
  // Results are written as they come, at least every 100 ms: a crash loses the answers of that
  // moment only (sent again after the lease, same webhook-id), not those of the whole pass.
  int attempted = 0;
  absl::Status first_error;
  for (bool finished = false; !finished;) {
    std::vector<DeliveryResult> results;
    std::vector<int64_t> skipped;
    {
      absl::MutexLock lock(&shared->mu);
      shared->mu.AwaitWithTimeout(absl::Condition(
                                      +[](Shared* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) {
                                        return s->left == 0 || s->done.size() >= 64;
                                      },
                                      shared.get()),
                                  absl::Milliseconds(100));
      results.swap(shared->done);
      skipped.swap(shared->skipped);
      finished = shared->left == 0;
    }
    for (const DeliveryResult& r : results) {
      if (!r.ok) {
        spdlog::info("webhook delivery {} attempt {} failed: {}{}", r.id, r.attempt, r.error,
                     r.give_up ? " (retry period over: failed)" : "");
      }
    }
    attempted += static_cast<int>(results.size());
    // A failed write leaves the leases to run out: the deliveries are sent again, never lost.
    if (auto s = store_.Complete(options_.owner, results, options_.disable, clock_.Now());
        !s.ok() && first_error.ok()) {
      first_error = s;
    }
    if (auto s = store_.Release(options_.owner, skipped); !s.ok() && first_error.ok()) {
      first_error = s;
    }
  }
  if (!first_error.ok()) return first_error;
  return attempted;
}

void WebhookSender::Start() {
  stopping_ = false;
  loop_.Start(options_.poll, [this] {
    while (!stopping_) {
      auto n = RunOnce();
      if (!n.ok()) {
        spdlog::warn("webhook sender: {}", common::ToStd(n.status().message()));
        return;
      }
      if (*n < options_.batch) return;  // caught up: wait for the next poll
    }
  });
}

void WebhookSender::Stop() {
  stopping_ = true;
  loop_.Stop();
}

}  // namespace outcall::call_gateway
