// The opaque ListCalls cursor: a keyset position in the history order (created_at DESC, id DESC),
// the number of rows before it (to report a page number), and a fingerprint of the filters it
// was issued for. Encoded as unpadded base64url of a fixed 33-byte record (version byte, four
// big-endian 64-bit fields). Not a secret and not signed: a forged cursor can only move the
// position inside the caller's own filtered query.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace outcall::stats {

struct CallCursor {
  int64_t created_at_us = 0;  // created_at of the last row shown, microseconds since the epoch
  int64_t id = 0;             // its id (the tie-break)
  int64_t offset = 0;         // rows before the next one (rows shown so far)
  uint64_t fingerprint = 0;   // FilterFingerprint of the query it belongs to

  bool operator==(const CallCursor&) const = default;
};

std::string EncodeCursor(const CallCursor& cursor);

// INVALID_ARGUMENT "cursor: ..." for anything that is not a cursor this service wrote.
absl::StatusOr<CallCursor> DecodeCursor(std::string_view text);

}  // namespace outcall::stats
