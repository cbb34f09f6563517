#include "sync_csv.h"

#include <algorithm>
#include <boost/json.hpp>
#include <deque>
#include <future>
#include <set>
#include <thread>
#include <unordered_map>

#include "absl/time/time.h"
#include "human_cli.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"

namespace outcall::ops {
namespace {

using common::Cat;

// A header name or a value folded for matching: rne's folding (lower case, accents dropped,
// runs of spaces and _-./ one space), then without the spaces: "Número_de documento" ->
// "numerodedocumento", "ExternalRef" -> "externalref".
std::string Key(std::string_view s) {
  std::string f = rne::FoldHeaderName(s);
  f.erase(std::remove(f.begin(), f.end(), ' '), f.end());
  return f;
}

struct FieldNames {
  const char* field;
  std::vector<const char*> names;  // as people write them; matched by Key()
};

const std::vector<FieldNames>& PatientFields() {
  static const std::vector<FieldNames> kFields = {
      {"external_ref",
       {"external_ref", "ref", "id", "patient_external_ref", "patient_ref", "documento",
        "numero_documento", "numero de documento", "documento identidad", "documento de identidad",
        "identificacion", "numero identificacion", "numero de identificacion", "cedula",
        "id_paciente", "paciente id", "codigo paciente", "historia clinica",
        "numero historia clinica"}},
      {"full_name",
       {"full_name", "name", "patient_name", "nombre", "nombre completo", "nombre_paciente",
        "nombre del paciente", "paciente"}},
      {"given_names", {"given_names", "given name", "first name", "first names", "nombres"}},
      {"family_names",
       {"family_names", "family name", "last name", "last names", "surname", "surnames",
        "apellidos"}},
      {"phone",
       {"phone", "phone number", "phone_e164", "mobile", "mobile phone", "cell phone", "telefono",
        "telefono celular", "telefono movil", "celular", "movil", "numero celular",
        "numero de celular", "numero telefono", "numero de telefono", "msisdn"}},
      {"do_not_call",
       {"do_not_call", "dnc", "do not contact", "no llamar", "no contactar", "no_molestar"}},
      {"time_zone", {"time_zone", "tz", "zona horaria", "huso horario"}},
  };
  return kFields;
}

const std::vector<FieldNames>& AppointmentFields() {
  static const std::vector<FieldNames> kFields = {
      {"external_ref",
       {"external_ref", "ref", "id", "appointment_id", "appointment_ref", "id_cita", "cita",
        "numero cita", "numero de cita", "codigo cita"}},
      {"patient_external_ref",
       {"patient_external_ref", "patient_ref", "patient", "patient_id", "documento",
        "documento paciente", "numero documento", "numero de documento", "identificacion", "cedula",
        "id_paciente", "paciente id", "codigo paciente", "historia clinica"}},
      {"scheduled_at",
       {"scheduled_at", "start", "starts_at", "start time", "datetime", "date time", "fecha_hora",
        "fecha y hora", "fecha hora cita", "fecha y hora de la cita", "inicio"}},
      {"date", {"date", "appointment date", "fecha", "fecha cita", "fecha de la cita"}},
      {"time", {"time", "appointment time", "hora", "hora cita", "hora de la cita"}},
      {"doctor_name",
       {"doctor_name", "doctor", "practitioner", "medico", "nombre medico", "profesional",
        "especialista"}},
      {"specialty", {"specialty", "speciality", "service", "especialidad", "servicio"}},
      {"location", {"location", "site", "place", "lugar", "sede", "consultorio", "ubicacion"}},
      {"status", {"status", "estado", "estado cita", "estado de la cita"}},
  };
  return kFields;
}

const std::vector<FieldNames>& FieldsOf(SyncKind kind) {
  return kind == SyncKind::kPatients ? PatientFields() : AppointmentFields();
}

const char* FieldOf(SyncKind kind, const std::string& header_name) {
  const std::string k = Key(header_name);
  for (const FieldNames& f : FieldsOf(kind)) {
    for (const char* n : f.names) {
      if (Key(n) == k) return f.field;
    }
  }
  return nullptr;
}

std::string Printable(std::string_view v) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < 60; ++i) {
    const char c = v[i];
    out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7F ? '?' : c);
  }
  if (v.size() > 60) out += "...";
  return out;
}

// A cell's value for a message: printable, and with phone-like digit runs masked unless it reads
// as a date ("2026-12-09", "09/12/2026 10:00"), which the masking would garble.
std::string Shown(std::string_view v) {
  const std::string p = Printable(v);
  size_t i = 0;
  auto digits = [&](size_t min, size_t max) {
    size_t n = 0;
    while (i < p.size() && p[i] >= '0' && p[i] <= '9' && n < max) ++i, ++n;
    return n >= min;
  };
  auto sep = [&] {
    if (i < p.size() && (p[i] == '-' || p[i] == '/')) return ++i, true;
    return false;
  };
  const bool date = digits(1, 4) && sep() && digits(1, 2) && sep() && digits(1, 4) &&
                    (i == p.size() || p[i] == ' ' || p[i] == 'T');
  return date ? p : common::RedactPhones(p);
}

absl::TimeZone Bogota() {
  static const absl::TimeZone tz = [] {
    absl::TimeZone z;
    if (!absl::LoadTimeZone("America/Bogota", &z)) z = absl::FixedTimeZone(-5 * 3600);
    return z;
  }();
  return tz;
}

google::protobuf::Timestamp ToTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t secs = absl::ToUnixSeconds(t);
  ts.set_seconds(secs);
  ts.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(secs))));
  return ts;
}

std::string Value(const std::vector<std::string>& fields, const SyncCsvColumns& cols,
                  const std::string& field) {
  const auto i = cols.Find(field);
  return i ? fields[*i] : std::string();
}

std::string HeaderName(const SyncCsvColumns& cols, const std::string& field) {
  const auto it = cols.header.find(field);
  return it == cols.header.end() ? field : it->second;
}

// call-gateway's field names (json_name or proto spelling: "phone", "fullName", "scheduledAt")
// as the file's header spells them.
std::string CsvFieldName(const SyncCsvColumns& cols, const std::string& server_field) {
  std::string snake;
  for (const char c : server_field) {
    if (c >= 'A' && c <= 'Z') {
      snake += '_';
      snake += static_cast<char>(c - 'A' + 'a');
    } else {
      snake += c;
    }
  }
  if (snake == "scheduled_at" && !cols.Find("scheduled_at") && cols.Find("date")) {
    return HeaderName(cols, "date") + "+" + HeaderName(cols, "time");
  }
  if (snake == "full_name" && !cols.Find("full_name")) {
    std::string out;
    for (const char* f : {"given_names", "family_names"}) {
      if (cols.Find(f)) out += (out.empty() ? "" : "+") + HeaderName(cols, f);
    }
    return out.empty() ? server_field : out;
  }
  return cols.Find(snake) ? HeaderName(cols, snake) : server_field;
}

std::string FhirFieldName(const std::string& kind, const std::string& server_field) {
  static const std::map<std::string, std::string> kPatient = {
      {"externalRef", "Patient.id"},    {"external_ref", "Patient.id"},
      {"fullName", "Patient.name"},     {"full_name", "Patient.name"},
      {"phone", "Patient.telecom"},     {"doNotCall", "Patient.active"},
      {"do_not_call", "Patient.active"}};
  static const std::map<std::string, std::string> kAppointment = {
      {"externalRef", "Appointment.id"},
      {"external_ref", "Appointment.id"},
      {"patientExternalRef", "Appointment.participant"},
      {"patient_external_ref", "Appointment.participant"},
      {"scheduledAt", "Appointment.start"},
      {"scheduled_at", "Appointment.start"},
      {"status", "Appointment.status"},
      {"doctorName", "Appointment.participant"},
      {"doctor_name", "Appointment.participant"},
      {"specialty", "Appointment.serviceType"},
      {"location", "Appointment.participant"}};
  const auto& m = kind == "patient" ? kPatient : kAppointment;
  const auto it = m.find(server_field);
  return it == m.end() ? server_field : it->second;
}

// ---- batches ------------------------------------------------------------------------------------

struct RowInfo {
  int64_t line = 0;
  std::string external_ref;
  std::string name;  // a patient's, to mask it in call-gateway's reasons
};

void AddRow(v1::UpsertPatientsRequest* r, v1::PatientInput in) {
  *r->add_patients() = std::move(in);
}
void AddRow(v1::UpsertAppointmentsRequest* r, v1::AppointmentInput in) {
  *r->add_appointments() = std::move(in);
}

bool Retryable(grpc::StatusCode c) {
  // ABORTED: the batch's transaction lost a deadlock or a race; batches are idempotent.
  return c == grpc::StatusCode::UNAVAILABLE || c == grpc::StatusCode::DEADLINE_EXCEEDED ||
         c == grpc::StatusCode::RESOURCE_EXHAUSTED || c == grpc::StatusCode::ABORTED;
}

// Rows into batches of options.batch_size, up to options.in_flight batches awaiting their
// answers, the answers into `summary` by line.
template <typename Request, typename Input>
class Pipeline {
 public:
  using Sender = std::function<grpc::Status(const Request&, v1::SyncResponse*)>;

  Pipeline(const SyncOptions& options, const Sender& send, std::string kind,
           std::function<std::string(const std::string&)> field_name, SyncSummary* summary)
      : options_(options),
        send_(send),
        kind_(std::move(kind)),
        field_name_(std::move(field_name)),
        summary_(summary) {}

  // false once a batch has failed: stop reading.
  bool Add(Input row, RowInfo info) {
    ++summary_->valid;
    AddRow(&batch_, std::move(row));
    rows_.push_back(std::move(info));
    if (static_cast<int>(rows_.size()) >= std::clamp(options_.batch_size, 1, 5000)) Flush();
    return !summary_->failed;
  }

  void Finish() {
    if (!summary_->failed) Flush();
    while (!window_.empty()) Collect();
  }

 private:
  struct Sent {
    std::vector<RowInfo> rows;
    std::future<std::pair<grpc::Status, v1::SyncResponse>> answer;
  };

  void Flush() {
    if (rows_.empty()) return;
    Request request = std::move(batch_);
    std::vector<RowInfo> rows = std::move(rows_);
    batch_ = Request();
    rows_.clear();
    if (options_.dry_run) return;
    Sent s;
    s.rows = std::move(rows);
    s.answer =
        std::async(std::launch::async, [send = send_, attempts = options_.attempts,
                                        backoff = options_.backoff, req = std::move(request)] {
          v1::SyncResponse resp;
          grpc::Status st;
          auto wait = backoff;
          for (int attempt = 1;; ++attempt) {
            resp.Clear();
            st = send(req, &resp);
            // A batch is idempotent (sync.proto): sending it again after a lost answer is safe.
            if (st.ok() || !Retryable(st.error_code()) || attempt >= std::max(attempts, 1)) break;
            std::this_thread::sleep_for(wait);
            wait *= 2;
          }
          return std::make_pair(st, std::move(resp));
        });
    window_.push_back(std::move(s));
    while (static_cast<int>(window_.size()) >= std::clamp(options_.in_flight, 1, 8)) Collect();
  }

  void Collect() {
    Sent s = std::move(window_.front());
    window_.pop_front();
    auto [status, resp] = s.answer.get();
    if (!status.ok()) {
      if (!summary_->failed) {
        summary_->failed = status;
        summary_->failed_line = s.rows.empty() ? 0 : s.rows.front().line;
      }
      return;
    }
    summary_->created += resp.created();
    summary_->updated += resp.updated();
    summary_->unchanged += resp.unchanged();
    int64_t refused_rows = 0;
    for (const v1::SyncRowResult& r : resp.results()) {
      if (r.outcome() != "refused") continue;
      ++refused_rows;
      SyncRefusal f;
      const RowInfo* row = r.index() >= 0 && static_cast<size_t>(r.index()) < s.rows.size()
                               ? &s.rows[static_cast<size_t>(r.index())]
                               : nullptr;
      f.line = row != nullptr ? row->line : -1;
      f.kind = r.kind().empty() ? kind_ : r.kind();
      f.external_ref =
          !r.external_ref().empty() || row == nullptr ? r.external_ref() : row->external_ref;
      f.field = field_name_(r.field());
      f.error = common::RedactPatientData(r.error(), row != nullptr ? row->name : "");
      summary_->refusals.push_back(std::move(f));
    }
    summary_->refused += std::max<int64_t>(resp.refused(), refused_rows);
  }

  const SyncOptions& options_;
  Sender send_;
  std::string kind_;
  std::function<std::string(const std::string&)> field_name_;
  SyncSummary* summary_;
  Request batch_;
  std::vector<RowInfo> rows_;
  std::deque<Sent> window_;
};

// The CLI's (and libs/fhir's) own reasons quote only dates, codes and Shown() values: they are
// not passed through the phone masking, which would garble the dates.
void RefuseHere(SyncSummary* s, int64_t line, std::string kind, std::string ref, std::string field,
                const std::string& why) {
  ++s->refused;
  SyncRefusal f;
  f.line = line;
  f.kind = std::move(kind);
  f.external_ref = std::move(ref);
  f.field = std::move(field);
  f.error = why;
  f.local = true;
  s->refusals.push_back(std::move(f));
}

void SortRefusals(SyncSummary* s) {
  std::stable_sort(s->refusals.begin(), s->refusals.end(),
                   [](const SyncRefusal& a, const SyncRefusal& b) { return a.line < b.line; });
}

// The CSV loop shared by patients and appointments: `map` turns a record into the row (or a
// problem), the pipeline sends it.
template <typename Input, typename Request, typename Map>
SyncSummary ImportCsv(rne::CsvReader& reader, const SyncCsvColumns& cols,
                      const SyncOptions& options,
                      const std::function<grpc::Status(const Request&, v1::SyncResponse*)>& send,
                      const std::string& kind, Map map) {
  SyncSummary summary;
  Pipeline<Request, Input> pipeline(
      options, send, kind, [&cols](const std::string& f) { return CsvFieldName(cols, f); },
      &summary);
  std::unordered_map<std::string, int64_t> sent_refs;  // external_ref -> its line
  std::vector<std::string> fields;
  std::string error;
  int64_t line = 0;
  for (;;) {
    const auto next = reader.Read(cols.delimiter, &fields, &line, &error);
    if (next == rne::CsvReader::Next::kEnd) break;
    if (next == rne::CsvReader::Next::kError) {
      summary.broken = std::make_pair(line, error);
      break;
    }
    if (fields.size() == 1 && fields[0].empty()) continue;  // a blank line
    ++summary.rows;
    Input row;
    std::string name;
    const std::string ref = fields.size() == cols.count ? Value(fields, cols, "external_ref") : "";
    if (auto problem = map(fields, &row, &name)) {
      RefuseHere(&summary, line, kind, ref, problem->field, problem->why);
      continue;
    }
    if (!ref.empty()) {
      const auto [it, fresh] = sent_refs.emplace(ref, line);
      if (!fresh) {
        RefuseHere(&summary, line, kind, ref, HeaderName(cols, "external_ref"),
                   Cat("the same ", HeaderName(cols, "external_ref"), " is on line ", it->second,
                       " too (each ", kind, " once per file; this row was not sent)"));
        continue;
      }
    }
    if (!pipeline.Add(std::move(row), RowInfo{line, ref, name})) break;
  }
  pipeline.Finish();
  SortRefusals(&summary);
  return summary;
}

}  // namespace

// ---- columns ------------------------------------------------------------------------------------

std::optional<size_t> SyncCsvColumns::Find(const std::string& field) const {
  const auto it = index.find(field);
  return it == index.end() ? std::nullopt : std::optional<size_t>(it->second);
}

std::optional<SyncCsvColumns> ReadSyncCsvColumns(SyncKind kind, const std::string& header,
                                                 std::string* error) {
  // The delimiter under which most names are known.
  char best = ',';
  int best_known = -1;
  for (const char d : {',', ';', '\t', '|'}) {
    int known = 0;
    for (const std::string& n : rne::SplitLine(header, d)) known += FieldOf(kind, n) ? 1 : 0;
    if (known > best_known) {
      best = d;
      best_known = known;
    }
  }
  const char* what = kind == SyncKind::kPatients ? "patients" : "appointments";
  const std::vector<std::string> names = rne::SplitLine(header, best);
  if (best_known == 0) {
    *error =
        Cat("no known column in the header '", Printable(header), "' (", what, " columns: ",
            kind == SyncKind::kPatients ? "external_ref, full_name, phone, do_not_call, time_zone"
                                        : "external_ref, patient_external_ref, scheduled_at, "
                                          "doctor_name, specialty, location, status",
            "; outcall sync ", what, " --help lists every name)");
    return std::nullopt;
  }
  SyncCsvColumns c;
  c.kind = kind;
  c.delimiter = best;
  c.count = names.size();
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) continue;
    const char* field = FieldOf(kind, names[i]);
    if (field == nullptr) {
      *error = Cat("unknown column '", Printable(names[i]), "' (", what, " columns: ",
                   kind == SyncKind::kPatients
                       ? "external_ref, full_name (or given_names, family_names), phone, "
                         "do_not_call, time_zone"
                       : "external_ref, patient_external_ref, scheduled_at (or date and time), "
                         "doctor_name, specialty, location, status",
                   ", or their Spanish names: outcall sync ", what, " --help)");
      return std::nullopt;
    }
    if (const auto it = c.header.find(field); it != c.header.end()) {
      *error = Cat("columns '", Printable(it->second), "' and '", Printable(names[i]),
                   "' both mean ", field, "; keep one");
      return std::nullopt;
    }
    c.index[field] = i;
    c.header[field] = names[i];
  }
  auto missing = [&](const std::string& why) {
    *error = Cat("the header has no ", why);
    return std::nullopt;
  };
  if (!c.Find("external_ref")) {
    return missing(kind == SyncKind::kPatients
                       ? "external_ref column (the clinic's patient id: external_ref, documento, "
                         "id_paciente, ...)"
                       : "external_ref column (the clinic's appointment id: external_ref, id_cita, "
                         "...)");
  }
  if (kind == SyncKind::kPatients) {
    if (c.Find("full_name") && (c.Find("given_names") || c.Find("family_names"))) {
      *error = "the header has both a full_name column and given_names/family_names; keep one way";
      return std::nullopt;
    }
    if (!c.Find("full_name") && !c.Find("given_names")) {
      return missing("full_name column (full_name, nombre, ...; or given_names with family_names)");
    }
    if (!c.Find("phone")) return missing("phone column (phone, telefono, celular, ...)");
  } else {
    if (!c.Find("patient_external_ref")) {
      return missing(
          "patient_external_ref column (the patient's external_ref: "
          "patient_external_ref, documento, id_paciente, ...)");
    }
    const bool split = c.Find("date") || c.Find("time");
    if (c.Find("scheduled_at") && split) {
      *error = "the header has both a scheduled_at column and date/time columns; keep one way";
      return std::nullopt;
    }
    if (!c.Find("scheduled_at") && !(c.Find("date") && c.Find("time"))) {
      return missing(split ? "time column to go with the date column (or one scheduled_at column)"
                           : "scheduled_at column (scheduled_at, fecha_hora, ...; or date "
                             "and time columns)");
    }
  }
  return c;
}

std::string SyncCsvColumnHelp(SyncKind kind) {
  std::string out;
  for (const FieldNames& f : FieldsOf(kind)) {
    std::string line = Cat("  ", f.field, ":");
    for (size_t i = 1; i < f.names.size(); ++i) {
      const std::string name = Cat(" ", f.names[i], i + 1 < f.names.size() ? "," : "");
      if (line.size() + name.size() > 92) {  // wrapped, indented under the field
        out += line + "\n";
        line = "     ";
      }
      line += name;
    }
    out += line + "\n";
  }
  return out;
}

// ---- values -------------------------------------------------------------------------------------

bool ParseYesNo(std::string_view s, std::optional<bool>* out) {
  const std::string k = Key(s);
  if (k.empty()) {
    out->reset();
    return true;
  }
  static const std::set<std::string> kYes = {"true", "yes", "y", "si", "s", "1", "verdadero"};
  static const std::set<std::string> kNo = {"false", "no", "n", "0", "falso"};
  if (kYes.count(k) > 0) {
    *out = true;
    return true;
  }
  if (kNo.count(k) > 0) {
    *out = false;
    return true;
  }
  return false;
}

std::optional<google::protobuf::Timestamp> ParseSyncTime(std::string_view in, std::string* why) {
  const std::string s(common::Trim(in));
  absl::Time t;
  std::string err;
  for (const char* zoned : {"%Y-%m-%d%ET%H:%M:%E*S%Ez", "%Y-%m-%d %H:%M:%E*S%Ez",
                            "%Y-%m-%d%ET%H:%M%Ez", "%Y-%m-%d %H:%M%Ez"}) {
    if (absl::ParseTime(zoned, s, &t, &err)) return ToTimestamp(t);
  }
  for (const char* local :
       {"%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"}) {
    if (absl::ParseTime(local, s, Bogota(), &t, &err)) return ToTimestamp(t);
  }
  if (s.empty()) {
    *why = "empty (a date and time such as 2026-12-04 10:00 is needed)";
  } else if (cli::IsDate(s)) {
    *why = Cat("'", Shown(s), "' is a date without a time (2026-12-04 10:00, Bogotá time)");
  } else if (s.size() >= 10 && (s[2] == '/' || s[1] == '/')) {
    *why = Cat("'", Shown(s),
               "' is day/month/year; write 2026-12-04 10:00 (year first: no day/month mix-ups)");
  } else {
    *why = Cat("'", Shown(s),
               "' is not a date and time like 2026-12-04 10:00 (Bogotá) or "
               "2026-12-04T10:00:00-05:00");
  }
  return std::nullopt;
}

std::string CanonicalAppointmentStatus(std::string_view s) {
  static const std::map<std::string, std::string> kStatuses = [] {
    std::map<std::string, std::string> m;
    const std::vector<std::pair<const char*, std::vector<const char*>>> table = {
        {"scheduled",
         {"scheduled", "booked", "programada", "agendada", "asignada", "reservada", "pendiente"}},
        {"confirmed", {"confirmed", "confirmada"}},
        {"reschedule_requested",
         {"reschedule_requested", "reschedule", "reprogramar", "por reprogramar",
          "solicita reprogramar", "reprogramacion solicitada"}},
        {"canceled", {"canceled", "cancelled", "cancelada", "anulada"}},
        {"completed",
         {"completed", "fulfilled", "cumplida", "atendida", "completada", "realizada"}},
        {"no_show", {"no_show", "noshow", "inasistencia", "no asistio", "incumplida"}},
    };
    for (const auto& [status, names] : table) {
      for (const char* n : names) m[Key(n)] = status;
    }
    return m;
  }();
  const std::string trimmed(common::Trim(s));
  if (trimmed.empty()) return "";
  const auto it = kStatuses.find(Key(trimmed));
  return it == kStatuses.end() ? trimmed : it->second;
}

// ---- records ------------------------------------------------------------------------------------

std::optional<CsvRowProblem> CsvRecordToPatient(const std::vector<std::string>& fields,
                                                const SyncCsvColumns& cols, v1::PatientInput* out) {
  if (fields.size() != cols.count) {
    return CsvRowProblem{"", Cat("has ", fields.size(), " fields; the header has ", cols.count)};
  }
  v1::PatientInput p;
  p.set_external_ref(Value(fields, cols, "external_ref"));
  if (cols.Find("full_name")) {
    p.set_full_name(Value(fields, cols, "full_name"));
  } else {
    std::string name = Value(fields, cols, "given_names");
    const std::string family = Value(fields, cols, "family_names");
    if (!family.empty()) name += (name.empty() ? "" : " ") + family;
    p.set_full_name(name);
  }
  p.set_phone(Value(fields, cols, "phone"));
  if (cols.Find("do_not_call")) {
    std::optional<bool> dnc;
    const std::string v = Value(fields, cols, "do_not_call");
    if (!ParseYesNo(v, &dnc)) {
      return CsvRowProblem{HeaderName(cols, "do_not_call"),
                           Cat("'", Shown(v), "' is not true/false, sí/no or 1/0")};
    }
    if (dnc) p.set_do_not_call(*dnc);
  }
  p.set_time_zone(Value(fields, cols, "time_zone"));
  *out = std::move(p);
  return std::nullopt;
}

std::optional<CsvRowProblem> CsvRecordToAppointment(const std::vector<std::string>& fields,
                                                    const SyncCsvColumns& cols,
                                                    v1::AppointmentInput* out) {
  if (fields.size() != cols.count) {
    return CsvRowProblem{"", Cat("has ", fields.size(), " fields; the header has ", cols.count)};
  }
  v1::AppointmentInput a;
  a.set_external_ref(Value(fields, cols, "external_ref"));
  a.set_patient_external_ref(Value(fields, cols, "patient_external_ref"));
  std::string when;
  std::string field;
  if (cols.Find("scheduled_at")) {
    when = Value(fields, cols, "scheduled_at");
    field = HeaderName(cols, "scheduled_at");
  } else {
    const std::string date = Value(fields, cols, "date");
    const std::string time = Value(fields, cols, "time");
    field = HeaderName(cols, date.empty() || !time.empty() ? "date" : "time");
    if (time.empty() && !date.empty()) {
      return CsvRowProblem{HeaderName(cols, "time"),
                           "empty (the appointment's time, such as 10:00, is needed)"};
    }
    when = date.empty() ? std::string() : date + " " + time;
  }
  std::string why;
  const auto at = ParseSyncTime(when, &why);
  if (!at) return CsvRowProblem{field, why};
  *a.mutable_scheduled_at() = *at;
  a.set_doctor_name(Value(fields, cols, "doctor_name"));
  a.set_specialty(Value(fields, cols, "specialty"));
  a.set_location(Value(fields, cols, "location"));
  a.set_status(CanonicalAppointmentStatus(Value(fields, cols, "status")));
  *out = std::move(a);
  return std::nullopt;
}

// ---- the import ---------------------------------------------------------------------------------

SyncSummary ImportPatientsCsv(rne::CsvReader& reader, const SyncCsvColumns& cols,
                              const SyncOptions& options, const PatientSender& send) {
  return ImportCsv<v1::PatientInput>(
      reader, cols, options, send, "patient",
      [&cols](const std::vector<std::string>& fields, v1::PatientInput* row, std::string* name) {
        auto problem = CsvRecordToPatient(fields, cols, row);
        if (fields.size() == cols.count) {
          *name = cols.Find("full_name") ? Value(fields, cols, "full_name")
                                         : Value(fields, cols, "given_names") + " " +
                                               Value(fields, cols, "family_names");
        }
        return problem;
      });
}

SyncSummary ImportAppointmentsCsv(rne::CsvReader& reader, const SyncCsvColumns& cols,
                                  const SyncOptions& options, const AppointmentSender& send) {
  return ImportCsv<v1::AppointmentInput>(
      reader, cols, options, send, "appointment",
      [&cols](const std::vector<std::string>& fields, v1::AppointmentInput* row, std::string*) {
        return CsvRecordToAppointment(fields, cols, row);
      });
}

SyncSummary ImportFhir(const fhir::FhirImport& mapped, const SyncOptions& options,
                       const PatientSender& send_patients,
                       const AppointmentSender& send_appointments) {
  SyncSummary summary;
  summary.rows = mapped.patients.patients_size() + mapped.appointments.appointments_size() +
                 static_cast<int64_t>(mapped.refused.size());
  summary.ignored = mapped.ignored;
  for (const v1::SyncRowResult& r : mapped.refused) {
    RefuseHere(&summary, r.index(), r.kind(), r.external_ref(), r.field(), r.error());
  }
  {
    Pipeline<v1::UpsertPatientsRequest, v1::PatientInput> patients(
        options, send_patients, "patient",
        [](const std::string& f) { return FhirFieldName("patient", f); }, &summary);
    for (int i = 0; i < mapped.patients.patients_size(); ++i) {
      const v1::PatientInput& p = mapped.patients.patients(i);
      const int entry = static_cast<size_t>(i) < mapped.patient_entries.size()
                            ? mapped.patient_entries[static_cast<size_t>(i)]
                            : i;
      if (!patients.Add(p, RowInfo{entry, p.external_ref(), p.full_name()})) break;
    }
    patients.Finish();  // every patient answered before an appointment names one
  }
  if (!summary.failed) {
    Pipeline<v1::UpsertAppointmentsRequest, v1::AppointmentInput> appointments(
        options, send_appointments, "appointment",
        [](const std::string& f) { return FhirFieldName("appointment", f); }, &summary);
    for (int i = 0; i < mapped.appointments.appointments_size(); ++i) {
      const v1::AppointmentInput& a = mapped.appointments.appointments(i);
      const int entry = static_cast<size_t>(i) < mapped.appointment_entries.size()
                            ? mapped.appointment_entries[static_cast<size_t>(i)]
                            : i;
      if (!appointments.Add(a, RowInfo{entry, a.external_ref(), ""})) break;
    }
    appointments.Finish();
  }
  SortRefusals(&summary);
  return summary;
}

// ---- output -------------------------------------------------------------------------------------

std::string RenderSyncSummary(const SyncSummary& s, bool fhir, bool dry_run) {
  std::string out;
  if (!s.refusals.empty()) {
    std::vector<std::string> headers = {fhir ? ">ENTRY" : ">LINE"};
    if (fhir) headers.push_back("KIND");
    for (const char* h : {"REF", "FIELD", "REASON"}) headers.push_back(h);
    cli::Table t(headers);
    for (const SyncRefusal& r : s.refusals) {
      std::vector<std::string> row = {r.line >= 0 ? std::to_string(r.line) : "?"};
      if (fhir) row.push_back(cli::OrDash(r.kind));
      row.push_back(cli::OrDash(r.external_ref));
      row.push_back(cli::OrDash(r.field));
      row.push_back(r.error);
      t.AddRow(std::move(row));
    }
    out += t.Render();
  }
  const char* unit = fhir ? " entries" : " rows";
  if (dry_run) {
    out += Cat(s.rows, unit, " read: ", s.valid, " would be sent, ", s.refused,
               " refused (dry run: nothing was sent)\n");
  } else {
    out += Cat(s.rows, unit, " read: ", s.created, " created, ", s.updated, " updated, ",
               s.unchanged, " unchanged, ", s.refused, " refused\n");
  }
  if (fhir && !s.ignored.empty()) {
    out += Cat("not mapped (ignored): ", common::Join(s.ignored, ", "), "\n");
  }
  return out;
}

std::string SyncSummaryJson(const SyncSummary& s, bool fhir, bool dry_run) {
  boost::json::object o;
  o["rowsRead"] = s.rows;
  if (dry_run) {
    o["dryRun"] = true;
    o["valid"] = s.valid;
  }
  o["created"] = s.created;
  o["updated"] = s.updated;
  o["unchanged"] = s.unchanged;
  o["refused"] = s.refused;
  boost::json::array rows;
  for (const SyncRefusal& r : s.refusals) {
    boost::json::object row;
    row[fhir ? "entry" : "line"] = r.line;
    row["kind"] = r.kind;
    row["externalRef"] = r.external_ref;
    row["field"] = r.field;
    row["error"] = r.error;
    row["by"] = r.local ? "cli" : "call-gateway";
    rows.push_back(std::move(row));
  }
  o["refusedRows"] = std::move(rows);
  if (fhir) {
    boost::json::array ignored;
    for (const std::string& i : s.ignored) ignored.push_back(boost::json::string(i));
    o["ignored"] = std::move(ignored);
  }
  if (s.failed || s.broken) {
    boost::json::object stopped;
    if (s.failed) {
      stopped["line"] = s.failed_line;
      stopped["code"] = cli::StatusCodeName(s.failed->error_code());
      stopped["error"] = common::RedactPhones(s.failed->error_message());
    } else {
      stopped["line"] = s.broken->first;
      stopped["code"] = "UNREADABLE";
      stopped["error"] = s.broken->second;
    }
    o["stopped"] = std::move(stopped);
  }
  return boost::json::serialize(o) + "\n";
}

}  // namespace outcall::ops
