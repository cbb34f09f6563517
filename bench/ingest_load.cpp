// ingest_load: HTTP(S) keep-alive load generator for webhook-ingest and the Node baseline, reading
// the same pre-signed request files as wrk-webhook.lua (../shared/baselines/node-webhook-ref):
// PREFIX_1.tsv ... PREFIX_K.tsv, one request per line, "<ElevenLabs-Signature>\t<raw body>".
// Request i (0-based, as gen-requests.js numbers them) is line i / K of file (i % K) + 1, so a run
// given --first and --count sends exactly the conversations first .. first + count - 1, each once.
//
//   ingest_load --url https://127.0.0.1:8443 --requests PREFIX [--first N] [--count N]
//               [--connections 64] [--threads 2] [--duration 20] [--rate R] [--path P]
//
// Without --rate: closed loop, every connection sends its next request as soon as the previous
// answer arrived; latency = answer time - send time. With --rate R: open loop at R requests/s in
// total, request i is due at start + i / R, any free connection takes the next due request, and
// latency is measured from the due time (a late send counts against the server: no coordinated
// omission). Prints one line:
//   RESULT mode=... requests=... rps=... non200=... errors=... p50_ms=... consumed=... ...
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "ingest_load: %s\n", message.c_str());
  std::exit(2);
}

struct Options {
  std::string scheme, host, port;
  std::string path = "/api/webhooks/elevenlabs";
  std::string prefix;
  uint64_t first = 0;
  uint64_t count = 0;  // 0: every request from --first on
  int connections = 64;
  int threads = 2;
  double duration_s = 20;
  double rate = 0;  // 0: closed loop
};

// The request files, mapped read-only; request i -> (signature, body) views into them.
class RequestFiles {
 public:
  explicit RequestFiles(const std::string& prefix, uint64_t need) {
    for (int k = 1;; ++k) {
      const std::string name = prefix + "_" + std::to_string(k) + ".tsv";
      const int fd = ::open(name.c_str(), O_RDONLY);
      if (fd < 0) break;
      struct stat st {};
      if (::fstat(fd, &st) != 0 || st.st_size == 0) Die("cannot map " + name);
      void* p = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
      ::close(fd);
      if (p == MAP_FAILED) Die("cannot map " + name);
      ::madvise(p, static_cast<size_t>(st.st_size), MADV_SEQUENTIAL);
      files_.push_back({static_cast<const char*>(p), static_cast<size_t>(st.st_size), {}});
    }
    if (files_.empty()) Die("no request files " + prefix + "_1.tsv ...");
    // Index only the lines a run can use: need lines in total, spread over the K files.
    const uint64_t per_file = need / files_.size() + 1;
    for (File& f : files_) {
      size_t pos = 0;
      while (pos < f.size && f.lines.size() < per_file) {
        const char* nl = static_cast<const char*>(std::memchr(f.data + pos, '\n', f.size - pos));
        const size_t end = nl == nullptr ? f.size : static_cast<size_t>(nl - f.data);
        if (end > pos) f.lines.push_back({pos, end});
        pos = end + 1;
      }
    }
  }

  // Number of requests available (complete rounds over the files, then the partial one).
  uint64_t Size() const {
    uint64_t n = 0;
    for (size_t k = 0;; ++k, ++n) {
      const File& f = files_[k % files_.size()];
      if (k / files_.size() >= f.lines.size()) return n;
    }
  }

  bool Get(uint64_t i, std::string_view& signature, std::string_view& body) const {
    const File& f = files_[i % files_.size()];
    const uint64_t line = i / files_.size();
    if (line >= f.lines.size()) return false;
    const std::string_view l(f.data + f.lines[line].first,
                             f.lines[line].second - f.lines[line].first);
    const size_t tab = l.find('\t');
    if (tab == std::string_view::npos) return false;
    signature = l.substr(0, tab);
    body = l.substr(tab + 1);
    return true;
  }

 private:
  struct File {
    const char* data;
    size_t size;
    std::vector<std::pair<size_t, size_t>> lines;
  };
  std::vector<File> files_;
};

struct Shared {
  Options opt;
  const RequestFiles* files = nullptr;
  uint64_t limit = 0;  // requests first .. first + limit - 1 may be sent
  std::atomic<uint64_t> next{0};
  std::atomic<bool> exhausted{false};
  Clock::time_point start, deadline;
  std::chrono::nanoseconds period{0};
};

struct Stats {
  std::vector<uint32_t> latency_us;
  std::map<int, uint64_t> statuses;
  uint64_t errors = 0;
  uint64_t reconnects = 0;
  Clock::time_point last_done{};
};

template <typename Stream>
struct Connection {
  asio::io_context& ioc;
  ssl::context* tls;
  std::unique_ptr<Stream> stream;
  boost::beast::flat_buffer buffer;
  std::string request;
  Stats stats;
};

tcp::socket& Lowest(tcp::socket& s) { return s; }
tcp::socket& Lowest(ssl::stream<tcp::socket>& s) { return s.next_layer(); }

template <typename Stream>
std::unique_ptr<Stream> MakeStream(asio::io_context& ioc, ssl::context* tls) {
  if constexpr (std::is_same_v<Stream, tcp::socket>) {
    return std::make_unique<Stream>(ioc);
  } else {
    return std::make_unique<Stream>(ioc, *tls);
  }
}

template <typename Stream>
asio::awaitable<bool> Connect(Connection<Stream>& c, const tcp::resolver::results_type& endpoints) {
  c.stream = MakeStream<Stream>(c.ioc, c.tls);
  c.buffer.clear();
  auto [ec, ep] = co_await asio::async_connect(Lowest(*c.stream), endpoints, kTuple);
  if (ec) co_return false;
  Lowest(*c.stream).set_option(tcp::no_delay(true));
  if constexpr (!std::is_same_v<Stream, tcp::socket>) {
    auto [hec] = co_await c.stream->async_handshake(ssl::stream_base::client, kTuple);
    if (hec) co_return false;
  }
  co_return true;
}

template <typename Stream>
asio::awaitable<void> Run(Shared& sh, Connection<Stream>& c, tcp::resolver::results_type endpoints,
                          bool connected) {
  asio::steady_timer timer(c.ioc);
  const bool open_loop = sh.opt.rate > 0;
  if (!connected && !co_await Connect(c, endpoints)) {
    ++c.stats.errors;
    co_return;
  }
  while (true) {
    Clock::time_point due;
    if (!open_loop && Clock::now() >= sh.deadline) break;
    const uint64_t i = sh.next.fetch_add(1, std::memory_order_relaxed);
    if (i >= sh.limit) {
      sh.exhausted = true;
      break;
    }
    if (open_loop) {
      due = sh.start + sh.period * static_cast<int64_t>(i);
      if (due >= sh.deadline) break;
      if (due > Clock::now()) {
        timer.expires_at(due);
        co_await timer.async_wait(kTuple);
      }
    } else {
      due = Clock::now();
    }
    std::string_view signature, body;
    if (!sh.files->Get(sh.opt.first + i, signature, body)) {
      sh.exhausted = true;
      break;
    }
    c.request.clear();
    c.request.append("POST ").append(sh.opt.path).append(" HTTP/1.1\r\nHost: ");
    c.request.append(sh.opt.host).append("\r\nContent-Type: application/json\r\n");
    c.request.append("ElevenLabs-Signature: ").append(signature).append("\r\n");
    c.request.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
    c.request.append(body);

    auto [wec, wn] = co_await asio::async_write(*c.stream, asio::buffer(c.request), kTuple);
    bool keep = false;
    if (!wec) {
      http::response_parser<http::string_body> parser;
      parser.body_limit(1 << 20);
      auto [rec, rn] = co_await http::async_read(*c.stream, c.buffer, parser, kTuple);
      if (!rec) {
        const auto now = Clock::now();
        const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - due).count();
        c.stats.latency_us.push_back(static_cast<uint32_t>(std::min<int64_t>(us, UINT32_MAX)));
        ++c.stats.statuses[parser.get().result_int()];
        c.stats.last_done = now;
        keep = parser.get().keep_alive();
        if (keep) continue;
      } else {
        ++c.stats.errors;
      }
    } else {
      ++c.stats.errors;
    }
    // Closed by the server or failed: a new connection (after a short pause on errors).
    if (!keep) {
      boost::system::error_code ignored;
      Lowest(*c.stream).close(ignored);
      ++c.stats.reconnects;
      if (Clock::now() >= sh.deadline) break;
      if (!co_await Connect(c, endpoints)) {
        ++c.stats.errors;
        timer.expires_after(std::chrono::milliseconds(100));
        co_await timer.async_wait(kTuple);
        if (!co_await Connect(c, endpoints)) break;
      }
    }
  }
  // Close politely (no TLS close_notify round trip: the run is over).
  boost::system::error_code ignored;
  Lowest(*c.stream).shutdown(tcp::socket::shutdown_both, ignored);
  Lowest(*c.stream).close(ignored);
}

template <typename Stream>
int Main(Shared& sh) {
  ssl::context tls(ssl::context::tls_client);
  tls.set_verify_mode(ssl::verify_none);  // the bench's self-signed certificate
  std::vector<std::unique_ptr<asio::io_context>> iocs;
  for (int t = 0; t < sh.opt.threads; ++t) iocs.push_back(std::make_unique<asio::io_context>(1));
  tcp::resolver resolver(*iocs[0]);
  const auto endpoints = resolver.resolve(sh.opt.host, sh.opt.port);

  // Every connection is set up (TCP + TLS handshake) before the clock starts.
  std::vector<std::unique_ptr<Connection<Stream>>> conns;
  std::vector<char> connected(static_cast<size_t>(sh.opt.connections), 0);
  for (int i = 0; i < sh.opt.connections; ++i) {
    auto& ioc = *iocs[static_cast<size_t>(i % sh.opt.threads)];
    conns.push_back(
        std::make_unique<Connection<Stream>>(Connection<Stream>{ioc, &tls, {}, {}, {}, {}}));
    conns.back()->stats.latency_us.reserve(1 << 14);
    asio::co_spawn(
        ioc,
        [&c = *conns.back(), &flag = connected[static_cast<size_t>(i)],
         endpoints]() -> asio::awaitable<void> { flag = co_await Connect(c, endpoints) ? 1 : 0; },
        asio::detached);
  }
  for (auto& ioc : iocs) {
    ioc->run();
    ioc->restart();
  }
  const int up = static_cast<int>(std::count(connected.begin(), connected.end(), 1));
  if (up == 0) Die("no connection to " + sh.opt.scheme + "://" + sh.opt.host + ":" + sh.opt.port);

  rusage ru0{};
  ::getrusage(RUSAGE_SELF, &ru0);
  sh.start = Clock::now() + std::chrono::milliseconds(5);
  sh.deadline = sh.start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(sh.opt.duration_s));
  if (sh.opt.rate > 0) {
    sh.period = std::chrono::nanoseconds(static_cast<int64_t>(1e9 / sh.opt.rate));
  }
  for (int i = 0; i < sh.opt.connections; ++i) {
    auto& c = *conns[static_cast<size_t>(i)];
    asio::co_spawn(c.ioc, Run(sh, c, endpoints, connected[static_cast<size_t>(i)] != 0),
                   asio::detached);
  }
  std::vector<std::thread> threads;
  for (auto& ioc : iocs) threads.emplace_back([&ioc] { ioc->run(); });
  for (auto& t : threads) t.join();
  rusage ru1{};
  ::getrusage(RUSAGE_SELF, &ru1);

  std::vector<uint32_t> lat;
  std::map<int, uint64_t> statuses;
  uint64_t errors = 0, reconnects = 0;
  Clock::time_point last = sh.start;
  for (auto& c : conns) {
    lat.insert(lat.end(), c->stats.latency_us.begin(), c->stats.latency_us.end());
    for (auto [code, n] : c->stats.statuses) statuses[code] += n;
    errors += c->stats.errors;
    reconnects += c->stats.reconnects;
    last = std::max(last, c->stats.last_done);
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double q) -> double {
    if (lat.empty()) return 0;
    const size_t k = static_cast<size_t>(std::ceil(q * static_cast<double>(lat.size())));
    return lat[std::min(lat.size() - 1, k == 0 ? 0 : k - 1)] / 1000.0;
  };
  double mean = 0;
  for (uint32_t v : lat) mean += v;
  mean = lat.empty() ? 0 : mean / static_cast<double>(lat.size()) / 1000.0;
  const double secs = std::chrono::duration<double>(last - sh.start).count();
  const uint64_t ok = statuses.count(200) ? statuses[200] : 0;
  std::string codes;
  for (auto [code, n] : statuses) {
    codes += (codes.empty() ? "" : ",") + std::to_string(code) + ":" + std::to_string(n);
  }
  auto cpu = [](const rusage& r) {
    return static_cast<double>(r.ru_utime.tv_sec + r.ru_stime.tv_sec) +
           static_cast<double>(r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
  };
  const uint64_t consumed = std::min<uint64_t>(sh.next.load(), sh.limit);
  std::printf(
      "RESULT mode=%s connections=%d up=%d threads=%d target_rps=%.0f requests=%zu duration_s=%.2f "
      "rps=%.1f ok=%llu non200=%llu errors=%llu reconnects=%llu p50_ms=%.2f p90_ms=%.2f "
      "p99_ms=%.2f p999_ms=%.2f max_ms=%.2f mean_ms=%.2f statuses=%s client_cpu_pct=%.0f "
      "first=%llu consumed=%llu exhausted=%d\n",
      sh.opt.rate > 0 ? "open" : "closed", sh.opt.connections, up, sh.opt.threads, sh.opt.rate,
      lat.size(), secs, secs > 0 ? static_cast<double>(lat.size()) / secs : 0.0,
      static_cast<unsigned long long>(ok), static_cast<unsigned long long>(lat.size() - ok),
      static_cast<unsigned long long>(errors), static_cast<unsigned long long>(reconnects),
      pct(0.50), pct(0.90), pct(0.99), pct(0.999), lat.empty() ? 0.0 : lat.back() / 1000.0, mean,
      codes.empty() ? "-" : codes.c_str(), secs > 0 ? 100.0 * (cpu(ru1) - cpu(ru0)) / secs : 0.0,
      static_cast<unsigned long long>(sh.opt.first), static_cast<unsigned long long>(consumed),
      sh.exhausted.load() ? 1 : 0);
  return errors > 0 && lat.empty() ? 1 : 0;
}

Options Parse(int argc, char** argv) {
  Options o;
  std::string url;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--url") {
      url = value();
    } else if (a == "--requests") {
      o.prefix = value();
    } else if (a == "--first") {
      o.first = std::stoull(value());
    } else if (a == "--count") {
      o.count = std::stoull(value());
    } else if (a == "--connections" || a == "-c") {
      o.connections = std::stoi(value());
    } else if (a == "--threads" || a == "-t") {
      o.threads = std::stoi(value());
    } else if (a == "--duration" || a == "-d") {
      o.duration_s = std::stod(value());
    } else if (a == "--rate") {
      o.rate = std::stod(value());
    } else if (a == "--path") {
      o.path = value();
    } else {
      Die("unknown option " + a +
          " (--url --requests --first --count --connections --threads --duration --rate --path)");
    }
  }
  const size_t sep = url.find("://");
  if (sep == std::string::npos || o.prefix.empty()) Die("--url and --requests are required");
  o.scheme = url.substr(0, sep);
  if (o.scheme != "http" && o.scheme != "https") Die("--url must be http:// or https://");
  std::string hostport = url.substr(sep + 3);
  hostport = hostport.substr(0, hostport.find('/'));
  const size_t colon = hostport.rfind(':');
  o.host = colon == std::string::npos ? hostport : hostport.substr(0, colon);
  o.port = colon == std::string::npos ? (o.scheme == "https" ? "443" : "80")
                                      : hostport.substr(colon + 1);
  if (o.connections < 1 || o.threads < 1 || o.duration_s <= 0 || o.rate < 0) {
    Die("--connections, --threads and --duration must be positive");
  }
  o.threads = std::min(o.threads, o.connections);
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Shared sh;
  sh.opt = Parse(argc, argv);
  const uint64_t want = sh.opt.count > 0 ? sh.opt.first + sh.opt.count : UINT64_MAX / 2;
  // Only the lines a run may use are indexed (--count), or all of them.
  RequestFiles files(sh.opt.prefix, want);
  sh.files = &files;
  const uint64_t available = files.Size();
  if (available <= sh.opt.first) Die("--first is past the end of the request files");
  sh.limit = std::min<uint64_t>(available, want) - sh.opt.first;
  return sh.opt.scheme == "https" ? Main<ssl::stream<tcp::socket>>(sh) : Main<tcp::socket>(sh);
}
