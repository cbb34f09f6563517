// The ClinicSync RPCs as plain logic: each row of a batch is checked field by field (required
// ids and names, the phone normalised as everywhere, a real time zone, a known status, an
// appointment time) and refused with its index, field and reason while the valid rows go to the
// store in one transaction; FHIR R4 resources are mapped by outcall::fhir onto the same path.
// Blocking (database): run on a worker thread. No gRPC here.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "outcall/common/clock.h"
#include "outcall/v1/sync.pb.h"
#include "sync_store.h"

namespace outcall::call_gateway {

struct ClinicSyncOptions {
  std::string default_country_code = "57";
  int max_rows_per_request = 5000;
};

class ClinicSync {
 public:
  ClinicSync(ClinicSyncOptions options, SyncStore& store, const common::Clock& clock)
      : options_(std::move(options)), store_(store), clock_(clock) {}

  absl::StatusOr<v1::SyncResponse> UpsertPatients(const v1::UpsertPatientsRequest& request);
  absl::StatusOr<v1::SyncResponse> UpsertAppointments(
      const v1::UpsertAppointmentsRequest& request);
  absl::StatusOr<v1::SyncResponse> ImportFhir(const v1::ImportFhirRequest& request);

  absl::StatusOr<v1::SyncedPatient> GetPatient(const v1::GetSyncedRequest& request);
  absl::StatusOr<v1::ListSyncedPatientsResponse> ListPatients(const v1::ListSyncedRequest& request);
  absl::StatusOr<v1::DeleteSyncedResponse> DeletePatient(const v1::GetSyncedRequest& request);
  absl::StatusOr<v1::SyncedAppointment> GetAppointment(const v1::GetSyncedRequest& request);
  absl::StatusOr<v1::ListSyncedAppointmentsResponse> ListAppointments(
      const v1::ListSyncedRequest& request);
  absl::StatusOr<v1::SyncedAppointment> CancelAppointment(
      const v1::CancelAppointmentRequest& request);
  absl::StatusOr<v1::DeleteSyncedResponse> DeleteAppointment(const v1::GetSyncedRequest& request);
  absl::StatusOr<google::protobuf::Struct> GetFhirAppointment(const v1::GetSyncedRequest& request);
  absl::StatusOr<google::protobuf::Struct> GetFhirPatient(const v1::GetSyncedRequest& request);

  static v1::SyncedPatient ToProto(const PatientRecord& p);
  static v1::SyncedAppointment ToProto(const AppointmentRecord& a);

 private:
  ClinicSyncOptions options_;
  SyncStore& store_;
  const common::Clock& clock_;
};

}  // namespace outcall::call_gateway
