#include "outcall/policy/decision.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "boost/json.hpp"
#include "outcall/policy/holidays.h"

namespace outcall::policy {
namespace {

namespace json = boost::json;

// Far enough for any profile with at least one window a week (caps block a week at most); a
// profile with no window at all gets no next instant rather than an endless search.
constexpr int kSearchDays = 400;

struct Refusal {
  std::string rule;
  std::string reason;
  bool time_based = false;
};

// A counted ledger entry, on the patient's local calendar.
struct LocalContact {
  absl::CivilDay day;
  Channel channel;
};

struct Context {
  const DecisionRequest& req;
  absl::TimeZone tz;
  absl::CivilSecond local_at;
  std::vector<LocalContact> counted;
  const Consent* consent = nullptr;  // the consent record that counts, if any
};

// Debian's Abseil has its own string_view, which std::string_view does not convert to.
absl::string_view S(std::string_view s) { return {s.data(), s.size()}; }

std::string Day(absl::CivilDay d) { return absl::FormatCivilTime(d); }

absl::Time ToInstant(absl::CivilSecond cs, absl::TimeZone tz) {
  const absl::TimeZone::TimeInfo info = tz.At(cs);
  // A window that opens inside a DST gap opens when the gap ends; in a repeated hour, at its
  // first occurrence.
  return info.kind == absl::TimeZone::TimeInfo::SKIPPED ? info.trans : info.pre;
}

bool Counts(const Profile& profile, const LedgerEntry& e) {
  return profile.counting == ContactCounting::kAnyAttempt || e.answered;
}

std::optional<Refusal> CheckOptOut(const Context& ctx) {
  if (!ctx.req.opted_out) return std::nullopt;
  return Refusal{"opt_out", "el paciente pidió no ser contactado", false};
}

std::optional<Refusal> CheckExcludedNumber(const Context& ctx) {
  const DecisionRequest& r = ctx.req;
  if (!r.profile.Applies(r.purpose, Rule::kExcludedNumbers)) return std::nullopt;
  const std::string channel(ChannelSpanish(r.channel));
  if (!r.excluded_number) {
    return Refusal{
        "excluded_number",
        absl::StrCat("no se consultó el Registro de Números Excluidos (RNE) para ", channel),
        false};
  }
  if (!r.excluded_number->listed) return std::nullopt;
  return Refusal{"excluded_number",
                 absl::StrCat("número inscrito en el Registro de Números Excluidos (RNE) para ",
                              channel, " (lista ", r.excluded_number->list_version, ")"),
                 false};
}

// The latest record for (purpose, channel) up to the decision's instant; a revocation wins a tie
// because doubt about consent must not become a call.
const Consent* EffectiveConsent(const DecisionRequest& r) {
  const Consent* best = nullptr;
  for (const Consent& c : r.consents) {
    if (c.purpose != r.purpose || c.channel != r.channel || c.recorded_at > r.at) continue;
    if (best == nullptr || c.recorded_at > best->recorded_at ||
        (c.recorded_at == best->recorded_at && c.state == ConsentState::kRevoked)) {
      best = &c;
    }
  }
  return best;
}

std::optional<Refusal> CheckConsent(const Context& ctx) {
  const DecisionRequest& r = ctx.req;
  if (!r.profile.Applies(r.purpose, Rule::kAuthorisedChannels)) return std::nullopt;
  const std::string what =
      absl::StrCat(S(PurposeSpanish(r.purpose)), " por ", S(ChannelSpanish(r.channel)));
  if (ctx.consent == nullptr) {
    return Refusal{"consent", absl::StrCat("sin autorización del paciente para ", what), false};
  }
  if (ctx.consent->state == ConsentState::kAuthorised) return std::nullopt;
  return Refusal{
      "consent",
      absl::StrCat("autorización revocada para ", what, " (ref. ", ctx.consent->reference, ")"),
      false};
}

// The windows open on a local day for the purpose, holidays already taken out.
std::vector<TimeWindow> OpenWindows(const Profile& profile, Purpose purpose, absl::CivilDay day) {
  if (profile.Applies(purpose, Rule::kHolidays) && IsHoliday(day)) return {};
  if (!profile.Applies(purpose, Rule::kHours)) return {{0, 24 * 60}};
  return profile.WindowsFor(purpose).For(absl::GetWeekday(day));
}

// Holiday, Sunday and hours, at a local wall-clock time. A holiday is reported before the
// weekday's hours because it is the more specific reason (a festivo on a Saturday is closed even
// though Saturdays are not).
std::optional<Refusal> CheckCalendar(const Profile& profile, Purpose purpose,
                                     absl::CivilSecond local) {
  const absl::CivilDay day(local);
  if (profile.Applies(purpose, Rule::kHolidays)) {
    if (auto name = HolidayName(day)) {
      return Refusal{"holiday", absl::StrCat("día festivo (", *name, ")"), true};
    }
  }
  if (!profile.Applies(purpose, Rule::kHours)) return std::nullopt;
  const absl::Weekday weekday = absl::GetWeekday(day);
  const std::vector<TimeWindow>& windows = profile.WindowsFor(purpose).For(weekday);
  const int minute = local.hour() * 60 + local.minute();
  for (const TimeWindow& w : windows) {
    if (w.start_minute <= minute && minute < w.end_minute) return std::nullopt;
  }
  if (windows.empty() && weekday == absl::Weekday::sunday) {
    return Refusal{"sunday", "no se permite contactar en domingo", true};
  }
  const std::string hours = windows.empty() ? "sin horario" : FormatWindows(windows);
  return Refusal{
      "hours",
      absl::StrCat("fuera del horario permitido (", S(WeekdaySpanish(weekday)), " ", hours, ")"),
      true};
}

// The frequency rules of Ley 2300 art. 3 for a local day, from the contacts that count.
std::optional<Refusal> CheckCaps(const Context& ctx, absl::CivilDay day) {
  const Profile& profile = ctx.req.profile;
  const Purpose purpose = ctx.req.purpose;
  const Channel channel = ctx.req.channel;
  if (profile.Applies(purpose, Rule::kDailyCap)) {
    for (const LocalContact& c : ctx.counted) {
      if (c.day != day) continue;
      return Refusal{"daily_cap",
                     absl::StrCat("ya hubo un contacto con el paciente el ", Day(day),
                                  " (máximo uno por día)"),
                     true};
    }
  }
  if (profile.Applies(purpose, Rule::kWeeklyChannel)) {
    for (const LocalContact& c : ctx.counted) {
      if (c.channel == channel || !SameIsoWeek(c.day, day)) continue;
      return Refusal{
          "weekly_channel",
          absl::StrCat("ya hubo un contacto por ", S(ChannelSpanish(c.channel)), " en la semana ",
                       IsoWeekLabel(day), " (un solo canal por semana)"),
          true};
    }
  }
  if (profile.Applies(purpose, Rule::kWeeklyCap)) {
    for (const LocalContact& c : ctx.counted) {
      if (c.channel != channel || !SameIsoWeek(c.day, day)) continue;
      return Refusal{
          "weekly_cap",
          absl::StrCat("ya hubo un contacto por ", S(ChannelSpanish(channel)), " en la semana ",
                       IsoWeekLabel(day), " (máximo uno por canal y semana)"),
          true};
    }
  }
  return std::nullopt;
}

// The first instant at or after `at` that passes the calendar and the caps, day by day in the
// patient's zone (so a DST change moves the instant, not the wall-clock time).
std::optional<absl::Time> NextAllowed(const Context& ctx) {
  const absl::CivilDay today(ctx.local_at);
  for (int i = 0; i < kSearchDays; ++i) {
    const absl::CivilDay day = today + i;
    if (CheckCaps(ctx, day)) continue;
    const absl::CivilSecond midnight(day);
    for (const TimeWindow& w : OpenWindows(ctx.req.profile, ctx.req.purpose, day)) {
      absl::CivilSecond start = midnight + w.start_minute * 60;
      const absl::CivilSecond end = midnight + w.end_minute * 60;
      if (start < ctx.local_at) start = ctx.local_at;
      if (start < end) return std::max(ctx.req.at, ToInstant(start, ctx.tz));
    }
  }
  return std::nullopt;
}

std::string FormatNext(const Context& ctx, absl::Time t) {
  const absl::CivilDay day(absl::ToCivilSecond(t, ctx.tz));
  return absl::StrCat(S(WeekdaySpanish(absl::GetWeekday(day))), " ",
                      absl::FormatTime("%Y-%m-%d %H:%M", t, ctx.tz), " ", ctx.req.time_zone);
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

json::array EffectiveRules(const DecisionRequest& r) {
  json::array out;
  for (Rule rule : kAllRules) {
    if (r.profile.Applies(r.purpose, rule)) out.emplace_back(RuleName(rule));
  }
  return out;
}

json::array PurposeRelaxations(const DecisionRequest& r) {
  json::array out;
  for (const Relaxation& x : r.profile.relaxations) {
    if (x.purpose != r.purpose) continue;
    json::object o;
    o["rule"] = RuleName(x.rule);
    o["reason"] = x.reason;
    o["windows_replaced"] = x.windows.has_value();
    out.push_back(std::move(o));
  }
  return out;
}

// The counted contacts in the ISO week of `at`: the only ones that can decide a cap now.
json::array RelevantHistory(const Context& ctx) {
  const absl::CivilDay today(ctx.local_at);
  json::array out;
  for (const LedgerEntry& e : ctx.req.history) {
    if (!Counts(ctx.req.profile, e)) continue;
    if (!SameIsoWeek(absl::CivilDay(absl::ToCivilSecond(e.at, ctx.tz)), today)) continue;
    json::object o;
    o["at"] = Rfc3339(e.at);
    o["channel"] = ChannelName(e.channel);
    o["purpose"] = PurposeName(e.purpose);
    o["answered"] = e.answered;
    out.push_back(std::move(o));
  }
  return out;
}

std::string Record(const Context& ctx, const Decision& d) {
  const DecisionRequest& r = ctx.req;
  json::object rec;
  rec["profile"] = {{"id", r.profile.id}, {"version", r.profile.version}};
  rec["purpose"] = PurposeName(r.purpose);
  rec["channel"] = ChannelName(r.channel);
  rec["at"] = Rfc3339(r.at);
  rec["time_zone"] = r.time_zone;
  rec["local_time"] = absl::FormatCivilTime(ctx.local_at);
  rec["iso_week"] = IsoWeekLabel(absl::CivilDay(ctx.local_at));
  if (auto name = HolidayName(absl::CivilDay(ctx.local_at))) {
    rec["holiday"] = *name;
  } else {
    rec["holiday"] = nullptr;
  }
  rec["rules_applied"] = EffectiveRules(r);
  rec["relaxations"] = PurposeRelaxations(r);
  rec["contact_counting"] =
      r.profile.counting == ContactCounting::kAnswered ? "answered" : "any_attempt";
  rec["opted_out"] = r.opted_out;
  if (r.excluded_number) {
    rec["excluded_number"] = {{"listed", r.excluded_number->listed},
                              {"list_version", r.excluded_number->list_version}};
  } else {
    rec["excluded_number"] = nullptr;
  }
  if (ctx.consent != nullptr) {
    rec["consent"] = {
        {"state", ctx.consent->state == ConsentState::kAuthorised ? "authorised" : "revoked"},
        {"reference", ctx.consent->reference},
        {"recorded_at", ctx.consent->recorded_at == absl::InfinitePast()
                            ? json::value(nullptr)
                            : json::value(Rfc3339(ctx.consent->recorded_at))}};
  } else {
    rec["consent"] = nullptr;
  }
  rec["history_entries"] = r.history.size();
  rec["history_counted_this_week"] = RelevantHistory(ctx);
  json::object outcome;
  outcome["allowed"] = d.allowed;
  outcome["rule"] = d.rule;
  outcome["message"] = d.message;
  outcome["next_allowed_at"] =
      d.next_allowed_at ? json::value(Rfc3339(*d.next_allowed_at)) : json::value(nullptr);
  rec["decision"] = std::move(outcome);
  return json::serialize(rec);
}

absl::Status Validate(const DecisionRequest& r) {
  if (r.profile.id.empty()) {
    return absl::InvalidArgumentError("policy: the request's profile has no id (not parsed?)");
  }
  if (r.at == absl::InfinitePast() || r.at == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError("policy: `at` must be a finite instant");
  }
  if (r.time_zone.empty()) return absl::InvalidArgumentError("policy: empty time zone");
  return absl::OkStatus();
}

}  // namespace

bool SameIsoWeek(absl::CivilDay a, absl::CivilDay b) {
  // absl::Weekday counts from Monday = 0, which is where an ISO week starts.
  const auto monday = [](absl::CivilDay d) { return d - static_cast<int>(absl::GetWeekday(d)); };
  return monday(a) == monday(b);
}

std::string IsoWeekLabel(absl::CivilDay day) {
  // The ISO week belongs to the year of its Thursday and is numbered from that year's first one.
  const absl::CivilDay thursday = day - static_cast<int>(absl::GetWeekday(day)) + 3;
  const int week = (absl::GetYearDay(thursday) - 1) / 7 + 1;
  return absl::StrCat(thursday.year(), "-W", week < 10 ? "0" : "", week);
}

absl::StatusOr<Decision> Decide(const DecisionRequest& request) {
  if (auto s = Validate(request); !s.ok()) return s;
  Context ctx{request, absl::TimeZone(), {}, {}, nullptr};
  if (!absl::LoadTimeZone(request.time_zone, &ctx.tz)) {
    return absl::InvalidArgumentError(
        absl::StrCat("policy: unknown time zone \"", request.time_zone, "\""));
  }
  ctx.local_at = absl::ToCivilSecond(request.at, ctx.tz);
  for (const LedgerEntry& e : request.history) {
    if (!Counts(request.profile, e)) continue;
    ctx.counted.push_back({absl::CivilDay(absl::ToCivilSecond(e.at, ctx.tz)), e.channel});
  }
  ctx.consent = EffectiveConsent(request);

  // Reasons no waiting cures come first, so a time-based refusal's next instant is real.
  std::optional<Refusal> refusal = CheckOptOut(ctx);
  if (!refusal) refusal = CheckExcludedNumber(ctx);
  if (!refusal) refusal = CheckConsent(ctx);
  if (!refusal) refusal = CheckCalendar(request.profile, request.purpose, ctx.local_at);
  if (!refusal) refusal = CheckCaps(ctx, absl::CivilDay(ctx.local_at));

  Decision d;
  d.profile_id = request.profile.id;
  d.profile_version = request.profile.version;
  if (!refusal) {
    d.allowed = true;
    d.message = "permitido";
  } else {
    d.rule = refusal->rule;
    d.message = refusal->reason;
    if (refusal->time_based) {
      d.next_allowed_at = NextAllowed(ctx);
      d.message +=
          d.next_allowed_at
              ? absl::StrCat("; próximo horario: ", FormatNext(ctx, *d.next_allowed_at))
              : absl::StrCat("; sin horario permitido en los próximos ", kSearchDays, " días");
    }
  }
  d.record_json = Record(ctx, d);
  return d;
}

}  // namespace outcall::policy
