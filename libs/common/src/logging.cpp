#include "outcall/common/logging.h"

#include <boost/json.hpp>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <chrono>
#include <cstdio>

#include "outcall/common/strings.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "outcall/common/phone.h"

namespace outcall::common {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
// ASCII only: a phone next to Spanish punctuation ("¿3001234567?", a no-break space, "…") must
// still be masked; over-masking digits glued to an accented letter is the safe side.
bool IsWordChar(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool IsAlnum(char c) { return IsWordChar(c) && c != '_'; }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

constexpr size_t kUuidSize = 36;

// 8-4-4-4-12 hex digits at `pos`, not followed by another letter or digit.
bool IsUuidAt(std::string_view text, size_t pos) {
  if (pos > text.size() || text.size() - pos < kUuidSize) return false;
  for (size_t k = 0; k < kUuidSize; ++k) {
    const char c = text[pos + k];
    if (k == 8 || k == 13 || k == 18 || k == 23) {
      if (c != '-') return false;
    } else if (!IsHex(c)) {
      return false;
    }
  }
  return pos + kUuidSize == text.size() || !IsAlnum(text[pos + kUuidSize]);
}

class JsonMaskingFormatter final : public spdlog::formatter {
 public:
  JsonMaskingFormatter(std::string service, bool json)
      : service_(std::move(service)), json_(json) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const std::string_view payload(msg.payload.data(), msg.payload.size());
    const std::string text = RedactPhones(payload);
    const absl::Time t = absl::FromChrono(msg.time);
    const std::string ts = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
    const auto level = spdlog::level::to_string_view(msg.level);
    std::string line;
    line.reserve(text.size() + 96);
    if (json_) {
      // One JSON object per line; Boost.JSON escapes quotes and control characters.
      line = boost::json::serialize(
          boost::json::object{{"ts", ts},
                              {"level", std::string_view(level.data(), level.size())},
                              {"service", service_},
                              {"msg", text}});
      line += '\n';
    } else {
      Append(&line, ts, " ", std::string_view(level.data(), level.size()), " ",
                      service_, ": ", text, "\n");
    }
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonMaskingFormatter>(service_, json_);
  }

 private:
  std::string service_;
  bool json_;
};

}  // namespace

absl::Status InitLogging(const LogOptions& options) {
  const auto level = spdlog::level::from_str(options.level);
  if (level == spdlog::level::off && options.level != "off") {
    return absl::InvalidArgumentError(Cat("unknown log level '", options.level, "'"));
  }
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(options.service, sink);
  logger->set_formatter(std::make_unique<JsonMaskingFormatter>(options.service, options.json));
  logger->set_level(level);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
  return absl::OkStatus();
}

std::string MaskPhone(std::string_view phone) {
  std::string digits;
  for (char c : phone) {
    if (IsDigit(c)) digits += c;
  }
  if (digits.size() <= 4) return std::string(digits.size(), '*');
  // Keep a country code only when the input is in international form.
  size_t keep_front = 0;
  if (!phone.empty() && phone[0] == '+' && digits.size() > 8) {
    keep_front = CountryCallingCode("+" + digits).size();
  }
  std::string out = keep_front > 0 ? "+" : "";
  out += digits.substr(0, keep_front);
  out.append(digits.size() - keep_front - 4, '*');
  out += digits.substr(digits.size() - 4);
  return out;
}

std::string MaskName(std::string_view name) {
  std::string out;
  bool word_start = true;
  size_t i = 0;
  while (i < name.size()) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    size_t len = 1;
    if (c >= 0xF0) {
      len = 4;
    } else if (c >= 0xE0) {
      len = 3;
    } else if (c >= 0xC0) {
      len = 2;
    }
    len = std::min(len, name.size() - i);
    if (c == ' ' || c == '-' || c == '\'') {
      out += static_cast<char>(c);
      word_start = true;
    } else if (word_start) {
      out.append(name.substr(i, len));
      word_start = false;
    } else {
      out += '*';
    }
    i += len;
  }
  return out;
}

std::string RedactName(std::string_view text, std::string_view name) {
  std::string out(text);
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  size_t start = 0;
  while (start < name.size()) {
    size_t stop = start;
    while (stop < name.size() && name[stop] != ' ' && name[stop] != '-' && name[stop] != '\'') {
      ++stop;
    }
    const std::string_view word = name.substr(start, stop - start);
    start = stop + 1;
    if (word.size() < 2) continue;  // an initial says nothing
    for (size_t i = 0; i + word.size() <= out.size();) {
      bool match = i == 0 || !IsWordChar(out[i - 1]);
      for (size_t k = 0; match && k < word.size(); ++k) match = lower(out[i + k]) == lower(word[k]);
      match = match && (i + word.size() == out.size() || !IsWordChar(out[i + word.size()]));
      if (!match) {
        ++i;
        continue;
      }
      const std::string masked = MaskName(std::string_view(out).substr(i, word.size()));
      out.replace(i, word.size(), masked);
      i += masked.size();
    }
  }
  return out;
}

std::string RedactPatientData(std::string_view text, std::string_view patient_name) {
  return RedactPhones(patient_name.empty() ? std::string(text) : RedactName(text, patient_name));
}

std::string RedactPhones(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    // A UUID (a call id) is an identifier, never a phone number, even when one of its groups is
    // all digits: copied whole.
    if ((i == 0 || !IsAlnum(text[i - 1])) && IsUuidAt(text, i)) {
      out.append(text.substr(i, kUuidSize));
      i += kUuidSize;
      continue;
    }
    const bool starts_run = (IsDigit(text[i]) || (text[i] == '+' && i + 1 < text.size() &&
                                                  IsDigit(text[i + 1]))) &&
                            (i == 0 || !IsWordChar(text[i - 1]));
    if (!starts_run) {
      out += text[i++];
      continue;
    }
    // Extend over digits and single separators between digits. `group_end` and `group_digits`
    // remember the last group that a separator follows: when the whole run turns out to be glued
    // to a word ("+573001234567-3f2b..."), the run up to that separator is still a phone.
    size_t j = i + (text[i] == '+' ? 1 : 0);
    size_t digits = 0;
    size_t end = j;
    size_t group_end = 0;
    size_t group_digits = 0;
    while (j < text.size()) {
      if (IsDigit(text[j])) {
        ++digits;
        end = ++j;
      } else if ((text[j] == ' ' || text[j] == '-' || text[j] == '.') && j + 1 < text.size() &&
                 IsDigit(text[j + 1]) && digits > 0) {
        group_end = end;
        group_digits = digits;
        if (IsUuidAt(text, j + 1)) break;  // a call id right after the number is not part of it
        ++j;
      } else {
        break;
      }
    }
    bool bounded = end >= text.size() || !IsWordChar(text[end]);
    if (!bounded && group_end > 0) {
      end = group_end;  // followed by a separator: bounded
      digits = group_digits;
      bounded = true;
    }
    if (digits >= 7 && bounded) {
      size_t seen = 0;
      for (size_t k = i; k < end; ++k) {
        if (IsDigit(text[k])) {
          ++seen;
          out += seen > digits - 2 ? text[k] : '*';
        } else {
          out += text[k];
        }
      }
    } else {
      out.append(text.substr(i, end - i));
    }
    i = std::max(end, i + 1);
  }
  return out;
}

}  // namespace outcall::common
