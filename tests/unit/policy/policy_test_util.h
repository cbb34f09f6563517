// Helpers shared by the policy tests: instants from local wall-clock times.
#pragma once

#include <string>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace outcall::policy::testing {

inline absl::TimeZone Zone(const std::string& name) {
  absl::TimeZone tz;
  EXPECT_TRUE(absl::LoadTimeZone(name, &tz)) << name;
  return tz;
}

// The instant of a local wall-clock time in `zone` (a time in a DST gap or repeat is not used).
inline absl::Time At(int y, int mo, int d, int h, int mi,
                     const std::string& zone = "America/Bogota", int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), Zone(zone));
}

inline absl::Time Utc(int y, int mo, int d, int h, int mi) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, 0), absl::UTCTimeZone());
}

}  // namespace outcall::policy::testing
