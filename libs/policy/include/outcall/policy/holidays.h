// Colombian public holidays ("festivos"), computed from the rule of Ley 51 de 1983 (the "Ley
// Emiliani") for any year rather than read from a table, so the calendar never runs out. The rule
// is in force since 1984; earlier years get the same rule, which is not what applied then.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"

namespace outcall::policy {

struct Holiday {
  absl::CivilDay date;
  std::string name;  // Spanish, e.g. "Inmaculada Concepción"

  friend bool operator==(const Holiday&, const Holiday&) = default;
};

// Easter Sunday of `year` by the Gregorian computus (the anonymous / Meeus-Jones-Butcher
// algorithm).
absl::CivilDay EasterSunday(int64_t year);

// The 18 holidays of `year`, sorted by date. Two may share a date (30 June 2025: Sagrado Corazón
// and San Pedro y San Pablo), so a year can have 17 distinct dates.
std::vector<Holiday> HolidaysOf(int64_t year);

bool IsHoliday(absl::CivilDay day);

// The name of the holiday on `day`; when two fall on it, both joined with ", ". nullopt on an
// ordinary day.
std::optional<std::string> HolidayName(absl::CivilDay day);

}  // namespace outcall::policy
