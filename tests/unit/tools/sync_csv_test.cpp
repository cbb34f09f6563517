// `outcall sync patients|appointments|fhir` (tools/ops/sync_csv.h): the header's columns by
// their English and Spanish names, each record as a PatientInput or AppointmentInput (or why
// not), and the streaming import against a fake ClinicSync on the sample files in
// tests/data/sync (the same files call-gateway's sync tests read; their README lists the errors).
#include "sync_csv.h"

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

namespace outcall::ops {
namespace {

const std::string kData = OUTCALL_SYNC_DATA_DIR;

int64_t Secs(const std::string& rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return absl::ToUnixSeconds(t);
}

SyncCsvColumns Columns(SyncKind kind, const std::string& header) {
  std::string err;
  auto c = ReadSyncCsvColumns(kind, header, &err);
  EXPECT_TRUE(c) << header << ": " << err;
  return c ? *c : SyncCsvColumns{};
}

std::string HeaderError(SyncKind kind, const std::string& header) {
  std::string err;
  EXPECT_FALSE(ReadSyncCsvColumns(kind, header, &err)) << header;
  return err;
}

// ---- headers ------------------------------------------------------------------------------------

TEST(SyncCsvHeader, CanonicalNamesAndTheirSpanishAliases) {
  SyncCsvColumns c =
      Columns(SyncKind::kPatients, "external_ref,full_name,phone,do_not_call,time_zone");
  EXPECT_EQ(c.delimiter, ',');
  EXPECT_EQ(c.count, 5u);
  EXPECT_EQ(c.Find("phone"), 2u);
  EXPECT_EQ(c.Find("time_zone"), 4u);

  // Case, accents, spaces and _-./ do not matter; the delimiter is the header's.
  c = Columns(SyncKind::kPatients,
              "Número de Documento;NOMBRE COMPLETO;Teléfono Celular;No llamar");
  EXPECT_EQ(c.delimiter, ';');
  EXPECT_EQ(c.Find("external_ref"), 0u);
  EXPECT_EQ(c.Find("full_name"), 1u);
  EXPECT_EQ(c.Find("phone"), 2u);
  EXPECT_EQ(c.Find("do_not_call"), 3u);
  EXPECT_EQ(c.header.at("phone"), "Teléfono Celular");
  c = Columns(SyncKind::kPatients, "id_paciente\tnombres\tapellidos\tcelular\tzona horaria");
  EXPECT_EQ(c.delimiter, '\t');
  EXPECT_EQ(c.Find("given_names"), 1u);
  EXPECT_EQ(c.Find("family_names"), 2u);
  c = Columns(SyncKind::kPatients, "ExternalRef|FullName|Phone|");  // a trailing empty column
  EXPECT_EQ(c.delimiter, '|');
  EXPECT_EQ(c.count, 4u);

  c = Columns(SyncKind::kAppointments,
              "ID Cita,Documento,Fecha y hora,Médico,Especialidad,Sede,Estado");
  EXPECT_EQ(c.Find("external_ref"), 0u);
  EXPECT_EQ(c.Find("patient_external_ref"), 1u);
  EXPECT_EQ(c.Find("scheduled_at"), 2u);
  EXPECT_EQ(c.Find("doctor_name"), 3u);
  EXPECT_EQ(c.Find("specialty"), 4u);
  EXPECT_EQ(c.Find("location"), 5u);
  EXPECT_EQ(c.Find("status"), 6u);
  c = Columns(SyncKind::kAppointments, "cita;paciente id;fecha;hora");
  EXPECT_EQ(c.Find("date"), 2u);
  EXPECT_EQ(c.Find("time"), 3u);
  EXPECT_FALSE(c.Find("scheduled_at"));
}

TEST(SyncCsvHeader, NamesWhatIsWrong) {
  EXPECT_EQ(HeaderError(SyncKind::kPatients, "documento,nombre,telefono,edad").substr(0, 23),
            "unknown column 'edad' (");
  EXPECT_NE(HeaderError(SyncKind::kPatients, "nombre,telefono").find("no external_ref column"),
            std::string::npos);
  EXPECT_NE(HeaderError(SyncKind::kPatients, "documento,telefono").find("no full_name column"),
            std::string::npos);
  EXPECT_NE(HeaderError(SyncKind::kPatients, "documento,nombre").find("no phone column"),
            std::string::npos);
  EXPECT_EQ(HeaderError(SyncKind::kPatients, "documento,nombre,telefono,celular"),
            "columns 'telefono' and 'celular' both mean phone; keep one");
  EXPECT_NE(HeaderError(SyncKind::kPatients, "documento,nombre,nombres,telefono").find("keep one"),
            std::string::npos);
  EXPECT_NE(HeaderError(SyncKind::kPatients, "edad,sexo").find("no known column"),
            std::string::npos);
  EXPECT_NE(HeaderError(SyncKind::kAppointments, "id_cita,documento,medico")
                .find("no scheduled_at column"),
            std::string::npos);
  EXPECT_NE(HeaderError(SyncKind::kAppointments, "id_cita,documento,fecha")
                .find("no time column to go with the date column"),
            std::string::npos);
  EXPECT_NE(HeaderError(SyncKind::kAppointments, "id_cita,fecha_hora")
                .find("no patient_external_ref column"),
            std::string::npos);
  EXPECT_NE(HeaderError(SyncKind::kAppointments, "id_cita,documento,fecha_hora,fecha,hora")
                .find("keep one way"),
            std::string::npos);
  // A patients file given to `sync appointments` names the first column it does not know.
  EXPECT_EQ(HeaderError(SyncKind::kAppointments, "external_ref,full_name,phone").substr(0, 28),
            "unknown column 'full_name' (");
}

// ---- records ------------------------------------------------------------------------------------

TEST(SyncCsvRecord, Patients) {
  const SyncCsvColumns c = Columns(SyncKind::kPatients, "documento,nombres,apellidos,celular,dnc");
  v1::PatientInput p;
  EXPECT_FALSE(CsvRecordToPatient(
      {"CC-52345678", "María Fernanda", "Rodríguez Gómez", "310 456 7890", ""}, c, &p));
  EXPECT_EQ(p.external_ref(), "CC-52345678");
  EXPECT_EQ(p.full_name(), "María Fernanda Rodríguez Gómez");
  EXPECT_EQ(p.phone(), "310 456 7890");  // as written: call-gateway normalises
  EXPECT_FALSE(p.has_do_not_call());     // empty: as it is
  EXPECT_FALSE(CsvRecordToPatient({"CC-1", "Gloria Inés", "", "3005550104", "Sí"}, c, &p));
  EXPECT_EQ(p.full_name(), "Gloria Inés");
  EXPECT_TRUE(p.has_do_not_call() && p.do_not_call());
  // An empty name or phone is sent: call-gateway refuses it with its own reason.
  EXPECT_FALSE(CsvRecordToPatient({"CC-2", "", "", "", "0"}, c, &p));
  EXPECT_TRUE(p.has_do_not_call() && !p.do_not_call());

  auto bad = CsvRecordToPatient({"CC-3", "Ana", "Ruiz", "3005550105", "quizás"}, c, &p);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->field, "dnc");  // as the header spells it
  EXPECT_EQ(bad->why, "'quizás' is not true/false, sí/no or 1/0");
  bad = CsvRecordToPatient({"CC-3", "3001234567", "3005550105", ""}, c, &p);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->field, "");
  EXPECT_EQ(bad->why, "has 4 fields; the header has 5");
  // A number where do_not_call belongs is masked in the reason.
  bad = CsvRecordToPatient({"CC-3", "Ana", "Ruiz", "3005550105", "300 555 0105"}, c, &p);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->why.find("555 0105"), std::string::npos) << bad->why;

  for (const char* yes : {"true", "TRUE", "sí", "Si", "SÍ", "s", "yes", "1", "Verdadero"}) {
    std::optional<bool> v;
    EXPECT_TRUE(ParseYesNo(yes, &v) && v == true) << yes;
  }
  for (const char* no : {"false", "No", "NO", "n", "0", "falso"}) {
    std::optional<bool> v;
    EXPECT_TRUE(ParseYesNo(no, &v) && v == false) << no;
  }
  std::optional<bool> v = true;
  EXPECT_TRUE(ParseYesNo("  ", &v));
  EXPECT_FALSE(v);
  EXPECT_FALSE(ParseYesNo("2", &v));
  EXPECT_FALSE(ParseYesNo("tal vez", &v));
}

TEST(SyncCsvRecord, AppointmentTimes) {
  struct Case {
    std::string in;
    int64_t seconds;  // 0: refused
    std::string words;
  };
  for (const Case& c : std::vector<Case>{
           {"2026-12-04T10:00:00-05:00", Secs("2026-12-04T15:00:00Z"), ""},
           {"2026-12-04T15:00:00Z", Secs("2026-12-04T15:00:00Z"), ""},
           {"2026-12-04T15:00:00.5Z", Secs("2026-12-04T15:00:00Z"), ""},
           {"2026-12-04 10:00:00-05:00", Secs("2026-12-04T15:00:00Z"), ""},
           {"2026-12-04 10:00", Secs("2026-12-04T15:00:00Z"), ""},  // Bogotá
           {"2026-12-04 10:00:30", Secs("2026-12-04T15:00:30Z"), ""},
           {"2026-12-04T10:00", Secs("2026-12-04T15:00:00Z"), ""},
           {" 2026-12-04 07:05 ", Secs("2026-12-04T12:05:00Z"), ""},
           {"2026-12-04", 0, "'2026-12-04' is a date without a time"},
           {"04/12/2026 10:00", 0, "'04/12/2026 10:00' is day/month/year"},
           {"4/12/2026 10:00", 0, "is day/month/year"},
           {"2026-02-30 10:00", 0, "is not a date and time"},
           {"2026-12-04 25:00", 0, "is not a date and time"},
           {"mañana 10am", 0, "is not a date and time like 2026-12-04 10:00"},
           {"", 0, "empty"},
       }) {
    std::string why;
    auto t = ParseSyncTime(c.in, &why);
    if (c.seconds != 0) {
      ASSERT_TRUE(t) << c.in << ": " << why;
      EXPECT_EQ(t->seconds(), c.seconds) << c.in;
    } else {
      EXPECT_FALSE(t) << c.in;
      EXPECT_NE(why.find(c.words), std::string::npos) << c.in << ": " << why;
    }
  }
}

TEST(SyncCsvRecord, Appointments) {
  SyncCsvColumns c = Columns(
      SyncKind::kAppointments,
      "external_ref,patient_external_ref,scheduled_at,doctor_name,specialty,location,status");
  v1::AppointmentInput a;
  EXPECT_FALSE(
      CsvRecordToAppointment({"CITA-1", "CC-52345678", "2026-12-04 08:30", "Dra. Laura Méndez",
                              "Medicina general", "Sede Norte - Consultorio 204", "Confirmada"},
                             c, &a));
  EXPECT_EQ(a.external_ref(), "CITA-1");
  EXPECT_EQ(a.patient_external_ref(), "CC-52345678");
  EXPECT_EQ(a.scheduled_at().seconds(), Secs("2026-12-04T13:30:00Z"));
  EXPECT_EQ(a.doctor_name(), "Dra. Laura Méndez");
  EXPECT_EQ(a.specialty(), "Medicina general");
  EXPECT_EQ(a.location(), "Sede Norte - Consultorio 204");
  EXPECT_EQ(a.status(), "confirmed");
  auto bad = CsvRecordToAppointment({"CITA-2", "CC-1", "2026-12-09", "", "", "", ""}, c, &a);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->field, "scheduled_at");
  EXPECT_NE(bad->why.find("a date without a time"), std::string::npos);
  bad = CsvRecordToAppointment(
      {"CITA-2", "CC-1", "2026-12-09 10:00", "", "", "Sede Norte", " Consultorio 204", ""}, c, &a);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->why, "has 8 fields; the header has 7");

  // Date and time in two columns, Spanish names.
  c = Columns(SyncKind::kAppointments, "ID Cita;Documento;Fecha;Hora;Estado");
  EXPECT_FALSE(CsvRecordToAppointment({"88101", "52345678", "2026-12-04", "08:30", ""}, c, &a));
  EXPECT_EQ(a.scheduled_at().seconds(), Secs("2026-12-04T13:30:00Z"));
  EXPECT_EQ(a.status(), "");  // empty: scheduled when new, as it is otherwise
  bad = CsvRecordToAppointment({"88103", "79876543", "2026-12-05", "", "Cancelada"}, c, &a);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->field, "Hora");
  bad = CsvRecordToAppointment({"88104", "41234567", "04/12/2026", "10:00", ""}, c, &a);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->field, "Fecha");
  EXPECT_NE(bad->why.find("day/month/year"), std::string::npos);

  struct Status {
    const char* in;
    const char* out;
  };
  for (const Status& s : std::vector<Status>{{"scheduled", "scheduled"},
                                             {"Programada", "scheduled"},
                                             {"agendada", "scheduled"},
                                             {"CONFIRMADA", "confirmed"},
                                             {"Reschedule requested", "reschedule_requested"},
                                             {"Por reprogramar", "reschedule_requested"},
                                             {"cancelled", "canceled"},
                                             {"Anulada", "canceled"},
                                             {"Cumplida", "completed"},
                                             {"atendida", "completed"},
                                             {"No show", "no_show"},
                                             {"Inasistencia", "no_show"},
                                             {"No asistió", "no_show"},
                                             {"", ""},
                                             {"reprogramada", "reprogramada"}}) {
    EXPECT_EQ(CanonicalAppointmentStatus(s.in), s.out) << s.in;
  }
}

TEST(SyncCsvRecord, TheColumnHelpListsEveryField) {
  const std::string p = SyncCsvColumnHelp(SyncKind::kPatients);
  for (const char* f : {"external_ref:", "full_name:", "given_names:", "family_names:", "phone:",
                        "do_not_call:", "time_zone:", "documento", "celular"}) {
    EXPECT_NE(p.find(f), std::string::npos) << f;
  }
  const std::string a = SyncCsvColumnHelp(SyncKind::kAppointments);
  for (const char* f :
       {"patient_external_ref:", "scheduled_at:", "date:", "time:", "status:", "id_cita", "sede"}) {
    EXPECT_NE(a.find(f), std::string::npos) << f;
  }
  std::istringstream lines(p + a);
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 100u) << line;
}

// docs/cli.md's column tables name only columns (and statuses) the CLI knows.
TEST(SyncCsvRecord, DocsCliMdNamesOnlyKnownColumnsAndStatuses) {
  std::ifstream f(OUTCALL_CLI_DOC);
  ASSERT_TRUE(f) << OUTCALL_CLI_DOC;
  std::optional<SyncKind> table;
  int names = 0, statuses = 0;
  const std::set<std::string> canonical = {"scheduled", "confirmed", "reschedule_requested",
                                           "canceled",  "completed", "no_show"};
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("| patients column", 0) == 0) table = SyncKind::kPatients;
    if (line.rfind("| appointments column", 0) == 0) table = SyncKind::kAppointments;
    if (line.empty()) table.reset();
    if (!table || line.rfind("| `", 0) != 0) continue;
    std::vector<std::string> cells;
    for (size_t start = 1, bar; (bar = line.find(" |", start)) != std::string::npos;
         start = bar + 2) {
      cells.push_back(line.substr(start, bar - start));
    }
    ASSERT_GE(cells.size(), 4u) << line;
    auto quoted = [](const std::string& cell) {
      std::vector<std::string> out;
      for (size_t a = cell.find('`'); a != std::string::npos; a = cell.find('`', a + 1)) {
        const size_t b = cell.find('`', a + 1);
        if (b == std::string::npos) break;
        out.push_back(cell.substr(a + 1, b - a - 1));
        a = b;
      }
      return out;
    };
    for (int col : {0, 1}) {
      for (const std::string& name : quoted(cells[col])) {
        std::string err;
        ReadSyncCsvColumns(*table, name, &err);
        EXPECT_EQ(err.find("unknown column"), std::string::npos) << name << ": " << err;
        EXPECT_EQ(err.find("no known column"), std::string::npos) << name << ": " << err;
        ++names;
      }
    }
    if (cells[0] == " `status`") {
      for (const std::string& v : quoted(cells[3])) {
        EXPECT_EQ(canonical.count(CanonicalAppointmentStatus(v)), 1u) << v;
        ++statuses;
      }
    }
  }
  EXPECT_GT(names, 40);
  EXPECT_GT(statuses, 15);
}

// ---- the import, against a fake ClinicSync ----------------------------------------------------

// What a fake call-gateway answers: each row created, or refused by `refuse` (field, error).
template <typename Row>
v1::SyncResponse Answer(
    const google::protobuf::RepeatedPtrField<Row>& rows,
    const std::function<std::optional<std::pair<std::string, std::string>>(const Row&)>& refuse,
    const std::string& kind) {
  v1::SyncResponse resp;
  for (int i = 0; i < rows.size(); ++i) {
    v1::SyncRowResult* r = resp.add_results();
    r->set_index(i);
    r->set_kind(kind);
    r->set_external_ref(rows[i].external_ref());
    if (auto why = refuse(rows[i])) {
      r->set_outcome("refused");
      r->set_field(why->first);
      r->set_error(why->second);
      resp.set_refused(resp.refused() + 1);
    } else {
      r->set_outcome("created");
      r->set_id(1000 + i);
      resp.set_created(resp.created() + 1);
      resp.set_accepted(resp.accepted() + 1);
    }
  }
  return resp;
}

struct FakeGateway {
  std::mutex mu;
  std::vector<int> patient_batches, appointment_batches;  // sizes, in arrival order
  // Sizes sorted (several batches are in flight: they may arrive in any order).
  static std::vector<int> Sorted(std::vector<int> v) {
    std::sort(v.begin(), v.end(), std::greater<int>());
    return v;
  }
  std::set<std::string> patients;  // created
  std::atomic<int> in_flight{0}, max_in_flight{0};
  std::atomic<int> fail_next{0};  // UNAVAILABLE for the next N calls
  std::atomic<bool> appointments_began{false};
  bool patient_after_appointment = false;

  grpc::Status Enter() {
    const int now = ++in_flight;
    int seen = max_in_flight.load();
    while (now > seen && !max_in_flight.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    --in_flight;
    if (fail_next > 0) {
      --fail_next;
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "call-gateway is restarting");
    }
    return grpc::Status::OK;
  }

  PatientSender Patients() {
    return [this](const v1::UpsertPatientsRequest& req, v1::SyncResponse* resp) {
      if (auto st = Enter(); !st.ok()) return st;
      std::lock_guard<std::mutex> lock(mu);
      if (appointments_began) patient_after_appointment = true;
      patient_batches.push_back(req.patients_size());
      *resp = Answer<v1::PatientInput>(
          req.patients(),
          [](const v1::PatientInput& p) -> std::optional<std::pair<std::string, std::string>> {
            std::string digits;
            for (char c : p.phone()) {
              if (c >= '0' && c <= '9') digits += c;
            }
            if (p.full_name().empty()) return std::make_pair("fullName", "is required");
            if (digits.empty())
              return std::make_pair("phone", "'" + p.phone() + "' is not a phone number");
            if (digits.size() < 10) {
              return std::make_pair("phone",
                                    "+57" + digits + " is too short (for " + p.full_name() + ")");
            }
            if (p.time_zone() == "America/Bogata") {
              return std::make_pair("timeZone", "'America/Bogata' is not an IANA time zone");
            }
            return std::nullopt;
          },
          "patient");
      for (const auto& r : resp->results()) {
        if (r.outcome() == "created") patients.insert(r.external_ref());
      }
      return grpc::Status::OK;
    };
  }

  AppointmentSender Appointments(std::set<std::string> known) {
    return [this, known](const v1::UpsertAppointmentsRequest& req, v1::SyncResponse* resp) {
      if (auto st = Enter(); !st.ok()) return st;
      appointments_began = true;
      std::lock_guard<std::mutex> lock(mu);
      appointment_batches.push_back(req.appointments_size());
      const std::set<std::string> statuses = {
          "", "scheduled", "confirmed", "canceled", "completed", "no_show", "reschedule_requested"};
      *resp = Answer<v1::AppointmentInput>(
          req.appointments(),
          [&](const v1::AppointmentInput& a) -> std::optional<std::pair<std::string, std::string>> {
            if (a.patient_external_ref().empty()) {
              return std::make_pair("patientExternalRef", "is required");
            }
            if (known.count(a.patient_external_ref()) == 0 &&
                patients.count(a.patient_external_ref()) == 0) {
              return std::make_pair("patientExternalRef",
                                    "no patient " + a.patient_external_ref() + " (sync it first)");
            }
            if (statuses.count(a.status()) == 0) {
              return std::make_pair("status", "'" + a.status() + "' is not a status");
            }
            return std::nullopt;
          },
          "appointment");
      return grpc::Status::OK;
    };
  }
};

struct Opened {
  std::FILE* f = nullptr;
  std::optional<rne::CsvReader> reader;
  std::string header;
  explicit Opened(const std::string& path) : f(std::fopen(path.c_str(), "rb")) {
    EXPECT_NE(f, nullptr) << path;
    if (f == nullptr) return;
    reader.emplace(f);
    header = reader->ReadHeaderLine().value_or("");
  }
  ~Opened() {
    if (f != nullptr) std::fclose(f);
  }
};

SyncOptions Fast(int batch, int in_flight = 2) {
  SyncOptions o;
  o.batch_size = batch;
  o.in_flight = in_flight;
  o.backoff = std::chrono::milliseconds(1);
  return o;
}

const SyncRefusal* At(const SyncSummary& s, int64_t line) {
  for (const auto& r : s.refusals) {
    if (r.line == line) return &r;
  }
  return nullptr;
}

TEST(SyncImport, PatientsCsvInBatchesWithEveryRefusalByLine) {
  Opened file(kData + "/patients.csv");
  const SyncCsvColumns cols = Columns(SyncKind::kPatients, file.header);
  FakeGateway gw;
  const SyncSummary s = ImportPatientsCsv(*file.reader, cols, Fast(10), gw.Patients());
  EXPECT_FALSE(s.failed);
  EXPECT_FALSE(s.broken);
  EXPECT_EQ(s.rows, 50);
  EXPECT_EQ(s.valid, 47);  // 3 refused by the CLI: not sent
  EXPECT_EQ(FakeGateway::Sorted(gw.patient_batches), (std::vector<int>{10, 10, 10, 10, 7}));
  EXPECT_LE(gw.max_in_flight.load(), 2);
  EXPECT_EQ(s.created, 43);
  EXPECT_EQ(s.refused, 7);
  ASSERT_EQ(s.refusals.size(), 7u);
  struct Want {
    int64_t line;
    const char* ref;
    const char* field;
    bool local;
  };
  for (const Want& w : std::vector<Want>{{5, "TI-1098765432", "phone", false},
                                         {18, "CC-1019876543", "full_name", false},
                                         {29, "CC-71987345", "do_not_call", true},
                                         {32, "CC-1090456123", "time_zone", false},
                                         {33, "CC-80999111", "phone", false},
                                         {37, "CC-1020304050", "external_ref", true},
                                         {51, "", "", true}}) {
    const SyncRefusal* r = At(s, w.line);
    ASSERT_NE(r, nullptr) << "line " << w.line;
    EXPECT_EQ(r->external_ref, w.ref) << w.line;
    EXPECT_EQ(r->field, w.field) << w.line;  // call-gateway's fullName as the header spells it
    EXPECT_EQ(r->local, w.local) << w.line;
    EXPECT_EQ(r->kind, "patient");
  }
  // call-gateway's reason is masked: the number and the patient's name.
  EXPECT_EQ(At(s, 5)->error.find("31522"), std::string::npos) << At(s, 5)->error;
  EXPECT_EQ(At(s, 5)->error.find("Valentina"), std::string::npos) << At(s, 5)->error;
  EXPECT_NE(At(s, 37)->error.find("line 3"), std::string::npos);
  // The sorted order is the file's.
  for (size_t i = 1; i < s.refusals.size(); ++i) {
    EXPECT_LT(s.refusals[i - 1].line, s.refusals[i].line);
  }

  const std::string table = RenderSyncSummary(s, false);
  EXPECT_NE(table.find("LINE  REF"), std::string::npos) << table;
  EXPECT_NE(table.find("50 rows read: 43 created, 0 updated, 0 unchanged, 7 refused\n"),
            std::string::npos)
      << table;
  const boost::json::object j = boost::json::parse(SyncSummaryJson(s, false, false)).as_object();
  EXPECT_EQ(j.at("rowsRead").as_int64(), 50);
  EXPECT_EQ(j.at("refused").as_int64(), 7);
  EXPECT_EQ(j.at("refusedRows").as_array().size(), 7u);
  EXPECT_EQ(j.at("refusedRows").as_array()[0].at("line").as_int64(), 5);
  EXPECT_EQ(j.at("refusedRows").as_array()[0].at("by").as_string(), "call-gateway");
  EXPECT_FALSE(j.contains("stopped"));
}

TEST(SyncImport, AppointmentsCsvAfterThePatients) {
  FakeGateway gw;
  {
    Opened patients(kData + "/patients.csv");
    ImportPatientsCsv(*patients.reader, Columns(SyncKind::kPatients, patients.header), Fast(1000),
                      gw.Patients());
  }
  Opened file(kData + "/appointments.csv");
  const SyncSummary s =
      ImportAppointmentsCsv(*file.reader, Columns(SyncKind::kAppointments, file.header),
                            Fast(25, 3), gw.Appointments({}));
  EXPECT_EQ(s.rows, 80);
  EXPECT_EQ(s.valid, 75);
  EXPECT_EQ(FakeGateway::Sorted(gw.appointment_batches), (std::vector<int>{25, 25, 25}));
  EXPECT_EQ(s.refused, 10);
  EXPECT_EQ(s.created, 70);
  std::vector<int64_t> lines;
  for (const auto& r : s.refusals) lines.push_back(r.line);
  EXPECT_EQ(lines, (std::vector<int64_t>{8, 15, 22, 29, 36, 43, 50, 57, 64, 71}));
  EXPECT_EQ(At(s, 22)->field, "patient_external_ref");
  EXPECT_EQ(At(s, 22)->external_ref, "CITA-2026-000120");
  EXPECT_EQ(At(s, 43)->field, "status");
  EXPECT_TRUE(At(s, 8)->local);
  EXPECT_FALSE(At(s, 29)->local);  // TI-1098765432 was refused in patients.csv
}

TEST(SyncImport, RetriesAPassingOutageAndStopsAtALastingOne) {
  Opened file(kData + "/patients.csv");
  const SyncCsvColumns cols = Columns(SyncKind::kPatients, file.header);
  FakeGateway gw;
  gw.fail_next = 2;  // two UNAVAILABLE, then fine: within 3 attempts
  SyncSummary s = ImportPatientsCsv(*file.reader, cols, Fast(20, 1), gw.Patients());
  EXPECT_FALSE(s.failed);
  EXPECT_EQ(gw.patient_batches, (std::vector<int>{20, 20, 7}));
  EXPECT_EQ(s.created, 43);

  Opened again(kData + "/patients.csv");
  FakeGateway down;
  down.fail_next = 1000;
  s = ImportPatientsCsv(*again.reader, cols, Fast(20, 1), down.Patients());
  ASSERT_TRUE(s.failed);
  EXPECT_EQ(s.failed->error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.failed_line, 2);            // the first batch
  EXPECT_LE(s.valid, 20);                 // reading stopped after it
  EXPECT_EQ(down.fail_next.load(), 997);  // three attempts, one batch
  const boost::json::object j = boost::json::parse(SyncSummaryJson(s, false, false)).as_object();
  EXPECT_EQ(j.at("stopped").at("code").as_string(), "UNAVAILABLE");
  EXPECT_EQ(j.at("stopped").at("line").as_int64(), 2);

  // --dry-run: nothing sent, the CLI's refusals reported.
  Opened dry(kData + "/patients.csv");
  FakeGateway unused;
  SyncOptions o = Fast(10);
  o.dry_run = true;
  s = ImportPatientsCsv(*dry.reader, cols, o, unused.Patients());
  EXPECT_TRUE(unused.patient_batches.empty());
  EXPECT_EQ(s.valid, 47);
  EXPECT_EQ(s.refused, 3);
  EXPECT_NE(RenderSyncSummary(s, false, true).find("47 would be sent, 3 refused (dry run"),
            std::string::npos);
}

TEST(SyncImport, SpreadsheetExportsWithSpanishHeaders) {
  // UTF-8 byte-order mark, ';', CRLF, quotes: as Excel's "CSV UTF-8" writes them.
  Opened file(kData + "/pacientes_excel.csv");
  const SyncCsvColumns cols = Columns(SyncKind::kPatients, file.header);
  EXPECT_EQ(cols.delimiter, ';');
  FakeGateway gw;
  std::vector<v1::PatientInput> sent;
  std::mutex mu;
  const PatientSender keep = [&](const v1::UpsertPatientsRequest& req, v1::SyncResponse* resp) {
    std::lock_guard<std::mutex> lock(mu);
    for (const auto& p : req.patients()) sent.push_back(p);
    return gw.Patients()(req, resp);
  };
  const SyncSummary s = ImportPatientsCsv(*file.reader, cols, Fast(1000), keep);
  EXPECT_EQ(s.rows, 6);
  ASSERT_EQ(sent.size(), 5u);
  EXPECT_EQ(sent[0].external_ref(), "52345678");
  EXPECT_EQ(sent[0].full_name(), "María Fernanda Rodríguez Gómez");
  EXPECT_EQ(sent[2].do_not_call(), true);
  EXPECT_EQ(sent[3].full_name(), "Gloria Inés");
  EXPECT_EQ(sent[4].full_name(), "Juliana Restrepo; Henao");  // quoted: the ';' is data
  ASSERT_EQ(s.refusals.size(), 1u);
  EXPECT_EQ(s.refusals[0].line, 7);
  EXPECT_EQ(s.refusals[0].field, "No llamar");

  Opened citas(kData + "/citas_excel.csv");
  const SyncSummary a =
      ImportAppointmentsCsv(*citas.reader, Columns(SyncKind::kAppointments, citas.header),
                            Fast(1000), gw.Appointments({}));
  EXPECT_EQ(a.rows, 6);
  EXPECT_EQ(a.valid, 4);
  std::vector<int64_t> lines;
  for (const auto& r : a.refusals) lines.push_back(r.line);
  EXPECT_EQ(lines, (std::vector<int64_t>{4, 5, 6}));  // 6: its patient was refused above
}

TEST(SyncImport, AnUnreadableRecordStopsTheReading) {
  std::string csv =
      "external_ref,full_name,phone\nCC-1,Ana,3005550001\nCC-2,\"Ana Ruiz,3005550002\n";
  std::FILE* f = fmemopen(csv.data(), csv.size(), "rb");
  ASSERT_NE(f, nullptr);
  rne::CsvReader reader(f);
  const SyncCsvColumns cols = Columns(SyncKind::kPatients, reader.ReadHeaderLine().value());
  FakeGateway gw;
  const SyncSummary s = ImportPatientsCsv(reader, cols, Fast(1000), gw.Patients());
  std::fclose(f);
  ASSERT_TRUE(s.broken);
  EXPECT_EQ(s.broken->first, 3);
  EXPECT_NE(s.broken->second.find("never closed"), std::string::npos);
  EXPECT_EQ(s.created, 1);  // the row before it was sent
}

TEST(SyncImport, FhirBundlePatientsFirstResultsByEntry) {
  std::ifstream in(kData + "/bundle.json");
  std::stringstream text;
  text << in.rdbuf();
  google::protobuf::Struct bundle;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(text.str(), &bundle).ok());
  absl::Time now;
  std::string err;
  ASSERT_TRUE(absl::ParseTime(absl::RFC3339_full, "2026-12-03T12:00:00-05:00", &now, &err));
  const auto mapped = fhir::FromFhir(bundle, now);
  ASSERT_TRUE(mapped.ok()) << mapped.status();

  FakeGateway gw;
  const SyncSummary s = ImportFhir(*mapped, Fast(2, 2), gw.Patients(), gw.Appointments({}));
  EXPECT_FALSE(gw.patient_after_appointment);
  EXPECT_EQ(FakeGateway::Sorted(gw.patient_batches), (std::vector<int>{2, 2, 1}));
  EXPECT_EQ(FakeGateway::Sorted(gw.appointment_batches), (std::vector<int>{2, 2, 2, 1}));
  EXPECT_EQ(s.rows, 18);
  std::vector<int64_t> entries;
  for (const auto& r : s.refusals) entries.push_back(r.line);
  // 6 by the mapping; by call-gateway: 3 (phone too short), 12 and 15 (their patients were
  // refused), 16 (an unknown patient).
  EXPECT_EQ(entries, (std::vector<int64_t>{3, 4, 8, 9, 10, 12, 14, 15, 16, 17}));
  EXPECT_EQ(At(s, 3)->field, "Patient.telecom");  // call-gateway's phone, as a FHIR path
  EXPECT_EQ(At(s, 16)->field, "Appointment.participant");
  EXPECT_EQ(At(s, 10)->kind, "Observation");
  EXPECT_EQ(s.created, 4 + 4);
  EXPECT_EQ(s.ignored, mapped->ignored);
  const std::string out = RenderSyncSummary(s, true);
  EXPECT_NE(out.find("ENTRY  KIND"), std::string::npos) << out;
  EXPECT_NE(out.find("18 entries read: 8 created, 0 updated, 0 unchanged, 10 refused"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("not mapped (ignored): Appointment.appointmentType"), std::string::npos);
  const boost::json::object j = boost::json::parse(SyncSummaryJson(s, true, false)).as_object();
  EXPECT_EQ(j.at("refusedRows").as_array()[0].at("entry").as_int64(), 3);
  EXPECT_EQ(j.at("ignored").as_array().size(), mapped->ignored.size());
}

}  // namespace
}  // namespace outcall::ops
