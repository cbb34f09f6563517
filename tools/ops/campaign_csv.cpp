#include "campaign_csv.h"

#include <chrono>
#include <climits>
#include <deque>
#include <future>

#include "outcall/common/logging.h"
#include "outcall/common/strings.h"

namespace outcall::ops {
namespace {

using common::Cat;

bool PositiveInt(const std::string& s, int* out) {
  int64_t v = 0;
  if (!common::ParseInt(s, &v) || v <= 0 || v > INT32_MAX) return false;
  *out = static_cast<int>(v);
  return true;
}

struct Batch {
  v1::AddRecipientsRequest request;
  std::vector<int64_t> lines;  // of each row in request.recipients
};

}  // namespace

std::optional<CampaignCsvColumns> ReadCampaignCsvColumns(const std::string& header,
                                                         std::string* error) {
  for (const char d : {',', ';', '\t', '|'}) {
    const std::vector<std::string> names = rne::SplitLine(header, d);
    CampaignCsvColumns c;
    c.delimiter = d;
    c.count = names.size();
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string f = rne::FoldHeaderName(names[i]);
      if (rne::ClassifyHeader(names[i]) == rne::Column::kPhone || f == "phonenumber") {
        if (c.phone) {
          *error = "the header names more than one phone column";
          return std::nullopt;
        }
        c.phone = i;
      } else if (f == "patientid" || f == "patient id" || f == "paciente" || f == "id paciente") {
        c.patient = i;
      } else if (f == "appointmentid" || f == "appointment id" || f == "cita" || f == "id cita") {
        c.appointment = i;
      } else if (!names[i].empty()) {
        c.variables.emplace_back(i, names[i]);
      }
    }
    if (c.phone || c.patient || c.appointment) return c;
  }
  *error = "the header needs a phone, patientId or appointmentId column";
  return std::nullopt;
}

std::optional<CsvRowProblem> CsvRecordToRecipient(const std::vector<std::string>& fields,
                                                  const CampaignCsvColumns& cols,
                                                  v1::RecipientInput* out) {
  if (fields.size() != cols.count) {
    return CsvRowProblem{"", Cat("has ", fields.size(), " fields; the header has ", cols.count)};
  }
  v1::RecipientInput r;
  if (cols.phone) r.set_phone_number(fields[*cols.phone]);
  int id = 0;
  if (cols.patient && !fields[*cols.patient].empty()) {
    if (!PositiveInt(fields[*cols.patient], &id)) {
      return CsvRowProblem{"patientId", "not a positive integer"};
    }
    r.set_patient_id(id);
  }
  if (cols.appointment && !fields[*cols.appointment].empty()) {
    if (!PositiveInt(fields[*cols.appointment], &id)) {
      return CsvRowProblem{"appointmentId", "not a positive integer"};
    }
    r.set_appointment_id(id);
  }
  for (const auto& [index, name] : cols.variables) {
    if (fields[index].empty()) continue;  // absent: the template says whether it is needed
    (*r.mutable_variables()->mutable_fields())[name].set_string_value(fields[index]);
  }
  *out = std::move(r);
  return std::nullopt;
}

std::string RejectedRowMessage(int64_t line, const std::string& field, const std::string& why) {
  return common::RedactPhones(Cat("line ", line, ": ", field, field.empty() ? "" : ": ", why));
}

CsvImportResult ImportCampaignCsv(v1::Campaigns::StubInterface& stub, const std::string& token,
                                  const std::string& campaign_id, rne::CsvReader& reader,
                                  const CampaignCsvColumns& cols, const CsvImportOptions& options,
                                  const std::function<void(const std::string&)>& reject) {
  CsvImportResult result;
  auto rejected = [&](int64_t line, const std::string& field, const std::string& why) {
    ++result.rejected;
    reject(RejectedRowMessage(line, field, why));
  };
  // Sends one batch; the answer is read when the window is full or at the end.
  struct Sent {
    std::vector<int64_t> lines;
    std::future<std::pair<grpc::Status, v1::AddRecipientsResponse>> answer;
  };
  std::deque<Sent> window;
  auto collect = [&]() {
    Sent s = std::move(window.front());
    window.pop_front();
    auto [status, resp] = s.answer.get();
    if (!status.ok()) {
      if (!result.failed) result.failed = status;
      return;
    }
    result.added += resp.added();
    result.duplicates += resp.duplicates();
    for (const auto& e : resp.errors()) {
      const int64_t line = e.index() >= 0 && static_cast<size_t>(e.index()) < s.lines.size()
                               ? s.lines[static_cast<size_t>(e.index())]
                               : -1;
      rejected(line, e.field(), e.message());
    }
  };
  auto send = [&](Batch b) {
    if (b.request.recipients_size() == 0) return;
    Sent s;
    s.lines = std::move(b.lines);
    s.answer = std::async(std::launch::async, [&stub, &token, deadline = options.deadline_secs,
                                               req = std::move(b.request)] {
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", "Bearer " + token);
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(deadline));
      v1::AddRecipientsResponse resp;
      grpc::Status st = stub.AddRecipients(&ctx, req, &resp);
      return std::make_pair(st, resp);
    });
    window.push_back(std::move(s));
    while (static_cast<int>(window.size()) >= options.in_flight) collect();
  };

  Batch batch;
  batch.request.set_campaign_id(campaign_id);
  std::vector<std::string> fields;
  std::string error;
  int64_t line = 0;
  for (;;) {
    const auto next = reader.Read(cols.delimiter, &fields, &line, &error);
    if (next == rne::CsvReader::Next::kEnd) break;
    if (next == rne::CsvReader::Next::kError) {
      result.broken = std::make_pair(line, error);
      break;
    }
    if (fields.size() == 1 && fields[0].empty()) continue;  // a blank line
    ++result.rows;
    v1::RecipientInput r;
    if (auto problem = CsvRecordToRecipient(fields, cols, &r)) {
      rejected(line, problem->field, problem->why);
      continue;
    }
    *batch.request.add_recipients() = std::move(r);
    batch.lines.push_back(line);
    if (batch.request.recipients_size() >= options.batch_size) {
      send(std::move(batch));
      batch = Batch{};
      batch.request.set_campaign_id(campaign_id);
      if (result.failed) break;
    }
  }
  if (!result.failed) send(std::move(batch));
  while (!window.empty()) collect();
  return result;
}

}  // namespace outcall::ops
