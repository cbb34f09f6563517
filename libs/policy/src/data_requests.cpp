#include "outcall/policy/data_requests.h"

#include <string>

#include "outcall/policy/holidays.h"

namespace outcall::policy {

std::string_view DataRequestKindName(DataRequestKind kind) {
  switch (kind) {
    case DataRequestKind::kAccess:
      return "access";
    case DataRequestKind::kRectification:
      return "rectification";
    case DataRequestKind::kDeletion:
      return "deletion";
  }
  return "access";
}

absl::StatusOr<DataRequestKind> ParseDataRequestKind(std::string_view name) {
  for (DataRequestKind k :
       {DataRequestKind::kAccess, DataRequestKind::kRectification, DataRequestKind::kDeletion}) {
    if (name == DataRequestKindName(k)) return k;
  }
  return absl::InvalidArgumentError("kind \"" + std::string(name) +
                                    "\" is not one of access, rectification, deletion");
}

LegalTerm TermFor(DataRequestKind kind) {
  if (kind == DataRequestKind::kAccess) return {10, 5, "Ley 1581 de 2012 art. 14"};
  return {15, 8, "Ley 1581 de 2012 art. 15"};
}

bool IsBusinessDay(absl::CivilDay day) {
  const absl::Weekday w = absl::GetWeekday(day);
  return w != absl::Weekday::saturday && w != absl::Weekday::sunday && !IsHoliday(day);
}

absl::CivilDay BusinessDaysAfter(absl::CivilDay day, int n) {
  while (n > 0) {
    ++day;
    if (IsBusinessDay(day)) --n;
  }
  return day;
}

Deadlines DeadlinesFor(DataRequestKind kind, absl::Time received, absl::TimeZone zone) {
  const LegalTerm term = TermFor(kind);
  const absl::CivilDay day = absl::ToCivilDay(received, zone);
  const absl::CivilDay last = BusinessDaysAfter(day, term.business_days);
  const absl::CivilDay extended = BusinessDaysAfter(last, term.extension_business_days);
  return {absl::FromCivil(last + 1, zone), absl::FromCivil(extended + 1, zone)};
}

}  // namespace outcall::policy
