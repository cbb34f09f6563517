// outcall-campaign-import: adds a CSV of any size to a campaign's recipients, streaming.
//
//   outcall-campaign-import [--address HOST:PORT] [--token JWT] [--batch N] [--in-flight N]
//                           CAMPAIGN_ID FILE|-
//
// The file has a header. A phone column (phone, phoneNumber, telefono, celular, numero, ...), a
// patientId column (patientId, paciente) and an appointmentId column (appointmentId, cita) are
// recognised by name; every other column is a dynamic variable of the row, named by its header
// ("appointment_time", "clinic"). Delimiter: ',', ';', tab or '|', whichever the header uses.
// Records are read one at a time (constant memory) and sent as AddRecipients batches of --batch
// rows (default 1000), --in-flight (default 4) at a time; call-gateway checks each row and keeps
// the valid ones. Each rejected row is reported on stderr as "line N: field: why" (numbers
// masked); at the end one JSON line on stdout counts rows, added, duplicates and rejected.
// Exit status: 0 when every row was added (or was already there), 3 when some were rejected (the
// valid ones are kept), 2 for usage, a file that cannot be read or a header without a phone or
// patient column, else the gRPC status code of the call that failed (the batches before it are
// kept; importing the same file again adds only what is missing).
// Without --token a five-minute campaigns:write token is minted as outcall-cli does.
#include <grpcpp/grpcpp.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "cli_token.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"
#include "outcall/v1/campaigns.grpc.pb.h"
#include "rne_file.h"

namespace {

using outcall::common::Cat;
constexpr const char* kTool = "outcall-campaign-import";

int Usage() {
  std::fprintf(stderr,
               "usage: %s [--address HOST:PORT] [--token JWT] [--batch N] [--in-flight N] "
               "CAMPAIGN_ID FILE|-\n",
               kTool);
  return 2;
}

struct Columns {
  char delimiter = ',';
  std::optional<size_t> phone, patient, appointment;
  std::vector<std::pair<size_t, std::string>> variables;  // index, name
  size_t count = 0;
};

std::optional<Columns> ReadColumns(const std::string& header, std::string* error) {
  for (const char d : {',', ';', '\t', '|'}) {
    const std::vector<std::string> names = outcall::rne::SplitLine(header, d);
    Columns c;
    c.delimiter = d;
    c.count = names.size();
    for (size_t i = 0; i < names.size(); ++i) {
      const std::string f = outcall::rne::FoldHeaderName(names[i]);
      if (outcall::rne::ClassifyHeader(names[i]) == outcall::rne::Column::kPhone ||
          f == "phonenumber") {
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

bool PositiveInt(const std::string& s, int* out) {
  int64_t v = 0;
  if (!outcall::common::ParseInt(s, &v) || v <= 0 || v > INT32_MAX) return false;
  *out = static_cast<int>(v);
  return true;
}

struct Batch {
  outcall::v1::AddRecipientsRequest request;
  std::vector<int64_t> lines;  // of each row in request.recipients
};

struct Totals {
  int64_t rows = 0, added = 0, duplicates = 0, rejected = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:50051", token;
  int batch_size = 1000, in_flight = 4;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a.starts_with("--") && i + 1 < argc) {
      const std::string v = argv[++i];
      if (a == "--address") {
        address = v;
      } else if (a == "--token") {
        token = v;
      } else if (a == "--batch") {
        batch_size = std::atoi(v.c_str());
        if (batch_size < 1 || batch_size > 10000) return Usage();
      } else if (a == "--in-flight") {
        in_flight = std::atoi(v.c_str());
        if (in_flight < 1 || in_flight > 64) return Usage();
      } else {
        return Usage();
      }
    } else {
      args.emplace_back(a);
    }
  }
  if (args.size() != 2) return Usage();
  const std::string campaign_id = args[0], path = args[1];
  if (token.empty()) {
    auto minted = outcall::ops::MintCliToken("campaigns:write,calls:read", kTool);
    if (!minted.ok()) {
      std::fprintf(stderr, "%s: %s\n", kTool, std::string(minted.status().message()).c_str());
      return 2;
    }
    token = *minted;
  }
  std::FILE* in = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (in == nullptr) {
    std::fprintf(stderr, "%s: cannot open %s: %s\n", kTool, path.c_str(), std::strerror(errno));
    return 2;
  }
  outcall::rne::CsvReader reader(in);
  const std::optional<std::string> header = reader.ReadHeaderLine();
  if (!header) {
    std::fprintf(stderr, "%s: %s is empty (a header is needed)\n", kTool, path.c_str());
    return 2;
  }
  std::string error;
  const std::optional<Columns> cols = ReadColumns(*header, &error);
  if (!cols) {
    std::fprintf(stderr, "%s: %s\n", kTool, error.c_str());
    return 2;
  }

  auto stub = outcall::v1::Campaigns::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  Totals totals;
  std::optional<grpc::Status> failed;
  auto reject = [&](int64_t line, const std::string& field, const std::string& why) {
    ++totals.rejected;
    const std::string text = outcall::common::RedactPhones(
        Cat("line ", line, ": ", field, field.empty() ? "" : ": ", why));
    std::fprintf(stderr, "%s\n", text.c_str());
  };
  // Sends one batch; the answer is read when the window is full or at the end.
  struct Sent {
    std::vector<int64_t> lines;
    std::future<std::pair<grpc::Status, outcall::v1::AddRecipientsResponse>> answer;
  };
  std::deque<Sent> window;
  auto collect = [&]() {
    Sent s = std::move(window.front());
    window.pop_front();
    auto [status, resp] = s.answer.get();
    if (!status.ok()) {
      if (!failed) failed = status;
      return;
    }
    totals.added += resp.added();
    totals.duplicates += resp.duplicates();
    for (const auto& e : resp.errors()) {
      const int64_t line = e.index() >= 0 && static_cast<size_t>(e.index()) < s.lines.size()
                               ? s.lines[static_cast<size_t>(e.index())]
                               : -1;
      reject(line, e.field(), e.message());
    }
  };
  auto send = [&](Batch b) {
    if (b.request.recipients_size() == 0) return;
    Sent s;
    s.lines = std::move(b.lines);
    s.answer = std::async(std::launch::async, [&stub, &token, req = std::move(b.request)] {
      grpc::ClientContext ctx;
      ctx.AddMetadata("authorization", "Bearer " + token);
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
      outcall::v1::AddRecipientsResponse resp;
      grpc::Status st = stub->AddRecipients(&ctx, req, &resp);
      return std::make_pair(st, resp);
    });
    window.push_back(std::move(s));
    while (static_cast<int>(window.size()) >= in_flight) collect();
  };

  const auto started = std::chrono::steady_clock::now();
  Batch batch;
  batch.request.set_campaign_id(campaign_id);
  std::vector<std::string> fields;
  int64_t line = 0;
  bool broken = false;
  for (;;) {
    const auto next = reader.Read(cols->delimiter, &fields, &line, &error);
    if (next == outcall::rne::CsvReader::Next::kEnd) break;
    if (next == outcall::rne::CsvReader::Next::kError) {
      std::fprintf(stderr, "%s: line %lld: %s; stopped (the rows before it are kept)\n", kTool,
                   static_cast<long long>(line), error.c_str());
      broken = true;
      break;
    }
    if (fields.size() == 1 && fields[0].empty()) continue;  // a blank line
    ++totals.rows;
    if (fields.size() != cols->count) {
      reject(line, "", Cat("has ", fields.size(), " fields; the header has ", cols->count));
      continue;
    }
    outcall::v1::RecipientInput r;
    if (cols->phone) r.set_phone_number(fields[*cols->phone]);
    int id = 0;
    if (cols->patient && !fields[*cols->patient].empty()) {
      if (!PositiveInt(fields[*cols->patient], &id)) {
        reject(line, "patientId", "not a positive integer");
        continue;
      }
      r.set_patient_id(id);
    }
    if (cols->appointment && !fields[*cols->appointment].empty()) {
      if (!PositiveInt(fields[*cols->appointment], &id)) {
        reject(line, "appointmentId", "not a positive integer");
        continue;
      }
      r.set_appointment_id(id);
    }
    for (const auto& [index, name] : cols->variables) {
      if (fields[index].empty()) continue;  // absent: the template says whether it is needed
      (*r.mutable_variables()->mutable_fields())[name].set_string_value(fields[index]);
    }
    *batch.request.add_recipients() = std::move(r);
    batch.lines.push_back(line);
    if (batch.request.recipients_size() >= batch_size) {
      send(std::move(batch));
      batch = Batch{};
      batch.request.set_campaign_id(campaign_id);
      if (failed) break;
    }
  }
  if (!failed) send(std::move(batch));
  while (!window.empty()) collect();
  if (in != stdin) std::fclose(in);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "{\"rows\": %lld, \"added\": %lld, \"duplicates\": %lld, \"rejected\": %lld, "
      "\"seconds\": %.3f, \"rowsPerSecond\": %.0f}\n",
      static_cast<long long>(totals.rows), static_cast<long long>(totals.added),
      static_cast<long long>(totals.duplicates), static_cast<long long>(totals.rejected), secs,
      secs > 0 ? static_cast<double>(totals.rows) / secs : 0.0);
  if (failed) {
    std::fprintf(stderr, "%s: %d %s\n", kTool, static_cast<int>(failed->error_code()),
                 failed->error_message().c_str());
    return static_cast<int>(failed->error_code());
  }
  if (broken) return 2;
  return totals.rejected > 0 ? 3 : 0;
}
