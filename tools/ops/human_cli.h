// `outcall`, the CLI for people: the plain parts, without I/O, for the unit tests. Argument
// parsing, the exit-code table, UTF-8 aware tables, and how each response is shown.
#pragma once

#include <grpcpp/support/status.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "google/protobuf/timestamp.pb.h"
#include "outcall/v1/call_gateway.pb.h"
#include "outcall/v1/campaigns.pb.h"
#include "outcall/v1/stats.pb.h"

namespace outcall::cli {

// ---- exit codes (stable: scripts depend on them; docs/cli.md lists the same table) ----------
namespace exit_code {
inline constexpr int kOk = 0;
inline constexpr int kError = 1;        // unexpected: INTERNAL, UNKNOWN, DATA_LOSS, ...
inline constexpr int kUsage = 2;        // bad options or arguments, unreadable file, bad CSV header
inline constexpr int kRefused = 3;      // INVALID_ARGUMENT, FAILED_PRECONDITION (the contact
                                        // policy's refusals, a campaign in the wrong state),
                                        // OUT_OF_RANGE
inline constexpr int kNotFound = 4;     // NOT_FOUND
inline constexpr int kAuth = 5;         // UNAUTHENTICATED, PERMISSION_DENIED, no token to send
inline constexpr int kUnavailable = 6;  // UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED
inline constexpr int kConflict = 7;     // ALREADY_EXISTS, ABORTED (an idempotency key reused)
inline constexpr int kRowsRejected = 8; // campaigns create: created, some CSV rows rejected;
                                        // sync: some rows refused, the others applied
inline constexpr int kCallFailed = 10;  // watch ID: the call's final state
inline constexpr int kCallNoAnswer = 11;
inline constexpr int kCallBusy = 12;
inline constexpr int kCallEndedManually = 13;
inline constexpr int kCallCanceled = 14;
inline constexpr int kCampaignCanceled = 20;  // campaigns progress: the campaign's final state
inline constexpr int kCampaignExpired = 21;
inline constexpr int kInterrupted = 130;  // Ctrl-C before the final state
}  // namespace exit_code

struct ExitCodeDoc {
  int code;
  std::string_view meaning;
};
// Every exit code with its meaning, in order: printed by `outcall --help`, kept in docs/cli.md.
const std::vector<ExitCodeDoc>& ExitCodes();

int ExitCodeForStatus(grpc::StatusCode code);
// "INVALID_ARGUMENT", "UNAVAILABLE", ... (as in the gRPC documentation).
std::string StatusCodeName(grpc::StatusCode code);
// nullopt while the call (or campaign) is not in a final state.
std::optional<int> ExitCodeForCallStatus(std::string_view status);
std::optional<int> ExitCodeForCampaignState(std::string_view state);

// ---- arguments --------------------------------------------------------------------------------
struct FlagSpec {
  std::string name;  // without the dashes: "name", "var"
  bool takes_value = true;
  bool repeated = false;  // may be given more than once (--var k=v --var k2=v2)
};

struct Args {
  std::map<std::string, std::vector<std::string>> values;  // flag -> values (switches: "")
  std::vector<std::string> positionals;
  bool Has(const std::string& flag) const { return values.count(flag) > 0; }
  std::string Get(const std::string& flag, const std::string& fallback = "") const;
  std::vector<std::string> All(const std::string& flag) const;
};

// "--flag value", "--flag=value", switches, "--" ending the options; false with `error` naming
// the option (unknown, missing its value, given twice).
bool ParseArgs(const std::vector<std::string>& argv, const std::vector<FlagSpec>& specs,
               Args* out, std::string* error);

// "k=v" -> {k, v}; nullopt unless k is a non-empty name.
std::optional<std::pair<std::string, std::string>> ParseVar(std::string_view kv);
// A positive int32 ("12"); nullopt otherwise.
std::optional<int32_t> ParsePositiveInt(std::string_view s);
// A calendar date "YYYY-MM-DD" (a real day).
bool IsDate(std::string_view s);
// "08:00-12:30" -> {"08:00", "12:30"} (the server checks the times themselves).
std::optional<std::pair<std::string, std::string>> ParseWindow(std::string_view s);
// RFC 3339 "2026-12-04T13:00:00Z" (or with an offset) -> a Timestamp.
std::optional<google::protobuf::Timestamp> ParseTimestamp(std::string_view s);

// ---- tables -----------------------------------------------------------------------------------
// Columns a terminal gives the UTF-8 text: one per character, none for combining marks and
// zero-width characters, two for East Asian wide ones and emoji. Invalid bytes count one each.
int DisplayWidth(std::string_view utf8);
// Text safe to show in a cell: control characters (newlines, tabs, escapes) become spaces.
std::string CellText(std::string_view s);

class Table {
 public:
  // A header starting with '>' is right-aligned (numbers): ">TOTAL".
  explicit Table(std::vector<std::string> headers);
  void AddRow(std::vector<std::string> cells);
  size_t rows() const { return rows_.size(); }
  // Aligned columns two spaces apart, the header first; no trailing spaces.
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;
};

// ---- values -----------------------------------------------------------------------------------
// Bogotá time, "2026-12-04 10:00:05"; "-" when unset.
std::string FormatTime(const google::protobuf::Timestamp& t);
// 37 -> "0:37", 725 -> "12:05", 3723 -> "1:02:03".
std::string FormatDuration(int64_t secs);
std::string FormatCost(double usd);  // "0.12"
std::string OrDash(std::string_view s);
std::string IdOrDash(int64_t id);

// ---- what each subcommand shows ---------------------------------------------------------------
std::string RenderCallPlaced(const v1::InitiateCallResponse& r);
std::string RenderCalls(const v1::ListCallsResponse& r);
std::string RenderCallStats(const v1::CallStats& s, const std::string& from, const std::string& to);
std::string RenderDailyStats(const v1::GetDailyStatsResponse& r);
// One line per status change: "2026-12-04 10:00:05  conv_1  initiated -> completed  (reconciler)".
std::string RenderCallUpdate(const v1::CallUpdate& u);
std::string RenderCampaigns(const v1::ListCampaignsResponse& r);
std::string RenderCampaign(const v1::Campaign& c);
// Recipients in a final state (done, exhausted, ineligible, opted_out, canceled, expired).
int32_t FinishedRecipients(const v1::CampaignCounters& c);
// "[##########----------]  50%  5/10  running  done 4  exhausted 1  live 2  waiting 3", the bar
// `bar_width` characters wide (0: no bar).
std::string ProgressLine(std::string_view state, const v1::CampaignCounters& c, int bar_width);

}  // namespace outcall::cli
