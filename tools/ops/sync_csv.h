// The clinic's patients and appointments from files, for `outcall sync patients|appointments|fhir`
// (docs/cli.md): a CSV header's columns found by name (English or Spanish, case, accents and
// spaces/_-./ not mattering), each record turned into a PatientInput or AppointmentInput (or the
// reason the CLI cannot send it), and the streaming import that sends the rows to ClinicSync in
// batches (constant memory for a file of any size) and gathers every row's fate by line.
//
// The CSV reading is rne::CsvReader's (RFC 4180, delimiter ',', ';', tab or '|': whichever the
// header uses), as for outcall-campaign-import. A FHIR file is mapped by outcall::fhir (the same
// code as call-gateway's ImportFhir) and sent the same way, patients first.
#pragma once

#include <grpcpp/support/status.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "campaign_csv.h"  // CsvRowProblem
#include "google/protobuf/timestamp.pb.h"
#include "outcall/fhir/fhir.h"
#include "outcall/v1/sync.pb.h"
#include "rne_file.h"

namespace outcall::ops {

enum class SyncKind { kPatients, kAppointments };

// The columns of a header. Fields (canonical names): patients external_ref, full_name (or
// given_names and/or family_names), phone, do_not_call, time_zone; appointments external_ref,
// patient_external_ref, scheduled_at (or date and time), doctor_name, specialty, location, status.
struct SyncCsvColumns {
  SyncKind kind = SyncKind::kPatients;
  char delimiter = ',';
  size_t count = 0;                           // columns in the header
  std::map<std::string, size_t> index;        // canonical field -> column
  std::map<std::string, std::string> header;  // canonical field -> the header's own spelling
  std::optional<size_t> Find(const std::string& field) const;
};

// The header's columns; nullopt with `error` naming the problem: an unknown column ("unknown
// column 'edad'"), a missing required one, two columns meaning the same field. Columns with an
// empty name (a spreadsheet's trailing delimiters) are skipped.
std::optional<SyncCsvColumns> ReadSyncCsvColumns(SyncKind kind, const std::string& header,
                                                 std::string* error);

// Each field with the names it is known by, one line each, for --help and docs/cli.md.
std::string SyncCsvColumnHelp(SyncKind kind);

// One record; nullopt when it can be sent, else {field (as the header spells it; "" for the
// record as a whole, e.g. a wrong number of fields), why}. Values are sent as written (trimmed):
// call-gateway normalises phone numbers and checks what is required; the CLI checks only what it
// must parse (do_not_call, scheduled_at) and the number of fields.
std::optional<CsvRowProblem> CsvRecordToPatient(const std::vector<std::string>& fields,
                                                const SyncCsvColumns& cols, v1::PatientInput* out);
std::optional<CsvRowProblem> CsvRecordToAppointment(const std::vector<std::string>& fields,
                                                    const SyncCsvColumns& cols,
                                                    v1::AppointmentInput* out);

// true/false, sí/si/no, yes/no, 1/0, s/n, x (ASCII case and accents ignored); "" -> unset.
// false when `s` is none of these.
bool ParseYesNo(std::string_view s, std::optional<bool>* out);

// RFC 3339 ("2026-12-04T10:00:00-05:00", "...Z"), or a Bogotá wall-clock time "2026-12-04 10:00"
// or "2026-12-04 10:00:00" (also with 'T'). nullopt with `why` (a date without a time, a
// day-first date, anything else).
std::optional<google::protobuf::Timestamp> ParseSyncTime(std::string_view s, std::string* why);

// The appointment statuses by their usual spellings, Spanish included ("Confirmada" ->
// confirmed, "cancelled" -> canceled, "inasistencia" -> no_show); anything else is returned as
// written, for call-gateway to refuse with its reason.
std::string CanonicalAppointmentStatus(std::string_view s);

// ---- the import ---------------------------------------------------------------------------------

struct SyncRefusal {
  int64_t line = 0;  // CSV: the record's first line; FHIR: the Bundle entry (0-based)
  std::string kind;  // patient, appointment (FHIR: or the entry's resourceType)
  std::string external_ref;
  std::string field;
  // Why. call-gateway's reasons with phone numbers (and the row's patient name) masked; the
  // CLI's own quote a cell only with its phone-like digits masked.
  std::string error;
  bool local = false;  // refused by the CLI (not sent)
};

struct SyncSummary {
  int64_t rows = 0;   // records read (CSV), entries (FHIR)
  int64_t valid = 0;  // passed the CLI's checks (sent, or --dry-run: would be)
  int64_t created = 0, updated = 0, unchanged = 0, refused = 0;
  std::vector<SyncRefusal> refusals;  // sorted by line
  std::vector<std::string> ignored;   // FHIR: elements not mapped
  // A batch call-gateway did not answer (after the retries) or refused as a whole: reading and
  // sending stopped there. `failed_line`: that batch's first line.
  std::optional<grpc::Status> failed;
  int64_t failed_line = 0;
  // A record that cannot be read (an unclosed quote, an oversized record): reading stopped.
  std::optional<std::pair<int64_t, std::string>> broken;  // line, why
};

struct SyncOptions {
  int batch_size = 1000;  // rows per request (1-5000: call-gateway's limit)
  int in_flight = 2;      // batches sent before the first answer is awaited (1-8)
  int attempts = 3;       // per batch, for UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED
  std::chrono::milliseconds backoff{1000};  // before the 2nd attempt; doubled each time
  bool dry_run = false;                     // check the file, send nothing
};

// Sends one request; called from worker threads (up to in_flight at once).
using PatientSender =
    std::function<grpc::Status(const v1::UpsertPatientsRequest&, v1::SyncResponse*)>;
using AppointmentSender =
    std::function<grpc::Status(const v1::UpsertAppointmentsRequest&, v1::SyncResponse*)>;

// The records after the header (already read from `reader`). Rows the CLI refuses (including a
// second row with an external_ref already sent from this file) are not sent; the others go in
// batches, and call-gateway's per-row results are reported by line.
SyncSummary ImportPatientsCsv(rne::CsvReader& reader, const SyncCsvColumns& cols,
                              const SyncOptions& options, const PatientSender& send);
SyncSummary ImportAppointmentsCsv(rne::CsvReader& reader, const SyncCsvColumns& cols,
                                  const SyncOptions& options, const AppointmentSender& send);
// A FHIR file already mapped: its refused entries, then the patients (all of them answered
// before any appointment is sent), then the appointments, results by entry.
SyncSummary ImportFhir(const fhir::FhirImport& mapped, const SyncOptions& options,
                       const PatientSender& send_patients,
                       const AppointmentSender& send_appointments);

// The refused rows as a table (LINE or ENTRY, [KIND,] REF, FIELD, REASON) and a summary line
// ("50 rows read: 30 created, 10 updated, 2 unchanged, 8 refused"); FHIR also the ignored
// elements.
std::string RenderSyncSummary(const SyncSummary& s, bool fhir, bool dry_run = false);
// {"rowsRead", "created", "updated", "unchanged", "refused", "refusedRows": [{"line" or
// "entry", "kind", "externalRef", "field", "error", "by": "cli"|"call-gateway"}], "ignored",
// "dryRun", "valid", "stopped": {"line", "code", "error"}}, one object.
std::string SyncSummaryJson(const SyncSummary& s, bool fhir, bool dry_run);

}  // namespace outcall::ops
