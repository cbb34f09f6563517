// call-gateway under load: InitiateCall throughput and the latency the gateway adds on top of the
// ElevenLabs simulator's own, at N concurrent clients (closed loop), plus the gateway's resident
// memory. Run it through scripts/bench.sh gateway (bench/gateway_bench.sh starts the processes).
//
//   outcall_gateway_bench --gateway=HOST:PORT --sim=http://HOST:PORT --gateway-pid=PID
//                         [--sim-pid=PID] [--clients=1,32] [--seconds=10] [--warmup=2]
//                         [--idempotency-key] [--sim-reset-ms=200] [--rate=CALLS_PER_S]
//                         [--watchers=200]
//   environment: SIM_API_KEY (xi-api-key), JWT_HS256_SECRET, JWT_ISSUER, JWT_AUDIENCE,
//                ELEVENLABS_AGENT_ID, ELEVENLABS_AGENT_PHONE_NUMBER_ID,
//                ELEVENLABS_MAX_CALL_DURATION
//
// For each client count, two phases. The simulator keeps every conversation and scans them all on
// each outbound call (its LiveCalls()), so it slows down as calls accumulate: it is reset
// (POST /__sim/reset) before each phase and every --sim-reset-ms during it, which keeps its own
// cost small and equal for both phases.
//   sim      every client POSTs /v1/convai/twilio/outbound-call to the simulator itself, with the
//            body and headers call-gateway sends, through the same HTTP client (outcall::common's,
//            which opens a fresh connection for every POST, as the gateway does);
//   gateway  every client calls CallGateway.InitiateCall over its own gRPC channel with a JWT
//            carrying calls:write, a distinct phone number each time (the live-call guard).
// Closed loop by default (each client sends its next request when the last is answered); with
// --rate the clients together offer that many calls per second, each on a fixed schedule.
// Latencies of requests started and finished inside the measured window (warm-up excluded) are
// kept in full and sorted: the percentiles are exact (nearest rank). After the phases, --watchers
// WatchCallEvents streams are opened and held (the gateway's threads and memory with them), one
// call is placed and every watcher must see its update. Exit code 1 if any request failed or a
// watcher missed the update.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "outcall/common/crypto.h"
#include "outcall/common/http_client.h"
#include "outcall/common/jwt.h"
#include "outcall/common/strings.h"
#include "outcall/v1/call_gateway.grpc.pb.h"

namespace {

namespace json = boost::json;
using outcall::common::Cat;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string gateway;
  std::string sim;
  int gateway_pid = 0;
  int sim_pid = 0;
  std::vector<int> clients = {1, 32};
  double seconds = 10;
  double warmup = 2;
  bool idempotency_key = false;
  double rate = 0;              // calls/s offered by all clients together; 0: closed loop
  int max_duration_secs = 600;  // ELEVENLABS_MAX_CALL_DURATION of the gateway under test
  int sim_reset_ms = 200;       // POST /__sim/reset this often during a phase (0: never)
  int watchers = 200;           // WatchCallEvents streams held after the phases (0: none)
  std::string api_key, jwt_secret, jwt_issuer, jwt_audience, agent_id, phone_number_id;
};

[[noreturn]] void Die(const std::string& why) {
  std::fprintf(stderr, "outcall_gateway_bench: %s\n", why.c_str());
  std::exit(2);
}

std::string Env(const char* name, const char* fallback = nullptr) {
  const char* v = std::getenv(name);
  if (v != nullptr && *v != '\0') return v;
  if (fallback != nullptr) return fallback;
  Die(Cat(name, " is not set"));
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](std::string_view flag) -> std::optional<std::string> {
      const std::string prefix = Cat(flag, "=");
      if (a.rfind(prefix, 0) == 0) return a.substr(prefix.size());
      return std::nullopt;
    };
    if (auto v = value("--gateway")) {
      o.gateway = *v;
    } else if (auto v = value("--sim")) {
      o.sim = *v;
    } else if (auto v = value("--gateway-pid")) {
      o.gateway_pid = std::atoi(v->c_str());
    } else if (auto v = value("--sim-pid")) {
      o.sim_pid = std::atoi(v->c_str());
    } else if (auto v = value("--seconds")) {
      o.seconds = std::atof(v->c_str());
    } else if (auto v = value("--warmup")) {
      o.warmup = std::atof(v->c_str());
    } else if (auto v = value("--clients")) {
      o.clients.clear();
      std::stringstream ss(*v);
      for (std::string part; std::getline(ss, part, ',');)
        o.clients.push_back(std::atoi(part.c_str()));
    } else if (auto v = value("--watchers")) {
      o.watchers = std::atoi(v->c_str());
    } else if (auto v = value("--sim-reset-ms")) {
      o.sim_reset_ms = std::atoi(v->c_str());
    } else if (auto v = value("--rate")) {
      o.rate = std::atof(v->c_str());
    } else if (a == "--idempotency-key") {
      o.idempotency_key = true;
    } else {
      Die(Cat("unknown argument ", a));
    }
  }
  if (o.gateway.empty() || o.sim.empty() || o.gateway_pid <= 0)
    Die("--gateway, --sim and --gateway-pid are required");
  if (o.seconds <= 0 || o.warmup < 0) Die("--seconds must be > 0 and --warmup >= 0");
  for (int c : o.clients) {
    if (c < 1 || c > 1024) Die("--clients: each count must be 1-1024");
  }
  o.api_key = Env("SIM_API_KEY");
  o.jwt_secret = Env("JWT_HS256_SECRET");
  o.jwt_issuer = Env("JWT_ISSUER");
  o.jwt_audience = Env("JWT_AUDIENCE");
  o.agent_id = Env("ELEVENLABS_AGENT_ID", "agent_sim_confirmaciones");
  o.phone_number_id = Env("ELEVENLABS_AGENT_PHONE_NUMBER_ID", "phnum_sim_twilio");
  o.max_duration_secs = std::atoi(Env("ELEVENLABS_MAX_CALL_DURATION", "600").c_str());
  return o;
}

// ---------------------------------------------------------------------------------------------
// /proc

std::map<std::string, std::string> ProcStatus(int pid) {
  std::map<std::string, std::string> out;
  std::ifstream f(Cat("/proc/", pid, "/status"));
  for (std::string line; std::getline(f, line);) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string v = line.substr(colon + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    out[line.substr(0, colon)] = v;
  }
  return out;
}

// kB from "1234 kB".
long Kb(const std::map<std::string, std::string>& status, const std::string& key) {
  auto it = status.find(key);
  return it == status.end() ? -1 : std::atol(it->second.c_str());
}

// utime + stime of a process, in seconds.
double CpuSeconds(int pid) {
  if (pid <= 0) return 0;
  std::ifstream f(Cat("/proc/", pid, "/stat"));
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::stringstream ss(stat.substr(close + 2));
  std::string field;
  double utime = 0, stime = 0;
  for (int i = 3; ss >> field; ++i) {  // field 3 is the state
    if (i == 14) utime = std::atof(field.c_str());
    if (i == 15) {
      stime = std::atof(field.c_str());
      break;
    }
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

struct Memory {
  long rss_kb = 0, hwm_kb = 0, threads = 0;
  long anon_kb = 0, file_kb = 0;  // VmRSS = RssAnon (heap, stacks) + RssFile (mapped code) + shmem
};

Memory ReadMemory(int pid) {
  auto s = ProcStatus(pid);
  return {Kb(s, "VmRSS"), Kb(s, "VmHWM"), Kb(s, "Threads"), Kb(s, "RssAnon"), Kb(s, "RssFile")};
}

std::string Mb(long kb) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(kb) / 1024.0);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Load

// Distinct numbers for the whole run: +57 310 nnnnnnn (a valid Colombian mobile).
std::atomic<int64_t> next_number{0};
std::string NextPhone() {
  char buf[32];
  std::snprintf(buf, sizeof buf, "+57310%07lld", static_cast<long long>(next_number++ % 10000000));
  return buf;
}

struct WorkerResult {
  std::vector<double> latencies_ms;
  std::map<std::string, int64_t> errors;  // "HTTP 429", "gRPC UNAVAILABLE", ...
  std::string first_error;
};

struct PhaseResult {
  std::string name;
  int clients = 0;
  double seconds = 0;
  std::vector<double> latencies_ms;  // sorted
  std::map<std::string, int64_t> errors;
  std::vector<std::string> error_samples;
  double gateway_cpu_s = 0, sim_cpu_s = 0;
  int64_t sim_calls_placed = -1, sim_most_held = -1;
  std::map<std::string, int64_t> sim_responses;

  int64_t ok() const { return static_cast<int64_t>(latencies_ms.size()); }
  int64_t failed() const {
    int64_t n = 0;
    for (const auto& [k, v] : errors) n += v;
    return n;
  }
  double Percentile(double p) const {  // nearest rank
    if (latencies_ms.empty()) return 0;
    size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * latencies_ms.size()));
    rank = std::clamp<size_t>(rank, 1, latencies_ms.size());
    return latencies_ms[rank - 1];
  }
  double Mean() const {
    double sum = 0;
    for (double v : latencies_ms) sum += v;
    return latencies_ms.empty() ? 0 : sum / latencies_ms.size();
  }
};

// One request; returns "" on success or an error key.
using RequestFn = std::function<std::string(std::string* detail)>;

// Runs `clients` workers (closed loop, or paced with --rate) for warm-up + measured seconds.
// make_worker(i) builds the worker's request function (its own gRPC channel or HTTP handle),
// in the worker's thread.
template <typename MakeWorker>
PhaseResult RunPhase(const std::string& name, int clients, double warmup_s, double measure_s,
                     const Options& opt, MakeWorker make_worker) {
  PhaseResult out;
  out.name = name;
  out.clients = clients;
  out.seconds = measure_s;
  std::vector<WorkerResult> results(clients);
  std::atomic<bool> stop{false};
  const auto start = Clock::now() + std::chrono::milliseconds(200);  // all workers set up first
  const auto t0 = start + std::chrono::microseconds(static_cast<int64_t>(warmup_s * 1e6));
  const auto t1 = t0 + std::chrono::microseconds(static_cast<int64_t>(measure_s * 1e6));
  double gw_cpu0 = 0, sim_cpu0 = 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      RequestFn request = make_worker(i);
      WorkerResult& r = results[i];
      r.latencies_ms.reserve(static_cast<size_t>(measure_s * 5000 / clients) + 16);
      std::this_thread::sleep_until(start);
      // Paced (--rate): this client's requests are due every `clients / rate` seconds, the
      // clients staggered; latency counts from when a request was due (so a backlog shows).
      const auto interval = std::chrono::nanoseconds(
          opt.rate > 0 ? static_cast<int64_t>(1e9 * clients / opt.rate) : 0);
      auto due = start + interval * i / clients;
      while (!stop.load(std::memory_order_relaxed)) {
        auto a = Clock::now();
        if (opt.rate > 0) {
          std::this_thread::sleep_until(due);
          a = due;
          due += interval;
        }
        std::string detail;
        const std::string err = request(&detail);
        const auto b = Clock::now();
        if (!err.empty()) {  // every failure counts, in the warm-up too
          ++r.errors[err];
          if (r.first_error.empty()) r.first_error = detail;
        } else if (a >= t0 && b <= t1) {
          r.latencies_ms.push_back(std::chrono::duration<double, std::milli>(b - a).count());
        }
      }
    });
  }
  std::this_thread::sleep_until(t0);
  gw_cpu0 = CpuSeconds(opt.gateway_pid);
  sim_cpu0 = CpuSeconds(opt.sim_pid);
  std::this_thread::sleep_until(t1);
  out.gateway_cpu_s = CpuSeconds(opt.gateway_pid) - gw_cpu0;
  out.sim_cpu_s = CpuSeconds(opt.sim_pid) - sim_cpu0;
  stop = true;
  for (auto& t : threads) t.join();
  for (auto& r : results) {
    out.latencies_ms.insert(out.latencies_ms.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    for (const auto& [k, v] : r.errors) out.errors[k] += v;
    if (!r.first_error.empty() && out.error_samples.size() < 3)
      out.error_samples.push_back(r.first_error);
  }
  std::sort(out.latencies_ms.begin(), out.latencies_ms.end());
  return out;
}

// The body call-gateway's ElevenLabsClient::PlaceTwilioCall sends for the gateway phase's request.
std::string OutboundBody(const Options& o, const std::string& phone) {
  // A UUID, like the gateway's call id.
  const std::string hex = outcall::common::RandomHex(16);
  const std::string call_id = Cat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4),
                                  "-", hex.substr(16, 4), "-", hex.substr(20));
  json::object dynamic{
      {"appointment_time", "10:00"}, {"call_id", call_id}, {"patient_name", "Ana Ruiz"}};
  json::object client_data{{"user_id", call_id},
                           {"dynamic_variables", std::move(dynamic)},
                           {"conversation_config_override",
                            json::object{{"conversation", json::object{{"max_duration_seconds",
                                                                        o.max_duration_secs}}}}}};
  json::object body{{"agent_id", o.agent_id},
                    {"agent_phone_number_id", o.phone_number_id},
                    {"to_number", phone},
                    {"conversation_initiation_client_data", std::move(client_data)}};
  return json::serialize(body);
}

RequestFn SimWorker(const Options& o) {
  auto client = std::make_shared<outcall::common::HttpClient>(outcall::common::HttpClientOptions{
      .max_response_bytes = 32 * 1024 * 1024, .user_agent = "outcall-call-gateway/0.1"});
  return [client, &o](std::string* detail) -> std::string {
    outcall::common::HttpRequest req;
    req.method = "POST";
    req.url = Cat(o.sim, "/v1/convai/twilio/outbound-call");
    req.headers = {{"xi-api-key", o.api_key}, {"Content-Type", "application/json"}};
    req.body = OutboundBody(o, NextPhone());
    req.timeout = absl::Seconds(15);  // ELEVENLABS_TIMEOUT_SECS' default
    auto r = client->Send(req);
    if (!r.ok()) {
      *detail = std::string(r.status().message());
      return Cat("transport ", absl::StatusCodeToString(r.status().code()));
    }
    if (r->status != 200) {
      *detail = Cat("HTTP ", r->status, ": ", r->body.substr(0, 300));
      return Cat("HTTP ", r->status);
    }
    // Parsed, as the gateway parses it.
    boost::system::error_code ec;
    json::value v = json::parse(r->body, ec);
    const json::value* ok = !ec && v.is_object() ? v.as_object().if_contains("success") : nullptr;
    if (ok == nullptr || !ok->is_bool() || !ok->as_bool()) {
      *detail = r->body.substr(0, 300);
      return "HTTP 200 without success";
    }
    return "";
  };
}

RequestFn GatewayWorker(const Options& o, const std::string& token) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // one TCP connection per client
  auto channel = grpc::CreateCustomChannel(o.gateway, grpc::InsecureChannelCredentials(), args);
  channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5));
  std::shared_ptr<outcall::v1::CallGateway::Stub> stub = outcall::v1::CallGateway::NewStub(channel);
  const std::string bearer = "Bearer " + token;
  return [stub, bearer, &o](std::string* detail) -> std::string {
    outcall::v1::InitiateCallRequest req;
    req.set_phone_number(NextPhone());
    req.set_patient_name("Ana Ruiz");
    (*req.mutable_custom_variables()->mutable_fields())["appointment_time"].set_string_value(
        "10:00");
    outcall::v1::InitiateCallResponse resp;
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", bearer);
    if (o.idempotency_key) ctx.AddMetadata("idempotency-key", outcall::common::RandomHex(16));
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    const grpc::Status s = stub->InitiateCall(&ctx, req, &resp);
    if (!s.ok()) {
      *detail = Cat("gRPC ", static_cast<int>(s.error_code()), ": ", s.error_message());
      static const char* kNames[] = {"OK",
                                     "CANCELLED",
                                     "UNKNOWN",
                                     "INVALID_ARGUMENT",
                                     "DEADLINE_EXCEEDED",
                                     "NOT_FOUND",
                                     "ALREADY_EXISTS",
                                     "PERMISSION_DENIED",
                                     "RESOURCE_EXHAUSTED",
                                     "FAILED_PRECONDITION",
                                     "ABORTED",
                                     "OUT_OF_RANGE",
                                     "UNIMPLEMENTED",
                                     "INTERNAL",
                                     "UNAVAILABLE",
                                     "DATA_LOSS",
                                     "UNAUTHENTICATED"};
      const int code = static_cast<int>(s.error_code());
      return Cat("gRPC ", code >= 0 && code <= 16 ? kNames[code] : "?");
    }
    if (!resp.success() || resp.data().status() != "initiated") {
      *detail = resp.DebugString();
      return "gRPC OK without success";
    }
    return "";
  };
}

json::object SimControl(const Options& o, const std::string& method, const std::string& path) {
  outcall::common::HttpClient client;
  outcall::common::HttpRequest req;
  req.method = method;
  req.url = Cat(o.sim, path);
  if (method == "POST") req.body = "{}";
  auto r = client.Send(req);
  if (!r.ok() || r->status != 200) Die(Cat("simulator control ", path, " failed"));
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  if (ec || !v.is_object()) Die(Cat("simulator control ", path, ": not JSON"));
  return v.as_object();
}

// The simulator keeps every conversation and scans them all (LiveCalls(), under its lock) on each
// outbound call, so its latency grows with the calls it holds. Resetting it every few hundred
// milliseconds keeps that cost small and the same for both phases; the counters are added up
// before each reset.
class SimJanitor {
 public:
  explicit SimJanitor(const Options& o) : o_(o) {
    SimControl(o_, "POST", "/__sim/reset");
    if (o_.sim_reset_ms > 0) thread_ = std::thread([this] { Run(); });
  }
  ~SimJanitor() { Stop(); }
  // Stops the resets and adds the simulator's counts to the phase.
  void Stop(PhaseResult* p = nullptr) {
    stop_ = true;
    if (thread_.joinable()) {
      thread_.join();
      Collect();  // what the last interval placed
    }
    if (p == nullptr) return;
    p->sim_calls_placed = placed_;
    p->sim_most_held = most_held_;
    p->sim_responses = responses_;
  }

 private:
  void Run() {
    while (!stop_) {
      std::this_thread::sleep_for(std::chrono::milliseconds(o_.sim_reset_ms));
      Collect();
      SimControl(o_, "POST", "/__sim/reset");
    }
  }
  void Collect() {
    auto c = SimControl(o_, "GET", "/__sim/counters");
    const int64_t placed = c.at("calls_placed").to_number<int64_t>();
    placed_ += placed;
    most_held_ = std::max(most_held_, placed);
    for (const auto& [k, v] : c.at("outbound_responses").as_object())
      responses_[std::string(k)] += v.to_number<int64_t>();
  }
  const Options& o_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  int64_t placed_ = 0, most_held_ = 0;
  std::map<std::string, int64_t> responses_;
};

// One WatchCallEvents stream (gRPC's callback client: no thread per stream on this side), counting
// the updates it reads until it is cancelled.
class Watcher final : public grpc::ClientReadReactor<outcall::v1::CallUpdate> {
 public:
  Watcher(outcall::v1::CallGateway::Stub& stub, const std::string& bearer) {
    ctx_.AddMetadata("authorization", bearer);
    stub.async()->WatchCallEvents(&ctx_, &request_, this);
    StartRead(&update_);
    StartCall();
  }
  void OnReadDone(bool ok) override {
    if (!ok) return;  // the stream ended: OnDone follows
    ++updates_;
    StartRead(&update_);
  }
  void OnDone(const grpc::Status& s) override {
    std::lock_guard lock(mu_);
    done_ = true;
    status_ = s;
    cv_.notify_all();
  }
  void Cancel() { ctx_.TryCancel(); }
  // Waits for the end of the stream; its status.
  grpc::Status Wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return done_; });
    return status_;
  }
  bool ended() {
    std::lock_guard lock(mu_);
    return done_;
  }
  int64_t updates() const { return updates_.load(); }

 private:
  grpc::ClientContext ctx_;
  outcall::v1::WatchCallEventsRequest request_;
  outcall::v1::CallUpdate update_;
  std::atomic<int64_t> updates_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  grpc::Status status_;
};

// Holds `o.watchers` streams, reads the gateway's threads and memory with them open, places one
// call and checks that every watcher saw it. False when one did not (or a stream ended early).
bool MeasureWatchers(const Options& o, const std::string& token) {
  auto channel = grpc::CreateChannel(o.gateway, grpc::InsecureChannelCredentials());
  channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto stub = outcall::v1::CallGateway::NewStub(channel);
  const std::string bearer = "Bearer " + token;
  const Memory before = ReadMemory(o.gateway_pid);
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (int i = 0; i < o.watchers; ++i) watchers.push_back(std::make_unique<Watcher>(*stub, bearer));
  std::this_thread::sleep_for(std::chrono::seconds(2));  // every stream reaches its handler
  const Memory held = ReadMemory(o.gateway_pid);
  const double cpu0 = CpuSeconds(o.gateway_pid);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const double idle_cpu = CpuSeconds(o.gateway_pid) - cpu0;

  // One call: every watcher is to see at least its first update.
  std::string detail;
  const std::string outcome = GatewayWorker(o, token)(&detail);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  auto saw = [&] {
    int n = 0;
    for (auto& w : watchers) n += w->updates() > 0 ? 1 : 0;
    return n;
  };
  while (saw() < o.watchers && Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const int seen = saw();
  int ended_early = 0;
  for (auto& w : watchers) ended_early += w->ended() ? 1 : 0;
  for (auto& w : watchers) w->Cancel();
  for (auto& w : watchers) (void)w->Wait();

  std::printf("\n== %d WatchCallEvents watchers held open\n", o.watchers);
  std::printf("  before:     VmRSS %s, %ld threads\n", Mb(before.rss_kb).c_str(), before.threads);
  std::printf(
      "  with them:  VmRSS %s (anonymous %s), %ld threads; gateway CPU while they idle "
      "%.0f ms/s\n",
      Mb(held.rss_kb).c_str(), Mb(held.anon_kb).c_str(), held.threads, idle_cpu * 1000.0 / 2.0);
  std::printf(
      "  one call placed (%s): %d of %d watchers saw its update within 10 s; %d streams "
      "ended early\n",
      outcome.empty() ? "OK" : (outcome + " " + detail).c_str(), seen, o.watchers, ended_early);
  return outcome.empty() && seen == o.watchers && ended_early == 0;
}

void PrintPhase(const PhaseResult& p) {
  const int64_t n = p.ok();
  std::printf(
      "  %-8s %3d clients: %8.1f calls/s  p50 %7.3f ms  p99 %7.3f ms  mean %7.3f  max %7.3f  "
      "(%lld ok in the window, %lld failed incl. warm-up)\n",
      p.name.c_str(), p.clients, n / p.seconds, p.Percentile(50), p.Percentile(99), p.Mean(),
      p.latencies_ms.empty() ? 0.0 : p.latencies_ms.back(), static_cast<long long>(n),
      static_cast<long long>(p.failed()));
  std::string responses;
  for (const auto& [k, v] : p.sim_responses)
    responses += Cat(responses.empty() ? "" : ", ", k, ": ", v);
  std::printf("           simulator: %lld calls placed (at most %lld held), responses {%s}\n",
              static_cast<long long>(p.sim_calls_placed), static_cast<long long>(p.sim_most_held),
              responses.c_str());
  const double total = static_cast<double>(n + p.failed());
  if (total > 0) {
    std::printf("           CPU per request: gateway %.0f us, simulator %.0f us\n",
                p.gateway_cpu_s * 1e6 / total, p.sim_cpu_s * 1e6 / total);
  }
  for (const auto& [k, v] : p.errors)
    std::printf("           !!! ERRORS %s: %lld\n", k.c_str(), static_cast<long long>(v));
  for (const auto& s : p.error_samples) std::printf("           !!! e.g. %s\n", s.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = ParseOptions(argc, argv);
  outcall::common::JwtClaims claims;
  claims.issuer = opt.jwt_issuer;
  claims.subject = "gateway-bench";
  claims.audiences = {opt.jwt_audience};
  claims.permissions = {"calls:write", "calls:read"};
  claims.lifetime = absl::Hours(12);
  auto token = outcall::common::SignJwt("HS256", opt.jwt_secret, claims);
  if (!token.ok()) Die(Cat("cannot sign the token: ", token.status().message()));

  const Memory idle = ReadMemory(opt.gateway_pid);
  std::printf("call-gateway idle after start-up: VmRSS %s, VmHWM %s, %ld threads\n",
              Mb(idle.rss_kb).c_str(), Mb(idle.hwm_kb).c_str(), idle.threads);
  const std::string mode =
      opt.rate > 0 ? Cat("paced: the clients together offer ", opt.rate, " calls/s")
                   : std::string("closed loop: each client sends as soon as it is answered");
  std::printf("%s; %.0f s measured after %.0f s warm-up per phase%s\n", mode.c_str(), opt.seconds,
              opt.warmup,
              opt.idempotency_key ? "; every InitiateCall with an Idempotency-Key" : "");
  std::fflush(stdout);

  const int peak_clients = *std::max_element(opt.clients.begin(), opt.clients.end());
  Memory peak;
  std::vector<std::pair<PhaseResult, PhaseResult>> rows;
  int64_t failures = 0;
  for (int clients : opt.clients) {
    SimJanitor sim_janitor(opt);
    PhaseResult sim =
        RunPhase("sim", clients, opt.warmup, opt.seconds, opt, [&](int) { return SimWorker(opt); });
    sim_janitor.Stop(&sim);
    PrintPhase(sim);
    std::fflush(stdout);

    SimJanitor gw_janitor(opt);
    std::atomic<bool> sampling{clients == peak_clients};
    std::thread sampler([&] {
      while (sampling) {
        Memory m = ReadMemory(opt.gateway_pid);
        if (m.rss_kb > peak.rss_kb) {
          peak.rss_kb = m.rss_kb;
          peak.anon_kb = m.anon_kb;
          peak.file_kb = m.file_kb;
        }
        peak.threads = std::max(peak.threads, m.threads);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    });
    PhaseResult gw = RunPhase("gateway", clients, opt.warmup, opt.seconds, opt,
                              [&](int) { return GatewayWorker(opt, *token); });
    sampling = false;
    sampler.join();
    gw_janitor.Stop(&gw);
    PrintPhase(gw);
    std::fflush(stdout);
    failures += sim.failed() + gw.failed();
    rows.emplace_back(std::move(sim), std::move(gw));
  }
  const Memory after = ReadMemory(opt.gateway_pid);
  peak.hwm_kb = after.hwm_kb;
  const bool watchers_ok = opt.watchers <= 0 || MeasureWatchers(opt, *token);

  std::printf("\n== InitiateCall through call-gateway vs the simulator alone\n");
  std::printf("%8s | %-31s | %-31s | %-19s\n", "clients", "simulator alone", "through call-gateway",
              "added by gateway");
  std::printf("%8s | %9s %10s %10s | %9s %10s %10s | %9s %9s\n", "", "calls/s", "p50 ms", "p99 ms",
              "calls/s", "p50 ms", "p99 ms", "p50 ms", "p99 ms");
  for (const auto& [s, g] : rows) {
    std::printf("%8d | %9.1f %10.3f %10.3f | %9.1f %10.3f %10.3f | %9.3f %9.3f\n", s.clients,
                s.ok() / s.seconds, s.Percentile(50), s.Percentile(99), g.ok() / g.seconds,
                g.Percentile(50), g.Percentile(99), g.Percentile(50) - s.Percentile(50),
                g.Percentile(99) - s.Percentile(99));
  }
  std::printf("\n== call-gateway resident memory\n");
  std::printf(
      "  idle after start-up:     VmRSS %s (VmHWM %s; anonymous %s, files %s), %ld threads\n",
      Mb(idle.rss_kb).c_str(), Mb(idle.hwm_kb).c_str(), Mb(idle.anon_kb).c_str(),
      Mb(idle.file_kb).c_str(), idle.threads);
  std::printf(
      "  under %d clients (peak): VmRSS %s (anonymous %s, files %s), %ld threads; VmHWM at the "
      "end %s\n",
      peak_clients, Mb(peak.rss_kb).c_str(), Mb(peak.anon_kb).c_str(), Mb(peak.file_kb).c_str(),
      peak.threads, Mb(peak.hwm_kb).c_str());
  std::printf("  idle after the load:     VmRSS %s (anonymous %s, files %s), %ld threads\n",
              Mb(after.rss_kb).c_str(), Mb(after.anon_kb).c_str(), Mb(after.file_kb).c_str(),
              after.threads);

  std::printf("\n== targets\n");
  for (const auto& [s, g] : rows) {
    if (s.clients != 32) continue;
    const double added = g.Percentile(99) - s.Percentile(99);
    std::printf("  p99 added at 32 clients < 2 ms: %.3f ms  %s\n", added,
                added < 2.0 ? "MET" : "NOT MET");
  }
  std::printf("  idle VmRSS < 30 MB:             %s  %s\n", Mb(idle.rss_kb).c_str(),
              idle.rss_kb < 30 * 1024 ? "MET" : "NOT MET");
  if (!watchers_ok) {
    std::printf("\n!!!!!!!! A WATCHER MISSED THE UPDATE OR ENDED EARLY (see above) !!!!!!!!\n");
    return 1;
  }
  if (failures > 0) {
    std::printf(
        "\n!!!!!!!! %lld REQUESTS FAILED: the numbers above are NOT valid (see ERRORS) !!!!!!!!\n",
        static_cast<long long>(failures));
    return 1;
  }
  std::printf("\nerrors: none (every request answered 200/OK with a placed call)\n");
  return 0;
}
