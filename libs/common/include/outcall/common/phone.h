// Phone number normalisation to E.164, with the seed system's rules: a number without a country
// code gets the default one (+57, Colombia), so 3001234567, 573001234567 and "+57 300 123 4567"
// all give +573001234567. Numbers of other countries are accepted in international form.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace outcall::common {

// Returns the E.164 form ("+573001234567") or INVALID_ARGUMENT with a message saying why the
// input is not a usable phone number. `default_country_code` is digits only, e.g. "57".
absl::StatusOr<std::string> NormalizePhone(std::string_view input,
                                           std::string_view default_country_code = "57");

// The country calling code (digits, no '+') at the start of an E.164 number, or "" if none.
std::string_view CountryCallingCode(std::string_view e164);

}  // namespace outcall::common
