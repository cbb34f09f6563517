#include "outcall/policy/profile.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "boost/json.hpp"

namespace outcall::policy {
namespace internal {
std::string_view DefaultProfileDocument();  // default_profile.cpp, generated
}  // namespace internal

namespace {

namespace json = boost::json;

constexpr std::array<const char*, 7> kWeekdayKeys = {"monday", "tuesday",  "wednesday", "thursday",
                                                     "friday", "saturday", "sunday"};

// Debian's Abseil has its own string_view, which std::string_view does not convert to.
absl::string_view S(std::string_view s) { return {s.data(), s.size()}; }

absl::Status FieldError(std::string_view path, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("profile: ", S(path), ": ", why));
}

std::string_view ToStd(json::string_view s) { return {s.data(), s.size()}; }

std::string Path(std::string_view base, std::string_view key) {
  return base.empty() ? std::string(key) : absl::StrCat(std::string(base), ".", std::string(key));
}

// Every object in a profile is closed: an unknown key is a typo ("reasn") that would otherwise
// silently drop a field, so it is an error.
absl::Status CheckKeys(const json::object& obj, std::string_view path,
                       std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : obj) {
    const std::string_view key = ToStd(kv.key());
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      return FieldError(Path(path, key), "unknown field");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<const json::value*> Required(const json::object& obj, std::string_view path,
                                            std::string_view key) {
  const json::value* v = obj.if_contains(json::string_view(key.data(), key.size()));
  if (v == nullptr) return FieldError(Path(path, key), "missing");
  return v;
}

std::string Index(std::string_view base, size_t i) {
  return absl::StrCat(std::string(base), "[", i, "]");
}

absl::StatusOr<std::string> AsString(const json::value& v, std::string_view path) {
  if (!v.is_string()) return FieldError(path, "must be a string");
  return std::string(ToStd(v.get_string()));
}

// "HH:MM"; 24:00 only as an end.
bool ParseClock(std::string_view s, bool is_end, int* minutes) {
  if (s.size() != 5 || s[2] != ':') return false;
  for (size_t i : {0, 1, 3, 4}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59) return false;
  if (h > 24 || (h == 24 && (m != 0 || !is_end))) return false;
  *minutes = h * 60 + m;
  return true;
}

absl::StatusOr<TimeWindow> ParseWindow(const json::value& v, std::string_view path) {
  auto s = AsString(v, path);
  if (!s.ok()) return s.status();
  const size_t dash = s->find('-');
  TimeWindow w;
  if (dash == std::string::npos ||
      !ParseClock(std::string_view(*s).substr(0, dash), false, &w.start_minute) ||
      !ParseClock(std::string_view(*s).substr(dash + 1), true, &w.end_minute)) {
    return FieldError(path, absl::StrCat("\"", *s, "\" is not a window \"HH:MM-HH:MM\""));
  }
  if (w.start_minute >= w.end_minute) {
    return FieldError(path, absl::StrCat("\"", *s, "\" ends before it starts"));
  }
  return w;
}

absl::StatusOr<std::vector<TimeWindow>> ParseDay(const json::value& v, std::string_view path) {
  if (!v.is_array()) return FieldError(path, "must be an array of \"HH:MM-HH:MM\" windows");
  std::vector<TimeWindow> out;
  const json::array& arr = v.get_array();
  for (size_t i = 0; i < arr.size(); ++i) {
    auto w = ParseWindow(arr[i], Index(path, i));
    if (!w.ok()) return w.status();
    // Ordered and disjoint, so the windows a message prints read as the day reads.
    if (!out.empty() && w->start_minute < out.back().end_minute) {
      return FieldError(Index(path, i), "windows must be in order and must not overlap");
    }
    out.push_back(*w);
  }
  return out;
}

// `all_days`: the profile's windows name every weekday; a relaxation's name only those it changes
// and inherits the rest from `base`.
absl::StatusOr<WeeklyWindows> ParseWeek(const json::value& v, std::string_view path, bool all_days,
                                        const WeeklyWindows& base) {
  if (!v.is_object()) return FieldError(path, "must be an object keyed by weekday");
  const json::object& obj = v.get_object();
  if (auto s =
          CheckKeys(obj, path,
                    {"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"});
      !s.ok()) {
    return s;
  }
  WeeklyWindows out = base;
  for (size_t d = 0; d < kWeekdayKeys.size(); ++d) {
    const json::value* day = obj.if_contains(kWeekdayKeys[d]);
    if (day == nullptr) {
      if (all_days) return FieldError(Path(path, kWeekdayKeys[d]), "missing (use [] for none)");
      continue;
    }
    auto windows = ParseDay(*day, Path(path, kWeekdayKeys[d]));
    if (!windows.ok()) return windows.status();
    out.days[d] = std::move(*windows);
  }
  return out;
}

absl::StatusOr<std::vector<Rule>> ParseRuleList(const json::value& v, std::string_view path) {
  if (!v.is_array()) return FieldError(path, "must be an array of rule names");
  std::vector<Rule> out;
  const json::array& arr = v.get_array();
  for (size_t i = 0; i < arr.size(); ++i) {
    auto name = AsString(arr[i], Index(path, i));
    if (!name.ok()) return name.status();
    auto rule = ParseRule(*name);
    if (!rule.ok()) return FieldError(Index(path, i), rule.status().message());
    if (std::find(out.begin(), out.end(), *rule) != out.end()) {
      return FieldError(Index(path, i), absl::StrCat("\"", *name, "\" is listed twice"));
    }
    out.push_back(*rule);
  }
  return out;
}

absl::Status ParsePurposes(const json::value& v, Profile* profile) {
  if (!v.is_object()) return FieldError("purposes", "must be an object keyed by purpose");
  const json::object& obj = v.get_object();
  if (auto s = CheckKeys(obj, "purposes",
                         {"confirmation", "reminder", "survey", "promotion", "collection"});
      !s.ok()) {
    return s;
  }
  for (Purpose p : kAllPurposes) {
    auto list = Required(obj, "purposes", PurposeName(p));
    if (!list.ok()) return list.status();
    auto rules = ParseRuleList(**list, Path("purposes", PurposeName(p)));
    if (!rules.ok()) return rules.status();
    profile->rules[static_cast<int>(p)] = std::move(*rules);
  }
  return absl::OkStatus();
}

bool Listed(const Profile& profile, Purpose purpose, Rule rule) {
  const auto& rules = profile.rules[static_cast<int>(purpose)];
  return std::find(rules.begin(), rules.end(), rule) != rules.end();
}

absl::StatusOr<Relaxation> ParseRelaxation(const json::value& v, std::string_view path,
                                           const Profile& profile) {
  if (!v.is_object()) return FieldError(path, "must be an object");
  const json::object& obj = v.get_object();
  if (auto s = CheckKeys(obj, path, {"purpose", "rule", "reason", "approved_by", "windows"});
      !s.ok()) {
    return s;
  }
  Relaxation r;
  auto purpose_v = Required(obj, path, "purpose");
  if (!purpose_v.ok()) return purpose_v.status();
  auto purpose_name = AsString(**purpose_v, Path(path, "purpose"));
  if (!purpose_name.ok()) return purpose_name.status();
  auto purpose = ParsePurpose(*purpose_name);
  if (!purpose.ok()) return FieldError(Path(path, "purpose"), purpose.status().message());
  r.purpose = *purpose;

  auto rule_v = Required(obj, path, "rule");
  if (!rule_v.ok()) return rule_v.status();
  auto rule_name = AsString(**rule_v, Path(path, "rule"));
  if (!rule_name.ok()) return rule_name.status();
  auto rule = ParseRule(*rule_name);
  if (!rule.ok()) return FieldError(Path(path, "rule"), rule.status().message());
  r.rule = *rule;

  // The point of a relaxation is the record of why: no reason, no relaxation.
  const json::value* reason = obj.if_contains("reason");
  if (reason == nullptr) {
    return FieldError(Path(path, "reason"), "missing (a relaxation needs a recorded reason)");
  }
  auto reason_text = AsString(*reason, Path(path, "reason"));
  if (!reason_text.ok()) return reason_text.status();
  if (reason_text->find_first_not_of(" \t\r\n") == std::string::npos) {
    return FieldError(Path(path, "reason"), "empty (a relaxation needs a recorded reason)");
  }
  r.reason = *reason_text;

  if (!Listed(profile, r.purpose, r.rule)) {
    return FieldError(path, absl::StrCat("rule \"", *rule_name, "\" is not listed for purpose \"",
                                         *purpose_name, "\", so there is nothing to relax"));
  }
  if (const json::value* windows = obj.if_contains("windows")) {
    if (r.rule != Rule::kHours) {
      return FieldError(Path(path, "windows"), "only a relaxation of \"hours\" may set windows");
    }
    auto week = ParseWeek(*windows, Path(path, "windows"), /*all_days=*/false, profile.windows);
    if (!week.ok()) return week.status();
    r.windows = std::move(*week);
  }
  return r;
}

absl::Status ParseRelaxations(const json::value& v, Profile* profile) {
  if (!v.is_array()) return FieldError("relaxations", "must be an array");
  const json::array& arr = v.get_array();
  for (size_t i = 0; i < arr.size(); ++i) {
    auto r = ParseRelaxation(arr[i], Index("relaxations", i), *profile);
    if (!r.ok()) return r.status();
    if (profile->RelaxationOf(r->purpose, r->rule) != nullptr) {
      return FieldError(Index("relaxations", i),
                        "a second relaxation of the same purpose and rule");
    }
    profile->relaxations.push_back(std::move(*r));
  }
  return absl::OkStatus();
}

absl::Status ParseHeader(const json::object& obj, Profile* profile) {
  auto id = Required(obj, "", "id");
  if (!id.ok()) return id.status();
  auto id_text = AsString(**id, "id");
  if (!id_text.ok()) return id_text.status();
  if (id_text->empty()) return FieldError("id", "empty");
  profile->id = *id_text;

  const json::value* version = obj.if_contains("version");
  if (version == nullptr) return FieldError("version", "missing");
  if (!version->is_int64() || version->get_int64() < 1 || version->get_int64() > 1'000'000) {
    return FieldError("version", "must be a positive integer");
  }
  profile->version = static_cast<int>(version->get_int64());

  if (const json::value* d = obj.if_contains("description")) {
    auto text = AsString(*d, "description");
    if (!text.ok()) return text.status();
    profile->description = *text;
  }
  if (const json::value* c = obj.if_contains("contact_counting")) {
    auto text = AsString(*c, "contact_counting");
    if (!text.ok()) return text.status();
    if (*text == "answered") {
      profile->counting = ContactCounting::kAnswered;
    } else if (*text == "any_attempt") {
      profile->counting = ContactCounting::kAnyAttempt;
    } else {
      return FieldError("contact_counting", "must be \"answered\" or \"any_attempt\"");
    }
  }
  return absl::OkStatus();
}

// The structure of the document, without the baseline check (the default profile is the
// baseline, so it is parsed by this alone).
absl::StatusOr<Profile> ParseDocument(std::string_view text) {
  boost::system::error_code ec;
  json::value doc = json::parse(json::string_view(text.data(), text.size()), ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat("profile: not JSON: ", ec.message()));
  if (!doc.is_object()) return absl::InvalidArgumentError("profile: must be a JSON object");
  const json::object& obj = doc.get_object();
  if (auto s = CheckKeys(obj, "",
                         {"id", "version", "description", "windows", "contact_counting", "purposes",
                          "relaxations"});
      !s.ok()) {
    return s;
  }
  Profile profile;
  if (auto s = ParseHeader(obj, &profile); !s.ok()) return s;

  const json::value* windows = obj.if_contains("windows");
  if (windows == nullptr) return FieldError("windows", "missing");
  auto week = ParseWeek(*windows, "windows", /*all_days=*/true, WeeklyWindows{});
  if (!week.ok()) return week.status();
  profile.windows = std::move(*week);

  const json::value* purposes = obj.if_contains("purposes");
  if (purposes == nullptr) return FieldError("purposes", "missing");
  if (auto s = ParsePurposes(*purposes, &profile); !s.ok()) return s;

  if (const json::value* relaxations = obj.if_contains("relaxations")) {
    if (auto s = ParseRelaxations(*relaxations, &profile); !s.ok()) return s;
  }
  return profile;
}

bool Contains(const std::vector<TimeWindow>& outer, const TimeWindow& w) {
  return std::any_of(outer.begin(), outer.end(), [&](const TimeWindow& o) {
    return o.start_minute <= w.start_minute && w.end_minute <= o.end_minute;
  });
}

// Looser than the baseline only through a relaxation: every baseline rule stays listed (a
// relaxation, with its reason, is the way to switch one off), and the windows stay inside the
// baseline's (a relaxation of "hours" is the way to widen them).
absl::Status CheckAgainstBaseline(const Profile& profile, const Profile& baseline) {
  for (Purpose p : kAllPurposes) {
    for (Rule r : baseline.rules[static_cast<int>(p)]) {
      if (!Listed(profile, p, r)) {
        return FieldError(
            Path("purposes", PurposeName(p)),
            absl::StrCat("\"", std::string(RuleName(r)), "\" is required by ", baseline.id,
                         "; to drop it, keep it listed and add a relaxation with a reason"));
      }
    }
  }
  for (size_t d = 0; d < kWeekdayKeys.size(); ++d) {
    for (size_t i = 0; i < profile.windows.days[d].size(); ++i) {
      const TimeWindow& w = profile.windows.days[d][i];
      if (!Contains(baseline.windows.days[d], w)) {
        const std::string legal = FormatWindows(baseline.windows.days[d]);
        return FieldError(
            Index(Path("windows", kWeekdayKeys[d]), i),
            absl::StrCat(FormatWindows({w}), " is outside ", baseline.id, "'s hours (",
                         legal.empty() ? "none" : legal,
                         "); widen hours only through a relaxation of \"hours\" with a reason"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view PurposeName(Purpose purpose) {
  switch (purpose) {
    case Purpose::kConfirmation:
      return "confirmation";
    case Purpose::kReminder:
      return "reminder";
    case Purpose::kSurvey:
      return "survey";
    case Purpose::kPromotion:
      return "promotion";
    case Purpose::kCollection:
      return "collection";
  }
  return "?";
}

std::string_view ChannelName(Channel channel) {
  switch (channel) {
    case Channel::kVoice:
      return "voice";
    case Channel::kSms:
      return "sms";
    case Channel::kWhatsapp:
      return "whatsapp";
    case Channel::kEmail:
      return "email";
  }
  return "?";
}

std::string_view RuleName(Rule rule) {
  switch (rule) {
    case Rule::kHours:
      return "hours";
    case Rule::kHolidays:
      return "holidays";
    case Rule::kDailyCap:
      return "daily_cap";
    case Rule::kWeeklyCap:
      return "weekly_cap";
    case Rule::kWeeklyChannel:
      return "weekly_channel";
    case Rule::kAuthorisedChannels:
      return "authorised_channels";
    case Rule::kExcludedNumbers:
      return "excluded_numbers";
  }
  return "?";
}

std::string_view PurposeSpanish(Purpose purpose) {
  switch (purpose) {
    case Purpose::kConfirmation:
      return "confirmación";
    case Purpose::kReminder:
      return "recordatorio";
    case Purpose::kSurvey:
      return "encuesta";
    case Purpose::kPromotion:
      return "promoción";
    case Purpose::kCollection:
      return "cobranza";
  }
  return "?";
}

std::string_view ChannelSpanish(Channel channel) {
  switch (channel) {
    case Channel::kVoice:
      return "voz";
    case Channel::kSms:
      return "SMS";
    case Channel::kWhatsapp:
      return "WhatsApp";
    case Channel::kEmail:
      return "correo electrónico";
  }
  return "?";
}

std::string_view WeekdaySpanish(absl::Weekday weekday) {
  switch (weekday) {
    case absl::Weekday::monday:
      return "lunes";
    case absl::Weekday::tuesday:
      return "martes";
    case absl::Weekday::wednesday:
      return "miércoles";
    case absl::Weekday::thursday:
      return "jueves";
    case absl::Weekday::friday:
      return "viernes";
    case absl::Weekday::saturday:
      return "sábado";
    case absl::Weekday::sunday:
      return "domingo";
  }
  return "?";
}

absl::StatusOr<Purpose> ParsePurpose(std::string_view name) {
  for (Purpose p : kAllPurposes) {
    if (PurposeName(p) == name) return p;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown purpose \"", std::string(name),
                   "\" (confirmation, reminder, survey, promotion, collection)"));
}

absl::StatusOr<Channel> ParseChannel(std::string_view name) {
  for (Channel c : kAllChannels) {
    if (ChannelName(c) == name) return c;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown channel \"", std::string(name), "\" (voice, sms, whatsapp, email)"));
}

absl::StatusOr<Rule> ParseRule(std::string_view name) {
  for (Rule r : kAllRules) {
    if (RuleName(r) == name) return r;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown rule \"", std::string(name),
      "\" (hours, holidays, daily_cap, weekly_cap, weekly_channel, authorised_channels, "
      "excluded_numbers)"));
}

std::string FormatWindows(const std::vector<TimeWindow>& windows) {
  std::string out;
  for (const TimeWindow& w : windows) {
    if (!out.empty()) out += ", ";
    absl::StrAppendFormat(&out, "%02d:%02d-%02d:%02d", w.start_minute / 60, w.start_minute % 60,
                          w.end_minute / 60, w.end_minute % 60);
  }
  return out;
}

const Relaxation* Profile::RelaxationOf(Purpose purpose, Rule rule) const {
  for (const Relaxation& r : relaxations) {
    if (r.purpose == purpose && r.rule == rule) return &r;
  }
  return nullptr;
}

bool Profile::Applies(Purpose purpose, Rule rule) const {
  if (!Listed(*this, purpose, rule)) return false;
  const Relaxation* r = RelaxationOf(purpose, rule);
  // A relaxation of "hours" with windows keeps the rule, on other windows.
  return r == nullptr || r->windows.has_value();
}

const WeeklyWindows& Profile::WindowsFor(Purpose purpose) const {
  const Relaxation* r = RelaxationOf(purpose, Rule::kHours);
  return r != nullptr && r->windows ? *r->windows : windows;
}

absl::StatusOr<Profile> ParseProfile(std::string_view json) {
  auto profile = ParseDocument(json);
  if (!profile.ok()) return profile.status();
  if (auto s = CheckAgainstBaseline(*profile, DefaultProfile()); !s.ok()) return s;
  return profile;
}

std::string_view DefaultProfileJson() { return internal::DefaultProfileDocument(); }

const Profile& DefaultProfile() {
  // Parsed once; the document is compiled in and a unit test parses it, so a failure here is a
  // build defect, not a runtime condition.
  static const Profile* const kDefault = [] {
    auto parsed = ParseDocument(DefaultProfileJson());
    if (!parsed.ok()) std::abort();
    return new Profile(std::move(*parsed));
  }();
  return *kDefault;
}

}  // namespace outcall::policy
