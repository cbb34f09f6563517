#include "outcall/policy/holidays.h"

#include <algorithm>

namespace outcall::policy {
namespace {

// Ley 51 de 1983 art. 1: these never move, whatever the weekday.
struct FixedDate {
  int month;
  int day;
  const char* name;
};
constexpr FixedDate kFixed[] = {
    {1, 1, "Año Nuevo"},
    {5, 1, "Día del Trabajo"},
    {7, 20, "Día de la Independencia"},
    {8, 7, "Batalla de Boyacá"},
    {12, 8, "Inmaculada Concepción"},
    {12, 25, "Navidad"},
};

// Ley 51 de 1983 art. 2: moved to the following Monday when they do not fall on a Monday.
constexpr FixedDate kMovable[] = {
    {1, 6, "Día de los Reyes Magos"},
    {3, 19, "Día de San José"},
    {6, 29, "San Pedro y San Pablo"},
    {8, 15, "Asunción de la Virgen"},
    {10, 12, "Día de la Raza"},
    {11, 1, "Todos los Santos"},
    {11, 11, "Independencia de Cartagena"},
};

// Offsets from Easter Sunday. Jueves and Viernes Santo stay where they are; the other three are
// already the Monday the law moves them to (Ascensión: Thursday E+39 -> Monday E+43; Corpus
// Christi: E+60 -> E+64; Sagrado Corazón: Friday E+68 -> Monday E+71).
struct EasterOffset {
  int days;
  const char* name;
};
constexpr EasterOffset kEasterBased[] = {
    {-3, "Jueves Santo"},   {-2, "Viernes Santo"},   {43, "Ascensión del Señor"},
    {64, "Corpus Christi"}, {71, "Sagrado Corazón"},
};

absl::CivilDay NextMondayIfNotMonday(absl::CivilDay day) {
  while (absl::GetWeekday(day) != absl::Weekday::monday) ++day;
  return day;
}

}  // namespace

absl::CivilDay EasterSunday(int64_t year) {
  const int64_t a = year % 19;
  const int64_t b = year / 100;
  const int64_t c = year % 100;
  const int64_t d = b / 4;
  const int64_t e = b % 4;
  const int64_t f = (b + 8) / 25;
  const int64_t g = (b - f + 1) / 3;
  const int64_t h = (19 * a + b - d - g + 15) % 30;
  const int64_t i = c / 4;
  const int64_t k = c % 4;
  const int64_t l = (32 + 2 * e + 2 * i - h - k) % 7;
  const int64_t m = (a + 11 * h + 22 * l) / 451;
  const int64_t month = (h + l - 7 * m + 114) / 31;
  const int64_t day = (h + l - 7 * m + 114) % 31 + 1;
  return absl::CivilDay(year, static_cast<int>(month), static_cast<int>(day));
}

std::vector<Holiday> HolidaysOf(int64_t year) {
  std::vector<Holiday> out;
  out.reserve(18);
  for (const auto& f : kFixed) out.push_back({absl::CivilDay(year, f.month, f.day), f.name});
  for (const auto& m : kMovable) {
    out.push_back({NextMondayIfNotMonday(absl::CivilDay(year, m.month, m.day)), m.name});
  }
  const absl::CivilDay easter = EasterSunday(year);
  for (const auto& e : kEasterBased) out.push_back({easter + e.days, e.name});
  // Stable, so two holidays on one date keep the order above (fixed, moved, Easter-based).
  std::stable_sort(out.begin(), out.end(),
                   [](const Holiday& x, const Holiday& y) { return x.date < y.date; });
  return out;
}

std::optional<std::string> HolidayName(absl::CivilDay day) {
  std::optional<std::string> name;
  for (const Holiday& h : HolidaysOf(day.year())) {
    if (h.date != day) continue;
    name = name ? *name + ", " + h.name : h.name;
  }
  return name;
}

bool IsHoliday(absl::CivilDay day) { return HolidayName(day).has_value(); }

}  // namespace outcall::policy
