#include "outcall/policy/data_requests.h"

#include "gtest/gtest.h"

namespace outcall::policy {
namespace {

absl::TimeZone Bogota() {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone("America/Bogota", &tz));
  return tz;
}

absl::Time At(int y, int mo, int d, int h, int mi) {
  return absl::FromCivil(absl::CivilMinute(y, mo, d, h, mi), Bogota());
}

TEST(DataRequests, BusinessDaysSkipWeekendsAndHolidays) {
  EXPECT_TRUE(IsBusinessDay(absl::CivilDay(2026, 12, 7)));    // Monday
  EXPECT_FALSE(IsBusinessDay(absl::CivilDay(2026, 12, 8)));   // Inmaculada Concepción, Tuesday
  EXPECT_FALSE(IsBusinessDay(absl::CivilDay(2026, 12, 12)));  // Saturday
  EXPECT_FALSE(IsBusinessDay(absl::CivilDay(2027, 1, 11)));   // Reyes Magos, moved to Monday
  EXPECT_EQ(BusinessDaysAfter(absl::CivilDay(2026, 12, 4), 0), absl::CivilDay(2026, 12, 4));
  EXPECT_EQ(BusinessDaysAfter(absl::CivilDay(2026, 12, 4), 1), absl::CivilDay(2026, 12, 7));
  EXPECT_EQ(BusinessDaysAfter(absl::CivilDay(2026, 12, 7), 1), absl::CivilDay(2026, 12, 9));
}

TEST(DataRequests, AccessIsTenBusinessDaysExtendableByFive) {
  // Tuesday 1 December 2026: the 8th is a holiday, so the tenth business day is the 16th.
  const Deadlines d = DeadlinesFor(DataRequestKind::kAccess, At(2026, 12, 1, 10, 0), Bogota());
  EXPECT_EQ(d.due, At(2026, 12, 17, 0, 0));
  EXPECT_EQ(d.extended_due, At(2026, 12, 24, 0, 0));
  EXPECT_EQ(TermFor(DataRequestKind::kAccess).article, "Ley 1581 de 2012 art. 14");
}

TEST(DataRequests, ClaimsAreFifteenBusinessDaysAcrossTheYearEnd) {
  // Friday 18 December 2026: Christmas, New Year and Reyes Magos (moved to Monday 11 January
  // 2027) do not count.
  const Deadlines d = DeadlinesFor(DataRequestKind::kDeletion, At(2026, 12, 18, 16, 0), Bogota());
  EXPECT_EQ(d.due, At(2027, 1, 14, 0, 0));
  // Eight more: 14, 15, 18, 19, 20, 21, 22, 25 January.
  EXPECT_EQ(d.extended_due, At(2027, 1, 26, 0, 0));
  EXPECT_EQ(DeadlinesFor(DataRequestKind::kRectification, At(2026, 12, 18, 16, 0), Bogota()).due,
            d.due);
}

TEST(DataRequests, TheDayOfReceiptIsTheClinicsDay) {
  // 23:30 on Tuesday 1 December in Bogotá is already Wednesday in UTC: the term counts from
  // Bogotá's Tuesday.
  const absl::Time late = At(2026, 12, 1, 23, 30);
  EXPECT_EQ(DeadlinesFor(DataRequestKind::kAccess, late, Bogota()).due, At(2026, 12, 17, 0, 0));
  EXPECT_EQ(DeadlinesFor(DataRequestKind::kAccess, late, absl::UTCTimeZone()).due,
            absl::FromCivil(absl::CivilDay(2026, 12, 18), absl::UTCTimeZone()));
}

TEST(DataRequests, ARequestOnASaturdayCountsFromMonday) {
  // Saturday 5 December: Monday the 7th is day 1 (the 8th is a holiday), the 21st day 10.
  EXPECT_EQ(DeadlinesFor(DataRequestKind::kAccess, At(2026, 12, 5, 11, 0), Bogota()).due,
            At(2026, 12, 22, 0, 0));
}

TEST(DataRequests, KindNames) {
  for (auto k :
       {DataRequestKind::kAccess, DataRequestKind::kRectification, DataRequestKind::kDeletion}) {
    auto parsed = ParseDataRequestKind(DataRequestKindName(k));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, k);
  }
  EXPECT_EQ(ParseDataRequestKind("erase").status().message(),
            "kind \"erase\" is not one of access, rectification, deletion");
}

}  // namespace
}  // namespace outcall::policy
