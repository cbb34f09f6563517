#include "human_cli.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "absl/time/time.h"
#include "outcall/common/strings.h"

namespace outcall::cli {

using common::Cat;

// ---- exit codes -------------------------------------------------------------------------------

const std::vector<ExitCodeDoc>& ExitCodes() {
  static const std::vector<ExitCodeDoc> kCodes = {
      {exit_code::kOk, "success; watch ID: the call completed; campaigns progress: completed"},
      {exit_code::kError, "unexpected error (INTERNAL, UNKNOWN, DATA_LOSS, an unreadable answer)"},
      {exit_code::kUsage, "usage error: unknown option, missing argument, unreadable file, bad CSV header"},
      {exit_code::kRefused, "refused: invalid argument, the contact policy, a wrong state (FAILED_PRECONDITION)"},
      {exit_code::kNotFound, "not found (call, patient, campaign, agent)"},
      {exit_code::kAuth, "unauthenticated or permission denied; no --token and none can be minted"},
      {exit_code::kUnavailable, "service unavailable, timed out or overloaded (try again)"},
      {exit_code::kConflict, "conflict: the idempotency key was used with another request"},
      {exit_code::kRowsRejected, "campaigns create: created, but some CSV rows were rejected (not started); sync: some rows were refused (the others were applied)"},
      {exit_code::kCallFailed, "watch ID: the call ended failed"},
      {exit_code::kCallNoAnswer, "watch ID: the call ended no_answer"},
      {exit_code::kCallBusy, "watch ID: the call ended busy"},
      {exit_code::kCallEndedManually, "watch ID: the call ended ended_manually (hung up by staff)"},
      {exit_code::kCallCanceled, "watch ID: the call ended canceled"},
      {exit_code::kCampaignCanceled, "campaigns progress: the campaign ended canceled"},
      {exit_code::kCampaignExpired, "campaigns progress: the campaign ended expired"},
      {exit_code::kInterrupted, "interrupted (Ctrl-C) before the final state"},
  };
  return kCodes;
}

int ExitCodeForStatus(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return exit_code::kOk;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      return exit_code::kRefused;
    case grpc::StatusCode::NOT_FOUND:
      return exit_code::kNotFound;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return exit_code::kAuth;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return exit_code::kUnavailable;
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::ABORTED:
      return exit_code::kConflict;
    case grpc::StatusCode::CANCELLED:
      return exit_code::kInterrupted;
    default:
      return exit_code::kError;
  }
}

std::string StatusCodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {
      "OK",           "CANCELLED",         "UNKNOWN",   "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
      "NOT_FOUND",    "ALREADY_EXISTS",    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION", "ABORTED",    "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL",
      "UNAVAILABLE",  "DATA_LOSS",         "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i <= 16 ? kNames[i] : Cat("code ", i);
}

std::optional<int> ExitCodeForCallStatus(std::string_view status) {
  if (status == "completed") return exit_code::kOk;
  if (status == "failed") return exit_code::kCallFailed;
  if (status == "no_answer") return exit_code::kCallNoAnswer;
  if (status == "busy") return exit_code::kCallBusy;
  if (status == "ended_manually") return exit_code::kCallEndedManually;
  if (status == "canceled") return exit_code::kCallCanceled;
  return std::nullopt;
}

std::optional<int> ExitCodeForCampaignState(std::string_view state) {
  if (state == "completed") return exit_code::kOk;
  if (state == "canceled") return exit_code::kCampaignCanceled;
  if (state == "expired") return exit_code::kCampaignExpired;
  return std::nullopt;
}

// ---- arguments --------------------------------------------------------------------------------

std::string Args::Get(const std::string& flag, const std::string& fallback) const {
  auto it = values.find(flag);
  return it == values.end() || it->second.empty() ? fallback : it->second.back();
}

std::vector<std::string> Args::All(const std::string& flag) const {
  auto it = values.find(flag);
  return it == values.end() ? std::vector<std::string>{} : it->second;
}

bool ParseArgs(const std::vector<std::string>& argv, const std::vector<FlagSpec>& specs,
               Args* out, std::string* error) {
  *out = Args{};
  bool options_done = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (options_done || a.size() < 2 || a[0] != '-' || a == "-") {
      out->positionals.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "-h") {
      out->values["help"].push_back("");
      continue;
    }
    if (a.rfind("--", 0) != 0) {
      *error = Cat("unknown option ", a);
      return false;
    }
    std::string name = a.substr(2);
    std::optional<std::string> inline_value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    const auto spec = std::find_if(specs.begin(), specs.end(),
                                   [&](const FlagSpec& s) { return s.name == name; });
    if (spec == specs.end()) {
      *error = Cat("unknown option --", name);
      return false;
    }
    if (!spec->repeated && out->Has(name)) {
      *error = Cat("--", name, " given more than once");
      return false;
    }
    if (!spec->takes_value) {
      if (inline_value) {
        *error = Cat("--", name, " takes no value");
        return false;
      }
      out->values[name].push_back("");
      continue;
    }
    if (inline_value) {
      out->values[name].push_back(*inline_value);
    } else if (i + 1 < argv.size()) {
      out->values[name].push_back(argv[++i]);
    } else {
      *error = Cat("--", name, " needs a value");
      return false;
    }
  }
  return true;
}

std::optional<std::pair<std::string, std::string>> ParseVar(std::string_view kv) {
  const size_t eq = kv.find('=');
  if (eq == std::string_view::npos || eq == 0) return std::nullopt;
  const std::string_view key = common::Trim(kv.substr(0, eq));
  if (key.empty()) return std::nullopt;
  return std::make_pair(std::string(key), std::string(kv.substr(eq + 1)));
}

std::optional<int32_t> ParsePositiveInt(std::string_view s) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  int64_t v = 0;
  if (!common::ParseInt(s, &v) || v <= 0 || v > INT32_MAX) return std::nullopt;
  return static_cast<int32_t>(v);
}

bool IsDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  absl::CivilDay day;
  if (!absl::ParseCivilTime(absl::string_view(s.data(), s.size()), &day)) return false;
  // ParseCivilTime normalises (2026-02-30 -> 2026-03-02): a real day prints back the same.
  return absl::FormatCivilTime(day) == std::string(s);
}

std::optional<std::pair<std::string, std::string>> ParseWindow(std::string_view s) {
  const size_t dash = s.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 >= s.size()) return std::nullopt;
  return std::make_pair(std::string(common::Trim(s.substr(0, dash))),
                        std::string(common::Trim(s.substr(dash + 1))));
}

std::optional<google::protobuf::Timestamp> ParseTimestamp(std::string_view s) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(s), &t, &err)) return std::nullopt;
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  ts.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(absl::ToUnixSeconds(t)))));
  return ts;
}

// ---- tables -----------------------------------------------------------------------------------
namespace {

// The next code point of `s` at `*i` (advanced); -1 for an invalid byte (one byte consumed).
int32_t NextCodePoint(std::string_view s, size_t* i) {
  const auto b = static_cast<unsigned char>(s[*i]);
  int len = 0;
  int32_t cp = 0;
  if (b < 0x80) {
    ++*i;
    return b;
  } else if ((b & 0xE0) == 0xC0) {
    len = 2;
    cp = b & 0x1F;
  } else if ((b & 0xF0) == 0xE0) {
    len = 3;
    cp = b & 0x0F;
  } else if ((b & 0xF8) == 0xF0) {
    len = 4;
    cp = b & 0x07;
  } else {
    ++*i;
    return -1;
  }
  if (*i + len > s.size()) {
    ++*i;
    return -1;
  }
  for (int k = 1; k < len; ++k) {
    const auto c = static_cast<unsigned char>(s[*i + k]);
    if ((c & 0xC0) != 0x80) {
      ++*i;
      return -1;
    }
    cp = (cp << 6) | (c & 0x3F);
  }
  *i += len;
  return cp;
}

bool ZeroWidth(int32_t cp) {
  return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
         (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
         (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xFE20 && cp <= 0xFE2F) ||
         (cp >= 0x200B && cp <= 0x200F) || cp == 0x2060 || cp == 0xFEFF;
}

bool Wide(int32_t cp) {
  return (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0x303E) ||
         (cp >= 0x3041 && cp <= 0x33FF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xA000 && cp <= 0xA4CF) ||
         (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
         (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
         (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1F64F) ||
         (cp >= 0x1F900 && cp <= 0x1F9FF) || (cp >= 0x20000 && cp <= 0x3FFFD);
}

absl::TimeZone Bogota() {
  static const absl::TimeZone tz = [] {
    absl::TimeZone z;
    if (!absl::LoadTimeZone("America/Bogota", &z)) z = absl::FixedTimeZone(-5 * 3600);
    return z;
  }();
  return tz;
}

}  // namespace

int DisplayWidth(std::string_view utf8) {
  int width = 0;
  for (size_t i = 0; i < utf8.size();) {
    const int32_t cp = NextCodePoint(utf8, &i);
    if (cp < 0) {
      ++width;
    } else if (ZeroWidth(cp)) {
      continue;
    } else {
      width += Wide(cp) ? 2 : 1;
    }
  }
  return width;
}

std::string CellText(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) c = ' ';
  }
  return out;
}

Table::Table(std::vector<std::string> headers) {
  for (auto& h : headers) {
    const bool right = !h.empty() && h[0] == '>';
    right_.push_back(right);
    headers_.push_back(right ? h.substr(1) : h);
  }
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  for (auto& c : cells) c = CellText(c);
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<int> widths(headers_.size(), 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  };
  measure(headers_);
  for (const auto& r : rows_) measure(r);
  std::string out;
  auto line = [&](const std::vector<std::string>& row) {
    std::string l;
    for (size_t i = 0; i < row.size(); ++i) {
      const int pad = widths[i] - DisplayWidth(row[i]);
      if (i > 0) l += "  ";
      if (right_[i]) {
        l.append(static_cast<size_t>(pad), ' ');
        l += row[i];
      } else {
        l += row[i];
        l.append(static_cast<size_t>(pad), ' ');
      }
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l;
    out += '\n';
  };
  line(headers_);
  for (const auto& r : rows_) line(r);
  return out;
}

// ---- values -----------------------------------------------------------------------------------

std::string FormatTime(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(t.seconds()), Bogota());
}

std::string FormatDuration(int64_t secs) {
  if (secs < 0) secs = 0;
  char buf[32];
  if (secs >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(secs / 3600),
                  static_cast<long long>(secs / 60 % 60), static_cast<long long>(secs % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(secs / 60),
                  static_cast<long long>(secs % 60));
  }
  return buf;
}

std::string FormatCost(double usd) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", std::isfinite(usd) ? usd : 0.0);
  return buf;
}

std::string OrDash(std::string_view s) { return s.empty() ? "-" : std::string(s); }
std::string IdOrDash(int64_t id) { return id > 0 ? std::to_string(id) : "-"; }

// ---- what each subcommand shows ---------------------------------------------------------------

std::string RenderCallPlaced(const v1::InitiateCallResponse& r) {
  Table t({"CONVERSATION", "CALL", "STATUS"});
  t.AddRow({OrDash(r.data().conversation_id()), OrDash(r.data().call_id()),
            OrDash(r.data().status())});
  std::string out = t.Render();
  if (!r.message().empty()) out += CellText(r.message()) + "\n";
  return out;
}

std::string RenderCalls(const v1::ListCallsResponse& r) {
  Table t({"CONVERSATION", "STATUS", "PHONE", ">PATIENT", ">DURATION", ">COST", "CREATED"});
  for (const auto& c : r.data()) {
    t.AddRow({OrDash(c.conversation_id().empty() ? c.call_id() : c.conversation_id()),
              OrDash(c.status()), OrDash(c.phone_number()), IdOrDash(c.patient_id()),
              FormatDuration(c.duration_secs()), FormatCost(c.cost()), FormatTime(c.created_at())});
  }
  std::string out = t.rows() == 0 ? std::string("no calls\n") : t.Render();
  const auto& p = r.pagination();
  out += Cat("page ", p.page(), " of ", std::max(p.pages(), 1), " (", p.total(), " calls)");
  if (!p.next_cursor().empty()) out += Cat("; next page: --cursor ", p.next_cursor());
  out += "\n";
  return out;
}

std::string RenderCallStats(const v1::CallStats& s, const std::string& from,
                            const std::string& to) {
  std::string out;
  if (!from.empty() || !to.empty()) out += Cat("from ", OrDash(from), " to ", OrDash(to), "\n");
  Table totals({"TOTAL", ">CALLS"});
  totals.AddRow({"total", std::to_string(s.total_calls())});
  totals.AddRow({"completed", std::to_string(s.completed_calls())});
  totals.AddRow({"failed (failed, no_answer, busy)", std::to_string(s.failed_calls())});
  out += totals.Render();
  out += Cat("average duration (completed): ", FormatDuration(std::llround(s.avg_duration())),
             "   total cost (USD): ", FormatCost(s.total_cost()), "\n");
  if (s.by_status_size() > 0) {
    Table by({"STATUS", ">CALLS", ">AVG DURATION", ">COST"});
    for (const auto& b : s.by_status()) {
      by.AddRow({b.status(), std::to_string(b.count()),
                 FormatDuration(std::llround(b.avg_duration())), FormatCost(b.total_cost())});
    }
    out += "\n" + by.Render();
  }
  return out;
}

std::string RenderDailyStats(const v1::GetDailyStatsResponse& r) {
  Table t({"DATE", ">TOTAL", ">COMPLETED", ">FAILED", ">AVG DURATION", ">COST"});
  for (const auto& d : r.data()) {
    t.AddRow({d.date(), std::to_string(d.total_calls()), std::to_string(d.completed_calls()),
              std::to_string(d.failed_calls()), FormatDuration(std::llround(d.avg_duration())),
              FormatCost(d.total_cost())});
  }
  return t.rows() == 0 ? "no calls on any day\n" : t.Render();
}

std::string RenderCallUpdate(const v1::CallUpdate& u) {
  std::string line = Cat(FormatTime(u.at()), "  ",
                         CellText(u.conversation_id().empty() ? u.call_id() : u.conversation_id()),
                         "  ", CellText(OrDash(u.previous_status())), " -> ",
                         CellText(OrDash(u.status())));
  if (!u.cause().empty()) line += Cat("  (", CellText(u.cause()), ")");
  return line + "\n";
}

std::string RenderCampaigns(const v1::ListCampaignsResponse& r) {
  Table t({"CAMPAIGN", "NAME", "STATE", ">TOTAL", ">FINISHED", ">LIVE", "CREATED"});
  for (const auto& c : r.campaigns()) {
    t.AddRow({c.campaign_id(), OrDash(c.spec().name()), c.state(),
              std::to_string(c.counters().total()),
              std::to_string(FinishedRecipients(c.counters())),
              std::to_string(c.counters().dialing() + c.counters().in_call()),
              FormatTime(c.created_at())});
  }
  std::string out = t.rows() == 0 ? std::string("no campaigns\n") : t.Render();
  if (!r.next_page_token().empty()) out += Cat("next page: --page-token ", r.next_page_token(), "\n");
  return out;
}

std::string RenderCampaign(const v1::Campaign& c) {
  const auto& k = c.counters();
  Table t({"FIELD", "VALUE"});
  t.AddRow({"campaign", c.campaign_id()});
  t.AddRow({"name", OrDash(c.spec().name())});
  t.AddRow({"state", c.state() + (c.state_reason().empty() ? "" : " (" + c.state_reason() + ")")});
  t.AddRow({"purpose", OrDash(c.spec().purpose())});
  t.AddRow({"agent", OrDash(c.spec().agent_id())});
  t.AddRow({"recipients", Cat(k.total(), " (pending ", k.pending(), ", scheduled ", k.scheduled(),
                              ", dialing ", k.dialing(), ", in call ", k.in_call(), ", done ",
                              k.done(), ", exhausted ", k.exhausted(), ", ineligible ",
                              k.ineligible(), ", opted out ", k.opted_out(), ", canceled ",
                              k.canceled(), ", expired ", k.expired(), ")")});
  if (!k.outcomes().empty()) {
    std::map<std::string, int32_t> sorted(k.outcomes().begin(), k.outcomes().end());
    std::vector<std::string> parts;
    for (const auto& [o, n] : sorted) parts.push_back(Cat(o, " ", n));
    t.AddRow({"outcomes", common::Join(parts, ", ")});
  }
  t.AddRow({"created", FormatTime(c.created_at())});
  if (c.has_started_at()) t.AddRow({"started", FormatTime(c.started_at())});
  if (c.has_finished_at()) t.AddRow({"finished", FormatTime(c.finished_at())});
  if (c.has_eta()) t.AddRow({"eta", FormatTime(c.eta())});
  return t.Render();
}

int32_t FinishedRecipients(const v1::CampaignCounters& c) {
  return c.done() + c.exhausted() + c.ineligible() + c.opted_out() + c.canceled() + c.expired();
}

std::string ProgressLine(std::string_view state, const v1::CampaignCounters& c, int bar_width) {
  const int32_t finished = FinishedRecipients(c);
  const int32_t total = std::max(c.total(), 0);
  const int percent = total == 0 ? 100 : static_cast<int>(int64_t{finished} * 100 / total);
  std::string out;
  if (bar_width > 0) {
    const int filled =
        total == 0 ? bar_width : static_cast<int>(int64_t{finished} * bar_width / total);
    out = "[" + std::string(static_cast<size_t>(filled), '#') +
          std::string(static_cast<size_t>(bar_width - filled), '-') + "]  ";
  }
  char pct[8];
  std::snprintf(pct, sizeof pct, "%3d%%", percent);
  out += Cat(pct, "  ", finished, "/", total, "  ", CellText(state), "  done ", c.done(),
             "  exhausted ", c.exhausted(), "  live ", c.dialing() + c.in_call(), "  waiting ",
             c.pending() + c.scheduled());
  const int32_t stopped = c.ineligible() + c.opted_out() + c.canceled() + c.expired();
  if (stopped > 0) out += Cat("  stopped ", stopped);
  return out;
}

}  // namespace outcall::cli
