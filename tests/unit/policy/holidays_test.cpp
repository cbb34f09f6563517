#include "outcall/policy/holidays.h"

#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace outcall::policy {
namespace {

std::vector<absl::CivilDay> Dates(int year) {
  std::vector<absl::CivilDay> out;
  for (const Holiday& h : HolidaysOf(year)) out.push_back(h.date);
  return out;
}

std::vector<absl::CivilDay> Days(int year, std::vector<std::pair<int, int>> month_days) {
  std::vector<absl::CivilDay> out;
  for (auto [m, d] : month_days) out.emplace_back(year, m, d);
  return out;
}

// The published lists, written out literally. 2024: seguimiento.co and noticias24colombia.com;
// 2025: festivos.com.co/2025 and publicholidays.co (banrep); 2026: compliance-co.md A4, caracol,
// publimetro, festivos.com.co/calendario/2026; 2023: infobae 2023-07-04 (second half), semana and
// eltiempo (3 Jul, 22 May); 2027: elrinconcolombiano.com (January to June; the stored copy of
// the page ends there, the second half follows from the rule).
TEST(Holidays, Published2023) {
  EXPECT_EQ(Dates(2023), Days(2023, {{1, 1},
                                     {1, 9},
                                     {3, 20},
                                     {4, 6},
                                     {4, 7},
                                     {5, 1},
                                     {5, 22},
                                     {6, 12},
                                     {6, 19},
                                     {7, 3},
                                     {7, 20},
                                     {8, 7},
                                     {8, 21},
                                     {10, 16},
                                     {11, 6},
                                     {11, 13},
                                     {12, 8},
                                     {12, 25}}));
}

TEST(Holidays, Published2024) {
  EXPECT_EQ(Dates(2024), Days(2024, {{1, 1},
                                     {1, 8},
                                     {3, 25},
                                     {3, 28},
                                     {3, 29},
                                     {5, 1},
                                     {5, 13},
                                     {6, 3},
                                     {6, 10},
                                     {7, 1},
                                     {7, 20},
                                     {8, 7},
                                     {8, 19},
                                     {10, 14},
                                     {11, 4},
                                     {11, 11},
                                     {12, 8},
                                     {12, 25}}));
}

TEST(Holidays, Published2025HasTwoOnThirtiethOfJune) {
  EXPECT_EQ(Dates(2025), Days(2025, {{1, 1},
                                     {1, 6},
                                     {3, 24},
                                     {4, 17},
                                     {4, 18},
                                     {5, 1},
                                     {6, 2},
                                     {6, 23},
                                     {6, 30},
                                     {6, 30},
                                     {7, 20},
                                     {8, 7},
                                     {8, 18},
                                     {10, 13},
                                     {11, 3},
                                     {11, 17},
                                     {12, 8},
                                     {12, 25}}));
  const std::vector<absl::CivilDay> dates = Dates(2025);
  EXPECT_EQ(std::set<absl::CivilDay>(dates.begin(), dates.end()).size(), 17u);
  EXPECT_EQ(HolidayName(absl::CivilDay(2025, 6, 30)), "San Pedro y San Pablo, Sagrado Corazón");
}

TEST(Holidays, Published2026) {
  EXPECT_EQ(Dates(2026), Days(2026, {{1, 1},
                                     {1, 12},
                                     {3, 23},
                                     {4, 2},
                                     {4, 3},
                                     {5, 1},
                                     {5, 18},
                                     {6, 8},
                                     {6, 15},
                                     {6, 29},
                                     {7, 20},
                                     {8, 7},
                                     {8, 17},
                                     {10, 12},
                                     {11, 2},
                                     {11, 16},
                                     {12, 8},
                                     {12, 25}}));
}

TEST(Holidays, Published2027) {
  EXPECT_EQ(Dates(2027), Days(2027, {{1, 1},
                                     {1, 11},
                                     {3, 22},
                                     {3, 25},
                                     {3, 26},
                                     {5, 1},
                                     {5, 10},
                                     {5, 31},
                                     {6, 7},
                                     {7, 5},
                                     {7, 20},
                                     {8, 7},
                                     {8, 16},
                                     {10, 18},
                                     {11, 1},
                                     {11, 15},
                                     {12, 8},
                                     {12, 25}}));
}

// calendario-365.com.co [H9]: in 2028 Ascensión moves from Thursday 25 May to Monday 29 May and
// Corpus Christi from Thursday 15 June to Monday 19 June.
TEST(Holidays, EasterBasedMoves2028) {
  EXPECT_EQ(HolidayName(absl::CivilDay(2028, 5, 29)), "Ascensión del Señor");
  EXPECT_EQ(HolidayName(absl::CivilDay(2028, 6, 19)), "Corpus Christi");
  EXPECT_FALSE(IsHoliday(absl::CivilDay(2028, 5, 25)));
  EXPECT_FALSE(IsHoliday(absl::CivilDay(2028, 6, 15)));
}

TEST(Holidays, Names) {
  EXPECT_EQ(HolidayName(absl::CivilDay(2026, 12, 8)), "Inmaculada Concepción");
  EXPECT_EQ(HolidayName(absl::CivilDay(2026, 1, 12)), "Día de los Reyes Magos");
  EXPECT_EQ(HolidayName(absl::CivilDay(2026, 4, 3)), "Viernes Santo");
  EXPECT_EQ(HolidayName(absl::CivilDay(2026, 12, 9)), std::nullopt);
  // 6 Jan 2026 is a Tuesday: the holiday moved, the date itself is ordinary.
  EXPECT_FALSE(IsHoliday(absl::CivilDay(2026, 1, 6)));
  EXPECT_TRUE(IsHoliday(absl::CivilDay(2026, 1, 12)));
}

TEST(Holidays, EasterByComputus) {
  EXPECT_EQ(EasterSunday(2024), absl::CivilDay(2024, 3, 31));
  EXPECT_EQ(EasterSunday(2025), absl::CivilDay(2025, 4, 20));
  EXPECT_EQ(EasterSunday(2026), absl::CivilDay(2026, 4, 5));
  EXPECT_EQ(EasterSunday(2000), absl::CivilDay(2000, 4, 23));
  EXPECT_EQ(EasterSunday(2038), absl::CivilDay(2038, 4, 25));  // the latest possible
  EXPECT_EQ(EasterSunday(2285), absl::CivilDay(2285, 3, 22));  // the earliest possible
  for (int year = 1900; year <= 2200; ++year) {
    const absl::CivilDay easter = EasterSunday(year);
    EXPECT_EQ(absl::GetWeekday(easter), absl::Weekday::sunday) << year;
    EXPECT_GE(easter, absl::CivilDay(year, 3, 22)) << year;
    EXPECT_LE(easter, absl::CivilDay(year, 4, 25)) << year;
  }
}

TEST(Holidays, PropertiesForEveryYear) {
  const std::set<std::string> fixed = {
      "Año Nuevo",         "Día del Trabajo",       "Día de la Independencia",
      "Batalla de Boyacá", "Inmaculada Concepción", "Navidad",
      "Jueves Santo",      "Viernes Santo"};
  for (int year = 1984; year <= 2200; ++year) {
    const std::vector<Holiday> list = HolidaysOf(year);
    ASSERT_EQ(list.size(), 18u) << year;
    std::set<std::string> names;
    for (size_t i = 0; i < list.size(); ++i) {
      const Holiday& h = list[i];
      names.insert(h.name);
      EXPECT_EQ(h.date.year(), year) << h.name;
      if (i > 0) {
        EXPECT_LE(list[i - 1].date, h.date) << year;
      }
      if (fixed.count(h.name) == 0) {
        EXPECT_EQ(absl::GetWeekday(h.date), absl::Weekday::monday) << year << " " << h.name;
      }
      EXPECT_TRUE(IsHoliday(h.date));
    }
    EXPECT_EQ(names.size(), 18u) << year;
    EXPECT_EQ(absl::GetWeekday(list[0].date), absl::GetWeekday(absl::CivilDay(year, 1, 1)));
  }
}

TEST(Holidays, MovedOnlyWhenNotMonday) {
  // 1 Nov 2027 is a Monday: Todos los Santos stays on it; 15 Aug 2027 is a Sunday: moved to the
  // 16th (a Sunday holiday moves too).
  EXPECT_EQ(HolidayName(absl::CivilDay(2027, 11, 1)), "Todos los Santos");
  EXPECT_EQ(HolidayName(absl::CivilDay(2027, 8, 16)), "Asunción de la Virgen");
  EXPECT_FALSE(IsHoliday(absl::CivilDay(2027, 8, 15)));
  // A fixed holiday on a Sunday does not move: 20 Jul 2025 is a Sunday.
  EXPECT_TRUE(IsHoliday(absl::CivilDay(2025, 7, 20)));
  EXPECT_FALSE(IsHoliday(absl::CivilDay(2025, 7, 21)));
}

}  // namespace
}  // namespace outcall::policy
