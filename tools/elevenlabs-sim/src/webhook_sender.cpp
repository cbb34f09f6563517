#include "webhook_sender.h"

#include <curl/curl.h>

#include <algorithm>
#include <boost/json.hpp>
#include <random>

#include "mp3.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"
#include "outcall/elevenlabs/webhook_signature.h"
#include "wire.h"

namespace outcall::sim {

namespace json = boost::json;

const std::vector<std::string_view> kWebhookFaultKinds = {
    "drop",              // never sent
    "duplicate",         // sent twice, identical bytes
    "reorder",           // held back and sent after the next webhook
    "bad_signature",     // signed with the wrong secret
    "stale_signature",   // t 31 minutes in the past (correctly signed)
    "future_signature",  // t 10 minutes in the future (correctly signed)
    "missing_signature",
    "spaces_in_signature",  // "t=..., v0=..."
    "v0_first",             // "v0=...,t=..." (valid: parsers must not depend on order)
    "no_envelope",          // the data object alone, without {type, event_timestamp}
    "huge_audio",           // post_call_audio with `bytes` of MP3
};

namespace {

constexpr int kMaxAttempts = 5;
// ElevenLabs' retry schedule after attempt n (1-based): 30 s, 2 min, 8 min, 30 min.
const absl::Duration kRetryDelays[] = {absl::Seconds(30), absl::Minutes(2), absl::Minutes(8),
                                       absl::Minutes(30)};
constexpr int kMaxPendingRetries = 100;
constexpr int kAutoDisableFailures = 10;

bool Retryable(long status) {
  return status == 0 || status >= 500 || status == 429 || status == 408;
}

struct Upload {
  const std::string* body;
  size_t offset = 0;
};

size_t ReadBody(char* out, size_t size, size_t n, void* user) {
  auto* u = static_cast<Upload*>(user);
  const size_t len = std::min(size * n, u->body->size() - u->offset);
  std::memcpy(out, u->body->data() + u->offset, len);
  u->offset += len;
  return len;
}

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

void Bump(json::object& counters, std::string_view type, std::string_view what) {
  auto& per_type = counters[type];
  if (!per_type.is_object()) per_type = json::object();
  auto& v = per_type.as_object()[what];
  v = (v.is_int64() ? v.as_int64() : 0) + 1;
}

}  // namespace

WebhookSender::WebhookSender(const SimConfig& config, VirtualClock& clock)
    : config_(config), clock_(clock), retry_(config.webhook_retry) {}

WebhookSender::~WebhookSender() { Stop(); }

void WebhookSender::Start() {
  absl::MutexLock lock(&mu_);
  if (running_) return;
  running_ = true;
  worker_ = std::thread([this] { Run(); });
}

void WebhookSender::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (!running_) return;
    running_ = false;
    cv_.SignalAll();
  }
  worker_.join();
}

void WebhookSender::Wake() {
  absl::MutexLock lock(&mu_);
  cv_.SignalAll();
}

void WebhookSender::Send(std::string_view type, std::string_view conversation_id, json::object data,
                         absl::Time event_time) {
  absl::MutexLock lock(&mu_);
  WebhookFault applied;
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (!it->type.empty() && it->type != type) continue;
    if (it->kind == "huge_audio" && type != "post_call_audio") continue;
    applied = *it;
    if (it->remaining > 0 && --it->remaining == 0) faults_.erase(it);
    break;
  }
  if (applied.kind == "huge_audio") {
    data["full_audio"] = Base64Encode(SilentMp3OfSize(static_cast<size_t>(applied.bytes)));
  }
  Delivery d;
  d.type = std::string(type);
  d.conversation_id = std::string(conversation_id);
  d.fault = applied.kind;
  d.due = clock_.Now();
  if (applied.kind == "no_envelope") {
    d.body = json::serialize(data);
  } else {
    d.body = json::serialize(json::object{{"type", type},
                                          {"event_timestamp", absl::ToUnixSeconds(event_time)},
                                          {"data", std::move(data)}});
  }
  Bump(counters_, type, "queued");
  if (applied.kind == "drop") {
    d.seq = next_seq_++;
    Record(d, {}, "dropped");
    Bump(counters_, type, "dropped");
    return;
  }
  d.hold = applied.kind == "reorder";
  const int copies = applied.kind == "duplicate" ? 2 : 1;
  for (int i = 0; i < copies; ++i) {
    d.seq = next_seq_++;
    Enqueue(d);
  }
  cv_.SignalAll();
}

void WebhookSender::SetFaults(std::vector<WebhookFault> faults) {
  absl::MutexLock lock(&mu_);
  faults_ = std::move(faults);
}

json::array WebhookSender::FaultsJson() const {
  absl::MutexLock lock(&mu_);
  json::array out;
  for (const auto& f : faults_) {
    json::object o{{"kind", f.kind}, {"remaining", f.remaining}};
    if (!f.type.empty()) o["type"] = f.type;
    if (f.kind == "huge_audio") o["bytes"] = f.bytes;
    out.push_back(std::move(o));
  }
  return out;
}

void WebhookSender::SetRetry(bool enabled) {
  absl::MutexLock lock(&mu_);
  retry_ = enabled;
}

bool WebhookSender::retry() const {
  absl::MutexLock lock(&mu_);
  return retry_;
}

void WebhookSender::Reset() {
  absl::MutexLock lock(&mu_);
  queue_.clear();
  held_.reset();
  faults_.clear();
  log_.clear();
  counters_.clear();
  consecutive_failures_ = 0;
  pending_retries_ = 0;
  last_success_.reset();
  last_failure_.reset();
  last_failure_code_ = 0;
  auto_disabled_ = false;
  retry_ = config_.webhook_retry;
}

json::object WebhookSender::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return json::object{{"url_configured", !config_.webhook_url.empty()},
                      {"retry_enabled", retry_},
                      {"is_auto_disabled", auto_disabled_},
                      {"pending", queue_.size() + (held_ ? 1 : 0) + (in_flight_ ? 1 : 0)},
                      {"deliveries", log_}};
}

json::object WebhookSender::Counters() const {
  absl::MutexLock lock(&mu_);
  return counters_;
}

json::object WebhookSender::WorkspaceWebhook() const {
  absl::MutexLock lock(&mu_);
  json::object w{{"name", "outcall post-call webhook"},
                 {"webhook_id", "wh_sim_postcall"},
                 {"webhook_url", config_.webhook_url},
                 {"is_disabled", false},
                 {"is_auto_disabled", auto_disabled_},
                 {"created_at_unix", 1735689600},
                 {"auth_type", "hmac"},
                 {"retry_enabled", retry_},
                 {"usage", json::array()},
                 {"events", json::array{"transcript", "audio", "call_initiation_failure"}},
                 {"most_recent_failure_error_code", nullptr},
                 {"most_recent_failure_timestamp", nullptr}};
  if (last_failure_) {
    w["most_recent_failure_error_code"] = last_failure_code_;
    w["most_recent_failure_timestamp"] = absl::ToUnixSeconds(*last_failure_);
  }
  return w;
}

bool WebhookSender::Idle() const {
  absl::MutexLock lock(&mu_);
  const bool nothing_due = queue_.empty() || queue_.front().due > clock_.Now();
  return nothing_due && !held_ && !in_flight_;
}

std::string WebhookSender::SignatureHeader(const Delivery& d) const {
  const std::string& secret = config_.webhook_secret.Reveal();
  int64_t t = absl::ToUnixSeconds(absl::Now());  // real time: receivers check it against theirs
  if (d.fault == "stale_signature") t -= 31 * 60;
  if (d.fault == "future_signature") t += 10 * 60;
  if (d.fault == "bad_signature")
    return elevenlabs::SignElevenLabsWebhook("wsec_not_the_secret", t, d.body);
  const std::string header = elevenlabs::SignElevenLabsWebhook(secret, t, d.body);
  const size_t comma = header.find(',');
  if (d.fault == "spaces_in_signature") {
    return common::Cat(header.substr(0, comma + 1), " ", header.substr(comma + 1));
  }
  if (d.fault == "v0_first")
    return common::Cat(header.substr(comma + 1), ",", header.substr(0, comma));
  return header;
}

WebhookSender::Outcome WebhookSender::Post(const Delivery& d) {
  Outcome out;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) return {0, "curl_easy_init failed"};
  curl_slist* headers = nullptr;
  headers = curl_slist_append(headers, "Content-Type: application/json");
  headers = curl_slist_append(headers, "Expect:");
  const bool chunked = d.type == "post_call_audio";
  if (chunked) headers = curl_slist_append(headers, "Transfer-Encoding: chunked");
  std::string signature;
  if (d.fault != "missing_signature") {
    signature = common::Cat("ElevenLabs-Signature: ", SignatureHeader(d));
    headers = curl_slist_append(headers, signature.c_str());
  }
  Upload upload{&d.body};
  curl_easy_setopt(curl, CURLOPT_URL, config_.webhook_url.c_str());
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "ElevenLabs-Webhooks (elevenlabs-sim)");
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  if (chunked) {
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadBody);
    curl_easy_setopt(curl, CURLOPT_READDATA, &upload);
  } else {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, d.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(d.body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, Discard);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, static_cast<long>(config_.webhook_timeout_secs));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(curl, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
  if (!config_.webhook_ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, config_.webhook_ca_file.c_str());
  }
  const CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.status);
  } else {
    out.error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  return out;
}

void WebhookSender::Record(const Delivery& d, const Outcome& o, std::string_view result) {
  json::object entry{{"seq", d.seq},
                     {"type", d.type},
                     {"conversation_id", d.conversation_id},
                     {"attempt", d.attempt},
                     {"result", result},
                     {"status", o.status},
                     {"bytes", d.body.size()},
                     {"sent_at_unix_ms", absl::ToUnixMillis(absl::Now())}};
  if (!d.fault.empty()) entry["fault"] = d.fault;
  if (!o.error.empty()) entry["error"] = o.error;
  log_.push_back(std::move(entry));
  constexpr size_t kMaxLog = 2000;
  if (log_.size() > kMaxLog) log_.erase(log_.begin());
}

void WebhookSender::AfterAttempt(Delivery d, const Outcome& o) {
  const absl::Time now = clock_.Now();
  if (o.status == 200) {
    consecutive_failures_ = 0;
    last_success_ = now;
    Record(d, o, "delivered");
    Bump(counters_, d.type, "delivered");
    return;
  }
  ++consecutive_failures_;
  last_failure_ = now;
  last_failure_code_ = o.status;
  Record(d, o, "failed");
  Bump(counters_, d.type, "failed");
  spdlog::warn("webhook {} for a conversation failed: status {} {}", d.type, o.status, o.error);
  if (consecutive_failures_ >= kAutoDisableFailures &&
      (!last_success_ || now - *last_success_ > absl::Hours(24 * 7))) {
    if (!auto_disabled_)
      spdlog::warn("webhook auto-disabled after {} consecutive failures", consecutive_failures_);
    auto_disabled_ = true;
  }
  // Only transcriptions are retried, only when enabled, only on 5xx/429/408 (and no answer).
  if (!retry_ || d.type != "post_call_transcription" || !Retryable(o.status) ||
      d.attempt >= kMaxAttempts || pending_retries_ >= kMaxPendingRetries) {
    return;
  }
  static thread_local std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> jitter(1.0, 1.1);
  d.due = now + kRetryDelays[d.attempt - 1] * jitter(rng);
  ++d.attempt;
  d.hold = false;
  ++pending_retries_;
  Enqueue(std::move(d));
}

void WebhookSender::Enqueue(Delivery d) {
  auto pos =
      std::find_if(queue_.begin(), queue_.end(), [&](const Delivery& q) { return q.due > d.due; });
  queue_.insert(pos, std::move(d));
}

void WebhookSender::Run() {
  absl::MutexLock lock(&mu_);
  while (running_) {
    const absl::Time now = clock_.Now();
    std::optional<Delivery> next;
    // A held (reordered) webhook goes out after the next one, or after 2 s on its own.
    if (held_ && absl::Now() - held_since_ > absl::Seconds(2)) {
      next = std::move(held_);
      held_.reset();
    } else if (!queue_.empty() && queue_.front().due <= now) {
      next = std::move(queue_.front());
      queue_.pop_front();
      if (next->hold && !held_) {
        next->hold = false;
        held_ = std::move(next);
        held_since_ = absl::Now();
        continue;
      }
    }
    if (!next) {
      absl::Duration wait = absl::Seconds(1);
      if (!queue_.empty()) wait = std::min(wait, clock_.RealDelayUntil(queue_.front().due));
      if (held_) wait = std::min(wait, absl::Milliseconds(100));
      cv_.WaitWithTimeout(&mu_, std::max(wait, absl::Milliseconds(1)));
      continue;
    }
    if (next->attempt > 1) --pending_retries_;
    if (auto_disabled_) {
      Record(*next, {}, "skipped_disabled");
      Bump(counters_, next->type, "skipped_disabled");
      continue;
    }
    if (config_.webhook_url.empty()) {
      Record(*next, {}, "no_url");
      continue;
    }
    in_flight_ = true;
    Bump(counters_, next->type, "attempts");
    mu_.Unlock();
    const Outcome outcome = Post(*next);
    mu_.Lock();
    in_flight_ = false;
    AfterAttempt(std::move(*next), outcome);
    if (held_) {  // the reordered one follows the delivery that overtook it
      queue_.push_front(std::move(*held_));
      queue_.front().due = clock_.Now();
      held_.reset();
    }
  }
}

}  // namespace outcall::sim
