// The campaign dispatcher's rules as pure functions (no clock, no storage, no I/O), each tested
// alone: what an attempt's call ended as, whether and when it is retried, the campaign's daily
// window, the pace (GCRA over calls per minute), the circuit breaker, the ETA, and the dynamic
// variables a recipient's call gets from the campaign's template.
#pragma once

#include <google/protobuf/struct.pb.h>

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace outcall::call_gateway::campaign {

// Recipient states (migration 0015), and which are final.
inline constexpr const char* kRecipientStates[] = {
    "pending", "scheduled", "dialing", "in_call", "done",
    "exhausted", "ineligible", "opted_out", "canceled", "expired"};
bool IsFinalRecipientState(std::string_view state);
// Campaign states.
inline constexpr const char* kCampaignStates[] = {"draft",       "scheduled", "running",
                                                  "paused",      "auto_paused", "completed",
                                                  "canceled",    "expired"};
bool IsCampaignState(std::string_view state);
// A UUID in its text form (8-4-4-4-12 hexadecimal digits), as campaign and rule ids are.
bool IsUuid(std::string_view s);

// Outcomes that may retry (RetryPolicy.retry_on).
inline constexpr const char* kRetryableOutcomes[] = {"no_answer", "busy", "failed", "voicemail"};

// How an attempt's call ended, as the dispatcher reads it back.
struct CallEnd {
  std::string status;  // the call's final status: completed, no_answer, busy, failed, ...
  // data_collection_results flags the agent set (true values only): appointment_confirmed,
  // reschedule_requested, appointment_canceled, do_not_call, voicemail_detected.
  std::set<std::string> flags;
  bool analysed = false;  // an analysis came with the call
  std::string call_successful;  // the analysis's own verdict: success, failure, unknown, ""
  // The patient or the number opted out, or revoked consent for the campaign's purpose, since
  // the attempt was claimed (the webhook path's do_not_call included).
  bool stopped = false;
};

// What an attempt came to.
struct AttemptResult {
  std::string outcome;  // confirmed, reschedule_requested, canceled_by_patient, opt_out,
                        // voicemail, unclear, no_answer, busy, failed, ended_by_staff
  bool failure = false;   // counts toward the circuit breaker (the line or provider failed)
  bool refusal = false;   // the patient's own answer: never retried
  // Staff must read it: "unclear" (answered, no decisive flag), "low_confidence" (a decisive
  // flag while the analysis itself says the call failed); "" otherwise.
  std::string review;
};
AttemptResult Classify(const CallEnd& end);

struct RetryRule {
  std::set<std::string> retry_on = {"no_answer", "busy", "failed"};
  std::vector<int> intervals_secs = {3600, 14400};
  int max_attempts = 3;
};
// The delay before the next attempt after `attempts_made` attempts ended in `result`, or nullopt
// when the recipient is finished (a refusal, an outcome that does not retry, no attempt left).
std::optional<absl::Duration> RetryDelay(const RetryRule& rule, const AttemptResult& result,
                                         int attempts_made, int attempt_limit);

// A campaign's own hours in Bogotá: [start_minute, end_minute) after local midnight, every day
// (the contact-policy profile decides holidays and Sundays).
struct DailyWindow {
  int start_minute = 0;
  int end_minute = 1440;
};
// The first instant at or after `t` inside the window (t itself when no window is set).
absl::Time IntoWindow(absl::Time t, const std::optional<DailyWindow>& window, absl::TimeZone zone);
// "08:00" -> 480; "24:00" -> 1440. INVALID_ARGUMENT naming `field`.
absl::StatusOr<int> MinuteOfDay(std::string_view hhmm, std::string_view field);
std::string FormatMinute(int minute);

// GCRA pacing: `tat` is the theoretical arrival time of the next dial; each dial moves it on by
// 60 / calls_per_minute seconds; a dial may start while tat <= now + burst. How many of `want`
// dials may start now, and the new tat.
struct PaceTake {
  int allowed = 0;
  absl::Time tat;
};
PaceTake TakePace(absl::Time tat, absl::Time now, int calls_per_minute, int want,
                  absl::Duration burst);

struct BreakerRule {
  double failure_rate = 0.5;
  int window = 20;
  int min_sample = 10;
};
// `latest`: the newest settled attempts first (true: a failure), at most rule.window of them.
// The reason to trip, or nullopt.
std::optional<std::string> BreakerTrips(const std::vector<bool>& latest, const BreakerRule& rule);

// When `remaining` dials are done at `calls_per_minute` from `now`, each waiting for the next one
// (nullopt when nothing remains).
std::optional<absl::Time> Eta(int remaining, int calls_per_minute, absl::Time now);

// The {{name}} placeholders in the template's string values.
std::set<std::string> Placeholders(const google::protobuf::Struct& tmpl);
// The template with its placeholders filled from `vars` (then the recipient's own variables are
// laid over it by the caller). INVALID_ARGUMENT "variables.<name>: ..." naming the first one
// missing.
absl::StatusOr<std::map<std::string, google::protobuf::Value>> Render(
    const google::protobuf::Struct& tmpl, const std::map<std::string, std::string>& vars);

// The variables every recipient has without giving them (filled at dial time).
inline constexpr const char* kBuiltinVariables[] = {"patient_name", "patient_id", "appointment_id",
                                                    "appointment_time"};

// The attempt's call id, a UUID derived from (campaign, recipient, attempt): the dial's
// correlation and idempotency key, the same whichever replica or restart places it.
std::string AttemptCallId(std::string_view campaign_uuid, int64_t recipient_id, int attempt_no);

}  // namespace outcall::call_gateway::campaign
