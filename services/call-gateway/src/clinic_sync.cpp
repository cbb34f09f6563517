#include "clinic_sync.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/time/civil_time.h"
#include "outcall/common/phone.h"
#include "outcall/common/strings.h"
#include "outcall/fhir/fhir.h"

namespace outcall::call_gateway {

using common::Cat;
using google::protobuf::util::TimeUtil;

namespace {

constexpr size_t kMaxRef = 200;
constexpr size_t kMaxText = 300;

bool KnownStatus(std::string_view s) {
  static const std::set<std::string_view> known = {"scheduled", "confirmed",
                                                   "reschedule_requested", "canceled",
                                                   "completed", "no_show"};
  return known.count(s) > 0;
}

google::protobuf::Timestamp Ts(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

std::optional<absl::Time> TimeOf(const google::protobuf::Timestamp& t, bool present) {
  if (!present) return std::nullopt;
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(t));
}

// The text field trimmed, or the reason it cannot be used ("" = fine).
std::string Text(const std::string& in, std::string* out, bool required, size_t max,
                 std::string_view what) {
  *out = std::string(common::Trim(in));
  if (required && out->empty()) return Cat(what, " is required");
  if (out->size() > max) return Cat(what, " is longer than ", max, " characters");
  return "";
}

void Refuse(v1::SyncResponse& out, int index, const std::string& ref, std::string_view kind,
            std::string_view field, std::string error) {
  v1::SyncRowResult* r = out.add_results();
  r->set_index(index);
  r->set_external_ref(ref);
  r->set_kind(std::string(kind));
  r->set_outcome("refused");
  r->set_field(std::string(field));
  r->set_error(std::move(error));
  out.set_refused(out.refused() + 1);
}

void Record(v1::SyncResponse& out, int index, const std::string& ref, std::string_view kind,
            const SyncOutcome& o) {
  if (o.outcome == "refused") {
    Refuse(out, index, ref, kind, o.field, o.error);
    return;
  }
  v1::SyncRowResult* r = out.add_results();
  r->set_index(index);
  r->set_external_ref(ref);
  r->set_kind(std::string(kind));
  r->set_outcome(o.outcome);
  r->set_id(o.id);
  out.set_accepted(out.accepted() + 1);
  if (o.outcome == "created") out.set_created(out.created() + 1);
  if (o.outcome == "updated") out.set_updated(out.updated() + 1);
  if (o.outcome == "unchanged") out.set_unchanged(out.unchanged() + 1);
}

void SortByIndex(v1::SyncResponse& out) {
  std::stable_sort(out.mutable_results()->begin(), out.mutable_results()->end(),
                   [](const v1::SyncRowResult& a, const v1::SyncRowResult& b) {
                     return a.index() < b.index();
                   });
}

absl::Status TooMany(int n, int max, std::string_view what) {
  return absl::InvalidArgumentError(
      Cat("at most ", max, " ", what, " per request; got ", n, ": send them in batches"));
}

absl::StatusOr<int64_t> AfterId(const std::string& token) {
  if (token.empty()) return 0;
  int64_t id = 0;
  if (!common::ParseInt(token, &id) || id < 0) {
    return absl::InvalidArgumentError("pageToken: not a token this API returned");
  }
  return id;
}

absl::StatusOr<SyncPage> PageOf(const v1::ListSyncedRequest& r) {
  SyncPage p;
  auto after = AfterId(r.page_token());
  if (!after.ok()) return after.status();
  p.after_id = *after;
  if (r.page_size() < 0 || r.page_size() > 1000) {
    return absl::InvalidArgumentError("pageSize: between 1 and 1000 (0: 100)");
  }
  p.limit = r.page_size() == 0 ? 100 : r.page_size();
  p.updated_since = TimeOf(r.updated_since(), r.has_updated_since());
  p.from = TimeOf(r.from(), r.has_from());
  p.to = TimeOf(r.to(), r.has_to());
  p.patient_external_ref = std::string(common::Trim(r.patient_external_ref()));
  p.status = r.status();
  if (!p.status.empty() && !KnownStatus(p.status)) {
    return absl::InvalidArgumentError(Cat("status: unknown appointment status \"", p.status, "\""));
  }
  return p;
}

absl::Status RefRequired(const std::string& ref) {
  if (common::Trim(ref).empty()) return absl::InvalidArgumentError("externalRef is required");
  return absl::OkStatus();
}

}  // namespace

v1::SyncedPatient ClinicSync::ToProto(const PatientRecord& p) {
  v1::SyncedPatient out;
  out.set_patient_id(p.id);
  out.set_external_ref(p.external_ref);
  out.set_full_name(p.full_name);
  out.set_phone_number(p.phone_e164);
  out.set_do_not_call(p.do_not_call);
  out.set_opted_out(p.opted_out);
  out.set_time_zone(p.time_zone);
  *out.mutable_created_at() = Ts(p.created_at);
  *out.mutable_updated_at() = Ts(p.updated_at);
  return out;
}

v1::SyncedAppointment ClinicSync::ToProto(const AppointmentRecord& a) {
  v1::SyncedAppointment out;
  out.set_appointment_id(a.id);
  out.set_external_ref(a.external_ref);
  out.set_patient_id(a.patient_id);
  out.set_patient_external_ref(a.patient_external_ref);
  *out.mutable_scheduled_at() = Ts(a.scheduled_at);
  out.set_doctor_name(a.doctor_name);
  out.set_specialty(a.specialty);
  out.set_location(a.location);
  out.set_status(a.status);
  if (a.confirmed_at) *out.mutable_confirmed_at() = Ts(*a.confirmed_at);
  out.set_reschedule_preference(a.reschedule_preference);
  *out.mutable_created_at() = Ts(a.created_at);
  *out.mutable_updated_at() = Ts(a.updated_at);
  out.set_fhir_status(fhir::FhirAppointmentStatus(a.status));
  return out;
}

absl::StatusOr<v1::SyncResponse> ClinicSync::UpsertPatients(
    const v1::UpsertPatientsRequest& request) {
  const int n = request.patients_size();
  if (n > options_.max_rows_per_request) {
    return TooMany(n, options_.max_rows_per_request, "patients");
  }
  v1::SyncResponse out;
  std::vector<PatientWrite> rows;
  std::vector<int> index;
  std::map<std::string, int> seen;
  for (int i = 0; i < n; ++i) {
    const v1::PatientInput& in = request.patients(i);
    PatientWrite w;
    std::string bad;
    if (bad = Text(in.external_ref(), &w.external_ref, true, kMaxRef, "externalRef");
        !bad.empty()) {
      Refuse(out, i, in.external_ref(), "patient", "externalRef", bad);
      continue;
    }
    if (auto [it, fresh] = seen.emplace(w.external_ref, i); !fresh) {
      Refuse(out, i, w.external_ref, "patient", "externalRef",
             Cat("the same externalRef as row ", it->second, " of this request"));
      continue;
    }
    if (bad = Text(in.full_name(), &w.full_name, true, kMaxText, "fullName"); !bad.empty()) {
      Refuse(out, i, w.external_ref, "patient", "fullName", bad);
      continue;
    }
    if (common::Trim(in.phone()).empty()) {
      Refuse(out, i, w.external_ref, "patient", "phone", "phone is required");
      continue;
    }
    auto phone = common::NormalizePhone(in.phone(), options_.default_country_code);
    if (!phone.ok()) {
      Refuse(out, i, w.external_ref, "patient", "phone", std::string(phone.status().message()));
      continue;
    }
    w.phone_e164 = *phone;
    w.time_zone = std::string(common::Trim(in.time_zone()));
    if (absl::TimeZone tz; !w.time_zone.empty() && !absl::LoadTimeZone(w.time_zone, &tz)) {
      Refuse(out, i, w.external_ref, "patient", "timeZone",
             Cat("\"", w.time_zone, "\" is not an IANA time zone (e.g. America/Bogota)"));
      continue;
    }
    if (in.has_do_not_call()) w.do_not_call = in.do_not_call();
    rows.push_back(std::move(w));
    index.push_back(i);
  }
  auto outcomes = store_.UpsertPatients(rows);
  if (!outcomes.ok()) return outcomes.status();
  for (size_t k = 0; k < rows.size(); ++k) {
    Record(out, index[k], rows[k].external_ref, "patient", (*outcomes)[k]);
  }
  SortByIndex(out);
  return out;
}

absl::StatusOr<v1::SyncResponse> ClinicSync::UpsertAppointments(
    const v1::UpsertAppointmentsRequest& request) {
  const int n = request.appointments_size();
  if (n > options_.max_rows_per_request) {
    return TooMany(n, options_.max_rows_per_request, "appointments");
  }
  v1::SyncResponse out;
  std::vector<AppointmentWrite> rows;
  std::vector<int> index;
  std::map<std::string, int> seen;
  for (int i = 0; i < n; ++i) {
    const v1::AppointmentInput& in = request.appointments(i);
    AppointmentWrite w;
    std::string bad;
    if (bad = Text(in.external_ref(), &w.external_ref, true, kMaxRef, "externalRef");
        !bad.empty()) {
      Refuse(out, i, in.external_ref(), "appointment", "externalRef", bad);
      continue;
    }
    if (auto [it, fresh] = seen.emplace(w.external_ref, i); !fresh) {
      Refuse(out, i, w.external_ref, "appointment", "externalRef",
             Cat("the same externalRef as row ", it->second, " of this request"));
      continue;
    }
    if (bad = Text(in.patient_external_ref(), &w.patient_external_ref, true, kMaxRef,
                   "patientExternalRef");
        !bad.empty()) {
      Refuse(out, i, w.external_ref, "appointment", "patientExternalRef", bad);
      continue;
    }
    if (!in.has_scheduled_at()) {
      Refuse(out, i, w.external_ref, "appointment", "scheduledAt",
             "scheduledAt is required (RFC 3339, e.g. 2026-12-10T09:30:00-05:00)");
      continue;
    }
    w.scheduled_at = *TimeOf(in.scheduled_at(), true);
    if (w.scheduled_at < absl::FromCivil(absl::CivilYear(2000), absl::UTCTimeZone()) ||
        w.scheduled_at > clock_.Now() + absl::Hours(24 * 366 * 5)) {
      Refuse(out, i, w.external_ref, "appointment", "scheduledAt",
             "scheduledAt is not a plausible appointment time (before 2000 or over 5 years ahead)");
      continue;
    }
    if ((bad = Text(in.doctor_name(), &w.doctor_name, false, kMaxText, "doctorName")) != "") {
      Refuse(out, i, w.external_ref, "appointment", "doctorName", bad);
      continue;
    }
    if ((bad = Text(in.specialty(), &w.specialty, false, kMaxText, "specialty")) != "") {
      Refuse(out, i, w.external_ref, "appointment", "specialty", bad);
      continue;
    }
    if ((bad = Text(in.location(), &w.location, false, kMaxText, "location")) != "") {
      Refuse(out, i, w.external_ref, "appointment", "location", bad);
      continue;
    }
    w.status = std::string(common::Trim(in.status()));
    if (!w.status.empty() && !KnownStatus(w.status)) {
      Refuse(out, i, w.external_ref, "appointment", "status",
             Cat("unknown status \"", w.status,
                 "\"; one of scheduled, confirmed, reschedule_requested, canceled, completed, "
                 "no_show"));
      continue;
    }
    rows.push_back(std::move(w));
    index.push_back(i);
  }
  auto outcomes = store_.UpsertAppointments(rows, clock_.Now());
  if (!outcomes.ok()) return outcomes.status();
  for (size_t k = 0; k < rows.size(); ++k) {
    Record(out, index[k], rows[k].external_ref, "appointment", (*outcomes)[k]);
  }
  SortByIndex(out);
  return out;
}

absl::StatusOr<v1::SyncResponse> ClinicSync::ImportFhir(const v1::ImportFhirRequest& request) {
  auto mapped = fhir::FromFhir(request.resource(), clock_.Now());
  if (!mapped.ok()) return mapped.status();
  const int rows = mapped->patients.patients_size() + mapped->appointments.appointments_size();
  if (rows > options_.max_rows_per_request) {
    return TooMany(rows, options_.max_rows_per_request, "resources");
  }
  v1::SyncResponse out;
  // Patients first: the Bundle's appointments may name them.
  auto merge = [&](const v1::SyncResponse& part, const std::vector<int>& entries) {
    for (v1::SyncRowResult r : part.results()) {
      if (r.index() >= 0 && static_cast<size_t>(r.index()) < entries.size()) {
        r.set_index(entries[r.index()]);
      }
      *out.add_results() = std::move(r);
    }
    out.set_accepted(out.accepted() + part.accepted());
    out.set_created(out.created() + part.created());
    out.set_updated(out.updated() + part.updated());
    out.set_unchanged(out.unchanged() + part.unchanged());
    out.set_refused(out.refused() + part.refused());
  };
  if (mapped->patients.patients_size() > 0) {
    auto p = UpsertPatients(mapped->patients);
    if (!p.ok()) return p.status();
    merge(*p, mapped->patient_entries);
  }
  if (mapped->appointments.appointments_size() > 0) {
    auto a = UpsertAppointments(mapped->appointments);
    if (!a.ok()) return a.status();
    merge(*a, mapped->appointment_entries);
  }
  for (const v1::SyncRowResult& r : mapped->refused) {
    *out.add_results() = r;
    out.set_refused(out.refused() + 1);
  }
  for (const std::string& i : mapped->ignored) out.add_ignored(i);
  SortByIndex(out);
  return out;
}

absl::StatusOr<v1::SyncedPatient> ClinicSync::GetPatient(const v1::GetSyncedRequest& request) {
  if (auto s = RefRequired(request.external_ref()); !s.ok()) return s;
  auto p = store_.GetPatient(std::string(common::Trim(request.external_ref())));
  if (!p.ok()) return p.status();
  return ToProto(*p);
}

absl::StatusOr<v1::ListSyncedPatientsResponse> ClinicSync::ListPatients(
    const v1::ListSyncedRequest& request) {
  auto page = PageOf(request);
  if (!page.ok()) return page.status();
  auto rows = store_.ListPatients(*page);
  if (!rows.ok()) return rows.status();
  v1::ListSyncedPatientsResponse out;
  for (const auto& p : *rows) *out.add_patients() = ToProto(p);
  if (static_cast<int>(rows->size()) == page->limit) {
    out.set_next_page_token(std::to_string(rows->back().id));
  }
  return out;
}

absl::StatusOr<v1::DeleteSyncedResponse> ClinicSync::DeletePatient(
    const v1::GetSyncedRequest& request) {
  if (auto s = RefRequired(request.external_ref()); !s.ok()) return s;
  auto n = store_.DeletePatient(std::string(common::Trim(request.external_ref())));
  if (!n.ok()) return n.status();
  v1::DeleteSyncedResponse out;
  out.set_deleted(true);
  out.set_canceled_calls(*n);
  return out;
}

absl::StatusOr<v1::SyncedAppointment> ClinicSync::GetAppointment(
    const v1::GetSyncedRequest& request) {
  if (auto s = RefRequired(request.external_ref()); !s.ok()) return s;
  auto a = store_.GetAppointment(std::string(common::Trim(request.external_ref())));
  if (!a.ok()) return a.status();
  return ToProto(*a);
}

absl::StatusOr<v1::ListSyncedAppointmentsResponse> ClinicSync::ListAppointments(
    const v1::ListSyncedRequest& request) {
  auto page = PageOf(request);
  if (!page.ok()) return page.status();
  auto rows = store_.ListAppointments(*page);
  if (!rows.ok()) return rows.status();
  v1::ListSyncedAppointmentsResponse out;
  for (const auto& a : *rows) *out.add_appointments() = ToProto(a);
  if (static_cast<int>(rows->size()) == page->limit) {
    out.set_next_page_token(std::to_string(rows->back().id));
  }
  return out;
}

absl::StatusOr<v1::SyncedAppointment> ClinicSync::CancelAppointment(
    const v1::CancelAppointmentRequest& request) {
  if (auto s = RefRequired(request.external_ref()); !s.ok()) return s;
  auto a = store_.CancelAppointment(std::string(common::Trim(request.external_ref())));
  if (!a.ok()) return a.status();
  return ToProto(a->first);
}

absl::StatusOr<v1::DeleteSyncedResponse> ClinicSync::DeleteAppointment(
    const v1::GetSyncedRequest& request) {
  if (auto s = RefRequired(request.external_ref()); !s.ok()) return s;
  auto n = store_.DeleteAppointment(std::string(common::Trim(request.external_ref())));
  if (!n.ok()) return n.status();
  v1::DeleteSyncedResponse out;
  out.set_deleted(true);
  out.set_canceled_calls(*n);
  return out;
}

absl::StatusOr<google::protobuf::Struct> ClinicSync::GetFhirAppointment(
    const v1::GetSyncedRequest& request) {
  auto a = GetAppointment(request);
  if (!a.ok()) return a.status();
  return fhir::AppointmentToFhir(*a);
}

absl::StatusOr<google::protobuf::Struct> ClinicSync::GetFhirPatient(
    const v1::GetSyncedRequest& request) {
  auto p = GetPatient(request);
  if (!p.ok()) return p.status();
  return fhir::PatientToFhir(*p);
}

}  // namespace outcall::call_gateway
