#include "inbox_store.h"

#include <pqxx/pqxx>

#include "outcall/common/logging.h"
#include "outcall/common/pg_pool.h"
#include "outcall/common/strings.h"
#include "spool.h"

namespace outcall::webhook_ingest {
namespace {

constexpr const char* kInsertInbox =
    "INSERT INTO webhook_inbox (event_type, conversation_id, event_timestamp, body, "
    "body_truncated, body_sha256) VALUES ($1, $2, NULLIF($3, '')::bigint, $4, $5, $6) "
    "ON CONFLICT (event_type, conversation_id) DO NOTHING RETURNING id";
constexpr const char* kInsertAudioPart =
    "INSERT INTO webhook_audio_parts (inbox_id, part, data) VALUES ($1, $2, $3)";

std::string WithConnectTimeout(const std::string& url, absl::Duration timeout) {
  const std::string secs = std::to_string(std::max<int64_t>(1, absl::ToInt64Seconds(timeout)));
  if (url.find("connect_timeout") != std::string::npos) return url;
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
    return common::Cat(url, url.find('?') == std::string::npos ? "?" : "&", "connect_timeout=", secs);
  }
  return common::Cat(url, " connect_timeout=", secs);
}

pqxx::result InsertInbox(pqxx::work& tx, const InboxRecord& r) {
  return tx.exec_prepared("inbox_insert", r.event_type, r.conversation_id,
                          r.event_timestamp ? std::to_string(*r.event_timestamp) : std::string(),
                          pqxx::binarystring(r.body.data(), r.body.size()), r.body_truncated,
                          r.body_sha256);
}

// The same statement will fail the same way again (a constraint, a bad value): spooling it
// would only move the failure to the drain.
bool IsDataError(const std::exception& e) {
  const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e);
  if (sql == nullptr) return false;
  const std::string state = sql->sqlstate();
  return state.rfind("22", 0) == 0 || state.rfind("23", 0) == 0;
}

}  // namespace

InboxStore::InboxStore(std::string database_url, StoreOptions options, IngestMetrics* metrics,
                       std::function<void()> on_stored, Spool* spool)
    : url_(WithConnectTimeout(database_url, options.connect_timeout)),
      options_(options),
      metrics_(metrics),
      on_stored_(std::move(on_stored)),
      spool_(spool) {
  for (int i = 0; i < options_.commit_workers; ++i) threads_.emplace_back([this] { CommitLoop(); });
  for (int i = 0; i < options_.audio_workers; ++i) threads_.emplace_back([this] { AudioLoop(); });
  if (spool_ != nullptr) threads_.emplace_back([this] { DrainLoop(); });
}

std::optional<int64_t> InboxStore::InsertWithAudio(pqxx::work& tx, InboxRecord& record) {
  pqxx::result r = InsertInbox(tx, record);
  if (r.empty()) return std::nullopt;
  const int64_t id = r[0][0].as<int64_t>();
  if (std::FILE* f = record.audio.get()) {
    std::rewind(f);
    std::string part(static_cast<size_t>(options_.audio_part_bytes), '\0');
    for (int index = 0;; ++index) {
      const size_t n = std::fread(part.data(), 1, part.size(), f);
      if (n == 0) break;
      tx.exec_prepared("audio_part_insert", id, index, pqxx::binarystring(part.data(), n));
    }
    if (std::ferror(f)) throw std::runtime_error("reading the audio file failed");
  }
  return id;
}

bool InboxStore::DatabaseRecentlyDown() const {
  return spool_ != nullptr && absl::ToUnixMillis(absl::Now()) < db_down_until_ms_.load();
}

void InboxStore::NoteDatabaseDown() {
  db_down_until_ms_.store(absl::ToUnixMillis(absl::Now() + absl::Seconds(1)));
}

bool InboxStore::DrainSpool(std::unique_ptr<pqxx::connection>& conn) {
  const int taken = spool_->Drain([&](InboxRecord& r) -> absl::Status {
    try {
      if (!conn || !common::IdleConnectionLooksAlive(*conn)) conn = Connect();
      pqxx::work tx(*conn);
      InsertWithAudio(tx, r);  // a duplicate (drained before a crash) is fine
      tx.commit();
      return absl::OkStatus();
    } catch (const std::exception& e) {
      if (IsDataError(e)) {
        spdlog::error("spooled {} event for conversation {} refused by the database ({}): set "
                      "aside",
                      r.event_type, r.conversation_id,
                      dynamic_cast<const pqxx::sql_error&>(e).sqlstate());
        return absl::InvalidArgumentError("refused");
      }
      conn.reset();
      NoteDatabaseDown();
      return absl::UnavailableError("database unavailable");
    }
  });
  if (taken > 0) {
    db_down_until_ms_.store(0);  // it answers again
    spdlog::info("spool: {} event(s) moved into the inbox, {} left", taken, spool_->count());
    if (on_stored_) on_stored_();
  }
  if (metrics_ != nullptr) metrics_->Spool(spool_->count(), spool_->bytes());
  return spool_->empty();
}

void InboxStore::SpoolOrRefuse(std::vector<Pending>& batch) {
  for (auto& p : batch) {
    StoreResult result{StoreOutcome::kUnavailable, 0};
    if (spool_ != nullptr) {
      if (absl::Status s = spool_->Append(p.record); s.ok()) {
        result.outcome = StoreOutcome::kSpooled;
      } else {
        spdlog::error("event not spooled ({}): refused", common::ToStd(s.message()));
      }
    }
    p.record.audio.reset();
    p.done(result);
  }
  if (spool_ != nullptr && metrics_ != nullptr) metrics_->Spool(spool_->count(), spool_->bytes());
}

void InboxStore::DrainLoop() {
  std::unique_ptr<pqxx::connection> conn;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stopping_; });
      if (stopping_) return;
    }
    if (!spool_->empty()) DrainSpool(conn);
  }
}

InboxStore::~InboxStore() { Stop(); }

void InboxStore::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  std::deque<Pending> left;
  {
    std::lock_guard lock(mu_);
    left.swap(small_);
    for (auto& p : audio_) left.push_back(std::move(p));
    audio_.clear();
  }
  for (auto& p : left) p.done({StoreOutcome::kUnavailable, 0});
}

void InboxStore::Submit(InboxRecord record, StoreCallback done) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      auto& q = record.audio ? audio_ : small_;
      q.push_back({std::move(record), std::move(done)});
      cv_.notify_all();
      return;
    }
  }
  done({StoreOutcome::kUnavailable, 0});
}

std::unique_ptr<pqxx::connection> InboxStore::Connect() {
  auto conn = std::make_unique<pqxx::connection>(url_);
  conn->prepare("inbox_insert", kInsertInbox);
  conn->prepare("audio_part_insert", kInsertAudioPart);
  return conn;
}

void InboxStore::CommitLoop() {
  std::unique_ptr<pqxx::connection> conn;
  std::vector<Pending> batch;
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !small_.empty(); });
      if (stopping_) return;  // Stop() fails what is left
      while (!small_.empty() && batch.size() < static_cast<size_t>(options_.max_batch)) {
        batch.push_back(std::move(small_.front()));
        small_.pop_front();
      }
    }
    CommitBatch(conn, batch);
    batch.clear();
  }
}

void InboxStore::CommitBatch(std::unique_ptr<pqxx::connection>& conn,
                             std::vector<Pending>& batch) {
  std::vector<StoreResult> results(batch.size());
  bool ok = false;
  bool per_record = false;
  bool reused = false;  // the connection served an earlier batch
  bool data_error = false;
  // Events the spool holds go first: while it is not empty, new ones join it.
  if (DatabaseRecentlyDown() ||
      (spool_ != nullptr && !spool_->empty() && !DrainSpool(conn))) {
    SpoolOrRefuse(batch);
    return;
  }
  try {
    if (!conn || !common::IdleConnectionLooksAlive(*conn)) conn = Connect();
    else reused = true;
    pqxx::work tx(*conn);
    for (size_t i = 0; i < batch.size(); ++i) {
      pqxx::result r = InsertInbox(tx, batch[i].record);
      results[i] = r.empty() ? StoreResult{StoreOutcome::kDuplicate, 0}
                             : StoreResult{StoreOutcome::kStored, r[0][0].as<int64_t>()};
    }
    tx.commit();
    ok = true;
  } catch (const pqxx::broken_connection& e) {
    conn.reset();
    if (reused) {
      // Broken before COMMIT was sent, so nothing of it was kept (and a stored event is a
      // duplicate anyway): once more on a fresh connection rather than a 503, which ElevenLabs
      // would not retry.
      spdlog::warn("inbox commit: connection lost, retrying on a new one");
      CommitBatch(conn, batch);
      return;
    }
    spdlog::warn("inbox commit failed: database unreachable");
  } catch (const pqxx::in_doubt_error& e) {
    // The commit may or may not have happened: not acknowledged; a retry is a duplicate.
    conn.reset();
    spdlog::warn("inbox commit failed: outcome unknown");
  } catch (const pqxx::sql_error& e) {
    spdlog::error("inbox commit failed: sqlstate {}", e.sqlstate());
    per_record = batch.size() > 1;
    data_error = IsDataError(e);
    if (conn && !conn->is_open()) conn.reset();
  } catch (const std::exception& e) {
    spdlog::warn("inbox commit failed: {}", e.what());
    conn.reset();
  }
  if (!ok && per_record) {
    // One bad event must not fail its neighbours: each alone in its own transaction.
    for (size_t i = 0; i < batch.size(); ++i) {
      std::vector<Pending> one;
      one.push_back(std::move(batch[i]));
      CommitBatch(conn, one);
    }
    return;
  }
  if (metrics_ != nullptr) {
    if (ok) {
      metrics_->Batch(batch.size());
    } else {
      metrics_->CommitFailure();
    }
  }
  if (!ok && !data_error && spool_ != nullptr) {
    NoteDatabaseDown();
    SpoolOrRefuse(batch);  // the database is away: kept locally, still acknowledged
    return;
  }
  bool stored = false;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (ok && results[i].outcome == StoreOutcome::kStored) stored = true;
    batch[i].done(ok ? results[i] : StoreResult{StoreOutcome::kUnavailable, 0});
  }
  if (stored && on_stored_) on_stored_();
}

void InboxStore::AudioLoop() {
  std::unique_ptr<pqxx::connection> conn;
  while (true) {
    Pending p;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !audio_.empty(); });
      if (stopping_) return;
      p = std::move(audio_.front());
      audio_.pop_front();
    }
    StoreAudio(conn, p);
  }
}

void InboxStore::StoreAudio(std::unique_ptr<pqxx::connection>& conn, Pending& p) {
  if (DatabaseRecentlyDown() ||
      (spool_ != nullptr && !spool_->empty() && !DrainSpool(conn))) {
    std::vector<Pending> one;
    one.push_back(std::move(p));
    SpoolOrRefuse(one);
    return;
  }
  StoreResult result;
  bool data_error = false;
  try {
    if (!conn || !common::IdleConnectionLooksAlive(*conn)) conn = Connect();
    pqxx::work tx(*conn);
    const std::optional<int64_t> id = InsertWithAudio(tx, p.record);
    result = id ? StoreResult{StoreOutcome::kStored, *id} : StoreResult{StoreOutcome::kDuplicate, 0};
    tx.commit();
  } catch (const std::exception& e) {
    spdlog::warn("audio store failed: {}", dynamic_cast<const pqxx::sql_error*>(&e)
                                               ? common::Cat("sqlstate ", dynamic_cast<const pqxx::sql_error*>(&e)->sqlstate())
                                               : std::string(e.what()));
    if (dynamic_cast<const pqxx::broken_connection*>(&e) || dynamic_cast<const pqxx::in_doubt_error*>(&e)) {
      conn.reset();
    }
    data_error = IsDataError(e);
    result = {StoreOutcome::kUnavailable, 0};
  }
  if (metrics_ != nullptr && result.outcome == StoreOutcome::kUnavailable) metrics_->CommitFailure();
  if (result.outcome == StoreOutcome::kUnavailable && !data_error && spool_ != nullptr) {
    NoteDatabaseDown();
    std::vector<Pending> one;
    one.push_back(std::move(p));
    SpoolOrRefuse(one);
    return;
  }
  p.record.audio.reset();
  p.done(result);
  if (result.outcome == StoreOutcome::kStored && on_stored_) on_stored_();
}

}  // namespace outcall::webhook_ingest
