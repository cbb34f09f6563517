// A campaign's recipients from a CSV file, shared by outcall-campaign-import and
// `outcall campaigns create --csv`: the header's columns found by name, each record turned into
// a RecipientInput (or the reason it cannot be one), and the streaming import that sends the
// rows as AddRecipients batches with several in flight (constant memory, any size).
//
// The file has a header. A phone column (phone, phoneNumber, telefono, celular, numero, ...), a
// patientId column (patientId, paciente) and an appointmentId column (appointmentId, cita) are
// recognised by name; every other column is a dynamic variable of the row, named by its header
// ("appointment_time", "clinic"). Delimiter: ',', ';', tab or '|', whichever the header uses.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "outcall/v1/campaigns.grpc.pb.h"
#include "rne_file.h"

namespace outcall::ops {

struct CampaignCsvColumns {
  char delimiter = ',';
  std::optional<size_t> phone, patient, appointment;
  std::vector<std::pair<size_t, std::string>> variables;  // index, name
  size_t count = 0;
};

// The columns of a header line; nullopt with `error` saying what is wrong (no phone, patientId
// or appointmentId column; two phone columns).
std::optional<CampaignCsvColumns> ReadCampaignCsvColumns(const std::string& header,
                                                         std::string* error);

// One record as a recipient; nullopt when it is good, else {field, why} ("" field: the record
// as a whole, e.g. a wrong number of fields). The phone number is not checked here:
// call-gateway does, and reports it by index.
struct CsvRowProblem {
  std::string field;
  std::string why;
};
std::optional<CsvRowProblem> CsvRecordToRecipient(const std::vector<std::string>& fields,
                                                  const CampaignCsvColumns& cols,
                                                  v1::RecipientInput* out);

// "line N: field: why" with every phone number in it masked, as both tools print it.
std::string RejectedRowMessage(int64_t line, const std::string& field, const std::string& why);

struct CsvImportOptions {
  int batch_size = 1000;  // rows per AddRecipients (1-10000)
  int in_flight = 4;      // batches sent before the first answer is awaited (1-64)
  int deadline_secs = 120;
};

struct CsvImportResult {
  int64_t rows = 0, added = 0, duplicates = 0, rejected = 0;
  std::optional<grpc::Status> failed;  // the first AddRecipients that failed (later ones unsent)
  // A record that cannot be read (an unclosed quote, an oversized record): reading stopped there.
  std::optional<std::pair<int64_t, std::string>> broken;  // line, why
};

// Reads the records after the header (already read from `reader`) and adds them to the campaign;
// `reject` gets RejectedRowMessage's text for each rejected row, as it is known (locally at once,
// call-gateway's by batch). `token` is sent as the bearer token.
CsvImportResult ImportCampaignCsv(v1::Campaigns::StubInterface& stub, const std::string& token,
                                  const std::string& campaign_id, rne::CsvReader& reader,
                                  const CampaignCsvColumns& cols, const CsvImportOptions& options,
                                  const std::function<void(const std::string&)>& reject);

}  // namespace outcall::ops
