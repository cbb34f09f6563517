// The control endpoint (/__sim/...) for tests and demos: health, reset, counters, scenarios,
// fault switches, the virtual clock, settings and the webhook log. routes.cpp parses the body and
// picks the handler; an update answers what a GET would after it.
#include <algorithm>
#include <boost/json.hpp>

#include "outcall/common/logging.h"
#include "outcall/common/strings.h"
#include "simulator.h"
#include "simulator_internal.h"

namespace outcall::sim {

namespace json = boost::json;

namespace {

Reply Bad(std::string msg) { return JsonReply(400, json::object{{"error", std::move(msg)}}); }

}  // namespace

Reply Simulator::SimHealth(const json::object&) {
  return JsonReply(200, json::object{{"status", "ok"}});
}

Reply Simulator::SimReset(const json::object&) {
  {
    absl::MutexLock lock(&mu_);
    conversations_.clear();
    by_call_sid_.clear();
    events_ = {};
    number_scenarios_.clear();
    default_scenario_ = Scenario::kConfirmed;
    outbound_faults_.clear();
    max_concurrent_calls_ = config_.max_concurrent_calls;
    override_policy_ = config_.override_policy;
    outbound_requests_ = calls_placed_ = hangups_ = 0;
    dialled_by_number_.clear();
    dialled_by_correlation_.clear();
    requests_by_route_.clear();
    outbound_by_status_.clear();
  }
  webhooks_.Reset();
  clock_.SetScale(config_.time_scale);
  return JsonReply(200, json::object{{"reset", true}});
}

Reply Simulator::SimCounters(const json::object&) {
  json::object out;
  {
    absl::MutexLock lock(&mu_);
    auto to_json = [](const std::map<std::string, int64_t>& m) {
      json::object o;
      for (const auto& [k, v] : m)
        if (v != 0) o[k] = v;
      return o;
    };
    int live = LiveCalls();
    out = json::object{{"outbound_call_requests", outbound_requests_},
                       {"calls_placed", calls_placed_},
                       {"live_calls", live},
                       {"hangup_requests", hangups_},
                       {"dialled_by_number", to_json(dialled_by_number_)},
                       {"dialled_by_correlation_id", to_json(dialled_by_correlation_)},
                       {"outbound_responses", to_json(outbound_by_status_)},
                       {"requests", to_json(requests_by_route_)}};
  }
  out["webhooks"] = webhooks_.Counters();
  return JsonReply(200, out);
}

Reply Simulator::SimScenarios(const json::object&) {
  absl::MutexLock lock(&mu_);
  json::array available;
  for (const auto& info : AllScenarios()) {
    available.push_back(json::object{
        {"name", info.name},
        {"description", info.description},
        {"example_number", common::Cat("+57300555000", std::string(1, info.suffix_digit))}});
  }
  json::object numbers;
  for (const auto& [num, s] : number_scenarios_) numbers[num] = ScenarioName(s);
  return JsonReply(200, json::object{{"default", ScenarioName(default_scenario_)},
                                     {"numbers", std::move(numbers)},
                                     {"available", std::move(available)}});
}

Reply Simulator::SimSetScenarios(const json::object& body) {
  {
    absl::MutexLock lock(&mu_);
    if (const json::value* d = Field(body, "default")) {
      auto s = d->is_string() ? ScenarioFromName(d->as_string()) : std::nullopt;
      if (!s) return Bad("default: unknown scenario");
      default_scenario_ = *s;
    }
    if (const json::value* nums = Field(body, "numbers")) {
      if (!nums->is_object()) return Bad("numbers: must be an object of E.164 number -> scenario");
      for (const auto& kv : nums->as_object()) {
        if (!IsE164(kv.key()))
          return Bad(
              common::Cat("numbers: '", std::string_view(kv.key()), "' is not an E.164 number"));
        if (kv.value().is_null()) {
          number_scenarios_.erase(std::string(kv.key()));
          continue;
        }
        auto s = kv.value().is_string() ? ScenarioFromName(kv.value().as_string()) : std::nullopt;
        if (!s)
          return Bad(common::Cat("numbers: unknown scenario for ", std::string_view(kv.key())));
        number_scenarios_[std::string(kv.key())] = *s;
      }
    }
  }
  return SimScenarios(body);
}

Reply Simulator::SimFaults(const json::object&) {
  json::array outbound;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& f : outbound_faults_) {
      json::object o{{"kind", f.kind}, {"remaining", f.remaining}};
      if (f.kind == "error") {
        o["status"] = f.status;
        o["place_call"] = f.place_call;
      }
      if (f.delay_ms) o["delay_ms"] = f.delay_ms;
      if (!f.to_number.empty()) o["to_number"] = common::MaskPhone(f.to_number);
      outbound.push_back(std::move(o));
    }
  }
  return JsonReply(
      200, json::object{{"outbound", std::move(outbound)}, {"webhooks", webhooks_.FaultsJson()}});
}

Reply Simulator::SimSetFaults(const json::object& body) {
  std::vector<OutboundFault> outbound;
  std::vector<WebhookFault> hooks;
  auto remaining = [](const json::object& o) {
    const json::value* t = Field(o, "times");
    return t && t->is_int64() ? (t->as_int64() == 0 ? -1 : static_cast<int>(t->as_int64())) : 1;
  };
  auto str = [](const json::object& o, std::string_view k) {
    const json::value* v = Field(o, k);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  auto num = [](const json::object& o, std::string_view k, int64_t d) {
    const json::value* v = Field(o, k);
    return v && v->is_int64() ? v->as_int64() : d;
  };
  if (const json::value* list = Field(body, "outbound")) {
    if (!list->is_array()) return Bad("outbound: must be an array");
    for (const auto& item : list->as_array()) {
      if (!item.is_object()) return Bad("outbound: items must be objects");
      const auto& o = item.as_object();
      OutboundFault f;
      f.kind = str(o, "kind");
      if (f.kind != "error" && f.kind != "slow" && f.kind != "lost_response" &&
          f.kind != "success_false") {
        return Bad("outbound: kind must be error, slow, lost_response or success_false");
      }
      f.status = static_cast<int>(num(o, "status", 503));
      if (f.status < 400 || f.status > 599) return Bad("outbound: status must be 400-599");
      f.type = str(o, "type");
      f.code = str(o, "code");
      f.message = str(o, "message");
      f.retry_after = static_cast<int>(num(o, "retry_after", 0));
      f.delay_ms = static_cast<int>(num(o, "delay_ms", f.kind == "slow" ? 2000 : 0));
      const json::value* legacy = Field(o, "legacy");
      f.legacy = legacy && legacy->is_bool() && legacy->as_bool();
      const json::value* place = Field(o, "place_call");
      f.place_call = place && place->is_bool() && place->as_bool();
      f.to_number = str(o, "to_number");
      f.remaining = remaining(o);
      outbound.push_back(std::move(f));
    }
  }
  if (const json::value* list = Field(body, "webhooks")) {
    if (!list->is_array()) return Bad("webhooks: must be an array");
    for (const auto& item : list->as_array()) {
      if (!item.is_object()) return Bad("webhooks: items must be objects");
      const auto& o = item.as_object();
      WebhookFault f;
      f.kind = str(o, "kind");
      if (std::find(kWebhookFaultKinds.begin(), kWebhookFaultKinds.end(), f.kind) ==
          kWebhookFaultKinds.end()) {
        return Bad(common::Cat("webhooks: unknown kind '", f.kind, "'"));
      }
      f.type = str(o, "type");
      f.bytes = num(o, "bytes", f.bytes);
      if (f.bytes < 1 || f.bytes > (int64_t{512} << 20))
        return Bad("webhooks: bytes must be 1..512 MiB");
      f.remaining = remaining(o);
      hooks.push_back(std::move(f));
    }
  }
  if (Field(body, "outbound")) {
    absl::MutexLock lock(&mu_);
    outbound_faults_ = std::move(outbound);
  }
  if (Field(body, "webhooks")) webhooks_.SetFaults(std::move(hooks));
  return SimFaults(body);
}

Reply Simulator::SimClearFaults(const json::object& body) {
  {
    absl::MutexLock lock(&mu_);
    outbound_faults_.clear();
  }
  webhooks_.SetFaults({});
  return SimFaults(body);
}

Reply Simulator::SimClock(const json::object&) {
  return JsonReply(200, json::object{{"now_unix_ms", absl::ToUnixMillis(clock_.Now())},
                                     {"real_now_unix_ms", absl::ToUnixMillis(absl::Now())},
                                     {"scale", clock_.scale()}});
}

Reply Simulator::SimSetClock(const json::object& body) {
  if (const json::value* s = Field(body, "scale")) {
    if (!s->is_number() || s->to_number<double>() < 0) return Bad("scale: must be a number >= 0");
    clock_.SetScale(s->to_number<double>());
  }
  if (const json::value* a = Field(body, "advance_secs")) {
    if (!a->is_number() || a->to_number<double>() < 0)
      return Bad("advance_secs: must be a number >= 0");
    // Step in small increments so every event in between fires in order.
    double left = a->to_number<double>();
    while (left > 0) {
      const double step = std::min(left, 1.0);
      clock_.Advance(absl::Seconds(step));
      left -= step;
      for (int i = 0; i < 200; ++i) {  // let due events run before the next step
        bool pending = false;
        {
          absl::MutexLock lock(&mu_);
          pending = !events_.empty() && events_.top().at <= clock_.Now();
        }
        if (!pending) break;
        absl::SleepFor(absl::Milliseconds(1));
      }
    }
  }
  return SimClock(body);
}

Reply Simulator::SimSettings(const json::object&) {
  absl::MutexLock lock(&mu_);
  return JsonReply(200, json::object{{"max_concurrent_calls", max_concurrent_calls_},
                                     {"webhook_retry", webhooks_.retry()},
                                     {"override_policy", override_policy_},
                                     {"webhook_url_configured", !config_.webhook_url.empty()},
                                     {"twilio_configured", !config_.twilio_account_sid.empty()}});
}

Reply Simulator::SimSetSettings(const json::object& body) {
  if (const json::value* v = Field(body, "max_concurrent_calls")) {
    if (!v->is_int64() || v->as_int64() < 1)
      return Bad("max_concurrent_calls: must be an integer >= 1");
    absl::MutexLock lock(&mu_);
    max_concurrent_calls_ = static_cast<int>(v->as_int64());
  }
  if (const json::value* v = Field(body, "webhook_retry")) {
    if (!v->is_bool()) return Bad("webhook_retry: must be true or false");
    webhooks_.SetRetry(v->as_bool());
  }
  if (const json::value* v = Field(body, "override_policy")) {
    if (!v->is_string() || (v->as_string() != "ignore" && v->as_string() != "fail")) {
      return Bad("override_policy: must be ignore or fail");
    }
    absl::MutexLock lock(&mu_);
    override_policy_ = std::string(v->as_string());
  }
  return SimSettings(body);
}

Reply Simulator::SimWebhooks(const json::object&) { return JsonReply(200, webhooks_.Snapshot()); }

}  // namespace outcall::sim
