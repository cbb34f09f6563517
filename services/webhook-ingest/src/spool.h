// The local spool: where webhook-ingest keeps a verified event while PostgreSQL cannot take it,
// so that it can still answer 200 (ElevenLabs sends each webhook once). One file per event,
// written to a temporary name, fsynced, renamed into place and the directory fsynced before the
// event counts as kept; drained into the inbox oldest first once the database is back, each
// file removed only after the transaction that holds its event has committed (a crash in
// between makes it a duplicate, which the inbox ignores). Bounded in bytes; survives restarts.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "inbox_store.h"

namespace outcall::webhook_ingest {

class Spool {
 public:
  // Opens (creating it if needed) `dir`, takes in what an earlier process left there and
  // removes its unfinished temporary files. INVALID_ARGUMENT or an I/O error naming the path.
  static absl::StatusOr<std::unique_ptr<Spool>> Open(const std::string& dir, int64_t max_bytes);

  // Keeps `record` (its audio too) durably. RESOURCE_EXHAUSTED when it would pass max_bytes,
  // DATA_LOSS when the disk refused: the event is then not kept.
  absl::Status Append(const InboxRecord& record);

  // Hands the kept events to `store`, oldest first, each as a record of its own (audio in a
  // temporary file); removes each one `store` took (OK), sets aside (as NAME.refused) one it
  // answered INVALID_ARGUMENT for (the database refuses it as it is), and stops at the first
  // other failure. Returns how many were taken.
  int Drain(const std::function<absl::Status(InboxRecord&)>& store);

  bool empty() const;
  int64_t bytes() const;
  int64_t count() const;

 private:
  Spool(std::string dir, int64_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}
  std::string PathOf(uint64_t seq, bool temporary) const;

  const std::string dir_;
  const int64_t max_bytes_;
  mutable std::mutex mu_;       // one writer or drainer at a time
  uint64_t next_seq_ = 1;       // under mu_
  int64_t bytes_ = 0;           // under mu_
  int64_t count_ = 0;           // under mu_
};

}  // namespace outcall::webhook_ingest
