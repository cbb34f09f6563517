// FHIR R4 (hl7.org/fhir/R4) to and from outcall's clinic sync (proto/outcall/v1/sync.proto):
// Patient and Appointment resources, alone or in a Bundle, read into UpsertPatients and
// UpsertAppointments requests; outcall's synced patients and appointments written back as FHIR
// resources. Pure: no I/O, no clock (the caller passes `now`), no normalisation (the phone number
// is passed on as written; call-gateway normalises and validates every row as for any other
// source). docs/fhir.md has the whole mapping with examples.
//
// Reading (FromFhir):
//   Patient.id (else the first identifier.value)  -> external_ref
//   Patient.name: the `official` one among those in use (use != old, period not ended), else the
//     first in use, else the first: its text, else given... family  -> full_name
//   Patient.telecom: system phone (else sms), in use (use != old, period current); use mobile
//     first, then the lowest rank, then document order  -> phone
//   Patient.deceased[x] (true or a date) or active false  -> do_not_call true (never set false:
//     a number marked do-not-call by the clinic's staff stays so)
//   Appointment.id (else the first identifier.value)  -> external_ref
//   Appointment.participant: actor Patient (reference "Patient/<id>", a Bundle entry's fullUrl,
//     or type Patient with an identifier)  -> patient_external_ref; actor Practitioner (else
//     PractitionerRole) .display -> doctor_name; actor Location .display -> location. An actor's
//     kind comes from its reference ("Practitioner/7", "https://host/fhir/Location/3") or, for a
//     display-only reference, its `type`.
//   Appointment.start (an instant: it must carry Z or an offset)  -> scheduled_at
//   Appointment.serviceType[0] (else specialty[0]): text, else coding[0].display  -> specialty
//   Appointment.status  -> status (FHIR -> outcall):
//     proposed, pending, booked, waitlist   -> scheduled
//       booked with the patient participant's status accepted -> confirmed
//     arrived, checked-in, fulfilled        -> completed
//     cancelled, entered-in-error           -> canceled
//     noshow                                -> no_show
//     absent                                -> "" (scheduled when new, unchanged otherwise)
// A resource that cannot be mapped is refused (FhirImport::refused) with the FHIR path at fault;
// one with a modifierExtension is refused too (FHIR: a modifier that is not understood must not
// be skipped). Elements present but not mapped are listed in FhirImport::ignored.
//
// Writing (PatientToFhir, AppointmentToFhir; outcall -> FHIR):
//   scheduled              -> booked,    patient participant needs-action
//   confirmed              -> booked,    patient participant accepted
//   reschedule_requested   -> booked,    patient participant tentative, and
//                             comment "Reschedule requested: <preference>" (R4's Appointment has
//                             `comment`; `note` is R5's)
//   canceled               -> cancelled
//   completed              -> fulfilled, patient participant accepted
//   no_show                -> noshow
//   (canceled and no_show: the patient participant is accepted when the patient had confirmed,
//   confirmed_at set, else needs-action.)
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "google/protobuf/struct.pb.h"
#include "outcall/v1/sync.pb.h"

namespace outcall::fhir {

// What a FHIR resource (or Bundle) turns into. Each request row remembers its Bundle entry
// (0-based; 0 for a lone resource), so that call-gateway's per-row results (by request index)
// can be reported by entry.
struct FhirImport {
  v1::UpsertPatientsRequest patients;
  std::vector<int> patient_entries;  // patient_entries[i]: the entry of patients.patients(i)
  v1::UpsertAppointmentsRequest appointments;
  std::vector<int> appointment_entries;
  // Entries that cannot be mapped: index = the entry, kind ("patient", "appointment", or the
  // resourceType of an entry that is neither), external_ref when known, outcome "refused",
  // field (a FHIR path: "Appointment.start", "Patient.telecom", "resourceType") and error.
  std::vector<v1::SyncRowResult> refused;
  // Elements present in the mapped resources that outcall does not use ("Patient.birthDate",
  // "Appointment.comment"), sorted, each once. id, meta, text and resourceType are not listed.
  std::vector<std::string> ignored;
};

// A Patient, an Appointment, or a Bundle of them (entry[].resource; other resource types in a
// Bundle are refused one by one, "resourceType X is not imported"). INVALID_ARGUMENT, naming the
// problem, when `resource` is none of these at all (no resourceType, another resourceType, a
// Bundle whose entry is not a list). `now` decides which names and telecoms have ended.
absl::StatusOr<FhirImport> FromFhir(const google::protobuf::Struct& resource,
                                    absl::Time now = absl::Now());

// A FHIR R4 Patient: id and identifier (usual) = external_ref, name[0].text = full_name,
// telecom [{system phone, value, use mobile}], active true, meta.lastUpdated = updated_at.
google::protobuf::Struct PatientToFhir(const v1::SyncedPatient& patient);

// A FHIR R4 Appointment: id = external_ref, status (FhirAppointmentStatus), start = scheduled_at,
// participant Patient/<patient_external_ref> (its status as above), the doctor as a Practitioner
// and the location as a Location (display-only references with `type`, both accepted),
// serviceType [{text: specialty}], comment for a reschedule request, meta.lastUpdated =
// updated_at. outcall knows no end time, so `end` is not written.
google::protobuf::Struct AppointmentToFhir(const v1::SyncedAppointment& appointment);

// outcall status -> FHIR Appointment.status (table above); "" (a new appointment's default) ->
// booked. An unknown status -> "".
std::string FhirAppointmentStatus(std::string_view outcall_status);

// The patient participant's FHIR status for an appointment (table above): accepted, tentative
// or needs-action.
std::string FhirPatientParticipantStatus(const v1::SyncedAppointment& appointment);

// FHIR Appointment.status (and the patient participant's status) -> outcall status (table
// above). An empty status gives "" (known). A code FHIR R4's AppointmentStatus does not define
// gives "" with *known false.
std::string OutcallAppointmentStatus(std::string_view fhir_status,
                                     std::string_view patient_participant_status, bool* known);

}  // namespace outcall::fhir
