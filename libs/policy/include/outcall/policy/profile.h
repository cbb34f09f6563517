// Contact-policy profiles: versioned data saying when a patient may be contacted (weekly windows in
// the patient's local time) and which rules apply to each purpose of a contact. A profile is a JSON
// document (docs/policy.md describes the format); the built-in default, co_ley2300_v1, is one such
// document compiled into the library and parsed by the same code as a clinic's own.
//
// The parser enforces a legal baseline (Ley 2300 de 2023 as read in docs/policy.md): a profile may
// be stricter than the baseline anywhere, but looser only through a relaxation that names the
// purpose, the rule and a non-empty reason, so every loosening is recorded in the data.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"

namespace outcall::policy {

// Why the clinic contacts the patient. Promotion is Ley 2300 art. 5 advertising, collection is
// art. 1 cobranza; the other three are service messages.
enum class Purpose { kConfirmation, kReminder, kSurvey, kPromotion, kCollection };
inline constexpr std::array<Purpose, 5> kAllPurposes = {Purpose::kConfirmation, Purpose::kReminder,
                                                        Purpose::kSurvey, Purpose::kPromotion,
                                                        Purpose::kCollection};

enum class Channel { kVoice, kSms, kWhatsapp, kEmail };
inline constexpr std::array<Channel, 4> kAllChannels = {Channel::kVoice, Channel::kSms,
                                                        Channel::kWhatsapp, Channel::kEmail};

// The rules a profile can switch on per purpose. Their JSON names are RuleName's.
enum class Rule {
  kHours,               // "hours": only inside the weekly windows (Sunday has none by default)
  kHolidays,            // "holidays": never on a Colombian festivo
  kDailyCap,            // "daily_cap": at most one counted contact per local day
  kWeeklyCap,           // "weekly_cap": at most one counted contact per channel per ISO week
  kWeeklyChannel,       // "weekly_channel": one channel per ISO week once a contact counted
  kAuthorisedChannels,  // "authorised_channels": an authorised consent for (purpose, channel)
  kExcludedNumbers,     // "excluded_numbers": not on the RNE for the channel, and RNE consulted
};
inline constexpr std::array<Rule, 7> kAllRules = {
    Rule::kHours,         Rule::kHolidays,           Rule::kDailyCap,       Rule::kWeeklyCap,
    Rule::kWeeklyChannel, Rule::kAuthorisedChannels, Rule::kExcludedNumbers};

// JSON / record names: "confirmation", "voice", "daily_cap", ...
std::string_view PurposeName(Purpose purpose);
std::string_view ChannelName(Channel channel);
std::string_view RuleName(Rule rule);
absl::StatusOr<Purpose> ParsePurpose(std::string_view name);
absl::StatusOr<Channel> ParseChannel(std::string_view name);
absl::StatusOr<Rule> ParseRule(std::string_view name);

// Spanish words for messages: "promoción", "voz", "sábado".
std::string_view PurposeSpanish(Purpose purpose);
std::string_view ChannelSpanish(Channel channel);
std::string_view WeekdaySpanish(absl::Weekday weekday);

// A window of local wall-clock time, [start, end) in minutes since midnight; end may be 1440.
struct TimeWindow {
  int start_minute = 0;
  int end_minute = 0;

  friend bool operator==(const TimeWindow&, const TimeWindow&) = default;
};

// "07:00-19:00", or "" for no window.
std::string FormatWindows(const std::vector<TimeWindow>& windows);

struct WeeklyWindows {
  // Indexed by absl::Weekday (monday = 0 ... sunday = 6).
  std::array<std::vector<TimeWindow>, 7> days;

  const std::vector<TimeWindow>& For(absl::Weekday weekday) const {
    return days[static_cast<int>(weekday)];
  }
};

// Which ledger entries count as "a contact" for the frequency rules. Ley 2300 art. 3 counts from
// a "contacto directo", so the default counts answered contacts only.
enum class ContactCounting { kAnswered, kAnyAttempt };

// A recorded loosening of one rule for one purpose. For "hours", `windows` (when set) replaces
// the profile's windows for that purpose instead of switching the rule off.
struct Relaxation {
  Purpose purpose = Purpose::kConfirmation;
  Rule rule = Rule::kHours;
  std::string reason;
  std::optional<WeeklyWindows> windows;
};

struct Profile {
  std::string id;
  int version = 0;
  std::string description;
  WeeklyWindows windows;
  ContactCounting counting = ContactCounting::kAnswered;
  // The rules listed for each purpose, indexed by Purpose; always a superset of the baseline.
  std::array<std::vector<Rule>, 5> rules;
  std::vector<Relaxation> relaxations;

  // Listed for the purpose and not switched off by a relaxation.
  bool Applies(Purpose purpose, Rule rule) const;
  // The relaxation of (purpose, rule), or nullptr.
  const Relaxation* RelaxationOf(Purpose purpose, Rule rule) const;
  // The windows that bound contacts for the purpose: a relaxation's for "hours", else the
  // profile's.
  const WeeklyWindows& WindowsFor(Purpose purpose) const;
};

// Parses and validates a profile document. Errors are INVALID_ARGUMENT and name the field, e.g.
// `profile: relaxations[0].reason: missing (a relaxation needs a recorded reason)`.
absl::StatusOr<Profile> ParseProfile(std::string_view json);

// The built-in default profile document (co_ley2300_v1) and its parsed form.
std::string_view DefaultProfileJson();
const Profile& DefaultProfile();

}  // namespace outcall::policy
