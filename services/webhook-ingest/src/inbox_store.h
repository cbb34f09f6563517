// The durable inbox: verified events are inserted into webhook_inbox (deduplicated by type and
// conversation id) and a request is answered only after the transaction that holds its event has
// committed. Concurrent requests share one transaction (group commit): each commit worker takes
// every event queued while the previous commit was running. Audio with its parts goes through
// its own workers, one transaction per event.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "metrics.h"
#include "service_config.h"

namespace outcall::webhook_ingest {

// kSpooled: PostgreSQL could not take it, the local spool did (durably): acknowledged, and
// drained into the inbox when the database is back.
enum class StoreOutcome { kStored, kDuplicate, kUnavailable, kSpooled };

class Spool;

struct StoreResult {
  StoreOutcome outcome = StoreOutcome::kUnavailable;
  int64_t inbox_id = 0;  // when stored
};

struct FileCloser {
  void operator()(std::FILE* f) const {
    if (f != nullptr) std::fclose(f);
  }
};
using TempFile = std::unique_ptr<std::FILE, FileCloser>;

struct InboxRecord {
  std::string event_type;
  std::string conversation_id;
  std::optional<int64_t> event_timestamp;
  std::string body;  // raw verified body, or the audio summary body (body_truncated)
  bool body_truncated = false;
  std::string body_sha256;  // of the whole raw body as received
  TempFile audio;           // decoded audio to store in parts (SAVE_CALL_AUDIO), else null
};

using StoreCallback = std::function<void(StoreResult)>;

// What the HTTP side needs (a fake in unit tests).
class InboxWriter {
 public:
  virtual ~InboxWriter() = default;
  // `done` runs exactly once, on a store thread, after the commit (or the failure).
  virtual void Submit(InboxRecord record, StoreCallback done) = 0;
};

class InboxStore : public InboxWriter {
 public:
  // `on_stored` runs after every commit that stored something new (wakes the publisher). With a
  // `spool` (not owned), an event the database cannot take is kept there instead of refused,
  // and while the spool holds events new ones join them, so the inbox gets them in order.
  InboxStore(std::string database_url, StoreOptions options, IngestMetrics* metrics,
             std::function<void()> on_stored = {}, Spool* spool = nullptr);
  ~InboxStore() override;
  InboxStore(const InboxStore&) = delete;
  InboxStore& operator=(const InboxStore&) = delete;

  void Submit(InboxRecord record, StoreCallback done) override;
  // Fails every queued request with kUnavailable and stops the workers.
  void Stop();

 private:
  struct Pending {
    InboxRecord record;
    StoreCallback done;
  };
  struct Queue {
    std::deque<Pending> items;
  };
  void CommitLoop();
  void AudioLoop();
  void DrainLoop();
  // Moves what the spool holds into the inbox, oldest first; true when it is empty afterwards.
  bool DrainSpool(std::unique_ptr<pqxx::connection>& conn);
  // The database could not take these: into the spool (kSpooled), or kUnavailable.
  void SpoolOrRefuse(std::vector<Pending>& batch);
  // Inserts one record (and its audio parts) in `tx`: the inbox id, or nothing for a duplicate.
  std::optional<int64_t> InsertWithAudio(pqxx::work& tx, InboxRecord& record);
  void CommitBatch(std::unique_ptr<pqxx::connection>& conn, std::vector<Pending>& batch);
  void StoreAudio(std::unique_ptr<pqxx::connection>& conn, Pending& p);
  std::unique_ptr<pqxx::connection> Connect();

  std::string url_;
  StoreOptions options_;
  IngestMetrics* metrics_;
  std::function<void()> on_stored_;
  Spool* spool_;
  // After a failure to reach the database, requests go straight to the spool for a second
  // (the drain thread keeps probing) rather than each waiting out a connect timeout.
  std::atomic<int64_t> db_down_until_ms_{0};
  bool DatabaseRecentlyDown() const;
  void NoteDatabaseDown();
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> small_;
  std::deque<Pending> audio_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace outcall::webhook_ingest
