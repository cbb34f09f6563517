// Request parameters of the Stats RPCs, validated and normalised before any database work. Every
// error is INVALID_ARGUMENT and starts with the parameter's REST name (page, limit, patientId,
// status, startDate, endDate, agentId, cursor, source, conversationId), e.g.
// "limit: must be between 1 and 100, got 1000".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "outcall/v1/stats.pb.h"
#include "stats_cursor.h"

namespace outcall::stats {

inline constexpr int32_t kDefaultPage = 1;
inline constexpr int32_t kDefaultLimit = 20;
inline constexpr int32_t kMaxLimit = 100;
// Page mode reads and skips (page - 1) * limit rows; deeper than this, the cursor is the way.
inline constexpr int64_t kMaxOffset = 1'000'000;
// GetDailyStats: the default range (days, ending today) and the longest range served.
inline constexpr int kDefaultDailyDays = 30;
inline constexpr int kMaxDailyDays = 3660;

// The call states (seed's, plus the campaign ones), as stored in elevenlabs_conversations.status.
bool IsKnownCallStatus(std::string_view status);
// "queued, dialing, ..., canceled", for error messages.
std::string KnownCallStatusList();

// A calendar day written YYYY-MM-DD (a real date between 1900-01-01 and 9999-12-31).
absl::StatusOr<absl::CivilDay> ParseDay(std::string_view text, std::string_view param);
std::string FormatDay(absl::CivilDay day);

// Filters on the calls. Days are calendar days in the clinic time zone, inclusive.
struct CallFilter {
  std::optional<int32_t> patient_id;
  std::string status;    // empty: any
  std::string agent_id;  // empty: any
  std::string campaign_id;  // empty: any; else a campaign's UUID (lower case): its calls only
  std::optional<absl::CivilDay> start_day;
  std::optional<absl::CivilDay> end_day;

  bool operator==(const CallFilter&) const = default;
};

struct ListCallsParams {
  CallFilter filter;
  int32_t page = kDefaultPage;
  int32_t limit = kDefaultLimit;
  // Set when the request carried a cursor (it then replaces page): the position to continue
  // after, already checked against the filters.
  std::optional<CallCursor> cursor;

  // Rows skipped before this page (page mode) or before the cursor position.
  int64_t offset() const;
  // The page number reported back: page, or where the cursor's position falls at this limit.
  int32_t reported_page() const;
};

// `clinic_timezone` is part of what a cursor is bound to (it decides what the dates mean).
absl::StatusOr<ListCallsParams> ParseListCalls(const v1::ListCallsRequest& request,
                                               std::string_view clinic_timezone);

// GetCallStats: optional range (open-ended when a bound is missing), status and agent.
absl::StatusOr<CallFilter> ParseCallStats(const v1::GetCallStatsRequest& request);

// GetDailyStats: endDate defaults to `today`, startDate to 29 days before endDate; at most
// kMaxDailyDays days. The returned filter always has both days.
absl::StatusOr<CallFilter> ParseDailyStats(const v1::GetDailyStatsRequest& request,
                                           absl::CivilDay today);

struct ListErrorsParams {
  int32_t page = kDefaultPage;
  int32_t limit = kDefaultLimit;
  std::string source;           // empty: any; else provider, webhook, reconciler, internal
  std::string conversation_id;  // empty: any; an ElevenLabs conversation id or our call id

  int64_t offset() const { return int64_t{page - 1} * limit; }
};

absl::StatusOr<ListErrorsParams> ParseListCallErrors(const v1::ListCallErrorsRequest& request);

// The fingerprint a cursor carries: the filters (not the page size) and the clinic time zone.
uint64_t FilterFingerprint(const CallFilter& filter, std::string_view clinic_timezone);

}  // namespace outcall::stats
