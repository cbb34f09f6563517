#include "campaign_store.h"

#include <pqxx/pqxx>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "contact_policy.h"
#include "outcall/common/pg_time.h"
#include "outcall/common/strings.h"

namespace outcall::call_gateway {

using common::Cat;
using common::Exec;
using common::Exec1;

namespace {

std::optional<double> Unix(const std::optional<absl::Time>& t) { return common::PgEpoch(t); }
double Unix(absl::Time t) { return common::PgEpoch(t); }
std::optional<absl::Time> TimeOrNull(const pqxx::field& f) { return common::PgInstant(f); }
absl::Time TimeOf(const pqxx::field& f) { return TimeOrNull(f).value_or(absl::UnixEpoch()); }
std::optional<int> IntOrNull(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return f.as<int>();
}

std::vector<int> Ints(const std::string& csv) {
  std::vector<int> out;
  for (const std::string& p : std::vector<std::string>(absl::StrSplit(csv, ',', absl::SkipEmpty())))
    out.push_back(std::stoi(p));
  return out;
}
std::string Csv(const std::vector<int>& v) { return absl::StrJoin(v, ","); }
std::string Csv(const std::set<std::string>& v) { return absl::StrJoin(v, ","); }
std::set<std::string> Words(const std::string& csv) {
  std::vector<std::string> parts = absl::StrSplit(csv, ',', absl::SkipEmpty());
  return {parts.begin(), parts.end()};
}

#define CAMPAIGN_COLUMNS                                                                      \
  "id, campaign_id::text, name, purpose, agent_id, variables_template::text, "                \
  "extract(epoch from starts_at)::float8, extract(epoch from ends_at)::float8, "              \
  "max_concurrency, calls_per_minute, array_to_string(retry_outcomes, ','), "                 \
  "array_to_string(retry_interval_secs, ','), max_attempts, window_start_minute, "            \
  "window_end_minute, breaker_failure_rate::float8, breaker_window, breaker_min_sample, state, " \
  "COALESCE(state_reason, ''), created_by, extract(epoch from created_at)::float8, "          \
  "extract(epoch from updated_at)::float8, extract(epoch from started_at)::float8, "          \
  "extract(epoch from finished_at)::float8, policy_profile_id, policy_profile_version"

CampaignRow ReadCampaign(const pqxx::row& r) {
  CampaignRow c;
  c.id = r[0].as<int64_t>();
  c.uuid = r[1].as<std::string>();
  CampaignSettings& s = c.settings;
  s.name = r[2].as<std::string>();
  s.purpose = r[3].as<std::string>();
  s.agent_id = r[4].as<std::string>();
  s.variables_template_json = r[5].as<std::string>();
  s.starts_at = TimeOrNull(r[6]);
  s.ends_at = TimeOrNull(r[7]);
  s.max_concurrency = r[8].as<int>();
  s.calls_per_minute = r[9].as<int>();
  s.retry.retry_on = Words(r[10].as<std::string>());
  s.retry.intervals_secs = Ints(r[11].as<std::string>());
  s.retry.max_attempts = r[12].as<int>();
  if (!r[13].is_null()) s.window = campaign::DailyWindow{r[13].as<int>(), r[14].as<int>()};
  s.breaker = {r[15].as<double>(), r[16].as<int>(), r[17].as<int>()};
  c.state = r[18].as<std::string>();
  c.state_reason = r[19].as<std::string>();
  c.created_by = r[20].as<std::string>();
  c.created_at = TimeOf(r[21]);
  c.updated_at = TimeOf(r[22]);
  c.started_at = TimeOrNull(r[23]);
  c.finished_at = TimeOrNull(r[24]);
  if (!r[25].is_null()) s.policy_profile = ProfileRef{r[25].as<std::string>(), r[26].as<int>()};
  return c;
}

absl::Status LoadCounters(pqxx::transaction_base& tx, CampaignRow& c) {
  for (const char* s : campaign::kRecipientStates) c.counters.by_state[s] = 0;
  auto rows = Exec(tx,
                   {"campaigns.counters",
                    "SELECT r.state, COALESCE(r.outcome, ''), count(*)::int, (SELECT count(*) FROM "
                    "campaign_attempts WHERE campaign_id = $1) FROM campaign_recipients r WHERE "
                    "r.campaign_id = $1 GROUP BY 1, 2"},
                   c.id);
  for (const auto& r : rows) {
    const int n = r[2].as<int>();
    c.counters.by_state[r[0].as<std::string>()] += n;
    if (!r[1].as<std::string>().empty() && campaign::IsFinalRecipientState(r[0].as<std::string>()))
      c.counters.by_outcome[r[1].as<std::string>()] += n;
    c.counters.total += n;
    c.counters.attempts = r[3].as<int64_t>();
  }
  if (rows.empty()) {
    c.counters.attempts =
        Exec1(tx, {"campaigns.attempts", "SELECT count(*) FROM campaign_attempts WHERE campaign_id = $1"},
              c.id)[0]
            .as<int64_t>();
  }
  return absl::OkStatus();
}

absl::StatusOr<CampaignRow> ByUuid(pqxx::transaction_base& tx, const std::string& uuid) {
  auto r = Exec(tx,
                {"campaigns.by_uuid",
                 "SELECT " CAMPAIGN_COLUMNS " FROM campaigns WHERE campaign_id = $1::uuid"},
                uuid);
  if (r.empty()) return absl::NotFoundError(Cat("campaign ", uuid, " not found"));
  return ReadCampaign(r[0]);
}

absl::Status CheckUuid(const std::string& uuid) {
  if (!campaign::IsUuid(uuid)) {
    return absl::InvalidArgumentError("campaignId: not a campaign id (a UUID)");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CampaignRow> CampaignStore::CreateCampaign(const CampaignSettings& s,
                                                          const std::string& state,
                                                          const std::string& principal,
                                                          const std::string& idem_key,
                                                          const std::string& request_sha256) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<CampaignRow> {
    std::optional<std::string> key, sha;
    if (!idem_key.empty()) {
      key = idem_key;
      sha = request_sha256;
    }
    auto r = Exec(
        tx,
        {"campaigns.insert",
         "INSERT INTO campaigns (name, purpose, agent_id, variables_template, starts_at, ends_at, "
         "max_concurrency, calls_per_minute, retry_outcomes, retry_interval_secs, max_attempts, "
         "window_start_minute, window_end_minute, breaker_failure_rate, breaker_window, "
         "breaker_min_sample, state, created_by, create_principal, create_key, create_sha256, "
         "started_at, policy_profile_id, policy_profile_version) VALUES ($1, $2, $3, $4::jsonb, "
         "to_timestamp($5::float8), to_timestamp($6::float8), $7, $8, string_to_array($9, ','), "
         "string_to_array($10, ',')::int[], $11, $12, $13, $14, $15, $16, $17, $18, CASE WHEN "
         "$19::text IS NULL THEN NULL ELSE $18 END, $19, $20, CASE WHEN $17 = 'running' THEN now() "
         "END, $21, $22) ON CONFLICT (create_principal, create_key) DO NOTHING RETURNING "
         CAMPAIGN_COLUMNS},
        s.name, s.purpose, s.agent_id, s.variables_template_json, Unix(s.starts_at),
        Unix(s.ends_at), s.max_concurrency, s.calls_per_minute, Csv(s.retry.retry_on),
        Csv(s.retry.intervals_secs), s.retry.max_attempts,
        s.window ? std::optional<int>(s.window->start_minute) : std::nullopt,
        s.window ? std::optional<int>(s.window->end_minute) : std::nullopt,
        s.breaker.failure_rate, s.breaker.window, s.breaker.min_sample, state, principal, key,
        sha, s.policy_profile ? std::optional<std::string>(s.policy_profile->id) : std::nullopt,
        s.policy_profile ? std::optional<int>(s.policy_profile->version) : std::nullopt);
    if (!r.empty()) return ReadCampaign(r[0]);
    auto prev = Exec(tx,
                     {"campaigns.by_key",
                      "SELECT " CAMPAIGN_COLUMNS ", create_sha256 FROM campaigns WHERE "
                      "create_principal = $1 AND create_key = $2"},
                     principal, idem_key);
    if (prev.empty()) return absl::AbortedError("Idempotency-Key changed; retry");
    if (prev[0][27].as<std::string>() != request_sha256) {
      return absl::AlreadyExistsError(
          "Idempotency-Key was used for another campaign request; use a new key");
    }
    CampaignRow c = ReadCampaign(prev[0]);
    c.duplicate = true;
    if (auto st = LoadCounters(tx, c); !st.ok()) return st;
    return c;
  });
}

absl::StatusOr<std::optional<CampaignRow>> CampaignStore::GetCampaign(const std::string& uuid) {
  if (auto s = CheckUuid(uuid); !s.ok()) return s;
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<std::optional<CampaignRow>> {
    auto c = ByUuid(tx, uuid);
    if (absl::IsNotFound(c.status())) return std::optional<CampaignRow>();
    if (!c.ok()) return c.status();
    if (auto s = LoadCounters(tx, *c); !s.ok()) return s;
    return std::optional<CampaignRow>(*std::move(c));
  });
}

absl::StatusOr<CampaignRow> CampaignStore::GetCampaignByRow(int64_t campaign_row) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<CampaignRow> {
    auto r = Exec(tx,
                  {"campaigns.by_row", "SELECT " CAMPAIGN_COLUMNS " FROM campaigns WHERE id = $1"},
                  campaign_row);
    if (r.empty()) return absl::NotFoundError(Cat("campaign row ", campaign_row, " not found"));
    CampaignRow c = ReadCampaign(r[0]);
    if (auto s = LoadCounters(tx, c); !s.ok()) return s;
    return c;
  });
}

absl::StatusOr<std::vector<CampaignRow>> CampaignStore::ListCampaigns(const std::string& state,
                                                                      int64_t before_id,
                                                                      int limit) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<std::vector<CampaignRow>> {
    auto rows = Exec(tx,
                     {"campaigns.list",
                      "SELECT " CAMPAIGN_COLUMNS " FROM campaigns WHERE ($1 = '' OR state = $1) "
                      "AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3"},
                     state, before_id, limit);
    std::vector<CampaignRow> out;
    for (const auto& r : rows) {
      out.push_back(ReadCampaign(r));
      if (auto s = LoadCounters(tx, out.back()); !s.ok()) return s;
    }
    return out;
  });
}

absl::StatusOr<CampaignRow> CampaignStore::UpdateSettings(const std::string& uuid,
                                                          const CampaignSettings& s) {
  if (auto st = CheckUuid(uuid); !st.ok()) return st;
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<CampaignRow> {
    auto r = Exec(
        tx,
        {"campaigns.update",
         "UPDATE campaigns SET name = $2, variables_template = $3::jsonb, starts_at = "
         "to_timestamp($4::float8), ends_at = to_timestamp($5::float8), max_concurrency = $6, "
         "calls_per_minute = $7, retry_outcomes = string_to_array($8, ','), retry_interval_secs = "
         "string_to_array($9, ',')::int[], max_attempts = $10, window_start_minute = $11, "
         "window_end_minute = $12, breaker_failure_rate = $13, breaker_window = $14, "
         "breaker_min_sample = $15 WHERE campaign_id = $1::uuid AND state IN ('draft', "
         "'scheduled', 'paused', 'auto_paused') RETURNING " CAMPAIGN_COLUMNS},
        uuid, s.name, s.variables_template_json, Unix(s.starts_at), Unix(s.ends_at),
        s.max_concurrency, s.calls_per_minute, Csv(s.retry.retry_on), Csv(s.retry.intervals_secs),
        s.retry.max_attempts, s.window ? std::optional<int>(s.window->start_minute) : std::nullopt,
        s.window ? std::optional<int>(s.window->end_minute) : std::nullopt, s.breaker.failure_rate,
        s.breaker.window, s.breaker.min_sample);
    if (r.empty()) {
      auto c = ByUuid(tx, uuid);
      if (!c.ok()) return c.status();
      return absl::FailedPreconditionError(
          Cat("campaign ", uuid, " is ", c->state,
              "; it can be changed while draft, scheduled, paused or auto_paused (pause it first)"));
    }
    CampaignRow c = ReadCampaign(r[0]);
    if (auto st = LoadCounters(tx, c); !st.ok()) return st;
    return c;
  });
}

absl::StatusOr<CampaignRow> CampaignStore::Transition(const std::string& uuid,
                                                      const std::vector<std::string>& from,
                                                      const std::string& to,
                                                      const std::string& reason) {
  if (auto st = CheckUuid(uuid); !st.ok()) return st;
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<CampaignRow> {
    auto r = Exec(
        tx,
        {"campaigns.transition",
         "UPDATE campaigns SET state = $2, state_reason = NULLIF($3, ''), breaker_reset_at = CASE "
         "WHEN state = 'auto_paused' AND $2 = 'running' THEN now() ELSE breaker_reset_at END, "
         "started_at = CASE WHEN "
         "$2 = 'running' THEN COALESCE(started_at, now()) ELSE started_at END, finished_at = CASE "
         "WHEN $2 IN ('completed', 'canceled', 'expired') THEN now() END WHERE campaign_id = "
         "$1::uuid AND state = ANY (string_to_array($4, ',')) RETURNING " CAMPAIGN_COLUMNS},
        uuid, to, reason, absl::StrJoin(from, ","));
    if (r.empty()) {
      auto c = ByUuid(tx, uuid);
      if (!c.ok()) return c.status();
      return absl::FailedPreconditionError(Cat("campaign ", uuid, " is ", c->state, "; ", to,
                                               " needs it ", absl::StrJoin(from, " or ")));
    }
    CampaignRow c = ReadCampaign(r[0]);
    if (to == "canceled") {
      Exec(tx,
           {"campaigns.cancel_recipients",
            "UPDATE campaign_recipients SET state = 'canceled', outcome = 'campaign_canceled', "
            "next_attempt_at = NULL WHERE campaign_id = $1 AND state IN ('pending', 'scheduled')"},
           c.id);
    }
    if (auto st = LoadCounters(tx, c); !st.ok()) return st;
    return c;
  });
}

absl::StatusOr<int> CampaignStore::RetryExhausted(const std::string& uuid) {
  if (auto st = CheckUuid(uuid); !st.ok()) return st;
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<int> {
    auto r = Exec(tx,
                  {"campaigns.retry_exhausted",
                   "UPDATE campaign_recipients r SET state = 'pending', outcome = NULL, "
                   "next_attempt_at = '-infinity', attempt_limit = r.attempts + c.max_attempts FROM "
                   "campaigns c WHERE c.id = r.campaign_id AND c.campaign_id = $1::uuid AND "
                   "r.state = 'exhausted' RETURNING 1"},
                  uuid);
    return static_cast<int>(r.size());
  });
}

absl::StatusOr<CampaignStore::Added> CampaignStore::AddRecipients(
    int64_t campaign_row, const std::vector<NewRecipient>& rows) {
  if (rows.empty()) return Added{};
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<Added> {
    // One statement for the batch: the rows as a JSON array, unnested by PostgreSQL.
    std::string batch = "[";
    for (size_t i = 0; i < rows.size(); ++i) {
      const NewRecipient& n = rows[i];
      if (i) batch += ",";
      batch += Cat("{\"p\":", n.patient_id ? std::to_string(*n.patient_id) : "null",
                   ",\"a\":", n.appointment_id ? std::to_string(*n.appointment_id) : "null",
                   ",\"phone\":\"", n.phone_e164, "\",\"v\":", n.variables_json, "}");
    }
    batch += "]";
    auto r = Exec1(tx,
                   {"campaigns.add_recipients",
                    "WITH ins AS (INSERT INTO campaign_recipients (campaign_id, patient_id, "
                    "appointment_id, phone_e164, variables, next_attempt_at) SELECT $1, (e->>'p')::int, "
                    "(e->>'a')::int, e->>'phone', e->'v', '-infinity' FROM jsonb_array_elements($2::jsonb) "
                    "AS e ON CONFLICT DO NOTHING RETURNING 1) SELECT count(*)::int FROM ins"},
                   campaign_row, batch);
    Added a;
    a.added = r[0].as<int>();
    a.duplicates = static_cast<int>(rows.size()) - a.added;
    return a;
  });
}

absl::StatusOr<CampaignStore::Added> CampaignStore::AddAppointments(
    int64_t campaign_row, absl::Time from, absl::Time to,
    const std::vector<std::string>& statuses) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<Added> {
    auto r = Exec1(
        tx,
        {"campaigns.add_appointments",
         "WITH due AS (SELECT a.id, a.patient_id, p.phone_e164 FROM appointments a JOIN patients "
         "p ON p.id = a.patient_id WHERE a.scheduled_at >= to_timestamp($2::float8) AND "
         "a.scheduled_at < to_timestamp($3::float8) AND a.status = ANY (string_to_array($4, ',')) "
         "AND p.phone_e164 IS NOT NULL AND p.erased_at IS NULL), ins AS (INSERT INTO "
         "campaign_recipients (campaign_id, patient_id, appointment_id, phone_e164, "
         "next_attempt_at) SELECT $1, patient_id, id, phone_e164, '-infinity' FROM due ON CONFLICT DO "
         "NOTHING RETURNING 1) SELECT (SELECT count(*)::int FROM ins), (SELECT count(*)::int FROM "
         "due)"},
        campaign_row, Unix(from), Unix(to), absl::StrJoin(statuses, ","));
    Added a;
    a.added = r[0].as<int>();
    a.duplicates = r[1].as<int>() - a.added;
    return a;
  });
}

absl::StatusOr<std::vector<RecipientRow>> CampaignStore::ListRecipients(int64_t campaign_row,
                                                                        const std::string& state,
                                                                        int64_t after_id,
                                                                        int limit) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx)
                                -> absl::StatusOr<std::vector<RecipientRow>> {
    auto rows = Exec(tx,
                     {"campaigns.list_recipients",
                      "SELECT id, patient_id, appointment_id, phone_e164, state, COALESCE(outcome, "
                      "''), COALESCE(decision_rule, ''), attempts, CASE WHEN "
                      "isfinite(next_attempt_at) THEN extract(epoch from next_attempt_at)::float8 END,  extract(epoch from updated_at)::float8, variables::text FROM "
                      "campaign_recipients WHERE campaign_id = $1 AND ($2 = '' OR state = $2) AND "
                      "id > $3 ORDER BY id LIMIT $4"},
                     campaign_row, state, after_id, limit);
    std::vector<RecipientRow> out;
    for (const auto& r : rows) {
      RecipientRow x;
      x.id = r[0].as<int64_t>();
      x.patient_id = IntOrNull(r[1]);
      x.appointment_id = IntOrNull(r[2]);
      x.phone_e164 = r[3].as<std::string>();
      x.state = r[4].as<std::string>();
      x.outcome = r[5].as<std::string>();
      x.decision_rule = r[6].as<std::string>();
      x.attempts = r[7].as<int>();
      x.next_attempt_at = TimeOrNull(r[8]);
      x.updated_at = TimeOf(r[9]);
      x.variables_json = r[10].as<std::string>();
      out.push_back(std::move(x));
    }
    return out;
  });
}

// ---- the dispatcher --------------------------------------------------------------------------

#define REVIEW_COLUMNS                                                                           \
  "v.id, k.campaign_id::text, v.recipient_id, v.attempt_no, v.reason, COALESCE(c.conversation_id, " \
  "''), r.phone_e164, COALESCE(an.call_successful, ''), COALESCE(an.transcript_summary, ''), "    \
  "r.patient_id, r.appointment_id, extract(epoch from v.created_at)::float8, "                    \
  "COALESCE(v.decision, ''), COALESCE(v.resolved_by, ''), COALESCE(v.note, ''), "                 \
  "extract(epoch from v.resolved_at)::float8 FROM campaign_reviews v JOIN campaigns k ON k.id = " \
  "v.campaign_id JOIN campaign_recipients r ON r.id = v.recipient_id LEFT JOIN "                  \
  "elevenlabs_conversations c ON c.id = v.call_row_id LEFT JOIN elevenlabs_analysis an ON "       \
  "an.conversation_id = c.conversation_id "

namespace {
ReviewRow ReadReview(const pqxx::row& r) {
  ReviewRow x;
  x.id = r[0].as<int64_t>();
  x.campaign_uuid = r[1].as<std::string>();
  x.recipient_id = r[2].as<int64_t>();
  x.attempt_no = r[3].as<int>();
  x.reason = r[4].as<std::string>();
  x.conversation_id = r[5].as<std::string>();
  x.phone_e164 = r[6].as<std::string>();
  x.call_successful = r[7].as<std::string>();
  x.summary = r[8].as<std::string>();
  x.patient_id = IntOrNull(r[9]);
  x.appointment_id = IntOrNull(r[10]);
  x.created_at = TimeOf(r[11]);
  x.decision = r[12].as<std::string>();
  x.resolved_by = r[13].as<std::string>();
  x.note = r[14].as<std::string>();
  x.resolved_at = TimeOrNull(r[15]);
  return x;
}
}  // namespace

absl::StatusOr<std::vector<ReviewRow>> CampaignStore::ListReviews(int64_t campaign_row,
                                                                 const std::string& state,
                                                                 int64_t after_id, int limit) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx)
                                -> absl::StatusOr<std::vector<ReviewRow>> {
    std::vector<ReviewRow> out;
    for (const auto& r : Exec(tx,
                              {"campaigns.list_reviews",
                               "SELECT " REVIEW_COLUMNS
                               "WHERE ($1 = 0 OR v.campaign_id = $1) AND ($2 = 'all' OR ($2 = "
                               "'open') = (v.resolved_at IS NULL)) AND v.id > $3 ORDER BY v.id "
                               "LIMIT $4"},
                              campaign_row, state, after_id, limit))
      out.push_back(ReadReview(r));
    return out;
  });
}

absl::StatusOr<ReviewRow> CampaignStore::ResolveReview(int64_t review_id,
                                                       const std::string& decision,
                                                       const std::string& note,
                                                       const std::string& principal) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<ReviewRow> {
    auto u = Exec(tx,
                  {"campaigns.resolve_review",
                   "UPDATE campaign_reviews SET resolved_at = now(), resolved_by = $2, decision = "
                   "$3, note = NULLIF($4, '') WHERE id = $1 AND resolved_at IS NULL RETURNING "
                   "recipient_id, campaign_id"},
                  review_id, principal, decision, note);
    if (u.empty()) {
      auto was = Exec(tx,
                      {"campaigns.review_state",
                       "SELECT decision, resolved_by FROM campaign_reviews WHERE id = $1"},
                      review_id);
      if (was.empty()) return absl::NotFoundError(Cat("review ", review_id, " not found"));
      return absl::FailedPreconditionError(
          Cat("review ", review_id, " was resolved already (", was[0][0].as<std::string>(),
              ", by ", was[0][1].as<std::string>(), ")"));
    }
    const int64_t recipient = u[0][0].as<int64_t>(), campaign = u[0][1].as<int64_t>();
    if (decision == "confirmed" || decision == "reschedule_requested" || decision == "canceled") {
      const std::string outcome = decision == "canceled" ? "canceled_by_patient" : decision;
      Exec(tx,
           {"campaigns.review_outcome",
            "UPDATE campaign_recipients SET outcome = $2, detail = 'decided by staff on review' "
            "WHERE id = $1 AND state = 'done'"},
           recipient, outcome);
      Exec(tx,
           {"campaigns.review_appointment",
            "UPDATE appointments a SET status = $2, confirmed_at = CASE WHEN $2 = 'confirmed' "
            "THEN now() ELSE a.confirmed_at END FROM campaign_recipients r WHERE r.id = $1 AND "
            "a.id = r.appointment_id AND a.status IN ('scheduled', 'confirmed', "
            "'reschedule_requested') AND a.status <> $2"},
           recipient, decision);
    } else if (decision == "call_again") {
      auto c = Exec(tx,
                    {"campaigns.review_campaign_state",
                     "SELECT state FROM campaigns WHERE id = $1 FOR UPDATE"},
                    campaign);
      const std::string state = c.empty() ? "" : c[0][0].as<std::string>();
      if (state == "canceled" || state == "expired") {
        return absl::FailedPreconditionError(
            Cat("review ", review_id, ": its campaign is ", state,
                "; call the patient with InitiateCall instead"));
      }
      auto again = Exec(tx,
                        {"campaigns.review_call_again",
                         "UPDATE campaign_recipients SET state = 'pending', outcome = NULL, "
                         "next_attempt_at = '-infinity', attempt_limit = attempts + 1, detail = "
                         "'called again on review' WHERE id = $1 AND state = 'done' RETURNING 1"},
                        recipient);
      if (again.empty()) {
        return absl::FailedPreconditionError(
            Cat("review ", review_id, ": its recipient is no longer done (opted out or canceled "
                "since); not called again"));
      }
      Exec(tx,
           {"campaigns.review_reopen",
            "UPDATE campaigns SET state = 'running', state_reason = 'a review asked for another "
            "attempt', finished_at = NULL WHERE id = $1 AND state = 'completed'"},
           campaign);
    }
    auto r = Exec(tx, {"campaigns.review", "SELECT " REVIEW_COLUMNS "WHERE v.id = $1"}, review_id);
    return ReadReview(r[0]);
  });
}

absl::StatusOr<std::vector<std::string>> CampaignStore::AdvanceCampaigns(absl::Time now) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<std::vector<std::string>> {
    std::vector<std::string> changed;
    for (const auto& r : Exec(tx,
                              {"campaigns.start_due",
                               "UPDATE campaigns SET state = 'running', started_at = "
                               "COALESCE(started_at, to_timestamp($1::float8)) WHERE state = "
                               "'scheduled' AND (starts_at IS NULL OR starts_at <= "
                               "to_timestamp($1::float8)) RETURNING campaign_id::text"},
                              Unix(now)))
      changed.push_back(r[0].as<std::string>());
    for (const auto& r : Exec(
             tx,
             {"campaigns.expire_due",
              "WITH e AS (UPDATE campaigns SET state = 'expired', state_reason = 'its end (endsAt) "
              "passed', finished_at = to_timestamp($1::float8) WHERE state IN ('scheduled', "
              "'running', 'paused', 'auto_paused') AND ends_at <= to_timestamp($1::float8) "
              "RETURNING id, campaign_id), r AS (UPDATE campaign_recipients SET state = 'expired', "
              "outcome = 'campaign_expired', next_attempt_at = NULL WHERE campaign_id IN (SELECT id "
              "FROM e) AND state IN ('pending', 'scheduled')) SELECT campaign_id::text FROM e"},
             Unix(now)))
      changed.push_back(r[0].as<std::string>());
    // Recipients whose call-by instant passed (an automated call whose appointment is now too
    // near) end expired, before the completion check below counts them.
    Exec(tx,
         {"campaigns.expire_call_by",
          "UPDATE campaign_recipients SET state = 'expired', outcome = 'call_by_passed', "
          "next_attempt_at = NULL, detail = 'its appointment is nearer than the rule''s lead' "
          "WHERE call_by IS NOT NULL AND state IN ('pending', 'scheduled') AND call_by <= "
          "to_timestamp($1::float8)"},
         Unix(now));
    for (const auto& r : Exec(
             tx,
             {"campaigns.complete_done",
              "UPDATE campaigns c SET state = 'completed', state_reason = NULL, finished_at = "
              "to_timestamp($1::float8) WHERE c.state = 'running' AND EXISTS (SELECT 1 FROM "
              "campaign_recipients r WHERE r.campaign_id = c.id) AND NOT EXISTS (SELECT 1 FROM "
              "campaign_recipients r WHERE r.campaign_id = c.id AND NOT "
              "campaign_recipient_state_is_final(r.state)) RETURNING campaign_id::text"},
             Unix(now)))
      changed.push_back(r[0].as<std::string>());
    return changed;
  });
}

absl::StatusOr<int> CampaignStore::RecoverLeases(absl::Time now) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<int> {
    auto r = Exec(
        tx,
        {"campaigns.recover_leases",
         "WITH stale AS (SELECT r.id, EXISTS (SELECT 1 FROM elevenlabs_conversations v WHERE "
         "v.campaign_recipient_id = r.id AND v.attempt_no = r.attempts) AS placed FROM "
         "campaign_recipients r WHERE r.state = 'dialing' AND r.lease_expires_at < "
         "to_timestamp($1::float8) FOR UPDATE OF r SKIP LOCKED) UPDATE campaign_recipients r SET "
         "state = CASE WHEN s.placed THEN 'in_call' ELSE 'pending' END, attempts = CASE WHEN "
         "s.placed THEN r.attempts ELSE r.attempts - 1 END, next_attempt_at = CASE WHEN s.placed "
         "THEN NULL ELSE to_timestamp($1::float8) END, lease_owner = NULL, lease_expires_at = "
         "NULL, detail = CASE WHEN s.placed THEN r.detail ELSE 'a dispatcher stopped before "
         "dialling; attempt not made' END FROM stale s WHERE r.id = s.id RETURNING 1"},
        Unix(now));
    return static_cast<int>(r.size());
  });
}

absl::StatusOr<std::vector<int64_t>> CampaignStore::RunningCampaigns() {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx)
                                -> absl::StatusOr<std::vector<int64_t>> {
    std::vector<int64_t> out;
    for (const auto& r : Exec(tx, {"campaigns.running",
                                   "SELECT id FROM campaigns WHERE state = 'running' ORDER BY id"}))
      out.push_back(r[0].as<int64_t>());
    return out;
  });
}

absl::StatusOr<std::vector<ClaimedAttempt>> CampaignStore::Claim(int64_t campaign_row,
                                                                 const std::string& owner,
                                                                 const DispatchLimits& limits,
                                                                 absl::Time now) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<std::vector<ClaimedAttempt>> {
    std::vector<ClaimedAttempt> out;
    // One claim at a time across replicas: the in-flight counts and the pace below are read and
    // moved under this lock, so two replicas never both take the last free line.
    Exec(tx, {"campaigns.dispatch_lock",
              "SELECT pg_advisory_xact_lock(hashtextextended('outcall.campaign-dispatch', 0))"});
    auto c = Exec(
        tx,
        {"campaigns.claim_campaign",
         "SELECT campaign_id::text, purpose, agent_id, variables_template::text, max_concurrency, "
         "calls_per_minute, extract(epoch from pace_tat)::float8, (SELECT count(*)::int FROM "
         "campaign_recipients WHERE campaign_id = c.id AND state IN ('dialing', 'in_call')), "
         "(SELECT count(*)::int FROM campaign_recipients WHERE state IN ('dialing', 'in_call')), "
         "(SELECT count(*)::int FROM elevenlabs_conversations WHERE campaign_recipient_id IS NULL "
         "AND status IN ('queued', 'dialing', 'initiated', 'ringing', 'in_progress')), "
         "window_start_minute, window_end_minute, policy_profile_id, policy_profile_version FROM "
         "campaigns c WHERE id = $1 AND state = 'running' AND (ends_at IS NULL OR ends_at > "
         "to_timestamp($2::float8))"},
        campaign_row, Unix(now));
    if (c.empty()) return out;
    const auto& row = c[0];
    // Outside the campaign's daily window nothing is claimed, first attempts included.
    if (!row[10].is_null()) {
      const campaign::DailyWindow window{row[10].as<int>(), row[11].as<int>()};
      if (campaign::IntoWindow(now, window, BogotaZone()) != now) return out;
    }
    const int max_conc = row[4].as<int>(), cpm = row[5].as<int>();
    const int live = row[7].as<int>(), live_campaigns = row[8].as<int>(), adhoc = row[9].as<int>();
    int budget = std::min({max_conc - live,
                           limits.max_concurrent_calls - limits.reserved_calls - live_campaigns,
                           limits.max_concurrent_calls - live_campaigns - adhoc, limits.max_claim});
    if (budget <= 0) return out;
    const absl::Time tat = TimeOrNull(row[6]).value_or(now);
    const campaign::PaceTake pace = campaign::TakePace(tat, now, cpm, budget, limits.burst);
    if (pace.allowed <= 0) return out;
    auto picked = Exec(
        tx,
        {"campaigns.claim",
         "WITH picked AS (SELECT id FROM campaign_recipients WHERE campaign_id = $1 AND state IN "
         "('pending', 'scheduled') AND next_attempt_at <= to_timestamp($4::float8) AND (call_by IS "
         "NULL OR call_by > to_timestamp($4::float8)) ORDER BY next_attempt_at, id LIMIT $2 FOR "
         "UPDATE SKIP LOCKED), u AS (UPDATE campaign_recipients r "
         "SET state = 'dialing', attempts = r.attempts + 1, lease_owner = $3, lease_expires_at = "
         "to_timestamp($4::float8) + make_interval(secs => $5), next_attempt_at = NULL FROM picked "
         "WHERE r.id = picked.id RETURNING r.*) SELECT u.id, u.attempts, u.patient_id, "
         "u.appointment_id, u.phone_e164, u.variables::text, COALESCE(p.full_name, ''), "
         "extract(epoch from a.scheduled_at)::float8 FROM u LEFT JOIN patients p ON p.id = "
         "u.patient_id LEFT JOIN appointments a ON a.id = u.appointment_id ORDER BY u.id"},
        campaign_row, pace.allowed, owner, Unix(now),
        static_cast<double>(absl::ToInt64Seconds(limits.lease)));
    for (const auto& r : picked) {
      ClaimedAttempt a;
      a.campaign_row = campaign_row;
      a.campaign_uuid = row[0].as<std::string>();
      a.purpose = row[1].as<std::string>();
      a.agent_id = row[2].as<std::string>();
      a.variables_template_json = row[3].as<std::string>();
      a.recipient_id = r[0].as<int64_t>();
      a.attempt_no = r[1].as<int>();
      a.patient_id = IntOrNull(r[2]);
      a.appointment_id = IntOrNull(r[3]);
      a.phone_e164 = r[4].as<std::string>();
      a.variables_json = r[5].as<std::string>();
      a.patient_name = r[6].as<std::string>();
      a.appointment_at = TimeOrNull(r[7]);
      if (!row[12].is_null()) {
        a.policy_profile = ProfileRef{row[12].as<std::string>(), row[13].as<int>()};
      }
      out.push_back(std::move(a));
    }
    if (!out.empty()) {
      const campaign::PaceTake used =
          campaign::TakePace(tat, now, cpm, static_cast<int>(out.size()), limits.burst);
      Exec(tx,
           {"campaigns.pace",
            "UPDATE campaigns SET pace_tat = to_timestamp($2::float8) WHERE id = $1"},
           campaign_row, Unix(used.tat));
    }
    return out;
  });
}

absl::Status CampaignStore::MarkInCall(int64_t recipient_id, int attempt_no) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::Status {
    Exec(tx,
         {"campaigns.in_call",
          "UPDATE campaign_recipients SET state = 'in_call', lease_owner = NULL, lease_expires_at = "
          "NULL WHERE id = $1 AND attempts = $2 AND state = 'dialing'"},
         recipient_id, attempt_no);
    return absl::OkStatus();
  });
}

absl::Status CampaignStore::Unclaim(int64_t recipient_id, int attempt_no, const std::string& owner,
                                    absl::Time at, const std::string& detail) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::Status {
    Exec(tx,
         {"campaigns.unclaim",
          "UPDATE campaign_recipients SET state = 'scheduled', attempts = attempts - 1, "
          "next_attempt_at = to_timestamp($4::float8), lease_owner = NULL, lease_expires_at = "
          "NULL, detail = left($5, 500) WHERE id = $1 AND attempts = $2 AND state = 'dialing' AND "
          "lease_owner = $3"},
         recipient_id, attempt_no, owner, Unix(at), detail);
    return absl::OkStatus();
  });
}

absl::StatusOr<bool> CampaignStore::Settle(int64_t recipient_id, int attempt_no,
                                           const std::string& from_state, const std::string& owner,
                                           const AttemptSettlement& s, absl::Time now) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<bool> {
    auto r = Exec1(
        tx,
        {"campaigns.settle",
         "WITH u AS (UPDATE campaign_recipients SET state = $4, outcome = NULLIF($5, ''), "
         "decision_rule = NULLIF($6, ''), detail = NULLIF(left($7, 500), ''), next_attempt_at = "
         "to_timestamp($8::float8), lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND "
         "attempts = $2 AND state = $3 AND ($3 <> 'dialing' OR lease_owner = $9) RETURNING id, "
         "campaign_id), a AS (INSERT INTO campaign_attempts (campaign_id, recipient_id, "
         "attempt_no, call_row_id, outcome, failure, settled_at) SELECT campaign_id, id, $2, $10, "
         "$11, $12, to_timestamp($13::float8) FROM u WHERE $11 <> '' ON CONFLICT DO NOTHING), rv "
         "AS (INSERT INTO campaign_reviews (campaign_id, recipient_id, attempt_no, call_row_id, "
         "reason, created_at) SELECT campaign_id, id, $2, $10, $14, to_timestamp($13::float8) "
         "FROM u WHERE $14 <> '' ON CONFLICT DO NOTHING) SELECT count(*)::int FROM u"},
        recipient_id, attempt_no, from_state, s.state, s.outcome, s.decision_rule, s.detail,
        Unix(s.next_attempt_at), owner, s.call_row, s.attempt_outcome, s.failure, Unix(now),
        s.review);
    return r[0].as<int>() > 0;
  });
}

absl::StatusOr<std::vector<EndedAttempt>> CampaignStore::EndedAttempts(int limit) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx)
                                -> absl::StatusOr<std::vector<EndedAttempt>> {
    auto rows = Exec(
        tx,
        {"campaigns.ended_attempts",
         "SELECT r.campaign_id, r.id, r.attempts, COALESCE(r.attempt_limit, c.max_attempts), v.id, "
         "r.patient_id, r.phone_e164, c.purpose, v.status, COALESCE((SELECT string_agg(d.key, ',') "
         "FROM jsonb_each(an.data_collection_results) AS d WHERE jsonb_typeof(d.value) = 'object' "
         "AND d.value->>'value' = 'true'), ''), an.conversation_id IS NOT NULL, (EXISTS (SELECT 1 "
         "FROM call_opt_outs o WHERE o.phone_e164 = r.phone_e164 OR (r.patient_id IS NOT NULL AND "
         "o.patient_id = r.patient_id)) OR EXISTS (SELECT 1 FROM patients p WHERE p.id = "
         "r.patient_id AND (p.do_not_call OR p.erased_at IS NOT NULL)) OR (SELECT pc.state FROM "
         "patient_consents pc WHERE pc.patient_id = r.patient_id AND pc.purpose = c.purpose AND "
         "pc.channel = 'voice' ORDER BY pc.recorded_at DESC, pc.id DESC LIMIT 1) = 'revoked'), "
         "array_to_string(c.retry_outcomes, ','), array_to_string(c.retry_interval_secs, ','), "
         "c.window_start_minute, c.window_end_minute, extract(epoch from LEAST(c.ends_at, "
         "r.call_by))::float8, "
         "c.state, COALESCE(an.call_successful, ''), c.policy_profile_id, c.policy_profile_version "
         "FROM campaign_recipients r JOIN campaigns c ON "
         "c.id = r.campaign_id JOIN elevenlabs_conversations v ON v.campaign_recipient_id = r.id "
         "AND v.attempt_no = r.attempts LEFT JOIN elevenlabs_analysis an ON an.conversation_id = "
         "v.conversation_id WHERE r.state = 'in_call' AND v.status IN ('completed', 'failed', "
         "'no_answer', 'busy', 'ended_manually', 'canceled') ORDER BY r.updated_at, r.id LIMIT $1"},
        limit);
    std::vector<EndedAttempt> out;
    for (const auto& r : rows) {
      EndedAttempt e;
      e.campaign_row = r[0].as<int64_t>();
      e.recipient_id = r[1].as<int64_t>();
      e.attempt_no = r[2].as<int>();
      e.attempt_limit = r[3].as<int>();
      e.call_row = r[4].as<int64_t>();
      e.patient_id = IntOrNull(r[5]);
      e.phone_e164 = r[6].as<std::string>();
      e.purpose = r[7].as<std::string>();
      e.end.status = r[8].as<std::string>();
      e.end.flags = Words(r[9].as<std::string>());
      e.end.analysed = r[10].as<bool>();
      e.end.stopped = !r[11].is_null() && r[11].as<bool>();
      e.retry.retry_on = Words(r[12].as<std::string>());
      e.retry.intervals_secs = Ints(r[13].as<std::string>());
      e.retry.max_attempts = e.attempt_limit;
      if (!r[14].is_null()) e.window = campaign::DailyWindow{r[14].as<int>(), r[15].as<int>()};
      e.ends_at = TimeOrNull(r[16]);
      e.campaign_state = r[17].as<std::string>();
      e.end.call_successful = r[18].as<std::string>();
      if (!r[19].is_null()) {
        e.policy_profile = ProfileRef{r[19].as<std::string>(), r[20].as<int>()};
      }
      out.push_back(std::move(e));
    }
    return out;
  });
}

absl::StatusOr<std::vector<bool>> CampaignStore::LatestFailures(int64_t campaign_row, int n) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<bool>> {
    std::vector<bool> out;
    for (const auto& r : Exec(tx,
                              {"campaigns.latest_failures",
                               "SELECT failure FROM campaign_attempts WHERE campaign_id = $1 AND "
                               "settled_at > COALESCE((SELECT breaker_reset_at FROM campaigns "
                               "WHERE id = $1), '-infinity') ORDER BY id DESC LIMIT $2"},
                              campaign_row, n))
      out.push_back(r[0].as<bool>());
    return out;
  });
}

absl::StatusOr<bool> CampaignStore::AutoPause(int64_t campaign_row, const std::string& reason) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<bool> {
    return !Exec(tx,
                 {"campaigns.auto_pause",
                  "UPDATE campaigns SET state = 'auto_paused', state_reason = $2 WHERE id = $1 AND "
                  "state = 'running' RETURNING 1"},
                 campaign_row, reason)
                .empty();
  });
}

absl::StatusOr<campaign::BreakerRule> CampaignStore::Breaker(int64_t campaign_row) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<campaign::BreakerRule> {
    auto r = Exec(tx,
                  {"campaigns.breaker",
                   "SELECT breaker_failure_rate::float8, breaker_window, breaker_min_sample FROM "
                   "campaigns WHERE id = $1"},
                  campaign_row);
    if (r.empty()) return absl::NotFoundError(Cat("campaign row ", campaign_row, " not found"));
    return campaign::BreakerRule{r[0][0].as<double>(), r[0][1].as<int>(), r[0][2].as<int>()};
  });
}

absl::StatusOr<bool> CampaignStore::ProfileExists(const ProfileRef& profile) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<bool> {
    return !Exec(tx,
                 {"campaigns.profile_exists",
                  "SELECT 1 FROM contact_policy_profiles WHERE profile_id = $1 AND version = $2"},
                 profile.id, profile.version)
                .empty();
  });
}

}  // namespace outcall::call_gateway
