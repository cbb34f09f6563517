// Structured logging (spdlog, one JSON object per line) that masks patient data: phone numbers
// in any message are masked by the formatter, and callers wrap names with MaskName().
#pragma once

#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "absl/status/status.h"

namespace outcall::common {

struct LogOptions {
  std::string service;
  std::string level = "info";  // trace, debug, info, warn, error
  bool json = true;
};

// Installs the default logger (stderr) with the masking formatter.
absl::Status InitLogging(const LogOptions& options);

// "+573001234567" -> "+57******4567": keeps the country code and the last four digits.
std::string MaskPhone(std::string_view phone);

// "Juan Pérez" -> "J*** P****": keeps the first letter of each word (UTF-8 aware).
std::string MaskName(std::string_view name);

// Masks every phone-like run of 7 or more digits (spaces, dashes, dots and a leading '+' allowed
// inside) that is not part of a longer word, keeping only the last two digits. UUIDs (call ids)
// are left whole, even when a group of theirs is all digits. Applied by the formatter to every
// log message as a last line of defence, and to text that leaves the service (error messages).
std::string RedactPhones(std::string_view text);

// Masks, with MaskName, every whole-word occurrence in `text` (ASCII case-insensitive) of each
// word of `name` that has two or more characters: "no es Ana Ruiz" -> "no es A** R***".
std::string RedactName(std::string_view text, std::string_view name);

// RedactName (when a patient name is known) then RedactPhones: for text from outside (a
// provider's error message) before it is stored or returned.
std::string RedactPatientData(std::string_view text, std::string_view patient_name = {});

}  // namespace outcall::common
