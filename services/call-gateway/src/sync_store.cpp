#include "sync_store.h"

#include <boost/json.hpp>
#include <map>
#include <pqxx/pqxx>

#include "outcall/common/pg_time.h"
#include "outcall/common/strings.h"

namespace outcall::call_gateway {

using common::Exec;
using common::Exec1;
using common::PgEpoch;
using common::PgInstant;

namespace {

#define PATIENT_SELECT                                                                           \
  "SELECT p.id, p.external_ref, COALESCE(p.full_name, ''), COALESCE(p.phone_e164, ''), "         \
  "COALESCE(p.time_zone, ''), p.do_not_call, EXISTS (SELECT 1 FROM call_opt_outs o WHERE "       \
  "o.phone_e164 = p.phone_e164), p.erased_at IS NOT NULL, extract(epoch from "                   \
  "p.created_at)::float8, extract(epoch from p.updated_at)::float8 FROM patients p "

#define APPOINTMENT_SELECT                                                                       \
  "SELECT a.id, a.external_ref, a.patient_id, COALESCE(p.external_ref, ''), extract(epoch from " \
  "a.scheduled_at)::float8, COALESCE(a.doctor_name, ''), COALESCE(a.specialty, ''), "            \
  "COALESCE(a.location, ''), a.status, extract(epoch from a.confirmed_at)::float8, "             \
  "COALESCE(a.reschedule_preference, ''), extract(epoch from a.created_at)::float8, "            \
  "extract(epoch from a.updated_at)::float8 FROM appointments a JOIN patients p ON p.id = "      \
  "a.patient_id "

constexpr common::PgStatement kLockAppointment{
    "sync.lock_appointment",
    "SELECT id, patient_id FROM appointments WHERE external_ref = $1 FOR UPDATE"};

absl::Time At(const pqxx::field& f) { return PgInstant(f).value_or(absl::UnixEpoch()); }

PatientRecord ReadPatient(const pqxx::row& r) {
  PatientRecord p;
  p.id = r[0].as<int>();
  p.external_ref = r[1].is_null() ? "" : r[1].as<std::string>();
  p.full_name = r[2].as<std::string>();
  p.phone_e164 = r[3].as<std::string>();
  p.time_zone = r[4].as<std::string>();
  p.do_not_call = r[5].as<bool>();
  p.opted_out = r[6].as<bool>();
  p.erased = r[7].as<bool>();
  p.created_at = At(r[8]);
  p.updated_at = At(r[9]);
  return p;
}

AppointmentRecord ReadAppointment(const pqxx::row& r) {
  AppointmentRecord a;
  a.id = r[0].as<int>();
  a.external_ref = r[1].is_null() ? "" : r[1].as<std::string>();
  a.patient_id = r[2].as<int>();
  a.patient_external_ref = r[3].as<std::string>();
  a.scheduled_at = At(r[4]);
  a.doctor_name = r[5].as<std::string>();
  a.specialty = r[6].as<std::string>();
  a.location = r[7].as<std::string>();
  a.status = r[8].as<std::string>();
  a.confirmed_at = PgInstant(r[9]);
  a.reschedule_preference = r[10].as<std::string>();
  a.created_at = At(r[11]);
  a.updated_at = At(r[12]);
  return a;
}

std::string RefsJson(const std::vector<std::string>& refs) {
  boost::json::array a;
  a.reserve(refs.size());
  for (const auto& r : refs) a.emplace_back(r);
  return boost::json::serialize(a);
}

std::optional<std::string> OrNull(const std::string& s) {
  if (s.empty()) return std::nullopt;
  return s;
}

// Campaign calls not yet dialled that a deletion or cancellation will end (the triggers do it).
int QueuedCalls(pqxx::transaction_base& tx, int patient_id, std::optional<int> appointment_id) {
  if (appointment_id) {
    return Exec1(tx,
                 {"sync.queued_for_appointment",
                  "SELECT count(*)::int FROM campaign_recipients WHERE appointment_id = $1 AND "
                  "state IN ('pending', 'scheduled')"},
                 *appointment_id)[0]
        .as<int>();
  }
  return Exec1(tx,
               {"sync.queued_for_patient",
                "SELECT count(*)::int FROM campaign_recipients WHERE (patient_id = $1 OR "
                "appointment_id IN (SELECT id FROM appointments WHERE patient_id = $1)) AND state "
                "IN ('pending', 'scheduled')"},
               patient_id)[0]
      .as<int>();
}

}  // namespace

absl::StatusOr<std::vector<SyncOutcome>> SyncStore::UpsertPatients(
    const std::vector<PatientWrite>& rows) {
  std::vector<SyncOutcome> out(rows.size());
  if (rows.empty()) return out;
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<std::vector<SyncOutcome>> {
    std::vector<std::string> refs;
    refs.reserve(rows.size());
    for (const auto& r : rows) refs.push_back(r.external_ref);
    std::map<std::string, PatientRecord> current;
    for (const auto& r : Exec(tx,
                              {"sync.lock_patients",
                               PATIENT_SELECT "WHERE p.external_ref IN (SELECT jsonb_array_elements_text("
                                              "$1::jsonb)) ORDER BY p.id FOR UPDATE OF p"},
                              RefsJson(refs))) {
      PatientRecord p = ReadPatient(r);
      current.emplace(p.external_ref, std::move(p));
    }
    boost::json::array batch;
    std::vector<size_t> written;  // index into rows of each batch element
    for (size_t i = 0; i < rows.size(); ++i) {
      const PatientWrite& w = rows[i];
      auto it = current.find(w.external_ref);
      if (it != current.end()) {
        const PatientRecord& c = it->second;
        if (c.erased) {
          out[i] = {.outcome = "refused", .id = c.id, .field = "externalRef",
                    .error = "this patient's data was erased at their request (Ley 1581); it is "
                             "not re-created"};
          continue;
        }
        const bool dnc = w.do_not_call.value_or(c.do_not_call);
        if (c.full_name == w.full_name && c.phone_e164 == w.phone_e164 &&
            c.time_zone == w.time_zone && c.do_not_call == dnc) {
          out[i] = {.outcome = "unchanged", .id = c.id, .field = {}, .error = {}};
          continue;
        }
        batch.push_back({{"ref", w.external_ref}, {"name", w.full_name},
                         {"phone", w.phone_e164}, {"tz", w.time_zone}, {"dnc", dnc}});
      } else {
        batch.push_back({{"ref", w.external_ref}, {"name", w.full_name},
                         {"phone", w.phone_e164}, {"tz", w.time_zone},
                         {"dnc", w.do_not_call.value_or(false)}});
      }
      written.push_back(i);
    }
    if (!batch.empty()) {
      std::map<std::string, std::pair<int, bool>> done;  // ref -> (id, inserted)
      for (const auto& r :
           Exec(tx,
                {"sync.upsert_patients",
                 "INSERT INTO patients AS p (external_ref, full_name, phone_e164, time_zone, "
                 "do_not_call) SELECT t.ref, t.name, t.phone, NULLIF(t.tz, ''), t.dnc FROM "
                 "jsonb_to_recordset($1::jsonb) AS t(ref text, name text, phone text, tz text, "
                 "dnc boolean) ORDER BY t.ref ON CONFLICT (external_ref) DO UPDATE SET full_name = "
                 "EXCLUDED.full_name, phone_e164 = EXCLUDED.phone_e164, time_zone = "
                 "EXCLUDED.time_zone, do_not_call = EXCLUDED.do_not_call RETURNING p.id, "
                 "p.external_ref, (p.xmax = 0)"},
                boost::json::serialize(batch))) {
        done[r[1].as<std::string>()] = {r[0].as<int>(), r[2].as<bool>()};
      }
      for (size_t i : written) {
        auto it = done.find(rows[i].external_ref);
        if (it == done.end()) return absl::AbortedError("a patient changed during the batch; retry");
        out[i] = {.outcome = it->second.second ? "created" : "updated", .id = it->second.first, .field = {}, .error = {}};
      }
    }
    return out;
  });
}

absl::StatusOr<std::vector<SyncOutcome>> SyncStore::UpsertAppointments(
    const std::vector<AppointmentWrite>& rows, absl::Time now) {
  std::vector<SyncOutcome> out(rows.size());
  if (rows.empty()) return out;
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<std::vector<SyncOutcome>> {
    std::vector<std::string> refs, patient_refs;
    for (const auto& r : rows) {
      refs.push_back(r.external_ref);
      patient_refs.push_back(r.patient_external_ref);
    }
    std::map<std::string, std::pair<int, bool>> patients;  // ref -> (id, erased)
    for (const auto& r : Exec(tx,
                              {"sync.patient_ids",
                               "SELECT external_ref, id, erased_at IS NOT NULL FROM patients "
                               "WHERE external_ref IN (SELECT jsonb_array_elements_text($1::jsonb))"},
                              RefsJson(patient_refs))) {
      patients[r[0].as<std::string>()] = {r[1].as<int>(), r[2].as<bool>()};
    }
    std::map<std::string, AppointmentRecord> current;
    for (const auto& r :
         Exec(tx,
              {"sync.lock_appointments",
               APPOINTMENT_SELECT "WHERE a.external_ref IN (SELECT jsonb_array_elements_text("
                                  "$1::jsonb)) ORDER BY a.id FOR UPDATE OF a"},
              RefsJson(refs))) {
      AppointmentRecord a = ReadAppointment(r);
      current.emplace(a.external_ref, std::move(a));
    }
    boost::json::array batch;
    std::vector<size_t> written;
    for (size_t i = 0; i < rows.size(); ++i) {
      const AppointmentWrite& w = rows[i];
      auto p = patients.find(w.patient_external_ref);
      if (p == patients.end()) {
        out[i] = {.outcome = "refused", .field = "patientExternalRef",
                  .error = common::Cat("no patient with externalRef \"", w.patient_external_ref,
                                       "\": sync the patient first")};
        continue;
      }
      if (p->second.second) {
        out[i] = {.outcome = "refused", .field = "patientExternalRef",
                  .error = "the patient's data was erased at their request (Ley 1581)"};
        continue;
      }
      // The status and confirmation the row ends with.
      std::string status = w.status.empty() ? "scheduled" : w.status;
      std::optional<absl::Time> confirmed_at;
      if (status == "confirmed") confirmed_at = now;
      auto it = current.find(w.external_ref);
      if (it != current.end()) {
        const AppointmentRecord& c = it->second;
        const bool moved = c.scheduled_at != w.scheduled_at;
        if (w.status.empty()) {
          status = moved && (c.status == "confirmed" || c.status == "reschedule_requested")
                       ? "scheduled"
                       : c.status;
        } else if (w.status == "scheduled" && !moved &&
                   (c.status == "confirmed" || c.status == "reschedule_requested")) {
          status = c.status;  // what the patient said about this time stands
        }
        confirmed_at = status == "confirmed" ? (c.confirmed_at && !moved ? c.confirmed_at
                                                                          : std::optional(now))
                                             : std::nullopt;
        if (!moved && c.patient_id == p->second.first && c.doctor_name == w.doctor_name &&
            c.specialty == w.specialty && c.location == w.location && c.status == status) {
          out[i] = {.outcome = "unchanged", .id = c.id, .field = {}, .error = {}};
          continue;
        }
      }
      boost::json::object o{{"ref", w.external_ref},
                            {"pid", p->second.first},
                            {"at", PgEpoch(w.scheduled_at)},
                            {"doctor", w.doctor_name},
                            {"specialty", w.specialty},
                            {"location", w.location},
                            {"status", status}};
      if (confirmed_at) o["confirmed"] = PgEpoch(*confirmed_at);
      batch.push_back(std::move(o));
      written.push_back(i);
    }
    if (!batch.empty()) {
      std::map<std::string, std::pair<int, bool>> done;
      for (const auto& r :
           Exec(tx,
                {"sync.upsert_appointments",
                 "INSERT INTO appointments AS a (external_ref, patient_id, scheduled_at, "
                 "doctor_name, specialty, location, status, confirmed_at) SELECT t.ref, t.pid, "
                 "to_timestamp(t.at), NULLIF(t.doctor, ''), NULLIF(t.specialty, ''), "
                 "NULLIF(t.location, ''), t.status, to_timestamp(t.confirmed) FROM "
                 "jsonb_to_recordset($1::jsonb) AS t(ref text, pid int, at float8, doctor text, "
                 "specialty text, location text, status text, confirmed float8) ORDER BY t.ref ON "
                 "CONFLICT "
                 "(external_ref) DO UPDATE SET patient_id = EXCLUDED.patient_id, scheduled_at = "
                 "EXCLUDED.scheduled_at, doctor_name = EXCLUDED.doctor_name, specialty = "
                 "EXCLUDED.specialty, location = EXCLUDED.location, status = EXCLUDED.status, "
                 "confirmed_at = EXCLUDED.confirmed_at, reschedule_preference = CASE WHEN "
                 "EXCLUDED.status = 'reschedule_requested' THEN a.reschedule_preference END "
                 "RETURNING a.id, a.external_ref, (a.xmax = 0)"},
                boost::json::serialize(batch))) {
        done[r[1].as<std::string>()] = {r[0].as<int>(), r[2].as<bool>()};
      }
      for (size_t i : written) {
        auto it = done.find(rows[i].external_ref);
        if (it == done.end()) {
          return absl::AbortedError("an appointment changed during the batch; retry");
        }
        out[i] = {.outcome = it->second.second ? "created" : "updated", .id = it->second.first, .field = {}, .error = {}};
      }
    }
    return out;
  });
}

absl::StatusOr<PatientRecord> SyncStore::GetPatient(const std::string& external_ref) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<PatientRecord> {
    auto r = Exec(tx, {"sync.get_patient", PATIENT_SELECT "WHERE p.external_ref = $1"},
                  external_ref);
    if (r.empty()) return absl::NotFoundError("no patient with this externalRef");
    return ReadPatient(r[0]);
  });
}

absl::StatusOr<std::vector<PatientRecord>> SyncStore::ListPatients(const SyncPage& page) {
  return pool_.InAutocommit(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<PatientRecord>> {
        std::vector<PatientRecord> out;
        for (const auto& r :
             Exec(tx,
                  {"sync.list_patients",
                   PATIENT_SELECT "WHERE p.external_ref IS NOT NULL AND p.id > $1 AND ($2::float8 "
                                  "IS NULL OR p.updated_at >= to_timestamp($2::float8)) ORDER BY "
                                  "p.id LIMIT $3"},
                  page.after_id, PgEpoch(page.updated_since), page.limit)) {
          out.push_back(ReadPatient(r));
        }
        return out;
      });
}

absl::StatusOr<int> SyncStore::DeletePatient(const std::string& external_ref) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<int> {
    auto r = Exec(tx,
                  {"sync.lock_patient",
                   "SELECT id FROM patients WHERE external_ref = $1 FOR UPDATE"},
                  external_ref);
    if (r.empty()) return absl::NotFoundError("no patient with this externalRef");
    const int id = r[0][0].as<int>();
    const int queued = QueuedCalls(tx, id, std::nullopt);
    Exec(tx, {"sync.delete_patient", "DELETE FROM patients WHERE id = $1"}, id);
    return queued;
  });
}

absl::StatusOr<AppointmentRecord> SyncStore::GetAppointment(const std::string& external_ref) {
  return pool_.InAutocommit([&](pqxx::transaction_base& tx) -> absl::StatusOr<AppointmentRecord> {
    auto r = Exec(tx, {"sync.get_appointment", APPOINTMENT_SELECT "WHERE a.external_ref = $1"},
                  external_ref);
    if (r.empty()) return absl::NotFoundError("no appointment with this externalRef");
    return ReadAppointment(r[0]);
  });
}

absl::StatusOr<std::vector<AppointmentRecord>> SyncStore::ListAppointments(const SyncPage& page) {
  return pool_.InAutocommit(
      [&](pqxx::transaction_base& tx) -> absl::StatusOr<std::vector<AppointmentRecord>> {
        std::vector<AppointmentRecord> out;
        for (const auto& r : Exec(
                 tx,
                 {"sync.list_appointments",
                  APPOINTMENT_SELECT
                  "WHERE a.external_ref IS NOT NULL AND a.id > $1 AND ($2::float8 IS NULL OR "
                  "a.updated_at >= to_timestamp($2::float8)) AND ($3 = '' OR p.external_ref = $3) "
                  "AND ($4::float8 IS NULL OR a.scheduled_at >= to_timestamp($4::float8)) AND "
                  "($5::float8 IS NULL OR a.scheduled_at < to_timestamp($5::float8)) AND ($6 = '' "
                  "OR a.status = $6) ORDER BY a.id LIMIT $7"},
                 page.after_id, PgEpoch(page.updated_since), page.patient_external_ref,
                 PgEpoch(page.from), PgEpoch(page.to), page.status, page.limit)) {
          out.push_back(ReadAppointment(r));
        }
        return out;
      });
}

absl::StatusOr<std::pair<AppointmentRecord, int>> SyncStore::CancelAppointment(
    const std::string& external_ref) {
  return pool_.InTransaction(
      [&](pqxx::work& tx) -> absl::StatusOr<std::pair<AppointmentRecord, int>> {
        auto r = Exec(tx, kLockAppointment, external_ref);
        if (r.empty()) return absl::NotFoundError("no appointment with this externalRef");
        const int id = r[0][0].as<int>();
        const int queued = QueuedCalls(tx, r[0][1].as<int>(), id);
        Exec(tx,
             {"sync.cancel_appointment",
              "UPDATE appointments SET status = 'canceled', confirmed_at = NULL WHERE id = $1"},
             id);
        return std::make_pair(
            ReadAppointment(
                Exec1(tx, {"sync.appointment_by_id", APPOINTMENT_SELECT "WHERE a.id = $1"}, id)),
            queued);
      });
}

absl::StatusOr<int> SyncStore::DeleteAppointment(const std::string& external_ref) {
  return pool_.InTransaction([&](pqxx::work& tx) -> absl::StatusOr<int> {
    auto r = Exec(tx, kLockAppointment, external_ref);
    if (r.empty()) return absl::NotFoundError("no appointment with this externalRef");
    const int id = r[0][0].as<int>();
    const int queued = QueuedCalls(tx, r[0][1].as<int>(), id);
    Exec(tx, {"sync.delete_appointment", "DELETE FROM appointments WHERE id = $1"}, id);
    return queued;
  });
}

}  // namespace outcall::call_gateway
