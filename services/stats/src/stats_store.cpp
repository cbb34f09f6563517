#include "stats_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <functional>
#include <limits>
#include <pqxx/pqxx>

#include "outcall/common/status.h"
#include "outcall/common/strings.h"

namespace outcall::stats {
namespace {

using common::Cat;

// Positional parameters of a statement built from the filters present, all passed as text and
// cast in SQL.
class Params {
 public:
  std::string Add(std::string value) {
    values_.push_back(std::move(value));
    return Cat("$", static_cast<int64_t>(values_.size()));
  }
  const std::vector<std::string>& values() const { return values_; }

 private:
  std::vector<std::string> values_;
};

pqxx::result Exec(pqxx::transaction_base& tx, const std::string& sql, const Params& p) {
  return tx.exec_params(sql, pqxx::prepare::make_dynamic_params(p.values()));
}

std::string Text(const pqxx::field& f) { return f.is_null() ? std::string() : f.as<std::string>(); }

template <typename T>
std::optional<T> Opt(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<T>();
}

// 8-4-4-4-12 hexadecimal digits: our call ids.
bool LooksLikeUuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (ch != '-') return false;
    } else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                 (ch >= 'A' && ch <= 'F'))) {
      return false;
    }
  }
  return true;
}

int64_t Int(const pqxx::field& f) { return f.is_null() ? 0 : f.as<int64_t>(); }

std::string FormatMicrosUtc(int64_t us) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00", absl::FromUnixMicros(us), absl::UTCTimeZone());
}

// WHERE conditions on call_daily_rollups r (what the rollups can answer: day, status, agent).
std::string RollupWhere(const CallFilter& f, Params& p) {
  std::vector<std::string> c = {"true"};
  if (f.start_day) c.push_back(Cat("r.day >= ", p.Add(FormatDay(*f.start_day)), "::date"));
  if (f.end_day) c.push_back(Cat("r.day <= ", p.Add(FormatDay(*f.end_day)), "::date"));
  if (!f.status.empty()) c.push_back(Cat("r.status = ", p.Add(f.status)));
  if (!f.agent_id.empty()) c.push_back(Cat("r.agent_id = ", p.Add(f.agent_id)));
  return common::Join(c, " AND ");
}

// Rows (status, calls, duration_calls, duration_sum, cost_sum) that add up to the filter's
// statistics: whole calendar months inside the range from call_monthly_rollups, the days of the
// partial months at its ends from call_daily_rollups. A year is then about 12 monthly groups
// per (status, agent) plus at most ~60 daily ones, instead of 365 daily ones.
std::string RollupSource(const CallFilter& f, Params& p) {
  std::string group;
  if (!f.status.empty()) common::Append(&group, " AND r.status = ", p.Add(f.status));
  if (!f.agent_id.empty()) common::Append(&group, " AND r.agent_id = ", p.Add(f.agent_id));
  constexpr char kCols[] =
      "SELECT r.status, r.calls, r.duration_calls, r.duration_sum, r.cost_sum ";
  // Whole months: [lo, hi).
  std::optional<absl::CivilMonth> lo, hi;
  if (f.start_day) {
    lo = absl::CivilMonth(*f.start_day);
    if (f.start_day->day() != 1) *lo += 1;
  }
  if (f.end_day) hi = absl::CivilMonth(*f.end_day + 1);
  auto day = [&](absl::CivilDay d) { return Cat(p.Add(FormatDay(d)), "::date"); };
  if (lo && hi && *lo >= *hi) {
    return Cat(kCols, "FROM call_daily_rollups r WHERE r.day >= ", day(*f.start_day),
               " AND r.day <= ", day(*f.end_day), group);
  }
  std::vector<std::string> parts;
  std::string months = Cat(kCols, "FROM call_monthly_rollups r WHERE true");
  if (lo) common::Append(&months, " AND r.month >= ", day(absl::CivilDay(*lo)));
  if (hi) common::Append(&months, " AND r.month < ", day(absl::CivilDay(*hi)));
  parts.push_back(months + group);
  if (f.start_day && absl::CivilDay(*lo) > *f.start_day) {
    parts.push_back(Cat(kCols, "FROM call_daily_rollups r WHERE r.day >= ", day(*f.start_day),
                        " AND r.day < ", day(absl::CivilDay(*lo)), group));
  }
  if (f.end_day && absl::CivilDay(*hi) <= *f.end_day) {
    parts.push_back(Cat(kCols, "FROM call_daily_rollups r WHERE r.day >= ",
                        day(absl::CivilDay(*hi)), " AND r.day <= ", day(*f.end_day), group));
  }
  return common::Join(parts, " UNION ALL ");
}

// WHERE conditions on elevenlabs_conversations c. A day bound is a created_at range the indexes
// serve (two days of margin) plus the exact local-date test, which only decides within two days
// of the bound: further in, the range implies it (no zone moves its clock by two days), and
// written this way the planner estimates the filter as the range it is, not as three unknown
// predicates (which made it sort every match instead of walking an index).
// `tz_param` names the parameter holding the clinic zone; it is added on first use when empty
// (PostgreSQL refuses a parameter no statement text mentions).
std::string CallWhere(const CallFilter& f, const std::string& tz, std::string& tz_param,
                      Params& p) {
  std::vector<std::string> c = {"true"};
  if ((f.start_day || f.end_day) && tz_param.empty()) tz_param = p.Add(tz);
  if (f.patient_id)
    c.push_back(Cat("c.patient_id = ", p.Add(std::to_string(*f.patient_id)), "::integer"));
  if (!f.status.empty()) c.push_back(Cat("c.status = ", p.Add(f.status)));
  if (!f.agent_id.empty()) c.push_back(Cat("c.agent_id = ", p.Add(f.agent_id)));
  if (!f.campaign_id.empty()) {
    c.push_back(Cat("c.campaign_recipient_id IN (SELECT cr.id FROM campaign_recipients cr JOIN "
                    "campaigns ck ON ck.id = cr.campaign_id WHERE ck.campaign_id = ",
                    p.Add(f.campaign_id), "::uuid)"));
  }
  if (f.start_day) {
    const std::string d = p.Add(FormatDay(*f.start_day));
    const std::string from = Cat("(", d, "::date::timestamp AT TIME ZONE ", tz_param, ")");
    c.push_back(Cat("c.created_at >= ", from, " - interval '2 days'"));
    c.push_back(Cat("(c.created_at >= ", from,
                    " + interval '2 days' OR (c.created_at AT TIME ZONE ", tz_param,
                    ")::date >= ", d, "::date)"));
  }
  if (f.end_day) {
    const std::string d = p.Add(FormatDay(*f.end_day));
    const std::string until = Cat("((", d, "::date + 1)::timestamp AT TIME ZONE ", tz_param, ")");
    c.push_back(Cat("c.created_at < ", until, " + interval '2 days'"));
    c.push_back(Cat("(c.created_at < ", until,
                    " - interval '2 days' OR (c.created_at AT TIME ZONE ", tz_param,
                    ")::date <= ", d, "::date)"));
  }
  return common::Join(c, " AND ");
}

// Aggregates of one group row: calls, duration_calls, duration_sum, cost_sum, avg_duration.
Aggregate ReadAggregate(const pqxx::row& r, int first) {
  Aggregate a;
  a.calls = Int(r[first]);
  a.duration_calls = Int(r[first + 1]);
  a.duration_sum = Int(r[first + 2]);
  a.cost_sum = r[first + 3].is_null() ? "0" : r[first + 3].as<std::string>();
  a.avg_duration = Text(r[first + 4]);
  return a;
}

constexpr char kCallColumns[] =
    "c.id, (extract(epoch FROM c.created_at) * 1000000)::bigint, c.conversation_id, "
    "c.call_id::text, c.status, c.agent_id, c.patient_id, c.appointment_id, c.phone_number, "
    "c.duration_secs, c.cost::text, COALESCE(a.call_successful, c.call_successful), "
    "(extract(epoch FROM c.started_at) * 1000000)::bigint, "
    "(extract(epoch FROM c.ended_at) * 1000000)::bigint";

CallRow ReadCall(const pqxx::row& r) {
  CallRow c;
  c.id = r[0].as<int64_t>();
  c.created_at_us = r[1].as<int64_t>();
  c.conversation_id = Text(r[2]);
  c.call_id = Text(r[3]);
  c.status = Text(r[4]);
  c.agent_id = Text(r[5]);
  c.patient_id = Opt<int32_t>(r[6]);
  c.appointment_id = Opt<int32_t>(r[7]);
  c.phone_number = Text(r[8]);
  c.duration_secs = Opt<int32_t>(r[9]);
  c.cost = Text(r[10]);
  c.call_successful = Text(r[11]);
  c.started_at_us = Opt<int64_t>(r[12]);
  c.ended_at_us = Opt<int64_t>(r[13]);
  return c;
}

// Runs fn(tx, rollups_usable) in a read-only REPEATABLE READ transaction whose statements time
// out at the deadline (or the configured limit, whichever comes first). The transaction is driven
// by hand so that BEGIN, the statement timeout and the time-zone check share one round trip
// (pqxx's transaction classes send BEGIN on its own); on any failure it is rolled back before
// the connection returns to the pool, or the connection is dropped.
template <typename T>
absl::StatusOr<T> ReadOnly(
    common::PgPool* pool, const StatsStoreOptions& options, absl::Time deadline,
    const std::function<absl::StatusOr<T>(pqxx::transaction_base&, bool)>& fn) {
  const absl::Duration remaining = deadline - absl::Now();
  if (remaining <= absl::ZeroDuration()) {
    return absl::DeadlineExceededError("deadline passed before the query started");
  }
  const int64_t timeout_ms =
      std::clamp<int64_t>(absl::ToInt64Milliseconds(std::min(remaining, options.statement_timeout)),
                          1, std::numeric_limits<int32_t>::max());
  auto lease = pool->Acquire();
  if (!lease.ok()) return lease.status();
  try {
    pqxx::nontransaction tx(**lease);
    const pqxx::result zone = tx.exec(
        Cat("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL statement_timeout = ",
            timeout_ms, "; SELECT stats_clinic_timezone()"));
    const bool rollups = zone.size() == 1 && !zone[0][0].is_null() &&
                         zone[0][0].as<std::string>() == options.clinic_timezone;
    absl::StatusOr<T> result = fn(tx, rollups);
    tx.exec(result.ok() ? "COMMIT" : "ROLLBACK");
    return result;
  } catch (const std::exception& e) {
    absl::Status s = common::StatusFromDbException(e);
    bool reusable = dynamic_cast<const pqxx::broken_connection*>(&e) == nullptr &&
                    dynamic_cast<const pqxx::in_doubt_error*>(&e) == nullptr;
    if (reusable) {
      try {
        pqxx::nontransaction cleanup(**lease);
        cleanup.exec("ROLLBACK");  // only a notice when no transaction is open
      } catch (const std::exception&) {
        reusable = false;
      }
    }
    if (!reusable) lease->Discard();
    if (s.code() == absl::StatusCode::kInternal) {
      // The server's reason helps operators; the client only gets the class of failure.
      spdlog::warn("stats query failed: {}", e.what());
    }
    return s;
  }
}

// A statistics query: one statement, built for the rollups or for the raw calls, whose result
// also says which zone the rollups are cut in.
//
// Fast path, while the rollups are known to match this service's zone and the caller's deadline
// leaves the connections' own statement timeout in force: the statement alone, in one round trip
// (its snapshot covers the data and the zone it reports). If the zone turns out to differ, that
// answer is dropped and the full path runs: a read-only transaction that checks the zone first
// and sets a statement timeout from the deadline.
template <typename T>
absl::StatusOr<T> StatsQuery(
    common::PgPool* pool, const StatsStoreOptions& options, std::atomic<bool>& rollups_match,
    absl::Time deadline, const std::function<std::string(bool rollups, Params&)>& build,
    const std::function<T(const pqxx::result&, bool rollups, std::string* zone)>& read) {
  if (rollups_match.load(std::memory_order_relaxed) &&
      deadline - absl::Now() >= options.statement_timeout - absl::Milliseconds(500)) {
    Params p;
    const std::string sql = build(true, p);
    auto lease = pool->Acquire();
    if (!lease.ok()) return lease.status();
    try {
      pqxx::nontransaction tx(**lease);
      const pqxx::result rows = Exec(tx, sql, p);
      std::string zone;
      T out = read(rows, true, &zone);
      if (zone == options.clinic_timezone) return out;
      rollups_match.store(false, std::memory_order_relaxed);
    } catch (const std::exception& e) {
      if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr ||
          dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
        lease->Discard();
      }
      absl::Status s = common::StatusFromDbException(e);
      if (s.code() == absl::StatusCode::kInternal) spdlog::warn("stats query failed: {}", e.what());
      return s;
    }
  }
  return ReadOnly<T>(pool, options, deadline,
                     [&](pqxx::transaction_base& tx, bool rollups) -> absl::StatusOr<T> {
                       rollups_match.store(rollups, std::memory_order_relaxed);
                       Params p;
                       const std::string sql = build(rollups, p);
                       std::string zone;
                       return read(Exec(tx, sql, p), rollups, &zone);
                     });
}

}  // namespace

StatsStore::StatsStore(common::PgPool* pool, StatsStoreOptions options)
    : pool_(pool), options_(std::move(options)) {}

absl::StatusOr<std::string> StatsStore::DatabaseTimezone(absl::Time deadline) {
  return ReadOnly<std::string>(pool_, options_, deadline,
                               [](pqxx::transaction_base& tx, bool) -> absl::StatusOr<std::string> {
                                 return Text(tx.exec1("SELECT stats_clinic_timezone()")[0]);
                               });
}

absl::StatusOr<ListCallsResult> StatsStore::ListCalls(const ListCallsParams& params,
                                                      absl::Time deadline) {
  const std::string& tz = options_.clinic_timezone;
  return ReadOnly<ListCallsResult>(
      pool_, options_, deadline,
      [&](pqxx::transaction_base& tx, bool rollups) -> absl::StatusOr<ListCallsResult> {
        ListCallsResult out;
        const CallFilter& f = params.filter;

        // Total: from the rollups when they can answer these filters (no patient filter),
        // else counted on the calls through the filter's index.
        {
          Params p;
          std::string sql;
          if (rollups && !f.patient_id) {
            sql = Cat("SELECT COALESCE(sum(s.calls), 0)::bigint FROM (", RollupSource(f, p), ") s");
            out.total_from_rollups = true;
          } else {
            std::string tz_param;
            sql = Cat("SELECT count(*) FROM elevenlabs_conversations c WHERE ",
                      CallWhere(f, tz, tz_param, p));
          }
          out.total = Int(Exec(tx, sql, p)[0][0]);
        }

        // The page: ids in history order first (the (created_at DESC, id DESC) index, or the
        // filter's), then the rows and their analysis verdict for just those ids.
        Params p;
        std::string tz_param;
        std::string where = CallWhere(f, tz, tz_param, p);
        std::string offset;
        if (params.cursor) {
          // Keyset position: an index condition on (created_at DESC, id DESC), and a lossy
          // created_at bound on a filter's (x, created_at) index, so every index starts at it.
          common::Append(&where, " AND (c.created_at, c.id) < (",
                         p.Add(FormatMicrosUtc(params.cursor->created_at_us)), "::timestamptz, ",
                         p.Add(std::to_string(params.cursor->id)), "::bigint)");
        } else if (params.offset() > 0) {
          offset = Cat(" OFFSET ", p.Add(std::to_string(params.offset())), "::bigint");
        }
        const std::string limit = p.Add(std::to_string(params.limit + 1));
        const std::string sql = Cat(
            "WITH page AS MATERIALIZED (SELECT c.id, c.created_at FROM elevenlabs_conversations c "
            "WHERE ",
            where, " ORDER BY c.created_at DESC, c.id DESC", offset, " LIMIT ", limit,
            "::bigint) SELECT ", kCallColumns,
            " FROM page JOIN elevenlabs_conversations c ON c.id = page.id"
            " LEFT JOIN elevenlabs_analysis a ON a.conversation_id = c.conversation_id"
            " ORDER BY page.created_at DESC, page.id DESC");
        const pqxx::result rows = Exec(tx, sql, p);
        for (const auto& r : rows) {
          if (static_cast<int>(out.rows.size()) == params.limit) break;
          out.rows.push_back(ReadCall(r));
        }
        if (static_cast<int>(rows.size()) > params.limit && !out.rows.empty()) {
          CallCursor next;
          next.created_at_us = out.rows.back().created_at_us;
          next.id = out.rows.back().id;
          next.offset = params.offset() + params.limit;
          next.fingerprint = FilterFingerprint(f, tz);
          out.next_cursor = next;
        }
        return out;
      });
}

absl::StatusOr<CallStatsResult> StatsStore::CallStats(const CallFilter& filter,
                                                      absl::Time deadline) {
  CallFilter f = filter;
  f.patient_id.reset();  // not a statistics filter
  const std::string& tz = options_.clinic_timezone;
  return StatsQuery<CallStatsResult>(
      pool_, options_, rollups_match_, deadline,
      [&](bool rollups, Params& p) {
        std::string source;
        if (rollups && f.campaign_id.empty()) {
          source = RollupSource(f, p);
        } else {
          std::string tz_param;
          source =
              Cat("SELECT c.status, count(*) AS calls, count(c.duration_secs) AS duration_calls,"
                  " COALESCE(sum(c.duration_secs), 0) AS duration_sum,"
                  " COALESCE(sum(c.cost), 0) AS cost_sum FROM elevenlabs_conversations c WHERE ",
                  CallWhere(f, tz, tz_param, p), " GROUP BY c.status");
        }
        // Per status, then the total (status NULL) from those few rows, which also carries the
        // rollups' time zone. The same division PostgreSQL's avg() does (numeric sum / numeric
        // count), so the averages equal avg(duration_secs) over the calls exactly.
        return Cat(
            "WITH src AS (", source,
            "), g AS (SELECT status, sum(calls) AS calls, sum(duration_calls) AS duration_calls,"
            " sum(duration_sum) AS duration_sum, sum(cost_sum) AS cost_sum FROM src"
            " GROUP BY status)"
            " SELECT status, calls::bigint, duration_calls::bigint, duration_sum::bigint,"
            " cost_sum::text, (duration_sum::numeric / NULLIF(duration_calls, 0)::numeric)::text,"
            " NULL::text FROM g UNION ALL"
            " SELECT NULL, COALESCE(sum(calls), 0)::bigint,"
            " COALESCE(sum(duration_calls), 0)::bigint, COALESCE(sum(duration_sum), 0)::bigint,"
            " COALESCE(sum(cost_sum), 0)::text,"
            " (sum(duration_sum)::numeric / NULLIF(sum(duration_calls), 0)::numeric)::text,"
            " (SELECT stats_clinic_timezone()) FROM g");
      },
      [&f](const pqxx::result& rows, bool rollups, std::string* zone) {
        CallStatsResult out;
        out.from_rollups = rollups && f.campaign_id.empty();
        for (const auto& r : rows) {
          if (r[0].is_null()) {
            out.all = ReadAggregate(r, 1);
            *zone = Text(r[6]);
            continue;
          }
          const std::string status = r[0].as<std::string>();
          Aggregate a = ReadAggregate(r, 1);
          if (a.calls == 0) continue;
          if (status == "completed") {
            out.completed_calls = a.calls;
            out.completed_avg_duration = a.avg_duration;
          } else if (status == "failed" || status == "no_answer" || status == "busy") {
            out.failed_calls += a.calls;
          }
          out.by_status.emplace_back(status, std::move(a));
        }
        return out;
      });
}

absl::StatusOr<DailyStatsResult> StatsStore::DailyStats(const CallFilter& filter,
                                                        absl::Time deadline) {
  if (!filter.start_day || !filter.end_day) {
    return absl::InvalidArgumentError("startDate: a daily series needs both dates");
  }
  CallFilter f = filter;
  f.patient_id.reset();
  const std::string& tz = options_.clinic_timezone;
  return StatsQuery<DailyStatsResult>(
      pool_, options_, rollups_match_, deadline,
      [&](bool rollups, Params& p) {
        std::string source;
        if (rollups && f.campaign_id.empty()) {
          source =
              Cat("SELECT r.day, r.status, r.calls, r.duration_calls, r.duration_sum, r.cost_sum"
                  " FROM call_daily_rollups r WHERE ",
                  RollupWhere(f, p));
        } else {
          std::string tz_param = p.Add(tz);
          source = Cat("SELECT (c.created_at AT TIME ZONE ", tz_param,
                       ")::date AS day, c.status, count(*) AS calls,"
                       " count(c.duration_secs) AS duration_calls,"
                       " COALESCE(sum(c.duration_secs), 0) AS duration_sum,"
                       " COALESCE(sum(c.cost), 0) AS cost_sum FROM elevenlabs_conversations c"
                       " WHERE ",
                       CallWhere(f, tz, tz_param, p), " GROUP BY 1, 2");
        }
        const std::string first = p.Add(FormatDay(*f.start_day));
        const std::string last = p.Add(FormatDay(*f.end_day));
        return Cat(
            "WITH src AS (", source,
            "), per_day AS (SELECT day, sum(calls) AS total,"
            " sum(calls) FILTER (WHERE status = 'completed') AS completed,"
            " sum(calls) FILTER (WHERE status IN ('failed', 'no_answer', 'busy')) AS failed,"
            " sum(duration_sum) FILTER (WHERE status = 'completed')::numeric"
            " / NULLIF(sum(duration_calls) FILTER (WHERE status = 'completed'), 0)::numeric"
            " AS avg_duration, sum(cost_sum) AS cost FROM src GROUP BY day)"
            " SELECT to_char(d, 'YYYY-MM-DD'), COALESCE(total, 0)::bigint,"
            " COALESCE(completed, 0)::bigint, COALESCE(failed, 0)::bigint, avg_duration::text,"
            " COALESCE(cost, 0)::text, (SELECT stats_clinic_timezone())"
            " FROM generate_series(",
            first, "::date, ", last,
            "::date, interval '1 day') AS d"
            " LEFT JOIN per_day ON per_day.day = d::date ORDER BY d");
      },
      [&f](const pqxx::result& rows, bool rollups, std::string* zone) {
        DailyStatsResult out;
        out.from_rollups = rollups && f.campaign_id.empty();
        for (const auto& r : rows) {
          DailyRow row;
          row.day = r[0].as<std::string>();
          row.total_calls = Int(r[1]);
          row.completed_calls = Int(r[2]);
          row.failed_calls = Int(r[3]);
          row.avg_duration = Text(r[4]);
          row.total_cost = Text(r[5]);
          *zone = Text(r[6]);
          out.rows.push_back(std::move(row));
        }
        return out;
      });
}

absl::StatusOr<ListErrorsResult> StatsStore::ListErrors(const ListErrorsParams& params,
                                                        absl::Time deadline) {
  return ReadOnly<ListErrorsResult>(
      pool_, options_, deadline,
      [&](pqxx::transaction_base& tx, bool) -> absl::StatusOr<ListErrorsResult> {
        Params p;
        std::vector<std::string> c = {"true"};
        if (!params.source.empty()) c.push_back(Cat("e.source = ", p.Add(params.source)));
        if (!params.conversation_id.empty()) {
          // Our call id is accepted wherever a conversation id is.
          const std::string v = p.Add(params.conversation_id);
          if (LooksLikeUuid(params.conversation_id)) {
            c.push_back(Cat("(e.conversation_id = ", v,
                            " OR e.call_row_id = (SELECT x.id FROM elevenlabs_conversations x "
                            "WHERE x.call_id = ",
                            v, "::uuid))"));
          } else {
            c.push_back(Cat("e.conversation_id = ", v));
          }
        }
        const std::string where = common::Join(c, " AND ");
        ListErrorsResult out;
        out.total = Int(
            Exec(tx, Cat("SELECT count(*) FROM elevenlabs_call_errors e WHERE ", where), p)[0][0]);
        std::string offset;
        if (params.offset() > 0)
          offset = Cat(" OFFSET ", p.Add(std::to_string(params.offset())), "::bigint");
        const std::string limit = p.Add(std::to_string(params.limit));
        const std::string sql = Cat(
            "SELECT e.id, e.conversation_id, c.call_id::text, e.source, e.error_code, "
            "e.http_status,"
            " e.message, (extract(epoch FROM e.created_at) * 1000000)::bigint "
            "FROM elevenlabs_call_errors e LEFT JOIN elevenlabs_conversations c ON c.id = "
            "e.call_row_id "
            "WHERE ",
            where, " ORDER BY e.created_at DESC, e.id DESC", offset, " LIMIT ", limit, "::bigint");
        for (const auto& r : Exec(tx, sql, p)) {
          ErrorRow e;
          e.id = r[0].as<int64_t>();
          e.conversation_id = Text(r[1]);
          e.call_id = Text(r[2]);
          e.source = Text(r[3]);
          e.code = Text(r[4]);
          e.http_status = Opt<int32_t>(r[5]);
          e.message = Text(r[6]);
          e.created_at_us = r[7].as<int64_t>();
          out.rows.push_back(std::move(e));
        }
        return out;
      });
}

double DecimalToDouble(std::string_view text) {
  text = common::Trim(text);
  if (text.empty()) return 0.0;
  double v = 0.0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v != v) return 0.0;
  return v;
}

}  // namespace outcall::stats
