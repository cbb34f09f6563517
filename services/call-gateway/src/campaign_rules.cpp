#include "campaign_rules.h"

#include <algorithm>
#include <cctype>
#include <cmath>

#include "outcall/common/crypto.h"
#include "outcall/common/strings.h"

namespace outcall::call_gateway::campaign {

using common::Cat;

bool IsFinalRecipientState(std::string_view s) {
  return s == "done" || s == "exhausted" || s == "ineligible" || s == "opted_out" ||
         s == "canceled" || s == "expired";
}

bool IsUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (ch != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(ch))) {
      return false;
    }
  }
  return true;
}

bool IsCampaignState(std::string_view s) {
  for (const char* k : kCampaignStates)
    if (s == k) return true;
  return false;
}

AttemptResult Classify(const CallEnd& end) {
  AttemptResult r;
  auto has = [&](const char* f) { return end.flags.count(f) > 0; };
  if (end.stopped || has("do_not_call")) {
    r.outcome = "opt_out";
    r.refusal = true;
    return r;
  }
  const std::string& s = end.status;
  if (s == "completed") {
    if (has("appointment_confirmed")) {
      r.outcome = "confirmed";
    } else if (has("reschedule_requested")) {
      r.outcome = "reschedule_requested";
      r.refusal = true;  // answered: the clinic moves it, no second call
    } else if (has("appointment_canceled")) {
      r.outcome = "canceled_by_patient";
      r.refusal = true;
    } else if (has("voicemail_detected")) {
      r.outcome = "voicemail";
    } else {
      r.outcome = "unclear";  // answered, nothing the agent could tell: staff review it
      r.review = "unclear";
    }
    if (r.review.empty() && r.outcome != "voicemail" && end.call_successful == "failure") {
      r.review = "low_confidence";
    }
    return r;
  }
  if (s == "no_answer" || s == "busy") {
    r.outcome = s;
    return r;
  }
  if (s == "ended_manually" || s == "canceled") {
    r.outcome = "ended_by_staff";
    r.refusal = true;  // staff ended it on purpose: not retried by itself
    return r;
  }
  r.outcome = "failed";
  r.failure = true;
  return r;
}

std::optional<absl::Duration> RetryDelay(const RetryRule& rule, const AttemptResult& result,
                                         int attempts_made, int attempt_limit) {
  if (result.refusal || rule.retry_on.count(result.outcome) == 0) return std::nullopt;
  if (attempts_made >= attempt_limit || rule.intervals_secs.empty()) return std::nullopt;
  const size_t i = std::min<size_t>(std::max(attempts_made, 1) - 1, rule.intervals_secs.size() - 1);
  return absl::Seconds(rule.intervals_secs[i]);
}

absl::Time IntoWindow(absl::Time t, const std::optional<DailyWindow>& window,
                      absl::TimeZone zone) {
  if (!window) return t;
  const absl::CivilSecond local = absl::ToCivilSecond(t, zone);
  const absl::CivilDay day(local);
  const int minute = static_cast<int>(local.hour()) * 60 + static_cast<int>(local.minute());
  if (minute >= window->start_minute && minute < window->end_minute) return t;
  absl::CivilDay open_day = minute < window->start_minute ? day : day + 1;
  const absl::CivilMinute open(open_day.year(), open_day.month(), open_day.day(),
                               window->start_minute / 60, window->start_minute % 60);
  return absl::FromCivil(open, zone);
}

absl::StatusOr<int> MinuteOfDay(std::string_view hhmm, std::string_view field) {
  auto bad = [&] {
    return absl::InvalidArgumentError(Cat(field, ": '", hhmm, "' is not a time like 08:00"));
  };
  if (hhmm.size() != 5 || hhmm[2] != ':') return bad();
  for (size_t i : {0, 1, 3, 4})
    if (hhmm[i] < '0' || hhmm[i] > '9') return bad();
  const int h = (hhmm[0] - '0') * 10 + (hhmm[1] - '0');
  const int m = (hhmm[3] - '0') * 10 + (hhmm[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return bad();
  return h * 60 + m;
}

std::string FormatMinute(int minute) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%02d:%02d", minute / 60, minute % 60);
  return buf;
}

PaceTake TakePace(absl::Time tat, absl::Time now, int calls_per_minute, int want,
                  absl::Duration burst) {
  PaceTake out;
  out.tat = std::max(tat, now);
  if (calls_per_minute <= 0 || want <= 0) return out;
  const absl::Duration every = absl::Minutes(1) / calls_per_minute;
  while (out.allowed < want && out.tat <= now + burst) {
    out.tat += every;
    ++out.allowed;
  }
  return out;
}

std::optional<std::string> BreakerTrips(const std::vector<bool>& latest, const BreakerRule& rule) {
  const size_t n = std::min<size_t>(latest.size(), static_cast<size_t>(rule.window));
  if (static_cast<int>(n) < rule.min_sample) return std::nullopt;
  const int failed = static_cast<int>(std::count(latest.begin(), latest.begin() + n, true));
  if (failed < rule.failure_rate * static_cast<double>(n)) return std::nullopt;
  return Cat("circuit breaker: ", failed, " of the last ", n,
             " attempts failed (threshold ", static_cast<int>(std::lround(rule.failure_rate * 100)),
             "%); resume by hand once the cause is fixed");
}

std::optional<absl::Time> Eta(int remaining, int calls_per_minute, absl::Time now) {
  if (remaining <= 0 || calls_per_minute <= 0) return std::nullopt;
  return now + absl::Minutes(1) * remaining / calls_per_minute;
}

namespace {

// Calls fn(name) for each "{{name}}" in s (names trimmed of spaces).
template <typename Fn>
void ForEachPlaceholder(std::string_view s, Fn&& fn) {
  size_t at = 0;
  while ((at = s.find("{{", at)) != std::string_view::npos) {
    const size_t end = s.find("}}", at + 2);
    if (end == std::string_view::npos) return;
    std::string_view name = s.substr(at + 2, end - at - 2);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
    fn(at, end + 2, name);
    at = end + 2;
  }
}

}  // namespace

std::set<std::string> Placeholders(const google::protobuf::Struct& tmpl) {
  std::set<std::string> out;
  for (const auto& [k, v] : tmpl.fields()) {
    if (!v.has_string_value()) continue;
    ForEachPlaceholder(v.string_value(),
                       [&](size_t, size_t, std::string_view n) { out.emplace(n); });
  }
  return out;
}

absl::StatusOr<std::map<std::string, google::protobuf::Value>> Render(
    const google::protobuf::Struct& tmpl, const std::map<std::string, std::string>& vars) {
  std::map<std::string, google::protobuf::Value> out;
  for (const auto& [k, v] : tmpl.fields()) {
    if (!v.has_string_value()) {
      out[k] = v;
      continue;
    }
    const std::string& s = v.string_value();
    std::string rendered;
    size_t copied = 0;
    absl::Status missing;
    ForEachPlaceholder(s, [&](size_t from, size_t to, std::string_view name) {
      auto it = vars.find(std::string(name));
      if (it == vars.end()) {
        if (missing.ok()) {
          missing = absl::InvalidArgumentError(
              Cat("variables.", name, ": missing (the template's ", k, " uses {{", name, "}})"));
        }
        return;
      }
      rendered.append(s, copied, from - copied);
      rendered += it->second;
      copied = to;
    });
    if (!missing.ok()) return missing;
    rendered.append(s, copied, std::string::npos);
    out[k].set_string_value(rendered);
  }
  return out;
}

std::string AttemptCallId(std::string_view campaign_uuid, int64_t recipient_id, int attempt_no) {
  std::string h = common::Sha256::Hex(
      Cat("outcall.campaign-attempt:", campaign_uuid, ":", recipient_id, ":", attempt_no));
  h.resize(32);
  h[12] = '8';                                          // RFC 9562 version 8: custom
  h[16] = "89ab"[(h[16] >= 'a' ? h[16] - 'a' + 10 : h[16] - '0') & 3];  // the RFC variant
  return Cat(h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4), "-", h.substr(16, 4), "-",
             h.substr(20, 12));
}

}  // namespace outcall::call_gateway::campaign
