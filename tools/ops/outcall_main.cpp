// outcall: the CLI for people (tables by default, --json for scripts), beside outcall-cli (any
// RPC, JSON in and out). Speaks gRPC to call-gateway and stats as outcall-cli does: the same
// addresses (CALL_GATEWAY_ADDRESS, STATS_ADDRESS) and the same token minting (JWT_HS256_SECRET,
// JWT_ISSUER, JWT_AUDIENCE; `set -a; . .local/env`). docs/cli.md has the whole story; the plain
// parts (parsing, tables, exit codes) are human_cli.h's.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "campaign_csv.h"
#include "cli_common.h"
#include "cli_token.h"
#include "google/protobuf/util/json_util.h"
#include "human_cli.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"
#include "outcall/fhir/fhir.h"
#include "outcall/v1/call_gateway.grpc.pb.h"
#include "outcall/v1/campaigns.grpc.pb.h"
#include "outcall/v1/stats.grpc.pb.h"
#include "outcall/v1/sync.grpc.pb.h"
#include "rne_file.h"
#include "sync_csv.h"

namespace {

namespace ec = outcall::cli::exit_code;
// A server stream read on a thread of its own into a queue, so that a command can wait for the
// next messages with a timeout (and look at the call or campaign meanwhile).
template <typename Msg>
class StreamPump {
 public:
  // `prepare` sets the context up (token, no deadline); `open` starts the stream on it.
  template <typename Prepare, typename Open>
  StreamPump(Prepare prepare, Open open) {
    prepare(ctx_);
    reader_ = open(&ctx_);
    thread_ = std::thread([this] {
      Msg m;
      while (reader_->Read(&m)) {
        std::lock_guard<std::mutex> lock(mu_);
        queue_.push_back(m);
        cv_.notify_one();
      }
      grpc::Status s = reader_->Finish();
      std::lock_guard<std::mutex> lock(mu_);
      ended_ = true;
      status_ = std::move(s);
      cv_.notify_one();
    });
  }
  ~StreamPump() { Cancel(); }
  StreamPump(const StreamPump&) = delete;
  StreamPump& operator=(const StreamPump&) = delete;

  // What arrived within `wait` (moved into `batch`); true once the stream has ended.
  bool Next(std::chrono::milliseconds wait, std::deque<Msg>* batch) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, wait, [&] { return !queue_.empty() || ended_; });
    batch->swap(queue_);
    queue_.clear();
    return ended_;
  }
  // After Next said it ended: how.
  grpc::Status Finish() {
    if (thread_.joinable()) thread_.join();
    return status_;
  }
  void Cancel() {
    if (!thread_.joinable()) return;
    ctx_.TryCancel();
    thread_.join();
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<Msg>> reader_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Msg> queue_;
  bool ended_ = false;
  grpc::Status status_;
  std::thread thread_;
};

using outcall::cli::Args;
using outcall::cli::FlagSpec;
using outcall::common::Cat;
using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_interrupted = 0;
void OnInterrupt(int) { g_interrupted = 1; }

// ---- help ---------------------------------------------------------------------------------------

const char* const kGlobalOptions =
    "global options (any subcommand):\n"
    "  --json             print the response as JSON (protobuf's printer; streams: one per line)\n"
    "  --token JWT        the bearer token; default: a five-minute one minted from\n"
    "                     JWT_HS256_SECRET, JWT_ISSUER, JWT_AUDIENCE (set -a; . .local/env)\n"
    "  --gateway ADDR     call-gateway (default $CALL_GATEWAY_ADDRESS, else 127.0.0.1:50051)\n"
    "  --stats ADDR       stats (default $STATS_ADDRESS, else 127.0.0.1:50052)\n"
    "  --timeout SECS     deadline of each request (default 30)\n"
    "  --help             this subcommand's help\n";

std::string ExitCodeHelp() {
  std::string out = "exit codes:\n";
  for (const auto& e : outcall::cli::ExitCodes()) {
    char code[8];
    std::snprintf(code, sizeof code, "%4d", e.code);
    out += Cat("  ", code, "  ", e.meaning, "\n");
  }
  return out;
}

struct Command {
  std::string name;  // "call", "campaigns create"
  std::string usage;
  std::string help;
  std::vector<FlagSpec> flags;
};

const std::vector<Command>& Commands() {
  static const std::vector<Command> kCommands = {
      {"call",
       "outcall call PHONE [--name N] [--patient ID] [--appointment ID] [--var k=v ...]\n"
       "                   [--agent A] [--purpose P] [--idempotency-key K]\n"
       "outcall call --patient ID [--appointment ID] [--var k=v ...] [--agent A] ...",
       "Places a call (InitiateCall): PHONE in any common spelling (3001234567, +57 300 123 4567).\n"
       "With --patient and no PHONE the patient's own number is called (CallPatient). --var sets\n"
       "the agent's dynamic variables (strings). --purpose: confirmation (default), reminder,\n"
       "survey, promotion, collection. Prints the conversation id and status; a refusal by the\n"
       "contact policy exits 3 with its reason.",
       {{"name"}, {"patient"}, {"appointment"}, {"var", true, true}, {"agent"}, {"purpose"},
        {"idempotency-key"}}},
      {"calls",
       "outcall calls [--status S] [--patient ID] [--from YYYY-MM-DD] [--to YYYY-MM-DD]\n"
       "              [--agent A] [--limit N] [--page N | --cursor C]",
       "The call history (Stats.ListCalls), newest first: --limit rows (default 20, at most 100)\n"
       "of --page N, or the page after --cursor (printed under the table).",
       {{"status"}, {"patient"}, {"from"}, {"to"}, {"agent"}, {"limit"}, {"page"}, {"cursor"}}},
      {"stats",
       "outcall stats [--from YYYY-MM-DD] [--to YYYY-MM-DD] [--status S] [--agent A]\n"
       "              [--campaign ID] [--daily]",
       "Call totals over the dates (clinic time, inclusive; Stats.GetCallStats), by status; with\n"
       "--daily also one row per day (Stats.GetDailyStats). --json with --daily prints\n"
       "{\"stats\": ..., \"daily\": ...}.",
       {{"from"}, {"to"}, {"status"}, {"agent"}, {"campaign"}, {"daily", false}}},
      {"watch",
       "outcall watch [CONVERSATION_ID]",
       "Follows WatchCallEvents: one line per status change. Without an id every call, until\n"
       "Ctrl-C (exit 0). With a conversation (or call) id, that call until it reaches a final\n"
       "state; the exit code tells which (0 completed, 10 failed, 11 no_answer, 12 busy,\n"
       "13 ended_manually, 14 canceled; 130 on Ctrl-C before).",
       {}},
      {"campaigns create",
       "outcall campaigns create --name N [--csv FILE] [--purpose P] [--agent A] [--var k=v ...]\n"
       "        [--max-concurrency N] [--calls-per-minute N] [--max-attempts N]\n"
       "        [--retry-on a,b] [--retry-intervals S,S] [--window HH:MM-HH:MM]\n"
       "        [--starts-at RFC3339] [--ends-at RFC3339] [--idempotency-key K] [--start]",
       "Creates a campaign (draft) and adds the CSV's rows as recipients, as\n"
       "outcall-campaign-import does (docs/campaigns.md: phone/patientId/appointmentId columns by\n"
       "name, every other column a variable of the row); each rejected row is reported on stderr\n"
       "by line, numbers masked. --var sets the variables template ({{name}} takes a row's\n"
       "value). --start starts it once every row was added; when some were rejected it stays a\n"
       "draft (exit 8): fix them, then `outcall campaigns start ID`.",
       {{"name"}, {"csv"}, {"purpose"}, {"agent"}, {"var", true, true}, {"max-concurrency"},
        {"calls-per-minute"}, {"max-attempts"}, {"retry-on"}, {"retry-intervals"}, {"window"},
        {"starts-at"}, {"ends-at"}, {"idempotency-key"}, {"start", false}}},
      {"campaigns list",
       "outcall campaigns list [--state S] [--page-size N] [--page-token T]",
       "Campaigns, newest first, with their recipients' counts.",
       {{"state"}, {"page-size"}, {"page-token"}}},
      {"campaigns show", "outcall campaigns show ID", "One campaign with its counters.", {}},
      {"campaigns start", "outcall campaigns start ID", "Starts a draft (scheduled or running).",
       {}},
      {"campaigns pause",
       "outcall campaigns pause ID [--reason R]",
       "No new dial after the dispatcher's current tick; calls in progress finish.",
       {{"reason"}}},
      {"campaigns resume", "outcall campaigns resume ID", "Resumes a paused campaign.", {}},
      {"campaigns cancel",
       "outcall campaigns cancel ID [--reason R]",
       "Recipients not yet dialled end canceled; calls in progress finish.",
       {{"reason"}}},
      {"campaigns progress",
       "outcall campaigns progress ID",
       "A live progress bar (WatchCampaign), redrawn in place on a terminal, one line per change\n"
       "otherwise, until the campaign is completed (exit 0), canceled (20) or expired (21);\n"
       "130 on Ctrl-C. A paused campaign is still followed.",
       {}},
      {"sync patients",
       "outcall sync patients FILE.csv|- [--batch N] [--dry-run]",
       "Creates or updates the clinic's patients (ClinicSync.UpsertPatients) from a CSV with a\n"
       "header, read row by row and sent in batches of --batch rows (default 1000, at most\n"
       "5000), so a file of any size works. Required columns: external_ref (the clinic's id),\n"
       "full_name (or given_names with family_names), phone; optional: do_not_call (true/false,\n"
       "si/no, 1/0; empty: as it is), time_zone (IANA, e.g. America/Bogota). Names are matched\n"
       "ignoring case, accents and spaces/_-./, in English or Spanish:\n" +
           outcall::ops::SyncCsvColumnHelp(outcall::ops::SyncKind::kPatients) +
           "Any other column is an error. Delimiter: ',', ';', tab or '|'. Every refused row is\n"
           "listed with its line, ref, column and reason (numbers and names masked); the others\n"
           "are applied. Exit 8 when some rows were refused. Sending a file again is safe (rows\n"
           "already applied come back unchanged). --dry-run checks the file and sends nothing.",
       {{"batch"}, {"dry-run", false}}},
      {"sync appointments",
       "outcall sync appointments FILE.csv|- [--batch N] [--dry-run]",
       "Creates or updates appointments (ClinicSync.UpsertAppointments) from a CSV, as `sync\n"
       "patients` does; each names its patient by the patient's external_ref (sync the patients\n"
       "first). Required columns: external_ref, patient_external_ref, scheduled_at (RFC 3339,\n"
       "or \"2026-12-04 10:00[:00]\" as Bogota time; or date and time columns); optional:\n"
       "doctor_name, specialty, location, status (scheduled, confirmed, reschedule_requested,\n"
       "canceled, completed, no_show, or Spanish: programada, confirmada, cancelada, cumplida,\n"
       "inasistencia, ...; empty: scheduled when new, as it is otherwise). Names:\n" +
           outcall::ops::SyncCsvColumnHelp(outcall::ops::SyncKind::kAppointments) +
           "A row whose time cannot be read (a date without a time, day/month/year) is refused\n"
           "by line and not sent; the others still go. Exit 8 when some rows were refused.",
       {{"batch"}, {"dry-run", false}}},
      {"sync fhir",
       "outcall sync fhir FILE.json|- [--batch N] [--dry-run]",
       "Imports a FHIR R4 Patient, Appointment or Bundle of them (JSON), mapped as\n"
       "call-gateway's ImportFhir maps it (libs/fhir, docs/fhir.md), and sent as UpsertPatients\n"
       "then UpsertAppointments batches (patients first, so a Bundle of any size works). Each\n"
       "refused entry is listed by its Bundle entry index (0-based) with the FHIR path at fault;\n"
       "elements not mapped are listed once. Exit 8 when some entries were refused.",
       {{"batch"}, {"dry-run", false}}},
  };
  return kCommands;
}

const Command* FindCommand(const std::string& name) {
  for (const auto& c : Commands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

void PrintCommandHelp(const Command& c) {
  std::printf("usage: %s\n\n%s\n\n%s\n%s", c.usage.c_str(), c.help.c_str(), kGlobalOptions,
              ExitCodeHelp().c_str());
}

void PrintMainHelp(std::FILE* out = stdout) {
  std::fprintf(out,
      "outcall: places and follows calls and campaigns from a terminal, and syncs the clinic's\n"
      "patients and appointments (tables; --json for scripts)\n\n"
      "usage: outcall COMMAND [options]   (outcall COMMAND --help for each)\n\n"
      "commands:\n"
      "  call PHONE | --patient ID      place a call\n"
      "  calls                          the call history (table)\n"
      "  stats [--daily]                totals by status, and per day\n"
      "  watch [CONVERSATION_ID]        follow status changes (of one call: exit by its end)\n"
      "  campaigns create --name N --csv FILE [--start]\n"
      "  campaigns list | show ID | start ID | pause ID | resume ID | cancel ID\n"
      "  campaigns progress ID          live progress until the campaign ends\n"
      "  sync patients FILE.csv         create or update the clinic's patients (CSV, streamed)\n"
      "  sync appointments FILE.csv     create or update appointments (CSV, streamed)\n"
      "  sync fhir FILE.json            a FHIR R4 Patient, Appointment or Bundle\n\n"
      "%s\n%s",
      kGlobalOptions, ExitCodeHelp().c_str());
}

// ---- running one command ------------------------------------------------------------------------

const std::vector<FlagSpec> kGlobalFlags = {
    {"json", false}, {"help", false}, {"token"}, {"gateway"}, {"stats"}, {"timeout"}};

class Runner {
 public:
  Runner(const Command& command, Args args) : cmd_(command), args_(std::move(args)) {
    json_ = args_.Has("json");
  }

  int Run();

 private:
  // ---- plumbing ----
  int Usage(const std::string& why) {
    std::fprintf(stderr, "outcall %s: %s\nrun 'outcall %s --help' for its options\n",
                 cmd_.name.c_str(), why.c_str(), cmd_.name.c_str());
    return ec::kUsage;
  }
  int Fail(const grpc::Status& s, const std::string& what) {
    std::string why = s.error_message();
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE ||
        s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      why += Cat(" (", what, ")");
    }
    std::fprintf(stderr, "outcall %s: %s [%s]\n", cmd_.name.c_str(), why.c_str(),
                 outcall::cli::StatusCodeName(s.error_code()).c_str());
    return outcall::cli::ExitCodeForStatus(s.error_code());
  }
  // The token: --token, or one minted with `permissions`. False (reported) when none.
  bool Token(const std::string& permissions) {
    token_ = args_.Get("token");
    if (!token_.empty()) return true;
    auto minted = outcall::ops::MintCliToken(permissions, "outcall");
    if (!minted.ok()) {
      std::fprintf(stderr, "outcall %s: %s (or pass --token)\n", cmd_.name.c_str(),
                   std::string(minted.status().message()).c_str());
      return false;
    }
    token_ = *minted;
    minted_permissions_ = permissions;
    minted_at_ = Clock::now();
    return true;
  }
  void Prepare(grpc::ClientContext& ctx, bool deadline = true) {
    // A minted token lives five minutes: watch and progress run longer, so a fresh one is minted
    // (from the same settings) once it is four minutes old.
    if (!minted_permissions_.empty() && Clock::now() - minted_at_ > std::chrono::minutes(4)) {
      if (auto minted = outcall::ops::MintCliToken(minted_permissions_, "outcall"); minted.ok()) {
        token_ = *minted;
        minted_at_ = Clock::now();
      }
    }
    ctx.AddMetadata("authorization", "Bearer " + token_);
    if (deadline) {
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_secs_));
    }
  }
  std::string GatewayAddress() {
    return outcall::ops::ServiceAddress(outcall::ops::Service::kCallGateway, args_.Get("gateway"));
  }
  std::string StatsAddress() {
    return outcall::ops::ServiceAddress(outcall::ops::Service::kStats, args_.Get("stats"));
  }
  std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
    return grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  }
  std::string GatewayWhat() { return Cat("call-gateway at ", GatewayAddress()); }
  std::string StatsWhat() { return Cat("stats at ", StatsAddress()); }
  void Print(const std::string& text) {
    std::fputs(text.c_str(), stdout);
    std::fflush(stdout);
  }
  void PrintJson(const google::protobuf::Message& m) { Print(outcall::ops::MessageJson(m)); }
  void PrintJsonLine(const google::protobuf::Message& m) {
    Print(outcall::ops::MessageJson(m, /*compact=*/true) + "\n");
  }
  bool Variables(const std::string& flag, google::protobuf::Struct* out, std::string* error) {
    for (const auto& kv : args_.All(flag)) {
      auto parsed = outcall::cli::ParseVar(kv);
      if (!parsed) {
        *error = Cat("--", flag, " '", kv, "' is not name=value");
        return false;
      }
      (*out->mutable_fields())[parsed->first].set_string_value(parsed->second);
    }
    return true;
  }
  // --flag as a positive integer into `out`; false (with `error`) when given and not one.
  bool PositiveFlag(const std::string& flag, std::optional<int32_t>* out, std::string* error) {
    if (!args_.Has(flag)) return true;
    *out = outcall::cli::ParsePositiveInt(args_.Get(flag));
    if (!*out) *error = Cat("--", flag, " '", args_.Get(flag), "' is not a positive integer");
    return out->has_value();
  }
  bool DateFlag(const std::string& flag, std::string* error) {
    if (!args_.Has(flag) || outcall::cli::IsDate(args_.Get(flag))) return true;
    *error = Cat("--", flag, " '", args_.Get(flag), "' is not a date like 2026-12-04");
    return false;
  }

  // ---- commands ----
  int Call();
  int Calls();
  int Stats();
  int Watch();
  int CampaignCreate();
  int CampaignList();
  int CampaignAction(const std::string& action);
  int CampaignProgress();
  int Sync(const std::string& what);

  const Command& cmd_;
  Args args_;
  bool json_ = false;
  int timeout_secs_ = 30;
  std::string token_;
  std::string minted_permissions_;  // set when token_ was minted (not given)
  Clock::time_point minted_at_;
};

int Runner::Run() {
  if (args_.Has("timeout")) {
    auto t = outcall::cli::ParsePositiveInt(args_.Get("timeout"));
    if (!t) return Usage(Cat("--timeout '", args_.Get("timeout"), "' is not a positive integer"));
    timeout_secs_ = *t;
  }
  const std::string& n = cmd_.name;
  if (n == "call") return Call();
  if (n == "calls") return Calls();
  if (n == "stats") return Stats();
  if (n == "watch") return Watch();
  if (n == "campaigns create") return CampaignCreate();
  if (n == "campaigns list") return CampaignList();
  if (n == "campaigns progress") return CampaignProgress();
  if (n.rfind("sync ", 0) == 0) return Sync(n.substr(5));
  return CampaignAction(n.substr(n.find(' ') + 1));
}

int Runner::Call() {
  if (args_.positionals.size() > 1) {
    return Usage("one phone number at most (quote a number with spaces: \"+57 300 123 4567\")");
  }
  const std::string phone = args_.positionals.empty() ? "" : args_.positionals[0];
  std::string error;
  std::optional<int32_t> patient, appointment;
  if (!PositiveFlag("patient", &patient, &error) ||
      !PositiveFlag("appointment", &appointment, &error)) {
    return Usage(error);
  }
  if (phone.empty() && !patient) return Usage("a phone number or --patient ID is needed");
  if (phone.empty() && args_.Has("name")) {
    return Usage("--name is for a phone number; a patient's call uses the patient's own name");
  }
  google::protobuf::Struct vars;
  if (!Variables("var", &vars, &error)) return Usage(error);
  if (!Token("calls:read,calls:write")) return ec::kAuth;

  auto stub = outcall::v1::CallGateway::NewStub(Channel(GatewayAddress()));
  grpc::ClientContext ctx;
  Prepare(ctx);
  if (args_.Has("idempotency-key")) ctx.AddMetadata("idempotency-key", args_.Get("idempotency-key"));
  outcall::v1::InitiateCallResponse resp;
  grpc::Status s;
  if (phone.empty()) {
    outcall::v1::CallPatientRequest req;
    req.set_patient_id(*patient);
    if (appointment) req.set_appointment_id(*appointment);
    req.set_agent_id(args_.Get("agent"));
    req.set_purpose(args_.Get("purpose"));
    if (!vars.fields().empty()) *req.mutable_custom_variables() = vars;
    s = stub->CallPatient(&ctx, req, &resp);
  } else {
    outcall::v1::InitiateCallRequest req;
    req.set_phone_number(phone);
    req.set_patient_name(args_.Get("name"));
    if (patient) req.set_patient_id(*patient);
    if (appointment) req.set_appointment_id(*appointment);
    req.set_agent_id(args_.Get("agent"));
    req.set_purpose(args_.Get("purpose"));
    if (!vars.fields().empty()) *req.mutable_custom_variables() = vars;
    s = stub->InitiateCall(&ctx, req, &resp);
  }
  if (!s.ok()) return Fail(s, GatewayWhat());
  if (json_) {
    PrintJson(resp);
  } else {
    Print(outcall::cli::RenderCallPlaced(resp));
  }
  return ec::kOk;
}

int Runner::Calls() {
  if (!args_.positionals.empty()) return Usage("takes no arguments (filters are options)");
  std::string error;
  std::optional<int32_t> patient, limit, page;
  if (!PositiveFlag("patient", &patient, &error) || !PositiveFlag("limit", &limit, &error) ||
      !PositiveFlag("page", &page, &error) || !DateFlag("from", &error) ||
      !DateFlag("to", &error)) {
    return Usage(error);
  }
  if (page && args_.Has("cursor")) return Usage("--page and --cursor are alternatives");
  if (!Token("calls:read")) return ec::kAuth;
  outcall::v1::ListCallsRequest req;
  if (patient) req.set_patient_id(*patient);
  if (limit) req.set_limit(*limit);
  if (page) req.set_page(*page);
  req.set_cursor(args_.Get("cursor"));
  req.set_status(args_.Get("status"));
  req.set_start_date(args_.Get("from"));
  req.set_end_date(args_.Get("to"));
  req.set_agent_id(args_.Get("agent"));
  auto stub = outcall::v1::Stats::NewStub(Channel(StatsAddress()));
  grpc::ClientContext ctx;
  Prepare(ctx);
  outcall::v1::ListCallsResponse resp;
  if (auto s = stub->ListCalls(&ctx, req, &resp); !s.ok()) return Fail(s, StatsWhat());
  if (json_) {
    PrintJson(resp);
  } else {
    Print(outcall::cli::RenderCalls(resp));
  }
  return ec::kOk;
}

int Runner::Stats() {
  if (!args_.positionals.empty()) return Usage("takes no arguments (the dates are options)");
  std::string error;
  if (!DateFlag("from", &error) || !DateFlag("to", &error)) return Usage(error);
  if (!Token("calls:read")) return ec::kAuth;
  auto stub = outcall::v1::Stats::NewStub(Channel(StatsAddress()));
  outcall::v1::GetCallStatsRequest req;
  req.set_start_date(args_.Get("from"));
  req.set_end_date(args_.Get("to"));
  req.set_status(args_.Get("status"));
  req.set_agent_id(args_.Get("agent"));
  req.set_campaign_id(args_.Get("campaign"));
  outcall::v1::GetCallStatsResponse totals;
  {
    grpc::ClientContext ctx;
    Prepare(ctx);
    if (auto s = stub->GetCallStats(&ctx, req, &totals); !s.ok()) return Fail(s, StatsWhat());
  }
  outcall::v1::GetDailyStatsResponse daily;
  const bool with_daily = args_.Has("daily");
  if (with_daily) {
    outcall::v1::GetDailyStatsRequest dreq;
    dreq.set_start_date(req.start_date());
    dreq.set_end_date(req.end_date());
    dreq.set_status(req.status());
    dreq.set_agent_id(req.agent_id());
    dreq.set_campaign_id(req.campaign_id());
    grpc::ClientContext ctx;
    Prepare(ctx);
    if (auto s = stub->GetDailyStats(&ctx, dreq, &daily); !s.ok()) return Fail(s, StatsWhat());
  }
  if (json_) {
    if (!with_daily) {
      PrintJson(totals);
    } else {
      Print(Cat("{\n\"stats\": ", outcall::ops::MessageJson(totals), ",\n\"daily\": ",
                outcall::ops::MessageJson(daily), "}\n"));
    }
    return ec::kOk;
  }
  std::string out =
      outcall::cli::RenderCallStats(totals.data(), req.start_date(), req.end_date());
  if (with_daily) out += "\n" + outcall::cli::RenderDailyStats(daily);
  Print(out);
  return ec::kOk;
}

int Runner::Watch() {
  if (args_.positionals.size() > 1) return Usage("one conversation id at most");
  const std::string id = args_.positionals.empty() ? "" : args_.positionals[0];
  if (!Token("calls:read")) return ec::kAuth;
  auto stub = outcall::v1::CallGateway::NewStub(Channel(GatewayAddress()));
  auto show = [&](const outcall::v1::CallUpdate& u) {
    if (json_) {
      PrintJsonLine(u);
    } else {
      Print(outcall::cli::RenderCallUpdate(u));
    }
  };
  // The call as it is now (GetConversation); nullopt with *code set when that failed.
  // `poll`: a passing failure (unavailable, timed out) is not reported.
  auto current = [&](int* code, bool poll) -> std::optional<outcall::v1::Conversation> {
    grpc::ClientContext ctx;
    Prepare(ctx);
    outcall::v1::GetConversationRequest req;
    req.set_conversation_id(id);
    outcall::v1::GetConversationResponse resp;
    if (auto s = stub->GetConversation(&ctx, req, &resp); !s.ok()) {
      *code = outcall::cli::ExitCodeForStatus(s.error_code());
      if (!poll || *code != ec::kUnavailable) Fail(s, GatewayWhat());
      return std::nullopt;
    }
    return resp.data();
  };
  std::string last_status;
  auto from_conversation = [&](const outcall::v1::Conversation& c, const std::string& cause) {
    outcall::v1::CallUpdate u;
    u.set_conversation_id(c.conversation_id());
    u.set_call_id(c.call_id());
    u.set_status(c.status());
    u.set_previous_status(last_status);
    u.set_cause(cause);
    *u.mutable_at() = c.has_ended_at() ? c.ended_at() : c.created_at();
    return u;
  };

  // The stream first, so that no change after the first look is missed; the first look then
  // says where the call is (it may be over already). While the stream runs, the call is looked
  // at again every few seconds: a change between the two is caught there.
  outcall::v1::WatchCallEventsRequest req;
  req.set_conversation_id(id);
  StreamPump<outcall::v1::CallUpdate> pump([&](grpc::ClientContext& c) { Prepare(c, /*deadline=*/false); },
                                           [&](grpc::ClientContext* c) { return stub->WatchCallEvents(c, req); });
  auto stop = [&](int code) {
    pump.Cancel();
    return code;
  };

  std::optional<int> result;
  auto consider = [&](const outcall::v1::CallUpdate& u) {
    if (u.status() == last_status) return;
    show(u);
    last_status = u.status();
    if (!id.empty()) result = outcall::cli::ExitCodeForCallStatus(u.status());
  };
  auto next_look = Clock::now();
  if (!id.empty()) {
    int code = 0;
    auto c = current(&code, /*poll=*/false);
    if (!c) return stop(code);
    consider(from_conversation(*c, "current"));
    next_look = Clock::now() + std::chrono::seconds(2);
  }
  while (!result) {
    std::deque<outcall::v1::CallUpdate> batch;
    const bool stream_ended = pump.Next(std::chrono::milliseconds(200), &batch);
    for (const auto& u : batch) {
      consider(u);
      if (result) break;
    }
    if (result) break;
    if (g_interrupted) return stop(id.empty() ? ec::kOk : ec::kInterrupted);
    if (stream_ended) {
      const grpc::Status end_status = pump.Finish();
      if (!end_status.ok()) return Fail(end_status, GatewayWhat());
      std::fprintf(stderr, "outcall watch: the stream ended (%s stopped?)\n",
                   GatewayWhat().c_str());
      return ec::kUnavailable;
    }
    if (!id.empty() && Clock::now() >= next_look) {
      int code = 0;
      auto c = current(&code, /*poll=*/true);
      // A passing failure (unavailable, timed out) is looked past: the stream reports an outage.
      if (!c && code != ec::kUnavailable) return stop(code);
      if (c) consider(from_conversation(*c, ""));
      next_look = Clock::now() + std::chrono::seconds(2);
    }
  }
  return stop(*result);
}

int Runner::CampaignCreate() {
  if (!args_.positionals.empty()) return Usage("takes no arguments (use --name and --csv)");
  if (args_.Get("name").empty()) return Usage("--name is needed");
  outcall::v1::CreateCampaignRequest req;
  auto* spec = req.mutable_spec();
  spec->set_name(args_.Get("name"));
  spec->set_purpose(args_.Get("purpose"));
  spec->set_agent_id(args_.Get("agent"));
  std::string error;
  google::protobuf::Struct vars;
  if (!Variables("var", &vars, &error)) return Usage(error);
  if (!vars.fields().empty()) *spec->mutable_variables_template() = vars;
  std::optional<int32_t> concurrency, per_minute, attempts;
  if (!PositiveFlag("max-concurrency", &concurrency, &error) ||
      !PositiveFlag("calls-per-minute", &per_minute, &error) ||
      !PositiveFlag("max-attempts", &attempts, &error)) {
    return Usage(error);
  }
  if (concurrency || per_minute) {
    // The service takes pacing as a whole: the other field keeps its default.
    spec->mutable_pacing()->set_max_concurrency(concurrency.value_or(5));
    spec->mutable_pacing()->set_calls_per_minute(per_minute.value_or(10));
  }
  if (attempts || args_.Has("retry-on") || args_.Has("retry-intervals")) {
    auto* retry = spec->mutable_retry();
    retry->set_max_attempts(attempts.value_or(3));
    if (args_.Has("retry-on")) {
      for (auto o : outcall::common::Split(args_.Get("retry-on"), ',', true)) {
        retry->add_retry_on(std::string(outcall::common::Trim(o)));
      }
    } else {
      for (const char* o : {"no_answer", "busy", "failed"}) retry->add_retry_on(o);
    }
    for (auto v : outcall::common::Split(args_.Get("retry-intervals"), ',', true)) {
      auto secs = outcall::cli::ParsePositiveInt(outcall::common::Trim(v));
      if (!secs) return Usage(Cat("--retry-intervals: '", v, "' is not a number of seconds"));
      retry->add_intervals_secs(*secs);
    }
  }
  if (args_.Has("window")) {
    auto w = outcall::cli::ParseWindow(args_.Get("window"));
    if (!w) return Usage(Cat("--window '", args_.Get("window"), "' is not like 08:00-12:30"));
    spec->mutable_window()->set_start(w->first);
    spec->mutable_window()->set_end(w->second);
  }
  for (const char* flag : {"starts-at", "ends-at"}) {
    if (!args_.Has(flag)) continue;
    auto t = outcall::cli::ParseTimestamp(args_.Get(flag));
    if (!t) return Usage(Cat("--", flag, " '", args_.Get(flag), "' is not like 2026-12-04T13:00:00Z"));
    *(std::string(flag) == "starts-at" ? spec->mutable_starts_at() : spec->mutable_ends_at()) = *t;
  }

  // The file is read (its header checked) before anything is created.
  const std::string path = args_.Get("csv");
  std::FILE* in = nullptr;
  std::optional<outcall::rne::CsvReader> reader;
  std::optional<outcall::ops::CampaignCsvColumns> cols;
  if (!path.empty()) {
    in = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
    if (in == nullptr) return Usage(Cat("cannot open ", path, ": ", std::strerror(errno)));
    reader.emplace(in);
    const std::optional<std::string> header = reader->ReadHeaderLine();
    if (!header) return Usage(Cat(path, " is empty (a header is needed)"));
    cols = outcall::ops::ReadCampaignCsvColumns(*header, &error);
    if (!cols) return Usage(Cat(path, ": ", error));
  }
  struct Closer {
    std::FILE* f;
    ~Closer() {
      if (f != nullptr && f != stdin) std::fclose(f);
    }
  } closer{in};
  if (!Token("campaigns:write,calls:read")) return ec::kAuth;

  auto stub = outcall::v1::Campaigns::NewStub(Channel(GatewayAddress()));
  outcall::v1::Campaign campaign;
  {
    grpc::ClientContext ctx;
    Prepare(ctx);
    if (args_.Has("idempotency-key")) {
      ctx.AddMetadata("idempotency-key", args_.Get("idempotency-key"));
    }
    if (auto s = stub->CreateCampaign(&ctx, req, &campaign); !s.ok()) {
      return Fail(s, GatewayWhat());
    }
  }
  const std::string id = campaign.campaign_id();
  outcall::ops::CsvImportResult imported;
  if (reader) {
    imported = outcall::ops::ImportCampaignCsv(
        *stub, token_, id, *reader, *cols, outcall::ops::CsvImportOptions{},
        [](const std::string& m) { std::fprintf(stderr, "%s\n", m.c_str()); });
    if (imported.broken) {
      std::fprintf(stderr, "line %lld: %s; stopped (the rows before it are kept)\n",
                   static_cast<long long>(imported.broken->first), imported.broken->second.c_str());
    }
    if (imported.failed) {
      std::fprintf(stderr, "outcall %s: campaign %s was created (not started) but adding its "
                   "recipients failed:\n", cmd_.name.c_str(), id.c_str());
      return Fail(*imported.failed, GatewayWhat());
    }
  }
  const bool partial = imported.rejected > 0 || imported.broken.has_value();
  bool started = false;
  if (args_.Has("start") && !partial) {
    grpc::ClientContext ctx;
    Prepare(ctx);
    outcall::v1::CampaignActionRequest start;
    start.set_campaign_id(id);
    if (auto s = stub->StartCampaign(&ctx, start, &campaign); !s.ok()) {
      std::fprintf(stderr, "outcall %s: campaign %s was created but not started:\n",
                   cmd_.name.c_str(), id.c_str());
      return Fail(s, GatewayWhat());
    }
    started = true;
  }
  if (!started) {  // the counters after the import
    grpc::ClientContext ctx;
    Prepare(ctx);
    outcall::v1::GetCampaignRequest get;
    get.set_campaign_id(id);
    outcall::v1::Campaign fresh;
    if (stub->GetCampaign(&ctx, get, &fresh).ok()) campaign = fresh;
  }
  if (json_) {
    PrintJson(campaign);
  } else {
    std::string out = outcall::cli::RenderCampaign(campaign);
    if (reader) {
      out += Cat("rows: ", imported.rows, " read, ", imported.added, " added, ",
                 imported.duplicates, " duplicates, ", imported.rejected, " rejected\n");
    }
    Print(out);
  }
  if (partial) {
    std::fprintf(stderr,
                 "outcall %s: %lld row(s) of %s rejected; campaign %s keeps the others and %s. Add "
                 "the corrected rows with outcall-campaign-import %s FILE, then: outcall campaigns "
                 "start %s\n",
                 cmd_.name.c_str(), static_cast<long long>(imported.rejected), path.c_str(),
                 id.c_str(), args_.Has("start") ? "was not started" : "is a draft", id.c_str(),
                 id.c_str());
    return ec::kRowsRejected;
  }
  return ec::kOk;
}

int Runner::CampaignList() {
  if (!args_.positionals.empty()) return Usage("takes no arguments");
  std::string error;
  std::optional<int32_t> page_size;
  if (!PositiveFlag("page-size", &page_size, &error)) return Usage(error);
  if (!Token("calls:read")) return ec::kAuth;
  outcall::v1::ListCampaignsRequest req;
  req.set_state(args_.Get("state"));
  if (page_size) req.set_page_size(*page_size);
  req.set_page_token(args_.Get("page-token"));
  auto stub = outcall::v1::Campaigns::NewStub(Channel(GatewayAddress()));
  grpc::ClientContext ctx;
  Prepare(ctx);
  outcall::v1::ListCampaignsResponse resp;
  if (auto s = stub->ListCampaigns(&ctx, req, &resp); !s.ok()) return Fail(s, GatewayWhat());
  if (json_) {
    PrintJson(resp);
  } else {
    Print(outcall::cli::RenderCampaigns(resp));
  }
  return ec::kOk;
}

int Runner::CampaignAction(const std::string& action) {
  if (args_.positionals.size() != 1) return Usage("needs the campaign id");
  const std::string id = args_.positionals[0];
  if (!Token(action == "show" ? "calls:read" : "campaigns:write,calls:read")) return ec::kAuth;
  auto stub = outcall::v1::Campaigns::NewStub(Channel(GatewayAddress()));
  grpc::ClientContext ctx;
  Prepare(ctx);
  outcall::v1::Campaign campaign;
  grpc::Status s;
  if (action == "show") {
    outcall::v1::GetCampaignRequest req;
    req.set_campaign_id(id);
    s = stub->GetCampaign(&ctx, req, &campaign);
  } else {
    outcall::v1::CampaignActionRequest req;
    req.set_campaign_id(id);
    req.set_reason(args_.Get("reason"));
    if (action == "start") {
      s = stub->StartCampaign(&ctx, req, &campaign);
    } else if (action == "pause") {
      s = stub->PauseCampaign(&ctx, req, &campaign);
    } else if (action == "resume") {
      s = stub->ResumeCampaign(&ctx, req, &campaign);
    } else {
      s = stub->CancelCampaign(&ctx, req, &campaign);
    }
  }
  if (!s.ok()) return Fail(s, GatewayWhat());
  if (json_) {
    PrintJson(campaign);
  } else {
    Print(outcall::cli::RenderCampaign(campaign));
  }
  return ec::kOk;
}

int Runner::CampaignProgress() {
  if (args_.positionals.size() != 1) return Usage("needs the campaign id");
  const std::string id = args_.positionals[0];
  if (!Token("calls:read")) return ec::kAuth;
  auto stub = outcall::v1::Campaigns::NewStub(Channel(GatewayAddress()));
  const bool tty = !json_ && isatty(STDOUT_FILENO) == 1;
  std::string last_line;
  auto show = [&](const std::string& state, const outcall::v1::CampaignCounters& counters) {
    const std::string line = outcall::cli::ProgressLine(state, counters, 30);
    if (line == last_line) return;
    last_line = line;
    Print(tty ? "\r" + line + "\x1b[K" : line + "\n");
  };
  auto finish = [&](int code) {
    if (tty && !last_line.empty()) Print("\n");
    return code;
  };

  // A watch, renewed when the server ends it for falling behind (RESOURCE_EXHAUSTED); the
  // campaign is also looked at every few seconds (a final state is never missed).
  for (;;) {
    outcall::v1::WatchCampaignRequest req;
    req.set_campaign_id(id);
    StreamPump<outcall::v1::CampaignUpdate> pump(
        [&](grpc::ClientContext& c) { Prepare(c, /*deadline=*/false); },
        [&](grpc::ClientContext* c) { return stub->WatchCampaign(c, req); });
    auto stop = [&](int code) {
      pump.Cancel();
      return finish(code);
    };
    auto next_look = Clock::now() + std::chrono::seconds(2);
    for (;;) {
      std::deque<outcall::v1::CampaignUpdate> batch;
      const bool stream_ended = pump.Next(std::chrono::milliseconds(200), &batch);
      for (const auto& u : batch) {
        if (json_) PrintJsonLine(u);
        if (!u.has_counters() && u.state().empty()) continue;  // a recipient's move
        if (!json_) show(u.state(), u.counters());
        if (auto code = outcall::cli::ExitCodeForCampaignState(u.state())) return stop(*code);
      }
      if (g_interrupted) return stop(ec::kInterrupted);
      if (stream_ended) break;
      if (Clock::now() >= next_look) {
        grpc::ClientContext ctx;
        Prepare(ctx);
        outcall::v1::GetCampaignRequest get;
        get.set_campaign_id(id);
        outcall::v1::Campaign c;
        if (auto s = stub->GetCampaign(&ctx, get, &c); s.ok()) {
          if (auto code = outcall::cli::ExitCodeForCampaignState(c.state())) {
            if (json_) {
              outcall::v1::CampaignUpdate u;
              u.set_campaign_id(c.campaign_id());
              *u.mutable_at() = c.updated_at();
              u.set_state(c.state());
              *u.mutable_counters() = c.counters();
              PrintJsonLine(u);
            } else {
              show(c.state(), c.counters());
            }
            return stop(*code);
          }
        }
        next_look = Clock::now() + std::chrono::seconds(2);
      }
    }
    const grpc::Status end_status = pump.Finish();
    if (end_status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) continue;  // watch again
    if (tty && !last_line.empty()) Print("\n");
    if (!end_status.ok()) return Fail(end_status, GatewayWhat());
    std::fprintf(stderr, "outcall %s: the stream ended (%s stopped?)\n", cmd_.name.c_str(),
                 GatewayWhat().c_str());
    return ec::kUnavailable;
  }
}

int Runner::Sync(const std::string& what) {
  namespace ops = outcall::ops;
  if (args_.positionals.size() != 1) return Usage("needs one file (FILE, or - for standard input)");
  const std::string path = args_.positionals[0];
  const bool fhir = what == "fhir";
  const ops::SyncKind kind =
      what == "patients" ? ops::SyncKind::kPatients : ops::SyncKind::kAppointments;
  ops::SyncOptions options;
  if (args_.Has("batch")) {
    const auto n = outcall::cli::ParsePositiveInt(args_.Get("batch"));
    if (!n || *n > 5000) {
      return Usage(Cat("--batch '", args_.Get("batch"),
                       "' is not a number from 1 to 5000 (call-gateway takes at most 5000 rows a "
                       "request)"));
    }
    options.batch_size = *n;
  }
  options.dry_run = args_.Has("dry-run");
  // A batch of thousands of rows takes longer than a lookup: 120 s each unless --timeout says.
  const int deadline_secs = args_.Has("timeout") ? timeout_secs_ : 120;

  std::FILE* in = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (in == nullptr) return Usage(Cat("cannot open ", path, ": ", std::strerror(errno)));
  struct Closer {
    std::FILE* f;
    ~Closer() {
      if (f != stdin) std::fclose(f);
    }
  } closer{in};

  // The file is checked (the CSV header, or the whole FHIR resource) before anything is sent.
  std::optional<outcall::fhir::FhirImport> mapped;
  std::optional<outcall::rne::CsvReader> reader;
  std::optional<ops::SyncCsvColumns> cols;
  if (fhir) {
    constexpr size_t kMaxFhirBytes = size_t{512} << 20;
    std::string text;
    char buf[1 << 16];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, in)) > 0;) {
      text.append(buf, n);
      if (text.size() > kMaxFhirBytes) {
        return Usage(Cat(path, " is larger than 512 MB; split the Bundle"));
      }
    }
    if (std::ferror(in)) return Usage(Cat("cannot read ", path, ": ", std::strerror(errno)));
    google::protobuf::Struct resource;
    if (auto st = google::protobuf::util::JsonStringToMessage(text, &resource); !st.ok()) {
      // The parser's message quotes the input after its first line: not shown (patient data).
      std::string why(st.message().data(), st.message().size());
      why = why.substr(0, why.find('\n'));
      return Usage(Cat(
          path, " is not a JSON object (a FHIR resource): ", outcall::common::RedactPhones(why)));
    }
    auto m = outcall::fhir::FromFhir(resource);
    if (!m.ok()) return Usage(Cat(path, ": ", std::string(m.status().message())));
    mapped = *std::move(m);
  } else {
    reader.emplace(in);
    const std::optional<std::string> header = reader->ReadHeaderLine();
    if (!header) return Usage(Cat(path, " is empty (a header line is needed)"));
    std::string error;
    cols = ops::ReadSyncCsvColumns(kind, *header, &error);
    if (!cols) return Usage(Cat(path, ": ", error));
  }
  if (!options.dry_run && !Token("sync:read,sync:write")) return ec::kAuth;

  auto stub = outcall::v1::ClinicSync::NewStub(Channel(GatewayAddress()));
  std::mutex prepare_mu;  // batches are sent from worker threads; Prepare may renew token_
  auto prepare = [&](grpc::ClientContext& ctx) {
    std::lock_guard<std::mutex> lock(prepare_mu);
    Prepare(ctx, /*deadline=*/false);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(deadline_secs));
  };
  const ops::PatientSender send_patients = [&](const outcall::v1::UpsertPatientsRequest& req,
                                               outcall::v1::SyncResponse* resp) {
    grpc::ClientContext ctx;
    prepare(ctx);
    return stub->UpsertPatients(&ctx, req, resp);
  };
  const ops::AppointmentSender send_appointments =
      [&](const outcall::v1::UpsertAppointmentsRequest& req, outcall::v1::SyncResponse* resp) {
        grpc::ClientContext ctx;
        prepare(ctx);
        return stub->UpsertAppointments(&ctx, req, resp);
      };

  const ops::SyncSummary summary =
      fhir ? ops::ImportFhir(*mapped, options, send_patients, send_appointments)
      : kind == ops::SyncKind::kPatients
          ? ops::ImportPatientsCsv(*reader, *cols, options, send_patients)
          : ops::ImportAppointmentsCsv(*reader, *cols, options, send_appointments);

  if (json_) {
    Print(ops::SyncSummaryJson(summary, fhir, options.dry_run));
  } else {
    Print(ops::RenderSyncSummary(summary, fhir, options.dry_run));
  }
  if (summary.broken) {
    std::fprintf(stderr,
                 "outcall %s: line %lld: %s; reading stopped there (the rows before it "
                 "were %s)\n",
                 cmd_.name.c_str(), static_cast<long long>(summary.broken->first),
                 summary.broken->second.c_str(), options.dry_run ? "checked" : "sent");
  }
  if (summary.failed) {
    std::fprintf(stderr,
                 "outcall %s: the batch from %s %lld on was not applied and nothing after it was "
                 "sent; sending the file again is safe (rows already applied come back "
                 "unchanged):\n",
                 cmd_.name.c_str(), fhir ? "entry" : "line",
                 static_cast<long long>(summary.failed_line));
    return Fail(*summary.failed, GatewayWhat());
  }
  if (summary.refused > 0 || summary.broken) {
    if (!json_) {
      std::fprintf(stderr, "outcall %s: %lld of %lld %s refused%s\n", cmd_.name.c_str(),
                   static_cast<long long>(summary.refused), static_cast<long long>(summary.rows),
                   fhir ? "entries" : "rows",
                   options.dry_run ? " by the CLI's checks" : "; the others were applied");
    }
    return ec::kRowsRejected;
  }
  return ec::kOk;
}

}  // namespace

int main(int argc, char** argv) {
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  // The command words (the first one or two arguments that are not options, skipping the values
  // of the global options that take one); everything else is the command's options.
  std::string name;
  std::vector<std::string> rest;
  bool grouped = false;  // "campaigns" and "sync" take a second word
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.empty() || a[0] != '-') {
      if (name.empty()) {
        name = a;
        grouped = a == "campaigns" || a == "sync";
        continue;
      }
      if (grouped && (name == "campaigns" || name == "sync")) {
        name += " " + a;
        continue;
      }
    } else if ((a == "--token" || a == "--gateway" || a == "--stats" || a == "--timeout") &&
               i + 1 < argc) {
      rest.push_back(a);
      rest.push_back(argv[++i]);
      continue;
    }
    rest.push_back(a);
  }
  const bool wants_help = [&] {
    for (const auto& a : rest) {
      if (a == "--help" || a == "-h") return true;
    }
    return false;
  }();
  if (name.empty() || name == "help") {
    if (name.empty() && !wants_help) {
      std::fputs("outcall: a command is needed\n\n", stderr);
      PrintMainHelp(stderr);
      return ec::kUsage;
    }
    PrintMainHelp();
    return ec::kOk;
  }
  const Command* cmd = FindCommand(name);
  if (cmd == nullptr) {
    if ((name == "campaigns" || name == "sync") && wants_help) {
      PrintMainHelp();
      return ec::kOk;
    }
    std::fprintf(stderr, "outcall: unknown command '%s'; 'outcall --help' lists them\n",
                 name.c_str());
    return ec::kUsage;
  }
  std::vector<FlagSpec> specs = kGlobalFlags;
  specs.insert(specs.end(), cmd->flags.begin(), cmd->flags.end());
  Args args;
  std::string error;
  if (!outcall::cli::ParseArgs(rest, specs, &args, &error)) {
    std::fprintf(stderr, "outcall %s: %s\nrun 'outcall %s --help' for its options\n",
                 cmd->name.c_str(), error.c_str(), cmd->name.c_str());
    return ec::kUsage;
  }
  if (args.Has("help")) {
    PrintCommandHelp(*cmd);
    return ec::kOk;
  }
  return Runner(*cmd, std::move(args)).Run();
}
