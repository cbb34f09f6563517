// The legal terms for a data subject's requests under Ley 1581 de 2012, counted in Colombian
// business days ("días hábiles": Monday to Friday, not a holiday of holidays.h).
//   art. 14, consultas (access):            10 business days, extendable once by 5;
//   art. 15, reclamos (rectification and deletion, "corrección, actualización o supresión"):
//                                           15 business days, extendable once by 8.
// The count starts the business day after the request was received (a request received on a
// Saturday, Sunday or holiday counts from the next business day as well), and the term ends at
// the end of its last day in the clinic's time zone. ../shared/compliance-co.md marks both terms
// as commonly cited; they are the stricter reading (no source gives a longer one) and one place
// to change.
#pragma once

#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace outcall::policy {

enum class DataRequestKind { kAccess, kRectification, kDeletion };

std::string_view DataRequestKindName(DataRequestKind kind);  // access, rectification, deletion
absl::StatusOr<DataRequestKind> ParseDataRequestKind(std::string_view name);

struct LegalTerm {
  int business_days = 0;
  int extension_business_days = 0;
  std::string_view article;  // "Ley 1581 de 2012 art. 14"
};

LegalTerm TermFor(DataRequestKind kind);

bool IsBusinessDay(absl::CivilDay day);

// The day `n` business days after `day` (n >= 0; 0 gives `day` itself).
absl::CivilDay BusinessDaysAfter(absl::CivilDay day, int n);

struct Deadlines {
  absl::Time due;           // the end (exclusive) of the term's last day
  absl::Time extended_due;  // the same with the one extension the law allows
};

// The deadlines of a request of `kind` received at `received` in `zone`.
Deadlines DeadlinesFor(DataRequestKind kind, absl::Time received, absl::TimeZone zone);

}  // namespace outcall::policy
