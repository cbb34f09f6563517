// outcall-campaign-import: adds a CSV of any size to a campaign's recipients, streaming.
//
//   outcall-campaign-import [--address HOST:PORT] [--token JWT] [--batch N] [--in-flight N]
//                           CAMPAIGN_ID FILE|-
//
// The file has a header. A phone column (phone, phoneNumber, telefono, celular, numero, ...), a
// patientId column (patientId, paciente) and an appointmentId column (appointmentId, cita) are
// recognised by name; every other column is a dynamic variable of the row, named by its header
// ("appointment_time", "clinic"). Delimiter: ',', ';', tab or '|', whichever the header uses.
// (The reading and the batching are campaign_csv.h's, shared with `outcall campaigns create`.)
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
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "campaign_csv.h"
#include "cli_token.h"
#include "outcall/v1/campaigns.grpc.pb.h"
#include "rne_file.h"

namespace {

constexpr const char* kTool = "outcall-campaign-import";

int Usage() {
  std::fprintf(stderr,
               "usage: %s [--address HOST:PORT] [--token JWT] [--batch N] [--in-flight N] "
               "CAMPAIGN_ID FILE|-\n",
               kTool);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:50051", token;
  outcall::ops::CsvImportOptions options;
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
        options.batch_size = std::atoi(v.c_str());
        if (options.batch_size < 1 || options.batch_size > 10000) return Usage();
      } else if (a == "--in-flight") {
        options.in_flight = std::atoi(v.c_str());
        if (options.in_flight < 1 || options.in_flight > 64) return Usage();
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
  const auto cols = outcall::ops::ReadCampaignCsvColumns(*header, &error);
  if (!cols) {
    std::fprintf(stderr, "%s: %s\n", kTool, error.c_str());
    return 2;
  }

  auto stub = outcall::v1::Campaigns::NewStub(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  const auto started = std::chrono::steady_clock::now();
  const outcall::ops::CsvImportResult totals = outcall::ops::ImportCampaignCsv(
      *stub, token, campaign_id, reader, *cols, options,
      [](const std::string& message) { std::fprintf(stderr, "%s\n", message.c_str()); });
  if (totals.broken) {
    std::fprintf(stderr, "%s: line %lld: %s; stopped (the rows before it are kept)\n", kTool,
                 static_cast<long long>(totals.broken->first), totals.broken->second.c_str());
  }
  if (in != stdin) std::fclose(in);
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "{\"rows\": %lld, \"added\": %lld, \"duplicates\": %lld, \"rejected\": %lld, "
      "\"seconds\": %.3f, \"rowsPerSecond\": %.0f}\n",
      static_cast<long long>(totals.rows), static_cast<long long>(totals.added),
      static_cast<long long>(totals.duplicates), static_cast<long long>(totals.rejected), secs,
      secs > 0 ? static_cast<double>(totals.rows) / secs : 0.0);
  if (totals.failed) {
    std::fprintf(stderr, "%s: %d %s\n", kTool, static_cast<int>(totals.failed->error_code()),
                 totals.failed->error_message().c_str());
    return static_cast<int>(totals.failed->error_code());
  }
  if (totals.broken) return 2;
  return totals.rejected > 0 ? 3 : 0;
}
