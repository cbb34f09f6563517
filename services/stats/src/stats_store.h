// The stats queries over PostgreSQL. Every request runs in one read-only REPEATABLE READ
// transaction (a total and its page come from the same snapshot) with a statement timeout that
// never outlives the caller's deadline.
//
// Statistics (and ListCalls totals without a patient filter) are read from call_monthly_rollups
// for whole months and call_daily_rollups for the other days, when the database cuts its rollups
// in the same time zone as this service's CLINIC_TIMEZONE (stats_clinic_timezone(), checked in
// every transaction); otherwise they are computed from the calls themselves, in CLINIC_TIMEZONE
// (correct, but the cost then grows with the range). Decimal values (costs, averages) are carried
// as PostgreSQL's exact decimal text and only become doubles at the RPC edge (DecimalToDouble).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "outcall/common/pg_pool.h"
#include "stats_cursor.h"
#include "stats_params.h"

namespace outcall::stats {

struct CallRow {
  int64_t id = 0;
  int64_t created_at_us = 0;
  std::string conversation_id;  // empty until ElevenLabs gave one
  std::string call_id;
  std::string status;
  std::string agent_id;
  std::optional<int32_t> patient_id;
  std::optional<int32_t> appointment_id;
  std::string phone_number;
  std::optional<int32_t> duration_secs;
  std::string cost;  // numeric text, empty when unknown
  std::string call_successful;
  std::optional<int64_t> started_at_us;
  std::optional<int64_t> ended_at_us;
};

struct ListCallsResult {
  std::vector<CallRow> rows;
  int64_t total = 0;
  std::optional<CallCursor> next_cursor;  // set when more rows follow this page
  bool total_from_rollups = false;
};

// One group of calls: how many, and what they add up to. Decimals are exact text.
struct Aggregate {
  int64_t calls = 0;
  int64_t duration_calls = 0;
  int64_t duration_sum = 0;
  std::string cost_sum = "0";
  std::string avg_duration;  // duration_sum / duration_calls; empty when no call has a duration
};

struct CallStatsResult {
  Aggregate all;
  int64_t completed_calls = 0;
  int64_t failed_calls = 0;            // failed + no_answer + busy
  std::string completed_avg_duration;  // empty when no completed call has a duration
  std::vector<std::pair<std::string, Aggregate>> by_status;  // by status name
  bool from_rollups = false;
};

struct DailyRow {
  std::string day;  // YYYY-MM-DD
  int64_t total_calls = 0;
  int64_t completed_calls = 0;
  int64_t failed_calls = 0;
  std::string avg_duration;  // completed calls; empty when none has a duration
  std::string total_cost = "0";
};

struct DailyStatsResult {
  std::vector<DailyRow> rows;  // every day of the range, in order
  bool from_rollups = false;
};

struct ErrorRow {
  int64_t id = 0;
  std::string conversation_id;
  std::string call_id;
  std::string source;
  std::string code;
  std::optional<int32_t> http_status;
  std::string message;
  int64_t created_at_us = 0;
};

struct ListErrorsResult {
  std::vector<ErrorRow> rows;
  int64_t total = 0;
};

struct StatsStoreOptions {
  std::string clinic_timezone = "America/Bogota";
  // The longest a query may run; set it to the pool's own statement timeout
  // (PgPoolOptions::statement_timeout_ms): statistics queries sent without a transaction of
  // their own rely on the connection's setting while the caller's deadline is not shorter.
  absl::Duration statement_timeout = absl::Seconds(10);
};

class StatsStore {
 public:
  StatsStore(common::PgPool* pool, StatsStoreOptions options);

  absl::StatusOr<ListCallsResult> ListCalls(const ListCallsParams& params, absl::Time deadline);
  absl::StatusOr<CallStatsResult> CallStats(const CallFilter& filter, absl::Time deadline);
  // `filter` must have both days (ParseDailyStats sees to it).
  absl::StatusOr<DailyStatsResult> DailyStats(const CallFilter& filter, absl::Time deadline);
  absl::StatusOr<ListErrorsResult> ListErrors(const ListErrorsParams& params, absl::Time deadline);

  // The zone the database's rollups are cut in (stats_clinic_timezone()).
  absl::StatusOr<std::string> DatabaseTimezone(absl::Time deadline);

  const std::string& clinic_timezone() const { return options_.clinic_timezone; }

 private:
  common::PgPool* pool_;
  StatsStoreOptions options_;
  // Whether the database's rollups were last seen cut in clinic_timezone: statistics then try
  // the one-statement path first (which re-checks the zone in the same snapshot).
  std::atomic<bool> rollups_match_{true};
};

// PostgreSQL numeric text ("12.3400", "-0.5", "7") to the nearest double (correctly rounded);
// 0 for empty text. NaN text (never produced here) gives 0 too.
double DecimalToDouble(std::string_view text);

}  // namespace outcall::stats
