#include "stats_cursor.h"

#include <array>

#include "absl/strings/escaping.h"
#include "outcall/common/strings.h"

namespace outcall::stats {
namespace {

constexpr unsigned char kVersion = 1;
constexpr size_t kRecordSize = 1 + 4 * 8;
// Cursors are short; anything much longer is not one (and is not worth decoding).
constexpr size_t kMaxTextSize = 64;

void PutU64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

uint64_t GetU64(std::string_view in, size_t pos) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[pos + i]);
  return v;
}

absl::Status Invalid() {
  return absl::InvalidArgumentError(
      "cursor: not a valid cursor; pass pagination.nextCursor of a previous response unchanged");
}

}  // namespace

std::string EncodeCursor(const CallCursor& cursor) {
  std::string raw;
  raw.reserve(kRecordSize);
  raw.push_back(static_cast<char>(kVersion));
  PutU64(raw, static_cast<uint64_t>(cursor.created_at_us));
  PutU64(raw, static_cast<uint64_t>(cursor.id));
  PutU64(raw, static_cast<uint64_t>(cursor.offset));
  PutU64(raw, cursor.fingerprint);
  return absl::WebSafeBase64Escape(absl::string_view(raw.data(), raw.size()));
}

absl::StatusOr<CallCursor> DecodeCursor(std::string_view text) {
  if (text.empty() || text.size() > kMaxTextSize) return Invalid();
  for (char c : text) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return Invalid();
  }
  std::string raw;
  if (!absl::WebSafeBase64Unescape(common::ToAbsl(text), &raw) || raw.size() != kRecordSize ||
      static_cast<unsigned char>(raw[0]) != kVersion) {
    return Invalid();
  }
  CallCursor c;
  c.created_at_us = static_cast<int64_t>(GetU64(raw, 1));
  c.id = static_cast<int64_t>(GetU64(raw, 9));
  c.offset = static_cast<int64_t>(GetU64(raw, 17));
  c.fingerprint = GetU64(raw, 25);
  // One canonical spelling per cursor (no trailing bits, no padding variants).
  if (EncodeCursor(c) != text) return Invalid();
  if (c.id <= 0 || c.offset <= 0) return Invalid();
  return c;
}

}  // namespace outcall::stats
