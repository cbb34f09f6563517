#include "stats_params.h"

#include <array>
#include <cctype>
#include <limits>

#include "outcall/common/crypto.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"

namespace outcall::stats {
namespace {

using common::Cat;

constexpr std::array<std::string_view, 11> kCallStatuses = {
    "queued", "dialing",   "initiated", "ringing",        "in_progress", "completed",
    "failed", "no_answer", "busy",      "ended_manually", "canceled"};

constexpr std::array<std::string_view, 4> kErrorSources = {"provider", "webhook", "reconciler",
                                                           "internal"};

constexpr size_t kMaxAgentIdSize = 128;
constexpr size_t kMaxConversationIdSize = 128;

absl::Status Invalid(std::string_view param, std::string_view problem) {
  return absl::InvalidArgumentError(Cat(param, ": ", problem));
}

bool HasControlChars(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

absl::StatusOr<int32_t> ParsePage(bool has, int32_t value) {
  if (!has) return kDefaultPage;
  if (value < 1) return Invalid("page", Cat("must be 1 or more, got ", value));
  return value;
}

absl::StatusOr<int32_t> ParseLimit(bool has, int32_t value) {
  if (!has) return kDefaultLimit;
  if (value < 1 || value > kMaxLimit) {
    return Invalid("limit", Cat("must be between 1 and ", kMaxLimit, ", got ", value));
  }
  return value;
}

absl::Status CheckOffset(int32_t page, int32_t limit) {
  if (int64_t{page - 1} * limit > kMaxOffset) {
    return Invalid("page", Cat("page ", page, " at limit ", limit, " skips more than ", kMaxOffset,
                               " rows; page deeper with the cursor (pagination.nextCursor)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ParseStatus(std::string_view raw) {
  const std::string_view s = common::Trim(raw);
  if (s.empty()) return std::string();
  if (!IsKnownCallStatus(s)) {
    // Echoed, but masked: what was typed may be a phone number.
    return Invalid("status", Cat("unknown call state \"",
                                 HasControlChars(s) ? "?" : common::RedactPhones(s),
                                 "\"; expected one of ", KnownCallStatusList()));
  }
  return std::string(s);
}

absl::StatusOr<std::string> ParseAgentId(std::string_view raw) {
  const std::string_view s = common::Trim(raw);
  if (s.size() > kMaxAgentIdSize) {
    return Invalid("agentId", Cat("longer than ", kMaxAgentIdSize, " characters"));
  }
  if (HasControlChars(s)) return Invalid("agentId", "contains control characters");
  return std::string(s);
}

// campaignId: a campaign id as CreateCampaign gave it (a UUID, any case), kept in lower case;
// "" stays "" (any call, campaign or not).
absl::StatusOr<std::string> ParseCampaignId(std::string_view raw) {
  std::string out(common::Trim(raw));
  bool ok = out.empty() || out.size() == 36;
  for (size_t i = 0; ok && i < out.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    out[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(out[i])));
    ok = dash ? out[i] == '-' : std::isxdigit(static_cast<unsigned char>(out[i])) != 0;
  }
  if (!ok) return Invalid("campaignId", "must be a campaign id (a UUID, as CreateCampaign gives it)");
  return out;
}

// startDate / endDate: each optional; when both are present, end >= start.
absl::Status ParseRange(std::string_view start, std::string_view end, CallFilter& f) {
  const std::string_view s = common::Trim(start);
  const std::string_view e = common::Trim(end);
  if (!s.empty()) {
    auto d = ParseDay(s, "startDate");
    if (!d.ok()) return d.status();
    f.start_day = *d;
  }
  if (!e.empty()) {
    auto d = ParseDay(e, "endDate");
    if (!d.ok()) return d.status();
    f.end_day = *d;
  }
  if (f.start_day && f.end_day && *f.end_day < *f.start_day) {
    return Invalid("endDate", Cat("must not be before startDate (", FormatDay(*f.start_day),
                                  "), got ", FormatDay(*f.end_day)));
  }
  return absl::OkStatus();
}

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

}  // namespace

bool IsKnownCallStatus(std::string_view status) {
  for (auto s : kCallStatuses) {
    if (s == status) return true;
  }
  return false;
}

std::string KnownCallStatusList() { return common::Join(kCallStatuses, ", "); }

absl::StatusOr<absl::CivilDay> ParseDay(std::string_view text, std::string_view param) {
  auto bad = [&] {
    return Invalid(param, "must be a calendar date written YYYY-MM-DD, e.g. 2025-10-31");
  };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad();
  int64_t y = 0, m = 0, d = 0;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (text[i] < '0' || text[i] > '9') return bad();
  }
  if (!common::ParseInt(text.substr(0, 4), &y) || !common::ParseInt(text.substr(5, 2), &m) ||
      !common::ParseInt(text.substr(8, 2), &d)) {
    return bad();
  }
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1900 || m < 1 || m > 12 || d < 1) return bad();
  const int max_day = kDays[m - 1] + (m == 2 && IsLeap(y) ? 1 : 0);
  if (d > max_day) return Invalid(param, Cat("is not a real date: ", text));
  return absl::CivilDay(y, static_cast<int>(m), static_cast<int>(d));
}

std::string FormatDay(absl::CivilDay day) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", static_cast<int>(day.year()), day.month(),
                day.day());
  return buf;
}

int64_t ListCallsParams::offset() const {
  return cursor ? cursor->offset : int64_t{page - 1} * limit;
}

int32_t ListCallsParams::reported_page() const {
  if (!cursor) return page;
  const int64_t p = cursor->offset / limit + 1;
  return p > std::numeric_limits<int32_t>::max() ? std::numeric_limits<int32_t>::max()
                                                 : static_cast<int32_t>(p);
}

absl::StatusOr<ListCallsParams> ParseListCalls(const v1::ListCallsRequest& request,
                                               std::string_view clinic_timezone) {
  ListCallsParams p;
  auto page = ParsePage(request.has_page(), request.page());
  if (!page.ok()) return page.status();
  p.page = *page;
  auto limit = ParseLimit(request.has_limit(), request.limit());
  if (!limit.ok()) return limit.status();
  p.limit = *limit;
  if (request.has_patient_id()) {
    if (request.patient_id() < 1) {
      return Invalid("patientId", Cat("must be a positive patient id, got ", request.patient_id()));
    }
    p.filter.patient_id = request.patient_id();
  }
  auto status = ParseStatus(request.status());
  if (!status.ok()) return status.status();
  p.filter.status = *std::move(status);
  auto agent = ParseAgentId(request.agent_id());
  if (!agent.ok()) return agent.status();
  p.filter.agent_id = *std::move(agent);
  if (auto s = ParseRange(request.start_date(), request.end_date(), p.filter); !s.ok()) return s;

  const std::string_view cursor_text = common::Trim(request.cursor());
  if (!cursor_text.empty()) {
    auto cursor = DecodeCursor(cursor_text);
    if (!cursor.ok()) return cursor.status();
    if (cursor->fingerprint != FilterFingerprint(p.filter, clinic_timezone)) {
      return Invalid("cursor",
                     "was issued for other filters (patientId, status, startDate, endDate, "
                     "agentId); start again without a cursor");
    }
    p.cursor = *cursor;
  } else if (auto s = CheckOffset(p.page, p.limit); !s.ok()) {
    return s;
  }
  return p;
}

absl::StatusOr<CallFilter> ParseCallStats(const v1::GetCallStatsRequest& request) {
  CallFilter f;
  if (auto s = ParseRange(request.start_date(), request.end_date(), f); !s.ok()) return s;
  auto status = ParseStatus(request.status());
  if (!status.ok()) return status.status();
  f.status = *std::move(status);
  auto agent = ParseAgentId(request.agent_id());
  if (!agent.ok()) return agent.status();
  f.agent_id = *std::move(agent);
  auto campaign = ParseCampaignId(request.campaign_id());
  if (!campaign.ok()) return campaign.status();
  f.campaign_id = *std::move(campaign);
  return f;
}

absl::StatusOr<CallFilter> ParseDailyStats(const v1::GetDailyStatsRequest& request,
                                           absl::CivilDay today) {
  CallFilter f;
  if (auto s = ParseRange(request.start_date(), request.end_date(), f); !s.ok()) return s;
  if (!f.end_day) {
    f.end_day = today;
    if (f.start_day && *f.end_day < *f.start_day) {
      return Invalid("endDate",
                     Cat("defaults to today (", FormatDay(today),
                         ") and must not be before startDate (", FormatDay(*f.start_day), ")"));
    }
  }
  if (!f.start_day) f.start_day = *f.end_day - (kDefaultDailyDays - 1);
  const int64_t days = (*f.end_day - *f.start_day) + 1;
  if (days > kMaxDailyDays) {
    return Invalid("endDate", Cat("the range covers ", days, " days; at most ", kMaxDailyDays,
                                  " are served per request"));
  }
  auto status = ParseStatus(request.status());
  if (!status.ok()) return status.status();
  f.status = *std::move(status);
  auto agent = ParseAgentId(request.agent_id());
  if (!agent.ok()) return agent.status();
  f.agent_id = *std::move(agent);
  auto campaign = ParseCampaignId(request.campaign_id());
  if (!campaign.ok()) return campaign.status();
  f.campaign_id = *std::move(campaign);
  return f;
}

absl::StatusOr<ListErrorsParams> ParseListCallErrors(const v1::ListCallErrorsRequest& request) {
  ListErrorsParams p;
  auto page = ParsePage(request.has_page(), request.page());
  if (!page.ok()) return page.status();
  p.page = *page;
  auto limit = ParseLimit(request.has_limit(), request.limit());
  if (!limit.ok()) return limit.status();
  p.limit = *limit;
  if (auto s = CheckOffset(p.page, p.limit); !s.ok()) return s;
  const std::string_view source = common::Trim(request.source());
  if (!source.empty()) {
    bool known = false;
    for (auto s : kErrorSources) known = known || s == source;
    if (!known) {
      return Invalid("source", Cat("unknown error source; expected one of ",
                                   common::Join(kErrorSources, ", ")));
    }
    p.source = std::string(source);
  }
  const std::string_view conv = common::Trim(request.conversation_id());
  if (conv.size() > kMaxConversationIdSize) {
    return Invalid("conversationId", Cat("longer than ", kMaxConversationIdSize, " characters"));
  }
  if (HasControlChars(conv)) return Invalid("conversationId", "contains control characters");
  p.conversation_id = std::string(conv);
  return p;
}

uint64_t FilterFingerprint(const CallFilter& f, std::string_view clinic_timezone) {
  // Length-prefixed fields: no value can imitate another field.
  std::string canon = "calls-v1";
  auto field = [&](std::string_view name, std::string_view value) {
    common::Append(&canon, '|', name, '=', static_cast<int64_t>(value.size()), ':', value);
  };
  field("patientId", f.patient_id ? std::to_string(*f.patient_id) : "");
  field("status", f.status);
  field("agentId", f.agent_id);
  field("startDate", f.start_day ? FormatDay(*f.start_day) : "");
  field("endDate", f.end_day ? FormatDay(*f.end_day) : "");
  field("tz", clinic_timezone);
  common::Sha256 h;
  h.Update(canon);
  const auto digest = h.Finish();
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | digest[i];
  return v;
}

}  // namespace outcall::stats
