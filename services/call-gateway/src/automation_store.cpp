#include "automation_store.h"

#include <pqxx/pqxx>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "outcall/common/pg_time.h"

namespace outcall::call_gateway {

using common::Exec;
using common::Exec1;
using common::PgEpoch;

namespace {

// ENROLLED: the enrolment count's expression (the scheduler's pass does not read it: "0").
#define RULE_SELECT_WITH(ENROLLED)                                                               \
  "SELECT r.id, r.rule_id::text, r.name, r.spec::text, r.lead_min_minutes, r.lead_max_minutes, " \
  "array_to_string(r.appointment_statuses, ','), r.enabled, r.created_by, extract(epoch from "   \
  "r.created_at)::float8, extract(epoch from r.last_run_at)::float8, " ENROLLED                   \
  ", COALESCE(d.day::text, ''), "                                                                 \
  "COALESCE(d.uuid, ''), r.create_sha256 FROM automation_rules r LEFT JOIN LATERAL (SELECT "     \
  "ac.day, c.campaign_id::text AS uuid FROM automation_campaigns ac JOIN campaigns c ON c.id = " \
  "ac.campaign_id WHERE ac.rule_id = r.id ORDER BY ac.day DESC LIMIT 1) d ON true "
#define RULE_SELECT \
  RULE_SELECT_WITH("(SELECT count(*) FROM automation_enrollments e WHERE e.rule_id = r.id)")

AutomationRuleRow ReadRule(const pqxx::row& r) {
  AutomationRuleRow x;
  x.id = r[0].as<int64_t>();
  x.uuid = r[1].as<std::string>();
  x.name = r[2].as<std::string>();
  x.spec_json = r[3].as<std::string>();
  x.lead_min_minutes = r[4].as<int>();
  x.lead_max_minutes = r[5].as<int>();
  x.appointment_statuses = absl::StrSplit(r[6].as<std::string>(), ',', absl::SkipEmpty());
  x.enabled = r[7].as<bool>();
  x.created_by = r[8].as<std::string>();
  x.created_at = common::PgInstant(r[9]).value_or(absl::UnixEpoch());
  x.last_run_at = common::PgInstant(r[10]);
  x.enrolled = r[11].as<int64_t>();
  x.current_day = r[12].as<std::string>();
  x.current_campaign_uuid = r[13].as<std::string>();
  return x;
}

}  // namespace

absl::StatusOr<AutomationRuleRow> AutomationStore::CreateRule(const AutomationRuleRow& r,
                                                              const std::string& idem_key,
                                                              const std::string& request_sha256) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<AutomationRuleRow> {
    std::optional<std::string> key, sha;
    if (!idem_key.empty()) {
      key = idem_key;
      sha = request_sha256;
    }
    auto ins = Exec(tx,
                    {"automation.insert_rule",
                     "INSERT INTO automation_rules (name, spec, lead_min_minutes, "
                     "lead_max_minutes, appointment_statuses, created_by, create_key, "
                     "create_sha256) VALUES ($1, $2::jsonb, $3, $4, string_to_array($5, ','), $6, "
                     "$7, $8) ON CONFLICT (created_by, create_key) DO NOTHING RETURNING id"},
                    r.name, r.spec_json, r.lead_min_minutes, r.lead_max_minutes,
                    absl::StrJoin(r.appointment_statuses, ","), r.created_by, key, sha);
    if (!ins.empty()) {
      return ReadRule(Exec1(tx, {"automation.rule_by_id", RULE_SELECT "WHERE r.id = $1"},
                            ins[0][0].as<int64_t>()));
    }
    auto prev = Exec(tx,
                     {"automation.rule_by_key",
                      RULE_SELECT "WHERE r.created_by = $1 AND r.create_key = $2"},
                     r.created_by, idem_key);
    if (prev.empty()) return absl::AbortedError("Idempotency-Key changed; retry");
    if (prev[0][14].as<std::string>() != request_sha256) {
      return absl::AlreadyExistsError(
          "Idempotency-Key was used for another automation rule request; use a new key");
    }
    AutomationRuleRow out = ReadRule(prev[0]);
    out.duplicate = true;
    return out;
  });
}

absl::StatusOr<std::vector<AutomationRuleRow>> AutomationStore::ListRules(bool for_scheduler) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx)
                                -> absl::StatusOr<std::vector<AutomationRuleRow>> {
    std::vector<AutomationRuleRow> out;
    const pqxx::result rows =
        for_scheduler
            ? Exec(tx, {"automation.enabled_rules",
                        RULE_SELECT_WITH("0::bigint") "WHERE r.enabled ORDER BY r.id LIMIT 1000"})
            : Exec(tx, {"automation.list_rules", RULE_SELECT "ORDER BY r.id LIMIT 1000"});
    for (const auto& r : rows) out.push_back(ReadRule(r));
    return out;
  });
}

absl::StatusOr<AutomationRuleRow> AutomationStore::SetEnabled(const std::string& uuid,
                                                              bool enabled) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<AutomationRuleRow> {
    auto u = Exec(tx,
                  {"automation.set_enabled",
                   "UPDATE automation_rules SET enabled = $2 WHERE rule_id = $1::uuid "
                   "RETURNING id"},
                  uuid, enabled);
    if (u.empty()) return absl::NotFoundError("automation rule " + uuid + " not found");
    return ReadRule(Exec1(tx, {"automation.rule_by_id", RULE_SELECT "WHERE r.id = $1"},
                          u[0][0].as<int64_t>()));
  });
}

absl::Status AutomationStore::RecordDayCampaign(int64_t rule_row, const std::string& day,
                                                const std::string& campaign_uuid) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::Status {
    Exec(tx,
         {"automation.record_day",
          "INSERT INTO automation_campaigns (rule_id, day, campaign_id) SELECT $1, $2::date, id "
          "FROM campaigns WHERE campaign_id = $3::uuid ON CONFLICT DO NOTHING"},
         rule_row, day, campaign_uuid);
    return absl::OkStatus();
  });
}

absl::StatusOr<Enrolment> AutomationStore::Enroll(const AutomationRuleRow& rule,
                                                  const std::string& campaign_uuid,
                                                  absl::Time now) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<Enrolment> {
    Enrolment out;
    // One pass of a rule at a time across replicas (the keys below would also refuse a second
    // enrolment; the lock keeps the two from waiting on each other row by row).
    Exec(tx, {"automation.rule_lock",
              "SELECT pg_advisory_xact_lock(hashtextextended('outcall.automation', $1))"},
         rule.id);
    const std::string statuses = absl::StrJoin(rule.appointment_statuses, ",");
    out.withdrawn =
        Exec(tx,
             {"automation.withdraw",
              "UPDATE campaign_recipients r SET state = 'canceled', outcome = CASE WHEN "
              "a.scheduled_at <> e.scheduled_at THEN 'appointment_moved' ELSE 'appointment_' || "
              "a.status END, next_attempt_at = NULL, detail = 'its appointment no longer matches "
              "the automation rule' FROM automation_enrollments e JOIN appointments a ON a.id = "
              "e.appointment_id WHERE e.rule_id = $1 AND r.campaign_id = e.campaign_id AND "
              "r.appointment_id = e.appointment_id AND r.state IN ('pending', 'scheduled') AND "
              "(a.status <> ALL (string_to_array($2, ',')) OR a.scheduled_at <> e.scheduled_at) "
              "RETURNING 1"},
             rule.id, statuses)
            .affected_rows();
    auto c = Exec(tx,
                  {"automation.day_campaign",
                   "SELECT state FROM campaigns WHERE campaign_id = $1::uuid"},
                  campaign_uuid);
    if (c.empty()) return absl::NotFoundError("campaign " + campaign_uuid + " not found");
    const std::string state = c[0][0].as<std::string>();
    if (state == "canceled" || state == "expired") {
      out.skipped = "its campaign of the day is " + state;
    } else {
      // A recipient of the same campaign canceled because its appointment moved is the one the
      // new time brings back (one per number and appointment in a campaign), with a full set of
      // attempts.
      auto r = Exec1(
          tx,
          {"automation.enroll",
           "WITH c AS (SELECT id, max_attempts FROM campaigns WHERE campaign_id = $2::uuid), due "
           "AS (SELECT a.id, a.patient_id, a.scheduled_at, p.phone_e164 FROM appointments a JOIN "
           "patients p ON p.id = a.patient_id WHERE a.scheduled_at >= to_timestamp($3::float8) + "
           "make_interval(mins => $4) AND a.scheduled_at < to_timestamp($3::float8) + "
           "make_interval(mins => $5) AND a.status = ANY (string_to_array($6, ',')) AND "
           "p.phone_e164 IS NOT NULL AND p.erased_at IS NULL), enr AS (INSERT INTO "
           "automation_enrollments (rule_id, appointment_id, scheduled_at, campaign_id, "
           "enrolled_at) SELECT $1, due.id, due.scheduled_at, c.id, to_timestamp($3::float8) FROM "
           "due, c ON CONFLICT DO NOTHING RETURNING appointment_id), ins AS (INSERT INTO "
           "campaign_recipients (campaign_id, patient_id, appointment_id, phone_e164, "
           "next_attempt_at, call_by) SELECT c.id, due.patient_id, due.id, due.phone_e164, "
           "'-infinity', due.scheduled_at - make_interval(mins => $4) FROM due JOIN enr ON "
           "enr.appointment_id = due.id, c ON CONFLICT (campaign_id, phone_e164, "
           "(COALESCE(appointment_id, 0))) DO UPDATE SET state = 'pending', outcome = NULL, "
           "decision_rule = NULL, detail = NULL, next_attempt_at = '-infinity', call_by = "
           "EXCLUDED.call_by, attempt_limit = campaign_recipients.attempts + (SELECT max_attempts "
           "FROM c) WHERE campaign_recipients.state = 'canceled' AND campaign_recipients.outcome "
           "= 'appointment_moved' RETURNING 1), reopen AS (UPDATE campaigns SET state = "
           "'running', state_reason = NULL, finished_at = NULL WHERE id = (SELECT id FROM c) AND "
           "state = 'completed' AND EXISTS (SELECT 1 FROM ins)) SELECT (SELECT count(*)::int "
           "FROM enr), (SELECT count(*)::int FROM ins)"},
          rule.id, campaign_uuid, PgEpoch(now), rule.lead_min_minutes, rule.lead_max_minutes,
          statuses);
      out.enrolled = r[0].as<int>();
    }
    Exec(tx,
         {"automation.ran",
          "UPDATE automation_rules SET last_run_at = to_timestamp($2::float8) WHERE id = $1"},
         rule.id, PgEpoch(now));
    return out;
  });
}

}  // namespace outcall::call_gateway
