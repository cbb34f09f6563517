// Stats request parsing (defaults, limits, every error naming its parameter), the opaque cursor
// (round trip, tampering, binding to the filters), decimal conversion at the RPC edge, and the
// bounded executor.
#include "stats_params.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <latch>

#include "stats_cursor.h"
#include "outcall/common/blocking_executor.h"
#include "stats_store.h"

namespace outcall::stats {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kTz[] = "America/Bogota";

template <typename T>
void ExpectInvalid(const absl::StatusOr<T>& r, std::string_view param) {
  ASSERT_FALSE(r.ok()) << "expected an error naming " << param;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), StartsWith(std::string(param) + ": "))
      << r.status();
}

TEST(StatsParams, ListCallsDefaults) {
  v1::ListCallsRequest req;
  auto p = ParseListCalls(req, kTz);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->page, 1);
  EXPECT_EQ(p->limit, 20);
  EXPECT_EQ(p->offset(), 0);
  EXPECT_EQ(p->reported_page(), 1);
  EXPECT_FALSE(p->cursor);
  EXPECT_EQ(p->filter, CallFilter{});
}

TEST(StatsParams, ListCallsAcceptsEveryFilter) {
  v1::ListCallsRequest req;
  req.set_page(3);
  req.set_limit(100);
  req.set_patient_id(123);
  req.set_status(" completed ");
  req.set_agent_id("agent_123");
  req.set_start_date("2025-10-01");
  req.set_end_date("2025-10-31");
  auto p = ParseListCalls(req, kTz);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->page, 3);
  EXPECT_EQ(p->limit, 100);
  EXPECT_EQ(p->offset(), 200);
  EXPECT_EQ(p->filter.patient_id, 123);
  EXPECT_EQ(p->filter.status, "completed");
  EXPECT_EQ(p->filter.agent_id, "agent_123");
  EXPECT_EQ(p->filter.start_day, absl::CivilDay(2025, 10, 1));
  EXPECT_EQ(p->filter.end_day, absl::CivilDay(2025, 10, 31));
}

TEST(StatsParams, EveryKnownStatusIsAcceptedAndOthersAreNot) {
  for (const char* s : {"queued", "dialing", "initiated", "ringing", "in_progress", "completed",
                        "failed", "no_answer", "busy", "ended_manually", "canceled"}) {
    v1::ListCallsRequest req;
    req.set_status(s);
    EXPECT_TRUE(ParseListCalls(req, kTz).ok()) << s;
    v1::GetCallStatsRequest sreq;
    sreq.set_status(s);
    EXPECT_TRUE(ParseCallStats(sreq).ok()) << s;
  }
  for (const char* s : {"done", "COMPLETED", "in-progress", "complete", "failed,busy"}) {
    v1::ListCallsRequest req;
    req.set_status(s);
    ExpectInvalid(ParseListCalls(req, kTz), "status");
  }
  v1::ListCallsRequest req;
  req.set_status("nope");
  EXPECT_THAT(std::string(ParseListCalls(req, kTz).status().message()),
              HasSubstr("ended_manually"));
}

// A phone number typed into the status filter is not echoed in the error.
TEST(StatsParams, AnUnknownStatusIsEchoedWithoutPhoneNumbers) {
  for (const char* s : {"+573024445566", "3024445566", "+57 302 444 5566"}) {
    v1::ListCallsRequest req;
    req.set_status(s);
    const auto r = ParseListCalls(req, kTz);
    ExpectInvalid(r, "status");
    EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr("444"))) << s;
    v1::GetCallStatsRequest sreq;
    sreq.set_status(s);
    const auto sr = ParseCallStats(sreq);
    ASSERT_FALSE(sr.ok()) << s;
    EXPECT_THAT(std::string(sr.status().message()), Not(HasSubstr("444"))) << s;
  }
  v1::ListCallsRequest req;
  req.set_status("nope");
  EXPECT_THAT(std::string(ParseListCalls(req, kTz).status().message()), HasSubstr("\"nope\""));
}

TEST(StatsParams, BadListCallsParametersNameTheParameter) {
  struct Case {
    const char* param;
    std::function<void(v1::ListCallsRequest&)> set;
  };
  const std::vector<Case> cases = {
      {"page", [](auto& r) { r.set_page(0); }},
      {"page", [](auto& r) { r.set_page(-5); }},
      {"limit", [](auto& r) { r.set_limit(1000); }},
      {"limit", [](auto& r) { r.set_limit(0); }},
      {"limit", [](auto& r) { r.set_limit(101); }},
      {"patientId", [](auto& r) { r.set_patient_id(0); }},
      {"patientId", [](auto& r) { r.set_patient_id(-1); }},
      {"status", [](auto& r) { r.set_status("unknown"); }},
      {"startDate", [](auto& r) { r.set_start_date("2025-13-01"); }},
      {"startDate", [](auto& r) { r.set_start_date("2025/10/01"); }},
      {"startDate", [](auto& r) { r.set_start_date("yesterday"); }},
      {"endDate", [](auto& r) { r.set_end_date("2025-02-29"); }},
      {"endDate", [](auto& r) { r.set_end_date("2025-10-1"); }},
      {"endDate",
       [](auto& r) {
         r.set_start_date("2025-10-31");
         r.set_end_date("2025-10-01");
       }},
      {"agentId", [](auto& r) { r.set_agent_id(std::string(129, 'a')); }},
      {"agentId", [](auto& r) { r.set_agent_id("agent\n1"); }},
      {"cursor", [](auto& r) { r.set_cursor("not-a-cursor"); }},
      {"cursor", [](auto& r) { r.set_cursor("!!!!"); }},
      {"page",
       [](auto& r) {
         r.set_page(10002);
         r.set_limit(100);
       }},
  };
  for (const auto& c : cases) {
    v1::ListCallsRequest req;
    c.set(req);
    SCOPED_TRACE(req.ShortDebugString());
    ExpectInvalid(ParseListCalls(req, kTz), c.param);
  }
}

TEST(StatsParams, DatesAreRealCalendarDays) {
  EXPECT_TRUE(ParseDay("2024-02-29", "startDate").ok());
  EXPECT_FALSE(ParseDay("2023-02-29", "startDate").ok());
  EXPECT_FALSE(ParseDay("2100-02-29", "startDate").ok());
  EXPECT_TRUE(ParseDay("2000-02-29", "startDate").ok());
  EXPECT_FALSE(ParseDay("2025-04-31", "startDate").ok());
  EXPECT_FALSE(ParseDay("2025-00-10", "startDate").ok());
  EXPECT_FALSE(ParseDay("2025-01-00", "startDate").ok());
  EXPECT_FALSE(ParseDay("+025-01-01", "startDate").ok());
  EXPECT_FALSE(ParseDay("2025-01-01T00:00:00Z", "startDate").ok());
  EXPECT_FALSE(ParseDay("1899-12-31", "startDate").ok());
  EXPECT_EQ(FormatDay(absl::CivilDay(1999, 1, 2)), "1999-01-02");
  EXPECT_EQ(FormatDay(*ParseDay("2025-10-05", "startDate")), "2025-10-05");
}

TEST(StatsParams, DeepPagesNeedTheCursor) {
  v1::ListCallsRequest req;
  req.set_limit(20);
  req.set_page(10000);  // offset 199,980: allowed
  EXPECT_TRUE(ParseListCalls(req, kTz).ok());
  req.set_page(50001);  // offset 1,000,000: allowed
  EXPECT_TRUE(ParseListCalls(req, kTz).ok());
  req.set_page(50002);
  ExpectInvalid(ParseListCalls(req, kTz), "page");
}

TEST(StatsParams, CallStatsRangeIsOptionalButOrdered) {
  v1::GetCallStatsRequest req;
  auto all = ParseCallStats(req);
  ASSERT_TRUE(all.ok());
  EXPECT_FALSE(all->start_day);
  EXPECT_FALSE(all->end_day);
  req.set_start_date("2025-10-01");
  auto open = ParseCallStats(req);
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->start_day, absl::CivilDay(2025, 10, 1));
  EXPECT_FALSE(open->end_day);
  req.set_end_date("2025-10-01");
  EXPECT_TRUE(ParseCallStats(req).ok());  // one day
  req.set_end_date("2025-09-30");
  ExpectInvalid(ParseCallStats(req), "endDate");
  req.set_end_date("2025-10-31");
  req.set_status("ringing?");
  ExpectInvalid(ParseCallStats(req), "status");
  req.set_status("");
  req.set_agent_id(std::string(200, 'x'));
  ExpectInvalid(ParseCallStats(req), "agentId");
}

TEST(StatsParams, DailyStatsDefaultsToThirtyDaysEndingToday) {
  const absl::CivilDay today(2025, 3, 15);
  v1::GetDailyStatsRequest req;
  auto p = ParseDailyStats(req, today);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->end_day, today);
  EXPECT_EQ(p->start_day, absl::CivilDay(2025, 2, 14));
  EXPECT_EQ(*p->end_day - *p->start_day + 1, 30);

  req.set_end_date("2025-01-31");
  p = ParseDailyStats(req, today);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->start_day, absl::CivilDay(2025, 1, 2));

  req.clear_end_date();
  req.set_start_date("2025-04-01");  // after today, no end: the default end is before it
  ExpectInvalid(ParseDailyStats(req, today), "endDate");

  req.set_start_date("2010-01-01");
  req.set_end_date("2025-01-01");
  ExpectInvalid(ParseDailyStats(req, today), "endDate");
  req.set_start_date("2015-01-04");  // 3660 days inclusive
  EXPECT_TRUE(ParseDailyStats(req, today).ok());
}

TEST(StatsParams, ListCallErrors) {
  v1::ListCallErrorsRequest req;
  auto p = ParseListCallErrors(req);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->page, 1);
  EXPECT_EQ(p->limit, 20);
  req.set_source("provider");
  req.set_conversation_id("conv_1");
  p = ParseListCallErrors(req);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->source, "provider");
  EXPECT_EQ(p->conversation_id, "conv_1");
  req.set_source("elsewhere");
  ExpectInvalid(ParseListCallErrors(req), "source");
  req.set_source("");
  req.set_conversation_id(std::string(300, 'c'));
  ExpectInvalid(ParseListCallErrors(req), "conversationId");
  req.clear_conversation_id();
  req.set_limit(1000);
  ExpectInvalid(ParseListCallErrors(req), "limit");
  req.set_limit(10);
  req.set_page(0);
  ExpectInvalid(ParseListCallErrors(req), "page");
}

TEST(StatsCursor, RoundTripsAndIsOpaqueUrlSafeText) {
  CallCursor c{.created_at_us = 1741667400123456,
               .id = 987654321,
               .offset = 199980,
               .fingerprint = 0xfedcba9876543210ULL};
  const std::string text = EncodeCursor(c);
  EXPECT_EQ(text.size(), 44u);
  EXPECT_EQ(
      text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
      std::string::npos)
      << text;
  auto back = DecodeCursor(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, c);
}

TEST(StatsCursor, TamperedOrForeignTextIsRejected) {
  CallCursor c{.created_at_us = 1741667400123456, .id = 42, .offset = 20, .fingerprint = 7};
  const std::string text = EncodeCursor(c);
  for (const std::string& bad :
       {std::string(), std::string("a"), text.substr(0, text.size() - 1), text + "A", text + "=",
        std::string(100, 'A'), std::string("eyJwYWdlIjoyfQ"),
        // version byte changed
        EncodeCursor(c).replace(0, 1, "B")}) {
    auto r = DecodeCursor(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_THAT(std::string(r.status().message()), StartsWith("cursor: "));
  }
  // A non-positive id or offset is not something this service writes.
  EXPECT_FALSE(DecodeCursor(EncodeCursor({.created_at_us = 1, .id = 0, .offset = 20})).ok());
  EXPECT_FALSE(DecodeCursor(EncodeCursor({.created_at_us = 1, .id = 5, .offset = 0})).ok());
}

TEST(StatsCursor, IsBoundToTheFiltersAndTimeZoneButNotTheLimit) {
  v1::ListCallsRequest req;
  req.set_status("completed");
  req.set_start_date("2025-01-01");
  req.set_limit(20);
  auto first = ParseListCalls(req, kTz);
  ASSERT_TRUE(first.ok());
  CallCursor c{.created_at_us = 1741667400000000,
               .id = 77,
               .offset = 40,
               .fingerprint = FilterFingerprint(first->filter, kTz)};
  req.set_cursor(EncodeCursor(c));
  auto next = ParseListCalls(req, kTz);
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_TRUE(next->cursor);
  EXPECT_EQ(*next->cursor, c);
  EXPECT_EQ(next->offset(), 40);
  EXPECT_EQ(next->reported_page(), 3);

  req.set_limit(10);  // another page size: same position, page number follows
  next = ParseListCalls(req, kTz);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->reported_page(), 5);

  req.set_page(0);  // a bad page is still a bad parameter
  ExpectInvalid(ParseListCalls(req, kTz), "page");
  req.clear_page();

  req.set_status("failed");
  ExpectInvalid(ParseListCalls(req, kTz), "cursor");
  req.set_status("completed");
  req.set_agent_id("agent_2");
  ExpectInvalid(ParseListCalls(req, kTz), "cursor");
  req.clear_agent_id();
  req.set_patient_id(5);
  ExpectInvalid(ParseListCalls(req, kTz), "cursor");
  req.clear_patient_id();
  req.set_end_date("2025-12-31");
  ExpectInvalid(ParseListCalls(req, kTz), "cursor");
  req.clear_end_date();
  EXPECT_TRUE(ParseListCalls(req, kTz).ok());
  ExpectInvalid(ParseListCalls(req, "UTC"), "cursor");
}

TEST(StatsCursor, FingerprintsSeparateLookAlikeFilters) {
  CallFilter a;
  a.agent_id = "x|status=completed";
  CallFilter b;
  b.agent_id = "x";
  b.status = "completed";
  EXPECT_NE(FilterFingerprint(a, kTz), FilterFingerprint(b, kTz));
  CallFilter c;
  c.start_day = absl::CivilDay(2025, 1, 1);
  CallFilter d;
  d.end_day = absl::CivilDay(2025, 1, 1);
  EXPECT_NE(FilterFingerprint(c, kTz), FilterFingerprint(d, kTz));
  EXPECT_EQ(FilterFingerprint(c, kTz), FilterFingerprint(c, kTz));
}

TEST(StatsDecimal, ConvertsPostgresNumericTextToTheNearestDouble) {
  EXPECT_EQ(DecimalToDouble("25.5000"), 25.5);
  EXPECT_EQ(DecimalToDouble("0.1000"), 0.1);
  EXPECT_EQ(DecimalToDouble("180.5000000000000000"), 180.5);
  EXPECT_EQ(DecimalToDouble("7"), 7.0);
  EXPECT_EQ(DecimalToDouble(""), 0.0);
  EXPECT_EQ(DecimalToDouble("NaN"), 0.0);
  EXPECT_EQ(DecimalToDouble("123456789012.3456"), std::strtod("123456789012.3456", nullptr));
  EXPECT_EQ(DecimalToDouble("180.3333333333333333"), 180.33333333333334);
}

TEST(StatsExecutor, RunsTasksAndRefusesWhenTheQueueIsFull) {
  std::atomic<int> ran{0};
  {
    common::BlockingExecutor executor(1, 1);
    std::latch started(1);
    std::latch release(1);
    ASSERT_TRUE(executor.TrySubmit([&] {
      started.count_down();
      release.wait();
      ++ran;
    }));
    started.wait();  // the only worker is busy, the queue is empty
    EXPECT_TRUE(executor.TrySubmit([&] { ++ran; }));
    EXPECT_FALSE(executor.TrySubmit([&] { ++ran; }));  // queue full: refused at once
    release.count_down();
  }  // the destructor runs what was queued, then joins
  EXPECT_EQ(ran.load(), 2);
}

}  // namespace
}  // namespace outcall::stats
