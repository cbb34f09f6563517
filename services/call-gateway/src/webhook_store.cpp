#include "webhook_store.h"

#include <boost/json.hpp>
#include <map>
#include <pqxx/pqxx>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "outcall/common/pg_time.h"
#include "outcall/common/strings.h"

namespace outcall::call_gateway {

using common::Exec;
using common::Exec1;
using common::PgEpoch;
using common::PgInstant;

namespace {

#define SUB_SELECT                                                                              \
  "SELECT s.id, s.subscription_id::text, s.url, array_to_string(s.event_types, ','), "          \
  "s.full_data, s.description, s.state, COALESCE(s.disabled_reason, ''), extract(epoch from "   \
  "s.disabled_at)::float8, extract(epoch from s.failing_since)::float8, extract(epoch from "     \
  "s.last_success_at)::float8, s.failure_streak, (SELECT count(*) FROM webhook_deliveries d "    \
  "WHERE d.subscription_id = s.id AND d.state = 'pending')::int, COALESCE((SELECT max(version) FROM " \
  "webhook_secrets k WHERE k.subscription_id = s.id), 0), extract(epoch from "                  \
  "s.created_at)::float8 FROM webhook_subscriptions s "

constexpr common::PgStatement kAddSecret{
    "webhooks.add_secret",
    "INSERT INTO webhook_secrets (subscription_id, version, secret) VALUES ($1, COALESCE((SELECT "
    "max(version) FROM webhook_secrets WHERE subscription_id = $1), 0) + 1, $2)"};

SubscriptionRow ReadSub(const pqxx::row& r) {
  SubscriptionRow s;
  s.id = r[0].as<int64_t>();
  s.uuid = r[1].as<std::string>();
  s.url = r[2].as<std::string>();
  s.event_types = absl::StrSplit(r[3].as<std::string>(), ',', absl::SkipEmpty());
  s.full_data = r[4].as<bool>();
  s.description = r[5].as<std::string>();
  s.state = r[6].as<std::string>();
  s.disabled_reason = r[7].as<std::string>();
  s.disabled_at = PgInstant(r[8]);
  s.failing_since = PgInstant(r[9]);
  s.last_success_at = PgInstant(r[10]);
  s.failure_streak = r[11].as<int>();
  s.pending = r[12].as<int>();
  s.secret_version = r[13].as<int>();
  s.created_at = PgInstant(r[14]).value_or(absl::UnixEpoch());
  return s;
}

absl::Status NotFound(const std::string& uuid) {
  return absl::NotFoundError("webhook subscription " + uuid + " not found");
}

// The subscription's row id, locked; NOT_FOUND for a deleted one.
absl::StatusOr<int64_t> Lock(pqxx::transaction_base& tx, const std::string& uuid) {
  auto r = Exec(tx,
                {"webhooks.lock",
                 "SELECT id FROM webhook_subscriptions WHERE subscription_id = $1::uuid AND state "
                 "<> 'deleted' FOR UPDATE"},
                uuid);
  if (r.empty()) return NotFound(uuid);
  return r[0][0].as<int64_t>();
}

SubscriptionRow ById(pqxx::transaction_base& tx, int64_t id) {
  return ReadSub(Exec1(tx, {"webhooks.by_id", SUB_SELECT "WHERE s.id = $1"}, id));
}

}  // namespace

absl::StatusOr<SubscriptionRow> WebhookStore::Create(const SubscriptionRow& s,
                                                     std::string* secret_b64,
                                                     const std::string& created_by,
                                                     const std::string& idem_key,
                                                     const std::string& request_sha256) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<SubscriptionRow> {
    std::optional<std::string> key, sha;
    if (!idem_key.empty()) {
      key = idem_key;
      sha = request_sha256;
    }
    auto ins = Exec(tx,
                    {"webhooks.create",
                     "INSERT INTO webhook_subscriptions (url, event_types, full_data, description, "
                     "created_by, create_key, create_sha256) VALUES ($1, string_to_array($2, ','), "
                     "$3, $4, $5, $6, $7) ON CONFLICT (created_by, create_key) DO NOTHING "
                     "RETURNING id"},
                    s.url, absl::StrJoin(s.event_types, ","), s.full_data, s.description,
                    created_by, key, sha);
    if (!ins.empty()) {
      const int64_t id = ins[0][0].as<int64_t>();
      Exec(tx, kAddSecret, id, *secret_b64);
      return ById(tx, id);
    }
    auto prev = Exec(tx,
                     {"webhooks.by_key",
                      "SELECT s.id, s.create_sha256, s.state, (SELECT k.secret FROM "
                      "webhook_secrets k WHERE k.subscription_id = s.id AND k.expires_at IS NULL) "
                      "FROM webhook_subscriptions s WHERE s.created_by = $1 AND s.create_key = $2"},
                     created_by, idem_key);
    if (prev.empty()) return absl::AbortedError("Idempotency-Key changed; retry");
    if (prev[0][1].as<std::string>() != request_sha256) {
      return absl::AlreadyExistsError(
          "Idempotency-Key was used for another webhook subscription request; use a new key");
    }
    if (prev[0][2].as<std::string>() == "deleted" || prev[0][3].is_null()) {
      return absl::FailedPreconditionError(
          "the subscription this Idempotency-Key created was deleted; use a new key");
    }
    *secret_b64 = prev[0][3].as<std::string>();
    return ById(tx, prev[0][0].as<int64_t>());
  });
}

absl::StatusOr<std::vector<SubscriptionRow>> WebhookStore::List() {
  return pool_.InAutocommit(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<SubscriptionRow>> {
        std::vector<SubscriptionRow> out;
        for (const auto& r : Exec(tx, {"webhooks.list", SUB_SELECT
                                       "WHERE s.state <> 'deleted' ORDER BY s.id LIMIT 1000"})) {
          out.push_back(ReadSub(r));
        }
        return out;
      });
}

absl::StatusOr<SubscriptionRow> WebhookStore::Get(const std::string& uuid) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<SubscriptionRow> {
    auto r = Exec(tx,
                  {"webhooks.get",
                   SUB_SELECT "WHERE s.subscription_id = $1::uuid AND s.state <> 'deleted'"},
                  uuid);
    if (r.empty()) return NotFound(uuid);
    return ReadSub(r[0]);
  });
}

absl::StatusOr<SubscriptionRow> WebhookStore::Update(const std::string& uuid,
                                                     const SubscriptionChange& c, absl::Time now) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<SubscriptionRow> {
    auto id = Lock(tx, uuid);
    if (!id.ok()) return id.status();
    std::optional<std::string> types;
    if (c.event_types) types = absl::StrJoin(*c.event_types, ",");
    auto was = Exec1(tx,
                     {"webhooks.update",
                      "WITH old AS (SELECT state FROM webhook_subscriptions WHERE id = $1) UPDATE "
                      "webhook_subscriptions s SET url = COALESCE($2, s.url), event_types = "
                      "COALESCE(string_to_array($3, ','), s.event_types), full_data = "
                      "COALESCE($4, s.full_data), description = COALESCE($5, s.description), "
                      "state = CASE WHEN $6::boolean IS NULL THEN s.state WHEN $6 THEN 'active' "
                      "ELSE 'disabled' END, disabled_at = CASE WHEN $6::boolean IS NULL THEN "
                      "s.disabled_at WHEN $6 THEN NULL ELSE COALESCE(s.disabled_at, "
                      "to_timestamp($7::float8)) END, disabled_reason = CASE WHEN $6::boolean IS "
                      "NULL THEN s.disabled_reason WHEN $6 THEN NULL WHEN s.state = 'disabled' "
                      "THEN s.disabled_reason ELSE 'disabled by hand' END, failure_streak = CASE "
                      "WHEN $6 THEN 0 ELSE s.failure_streak END, failing_since = CASE WHEN $6 "
                      "THEN NULL ELSE s.failing_since END FROM old WHERE s.id = $1 RETURNING "
                      "old.state"},
                     *id, c.url, types, c.full_data, c.description, c.enabled, PgEpoch(now));
    if (c.enabled && *c.enabled && was[0].as<std::string>() == "disabled") {
      Exec(tx,
           {"webhooks.requeue_held",
            "UPDATE webhook_deliveries SET round_base = attempts, queued_at = "
            "to_timestamp($2::float8), next_attempt_at = to_timestamp($2::float8), lease_owner = "
            "NULL, lease_expires_at = NULL WHERE subscription_id = $1 AND state = 'pending'"},
           *id, PgEpoch(now));
    }
    return ById(tx, *id);
  });
}

absl::StatusOr<SubscriptionRow> WebhookStore::Rotate(const std::string& uuid,
                                                     const std::string& secret_b64,
                                                     absl::Time previous_until) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<SubscriptionRow> {
    auto id = Lock(tx, uuid);
    if (!id.ok()) return id.status();
    // Older previous secrets stop at once; the current one signs until previous_until.
    Exec(tx,
         {"webhooks.expire_old",
          "DELETE FROM webhook_secrets WHERE subscription_id = $1 AND expires_at IS NOT NULL"},
         *id);
    Exec(tx,
         {"webhooks.expire_current",
          "UPDATE webhook_secrets SET expires_at = to_timestamp($2::float8) WHERE "
          "subscription_id = $1 AND expires_at IS NULL"},
         *id, PgEpoch(previous_until));
    Exec(tx, kAddSecret, *id, secret_b64);
    return ById(tx, *id);
  });
}

absl::Status WebhookStore::Delete(const std::string& uuid) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
    auto id = Lock(tx, uuid);
    if (!id.ok()) return id.status();
    Exec(tx,
         {"webhooks.delete",
          "UPDATE webhook_subscriptions SET state = 'deleted', disabled_at = NULL, "
          "disabled_reason = NULL WHERE id = $1"},
         *id);
    Exec(tx, {"webhooks.delete_secrets", "DELETE FROM webhook_secrets WHERE subscription_id = $1"},
         *id);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<DeliveryRow>> WebhookStore::Deliveries(const std::string& uuid,
                                                                  const std::string& state,
                                                                  const std::string& event_id,
                                                                  int64_t before_id, int limit) {
  return pool_.InAutocommit(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<DeliveryRow>> {
        auto sub = Exec(tx,
                        {"webhooks.row_of",
                         "SELECT id FROM webhook_subscriptions WHERE subscription_id = $1::uuid "
                         "AND state <> 'deleted'"},
                        uuid);
        if (sub.empty()) return NotFound(uuid);
        std::vector<DeliveryRow> out;
        std::map<int64_t, size_t> at;
        for (const auto& r : Exec(
                 tx,
                 {"webhooks.deliveries",
                  "SELECT d.id, e.event_id, e.event_type, d.subject, d.state, d.attempts, "
                  "extract(epoch from d.next_attempt_at)::float8, extract(epoch from "
                  "d.delivered_at)::float8, extract(epoch from e.created_at)::float8 FROM "
                  "webhook_deliveries d JOIN webhook_events e ON e.id = d.event_row WHERE "
                  "d.subscription_id = $1 AND ($2 = '' OR d.state = $2) AND ($3 = '' OR "
                  "e.event_id = $3) AND ($4 = 0 OR d.id < $4) ORDER BY d.id DESC LIMIT $5"},
                 sub[0][0].as<int64_t>(), state, event_id, before_id, limit)) {
          DeliveryRow d;
          d.id = r[0].as<int64_t>();
          d.event_id = r[1].as<std::string>();
          d.event_type = r[2].as<std::string>();
          d.subject = r[3].as<std::string>();
          d.state = r[4].as<std::string>();
          d.attempts = r[5].as<int>();
          if (d.state == "pending") d.next_attempt_at = PgInstant(r[6]);
          d.delivered_at = PgInstant(r[7]);
          d.created_at = PgInstant(r[8]).value_or(absl::UnixEpoch());
          at[d.id] = out.size();
          out.push_back(std::move(d));
        }
        if (out.empty()) return out;
        std::string ids;
        for (const auto& d : out) ids += (ids.empty() ? "" : ",") + std::to_string(d.id);
        for (const auto& r : Exec(
                 tx,
                 {"webhooks.attempts",
                  "SELECT delivery_id, attempt, extract(epoch from at)::float8, http_status, "
                  "COALESCE(error, ''), duration_ms FROM webhook_attempts WHERE delivery_id = ANY "
                  "(string_to_array($1, ',')::bigint[]) ORDER BY delivery_id, attempt"},
                 ids)) {
          AttemptRow a;
          a.attempt = r[1].as<int>();
          a.at = PgInstant(r[2]).value_or(absl::UnixEpoch());
          a.http_status = r[3].as<int>();
          a.error = r[4].as<std::string>();
          a.duration_ms = r[5].as<int>();
          out[at[r[0].as<int64_t>()]].log.push_back(std::move(a));
        }
        return out;
      });
}

absl::StatusOr<int> WebhookStore::Replay(const std::string& uuid, const std::string& event_id,
                                         std::optional<absl::Time> from,
                                         std::optional<absl::Time> to, absl::Time now) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<int> {
    auto id = Lock(tx, uuid);
    if (!id.ok()) return id.status();
    auto r = Exec1(
        tx,
        {"webhooks.replay",
         "WITH ev AS (SELECT e.id, e.subject FROM webhook_events e, webhook_subscriptions s WHERE "
         "s.id = $1 AND e.event_type = ANY (s.event_types) AND ($2 = '' OR e.event_id = $2) AND "
         "($3::float8 IS NULL OR e.created_at >= to_timestamp($3::float8)) AND ($4::float8 IS "
         "NULL OR e.created_at < to_timestamp($4::float8))), q AS (INSERT INTO "
         "webhook_deliveries AS d (subscription_id, event_row, subject, queued_at, "
         "next_attempt_at) SELECT $1, ev.id, ev.subject, to_timestamp($5::float8), "
         "to_timestamp($5::float8) FROM ev ON CONFLICT (subscription_id, event_row) DO UPDATE SET "
         "state = 'pending', delivered_at = NULL, round_base = d.attempts, queued_at = "
         "EXCLUDED.queued_at, next_attempt_at = EXCLUDED.next_attempt_at, lease_owner = NULL, "
         "lease_expires_at = NULL RETURNING 1) SELECT count(*)::int FROM q"},
        *id, event_id, PgEpoch(from), PgEpoch(to), PgEpoch(now));
    return r[0].as<int>();
  });
}

absl::StatusOr<std::vector<EventRow>> WebhookStore::Events(const std::string& type,
                                                           std::optional<absl::Time> since,
                                                           int64_t before_id, int limit) {
  return pool_.InAutocommit(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<EventRow>> {
        std::vector<EventRow> out;
        for (const auto& r : Exec(
                 tx,
                 {"webhooks.events",
                  "SELECT id, event_id, event_type, subject, webhook_data_masked(data)::text, "
                  "extract(epoch from created_at)::float8 FROM webhook_events WHERE ($1 = '' OR "
                  "event_type = $1) AND ($2::float8 IS NULL OR created_at >= "
                  "to_timestamp($2::float8)) AND ($3 = 0 OR id < $3) ORDER BY id DESC LIMIT $4"},
                 type, PgEpoch(since), before_id, limit)) {
          EventRow e;
          e.id = r[0].as<int64_t>();
          e.event_id = r[1].as<std::string>();
          e.event_type = r[2].as<std::string>();
          e.subject = r[3].as<std::string>();
          e.data_json = r[4].as<std::string>();
          e.created_at = PgInstant(r[5]).value_or(absl::UnixEpoch());
          out.push_back(std::move(e));
        }
        return out;
      });
}

absl::StatusOr<std::vector<DueDelivery>> WebhookStore::Claim(const std::string& owner,
                                                             absl::Time now, int limit,
                                                             absl::Duration lease) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<std::vector<DueDelivery>> {
    std::vector<DueDelivery> out;
    // Only the oldest pending delivery of a (subscription, subject) is ever sent: a later event
    // about the same call or appointment waits until the earlier one is delivered or given up.
    for (const auto& r : Exec(
             tx,
             {"webhooks.claim",
              "WITH heads AS (SELECT d.id FROM webhook_deliveries d JOIN webhook_subscriptions s "
              "ON s.id = d.subscription_id WHERE d.state = 'pending' AND s.state = 'active' AND "
              "d.next_attempt_at <= to_timestamp($1::float8) AND (d.lease_expires_at IS NULL OR "
              "d.lease_expires_at < to_timestamp($1::float8)) AND d.event_row = (SELECT e.event_row "
              "FROM webhook_deliveries e WHERE e.subscription_id = d.subscription_id AND "
              "e.subject = d.subject AND e.state NOT IN ('delivered', 'failed') ORDER BY "
              "e.event_row LIMIT 1) ORDER BY "
              "d.next_attempt_at, d.id LIMIT $2 FOR UPDATE OF d SKIP LOCKED), u AS (UPDATE "
              "webhook_deliveries d SET attempts = d.attempts + 1, lease_owner = $3, "
              "lease_expires_at = to_timestamp($1::float8) + make_interval(secs => $4) FROM heads "
              "WHERE d.id = heads.id RETURNING d.id, d.subscription_id, d.event_row, d.attempts, "
              "d.round_base, d.queued_at) SELECT u.id, u.subscription_id, u.attempts, "
              "u.attempts - u.round_base, extract(epoch from u.queued_at)::float8, s.url, "
              "e.event_id, e.event_type, extract(epoch from e.created_at)::float8, CASE WHEN "
              "s.full_data THEN e.data ELSE webhook_data_masked(e.data) END::text, (SELECT "
              "string_agg(k.secret, ' ' ORDER BY k.version DESC) FROM webhook_secrets k WHERE "
              "k.subscription_id = s.id AND (k.expires_at IS NULL OR k.expires_at > "
              "to_timestamp($1::float8))) FROM u JOIN webhook_subscriptions s ON s.id = "
              "u.subscription_id JOIN webhook_events e ON e.id = u.event_row ORDER BY u.id"},
             PgEpoch(now), limit, owner, absl::ToDoubleSeconds(lease))) {
      DueDelivery d;
      d.id = r[0].as<int64_t>();
      d.subscription_row = r[1].as<int64_t>();
      d.attempt = r[2].as<int>();
      d.round_attempt = r[3].as<int>();
      d.queued_at = PgInstant(r[4]).value_or(now);
      d.url = r[5].as<std::string>();
      d.event_id = r[6].as<std::string>();
      d.event_type = r[7].as<std::string>();
      d.event_at = PgInstant(r[8]).value_or(now);
      d.data_json = r[9].as<std::string>();
      if (!r[10].is_null()) {
        d.secrets = absl::StrSplit(r[10].as<std::string>(), ' ', absl::SkipEmpty());
      }
      out.push_back(std::move(d));
    }
    return out;
  });
}

absl::Status WebhookStore::Release(const std::string& owner, const std::vector<int64_t>& ids) {
  if (ids.empty()) return absl::OkStatus();
  std::string list;
  for (int64_t id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::Status {
    Exec(tx,
         {"webhooks.release",
          "UPDATE webhook_deliveries SET lease_owner = NULL, lease_expires_at = NULL, attempts = "
          "attempts - 1 WHERE id = ANY (string_to_array($1, ',')::bigint[]) AND lease_owner = $2 "
          "AND state = 'pending'"},
         list, owner);
    return absl::OkStatus();
  });
}

absl::Status WebhookStore::Complete(const std::string& owner,
                                    const std::vector<DeliveryResult>& results,
                                    const DisablePolicy& disable, absl::Time now) {
  if (results.empty()) return absl::OkStatus();
  boost::json::array batch;
  batch.reserve(results.size());
  for (const DeliveryResult& r : results) {
    boost::json::object o{{"id", r.id},
                          {"attempt", r.attempt},
                          {"ok", r.ok},
                          {"status", r.http_status},
                          {"ms", r.duration_ms},
                          {"at", PgEpoch(r.at)},
                          {"give_up", r.give_up}};
    if (!r.error.empty()) o["error"] = r.error;
    if (r.next_attempt_at) o["next"] = PgEpoch(*r.next_attempt_at);
    batch.push_back(std::move(o));
  }
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
    Exec(tx,
         {"webhooks.complete",
          "WITH r AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(id bigint, attempt int, ok "
          "boolean, status int, ms int, at float8, give_up boolean, error text, next float8)), "
          "upd AS (UPDATE webhook_deliveries d SET state = CASE WHEN r.ok THEN 'delivered' WHEN "
          "r.give_up THEN 'failed' ELSE 'pending' END, delivered_at = CASE WHEN r.ok THEN "
          "to_timestamp(r.at) END, next_attempt_at = COALESCE(to_timestamp(r.next), "
          "d.next_attempt_at), lease_owner = NULL, lease_expires_at = NULL FROM r WHERE d.id = "
          "r.id AND d.lease_owner = $2 AND d.attempts = r.attempt RETURNING d.id, "
          "d.subscription_id, r.ok, r.attempt, r.status, r.error, r.ms, r.at), log AS (INSERT "
          "INTO webhook_attempts (delivery_id, attempt, at, http_status, error, duration_ms) "
          "SELECT id, attempt, to_timestamp(at), status, error, ms FROM upd ON CONFLICT DO "
          "NOTHING), subs AS (SELECT subscription_id, bool_or(ok) AS any_ok, count(*) FILTER "
          "(WHERE NOT ok)::int AS fails, max(at) AS last_at, (array_agg(COALESCE(error, 'HTTP ' "
          "|| status) ORDER BY at DESC) FILTER (WHERE NOT ok))[1] AS last_error FROM upd GROUP BY "
          "subscription_id) UPDATE webhook_subscriptions s SET failure_streak = CASE WHEN "
          "subs.any_ok THEN 0 ELSE s.failure_streak + subs.fails END, failing_since = CASE WHEN "
          "subs.any_ok THEN NULL ELSE COALESCE(s.failing_since, to_timestamp($5::float8)) END, "
          "last_success_at = CASE WHEN subs.any_ok THEN to_timestamp(subs.last_at) ELSE "
          "s.last_success_at END, state = CASE WHEN s.state = 'active' AND NOT subs.any_ok AND "
          "s.failure_streak + subs.fails >= $3 AND COALESCE(s.failing_since, "
          "to_timestamp($5::float8)) <= to_timestamp($5::float8) - make_interval(secs => $4) "
          "THEN 'disabled' ELSE s.state END, disabled_at = CASE WHEN s.state = 'active' AND NOT "
          "subs.any_ok AND s.failure_streak + subs.fails >= $3 AND COALESCE(s.failing_since, "
          "to_timestamp($5::float8)) <= to_timestamp($5::float8) - make_interval(secs => $4) "
          "THEN to_timestamp($5::float8) ELSE s.disabled_at END, disabled_reason = CASE WHEN "
          "s.state = 'active' AND NOT subs.any_ok AND s.failure_streak + subs.fails >= $3 AND "
          "COALESCE(s.failing_since, to_timestamp($5::float8)) <= to_timestamp($5::float8) - "
          "make_interval(secs => $4) THEN 'failing since ' || to_char(COALESCE(s.failing_since, "
          "to_timestamp($5::float8)) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') || ': "
          "' || (s.failure_streak + subs.fails) || ' consecutive failed attempts, the last: ' || "
          "subs.last_error ELSE s.disabled_reason END FROM subs WHERE s.id = "
          "subs.subscription_id"},
         boost::json::serialize(batch), owner, disable.min_failures,
         absl::ToDoubleSeconds(disable.failing_for), PgEpoch(now));
    return absl::OkStatus();
  });
}

}  // namespace outcall::call_gateway
