#include "call_store.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <boost/json.hpp>
#include <map>
#include <pqxx/pqxx>
#include <set>

#include "absl/strings/str_join.h"
#include "outcall/common/crypto.h"
#include "outcall/common/logging.h"
#include "outcall/common/status.h"
#include "outcall/common/strings.h"

namespace outcall::call_gateway {

bool IsFinalStatus(std::string_view s) {
  return s == "completed" || s == "failed" || s == "no_answer" || s == "busy" ||
         s == "ended_manually" || s == "canceled";
}

using common::Cat;
using common::Exec;
using common::Exec1;

namespace {

// The columns ReadCall reads, spliced into statements (a macro: statements are literals).
#define CALL_COLUMNS                                                                             \
  "id, call_id::text, COALESCE(conversation_id, ''), COALESCE(call_sid, ''), status, agent_id, " \
  "phone_number, COALESCE(extract(epoch FROM dial_attempted_at)::bigint, 0), "                   \
  "extract(epoch FROM created_at)::bigint, COALESCE(max_duration_secs, 600)"

CallRow ReadCall(const pqxx::row& r) {
  CallRow c;
  c.id = r[0].as<int64_t>();
  c.call_id = r[1].as<std::string>();
  c.conversation_id = r[2].as<std::string>();
  c.call_sid = r[3].as<std::string>();
  c.status = r[4].as<std::string>();
  c.agent_id = r[5].as<std::string>();
  c.phone_number = r[6].as<std::string>();
  c.dial_attempted_unix = r[7].as<int64_t>();
  c.created_unix = r[8].as<int64_t>();
  c.max_duration_secs = r[9].as<int>();
  return c;
}

PatientRow ReadPatient(const pqxx::row& r) {
  return PatientRow{r[0].as<int>(), r[1].as<std::string>(),
                    r[2].is_null() ? "" : r[2].as<std::string>(), r[3].as<bool>()};
}

// An instant as PostgreSQL's to_timestamp takes it (microseconds kept).
double UnixSeconds(absl::Time t) {
  return t == absl::Time() ? 0.0 : static_cast<double>(absl::ToUnixMicros(t)) / 1e6;
}

bool IsUuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out.empty() ? "{}" : out;
}

// The transcript as [{role, message (null for a tool-only turn), time_in_call_secs,
// tool_calls (null when none), interrupted}, ...].
boost::json::array Turns(const v1::PostCallTranscription& t) {
  boost::json::array turns;
  turns.reserve(t.transcript_size());
  for (const auto& item : t.transcript()) {
    boost::json::object turn;
    // A turn without a role is kept, as "unknown"; any role sent is data (migration 0008).
    turn["role"] = item.role().empty() ? std::string("unknown") : item.role();
    turn["message"] = item.has_message() ? boost::json::value(item.message()) : nullptr;
    turn["time_in_call_secs"] = item.time_in_call_secs();
    turn["tool_calls"] = item.tool_calls().values_size() > 0
                             ? boost::json::parse(ToJson(item.tool_calls()))
                             : boost::json::value(nullptr);
    turn["interrupted"] = item.interrupted();
    turns.push_back(std::move(turn));
  }
  return turns;
}

std::string StatusForFailure(const std::string& reason) {
  if (reason == "busy") return "busy";
  if (reason == "no-answer") return "no_answer";
  return "failed";
}

const char* EventTypeName(v1::EventType t) {
  switch (t) {
    case v1::EVENT_TYPE_POST_CALL_TRANSCRIPTION:
      return "post_call_transcription";
    case v1::EVENT_TYPE_POST_CALL_AUDIO:
      return "post_call_audio";
    case v1::EVENT_TYPE_CALL_INITIATION_FAILURE:
      return "call_initiation_failure";
    default:
      return "";
  }
}

// Calls whose transcription says their conversation has audio ([{"row", "conv"}, ...]) need
// their recording until one is stored (migration 0010); one already stored needs nothing.
void RecordAudioNeeds(pqxx::work& tx, const boost::json::array& needs) {
  if (needs.empty()) return;
  Exec(tx,
       {"call_gateway.audio_needs_record",
        "INSERT INTO call_audio_recovery (call_row_id) SELECT b.row FROM "
        "jsonb_to_recordset($1::jsonb) AS b(row bigint, conv text) WHERE NOT EXISTS (SELECT 1 "
        "FROM elevenlabs_audio a WHERE a.conversation_id = b.conv) ON CONFLICT (call_row_id) DO "
        "NOTHING"},
       boost::json::serialize(needs));
}

// A call whose status did not move, as it is now.
StatusChange Unchanged(pqxx::transaction_base& tx, int64_t row, std::string_view cause) {
  auto cur = Exec1(
      tx,
      {"call_gateway.call_status_read",
       "SELECT COALESCE(conversation_id, ''), call_id::text, status FROM elevenlabs_conversations "
       "WHERE id = $1"},
      row);
  StatusChange ch;
  ch.cause = std::string(cause);
  ch.conversation_id = cur[0].as<std::string>();
  ch.call_id = cur[1].as<std::string>();
  ch.status = ch.previous_status = cur[2].as<std::string>();
  return ch;
}

// The status move in one transaction (no-op when not a forward move).
StatusChange Advance(pqxx::work& tx, int64_t row, std::string_view to, std::string_view cause) {
  auto r =
      Exec(tx,
           {"call_gateway.call_status_advance",
            "WITH old AS (SELECT status FROM elevenlabs_conversations WHERE id = $1 FOR UPDATE) "
            "UPDATE elevenlabs_conversations c SET status = $2 FROM old "
            "WHERE c.id = $1 AND call_status_can_transition(old.status, $2) "
            "RETURNING COALESCE(c.conversation_id, ''), c.call_id::text, old.status"},
           row, std::string(to));
  if (r.empty()) return Unchanged(tx, row, cause);
  StatusChange ch;
  ch.cause = std::string(cause);
  ch.conversation_id = r[0][0].as<std::string>();
  ch.call_id = r[0][1].as<std::string>();
  ch.previous_status = r[0][2].as<std::string>();
  ch.status = std::string(to);
  return ch;
}

// The message is masked (phone numbers) as a last line of defence: provider and webhook texts
// echo what they were sent, and this table is read back by GetConversation and the stats API.
void InsertError(pqxx::work& tx, int64_t row, const std::string& conversation_id,
                 const ProviderErrorRecord& e) {
  Exec(tx,
       {"call_gateway.call_error_insert",
        "INSERT INTO elevenlabs_call_errors (call_row_id, conversation_id, source, error_code, "
        "http_status, message) "
        "VALUES ($1, NULLIF($2, ''), $3, NULLIF($4, ''), NULLIF($5, 0), $6)"},
       row, conversation_id, e.source, e.code, e.http_status,
       e.message.empty() ? std::string("unknown error") : common::RedactPhones(e.message));
}

// Completes the in_progress keys of a call that ElevenLabs accepted (conversation id known).
void CompleteKeysInitiated(pqxx::transaction_base& tx, int64_t row,
                           const std::string& conversation_id, const std::string& call_id) {
  Exec(tx,
       {"call_gateway.keys_complete_initiated",
        "UPDATE idempotency_keys SET state = 'completed', grpc_code = 0, response = $2::jsonb "
        "WHERE call_row_id = $1 AND state = 'in_progress'"},
       row, MessageJson(InitiatedResponse(conversation_id, call_id)));
}

// What an unexpired key holds: nullopt when unused, ALREADY_EXISTS when it was used with another
// request (BeginCall's replay and FindKey).
absl::StatusOr<std::optional<IdempotencyHit>> ReadKey(pqxx::transaction_base& tx,
                                                      const std::string& principal,
                                                      const std::string& idem_key,
                                                      const std::string& request_sha256) {
  auto r = Exec(tx,
                {"call_gateway.key_find",
                 "SELECT request_sha256, state, COALESCE(grpc_code, 0), "
                 "COALESCE(response::text, '{}') FROM idempotency_keys WHERE scope = "
                 "'InitiateCall' AND principal = $1 AND idem_key = $2 AND expires_at > now()"},
                principal, idem_key);
  if (r.empty()) return std::optional<IdempotencyHit>();
  if (r[0][0].as<std::string>() != request_sha256) {
    return absl::AlreadyExistsError(
        "Idempotency-Key was already used with a different request; use a new key for a new "
        "call");
  }
  return std::optional<IdempotencyHit>(IdempotencyHit{
      r[0][1].as<std::string>() == "in_progress", r[0][2].as<int>(), r[0][3].as<std::string>()});
}

}  // namespace

v1::InitiateCallResponse InitiatedResponse(const std::string& conversation_id,
                                           const std::string& call_id) {
  v1::InitiateCallResponse resp;
  resp.set_success(true);
  resp.set_message("Llamada iniciada exitosamente");
  auto* d = resp.mutable_data();
  d->set_success(true);
  d->set_conversation_id(conversation_id);
  d->set_call_id(call_id);
  d->set_status("initiated");
  return resp;
}

std::string MessageJson(const google::protobuf::Message& m) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out);
  return out;
}

absl::StatusOr<std::optional<PatientRow>> CallStore::FindPatient(int id) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx)
                                -> absl::StatusOr<std::optional<PatientRow>> {
    auto r = Exec(
        tx,
        {"call_gateway.patient_by_id",
         "SELECT id, COALESCE(full_name, ''), phone_e164, do_not_call FROM patients WHERE id = $1"},
        id);
    if (r.empty()) return std::optional<PatientRow>();
    return std::optional<PatientRow>(ReadPatient(r[0]));
  });
}

absl::StatusOr<std::optional<PatientRow>> CallStore::FindPatientByPhone(const std::string& e164) {
  return pool_.InAutocommit(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<PatientRow>> {
        auto r =
            Exec(tx,
                 {"call_gateway.patient_by_phone",
                  "SELECT id, COALESCE(full_name, ''), phone_e164, do_not_call FROM patients WHERE "
                  "phone_e164 = $1 ORDER "
                  "BY id LIMIT 2"},
                 e164);
        if (r.size() != 1) return std::optional<PatientRow>();  // none, or ambiguous: no guess
        return std::optional<PatientRow>(ReadPatient(r[0]));
      });
}

absl::StatusOr<std::optional<int>> CallStore::AppointmentPatient(int appointment_id) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<int>> {
    auto r = Exec(
        tx,
        {"call_gateway.appointment_patient", "SELECT patient_id FROM appointments WHERE id = $1"},
        appointment_id);
    if (r.empty()) return std::optional<int>();
    return std::optional<int>(r[0][0].as<int>());
  });
}

absl::StatusOr<bool> CallStore::IsOptedOut(const std::string& e164, std::optional<int> patient_id) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<bool> {
    auto r = Exec1(
        tx,
        {"call_gateway.opted_out",
         "SELECT EXISTS (SELECT 1 FROM call_opt_outs WHERE phone_e164 = $1 OR (patient_id IS NOT "
         "NULL AND patient_id = $2)) "
         "OR EXISTS (SELECT 1 FROM patients WHERE id = $2 AND do_not_call)"},
        e164, patient_id);
    return r[0].as<bool>();
  });
}

absl::StatusOr<CallStore::Begin> CallStore::BeginCall(const NewCall& call,
                                                      const std::string& principal,
                                                      const std::string& idem_key,
                                                      const std::string& request_sha256) {
  auto begin = [&](pqxx::transaction_base& tx) -> absl::StatusOr<Begin> {
    Begin out;
    if (call.one_live_contact) {
      // Held to the end of the transaction: a second call for the same number or patient waits
      // here and then sees the first one live. Always the number first, then the patient, so
      // two callers never wait on each other.
      // Three statements: in READ COMMITTED each statement sees what was committed when it
      // began, so the look-up must begin after the locks were granted.
      Exec(tx,
           {"call_gateway.contact_lock_phone",
            "SELECT pg_advisory_xact_lock(hashtextextended('outcall.contact.phone:' || $1, 0))"},
           call.phone_number);
      if (call.patient_id) {
        Exec(tx,
             {"call_gateway.contact_lock_patient",
              "SELECT pg_advisory_xact_lock(hashtextextended('outcall.contact.patient:' || "
              "$1::text, 0))"},
             *call.patient_id);
      }
      auto live = Exec(tx,
                       {"call_gateway.contact_live_call",
                        "SELECT call_id::text FROM elevenlabs_conversations WHERE (phone_number = "
                        "$1 OR patient_id = $2) AND status IN ('queued', 'dialing', 'initiated', "
                        "'ringing', 'in_progress') LIMIT 1"},
                       call.phone_number, call.patient_id);
      if (!live.empty()) {
        out.live_contact = live[0][0].as<std::string>();
        return out;
      }
    }
    if (!idem_key.empty()) {
      auto claimed =
          Exec(tx,
               {"call_gateway.key_claim",
                "INSERT INTO idempotency_keys (scope, principal, idem_key, request_sha256, state, "
                "expires_at) "
                "VALUES ('InitiateCall', $1, $2, $3, 'in_progress', now() + interval '24 hours') "
                "ON CONFLICT (scope, principal, idem_key) DO UPDATE SET request_sha256 = "
                "EXCLUDED.request_sha256, "
                "  state = 'in_progress', response = NULL, grpc_code = NULL, call_row_id = NULL, "
                "created_at = now(), "
                "  expires_at = EXCLUDED.expires_at WHERE idempotency_keys.expires_at <= now() "
                "RETURNING 1"},
               principal, idem_key, request_sha256);
      if (claimed.empty()) {
        // Not claimed: the key holds an unexpired answer (the claim's WHERE saw it, and now()
        // is the same in this transaction), so the look-up finds it.
        auto prev = ReadKey(tx, principal, idem_key, request_sha256);
        if (!prev.ok()) return prev.status();
        if (!prev->has_value()) return absl::AbortedError("Idempotency-Key changed; retry");
        out.replay = **prev;
        return out;
      }
    }
    // ON CONFLICT DO NOTHING covers the partial unique index "one live call per phone and
    // appointment": no row back means such a call exists.
    // The decision that allowed the call goes in with it (one statement: a call never exists
    // without the decision that let it leave).
    const DecisionRecord none;
    const DecisionRecord& d = call.decision ? *call.decision : none;
    auto r = Exec(
        tx,
        {"call_gateway.call_insert",
         "WITH c AS (INSERT INTO elevenlabs_conversations (agent_id, "
         "agent_phone_number_id, patient_id, appointment_id, "
         "phone_number, patient_name, status, custom_variables, metadata, "
         "max_duration_secs, dial_attempted_at, contact_purpose, campaign_recipient_id, "
         "attempt_no, call_id) "
         "VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''), 'dialing', $7::jsonb, "
         "$8::jsonb, $9, now(), $10, $19, $20, COALESCE($21::uuid, gen_random_uuid())) "
         "ON CONFLICT DO NOTHING RETURNING *), "
         "d AS (INSERT INTO policy_decisions (call_row_id, patient_id, purpose, channel, "
         "decided_at, allowed, rule, profile_id, profile_version, override_reason, decided_for, "
         "record) SELECT c.id, c.patient_id, c.contact_purpose, $11, to_timestamp($12::float8), "
         "true, NULLIF($13, ''), $14, $15, NULLIF($16, ''), $17, $18::jsonb FROM c WHERE $14 <> "
         "'') "
         "SELECT " CALL_COLUMNS " FROM c"},
        call.agent_id, call.agent_phone_number_id, call.patient_id, call.appointment_id,
        call.phone_number, call.patient_name, call.custom_variables_json, call.metadata_json,
        call.max_duration_secs, call.purpose, d.channel.empty() ? std::string("voice") : d.channel,
        UnixSeconds(d.decided_at), d.rule, d.profile_id, d.profile_version, d.override_reason,
        d.decided_for, d.record_json.empty() ? std::string("{}") : d.record_json,
        call.attempt ? std::optional<int64_t>(call.attempt->recipient_id) : std::nullopt,
        call.attempt ? std::optional<int>(call.attempt->attempt_no) : std::nullopt,
        call.attempt ? std::optional<std::string>(call.attempt->call_id) : std::nullopt);
    if (r.empty() && call.attempt) {
      // The attempt was begun before (another replica, or this one before a restart): its call
      // is the attempt's, and nothing is dialled again.
      auto begun = Exec(tx,
                        {"call_gateway.attempt_call",
                         "SELECT " CALL_COLUMNS " FROM elevenlabs_conversations WHERE "
                         "campaign_recipient_id = $1 AND attempt_no = $2"},
                        call.attempt->recipient_id, call.attempt->attempt_no);
      if (!begun.empty()) {
        out.call = ReadCall(begun[0]);
        out.attempt_existed = true;
        return out;
      }
    }
    if (r.empty()) {
      auto live = Exec(
          tx,
          {"call_gateway.call_live_for_phone",
           "SELECT call_id::text, status FROM elevenlabs_conversations WHERE phone_number = $1 "
           "AND COALESCE(appointment_id, 0) = COALESCE($2, 0) "
           "AND status IN ('queued', 'dialing', 'initiated', 'ringing', 'in_progress') LIMIT 1"},
          call.phone_number, call.appointment_id);
      // The index guards (phone number, appointment): with an appointment it is that patient's
      // call for it; without one, any call to the number. The number is masked, never echoed.
      std::string message = call.appointment_id
                                ? Cat("a call to this patient for appointment ",
                                      *call.appointment_id, " is already live")
                                : Cat("a call to this phone number (",
                                      common::MaskPhone(call.phone_number), ") is already live");
      if (!live.empty()) {
        message = Cat(message, " (call ", live[0][0].as<std::string>(), ", ",
                      live[0][1].as<std::string>(), ")");
      }
      return absl::AlreadyExistsError(message);
    }
    out.call = ReadCall(r[0]);
    if (!idem_key.empty()) {
      Exec(tx,
           {"call_gateway.key_link_call",
            "UPDATE idempotency_keys SET call_row_id = $3 WHERE scope = 'InitiateCall' "
            "AND principal = $1 AND idem_key = $2"},
           principal, idem_key, out.call->id);
    }
    return out;
  };
  // Without a key (or a lock) the INSERT is the only write: one statement, one round trip.
  if (idem_key.empty() && !call.one_live_contact) return pool_.InAutocommit(begin);
  return pool_.InTransaction([&](pqxx::work& tx) { return begin(tx); });
}

absl::StatusOr<std::optional<IdempotencyHit>> CallStore::FindKey(
    const std::string& principal, const std::string& idem_key, const std::string& request_sha256) {
  if (idem_key.empty()) return std::optional<IdempotencyHit>();
  return pool_.InAutocommit(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<IdempotencyHit>> {
        return ReadKey(tx, principal, idem_key, request_sha256);
      });
}

absl::Status CallStore::FinishKey(const std::string& principal, const std::string& idem_key,
                                  int64_t call_row, int grpc_code,
                                  const std::string& response_json) {
  if (idem_key.empty()) return absl::OkStatus();
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
    Exec(tx,
         {"call_gateway.key_finish",
          "UPDATE idempotency_keys SET state = 'completed', grpc_code = $3, response = $4::jsonb, "
          "call_row_id = COALESCE(call_row_id, NULLIF($5, 0)) "
          "WHERE scope = 'InitiateCall' AND principal = $1 AND idem_key = $2"},
         principal, idem_key, grpc_code, response_json, call_row);
    return absl::OkStatus();
  });
}

absl::StatusOr<StatusChange> CallStore::MarkInitiated(int64_t row,
                                                      const std::string& conversation_id,
                                                      const std::string& call_sid,
                                                      std::string_view cause) {
  // One statement (atomic by itself): the conversation id and CallSid when not yet known, the
  // move to "initiated" when it is a forward move, and the call's in_progress idempotency keys
  // completed with the answer the client gets (the data-modifying CTE `keys`, fed by the
  // UPDATE's RETURNING; $4 is that answer without its two ids). One round trip, and one run of
  // the rollup statement trigger instead of two.
  const std::string answer = MessageJson(InitiatedResponse("", ""));
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<StatusChange> {
    auto r = Exec(
        tx,
        {"call_gateway.call_mark_initiated",
         "WITH old AS (SELECT status, conversation_id FROM elevenlabs_conversations WHERE id = $1 "
         "FOR UPDATE), "
         "upd AS (UPDATE elevenlabs_conversations c SET conversation_id = "
         "COALESCE(old.conversation_id, $2), call_sid = CASE WHEN old.conversation_id IS NULL THEN "
         "COALESCE(NULLIF($3, ''), c.call_sid) ELSE c.call_sid END, status = CASE WHEN "
         "call_status_can_transition(old.status, 'initiated') THEN 'initiated' ELSE c.status END "
         "FROM old WHERE c.id = $1 AND (old.conversation_id IS NULL OR "
         "call_status_can_transition(old.status, 'initiated')) "
         "RETURNING c.id, COALESCE(c.conversation_id, '') AS conv, c.call_id::text AS call_id, "
         "old.status AS previous, c.status AS status), "
         "keys AS (UPDATE idempotency_keys k SET state = 'completed', grpc_code = 0, response = "
         "jsonb_set(jsonb_set($4::jsonb, '{data,conversationId}', to_jsonb(upd.conv)), "
         "'{data,callId}', to_jsonb(upd.call_id)) FROM upd WHERE k.call_row_id = upd.id AND "
         "k.state = 'in_progress' AND upd.conv <> '' RETURNING 1) "
         "SELECT conv, call_id, previous, status FROM upd"},
        row, conversation_id, call_sid, answer);
    if (r.empty()) {
      // Already initiated (or further) with its conversation id: a key still in_progress gets
      // the answer for that conversation.
      StatusChange ch = Unchanged(tx, row, cause);
      if (!ch.conversation_id.empty()) {
        CompleteKeysInitiated(tx, row, ch.conversation_id, ch.call_id);
      }
      return ch;
    }
    StatusChange ch;
    ch.cause = std::string(cause);
    ch.conversation_id = r[0][0].as<std::string>();
    ch.call_id = r[0][1].as<std::string>();
    ch.previous_status = r[0][2].as<std::string>();
    ch.status = r[0][3].as<std::string>();
    return ch;
  });
}

absl::StatusOr<StatusChange> CallStore::MarkFailed(int64_t row, const ProviderErrorRecord& error,
                                                   std::string_view cause,
                                                   const absl::Status& answer) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<StatusChange> {
    StatusChange ch = Advance(tx, row, "failed", cause);
    if (ch.status == "failed" && ch.previous_status != "failed") {
      Exec(tx,
           {"call_gateway.call_mark_ended",
            "UPDATE elevenlabs_conversations SET ended_at = now() WHERE id = $1 AND ended_at IS "
            "NULL"},
           row);
    }
    InsertError(tx, row, ch.conversation_id, error);
    if (!ch.conversation_id.empty()) {
      // ElevenLabs had accepted it after all: that is the answer the client would have got.
      CompleteKeysInitiated(tx, row, ch.conversation_id, ch.call_id);
    } else if (!answer.ok()) {
      Exec(tx,
           {"call_gateway.keys_complete_failed",
            "UPDATE idempotency_keys SET state = 'completed', grpc_code = $2, response = "
            "jsonb_build_object('message', $3::text) WHERE call_row_id = $1 AND state = "
            "'in_progress'"},
           row, static_cast<int>(answer.code()),
           common::RedactPhones(common::ToStd(answer.message())));
    }
    return ch;
  });
}

absl::Status CallStore::RecordError(int64_t row, const std::string& conversation_id,
                                    const ProviderErrorRecord& e) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
    InsertError(tx, row, conversation_id, e);
    return absl::OkStatus();
  });
}

absl::Status CallStore::DiscardUnplaced(int64_t row) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::Status {
    Exec(tx,
         {"call_gateway.discard_unplaced",
          "DELETE FROM elevenlabs_conversations WHERE id = $1 AND status = 'dialing' AND "
          "conversation_id IS NULL"},
         row);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<CallRow>> CallStore::FindCall(const std::string& id) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<std::optional<CallRow>> {
    auto r = IsUuid(id) ? Exec(tx,
                               {"call_gateway.call_by_call_id",
                                "SELECT " CALL_COLUMNS
                                " FROM elevenlabs_conversations WHERE call_id = $1::uuid"},
                               id)
                        : Exec(tx,
                               {"call_gateway.call_by_conversation_id",
                                "SELECT " CALL_COLUMNS
                                " FROM elevenlabs_conversations WHERE conversation_id = $1"},
                               id);
    if (r.empty()) return std::optional<CallRow>();
    return std::optional<CallRow>(ReadCall(r[0]));
  });
}

absl::StatusOr<int64_t> CallStore::FoldRollups() {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<int64_t> {
    return Exec1(tx, {"call_gateway.fold_rollups", "SELECT stats_fold_rollups()"})[0].as<int64_t>();
  });
}

absl::StatusOr<std::optional<CallRepository::StoredAudio>> CallStore::LoadAudio(
    const std::string& conversation_id) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<StoredAudio>> {
    auto rows = Exec(tx,
                     {"call_gateway.audio_read",
                      "SELECT content_type, audio IS NULL, COALESCE(audio, ''::bytea) FROM "
                      "elevenlabs_audio WHERE conversation_id = $1"},
                     conversation_id);
    if (rows.empty()) return std::optional<StoredAudio>();
    StoredAudio a;
    a.content_type = rows[0][0].as<std::string>();
    a.external = rows[0][1].as<bool>();
    if (!a.external) {
      const pqxx::binarystring bytes(rows[0][2]);
      a.bytes = bytes.str();
    }
    return std::optional<StoredAudio>(std::move(a));
  });
}

absl::StatusOr<v1::Conversation> CallStore::LoadConversation(int64_t row) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<v1::Conversation> {
    auto r = Exec1(
        tx,
        {"call_gateway.conversation_read",
         "SELECT COALESCE(conversation_id, ''), call_id::text, status, agent_id, "
         "COALESCE(patient_id, 0), "
         "COALESCE(appointment_id, 0), phone_number, COALESCE(duration_secs, 0), COALESCE(cost, "
         "0)::float8, COALESCE(cost_credits, 0), "
         "COALESCE(termination_reason, ''), extract(epoch FROM created_at)::bigint, "
         "COALESCE(extract(epoch FROM started_at)::bigint, 0), COALESCE(extract(epoch FROM "
         "ended_at)::bigint, 0), "
         "metadata::text, EXISTS (SELECT 1 FROM elevenlabs_audio a WHERE a.conversation_id = "
         "elevenlabs_conversations.conversation_id) FROM elevenlabs_conversations WHERE id = $1"},
        row);
    v1::Conversation c;
    c.set_conversation_id(r[0].as<std::string>());
    c.set_call_id(r[1].as<std::string>());
    c.set_status(r[2].as<std::string>());
    c.set_agent_id(r[3].as<std::string>());
    c.set_patient_id(r[4].as<int>());
    c.set_appointment_id(r[5].as<int>());
    c.set_phone_number(r[6].as<std::string>());
    c.set_duration_secs(r[7].as<int>());
    c.set_cost(r[8].as<double>());
    c.set_cost_credits(r[9].as<int64_t>());
    c.set_termination_reason(r[10].as<std::string>());
    c.mutable_created_at()->set_seconds(r[11].as<int64_t>());
    if (r[12].as<int64_t>() > 0) c.mutable_started_at()->set_seconds(r[12].as<int64_t>());
    if (r[13].as<int64_t>() > 0) c.mutable_ended_at()->set_seconds(r[13].as<int64_t>());
    (void)google::protobuf::util::JsonStringToMessage(r[14].as<std::string>(),
                                                      c.mutable_metadata());
    c.set_has_audio(r[15].as<bool>());
    if (!c.conversation_id().empty()) {
      for (const auto& t :
           Exec(tx,
                {"call_gateway.conversation_turns",
                 "SELECT role, COALESCE(message, ''), COALESCE(time_in_call_secs, 0) FROM "
                 "elevenlabs_transcriptions "
                 "WHERE conversation_id = $1 ORDER BY turn_index"},
                c.conversation_id())) {
        auto* turn = c.add_transcript();
        turn->set_role(t[0].as<std::string>());
        turn->set_message(t[1].as<std::string>());
        turn->set_time_in_call_secs(t[2].as<int>());
      }
      auto a = Exec(tx,
                    {"call_gateway.conversation_analysis",
                     "SELECT COALESCE(call_successful, ''), COALESCE(transcript_summary, ''), "
                     "COALESCE(call_summary_title, ''), "
                     "data_collection_results::text, evaluation_criteria_results::text FROM "
                     "elevenlabs_analysis "
                     "WHERE conversation_id = $1"},
                    c.conversation_id());
      if (!a.empty()) {
        auto* an = c.mutable_analysis();
        an->set_call_successful(a[0][0].as<std::string>());
        an->set_transcript_summary(a[0][1].as<std::string>());
        an->set_call_summary_title(a[0][2].as<std::string>());
        (void)google::protobuf::util::JsonStringToMessage(a[0][3].as<std::string>(),
                                                          an->mutable_data_collection_results());
        (void)google::protobuf::util::JsonStringToMessage(
            a[0][4].as<std::string>(), an->mutable_evaluation_criteria_results());
      }
    }
    for (const auto& e :
         Exec(tx,
              {"call_gateway.conversation_errors",
               "SELECT id, source, COALESCE(error_code, ''), COALESCE(http_status, 0), message, "
               "extract(epoch FROM created_at)::bigint FROM elevenlabs_call_errors WHERE "
               "call_row_id "
               "= $1 ORDER BY id"},
              row)) {
      auto* err = c.add_errors();
      err->set_id(e[0].as<int>());
      err->set_conversation_id(c.conversation_id());
      err->set_call_id(c.call_id());
      err->set_source(e[1].as<std::string>());
      err->set_code(e[2].as<std::string>());
      err->set_http_status(e[3].as<int>());
      err->set_message(e[4].as<std::string>());
      err->mutable_created_at()->set_seconds(e[5].as<int64_t>());
    }
    return c;
  });
}

absl::StatusOr<StatusChange> CallStore::AdvanceStatus(
    int64_t row, std::string_view status, std::string_view cause,
    std::optional<std::string> termination_reason) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<StatusChange> {
    StatusChange ch = Advance(tx, row, status, cause);
    if (ch.status == status && ch.previous_status != status) {
      Exec(tx,
           {"call_gateway.call_status_extras",
            "UPDATE elevenlabs_conversations SET termination_reason = COALESCE($2, "
            "termination_reason), "
            "ended_at = CASE WHEN call_status_is_final($3) THEN COALESCE(ended_at, GREATEST(now(), "
            "started_at)) "
            "ELSE ended_at END WHERE id = $1"},
           row, termination_reason, std::string(status));
    }
    return ch;
  });
}

namespace {

bool StoreAudio(pqxx::work& tx, int64_t row, const v1::CallEvent& ev) {
  // webhook-ingest wrote the decoded MP3 in parts beside the inbox row (migration 0004); they
  // become one elevenlabs_audio row, checked against the size and SHA-256 ingest computed while
  // the body streamed in. On a mismatch the parts stay where they are and the error is recorded:
  // nothing the patient said is dropped, and nothing corrupt is presented as the recording.
  const auto& a = ev.audio();
  // One pass over the parts: assembled, checked and stored in the same statement.
  auto stored = Exec(
      tx,
      {"call_gateway.audio_store_from_parts",
       "WITH whole AS (SELECT string_agg(data, ''::bytea ORDER BY part) AS audio FROM "
       "webhook_audio_parts WHERE inbox_id = $1) "
       "INSERT INTO elevenlabs_audio (conversation_id, content_type, size_bytes, sha256, audio) "
       "SELECT $2, COALESCE(NULLIF($3, ''), 'audio/mpeg'), $4::bigint, $5::text, audio FROM whole "
       "WHERE length(audio) = $4::bigint AND encode(sha256(audio), 'hex') = $5::text "
       "ON CONFLICT (conversation_id) DO UPDATE SET content_type = EXCLUDED.content_type, "
       "size_bytes = EXCLUDED.size_bytes, sha256 = EXCLUDED.sha256, audio = EXCLUDED.audio, "
       "storage_uri = NULL RETURNING 1"},
      ev.inbox_id(), ev.conversation_id(), a.content_type(), a.size_bytes(), a.sha256());
  if (stored.empty()) {
    auto found =
        Exec(tx,
             {"call_gateway.audio_parts_count",
              "SELECT count(*), COALESCE(sum(length(data)), 0) FROM webhook_audio_parts WHERE "
              "inbox_id = $1"},
             ev.inbox_id());
    const std::string problem =
        found[0][0].as<int64_t>() == 0
            ? std::string("no stored audio parts")
            : Cat("stored audio parts do not match (", found[0][1].as<int64_t>(),
                  " bytes; expected ", a.size_bytes(), " bytes with sha256 ", a.sha256(), ")");
    InsertError(tx, row, ev.conversation_id(),
                {"webhook", "audio_unavailable", 0,
                 Cat("post_call_audio (inbox ", ev.inbox_id(), "): ", problem)});
    return false;
  }
  Exec(tx,
       {"call_gateway.audio_parts_delete", "DELETE FROM webhook_audio_parts WHERE inbox_id = $1"},
       ev.inbox_id());
  Exec(tx,
       {"call_gateway.audio_need_delete", "DELETE FROM call_audio_recovery WHERE call_row_id = $1"},
       row);  // served
  return true;
}

void EraseInboxCopies(pqxx::work& tx, const std::string& conversation_id) {
  // The inbox keeps each verified body for replay; after an erasure only the envelope facts
  // (type, conversation id, timestamps, hash of what was received) remain. An event not yet
  // published is marked published: there is nothing left to deliver.
  Exec(tx,
       {"call_gateway.erase_inbox_audio_parts",
        "DELETE FROM webhook_audio_parts WHERE inbox_id IN (SELECT id FROM webhook_inbox WHERE "
        "conversation_id = $1)"},
       conversation_id);
  Exec(tx,
       {"call_gateway.erase_inbox_bodies",
        "UPDATE webhook_inbox SET body = ''::bytea, body_truncated = true, published_at = "
        "COALESCE(published_at, now()) WHERE conversation_id = $1 AND (length(body) > 0 OR "
        "published_at IS NULL)"},
       conversation_id);
}

}  // namespace

absl::StatusOr<std::optional<std::string>> CallStore::ExportPatientData(int patient_id) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<std::optional<std::string>> {
    // One statement, one snapshot: every part of the document is as of the same instant.
    // Recordings are named (size, hash), not embedded.
    auto r = Exec(
        tx,
        {"call_gateway.patient_export",
         "SELECT jsonb_build_object('exported_at', now(), 'patient', to_jsonb(p), "
         "'appointments', COALESCE((SELECT jsonb_agg(to_jsonb(a) ORDER BY a.id) FROM appointments "
         "a WHERE a.patient_id = p.id), '[]'::jsonb), "
         "'calls', COALESCE((SELECT jsonb_agg(to_jsonb(c) || jsonb_build_object("
         "'transcript', COALESCE((SELECT jsonb_agg(to_jsonb(t) - 'conversation_id' ORDER BY "
         "t.turn_index) FROM elevenlabs_transcriptions t WHERE t.conversation_id = "
         "c.conversation_id), '[]'::jsonb), "
         "'analysis', (SELECT to_jsonb(an) - 'conversation_id' FROM elevenlabs_analysis an WHERE "
         "an.conversation_id = c.conversation_id), "
         "'recording', (SELECT jsonb_build_object('content_type', au.content_type, 'size_bytes', "
         "au.size_bytes, 'sha256', au.sha256) FROM elevenlabs_audio au WHERE au.conversation_id = "
         "c.conversation_id), "
         "'policy_decisions', COALESCE((SELECT jsonb_agg(to_jsonb(d) ORDER BY d.id) FROM "
         "policy_decisions d WHERE d.call_row_id = c.id), '[]'::jsonb)) ORDER BY c.id) FROM "
         "elevenlabs_conversations c WHERE c.patient_id = p.id), '[]'::jsonb), "
         "'refused_attempts', COALESCE((SELECT jsonb_agg(to_jsonb(d) ORDER BY d.id) FROM "
         "policy_decisions d WHERE d.patient_id = p.id AND d.call_row_id IS NULL), '[]'::jsonb), "
         "'consents', COALESCE((SELECT jsonb_agg(to_jsonb(k) ORDER BY k.id) FROM patient_consents "
         "k WHERE k.patient_id = p.id), '[]'::jsonb), "
         "'other_contacts', COALESCE((SELECT jsonb_agg(to_jsonb(x) ORDER BY x.id) FROM "
         "contact_records x WHERE x.patient_id = p.id OR x.phone_e164 = p.phone_e164), "
         "'[]'::jsonb), "
         "'opt_outs', COALESCE((SELECT jsonb_agg(to_jsonb(o) ORDER BY o.created_at) FROM "
         "call_opt_outs o WHERE o.patient_id = p.id OR o.phone_e164 = p.phone_e164), '[]'::jsonb)"
         ")::text FROM patients p WHERE p.id = $1"},
        patient_id);
    if (r.empty()) return std::optional<std::string>();
    return std::optional<std::string>(r[0][0].as<std::string>());
  });
}

namespace {

// A call's content erased (EraseConversation, a deletion request): transcript, analysis,
// recording, the inbox copies of its webhooks, the name and variables; the row and its figures
// stay.
void EraseCallContent(pqxx::work& tx, int64_t row) {
  auto r =
      Exec1(tx,
            {"call_gateway.call_conversation_id",
             "SELECT COALESCE(conversation_id, '') FROM elevenlabs_conversations WHERE id = $1"},
            row);
  const std::string conv = r[0].as<std::string>();
  if (!conv.empty()) {
    Exec(tx,
         {"call_gateway.erase_transcriptions",
          "DELETE FROM elevenlabs_transcriptions WHERE conversation_id = $1"},
         conv);
    Exec(tx,
         {"call_gateway.erase_analysis",
          "DELETE FROM elevenlabs_analysis WHERE conversation_id = $1"},
         conv);
    Exec(tx,
         {"call_gateway.erase_audio", "DELETE FROM elevenlabs_audio WHERE conversation_id = $1"},
         conv);
    EraseInboxCopies(tx, conv);
  }
  // Nothing erased may come back: the reconciler no longer looks for the recording.
  Exec(tx,
       {"call_gateway.audio_need_delete", "DELETE FROM call_audio_recovery WHERE call_row_id = $1"},
       row);
  Exec(tx,
       {"call_gateway.erase_call_data",
        "UPDATE elevenlabs_conversations SET patient_name = NULL, custom_variables = '{}', "
        "metadata = jsonb_build_object('erased_at', now()) WHERE id = $1"},
       row);
}

#define DATA_REQUEST_COLUMNS                                                              \
  "r.id, r.patient_id, r.kind, r.state, r.received_via, COALESCE(r.external_ref, ''), "   \
  "r.requested_by, extract(epoch FROM r.received_at)::float8, "                           \
  "extract(epoch FROM r.due_at)::float8, extract(epoch FROM r.extended_due_at)::float8, " \
  "extract(epoch FROM r.completed_at)::float8, r.detail::text, (SELECT count(*) FROM "    \
  "data_request_erasures e WHERE e.request_id = r.id AND e.done_at IS NULL)::int, "       \
  "COALESCE(r.last_error, '')"

absl::Time FromEpoch(const pqxx::field& f) {
  return absl::FromUnixMicros(static_cast<int64_t>(f.as<double>() * 1e6));
}

DataRequestRow ReadDataRequest(const pqxx::row& r) {
  DataRequestRow d;
  d.id = r[0].as<int64_t>();
  d.patient_id = r[1].as<int>();
  d.kind = r[2].as<std::string>();
  d.state = r[3].as<std::string>();
  d.received_via = r[4].as<std::string>();
  d.external_ref = r[5].as<std::string>();
  d.requested_by = r[6].as<std::string>();
  d.received_at = FromEpoch(r[7]);
  d.due_at = FromEpoch(r[8]);
  d.extended_due_at = FromEpoch(r[9]);
  if (!r[10].is_null()) d.completed_at = FromEpoch(r[10]);
  d.detail_json = r[11].as<std::string>();
  d.erasures_pending = r[12].as<int>();
  d.last_error = r[13].as<std::string>();
  return d;
}

std::optional<DataRequestRow> LoadDataRequest(pqxx::transaction_base& tx, int64_t id) {
  auto r = Exec(tx,
                {"call_gateway.data_request_get",
                 "SELECT " DATA_REQUEST_COLUMNS " FROM data_subject_requests r WHERE r.id = $1"},
                id);
  if (r.empty()) return std::nullopt;
  return ReadDataRequest(r[0]);
}

}  // namespace

absl::Status CallStore::EraseData(int64_t row) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
    EraseCallContent(tx, row);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<DataRequestRow>> CallStore::CreateDataRequest(
    const NewDataRequest& q) {
  using Result = absl::StatusOr<std::optional<DataRequestRow>>;
  return pool_.InTransaction([&](pqxx::work& tx) -> Result {
    const std::string kind(policy::DataRequestKindName(q.kind));
    // The patient's row is locked: a deletion and a rectification of one patient never
    // interleave, and a second registration of one filing number waits for the first.
    auto p = Exec(tx,
                  {"call_gateway.data_request_patient",
                   "SELECT erased_at IS NOT NULL FROM patients WHERE id = $1 FOR UPDATE"},
                  q.patient_id);
    if (p.empty()) return std::optional<DataRequestRow>();
    if (!q.external_ref.empty()) {
      auto seen = Exec(tx,
                       {"call_gateway.data_request_by_ref",
                        "SELECT " DATA_REQUEST_COLUMNS
                        " FROM data_subject_requests r WHERE r.external_ref = $1"},
                       q.external_ref);
      if (!seen.empty()) {
        DataRequestRow d = ReadDataRequest(seen[0]);
        if (d.patient_id != q.patient_id || d.kind != kind) {
          return absl::AlreadyExistsError(
              Cat("externalRef ", q.external_ref, " was registered for data request ", d.id, " (",
                  d.kind, ", patient ", d.patient_id, "): use another"));
        }
        d.duplicate = true;
        return std::optional<DataRequestRow>(std::move(d));
      }
    }
    if (p[0][0].as<bool>() && q.kind != policy::DataRequestKind::kAccess) {
      return absl::FailedPreconditionError(Cat(
          "patient ", q.patient_id, "'s personal data was deleted on request: nothing is left to ",
          kind == "deletion" ? "delete" : "rectify"));
    }
    const bool deleting = q.kind == policy::DataRequestKind::kDeletion;
    std::string detail = "{}";
    if (q.kind == policy::DataRequestKind::kRectification) {
      std::vector<std::string> fields;
      if (q.full_name) fields.push_back("\"full_name\"");
      if (q.phone_e164) fields.push_back("\"phone_number\"");
      if (q.time_zone) fields.push_back("\"time_zone\"");
      detail = Cat("{\"corrected\": [", absl::StrJoin(fields, ", "), "]}");
      Exec(tx,
           {"call_gateway.data_request_rectify",
            "UPDATE patients SET full_name = CASE WHEN $2 THEN $3 ELSE full_name END, "
            "phone_e164 = CASE WHEN $4 THEN $5 ELSE phone_e164 END, "
            "time_zone = CASE WHEN $6 THEN NULLIF($7, '') ELSE time_zone END WHERE id = $1"},
           q.patient_id, q.full_name.has_value(), q.full_name.value_or(""),
           q.phone_e164.has_value(), q.phone_e164.value_or(""), q.time_zone.has_value(),
           q.time_zone.value_or(""));
    } else if (q.kind == policy::DataRequestKind::kAccess) {
      detail = "{\"delivered\": \"document\"}";
    }
    auto ins = Exec1(
        tx,
        {"call_gateway.data_request_insert",
         "INSERT INTO data_subject_requests (patient_id, kind, state, received_at, received_via, "
         "external_ref, requested_by, due_at, extended_due_at, detail, completed_at) VALUES ($1, "
         "$2, CASE WHEN $3 THEN 'in_progress' ELSE 'completed' END, to_timestamp($4::float8), $5, "
         "NULLIF($6, ''), $7, to_timestamp($8::float8), to_timestamp($9::float8), $10::jsonb, "
         "CASE WHEN $3 THEN NULL ELSE now() END) RETURNING id"},
        q.patient_id, kind, deleting, UnixSeconds(q.received_at), q.received_via, q.external_ref,
        q.requested_by, UnixSeconds(q.deadlines.due), UnixSeconds(q.deadlines.extended_due),
        detail);
    const int64_t id = ins[0].as<int64_t>();
    if (deleting) {
      // Every call of the patient is erased by the reconciler (here and at ElevenLabs); the
      // patient's own data goes now. Nothing else depends on the name, number or zone: the
      // ledgers keep their own copies, which the law asks the clinic to keep.
      auto calls = Exec(tx,
                        {"call_gateway.data_request_erasures",
                         "INSERT INTO data_request_erasures (request_id, call_row_id) SELECT $1, "
                         "c.id FROM elevenlabs_conversations c WHERE c.patient_id = $2"},
                        id, q.patient_id);
      const auto n = calls.affected_rows();
      Exec(tx,
           {"call_gateway.data_request_erase_patient",
            "UPDATE patients SET full_name = NULL, phone_e164 = NULL, time_zone = NULL, "
            "erased_at = now() WHERE id = $1"},
           q.patient_id);
      Exec(tx,
           {"call_gateway.data_request_deletion_detail",
            "UPDATE data_subject_requests SET detail = jsonb_build_object('calls', $2::int, "
            "'patient', 'erased'), state = CASE WHEN $2::int = 0 THEN 'completed' ELSE state "
            "END, completed_at = CASE WHEN $2::int = 0 THEN now() END WHERE id = $1"},
           id, static_cast<int>(n));
    }
    return LoadDataRequest(tx, id);
  });
}

absl::StatusOr<std::optional<DataRequestRow>> CallStore::GetDataRequest(int64_t id) {
  return pool_.InAutocommit(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<std::optional<DataRequestRow>> {
        return LoadDataRequest(tx, id);
      });
}

absl::StatusOr<std::vector<DataRequestRow>> CallStore::ListDataRequests(
    const std::string& state, std::optional<int> patient_id, int limit) {
  return pool_.InAutocommit(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<DataRequestRow>> {
        auto r = Exec(tx,
                      {"call_gateway.data_request_list",
                       "SELECT " DATA_REQUEST_COLUMNS
                       " FROM data_subject_requests r WHERE ($1 = '' OR r.state = $1) AND "
                       "($2::int IS NULL OR r.patient_id = $2) ORDER BY r.state = 'completed', "
                       "CASE WHEN r.state <> 'completed' THEN r.due_at END, r.id DESC LIMIT $3"},
                      state, patient_id, limit);
        std::vector<DataRequestRow> out;
        out.reserve(r.size());
        for (const auto& row : r) out.push_back(ReadDataRequest(row));
        return out;
      });
}

absl::StatusOr<std::vector<ErasureItem>> CallStore::ClaimErasures(int limit, absl::Duration lease) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<std::vector<ErasureItem>> {
    auto r = Exec(
        tx,
        {"call_gateway.erasures_claim",
         "WITH due AS (SELECT e.request_id, e.call_row_id FROM data_request_erasures e WHERE "
         "e.done_at IS NULL AND e.next_attempt_at <= now() ORDER BY e.next_attempt_at LIMIT $1 "
         "FOR UPDATE SKIP LOCKED) "
         "UPDATE data_request_erasures e SET next_attempt_at = now() + make_interval(secs => "
         "$2::float8) FROM due, elevenlabs_conversations c WHERE e.request_id = due.request_id "
         "AND e.call_row_id = due.call_row_id AND c.id = e.call_row_id "
         "RETURNING e.request_id, e.call_row_id, COALESCE(c.conversation_id, ''), "
         "call_status_is_final(c.status), e.attempts"},
        limit, absl::ToDoubleSeconds(lease));
    std::vector<ErasureItem> out;
    for (const auto& row : r) {
      out.push_back({row[0].as<int64_t>(), row[1].as<int64_t>(), row[2].as<std::string>(),
                     row[3].as<bool>(), row[4].as<int>()});
    }
    return out;
  });
}

absl::Status CallStore::FinishErasure(const ErasureItem& item) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
    auto done = Exec(tx,
                     {"call_gateway.erasure_done",
                      "UPDATE data_request_erasures SET done_at = now(), last_error = NULL WHERE "
                      "request_id = $1 AND call_row_id = $2 AND done_at IS NULL"},
                     item.request_id, item.call_row);
    if (done.affected_rows() == 0) return absl::OkStatus();  // another replica finished it
    EraseCallContent(tx, item.call_row);
    Exec(tx,
         {"call_gateway.data_request_complete",
          "UPDATE data_subject_requests r SET state = 'completed', completed_at = now(), "
          "last_error = NULL, detail = r.detail || jsonb_build_object('calls_erased', (SELECT "
          "count(*) FROM data_request_erasures e WHERE e.request_id = r.id)) WHERE r.id = $1 AND "
          "r.state <> 'completed' AND NOT EXISTS (SELECT 1 FROM data_request_erasures e WHERE "
          "e.request_id = r.id AND e.done_at IS NULL)"},
         item.request_id);
    return absl::OkStatus();
  });
}

absl::StatusOr<DataRequestRepository::OpenCount> CallStore::CountOpenDataRequests() {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<OpenCount> {
    auto r = Exec1(tx, {"call_gateway.data_requests_open",
                        "SELECT count(*)::int, (count(*) FILTER (WHERE due_at <= now()))::int FROM "
                        "data_subject_requests WHERE state <> 'completed'"});
    return OpenCount{r[0].as<int>(), r[1].as<int>()};
  });
}

absl::Status CallStore::PostponeErasure(const ErasureItem& item, absl::Time next,
                                        const std::string& error) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
    Exec(tx,
         {"call_gateway.erasure_postpone",
          "UPDATE data_request_erasures SET next_attempt_at = to_timestamp($3::float8), "
          "attempts = attempts + CASE WHEN $4 = '' THEN 0 ELSE 1 END, last_error = NULLIF($4, "
          "'') WHERE request_id = $1 AND call_row_id = $2 AND done_at IS NULL"},
         item.request_id, item.call_row, UnixSeconds(next), error);
    if (!error.empty()) {
      Exec(tx,
           {"call_gateway.data_request_error",
            "UPDATE data_subject_requests SET last_error = $2 WHERE id = $1"},
           item.request_id, error);
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<CallRow>> CallStore::CallsToReconcile(int dialing_grace_secs,
                                                                 int open_grace_secs, int limit) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<std::vector<CallRow>> {
    std::vector<CallRow> out;
    // Due calls, those never tried first and then the least recently tried: a call whose tries
    // keep failing waits out its backoff and can never hold the others back.
    for (const auto& r :
         Exec(tx,
              {"call_gateway.reconcile_due_calls",
               "SELECT " CALL_COLUMNS
               " FROM elevenlabs_conversations LEFT JOIN call_reconcile_state s ON "
               "s.call_row_id = id WHERE "
               "((status = 'dialing' AND dial_attempted_at < now() - "
               "make_interval(secs => $1)) OR "
               "(status IN ('initiated', 'ringing', 'in_progress') AND "
               "conversation_id IS NOT NULL AND "
               " COALESCE(dial_attempted_at, created_at) < now() - make_interval(secs "
               "=> COALESCE(max_duration_secs, 600) + $2))) "
               "AND (s.next_attempt_at IS NULL OR s.next_attempt_at <= now()) "
               "ORDER BY s.next_attempt_at NULLS FIRST, id LIMIT $3"},
              dialing_grace_secs, open_grace_secs, limit)) {
      out.push_back(ReadCall(r));
    }
    return out;
  });
}

absl::StatusOr<int> CallStore::RecordReconcileTry(int64_t row, bool not_found,
                                                  const std::string& error,
                                                  absl::Duration first_backoff,
                                                  absl::Duration max_backoff) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<int> {
    // The n-th failed try waits first_backoff * 2^(n-1), at most max_backoff.
    const auto r = Exec1(
        tx,
        {"call_gateway.reconcile_record_try",
         "INSERT INTO call_reconcile_state AS s (call_row_id, attempts, not_found, "
         "next_attempt_at, last_error) VALUES ($1, 1, $2::int, now() + make_interval(secs => "
         "$3::float8), NULLIF($5, '')) ON CONFLICT (call_row_id) DO UPDATE SET attempts = "
         "s.attempts + 1, not_found = s.not_found + $2::int, next_attempt_at = now() + "
         "make_interval(secs => LEAST($4::float8, $3::float8 * power(2, LEAST(s.attempts, 30)))), "
         "last_error = NULLIF($5, '') RETURNING not_found"},
        row, not_found ? 1 : 0, absl::ToDoubleSeconds(first_backoff),
        absl::ToDoubleSeconds(max_backoff), common::RedactPhones(error).substr(0, 300));
    return r[0].as<int>();
  });
}

absl::Status CallStore::ForgetReconcileState(int64_t row) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::Status {
    Exec(tx,
         {"call_gateway.reconcile_forget",
          "DELETE FROM call_reconcile_state WHERE call_row_id = $1"},
         row);
    return absl::OkStatus();
  });
}

absl::StatusOr<std::vector<AudioNeed>> CallStore::ClaimAudioNeeds(int grace_secs, int limit,
                                                                  absl::Duration lease) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx)
                                -> absl::StatusOr<std::vector<AudioNeed>> {
    // One statement: the due needs of settled calls (the pending index, never the calls'
    // history), oldest try first, claimed by pushing their next try `lease` ahead. Rows another
    // reconciler holds are skipped, not waited for.
    std::vector<AudioNeed> out;
    for (const auto& r :
         Exec(tx,
              {"call_gateway.audio_needs_claim",
               "UPDATE call_audio_recovery r SET next_attempt_at = now() + make_interval(secs => "
               "$3::float8) FROM (SELECT n.call_row_id, c.call_id::text AS call_id, "
               "c.conversation_id, EXISTS (SELECT 1 FROM elevenlabs_audio a WHERE "
               "a.conversation_id = c.conversation_id) AS stored, c.metadata ? 'erased_at' AS "
               "erased FROM call_audio_recovery n JOIN elevenlabs_conversations c ON c.id = "
               "n.call_row_id WHERE n.gave_up_at IS NULL AND n.next_attempt_at <= now() AND "
               "n.needed_since <= now() - make_interval(secs => $1) AND c.conversation_id IS NOT "
               "NULL AND call_status_is_final(c.status) ORDER BY n.next_attempt_at, n.call_row_id "
               "LIMIT $2 FOR UPDATE OF n SKIP LOCKED) d WHERE r.call_row_id = d.call_row_id "
               "RETURNING r.call_row_id, d.call_id, d.conversation_id, d.stored, d.erased"},
              grace_secs, limit, absl::ToDoubleSeconds(lease))) {
      out.push_back({r[0].as<int64_t>(), r[1].as<std::string>(), r[2].as<std::string>(),
                     r[3].as<bool>(), r[4].as<bool>()});
    }
    std::sort(out.begin(), out.end(),
              [](const AudioNeed& a, const AudioNeed& b) { return a.row < b.row; });
    return out;
  });
}

absl::StatusOr<std::vector<AudioNeed>> CallStore::GiveUpStaleAudioNeeds(absl::Duration max_age) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx)
                                -> absl::StatusOr<std::vector<AudioNeed>> {
    // The reason names the window and the last failure (already free of patient data), in the
    // need and, for the clinic's view of the call, in its errors; both in one statement.
    const std::string why = Cat("no recording could be fetched from ElevenLabs within ",
                                absl::FormatDuration(max_age), "; the reconciler gave up");
    std::vector<AudioNeed> out;
    for (const auto& r : Exec(
             tx,
             {"call_gateway.audio_needs_give_up_stale",
              "WITH g AS (UPDATE call_audio_recovery n SET gave_up_at = now(), gave_up_reason = "
              "left($2 || COALESCE(' (last error: ' || n.last_error || ')', ''), 500) FROM "
              "elevenlabs_conversations c WHERE c.id = n.call_row_id AND n.gave_up_at IS NULL AND "
              "n.needed_since < now() - make_interval(secs => $1::float8) AND NOT EXISTS (SELECT 1 "
              "FROM elevenlabs_audio a WHERE a.conversation_id = c.conversation_id) RETURNING "
              "n.call_row_id, c.call_id::text AS call_id, COALESCE(c.conversation_id, '') AS "
              "conversation_id, n.gave_up_reason), e AS (INSERT INTO elevenlabs_call_errors "
              "(call_row_id, conversation_id, source, error_code, message) SELECT call_row_id, "
              "NULLIF(conversation_id, ''), 'reconciler', 'audio_expired', gave_up_reason FROM g) "
              "SELECT call_row_id, call_id, conversation_id FROM g ORDER BY call_row_id"},
             absl::ToDoubleSeconds(max_age), why)) {
      out.push_back({r[0].as<int64_t>(), r[1].as<std::string>(), r[2].as<std::string>()});
    }
    return out;
  });
}

absl::StatusOr<CallStore::RecoveredAudio> CallStore::StoreRecoveredAudio(
    int64_t row, const std::string& conversation_id, const std::string& content_type,
    const std::string& audio) {
  const std::string sha256 = common::Sha256::Hex(audio);
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<RecoveredAudio> {
    // The call's row is locked as the apply locks it: an erasure or the audio webhook applied
    // meanwhile is seen here, and one applied after this commits sees this recording.
    auto call =
        Exec(tx,
             {"call_gateway.recovered_audio_lock_call",
              "SELECT metadata ? 'erased_at' FROM elevenlabs_conversations WHERE id = $1 AND "
              "conversation_id = $2 FOR UPDATE"},
             row, conversation_id);
    RecoveredAudio outcome = RecoveredAudio::kErased;
    if (!call.empty() && !call[0][0].as<bool>()) {
      // Same row as StoreAudio's, but a recording already there (the webhook's) is kept.
      auto stored =
          Exec(tx,
               {"call_gateway.recovered_audio_insert",
                "INSERT INTO elevenlabs_audio (conversation_id, content_type, size_bytes, sha256, "
                "audio) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (conversation_id) DO NOTHING RETURNING 1"},
               conversation_id, content_type, static_cast<int64_t>(audio.size()), sha256,
               pqxx::binarystring(audio.data(), audio.size()));
      outcome = stored.empty() ? RecoveredAudio::kAlreadyStored : RecoveredAudio::kStored;
      if (outcome == RecoveredAudio::kStored) {
        Exec(tx,
             {"call_gateway.recovered_audio_mark_call",
              "UPDATE elevenlabs_conversations SET metadata = metadata || jsonb_build_object("
              "'audio', jsonb_build_object('stored', true, 'size_bytes', $2::bigint, 'sha256', "
              "$3::text, 'recovered', true)) WHERE id = $1"},
             row, static_cast<int64_t>(audio.size()), sha256);
      }
    }
    Exec(tx,
         {"call_gateway.audio_need_delete",
          "DELETE FROM call_audio_recovery WHERE call_row_id = $1"},
         row);
    return outcome;
  });
}

absl::StatusOr<AudioTry> CallStore::RecordAudioTry(int64_t row, bool definite,
                                                   const ProviderErrorRecord& error,
                                                   absl::Duration first_backoff,
                                                   absl::Duration max_backoff, int max_definite) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<AudioTry> {
    const std::string message = common::RedactPhones(error.message).substr(0, 300);
    // The n-th failed try waits first_backoff * 2^(n-1), at most max_backoff (as the open
    // calls' tries do); the max_definite-th definite answer ends it.
    const auto r = Exec(
        tx,
        {"call_gateway.audio_need_record_try",
         "UPDATE call_audio_recovery SET attempts = attempts + 1, not_found = not_found + "
         "$2::int, next_attempt_at = now() + make_interval(secs => LEAST($4::float8, $3::float8 "
         "* power(2, LEAST(attempts, 30)))), last_error = NULLIF($5, ''), gave_up_at = CASE WHEN "
         "not_found + $2::int >= $6 THEN now() END, gave_up_reason = CASE WHEN not_found + "
         "$2::int >= $6 THEN left(NULLIF($5, ''), 500) END WHERE call_row_id = $1 AND "
         "gave_up_at IS NULL RETURNING not_found, gave_up_at IS NOT NULL"},
        row, definite ? 1 : 0, absl::ToDoubleSeconds(first_backoff),
        absl::ToDoubleSeconds(max_backoff), message, max_definite);
    AudioTry t;
    if (r.empty()) return t;  // served or forgotten meanwhile
    t.not_found = r[0][0].as<int>();
    t.gave_up = r[0][1].as<bool>();
    if (t.gave_up) {
      const std::string why =
          Cat("no recording: ", message, " (", t.not_found, " times; the reconciler gave up)");
      Exec(tx,
           {"call_gateway.audio_need_give_up_reason",
            "UPDATE call_audio_recovery SET gave_up_reason = left($2, 500) WHERE call_row_id = $1"},
           row, why);
      Exec(tx,
           {"call_gateway.audio_need_error_insert",
            "INSERT INTO elevenlabs_call_errors (call_row_id, conversation_id, source, error_code, "
            "http_status, message) SELECT id, conversation_id, 'reconciler', NULLIF($2, ''), "
            "NULLIF($3, 0), left($4, 500) FROM elevenlabs_conversations WHERE id = $1"},
           row, error.code, error.http_status, why);
    }
    return t;
  });
}

absl::Status CallStore::ForgetAudioNeed(int64_t row) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::Status {
    Exec(tx,
         {"call_gateway.audio_need_delete",
          "DELETE FROM call_audio_recovery WHERE call_row_id = $1"},
         row);
    return absl::OkStatus();
  });
}

namespace {

// What the patient said, written back: opt-out and the appointment's answer; and the call's
// error, if the transcription reports one. Rare: one statement each, in event order.
void TranscriptionSideEffects(pqxx::work& tx, int64_t row, const v1::CallEvent& ev,
                              const std::string& phone, int patient_id, int appointment_id) {
  const auto& t = ev.transcription();
  const auto& md = t.metadata();
  const auto& an = t.analysis();
  auto flag = [&](const char* key) {
    const auto& f = an.data_collection_results().fields();
    auto it = f.find(key);
    if (it == f.end() || !it->second.has_struct_value()) return false;
    const auto& v = it->second.struct_value().fields();
    auto val = v.find("value");
    return val != v.end() && val->second.has_bool_value() && val->second.bool_value();
  };
  if (flag("do_not_call")) {
    Exec(tx,
         {"call_gateway.opt_out_from_call",
          "INSERT INTO call_opt_outs (phone_e164, patient_id, reason, source) VALUES ($1, "
          "NULLIF($2, 0), "
          "'patient asked during a call', 'call_outcome') ON CONFLICT (phone_e164) DO NOTHING"},
         phone, patient_id);
    // The consent ledger says it too: every purpose on voice revoked, the call as evidence.
    if (patient_id > 0) {
      Exec(tx,
           {"call_gateway.consent_revoke_from_call",
            "INSERT INTO patient_consents (patient_id, purpose, channel, state, source, "
            "evidence_ref, recorded_at, recorded_by) SELECT $1, p, 'voice', 'revoked', "
            "'call_outcome', 'conversation ' || $2, now(), 'call-gateway' FROM unnest(ARRAY["
            "'confirmation', 'reminder', 'survey', 'promotion', 'collection']) AS p "
            "WHERE EXISTS (SELECT 1 FROM patients WHERE id = $1)"},
           patient_id, ev.conversation_id());
    }
  }
  if (appointment_id > 0 && flag("appointment_confirmed")) {
    Exec(tx,
         {"call_gateway.appointment_confirm",
          "UPDATE appointments SET status = 'confirmed', confirmed_at = now() WHERE id = $1 "
          "AND status IN ('scheduled', 'reschedule_requested')"},
         appointment_id);
  } else if (appointment_id > 0 && flag("reschedule_requested")) {
    // With the slot the patient asked for, when the agent collected one (a short text).
    std::optional<std::string> preference;
    const auto& f = an.data_collection_results().fields();
    if (auto it = f.find("preferred_time"); it != f.end() && it->second.has_struct_value()) {
      const auto& v = it->second.struct_value().fields();
      if (auto val = v.find("value"); val != v.end() && val->second.has_string_value() &&
                                      !val->second.string_value().empty()) {
        preference = val->second.string_value().substr(0, 200);
      }
    }
    Exec(tx,
         {"call_gateway.appointment_reschedule",
          "UPDATE appointments SET status = 'reschedule_requested', reschedule_preference = "
          "COALESCE($2, reschedule_preference) WHERE id = $1 AND status IN ('scheduled', "
          "'confirmed', 'reschedule_requested')"},
         appointment_id, preference);
  } else if (appointment_id > 0 && flag("appointment_canceled")) {
    Exec(tx,
         {"call_gateway.appointment_cancel_from_call",
          "UPDATE appointments SET status = 'canceled' WHERE id = $1 AND status IN ('scheduled', "
          "'confirmed', 'reschedule_requested')"},
         appointment_id);
  }
  if (md.has_error() && !md.error().reason().empty()) {
    InsertError(tx, row, ev.conversation_id(),
                {"webhook", std::to_string(md.error().code()), 0, md.error().reason()});
  }
}

// An event of a conversation we have no call for: kept, not dropped, and applied when the call's
// conversation id becomes known (ReplayUnmatched). The same event kept twice is a duplicate.
v1::ApplyOutcome KeepUnmatched(pqxx::work& tx, const v1::CallEvent& ev, const std::string& type) {
  auto kept =
      Exec(tx,
           {"call_gateway.unmatched_keep",
            "INSERT INTO unmatched_call_events (inbox_id, event_type, conversation_id, payload) "
            "SELECT $1, $2, $3, $4::jsonb WHERE NOT EXISTS (SELECT 1 FROM unmatched_call_events "
            "WHERE event_type = $2 AND conversation_id = $3 AND resolved_at IS NULL) RETURNING 1"},
           ev.inbox_id(), type, ev.conversation_id(), ToJson(ev));
  return kept.empty() ? v1::APPLY_OUTCOME_DUPLICATE : v1::APPLY_OUTCOME_UNMATCHED;
}

// Records the event as applied: false when it was before (a duplicate delivery).
bool FirstDelivery(pqxx::work& tx, const v1::CallEvent& ev, const std::string& type) {
  return !Exec(tx,
               {"call_gateway.applied_event_claim",
                "INSERT INTO applied_call_events (event_type, conversation_id, inbox_id) VALUES "
                "($1, $2, NULLIF($3, 0)) ON CONFLICT DO NOTHING RETURNING 1"},
               type, ev.conversation_id(), ev.inbox_id())
              .empty();
}

// An event for a conversation the patient had erased: seen, never applied. ElevenLabs still
// sends its webhooks; none may bring the data back, here or in the inbox.
v1::ApplyOutcome SkipErased(pqxx::work& tx, const v1::CallEvent& ev, const std::string& type) {
  if (!FirstDelivery(tx, ev, type)) return v1::APPLY_OUTCOME_DUPLICATE;
  EraseInboxCopies(tx, ev.conversation_id());
  return v1::APPLY_OUTCOME_STALE;
}

// An event other than a transcription (a reference to stored audio, a call that could not be
// connected), inside the caller's transaction: rare, one at a time. An error leaves the
// transaction to be rolled back.
absl::StatusOr<v1::ApplyOutcome> ApplyOtherIn(pqxx::work& tx, const v1::CallEvent& ev,
                                              std::vector<StatusChange>& changes) {
  const std::string type = EventTypeName(ev.type());
  if (type.empty() || ev.conversation_id().empty()) {
    return absl::InvalidArgumentError(
        Cat("event ", ev.inbox_id(), ": missing type or conversation_id"));
  }
  auto call = Exec(
      tx,
      {"call_gateway.event_lock_call",
       "SELECT id, metadata ? 'erased_at' FROM elevenlabs_conversations WHERE conversation_id = "
       "$1 FOR UPDATE"},
      ev.conversation_id());
  if (call.empty()) return KeepUnmatched(tx, ev, type);
  const int64_t row = call[0][0].as<int64_t>();
  if (call[0][1].as<bool>()) return SkipErased(tx, ev, type);
  if (!FirstDelivery(tx, ev, type)) return v1::APPLY_OUTCOME_DUPLICATE;
  if (ev.has_audio()) {
    const auto& a = ev.audio();
    const bool stored = a.stored() && StoreAudio(tx, row, ev);
    Exec(tx,
         {"call_gateway.event_mark_audio",
          "UPDATE elevenlabs_conversations SET metadata = metadata || jsonb_build_object('audio', "
          "jsonb_build_object('stored', $2::boolean, 'size_bytes', $3::bigint, 'sha256', "
          "$4::text)) WHERE id = $1"},
         row, stored, a.size_bytes(), a.sha256());
    return v1::APPLY_OUTCOME_APPLIED;  // a reference to the audio; no status change
  }
  if (!ev.has_initiation_failure()) {
    return absl::InvalidArgumentError(Cat("event ", ev.inbox_id(), ": no payload"));
  }
  const auto& f = ev.initiation_failure();
  StatusChange ch = Advance(tx, row, StatusForFailure(f.failure_reason()), type);
  Exec(tx,
       {"call_gateway.event_mark_initiation_failure",
        "UPDATE elevenlabs_conversations SET ended_at = COALESCE(ended_at, now()), "
        "call_sid = COALESCE(call_sid, NULLIF($2, '')) WHERE id = $1"},
       row, f.call_sid());
  InsertError(tx, row, ev.conversation_id(),
              {"webhook", f.failure_reason(), 0,
               Cat("call could not be connected: ", f.failure_reason(),
                   f.provider_status().empty() ? "" : " (", f.provider_status(),
                   f.provider_status().empty() ? "" : ")")});
  if (ch.status == ch.previous_status) {
    // A late failure for a call already final elsewhere (e.g. ended_manually) keeps its error
    // but does not move the call: STALE tells the publisher it was seen and deliberately not
    // applied to the status.
    return v1::APPLY_OUTCOME_STALE;
  }
  changes.push_back(ch);
  return v1::APPLY_OUTCOME_APPLIED;
}

// True for an event the set-based path below applies: a transcription with its payload.
bool IsTranscription(const v1::CallEvent& ev) {
  return ev.type() == v1::EVENT_TYPE_POST_CALL_TRANSCRIPTION && ev.has_transcription() &&
         !ev.conversation_id().empty();
}

// Transcriptions events[begin, end) of distinct conversations (one or many), inside the caller's
// transaction, with one statement per table for all of them: the only way a transcription is
// applied. The conversations are distinct, so their order does not matter; outcomes and changes
// are reported in event order. ElevenLabs timed the call: its start (and start + duration as the
// end) replaces ours, so a clock that differs from ElevenLabs' cannot put the end before the
// start (constraint ended_after_started).
absl::Status ApplyTranscriptionsIn(pqxx::work& tx,
                                   const google::protobuf::RepeatedPtrField<v1::CallEvent>& events,
                                   int begin, int end, std::vector<v1::ApplyOutcome>& outcomes,
                                   std::vector<StatusChange>& changes,
                                   const CallStoreOptions& options) {
  struct Call {
    int64_t row;
    std::string status, phone, call_id;
    int patient_id, appointment_id;
    bool erased;
  };
  boost::json::array ids;
  for (int i = begin; i < end; ++i) ids.emplace_back(events[i].conversation_id());
  std::map<std::string, Call> calls;
  for (const auto& r :
       Exec(tx,
            {"call_gateway.transcriptions_lock_calls",
             "SELECT id, conversation_id, status, COALESCE(patient_id, 0), "
             "COALESCE(appointment_id, 0), phone_number, metadata ? 'erased_at', call_id::text "
             "FROM elevenlabs_conversations WHERE conversation_id IN (SELECT "
             "jsonb_array_elements_text($1::jsonb)) ORDER BY id FOR UPDATE"},
            boost::json::serialize(ids))) {
    calls[r[1].as<std::string>()] = {
        r[0].as<int64_t>(), r[2].as<std::string>(), r[5].as<std::string>(), r[7].as<std::string>(),
        r[3].as<int>(),     r[4].as<int>(),         r[6].as<bool>()};
  }
  // Recorded as applied; those recorded before are duplicates.
  boost::json::array known;
  for (int i = begin; i < end; ++i) {
    auto it = calls.find(events[i].conversation_id());
    if (it != calls.end() && !it->second.erased) {
      known.push_back(
          boost::json::object{{"c", events[i].conversation_id()}, {"i", events[i].inbox_id()}});
    }
  }
  std::set<std::string> fresh;
  if (!known.empty()) {
    for (const auto& r :
         Exec(tx,
              {"call_gateway.transcriptions_claim",
               "INSERT INTO applied_call_events (event_type, conversation_id, inbox_id) SELECT "
               "'post_call_transcription', e->>'c', NULLIF((e->>'i')::bigint, 0) FROM "
               "jsonb_array_elements($1::jsonb) AS e ON CONFLICT DO NOTHING RETURNING "
               "conversation_id"},
              boost::json::serialize(known))) {
      fresh.insert(r[0].as<std::string>());
    }
  }
  std::map<int64_t, std::string> new_status;
  if (!fresh.empty()) {
    boost::json::array rows, turns, analyses, fresh_ids, audio_needs;
    for (int i = begin; i < end; ++i) {
      const auto& ev = events[i];
      if (!fresh.contains(ev.conversation_id())) continue;
      const auto& t = ev.transcription();
      const auto& md = t.metadata();
      const auto& an = t.analysis();
      const int64_t start = md.accepted_time_unix_secs() > 0 ? md.accepted_time_unix_secs()
                                                             : md.start_time_unix_secs();
      // cost: USD (cost_fiat); ElevenLabs' credits go to cost_credits (migration 0007).
      rows.push_back(boost::json::object{
          {"row", calls[ev.conversation_id()].row},
          {"duration", md.call_duration_secs()},
          {"cost", md.has_cost_fiat() && md.cost_fiat() >= 0 ? boost::json::value(md.cost_fiat())
                                                             : boost::json::value(nullptr)},
          {"credits", md.has_cost() ? boost::json::value(md.cost()) : boost::json::value(nullptr)},
          {"term", md.termination_reason()},
          {"succ", an.call_successful()},
          {"sid", md.call_sid()},
          {"start", start}});
      fresh_ids.emplace_back(ev.conversation_id());
      if (options.save_call_audio && t.has_audio()) {
        audio_needs.push_back(boost::json::object{{"row", calls[ev.conversation_id()].row},
                                                  {"conv", ev.conversation_id()}});
      }
      if (t.transcript_size() > 0) {
        turns.push_back(boost::json::object{{"conv", ev.conversation_id()}, {"turns", Turns(t)}});
      }
      analyses.push_back(boost::json::object{
          {"conv", ev.conversation_id()},
          {"succ", an.call_successful()},
          {"summary", an.transcript_summary()},
          {"title", an.call_summary_title()},
          {"dcr", boost::json::parse(ToJson(an.data_collection_results()))},
          {"ecr", boost::json::parse(ToJson(an.evaluation_criteria_results()))}});
    }
    // The status move (forward only, as Advance) and the call's figures in one UPDATE: one
    // firing of the statement-level rollup triggers for the whole run.
    for (const auto& r :
         Exec(tx,
              {"call_gateway.transcriptions_update_calls",
               "UPDATE elevenlabs_conversations c SET status = CASE WHEN "
               "call_status_can_transition(c.status, 'completed') THEN 'completed' ELSE c.status "
               "END, duration_secs = b.duration, cost = COALESCE(b.cost, c.cost), "
               "termination_reason = NULLIF(b.term, ''), call_successful = NULLIF(b.succ, ''), "
               "call_sid = COALESCE(c.call_sid, NULLIF(b.sid, '')), started_at = CASE WHEN "
               "b.start > 0 THEN to_timestamp(b.start) ELSE c.started_at END, "
               "ended_at = COALESCE(CASE WHEN b.start > 0 THEN to_timestamp(b.start + b.duration) "
               "END, c.ended_at), cost_credits = COALESCE(b.credits, c.cost_credits) FROM "
               "jsonb_to_recordset($1::jsonb) AS b(row bigint, duration int, cost numeric, credits "
               "bigint, term text, succ text, sid text, start bigint) WHERE c.id = b.row "
               "RETURNING c.id, c.status"},
              boost::json::serialize(rows))) {
      new_status[r[0].as<int64_t>()] = r[1].as<std::string>();
    }
    // = ANY(ARRAY(...)), not IN (SELECT ...): an index scan even before the table has
    // statistics (a semi-join would be estimated at half the table and seq-scan it).
    Exec(tx,
         {"call_gateway.transcriptions_delete_turns",
          "DELETE FROM elevenlabs_transcriptions WHERE conversation_id = ANY(ARRAY(SELECT "
          "jsonb_array_elements_text($1::jsonb)))"},
         boost::json::serialize(fresh_ids));
    if (!turns.empty()) {
      Exec(tx,
           {"call_gateway.transcriptions_insert_turns",
            "INSERT INTO elevenlabs_transcriptions (conversation_id, turn_index, role, message, "
            "time_in_call_secs, tool_calls, interrupted) SELECT b.conv, (t.n - 1)::int, "
            "t.e->>'role', t.e->>'message', (t.e->>'time_in_call_secs')::int, t.e->'tool_calls', "
            "(t.e->>'interrupted')::boolean FROM jsonb_to_recordset($1::jsonb) AS b(conv text, "
            "turns jsonb), jsonb_array_elements(b.turns) WITH ORDINALITY AS t(e, n)"},
           boost::json::serialize(turns));
    }
    Exec(tx,
         {"call_gateway.transcriptions_upsert_analysis",
          "INSERT INTO elevenlabs_analysis (conversation_id, call_successful, transcript_summary, "
          "call_summary_title, data_collection_results, evaluation_criteria_results) SELECT "
          "b.conv, NULLIF(b.succ, ''), b.summary, NULLIF(b.title, ''), b.dcr, b.ecr FROM "
          "jsonb_to_recordset($1::jsonb) AS b(conv text, succ text, summary text, title text, dcr "
          "jsonb, ecr jsonb) ON CONFLICT (conversation_id) DO UPDATE SET call_successful = "
          "EXCLUDED.call_successful, transcript_summary = EXCLUDED.transcript_summary, "
          "call_summary_title = EXCLUDED.call_summary_title, data_collection_results = "
          "EXCLUDED.data_collection_results, evaluation_criteria_results = "
          "EXCLUDED.evaluation_criteria_results"},
         boost::json::serialize(analyses));
    RecordAudioNeeds(tx, audio_needs);
  }
  // Outcomes, changes and the rest, in event order.
  for (int i = begin; i < end; ++i) {
    const auto& ev = events[i];
    auto it = calls.find(ev.conversation_id());
    if (it == calls.end()) {
      outcomes.push_back(KeepUnmatched(tx, ev, "post_call_transcription"));
      continue;
    }
    if (it->second.erased) {
      outcomes.push_back(SkipErased(tx, ev, "post_call_transcription"));
      continue;
    }
    if (!fresh.contains(ev.conversation_id())) {
      outcomes.push_back(v1::APPLY_OUTCOME_DUPLICATE);
      continue;
    }
    const Call& c = it->second;
    TranscriptionSideEffects(tx, c.row, ev, c.phone, c.patient_id, c.appointment_id);
    const std::string& now = new_status[c.row];
    if (now != c.status) {
      changes.push_back(
          {ev.conversation_id(), c.call_id, now, c.status, "post_call_transcription"});
    }
    outcomes.push_back(v1::APPLY_OUTCOME_APPLIED);
  }
  return absl::OkStatus();
}

// events[begin, end) in order, inside the caller's transaction: each run of transcriptions of
// distinct conversations set-based (ApplyTranscriptionsIn; a lone one is a run of one), anything
// else one by one (ApplyOtherIn).
absl::Status ApplyBatchIn(pqxx::work& tx,
                          const google::protobuf::RepeatedPtrField<v1::CallEvent>& events,
                          int begin, int end, std::vector<v1::ApplyOutcome>& outcomes,
                          std::vector<StatusChange>& changes, const CallStoreOptions& options) {
  for (int i = begin; i < end;) {
    int j = i;
    std::set<std::string> run;
    while (j < end && IsTranscription(events[j]) &&
           run.insert(events[j].conversation_id()).second) {
      ++j;
    }
    if (j > i) {
      if (auto s = ApplyTranscriptionsIn(tx, events, i, j, outcomes, changes, options); !s.ok()) {
        return s;
      }
      i = j;
      continue;
    }
    auto outcome = ApplyOtherIn(tx, events[i], changes);
    if (!outcome.ok()) return outcome.status();
    outcomes.push_back(*outcome);
    ++i;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CallStore::ValidateForApply(const v1::CallEvent& ev) {
  constexpr size_t kMaxLabel = 64;  // the database's limit on roles and verdicts
  if (ev.has_transcription()) {
    const auto& t = ev.transcription();
    for (int i = 0; i < t.transcript_size(); ++i) {
      const auto& turn = t.transcript(i);
      if (turn.time_in_call_secs() < 0) {
        return absl::InvalidArgumentError(
            common::Cat("transcript[", i, "].time_in_call_secs is negative"));
      }
      if (turn.role().size() > kMaxLabel) {
        return absl::InvalidArgumentError(
            common::Cat("transcript[", i, "].role is longer than ", kMaxLabel, " bytes"));
      }
    }
    const auto& md = t.metadata();
    if (md.call_duration_secs() < 0) {
      return absl::InvalidArgumentError("metadata.call_duration_secs is negative");
    }
    if (md.start_time_unix_secs() < 0 || md.accepted_time_unix_secs() < 0) {
      return absl::InvalidArgumentError("metadata start or accepted time is negative");
    }
    if (md.has_cost() && md.cost() < 0) {
      return absl::InvalidArgumentError("metadata.cost is negative");
    }
    // numeric(14,4) in the database: at most 10^10 dollars.
    if (md.has_cost_fiat() && !(md.cost_fiat() >= 0 && md.cost_fiat() < 1e10)) {
      return absl::InvalidArgumentError("metadata.cost_fiat is negative or out of range");
    }
    if (t.analysis().call_successful().size() > kMaxLabel) {
      return absl::InvalidArgumentError(
          common::Cat("analysis.call_successful is longer than ", kMaxLabel, " bytes"));
    }
  }
  if (ev.has_audio() && ev.audio().size_bytes() < 0) {
    return absl::InvalidArgumentError("audio size_bytes is negative");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ApplyOutcome> CallStore::ApplyOne(const v1::CallEvent& ev,
                                                     std::vector<StatusChange>& changes) {
  google::protobuf::RepeatedPtrField<v1::CallEvent> one;
  *one.Add() = ev;
  std::vector<v1::ApplyOutcome> outcomes;
  std::vector<StatusChange> applied;
  auto s = pool_.InTransaction(
      [&](pqxx::work& tx) { return ApplyBatchIn(tx, one, 0, 1, outcomes, applied, options_); });
  if (!s.ok()) return s;
  changes.insert(changes.end(), applied.begin(), applied.end());
  return outcomes.at(0);
}

absl::StatusOr<v1::ApplyOutcome> CallStore::ApplyEvent(const v1::CallEvent& ev,
                                                       std::vector<StatusChange>& changes) {
  if (auto valid = ValidateForApply(ev); !valid.ok()) return valid;
  return ApplyOne(ev, changes);
}

namespace {
// Will the same event fail the same way every time? Then retrying it cannot help.
bool CannotEverApply(const absl::Status& s) {
  return s.code() == absl::StatusCode::kInvalidArgument || common::IsDataError(s);
}
}  // namespace

absl::Status CallStore::ApplyEvents(const google::protobuf::RepeatedPtrField<v1::CallEvent>& events,
                                    std::vector<v1::ApplyOutcome>& outcomes,
                                    std::vector<StatusChange>& changes,
                                    std::map<int, std::string>& rejected) {
  // Each event checked once; one known to be impossible sends the batch straight to the
  // one-by-one path.
  std::vector<absl::Status> valid;
  valid.reserve(events.size());
  bool all_valid = true;
  for (const auto& ev : events) {
    valid.push_back(ValidateForApply(ev));
    all_valid = all_valid && valid.back().ok();
  }
  // The whole batch in one transaction: one commit (one WAL flush) for up to a publisher batch
  // of events, which is what lets the apply keep up with the intake.
  std::vector<v1::ApplyOutcome> batch_outcomes;
  std::vector<StatusChange> batch_changes;
  auto batch = !all_valid ? absl::InvalidArgumentError("invalid event")
                          : pool_.InTransaction([&](pqxx::work& tx) {
                              return ApplyBatchIn(tx, events, 0, events.size(), batch_outcomes,
                                                  batch_changes, options_);
                            });
  if (batch.ok()) {
    outcomes.insert(outcomes.end(), batch_outcomes.begin(), batch_outcomes.end());
    changes.insert(changes.end(), batch_changes.begin(), batch_changes.end());
    return absl::OkStatus();
  }
  // Something in the batch failed and nothing of it was kept: apply the events one by one, in
  // order. One that can never be applied is rejected (its own transaction rolled back) and the
  // rest go on; any other failure stops there, those before it acknowledged, and the publisher
  // retries from it.
  std::set<std::string> blocked;  // conversations with a rejected event in this request
  for (int i = 0; i < events.size(); ++i) {
    const auto& ev = events[i];
    if (blocked.contains(ev.conversation_id())) {
      outcomes.push_back(v1::APPLY_OUTCOME_HELD);  // its conversation's order is kept
      continue;
    }
    absl::StatusOr<v1::ApplyOutcome> outcome =
        valid[i].ok() ? ApplyOne(ev, changes) : absl::StatusOr<v1::ApplyOutcome>(valid[i]);
    if (!outcome.ok()) {
      if (!CannotEverApply(outcome.status())) return outcome.status();
      rejected[i] = std::string(outcome.status().message());
      blocked.insert(ev.conversation_id());
      outcome = v1::APPLY_OUTCOME_REJECTED;
    }
    outcomes.push_back(*outcome);
  }
  return absl::OkStatus();
}

absl::Status CallStore::ReplayUnmatched(const std::string& conversation_id,
                                        std::vector<StatusChange>& changes) {
  auto kept =
      pool_.InAutocommit([&](pqxx::transaction_base& tx)
                             -> absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> {
        std::vector<std::pair<int64_t, std::string>> out;
        for (const auto& r :
             Exec(tx,
                  {"call_gateway.unmatched_pending",
                   "SELECT id, payload::text FROM unmatched_call_events WHERE conversation_id = $1 "
                   "AND resolved_at IS NULL ORDER BY id"},
                  conversation_id)) {
          out.emplace_back(r[0].as<int64_t>(), r[1].as<std::string>());
        }
        return out;
      });
  if (!kept.ok()) return kept.status();
  for (const auto& [kept_id, payload] : *kept) {
    const int64_t id = kept_id;  // a lambda may not capture a structured binding (clang 14)
    v1::CallEvent ev;
    if (!google::protobuf::util::JsonStringToMessage(payload, &ev).ok()) continue;
    auto applied = ApplyOne(ev, changes);
    if (!applied.ok()) return applied.status();
    auto done = pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
      Exec(tx,
           {"call_gateway.unmatched_resolve",
            "UPDATE unmatched_call_events SET resolved_at = now() WHERE id = $1"},
           id);
      return absl::OkStatus();
    });
    if (!done.ok()) return done;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Contact policy

absl::StatusOr<PolicyInputs> CallStore::LoadPolicyInputs(const PolicySubject& subject,
                                                         policy::Channel channel, absl::Time at,
                                                         const ProfileRef* profile) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<PolicyInputs> {
    // One statement: the profile in force (or the one asked for), the zone, the ledger of the 8
    // days up to `at` (a call still live counts as answered: it may be), consents up to `at`, the
    // opt-out, the RNE.
    auto r = Exec1(
        tx,
        {"call_gateway.policy_inputs",
         "SELECT pr.profile_id, pr.version, pr.document, "
         "COALESCE((SELECT time_zone FROM patients WHERE id = $1), "
         "(SELECT clinic_timezone FROM stats_settings), 'America/Bogota'), "
         "COALESCE((SELECT jsonb_agg(jsonb_build_object('at', extract(epoch FROM l.at), "
         "'channel', l.channel, 'purpose', l.purpose, 'answered', l.answered OR l.live)) "
         "FROM contact_ledger l WHERE (l.patient_id = $1 OR l.phone_e164 = $2) "
         "AND l.at > to_timestamp($4::float8) - interval '8 days' "
         "AND l.at <= to_timestamp($4::float8)), '[]'::jsonb)::text, "
         "COALESCE((SELECT jsonb_agg(jsonb_build_object('purpose', c.purpose, 'channel', "
         "c.channel, 'state', c.state, 'reference', COALESCE(c.evidence_ref, ''), 'at', "
         "extract(epoch FROM c.recorded_at)) ORDER BY c.recorded_at, c.id) "
         "FROM patient_consents c WHERE c.patient_id = $1 "
         "AND c.recorded_at <= to_timestamp($4::float8)), '[]'::jsonb)::text, "
         "EXISTS (SELECT 1 FROM call_opt_outs WHERE phone_e164 = $2 OR (patient_id IS NOT NULL "
         "AND patient_id = $1)) OR EXISTS (SELECT 1 FROM patients WHERE id = $1 AND do_not_call), "
         "rne.list_version, rne.list_version IS NOT NULL AND EXISTS (SELECT 1 FROM "
         "excluded_numbers e WHERE e.phone_e164 = $2 AND e.channel = $3 "
         "AND e.list_version = rne.list_version) "
         "FROM (SELECT 1) AS one "
         "LEFT JOIN contact_policy_profiles pr ON CASE WHEN $5::text IS NULL THEN "
         "(pr.profile_id, pr.version) = (SELECT profile_id, version FROM "
         "contact_policy_settings) ELSE pr.profile_id = $5 AND pr.version = $6 END "
         "LEFT JOIN LATERAL (SELECT list_version FROM excluded_number_lists "
         "ORDER BY loaded_at DESC, list_version DESC LIMIT 1) rne ON true"},
        subject.patient_id, subject.phone_e164, std::string(policy::ChannelName(channel)),
        UnixSeconds(at), profile ? std::optional<std::string>(profile->id) : std::nullopt,
        profile ? std::optional<int>(profile->version) : std::nullopt);
    PolicyInputs in;
    if (!r[0].is_null()) {
      in.profile_id = r[0].as<std::string>();
      in.profile_version = r[1].as<int>();
      in.profile_json = r[2].as<std::string>();
    }
    in.time_zone = r[3].as<std::string>();
    auto seconds = [](const boost::json::value& v) {
      return absl::FromUnixMicros(static_cast<int64_t>(v.to_number<double>() * 1e6));
    };
    // Parsed into locals: a range-for over a temporary's member would outlive the temporary.
    const boost::json::value history = boost::json::parse(r[4].as<std::string>());
    const boost::json::value consents = boost::json::parse(r[5].as<std::string>());
    for (const auto& v : history.as_array()) {
      const auto& o = v.as_object();
      policy::LedgerEntry e;
      e.at = seconds(o.at("at"));
      // Names the tables' checks allow are the library's; anything else would be a bug here.
      auto ch = policy::ParseChannel(std::string(o.at("channel").as_string()));
      auto pu = policy::ParsePurpose(std::string(o.at("purpose").as_string()));
      if (!ch.ok() || !pu.ok()) return absl::InternalError("contact ledger holds an unknown name");
      e.channel = *ch;
      e.purpose = *pu;
      e.answered = o.at("answered").as_bool();
      in.history.push_back(e);
    }
    for (const auto& v : consents.as_array()) {
      const auto& o = v.as_object();
      policy::Consent c;
      auto ch = policy::ParseChannel(std::string(o.at("channel").as_string()));
      auto pu = policy::ParsePurpose(std::string(o.at("purpose").as_string()));
      if (!ch.ok() || !pu.ok()) return absl::InternalError("consent ledger holds an unknown name");
      c.channel = *ch;
      c.purpose = *pu;
      c.state = o.at("state").as_string() == "revoked" ? policy::ConsentState::kRevoked
                                                       : policy::ConsentState::kAuthorised;
      c.reference = std::string(o.at("reference").as_string());
      c.recorded_at = seconds(o.at("at"));
      in.consents.push_back(std::move(c));
    }
    in.opted_out = r[6].as<bool>();
    if (!r[7].is_null()) {
      in.excluded_number = policy::ExcludedNumberCheck{r[8].as<bool>(), r[7].as<std::string>()};
    }
    return in;
  });
}

absl::Status CallStore::RecordDecision(const DecisionRecord& d) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::Status {
    Exec(tx,
         {"call_gateway.policy_decision_insert",
          "INSERT INTO policy_decisions (patient_id, purpose, channel, decided_at, allowed, rule, "
          "profile_id, profile_version, override_reason, decided_for, record) VALUES ($1, $2, $3, "
          "to_timestamp($4::float8), $5, NULLIF($6, ''), $7, $8, NULLIF($9, ''), $10, $11::jsonb)"},
         d.patient_id, d.purpose, d.channel, UnixSeconds(d.decided_at), d.allowed, d.rule,
         d.profile_id, d.profile_version, d.override_reason, d.decided_for,
         d.record_json.empty() ? std::string("{}") : d.record_json);
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> CallStore::AppendConsent(const ConsentRecord& c) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<int64_t> {
    auto r =
        Exec1(tx,
              {"call_gateway.consent_append",
               "INSERT INTO patient_consents (patient_id, purpose, channel, state, source, "
               "text_version, evidence_ref, recorded_at, recorded_by) VALUES ($1, $2, $3, $4, "
               "$5, NULLIF($6, ''), NULLIF($7, ''), to_timestamp($8::float8), $9) RETURNING id"},
              c.patient_id, c.purpose, c.channel, c.state, c.source, c.text_version, c.evidence_ref,
              UnixSeconds(c.recorded_at), c.recorded_by);
    return r[0].as<int64_t>();
  });
}

absl::StatusOr<std::pair<int64_t, bool>> CallStore::AppendContact(const ContactRecord& c) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx)
                                -> absl::StatusOr<std::pair<int64_t, bool>> {
    // A retry of the same contact (source and external_ref) finds the first row.
    auto r = Exec(
        tx,
        {"call_gateway.contact_append",
         "WITH ins AS (INSERT INTO contact_records (patient_id, phone_e164, channel, purpose, "
         "at, answered, outcome, source, external_ref, recorded_by) VALUES ($1, NULLIF($2, ''), "
         "$3, $4, to_timestamp($5::float8), $6, NULLIF($7, ''), $8, NULLIF($9, ''), $10) "
         "ON CONFLICT (source, external_ref) DO NOTHING RETURNING id) "
         "SELECT id, false FROM ins UNION ALL SELECT id, true FROM contact_records WHERE "
         "source = $8 AND external_ref = NULLIF($9, '') AND NOT EXISTS (SELECT 1 FROM ins)"},
        c.patient_id, c.phone_e164, c.channel, c.purpose, UnixSeconds(c.at), c.answered, c.outcome,
        c.source, c.external_ref, c.recorded_by);
    if (r.empty()) return absl::InternalError("contact not recorded");
    return std::make_pair(r[0][0].as<int64_t>(), r[0][1].as<bool>());
  });
}

absl::StatusOr<std::vector<EvidenceRecord>> CallStore::Evidence(const EvidenceQuery& q) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx)
                                -> absl::StatusOr<std::vector<EvidenceRecord>> {
    auto r = Exec(
        tx,
        {"call_gateway.evidence",
         "SELECT d.id, extract(epoch FROM d.decided_at)::float8, d.patient_id, "
         "COALESCE(c.phone_number, ''), d.purpose, d.channel, d.allowed, COALESCE(d.rule, ''), "
         "d.profile_id, d.profile_version, COALESCE(d.override_reason, ''), d.decided_for, "
         "COALESCE(d.record->'consent'->>'reference', ''), "
         "COALESCE(d.record->'excluded_number'->>'list_version', ''), "
         "COALESCE(c.call_id::text, ''), COALESCE(c.status, 'refused'), "
         "CASE WHEN c.metadata ? 'erased_at' THEN 'erased' WHEN c.metadata ? "
         "'retention_purged_at' THEN 'purged' ELSE 'kept' END "
         "FROM policy_decisions d LEFT JOIN elevenlabs_conversations c ON c.id = d.call_row_id "
         "WHERE ($1::int IS NULL OR d.patient_id = $1) "
         "AND d.decided_at >= to_timestamp($2::float8) AND d.decided_at < to_timestamp($3::float8) "
         "AND d.id > $4 ORDER BY d.id LIMIT $5"},
        q.patient_id, UnixSeconds(q.from), UnixSeconds(q.to), q.after_id, q.limit);
    std::vector<EvidenceRecord> out;
    out.reserve(r.size());
    for (const auto& row : r) {
      EvidenceRecord e;
      e.decision_id = row[0].as<int64_t>();
      e.decided_at = absl::FromUnixMicros(static_cast<int64_t>(row[1].as<double>() * 1e6));
      if (!row[2].is_null()) e.patient_id = row[2].as<int>();
      e.phone_e164 = row[3].as<std::string>();
      e.purpose = row[4].as<std::string>();
      e.channel = row[5].as<std::string>();
      e.allowed = row[6].as<bool>();
      e.rule = row[7].as<std::string>();
      e.profile_id = row[8].as<std::string>();
      e.profile_version = row[9].as<int>();
      e.override_reason = row[10].as<std::string>();
      e.decided_for = row[11].as<std::string>();
      e.consent_reference = row[12].as<std::string>();
      e.excluded_list_version = row[13].as<std::string>();
      e.call_id = row[14].as<std::string>();
      e.outcome = row[15].as<std::string>();
      e.retention = row[16].as<std::string>();
      out.push_back(std::move(e));
    }
    return out;
  });
}

absl::StatusOr<RetentionPass> CallStore::PurgeRetention(int limit) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<RetentionPass> {
    auto r = Exec1(
        tx,
        {"call_gateway.retention_purge",
         "WITH due AS (SELECT c.id, c.conversation_id, "
         "(rp.transcript_days IS NOT NULL AND c.ended_at < now() - make_interval(days => "
         "rp.transcript_days)) AS t, "
         "(rp.audio_days IS NOT NULL AND c.ended_at < now() - make_interval(days => "
         "rp.audio_days)) AS a "
         "FROM elevenlabs_conversations c JOIN retention_policies rp ON rp.purpose = "
         "c.contact_purpose WHERE c.ended_at IS NOT NULL AND c.conversation_id IS NOT NULL "
         "AND call_status_is_final(c.status) AND ("
         "(rp.transcript_days IS NOT NULL AND c.ended_at < now() - make_interval(days => "
         "rp.transcript_days) AND (EXISTS (SELECT 1 FROM elevenlabs_transcriptions x WHERE "
         "x.conversation_id = c.conversation_id) OR EXISTS (SELECT 1 FROM webhook_inbox w WHERE "
         "w.conversation_id = c.conversation_id AND length(w.body) > 0))) "
         "OR (rp.audio_days IS NOT NULL AND c.ended_at < now() - make_interval(days => "
         "rp.audio_days) AND EXISTS (SELECT 1 FROM elevenlabs_audio x WHERE x.conversation_id = "
         "c.conversation_id))) "
         "ORDER BY c.ended_at LIMIT $1 FOR UPDATE OF c SKIP LOCKED), "
         "t AS (DELETE FROM elevenlabs_transcriptions x USING due WHERE due.t AND "
         "x.conversation_id = due.conversation_id RETURNING 1), "
         "a AS (DELETE FROM elevenlabs_audio x USING due WHERE due.a AND x.conversation_id = "
         "due.conversation_id RETURNING 1), "
         "n AS (DELETE FROM call_audio_recovery x USING due WHERE due.a AND x.call_row_id = "
         "due.id RETURNING 1), "
         "w AS (UPDATE webhook_inbox w SET body = ''::bytea, body_truncated = true, "
         "published_at = COALESCE(w.published_at, now()) FROM due WHERE due.t AND "
         "w.conversation_id = due.conversation_id AND length(w.body) > 0 RETURNING 1), "
         "m AS (UPDATE elevenlabs_conversations c SET metadata = c.metadata || "
         "jsonb_build_object('retention_purged_at', now()) FROM due WHERE c.id = due.id "
         "RETURNING 1), "
         "counts AS (SELECT (SELECT count(*) FROM m)::int AS calls, (SELECT count(*) FROM "
         "t)::int AS turns, (SELECT count(*) FROM a)::int AS recordings, (SELECT count(*) FROM "
         "w)::int AS bodies, (SELECT count(*) FROM n) AS needs), "
         "run AS (INSERT INTO retention_runs (calls, transcript_turns, recordings, inbox_bodies) "
         "SELECT calls, turns, recordings, bodies FROM counts WHERE calls > 0 RETURNING 1) "
         "SELECT calls, turns, recordings, bodies, (SELECT count(*) FROM run) FROM counts"},
        limit);
    return RetentionPass{r[0].as<int>(), r[1].as<int>(), r[2].as<int>(), r[3].as<int>()};
  });
}

absl::Status CallStore::EnsureProfile(const std::string& id, int version,
                                      const std::string& document) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::Status {
    Exec(tx,
         {"call_gateway.profile_ensure",
          "INSERT INTO contact_policy_profiles (profile_id, version, document, created_by) "
          "VALUES ($1, $2, $3, 'call-gateway') ON CONFLICT (profile_id, version) DO NOTHING"},
         id, version, document);
    auto same = Exec1(tx,
                      {"call_gateway.profile_same",
                       "SELECT document = $3 FROM contact_policy_profiles WHERE profile_id = $1 "
                       "AND version = $2"},
                      id, version, document);
    if (!same[0].as<bool>()) {
      return absl::FailedPreconditionError(
          Cat("contact-policy profile ", id, " v", version,
              " is stored with another text than this build's: a released version never "
              "changes; give the new text a new version"));
    }
    return absl::OkStatus();
  });
}

}  // namespace outcall::call_gateway
