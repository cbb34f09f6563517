#include "outbound_webhooks.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <boost/url/parse.hpp>
#include <set>

#include "call_repository.h"
#include "outcall/common/standard_webhooks.h"
#include "outcall/common/strings.h"

namespace outcall::call_gateway {

using common::Cat;
using google::protobuf::util::TimeUtil;

namespace {

constexpr size_t kKeyBytes = 32;

google::protobuf::Timestamp Ts(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

std::optional<absl::Time> TimeOf(const google::protobuf::Timestamp& t, bool present) {
  if (!present) return std::nullopt;
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(t));
}

v1::WebhookSubscription ToProto(const SubscriptionRow& s) {
  v1::WebhookSubscription out;
  out.set_subscription_id(s.uuid);
  out.set_url(s.url);
  for (const auto& t : s.event_types) out.add_event_types(t);
  out.set_full_data(s.full_data);
  out.set_description(s.description);
  out.set_state(s.state);
  out.set_disabled_reason(s.disabled_reason);
  if (s.disabled_at) *out.mutable_disabled_at() = Ts(*s.disabled_at);
  out.set_failure_streak(s.failure_streak);
  if (s.failing_since) *out.mutable_failing_since() = Ts(*s.failing_since);
  if (s.last_success_at) *out.mutable_last_success_at() = Ts(*s.last_success_at);
  out.set_pending(s.pending);
  out.set_secret_version(s.secret_version);
  *out.mutable_created_at() = Ts(s.created_at);
  return out;
}

absl::StatusOr<std::vector<std::string>> Types(
    const google::protobuf::RepeatedPtrField<std::string>& in) {
  if (in.empty()) return absl::InvalidArgumentError("eventTypes: at least one event type");
  std::set<std::string> seen;
  std::vector<std::string> out;
  const auto& known = WebhookEventTypes();
  for (const std::string& t : in) {
    if (std::find(known.begin(), known.end(), t) == known.end()) {
      return absl::InvalidArgumentError(
          Cat("eventTypes: unknown event type \"", t, "\"; one of ", common::Join(known, ", ")));
    }
    if (seen.insert(t).second) out.push_back(t);
  }
  return out;
}

absl::Status CheckId(const std::string& id) {
  if (id.size() != 36) {
    return absl::InvalidArgumentError("subscriptionId: not a subscription id (a UUID)");
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> Before(const std::string& token) {
  if (token.empty()) return 0;
  int64_t id = 0;
  if (!common::ParseInt(token, &id) || id <= 0) {
    return absl::InvalidArgumentError("pageToken: not a token this API returned");
  }
  return id;
}

absl::StatusOr<int> PageSize(int n, int def, int max) {
  if (n < 0 || n > max) {
    return absl::InvalidArgumentError(Cat("pageSize: between 1 and ", max, " (0: ", def, ")"));
  }
  return n == 0 ? def : n;
}

}  // namespace

const std::vector<std::string>& WebhookEventTypes() {
  static const std::vector<std::string> types = {
      "call.completed",       "call.failed",
      "appointment.confirmed", "appointment.reschedule_requested",
      "appointment.canceled", "patient.opted_out",
      "campaign.completed",   "campaign.auto_paused"};
  return types;
}

std::string OutboundWebhooks::UrlProblem(const std::string& url) {
  auto u = boost::urls::parse_absolute_uri(url);
  if (!u) return "url: not an absolute URL";
  const std::string scheme = common::ToLower(std::string(u->scheme()));
  const std::string host = common::ToLower(std::string(u->host()));
  if (host.empty()) return "url: no host";
  if (!u->userinfo().empty()) return "url: credentials in the URL are not accepted";
  if (u->has_fragment()) return "url: a fragment (#...) is not sent; remove it";
  if (scheme == "https") return "";
  if (scheme == "http" &&
      (host == "localhost" || host == "127.0.0.1" || host == "[::1]" || host.rfind("127.", 0) == 0)) {
    return "";  // a receiver on this machine
  }
  return "url: https is required (http only to a loopback address)";
}

std::string OutboundWebhooks::NewKey() {
  return common::standard_webhooks::SecretFromKey(random_bytes_(kKeyBytes))
      .substr(common::standard_webhooks::kSecretPrefix.size());
}

absl::StatusOr<v1::WebhookSubscription> OutboundWebhooks::Create(
    const std::string& principal, const std::string& idem_key,
    const v1::CreateWebhookSubscriptionRequest& r) {
  SubscriptionRow s;
  s.url = std::string(common::Trim(r.url()));
  if (auto p = UrlProblem(s.url); !p.empty()) return absl::InvalidArgumentError(p);
  auto types = Types(r.event_types());
  if (!types.ok()) return types.status();
  s.event_types = *types;
  s.full_data = r.full_data();
  s.description = std::string(common::Trim(r.description()));
  if (s.description.size() > 500) {
    return absl::InvalidArgumentError("description: at most 500 characters");
  }
  std::string key = NewKey();
  auto row = store_.Create(s, &key, principal, idem_key, RequestSha256(r));
  if (!row.ok()) return row.status();
  v1::WebhookSubscription out = ToProto(*row);
  out.set_secret(Cat(common::standard_webhooks::kSecretPrefix, key));
  return out;
}

absl::StatusOr<v1::ListWebhookSubscriptionsResponse> OutboundWebhooks::List() {
  auto rows = store_.List();
  if (!rows.ok()) return rows.status();
  v1::ListWebhookSubscriptionsResponse out;
  for (const auto& s : *rows) *out.add_subscriptions() = ToProto(s);
  return out;
}

absl::StatusOr<v1::WebhookSubscription> OutboundWebhooks::Get(const v1::WebhookSubscriptionRef& r) {
  if (auto s = CheckId(r.subscription_id()); !s.ok()) return s;
  auto row = store_.Get(r.subscription_id());
  if (!row.ok()) return row.status();
  return ToProto(*row);
}

absl::StatusOr<v1::WebhookSubscription> OutboundWebhooks::Update(
    const v1::UpdateWebhookSubscriptionRequest& r) {
  if (auto s = CheckId(r.subscription_id()); !s.ok()) return s;
  SubscriptionChange c;
  if (r.has_url()) {
    c.url = std::string(common::Trim(r.url()));
    if (auto p = UrlProblem(*c.url); !p.empty()) return absl::InvalidArgumentError(p);
  }
  if (!r.event_types().empty()) {
    auto types = Types(r.event_types());
    if (!types.ok()) return types.status();
    c.event_types = *types;
  }
  if (r.has_full_data()) c.full_data = r.full_data();
  if (r.has_description()) c.description = std::string(common::Trim(r.description()));
  if (r.has_enabled()) c.enabled = r.enabled();
  auto row = store_.Update(r.subscription_id(), c, clock_.Now());
  if (!row.ok()) return row.status();
  return ToProto(*row);
}

absl::StatusOr<v1::WebhookSubscription> OutboundWebhooks::Rotate(
    const v1::RotateWebhookSecretRequest& r) {
  if (auto s = CheckId(r.subscription_id()); !s.ok()) return s;
  if (r.previous_valid_hours() < 0 || r.previous_valid_hours() > 168) {
    return absl::InvalidArgumentError("previousValidHours: between 0 and 168 (0: 24)");
  }
  const int hours = r.previous_valid_hours() == 0 ? 24 : r.previous_valid_hours();
  const std::string key = NewKey();
  auto row = store_.Rotate(r.subscription_id(), key, clock_.Now() + absl::Hours(hours));
  if (!row.ok()) return row.status();
  v1::WebhookSubscription out = ToProto(*row);
  out.set_secret(Cat(common::standard_webhooks::kSecretPrefix, key));
  return out;
}

absl::StatusOr<v1::DeleteWebhookSubscriptionResponse> OutboundWebhooks::Delete(
    const v1::WebhookSubscriptionRef& r) {
  if (auto s = CheckId(r.subscription_id()); !s.ok()) return s;
  if (auto s = store_.Delete(r.subscription_id()); !s.ok()) return s;
  v1::DeleteWebhookSubscriptionResponse out;
  out.set_deleted(true);
  return out;
}

absl::StatusOr<v1::ListWebhookDeliveriesResponse> OutboundWebhooks::Deliveries(
    const v1::ListWebhookDeliveriesRequest& r) {
  if (auto s = CheckId(r.subscription_id()); !s.ok()) return s;
  if (!r.state().empty() && r.state() != "pending" && r.state() != "delivered" &&
      r.state() != "failed") {
    return absl::InvalidArgumentError("state: one of pending, delivered, failed");
  }
  auto before = Before(r.page_token());
  if (!before.ok()) return before.status();
  auto size = PageSize(r.page_size(), 50, 500);
  if (!size.ok()) return size.status();
  auto rows = store_.Deliveries(r.subscription_id(), r.state(), r.event_id(), *before, *size);
  if (!rows.ok()) return rows.status();
  v1::ListWebhookDeliveriesResponse out;
  for (const DeliveryRow& d : *rows) {
    v1::WebhookDelivery* o = out.add_deliveries();
    o->set_event_id(d.event_id);
    o->set_event_type(d.event_type);
    o->set_subject(d.subject);
    o->set_state(d.state);
    o->set_attempts(d.attempts);
    if (d.next_attempt_at) *o->mutable_next_attempt_at() = Ts(*d.next_attempt_at);
    if (d.delivered_at) *o->mutable_delivered_at() = Ts(*d.delivered_at);
    *o->mutable_created_at() = Ts(d.created_at);
    for (const AttemptRow& a : d.log) {
      v1::WebhookAttempt* x = o->add_attempt_log();
      x->set_attempt(a.attempt);
      *x->mutable_at() = Ts(a.at);
      x->set_http_status(a.http_status);
      x->set_error(a.error);
      x->set_duration_ms(a.duration_ms);
    }
  }
  if (static_cast<int>(rows->size()) == *size) {
    out.set_next_page_token(std::to_string(rows->back().id));
  }
  return out;
}

absl::StatusOr<v1::ReplayWebhookEventsResponse> OutboundWebhooks::Replay(
    const v1::ReplayWebhookEventsRequest& r) {
  if (auto s = CheckId(r.subscription_id()); !s.ok()) return s;
  const auto from = TimeOf(r.from(), r.has_from());
  const auto to = TimeOf(r.to(), r.has_to());
  if (r.event_id().empty() && !from) {
    return absl::InvalidArgumentError("replay: eventId, or from (and optionally to)");
  }
  if (!r.event_id().empty() && (from || to)) {
    return absl::InvalidArgumentError("replay: eventId or a time range, not both");
  }
  if (from && to && *to <= *from) return absl::InvalidArgumentError("to: must be after from");
  auto n = store_.Replay(r.subscription_id(), r.event_id(), from, to, clock_.Now());
  if (!n.ok()) return n.status();
  if (!r.event_id().empty() && *n == 0) {
    return absl::NotFoundError("no event " + r.event_id() + " of this subscription's types");
  }
  v1::ReplayWebhookEventsResponse out;
  out.set_queued(*n);
  return out;
}

absl::StatusOr<v1::ListWebhookEventsResponse> OutboundWebhooks::Events(
    const v1::ListWebhookEventsRequest& r) {
  if (!r.type().empty()) {
    const auto& known = WebhookEventTypes();
    if (std::find(known.begin(), known.end(), r.type()) == known.end()) {
      return absl::InvalidArgumentError(Cat("type: unknown event type \"", r.type(), "\""));
    }
  }
  auto before = Before(r.page_token());
  if (!before.ok()) return before.status();
  auto size = PageSize(r.page_size(), 50, 500);
  if (!size.ok()) return size.status();
  auto rows = store_.Events(r.type(), TimeOf(r.since(), r.has_since()), *before, *size);
  if (!rows.ok()) return rows.status();
  v1::ListWebhookEventsResponse out;
  for (const EventRow& e : *rows) {
    v1::WebhookEvent* o = out.add_events();
    o->set_event_id(e.event_id);
    o->set_event_type(e.event_type);
    o->set_subject(e.subject);
    *o->mutable_created_at() = Ts(e.created_at);
    if (!google::protobuf::util::JsonStringToMessage(e.data_json, o->mutable_data()).ok()) {
      return absl::InternalError("an outbox event's data is not a JSON object");
    }
  }
  if (static_cast<int>(rows->size()) == *size) {
    out.set_next_page_token(std::to_string(rows->back().id));
  }
  return out;
}

}  // namespace outcall::call_gateway
