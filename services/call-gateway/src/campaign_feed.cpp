#include "campaign_feed.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <pqxx/pqxx>

#include "outcall/common/strings.h"

namespace outcall::call_gateway {

namespace json = boost::json;

namespace {

constexpr const char* kChannel = "outcall_campaigns";

class Receiver final : public pqxx::notification_receiver {
 public:
  Receiver(pqxx::connection_base& conn, CampaignFeed& feed)
      : pqxx::notification_receiver(conn, kChannel), feed_(feed) {}
  void operator()(const std::string& payload, int) override { feed_.OnNotification(payload); }

 private:
  CampaignFeed& feed_;
};

std::string Text(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : "";
}

}  // namespace

CampaignFeed::CampaignFeed(CampaignFeedOptions options, Campaigns& campaigns, CallEventHub& hub,
                           const common::Clock& clock)
    : options_(std::move(options)), campaigns_(campaigns), hub_(hub), clock_(clock) {}

CampaignFeed::~CampaignFeed() { Stop(); }

void CampaignFeed::Start() {
  if (options_.database_url.empty() || thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void CampaignFeed::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void CampaignFeed::Run() {
  absl::Duration backoff = absl::Milliseconds(100);
  const long poll_us = static_cast<long>(absl::ToInt64Microseconds(options_.poll));
  while (!stop_) {
    try {
      pqxx::connection conn(options_.database_url);
      Receiver receiver(conn, *this);
      backoff = absl::Milliseconds(100);
      Flush(true);  // what changed while nobody listened
      while (!stop_) {
        conn.await_notification(poll_us / 1000000, poll_us % 1000000);
        Flush(false);
      }
    } catch (const std::exception& e) {
      // libpq's message names the server, never the URL's password.
      spdlog::warn("campaign feed: connection lost ({}); reconnecting in {} ms", e.what(),
                   absl::ToInt64Milliseconds(backoff));
      for (absl::Duration slept; slept < backoff && !stop_; slept += absl::Milliseconds(50))
        absl::SleepFor(absl::Milliseconds(50));
      backoff = std::min(backoff * 2, options_.reconnect_max);
    }
  }
}

void CampaignFeed::OnNotification(const std::string& payload) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec || !v.is_object()) return;
  const json::object& o = v.as_object();
  const json::value* c = o.if_contains("c");
  if (!c || !c->is_int64()) return;
  const int64_t row = c->as_int64();
  if (!hub_.Watched(row)) return;
  if (o.contains("s")) {  // the campaign's own state: a snapshot at once
    Snapshot(row);
    return;
  }
  watched_[row].dirty = true;
  const json::value* r = o.if_contains("r");
  if (!r || !r->is_int64()) return;  // recipients added: the next snapshot counts them
  if (watched_[row].uuid.empty()) Snapshot(row);
  v1::CampaignUpdate u;
  u.set_campaign_id(watched_[row].uuid);
  *u.mutable_at() = google::protobuf::util::TimeUtil::MicrosecondsToTimestamp(
      absl::ToUnixMicros(clock_.Now()));
  v1::RecipientTransition& t = *u.mutable_transition();
  t.set_recipient_id(r->as_int64());
  t.set_from_state(Text(o, "f"));
  t.set_to_state(Text(o, "t"));
  t.set_outcome(Text(o, "o"));
  if (const json::value* a = o.if_contains("a"); a && a->is_int64())
    t.set_attempts(static_cast<int32_t>(a->as_int64()));
  hub_.PublishCampaign(row, u);
}

void CampaignFeed::Flush(bool all) {
  const auto now = std::chrono::steady_clock::now();
  const auto every = absl::ToChronoMilliseconds(options_.snapshot_every);
  const std::vector<int64_t> rows = hub_.WatchedCampaigns();
  // Campaigns nobody watches any more are forgotten.
  std::erase_if(watched_, [&](const auto& w) {
    return !std::binary_search(rows.begin(), rows.end(), w.first);
  });
  for (int64_t row : rows) {
    auto it = watched_.find(row);
    const bool due = it == watched_.end() || now - it->second.snapshot >= every;
    if (due && (all || (it != watched_.end() && it->second.dirty))) Snapshot(row);
  }
}

void CampaignFeed::Snapshot(int64_t row) {
  auto s = campaigns_.Snapshot(row);
  if (!s.ok()) {
    spdlog::warn("campaign feed: no snapshot of campaign row {}: {}", row,
                 common::ToStd(s.status().message()));
    return;
  }
  watched_[row] = {s->campaign_id(), false, std::chrono::steady_clock::now()};
  hub_.PublishCampaign(row, *s);
}

}  // namespace outcall::call_gateway
