// The clinic's patients and appointments in PostgreSQL, keyed by the clinic's ids (external_ref;
// migration 0023). A batch is one transaction: the existing rows are read and locked, the caller
// (clinic_sync.h) decides each row's fate, and the rows to write go in one INSERT ... ON CONFLICT
// statement, so thousands of rows cost three round trips. Rows are locked and written in one order
// (ids, then refs), so two batches over the same rows wait for each other rather than deadlock
// (a deadlock that still happens is ABORTED: the batch may be sent again). The effects on
// campaign queues of an appointment canceled, moved or deleted are the triggers of 0023, in the
// same transaction.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "outcall/common/pg_pool.h"

namespace outcall::call_gateway {

struct PatientRecord {
  int id = 0;
  std::string external_ref, full_name, phone_e164, time_zone;
  bool do_not_call = false;
  bool opted_out = false;
  bool erased = false;
  absl::Time created_at, updated_at;
};

struct AppointmentRecord {
  int id = 0;
  std::string external_ref;
  int patient_id = 0;
  std::string patient_external_ref;
  absl::Time scheduled_at;
  std::string doctor_name, specialty, location, status;
  std::optional<absl::Time> confirmed_at;
  std::string reschedule_preference;
  absl::Time created_at, updated_at;
};

// What a batch writes for one row (already validated and normalised).
struct PatientWrite {
  std::string external_ref, full_name, phone_e164, time_zone;
  std::optional<bool> do_not_call;  // unset: as it is
};

struct AppointmentWrite {
  std::string external_ref, patient_external_ref;
  absl::Time scheduled_at;
  std::string doctor_name, specialty, location;
  std::string status;  // "" = scheduled when new, as it is otherwise
};

// One row's fate: created, updated, unchanged, or refused with the field and the reason.
struct SyncOutcome {
  std::string outcome;
  int id = 0;
  std::string field, error;
};

struct SyncPage {
  std::optional<absl::Time> updated_since, from, to;
  std::string patient_external_ref, status;
  int64_t after_id = 0;
  int limit = 100;
};

class SyncStore {
 public:
  explicit SyncStore(common::PgPool& pool) : pool_(pool) {}

  // Outcomes in the order of `rows`. A patient erased at their request (Ley 1581) is refused,
  // not re-created.
  absl::StatusOr<std::vector<SyncOutcome>> UpsertPatients(const std::vector<PatientWrite>& rows);
  // A row whose patient is unknown or erased is refused. An explicit "scheduled" does not undo a
  // confirmation or a reschedule request a call recorded for the same time; a moved appointment
  // loses its confirmation (the patient confirmed the old time).
  absl::StatusOr<std::vector<SyncOutcome>> UpsertAppointments(
      const std::vector<AppointmentWrite>& rows, absl::Time now);

  absl::StatusOr<PatientRecord> GetPatient(const std::string& external_ref);
  absl::StatusOr<std::vector<PatientRecord>> ListPatients(const SyncPage& page);
  // NOT_FOUND when there is none. The count of queued campaign calls that ended canceled.
  absl::StatusOr<int> DeletePatient(const std::string& external_ref);

  absl::StatusOr<AppointmentRecord> GetAppointment(const std::string& external_ref);
  absl::StatusOr<std::vector<AppointmentRecord>> ListAppointments(const SyncPage& page);
  absl::StatusOr<std::pair<AppointmentRecord, int>> CancelAppointment(
      const std::string& external_ref);
  absl::StatusOr<int> DeleteAppointment(const std::string& external_ref);

 private:
  common::PgPool& pool_;
};

}  // namespace outcall::call_gateway
