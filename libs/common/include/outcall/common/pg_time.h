// Instants as statements carry them: to_timestamp($n::float8) in, extract(epoch from
// ...)::float8 out, to the microsecond (timestamptz's precision); NULL as nullopt.
#pragma once

#include <optional>
#include <pqxx/pqxx>

#include "absl/time/time.h"

namespace outcall::common {

inline double PgEpoch(absl::Time t) { return static_cast<double>(absl::ToUnixMicros(t)) / 1e6; }
inline std::optional<double> PgEpoch(const std::optional<absl::Time>& t) {
  if (!t) return std::nullopt;
  return PgEpoch(*t);
}
inline std::optional<absl::Time> PgInstant(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return absl::FromUnixMicros(static_cast<int64_t>(f.as<double>() * 1e6));
}

}  // namespace outcall::common
