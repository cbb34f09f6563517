// libs/fhir: FHIR R4 Patient, Appointment and Bundle resources read into the clinic sync
// requests, and outcall's synced rows written back as FHIR. The Bundle is tests/data/sync/
// bundle.json (also used by call-gateway's ImportFhir tests); the smaller cases are inline.
#include "outcall/fhir/fhir.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace outcall::fhir {
namespace {

using google::protobuf::Struct;

Struct Parse(const std::string& json) {
  Struct s;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &s);
  EXPECT_TRUE(status.ok()) << status.ToString() << "\n" << json;
  return s;
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  EXPECT_TRUE(f) << path;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

absl::Time At(const std::string& rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << rfc3339 << ": " << err;
  return t;
}

int64_t Secs(const std::string& rfc3339) { return absl::ToUnixSeconds(At(rfc3339)); }

const absl::Time kNow = At("2026-12-03T12:00:00-05:00");

FhirImport Import(const std::string& json, absl::Time now = kNow) {
  auto r = FromFhir(Parse(json), now);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : FhirImport{};
}

const v1::SyncRowResult* RefusedAt(const FhirImport& imp, int index) {
  for (const auto& r : imp.refused) {
    if (r.index() == index) return &r;
  }
  return nullptr;
}

std::string Json(const Struct& s) {
  std::string out;
  EXPECT_TRUE(google::protobuf::util::MessageToJsonString(s, &out).ok());
  return out;
}

std::string Field(const Struct& s, const std::string& name) {
  auto it = s.fields().find(name);
  return it == s.fields().end() ? "<absent>" : it->second.string_value();
}

// ---- the sample Bundle ------------------------------------------------------------------------

TEST(FhirBundle, TheSampleBundleMapsEntryByEntry) {
  const FhirImport imp = Import(ReadFile(std::string(OUTCALL_SYNC_DATA_DIR) + "/bundle.json"));

  // Patients: entries 0, 1, 2, 3 and 5 (4 has no phone).
  ASSERT_EQ(imp.patients.patients_size(), 5);
  EXPECT_EQ(imp.patient_entries, (std::vector<int>{0, 1, 2, 3, 5}));
  const auto& p = imp.patients.patients();
  EXPECT_EQ(p[0].external_ref(), "CC-52345678");
  EXPECT_EQ(p[0].full_name(), "María Fernanda Rodríguez Gómez");  // given + family
  EXPECT_EQ(p[0].phone(), "+57 310 456 7890");                    // mobile over home, as written
  EXPECT_FALSE(p[0].has_do_not_call());
  EXPECT_EQ(p[1].full_name(), "Juan Camilo Pérez Ortiz");        // text wins
  EXPECT_EQ(p[1].phone(), "300 555 0101");                       // the old number skipped
  EXPECT_EQ(p[2].external_ref(), "CC-79876543");                 // no id: the identifier
  EXPECT_EQ(p[2].full_name(), "Luis Alberto Martínez Salazar");  // official over nickname
  EXPECT_EQ(p[2].phone(), "320 999 0011");                       // rank 1 of two mobiles
  EXPECT_EQ(p[3].full_name(), "Valentina Castro Rincón");        // the old name skipped
  EXPECT_EQ(p[3].phone(), "315 22");  // passed on as written: call-gateway refuses it
  EXPECT_EQ(p[4].external_ref(), "CC-39456789");
  ASSERT_TRUE(p[4].has_do_not_call());  // deceased
  EXPECT_TRUE(p[4].do_not_call());

  // Appointments: 6, 7, 11, 12, 13, 15, 16.
  ASSERT_EQ(imp.appointments.appointments_size(), 7);
  EXPECT_EQ(imp.appointment_entries, (std::vector<int>{6, 7, 11, 12, 13, 15, 16}));
  const auto& a = imp.appointments.appointments();
  EXPECT_EQ(a[0].external_ref(), "cita-20261204-0001");
  EXPECT_EQ(a[0].patient_external_ref(), "CC-52345678");
  EXPECT_EQ(a[0].scheduled_at().seconds(), Secs("2026-12-04T13:30:00Z"));
  EXPECT_EQ(a[0].status(), "confirmed");  // booked + the patient accepted
  EXPECT_EQ(a[0].doctor_name(), "Dra. Laura Méndez");
  EXPECT_EQ(a[0].specialty(), "Medicina general");  // serviceType text over its coding
  EXPECT_EQ(a[0].location(), "Sede Norte - Consultorio 204");
  EXPECT_EQ(a[1].patient_external_ref(), "CC-79876543");  // by the entry's urn:uuid fullUrl
  EXPECT_EQ(a[1].status(), "scheduled");                  // booked, needs-action
  EXPECT_EQ(a[1].doctor_name(), "Dr. Andrés Felipe Ramírez (Cardiología)");  // PractitionerRole
  EXPECT_EQ(a[1].specialty(), "Cardiología");                                // specialty[0]
  EXPECT_EQ(a[1].location(), "");
  EXPECT_EQ(a[2].patient_external_ref(), "CC-1020304050");  // absolute URL with _history
  EXPECT_EQ(a[2].status(), "canceled");
  EXPECT_EQ(a[2].doctor_name(), "Dr. Jorge Iván Salcedo");  // display-only, type Practitioner
  EXPECT_EQ(a[2].specialty(), "Odontología");               // coding[0].display
  EXPECT_EQ(a[2].scheduled_at().seconds(), Secs("2026-12-05T14:00:00Z"));
  EXPECT_EQ(a[3].status(), "no_show");
  EXPECT_EQ(a[3].scheduled_at().seconds(), Secs("2026-12-05T12:45:00Z"));
  EXPECT_EQ(a[4].external_ref(), "AG-88812");  // no id: the identifier
  EXPECT_EQ(a[4].status(), "completed");       // arrived
  EXPECT_EQ(a[4].location(), "Sede Norte - Consultorio 110");
  EXPECT_EQ(a[5].status(), "scheduled");                  // waitlist
  EXPECT_EQ(a[5].patient_external_ref(), "CC-41234567");  // refused above: call-gateway says so
  EXPECT_EQ(a[6].patient_external_ref(), "CC-99999999");  // unknown: call-gateway says so

  // Refused: 4, 8, 9, 10, 14, 17.
  ASSERT_EQ(imp.refused.size(), 6u);
  auto check = [&](int index, const std::string& kind, const std::string& ref,
                   const std::string& field, const std::string& words) {
    const v1::SyncRowResult* r = RefusedAt(imp, index);
    ASSERT_NE(r, nullptr) << "entry " << index;
    EXPECT_EQ(r->kind(), kind) << index;
    EXPECT_EQ(r->external_ref(), ref) << index;
    EXPECT_EQ(r->outcome(), "refused") << index;
    EXPECT_EQ(r->field(), field) << index;
    EXPECT_NE(r->error().find(words), std::string::npos) << index << ": " << r->error();
  };
  check(4, "patient", "CC-41234567", "Patient.telecom", "no phone number");
  check(8, "appointment", "cita-20261204-0003", "Appointment.start", "has no time zone");
  check(9, "appointment", "cita-20261205-0004", "Appointment.participant",
        "no participant is a patient");
  check(10, "Observation", "pa-88121", "resourceType", "resourceType Observation is not imported");
  check(14, "appointment", "cita-20261206-0008", "Appointment.start", "a date without a time");
  check(17, "", "", "Bundle.entry.resource", "no resource");

  EXPECT_EQ(imp.ignored,
            (std::vector<std::string>{
                "Appointment.appointmentType", "Appointment.cancelationReason",
                "Appointment.comment", "Appointment.created", "Appointment.description",
                "Appointment.end", "Appointment.minutesDuration", "Appointment.specialty",
                "Patient.address", "Patient.birthDate", "Patient.contact", "Patient.extension",
                "Patient.gender", "Patient.identifier", "Patient.maritalStatus"}));
}

TEST(FhirBundle, RefusesWhatIsNotAPatientAppointmentOrBundle) {
  auto r = FromFhir(Parse(R"({"id": "x", "name": [{"text": "Ana"}]})"), kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("no resourceType"), absl::string_view::npos);

  r = FromFhir(Parse(R"({"resourceType": "Observation", "id": "o1", "status": "final"})"), kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("resourceType Observation is not imported"),
            absl::string_view::npos)
      << r.status();

  r = FromFhir(Parse(R"({"resourceType": "Bundle", "type": "collection", "entry": {"a": 1}})"),
               kNow);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("Bundle.entry"), absl::string_view::npos);

  // An empty searchset (nothing changed since the last sync) is not an error.
  const FhirImport empty = Import(R"({"resourceType": "Bundle", "type": "searchset", "total": 0})");
  EXPECT_EQ(empty.patients.patients_size(), 0);
  EXPECT_EQ(empty.appointments.appointments_size(), 0);
  EXPECT_TRUE(empty.refused.empty());

  // A Bundle inside a Bundle is refused by entry.
  const FhirImport nested = Import(R"({"resourceType": "Bundle", "entry": [
      {"resource": {"resourceType": "Bundle", "type": "collection"}},
      {"resource": {"id": "no-type"}}]})");
  ASSERT_EQ(nested.refused.size(), 2u);
  EXPECT_EQ(nested.refused[0].error(), "resourceType Bundle is not imported inside a Bundle");
  EXPECT_EQ(nested.refused[1].field(), "resourceType");
}

// ---- Patient ----------------------------------------------------------------------------------

TEST(FhirPatient, NamesPhonesAndWhatIsNotCalled) {
  // A lone Patient is entry 0. Period-ended numbers and names are skipped by `now`.
  FhirImport imp = Import(R"({
    "resourceType": "Patient", "id": 4471,
    "name": [
      {"use": "official", "family": "Gómez", "given": ["Ana"], "period": {"end": "2019-05"}},
      {"use": "usual", "family": "Gómez de Ruiz", "given": ["Ana", "Lucía"]}
    ],
    "telecom": [
      {"system": "phone", "value": "3001234567", "use": "mobile", "period": {"end": "2026-01-31"}},
      {"system": "phone", "value": "3109876543", "use": "mobile",
       "period": {"start": "2027-01-01"}},
      {"system": "sms", "value": "3205550000"},
      {"system": "phone", "value": "6014445566", "use": "home"}
    ],
    "active": false
  })");
  ASSERT_EQ(imp.patients.patients_size(), 1);
  EXPECT_EQ(imp.patient_entries, std::vector<int>{0});
  const v1::PatientInput& p = imp.patients.patients(0);
  EXPECT_EQ(p.external_ref(), "4471");  // a number where a string belongs: its digits
  EXPECT_EQ(p.full_name(), "Ana Lucía Gómez de Ruiz");  // the official name has ended
  EXPECT_EQ(p.phone(), "6014445566");  // the mobiles ended or not begun; phone before sms
  ASSERT_TRUE(p.has_do_not_call());    // active false
  EXPECT_TRUE(p.do_not_call());
  EXPECT_TRUE(imp.ignored.empty());

  // Only an sms number: used.
  imp = Import(R"({"resourceType": "Patient", "id": "p2", "name": [{"text": "Ana"}],
                   "telecom": [{"system": "sms", "value": "3205550000"}]})");
  ASSERT_EQ(imp.patients.patients_size(), 1);
  EXPECT_EQ(imp.patients.patients(0).phone(), "3205550000");

  // No id, no identifier; no name; a modifier extension.
  imp = Import(R"({"resourceType": "Patient", "name": [{"text": "Ana"}],
                   "telecom": [{"system": "phone", "value": "3001234567"}]})");
  ASSERT_EQ(imp.refused.size(), 1u);
  EXPECT_EQ(imp.refused[0].field(), "Patient.id");
  EXPECT_EQ(imp.refused[0].index(), 0);
  imp = Import(R"({"resourceType": "Patient", "id": "p3", "name": [{"use": "official"}],
                   "telecom": [{"system": "phone", "value": "3001234567"}]})");
  ASSERT_EQ(imp.refused.size(), 1u);
  EXPECT_EQ(imp.refused[0].field(), "Patient.name");
  EXPECT_EQ(imp.refused[0].external_ref(), "p3");
  imp = Import(R"({"resourceType": "Patient", "id": "p4", "name": [{"text": "Ana"}],
                   "telecom": [{"system": "phone", "value": "3001234567"}],
                   "modifierExtension": [{"url": "https://example.org/fhir/ext/test-patient",
                                          "valueBoolean": true}]})");
  ASSERT_EQ(imp.refused.size(), 1u);
  EXPECT_EQ(imp.refused[0].field(), "Patient.modifierExtension");
  EXPECT_NE(imp.refused[0].error().find("test-patient"), std::string::npos);
  EXPECT_EQ(imp.patients.patients_size(), 0);
}

// ---- Appointment ------------------------------------------------------------------------------

std::string AppointmentJson(const std::string& status, const std::string& patient_status,
                            const std::string& start = "2026-12-04T08:30:00-05:00") {
  return R"({"resourceType": "Appointment", "id": "a1", "status": ")" + status +
         R"(", "start": ")" + start + R"(", "participant": [
           {"actor": {"reference": "Patient/p1"}, "status": ")" +
         patient_status + R"("}]})";
}

TEST(FhirAppointment, StatusesReadAsOutcallsOwn) {
  struct Case {
    std::string fhir, participant, outcall;
  };
  for (const Case& c : std::vector<Case>{{"proposed", "needs-action", "scheduled"},
                                         {"pending", "accepted", "scheduled"},
                                         {"booked", "needs-action", "scheduled"},
                                         {"booked", "tentative", "scheduled"},
                                         {"booked", "accepted", "confirmed"},
                                         {"waitlist", "needs-action", "scheduled"},
                                         {"arrived", "accepted", "completed"},
                                         {"checked-in", "accepted", "completed"},
                                         {"fulfilled", "accepted", "completed"},
                                         {"cancelled", "declined", "canceled"},
                                         {"entered-in-error", "needs-action", "canceled"},
                                         {"noshow", "accepted", "no_show"}}) {
    const FhirImport imp = Import(AppointmentJson(c.fhir, c.participant));
    ASSERT_EQ(imp.appointments.appointments_size(), 1) << c.fhir;
    EXPECT_EQ(imp.appointments.appointments(0).status(), c.outcall)
        << c.fhir << "/" << c.participant;
  }
  // Absent: "" (scheduled when new, unchanged otherwise). Unknown: refused.
  FhirImport imp = Import(R"({"resourceType": "Appointment", "id": "a1",
      "start": "2026-12-04T08:30:00-05:00",
      "participant": [{"actor": {"reference": "Patient/p1"}, "status": "accepted"}]})");
  ASSERT_EQ(imp.appointments.appointments_size(), 1);
  EXPECT_EQ(imp.appointments.appointments(0).status(), "");
  imp = Import(AppointmentJson("confirmed", "accepted"));
  ASSERT_EQ(imp.refused.size(), 1u);
  EXPECT_EQ(imp.refused[0].field(), "Appointment.status");
  EXPECT_NE(imp.refused[0].error().find("'confirmed' is not a FHIR R4 appointment status"),
            std::string::npos);
  bool known = true;
  EXPECT_EQ(OutcallAppointmentStatus("booked", "accepted", &known), "confirmed");
  EXPECT_TRUE(known);
  EXPECT_EQ(OutcallAppointmentStatus("Booked", "", &known), "");
  EXPECT_FALSE(known);
}

TEST(FhirAppointment, StartMustBeAnInstantWithAZone) {
  struct Case {
    std::string start;
    int64_t seconds;  // 0: refused
    std::string words;
  };
  for (const Case& c : std::vector<Case>{
           {"2026-12-04T08:30:00-05:00", Secs("2026-12-04T13:30:00Z"), ""},
           {"2026-12-04T13:30:00Z", Secs("2026-12-04T13:30:00Z"), ""},
           {"2026-12-04T08:30:00.250-05:00", Secs("2026-12-04T13:30:00Z"), ""},
           {"2026-12-04T08:30-05:00", Secs("2026-12-04T13:30:00Z"), ""},
           {"2026-12-04T08:30:00", 0, "has no time zone"},
           {"2026-12-04T08:30", 0, "has no time zone"},
           {"2026-12-04", 0, "a date without a time"},
           {"2026-12", 0, "a date without a time"},
           {"04/12/2026 08:30", 0, "is not a FHIR instant"},
           {"mañana a las 8", 0, "is not a FHIR instant"},
       }) {
    const FhirImport imp = Import(AppointmentJson("booked", "needs-action", c.start));
    if (c.seconds != 0) {
      ASSERT_EQ(imp.appointments.appointments_size(), 1) << c.start;
      EXPECT_EQ(imp.appointments.appointments(0).scheduled_at().seconds(), c.seconds) << c.start;
    } else {
      ASSERT_EQ(imp.refused.size(), 1u) << c.start;
      EXPECT_EQ(imp.refused[0].field(), "Appointment.start");
      EXPECT_NE(imp.refused[0].error().find(c.words), std::string::npos)
          << c.start << ": " << imp.refused[0].error();
      EXPECT_EQ(imp.refused[0].error().find("ñ"), std::string::npos);  // quoted as ASCII
    }
  }
  const FhirImport imp = Import(R"({"resourceType": "Appointment", "id": "a1", "status": "booked",
      "participant": [{"actor": {"reference": "Patient/p1"}, "status": "accepted"}]})");
  ASSERT_EQ(imp.refused.size(), 1u);
  EXPECT_EQ(imp.refused[0].field(), "Appointment.start");
  EXPECT_NE(imp.refused[0].error().find("no start"), std::string::npos);
}

TEST(FhirAppointment, ThePatientParticipant) {
  // By identifier (a logical reference), and the same patient twice is one patient.
  FhirImport imp = Import(R"({"resourceType": "Appointment", "id": "a1", "status": "booked",
      "start": "2026-12-04T08:30:00-05:00", "participant": [
        {"actor": {"type": "Patient", "identifier": {"system": "https://www.registraduria.gov.co/cc",
                                                     "value": "CC-52345678"}},
         "status": "accepted"},
        {"actor": {"reference": "Patient/CC-52345678"}, "status": "accepted"}]})");
  ASSERT_EQ(imp.appointments.appointments_size(), 1);
  EXPECT_EQ(imp.appointments.appointments(0).patient_external_ref(), "CC-52345678");
  EXPECT_EQ(imp.appointments.appointments(0).status(), "confirmed");

  // Two different patients: refused. Only a practitioner: refused.
  imp = Import(R"({"resourceType": "Appointment", "id": "grupo-7", "status": "booked",
      "start": "2026-12-04T08:30:00-05:00", "participant": [
        {"actor": {"reference": "Patient/p1"}, "status": "accepted"},
        {"actor": {"reference": "Patient/p2"}, "status": "accepted"}]})");
  ASSERT_EQ(imp.refused.size(), 1u);
  EXPECT_EQ(imp.refused[0].external_ref(), "grupo-7");
  EXPECT_NE(imp.refused[0].error().find("2 patient participants"), std::string::npos);
  imp = Import(R"({"resourceType": "Appointment", "id": "a2", "status": "booked",
      "start": "2026-12-04T08:30:00-05:00", "participant": [
        {"actor": {"reference": "Practitioner/m1", "display": "Dr. Uno"}, "status": "accepted"}]})");
  ASSERT_EQ(imp.refused.size(), 1u);
  EXPECT_EQ(imp.refused[0].field(), "Appointment.participant");
  EXPECT_EQ(imp.refused[0].kind(), "appointment");
}

// ---- writing back -----------------------------------------------------------------------------

v1::SyncedAppointment Synced(const std::string& status) {
  v1::SyncedAppointment a;
  a.set_appointment_id(42);
  a.set_external_ref("cita-20261204-0001");
  a.set_patient_id(7);
  a.set_patient_external_ref("CC-52345678");
  a.mutable_scheduled_at()->set_seconds(Secs("2026-12-04T13:30:00Z"));
  a.set_doctor_name("Dra. Laura Méndez");
  a.set_specialty("Medicina general");
  a.set_location("Sede Norte - Consultorio 204");
  a.set_status(status);
  a.mutable_updated_at()->set_seconds(Secs("2026-12-03T20:15:07Z"));
  return a;
}

TEST(FhirWriteBack, AppointmentStatusesAndTheirParticipants) {
  struct Case {
    std::string outcall, fhir, patient;
  };
  for (const Case& c : std::vector<Case>{{"scheduled", "booked", "needs-action"},
                                         {"confirmed", "booked", "accepted"},
                                         {"reschedule_requested", "booked", "tentative"},
                                         {"canceled", "cancelled", "needs-action"},
                                         {"completed", "fulfilled", "accepted"},
                                         {"no_show", "noshow", "needs-action"}}) {
    EXPECT_EQ(FhirAppointmentStatus(c.outcall), c.fhir);
    const Struct r = AppointmentToFhir(Synced(c.outcall));
    EXPECT_EQ(Field(r, "resourceType"), "Appointment");
    EXPECT_EQ(Field(r, "id"), "cita-20261204-0001");
    EXPECT_EQ(Field(r, "status"), c.fhir) << c.outcall;
    EXPECT_EQ(Field(r, "start"), "2026-12-04T13:30:00Z");
    EXPECT_EQ(Field(r, "end"), "<absent>");
    EXPECT_EQ(r.fields().at("meta").struct_value().fields().at("lastUpdated").string_value(),
              "2026-12-03T20:15:07Z");
    const auto& participants = r.fields().at("participant").list_value().values();
    ASSERT_EQ(participants.size(), 3);
    const Struct& patient = participants[0].struct_value();
    EXPECT_EQ(patient.fields().at("actor").struct_value().fields().at("reference").string_value(),
              "Patient/CC-52345678");
    EXPECT_EQ(Field(patient, "status"), c.patient) << c.outcall;
    const Struct& doctor = participants[1].struct_value().fields().at("actor").struct_value();
    EXPECT_EQ(Field(doctor, "type"), "Practitioner");
    EXPECT_EQ(Field(doctor, "display"), "Dra. Laura Méndez");
    EXPECT_EQ(r.fields()
                  .at("serviceType")
                  .list_value()
                  .values(0)
                  .struct_value()
                  .fields()
                  .at("text")
                  .string_value(),
              "Medicina general");
    EXPECT_EQ(Field(r, "comment") != "<absent>", c.outcall == "reschedule_requested");
  }
  v1::SyncedAppointment a = Synced("reschedule_requested");
  a.set_reschedule_preference("el viernes en la tarde");
  EXPECT_EQ(Field(AppointmentToFhir(a), "comment"), "Reschedule requested: el viernes en la tarde");
  // A patient who confirmed, then did not come: accepted.
  a = Synced("no_show");
  a.mutable_confirmed_at()->set_seconds(Secs("2026-12-02T15:00:00Z"));
  EXPECT_EQ(FhirPatientParticipantStatus(a), "accepted");
  EXPECT_EQ(FhirAppointmentStatus(""), "booked");
  EXPECT_EQ(FhirAppointmentStatus("rescheduled"), "");
  // No doctor, location or specialty: only the patient.
  a = Synced("scheduled");
  a.clear_doctor_name();
  a.clear_location();
  a.clear_specialty();
  const Struct r = AppointmentToFhir(a);
  EXPECT_EQ(r.fields().at("participant").list_value().values_size(), 1);
  EXPECT_EQ(r.fields().count("serviceType"), 0u);
}

TEST(FhirWriteBack, PatientAndRoundTrips) {
  v1::SyncedPatient p;
  p.set_patient_id(7);
  p.set_external_ref("CC-52345678");
  p.set_full_name("María Fernanda Rodríguez Gómez");
  p.set_phone_number("+573104567890");
  p.mutable_updated_at()->set_seconds(Secs("2026-12-03T20:15:07Z"));
  const Struct r = PatientToFhir(p);
  EXPECT_EQ(Field(r, "resourceType"), "Patient");
  EXPECT_EQ(Field(r, "id"), "CC-52345678");
  EXPECT_TRUE(r.fields().at("active").bool_value());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(r, Parse(R"({
      "resourceType": "Patient", "id": "CC-52345678",
      "meta": {"lastUpdated": "2026-12-03T20:15:07Z"},
      "identifier": [{"use": "usual", "value": "CC-52345678"}],
      "active": true,
      "name": [{"text": "María Fernanda Rodríguez Gómez"}],
      "telecom": [{"system": "phone", "value": "+573104567890", "use": "mobile"}]})")))
      << Json(r);

  // What outcall writes, read again, is what it wrote.
  FhirImport back = Import(Json(r));
  ASSERT_EQ(back.patients.patients_size(), 1);
  EXPECT_EQ(back.patients.patients(0).external_ref(), "CC-52345678");
  EXPECT_EQ(back.patients.patients(0).full_name(), p.full_name());
  EXPECT_EQ(back.patients.patients(0).phone(), "+573104567890");
  EXPECT_FALSE(back.patients.patients(0).has_do_not_call());
  EXPECT_EQ(back.ignored, std::vector<std::string>{"Patient.identifier"});

  // Every status but reschedule_requested (a patient's request, not the clinic's) comes back.
  for (const std::string status : {"scheduled", "confirmed", "canceled", "completed", "no_show"}) {
    back = Import(Json(AppointmentToFhir(Synced(status))));
    ASSERT_EQ(back.appointments.appointments_size(), 1) << status;
    const v1::AppointmentInput& a = back.appointments.appointments(0);
    EXPECT_EQ(a.external_ref(), "cita-20261204-0001");
    EXPECT_EQ(a.patient_external_ref(), "CC-52345678");
    EXPECT_EQ(a.scheduled_at().seconds(), Secs("2026-12-04T13:30:00Z"));
    EXPECT_EQ(a.doctor_name(), "Dra. Laura Méndez");
    EXPECT_EQ(a.specialty(), "Medicina general");
    EXPECT_EQ(a.location(), "Sede Norte - Consultorio 204");
    EXPECT_EQ(a.status(), status);
    EXPECT_TRUE(back.ignored.empty()) << back.ignored[0];
  }
  back = Import(Json(AppointmentToFhir(Synced("reschedule_requested"))));
  ASSERT_EQ(back.appointments.appointments_size(), 1);
  EXPECT_EQ(back.appointments.appointments(0).status(), "scheduled");
  EXPECT_EQ(back.ignored, std::vector<std::string>{"Appointment.comment"});
}

}  // namespace
}  // namespace outcall::fhir
