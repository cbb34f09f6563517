#include "webhook_server.h"

#include <openssl/ssl.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <boost/json.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <list>
#include <map>
#include <mutex>

#include "outcall/elevenlabs/body_scanner.h"
#include "outcall/elevenlabs/event_mapping.h"
#include "outcall/common/crypto.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"
#include "outcall/common/tcp_listen.h"

namespace outcall::webhook_ingest {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using Stream = beast::ssl_stream<beast::tcp_stream>;

namespace {

constexpr size_t kReadChunk = 64 * 1024;

std::chrono::steady_clock::duration Chrono(absl::Duration d) {
  return std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
}

// Completes with the store's result on the caller's executor.
template <typename Token>
auto AsyncStore(InboxWriter& writer, std::shared_ptr<asio::io_context> keep_alive,
                InboxRecord record, Token&& token) {
  return asio::async_initiate<Token, void(StoreResult)>(
      [&writer, keep_alive](auto handler, InboxRecord rec) {
        auto ex = asio::get_associated_executor(handler);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        writer.Submit(std::move(rec), [h, ex, keep_alive](StoreResult r) {
          asio::post(ex, [h, r]() mutable { std::move(*h)(r); });
        });
      },
      token, std::move(record));
}

std::string_view VerificationReason(const absl::Status& s) {
  const auto failure = elevenlabs::GetSignatureFailure(s);
  return elevenlabs::SignatureFailureName(failure.value_or(elevenlabs::SignatureFailure::kMalformed));
}

struct Reply {
  http::status status = http::status::ok;
  std::string outcome;  // metrics label
  std::string body;
  std::string content_type = "application/json";
  bool close = false;
  std::string allow;
};

Reply Error(http::status status, std::string_view outcome, std::string_view code,
            std::string_view message, bool close = false) {
  Reply r;
  r.status = status;
  r.outcome = std::string(outcome);
  r.body = boost::json::serialize(boost::json::object{{"error", code}, {"message", message}});
  r.close = close;
  return r;
}

// For an error while reading the body: the fixed description of a malformed body (the client
// sent bytes HTTP does not allow: a bad chunk size, chunk extension or trailer), or empty when
// the read failed otherwise (timeout, connection closed or reset, TLS error).
std::string_view MalformedBody(const boost::system::error_code& ec) {
  if (ec == http::error::bad_chunk) return "malformed chunked body: bad chunk size or chunk framing";
  if (ec == http::error::bad_chunk_extension) return "malformed chunked body: bad chunk extension";
  if (ec == http::error::bad_line_ending) return "malformed body: bad line ending";
  if (ec == http::error::bad_obs_fold) return "malformed chunked body: bad trailer line folding";
  if (ec == http::error::bad_field || ec == http::error::bad_value) {
    return "malformed chunked body: bad trailer field";
  }
  if (ec == http::error::header_limit) return "malformed chunked body: trailer too large";
  return {};
}

}  // namespace

struct WebhookServer::Impl : std::enable_shared_from_this<WebhookServer::Impl> {
  WebhookServerOptions options;
  elevenlabs::WebhookSignatureVerifier verifier;
  InboxWriter* inbox;
  IngestMetrics* metrics;
  prometheus::Registry* registry;
  std::shared_ptr<asio::io_context> ioc = std::make_shared<asio::io_context>();
  ssl::context tls{ssl::context::tls_server};
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::atomic<int> connections{0};  // sessions alive (evicted ones included until they end)
  std::atomic<int> large_bodies{0};

  // Every admitted connection, least recently changed first: what the caps count and evict.
  enum class ConnState { kHandshake, kIdle, kBusy };
  struct Conn {
    ConnState state = ConnState::kHandshake;
    std::string source;
    asio::any_io_executor executor;  // the session's strand
    tcp::socket* socket = nullptr;   // touched on that strand only, while `open`
    bool open = true;                // on the strand: false once the session ends
    // Under conns_mu: its place in `conns`, while `listed`.
    bool listed = false;
    std::list<std::shared_ptr<Conn>>::iterator pos;
  };
  std::mutex conns_mu;
  std::list<std::shared_ptr<Conn>> conns;  // order: admitted or last went idle
  std::map<std::string, int> per_source;
  int handshaking = 0;

  // Closes a connection from outside its session: on its strand, if it is still open (its
  // pending read or handshake then ends with an error and the session winds down).
  static void CloseConn(const std::shared_ptr<Conn>& c) {
    asio::post(c->executor, [c] {
      if (c->open && c->socket != nullptr) {
        boost::system::error_code ec;
        c->socket->close(ec);
      }
    });
  }

  // Under conns_mu: drops `it` from the table and the counts.
  void Forget(const std::shared_ptr<Conn>& c) {
    if (!c->listed) return;
    c->listed = false;
    if (c->state == ConnState::kHandshake) --handshaking;
    if (auto ps = per_source.find(c->source); ps != per_source.end() && --ps->second <= 0) {
      per_source.erase(ps);
    }
    conns.erase(c->pos);
  }

  // Under conns_mu: closes the oldest connection in `state`; false when there is none.
  bool EvictOldest(ConnState state, std::string_view why) {
    for (const auto& c : conns) {
      if (c->state != state) continue;
      const std::shared_ptr<Conn> victim = c;  // Forget erases the list's copy
      CloseConn(victim);
      Forget(victim);
      Count(why);
      return true;
    }
    return false;
  }

  // A new connection from `source`: its table entry, or null when it must be refused (its source
  // is at its limit, or every connection is busy).
  std::shared_ptr<Conn> Admit(const std::string& source, const asio::any_io_executor& ex) {
    std::lock_guard lock(conns_mu);
    const int per_source_cap = options.limits.max_connections_per_source;
    if (per_source_cap > 0) {
      auto ps = per_source.find(source);
      if (ps != per_source.end() && ps->second >= per_source_cap) {
        Count("connection_refused_source");
        return nullptr;
      }
    }
    if (handshaking >= options.limits.max_handshakes) {
      EvictOldest(ConnState::kHandshake, "connection_evicted_handshake");
    }
    if (static_cast<int>(conns.size()) >= options.limits.max_connections &&
        !EvictOldest(ConnState::kIdle, "connection_evicted_idle") &&
        !EvictOldest(ConnState::kHandshake, "connection_evicted_handshake")) {
      Count("connection_refused");
      return nullptr;
    }
    auto c = std::make_shared<Conn>();
    c->source = source;
    c->executor = ex;
    c->pos = conns.insert(conns.end(), c);
    c->listed = true;
    ++per_source[source];
    ++handshaking;
    return c;
  }

  // The session's connection changed state (idle ones move to the back: the oldest idle is the
  // one waiting longest). Nothing when it was evicted meanwhile.
  void SetState(const std::shared_ptr<Conn>& c, ConnState state) {
    std::lock_guard lock(conns_mu);
    if (!c->listed) return;
    if (c->state == ConnState::kHandshake && state != ConnState::kHandshake) --handshaking;
    c->state = state;
    if (state == ConnState::kIdle) conns.splice(conns.end(), conns, c->pos);
  }

  void Release(const std::shared_ptr<Conn>& c) {
    std::lock_guard lock(conns_mu);
    Forget(c);
  }
  std::atomic<int> active_requests{0};
  std::atomic<bool> stopping{false};

  Impl(WebhookServerOptions o, elevenlabs::WebhookVerifierOptions v, InboxWriter* in, IngestMetrics* m,
       prometheus::Registry* r)
      : options(std::move(o)), verifier(std::move(v)), inbox(in), metrics(m), registry(r) {}

  void Count(std::string_view outcome) {
    if (metrics != nullptr) metrics->Request(outcome);
  }

  // A slot for a body larger than the small-body limit (RAII).
  struct LargeSlot {
    Impl* impl = nullptr;
    LargeSlot() = default;
    LargeSlot(const LargeSlot&) = delete;
    LargeSlot& operator=(const LargeSlot&) = delete;
    ~LargeSlot() { Release(); }
    bool Acquire(Impl* i) {
      if (impl != nullptr) return true;
      int n = i->large_bodies.load();
      while (n < i->options.limits.max_large_bodies) {
        if (i->large_bodies.compare_exchange_weak(n, n + 1)) {
          impl = i;
          if (i->metrics) i->metrics->LargeBodies(n + 1);
          return true;
        }
      }
      return false;
    }
    void Release() {
      if (impl != nullptr) {
        const int n = impl->large_bodies.fetch_sub(1) - 1;
        if (impl->metrics) impl->metrics->LargeBodies(n);
        impl = nullptr;
      }
    }
  };

  asio::awaitable<void> Accept() {
    auto self = shared_from_this();
    while (!stopping.load()) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor->async_accept(
          asio::make_strand(*ioc), asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || stopping.load()) co_return;
        continue;  // e.g. EMFILE: keep serving the connections we have
      }
      const tcp::endpoint peer = socket.remote_endpoint(ec);
      auto ex = socket.get_executor();
      std::shared_ptr<Conn> conn = ec ? nullptr : Admit(peer.address().to_string(), ex);
      if (!conn) {
        socket.close(ec);
        continue;
      }
      const int n = connections.fetch_add(1) + 1;
      if (metrics) metrics->OpenConnections(n);
      asio::co_spawn(ex, Session(std::move(socket), std::move(conn)), asio::detached);
    }
  }

  asio::awaitable<void> Session(tcp::socket socket, std::shared_ptr<Conn> conn) {
    auto self = shared_from_this();
    struct Guard {
      Impl* impl;
      ~Guard() {
        const int n = impl->connections.fetch_sub(1) - 1;
        if (impl->metrics) impl->metrics->OpenConnections(n);
      }
    } guard{this};
    boost::system::error_code ec;
    Stream stream(std::move(socket), tls);
    // After the stream, so destroyed before it: from then on nobody closes its socket.
    struct ConnGuard {
      Impl* impl;
      std::shared_ptr<Conn> conn;
      ~ConnGuard() {
        conn->open = false;
        conn->socket = nullptr;
        impl->Release(conn);
      }
    } conn_guard{this, conn};
    conn->socket = &beast::get_lowest_layer(stream).socket();
    beast::get_lowest_layer(stream).expires_after(Chrono(options.limits.handshake_timeout));
    co_await stream.async_handshake(ssl::stream_base::server,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    SetState(conn, ConnState::kIdle);
    beast::flat_buffer buffer;
    std::vector<char> chunk;
    bool first = true;
    while (!stopping.load()) {
      http::request_parser<http::buffer_body> parser;
      parser.header_limit(static_cast<uint32_t>(options.limits.header_limit_bytes));
      parser.body_limit(static_cast<uint64_t>(options.limits.max_audio_bytes));
      beast::get_lowest_layer(stream).expires_after(
          Chrono(first ? options.limits.read_timeout : options.limits.idle_timeout));
      first = false;
      co_await http::async_read_header(stream, buffer, parser,
                                       asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == http::error::body_limit) {
          Reply r = Error(http::status::payload_too_large, "too_large", "body_too_large",
                          "body over the limit", true);
          LogReject(r, "declared length over the limit");
          co_await Write(stream, r, 11);
        } else if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
          Reply r = Error(http::status::request_header_fields_too_large, "too_large",
                          "header_too_large", "request header too large", true);
          LogReject(r, "header over the limit");
          co_await Write(stream, r, 11);
        }
        break;  // timeout, eof or garbage: close
      }
      SetState(conn, ConnState::kBusy);
      active_requests.fetch_add(1);
      const absl::Time deadline = absl::Now() + options.limits.request_timeout;
      Reply reply = co_await Handle(stream, buffer, parser, chunk, deadline);
      // While draining, every answer closes its connection.
      const bool keep = parser.get().keep_alive() && !reply.close && parser.is_done() &&
                        !stopping.load();
      reply.close = !keep;
      const bool written = co_await Write(stream, reply, parser.get().version());
      active_requests.fetch_sub(1);
      if (!written || !keep) break;
      SetState(conn, ConnState::kIdle);
    }
    // TLS close_notify, bounded by the write timeout; errors here are noise.
    beast::get_lowest_layer(stream).expires_after(Chrono(options.limits.write_timeout));
    co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
  }

  asio::awaitable<bool> Write(Stream& stream, const Reply& r, unsigned version) {
    http::response<http::string_body> res{r.status, version};
    res.set(http::field::server, "outcall-webhook-ingest");
    res.set(http::field::content_type, r.content_type);
    if (!r.allow.empty()) res.set(http::field::allow, r.allow);
    res.keep_alive(!r.close);
    res.body() = r.body;
    res.prepare_payload();
    boost::system::error_code ec;
    beast::get_lowest_layer(stream).expires_after(Chrono(options.limits.write_timeout));
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  }

  void LogReject(const Reply& r, std::string_view reason) {
    Count(r.outcome);
    // No body content, no header values: the status and a fixed reason only.
    spdlog::warn("webhook rejected: {} {} ({})", static_cast<int>(r.status), r.outcome, reason);
  }

  // A webhook being received: what is computed while its body streams in (HMAC, SHA-256 of the
  // raw bytes, the JSON scan, the decoded audio and its spool file) and what is kept of it.
  struct IncomingBody {
    explicit IncomingBody(bool save_audio)
        : scanner([this, save_audio](std::string_view decoded) {
            audio_hash.Update(decoded);
            if (!save_audio || spool_failed) return;
            if (!spool) spool.reset(std::tmpfile());
            if (!spool ||
                std::fwrite(decoded.data(), 1, decoded.size(), spool.get()) != decoded.size()) {
              spool_failed = true;
            }
          }) {}
    IncomingBody(const IncomingBody&) = delete;
    IncomingBody& operator=(const IncomingBody&) = delete;

    std::optional<elevenlabs::WebhookSignatureVerifier::Stream> signature;
    common::Sha256 body_hash;
    common::Sha256 audio_hash;
    TempFile spool;
    bool spool_failed = false;
    elevenlabs::BodyScanner scanner;
    std::string kept;       // the body, unless it grew past WEBHOOK_MAX_EVENT_BYTES
    bool overflow = false;  // it did (only an audio event may)
    int64_t total = 0;
    LargeSlot slot;
  };

  // One request: routed, its headers checked, its body read and verified, the record built,
  // stored. Each step returns the reply that ends the request early, if any.
  asio::awaitable<Reply> Handle(Stream& stream, beast::flat_buffer& buffer,
                                http::request_parser<http::buffer_body>& parser,
                                std::vector<char>& chunk, absl::Time deadline) {
    if (auto r = Route(parser)) co_return *std::move(r);
    IncomingBody in(options.save_call_audio);
    if (auto r = co_await CheckHeaders(stream, parser, in)) co_return *std::move(r);
    if (auto r = co_await ReadBody(stream, buffer, parser, chunk, deadline, in)) {
      co_return *std::move(r);
    }
    InboxRecord record;
    if (auto r = BuildRecord(in, record)) co_return *std::move(r);
    co_return co_await Store(std::move(record), in.total);
  }

  // The routes other than the webhook (health, metrics, 404, 405): their reply, or nothing for a
  // POST to the webhook path.
  std::optional<Reply> Route(http::request_parser<http::buffer_body>& parser) {
    auto& req = parser.get();
    std::string_view target(req.target().data(), req.target().size());
    if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
    const bool has_body = !parser.is_done();
    if (target == "/healthz" || target == "/metrics") {
      if (req.method() != http::verb::get && req.method() != http::verb::head) {
        Reply r = Error(http::status::method_not_allowed, "method_not_allowed",
                        "method_not_allowed", "use GET", has_body);
        r.allow = "GET, HEAD";
        LogReject(r, "wrong method");
        return r;
      }
      if (has_body) return Error(http::status::payload_too_large, "too_large", "body_too_large",
                                    "no body expected", true);
      Reply r;
      r.outcome = "ok";
      if (target == "/healthz") {
        r.body = "{\"status\":\"ok\"}";
      } else {
        r.content_type = "text/plain; version=0.0.4";
        if (registry != nullptr) r.body = prometheus::TextSerializer().Serialize(registry->Collect());
      }
      Count("ok");
      return r;
    }
    if (target != kWebhookPath) {
      Reply r = Error(http::status::not_found, "not_found", "not_found", "no such route", has_body);
      LogReject(r, "unknown path");
      return r;
    }
    if (req.method() != http::verb::post) {
      Reply r = Error(http::status::method_not_allowed, "method_not_allowed", "method_not_allowed",
                      "use POST", has_body);
      r.allow = "POST";
      LogReject(r, "wrong method");
      return r;
    }
    return std::nullopt;
  }

  // Declared length, signature header (the verifier starts), the large-body cap, and
  // "Expect: 100-continue" answered.
  asio::awaitable<std::optional<Reply>> CheckHeaders(
      Stream& stream, http::request_parser<http::buffer_body>& parser, IncomingBody& in) {
    auto& req = parser.get();
    const bool has_body = !parser.is_done();
    const auto length = parser.content_length();
    if (length && *length > static_cast<uint64_t>(options.limits.max_audio_bytes)) {
      Reply r = Error(http::status::payload_too_large, "too_large", "body_too_large",
                      "body over the limit", true);
      LogReject(r, "declared length over the limit");
      co_return r;
    }
    auto header = req.find(elevenlabs::kElevenLabsSignatureHeader.data());
    std::string_view sig = header == req.end()
                               ? std::string_view()
                               : std::string_view(header->value().data(), header->value().size());
    auto started = verifier.Start(sig);
    if (!started.ok()) {
      const std::string_view reason = VerificationReason(started.status());
      if (metrics) metrics->VerificationFailure(reason);
      Reply r = Error(http::status::unauthorized, "unauthorized", "invalid_signature",
                      "signature missing, malformed, stale or forged", has_body);
      LogReject(r, common::Cat("signature ", reason));
      co_return r;
    }
    if (length && *length > static_cast<uint64_t>(options.limits.small_body_bytes) &&
        !in.slot.Acquire(this)) {
      Reply r = Error(http::status::service_unavailable, "busy", "busy",
                      "too many large bodies in flight, retry later", true);
      LogReject(r, "large-body cap reached");
      co_return r;
    }
    if (auto expect = req.find(http::field::expect);
        expect != req.end() && beast::iequals(expect->value(), "100-continue") && has_body) {
      http::response<http::empty_body> cont{http::status::continue_, req.version()};
      boost::system::error_code ec;
      beast::get_lowest_layer(stream).expires_after(Chrono(options.limits.write_timeout));
      co_await http::async_write(stream, cont, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return Error(http::status::bad_request, "aborted", "aborted", "write failed", true);
    }

    in.signature.emplace(*std::move(started));
    co_return std::nullopt;
  }

  // Streams the body through the verifier, the hashes and the scanner, within the request's
  // deadline, keeping what an event needs.
  asio::awaitable<std::optional<Reply>> ReadBody(Stream& stream, beast::flat_buffer& buffer,
                                                 http::request_parser<http::buffer_body>& parser,
                                                 std::vector<char>& chunk, absl::Time deadline,
                                                 IncomingBody& in) {
    auto& req = parser.get();
    chunk.resize(kReadChunk);
    while (!parser.is_done()) {
      req.body().data = chunk.data();
      req.body().size = chunk.size();
      const absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) {
        co_return Error(http::status::request_timeout, "timeout", "timeout", "request too slow", true);
      }
      beast::get_lowest_layer(stream).expires_after(
          Chrono(std::min(left, options.limits.read_timeout)));
      boost::system::error_code ec;
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == http::error::need_buffer) ec = {};
      if (ec == http::error::body_limit) {
        Reply r = Error(http::status::payload_too_large, "too_large", "body_too_large",
                        "body over the limit", true);
        LogReject(r, "body over the limit");
        co_return r;
      }
      if (const std::string_view malformed = MalformedBody(ec); !malformed.empty()) {
        Reply r = Error(http::status::bad_request, "bad_request", "malformed_body", malformed, true);
        LogReject(r, malformed);
        co_return r;
      }
      if (ec) {
        Reply r = Error(http::status::request_timeout, "timeout", "timeout",
                        "body not received in time", true);
        LogReject(r, ec == beast::error::timeout ? "body read timeout" : "body read failed");
        co_return r;
      }
      const size_t n = chunk.size() - req.body().size;
      if (n == 0) continue;
      const std::string_view piece(chunk.data(), n);
      in.total += static_cast<int64_t>(n);
      in.signature->Update(piece);
      in.body_hash.Update(piece);
      in.scanner.Write(piece);
      if (!in.overflow) {
        const size_t want = in.kept.size() + n;
        if (want > static_cast<size_t>(options.limits.small_body_bytes) && !in.slot.Acquire(this)) {
          Reply r = Error(http::status::service_unavailable, "busy", "busy",
                          "too many large bodies in flight, retry later", true);
          LogReject(r, "large-body cap reached");
          co_return r;
        }
        if (want > static_cast<size_t>(options.limits.max_event_bytes)) {
          in.overflow = true;  // only an audio event may be this large; decided at the end
          std::string().swap(in.kept);
        } else {
          in.kept.append(piece);
          if (metrics) metrics->MaxBufferedBytes(static_cast<double>(in.kept.size()));
        }
      }
    }
    in.slot.Release();

    co_return std::nullopt;
  }

  // The verdicts that need the whole body (signature, JSON, envelope, size), then the inbox record.
  std::optional<Reply> BuildRecord(IncomingBody& in, InboxRecord& record) {
    if (absl::Status s = in.signature->Finish(); !s.ok()) {
      if (metrics) metrics->VerificationFailure("mismatch");
      Reply r = Error(http::status::unauthorized, "unauthorized", "invalid_signature",
                      "signature missing, malformed, stale or forged");
      LogReject(r, "signature mismatch");
      return r;
    }
    if (!in.scanner.Finish()) {
      Reply r = Error(http::status::bad_request, "bad_request", "invalid_json",
                      "body is not a valid event");
      LogReject(r, in.scanner.error());
      return r;
    }
    const elevenlabs::Envelope& env = in.scanner.envelope();
    if (absl::Status s = elevenlabs::ValidateEnvelope(env); !s.ok()) {
      Reply r = Error(http::status::bad_request, "bad_request", "invalid_event",
                      common::ToStd(s.message()));
      LogReject(r, common::ToStd(s.message()));
      return r;
    }
    const bool is_audio = env.type == elevenlabs::kAudio;
    if (in.overflow && !is_audio) {
      Reply r = Error(http::status::payload_too_large, "too_large", "body_too_large",
                      "event body over the limit");
      LogReject(r, "event body over WEBHOOK_MAX_EVENT_BYTES");
      return r;
    }
    record.event_type = env.type;
    record.conversation_id = env.conversation_id;
    record.event_timestamp = env.event_timestamp;
    record.body_sha256 = common::HexEncode(in.body_hash.Finish());
    if (is_audio) {
      if (options.save_call_audio && in.spool_failed) {
        Reply r = Error(http::status::service_unavailable, "unavailable", "unavailable",
                        "audio could not be spooled, retry later");
        LogReject(r, "audio spool write failed");
        return r;
      }
      elevenlabs::AudioSummary summary;
      summary.size_bytes = in.scanner.audio_bytes();
      summary.sha256 = common::HexEncode(in.audio_hash.Finish());
      summary.stored = options.save_call_audio && in.scanner.audio_bytes() > 0;
      record.body = elevenlabs::AudioInboxBody(env, summary);
      record.body_truncated = true;
      if (summary.stored) {
        std::fflush(in.spool.get());
        record.audio = std::move(in.spool);
      }
    } else {
      record.body = std::move(in.kept);
    }
    return std::nullopt;
  }

  // Stores the record (inbox, or the local spool while PostgreSQL is away) and answers.
  asio::awaitable<Reply> Store(InboxRecord record, int64_t total) {
    const std::string conversation = record.conversation_id;
    const std::string type = record.event_type;
    StoreResult result = co_await AsyncStore(*inbox, ioc, std::move(record), asio::use_awaitable);
    switch (result.outcome) {
      case StoreOutcome::kStored: {
        Count("stored");
        spdlog::debug("webhook stored: {} {} inbox_id={} bytes={}", type, conversation,
                      result.inbox_id, total);
        Reply r;
        r.outcome = "stored";
        r.body = "{\"status\":\"stored\"}";
        co_return r;
      }
      case StoreOutcome::kSpooled: {
        // PostgreSQL is away; the local spool holds it durably and the inbox gets it later.
        Count("spooled");
        Reply r;
        r.outcome = "spooled";
        r.body = "{\"status\":\"stored\"}";
        co_return r;
      }
      case StoreOutcome::kDuplicate: {
        Count("duplicate");
        Reply r;
        r.outcome = "duplicate";
        r.body = "{\"status\":\"duplicate\"}";
        co_return r;
      }
      case StoreOutcome::kUnavailable:
      default: {
        Reply r = Error(http::status::service_unavailable, "unavailable", "unavailable",
                        "event not stored, retry later");
        LogReject(r, "database unavailable");
        co_return r;
      }
    }
  }
};

WebhookServer::WebhookServer(WebhookServerOptions options, elevenlabs::WebhookVerifierOptions verifier,
                             InboxWriter* inbox, IngestMetrics* metrics,
                             prometheus::Registry* registry)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(verifier), inbox, metrics,
                                   registry)) {}

WebhookServer::~WebhookServer() { Stop(); }

absl::Status WebhookServer::Start() {
  Impl& i = *impl_;
  boost::system::error_code ec;
  i.tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                        ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                        ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                    ec);
  SSL_CTX_set_min_proto_version(i.tls.native_handle(), TLS1_2_VERSION);
  i.tls.use_certificate_chain_file(i.options.tls_cert_file, ec);
  if (ec) return absl::InvalidArgumentError(common::Cat("TLS_CERT_FILE: cannot load ", i.options.tls_cert_file));
  i.tls.use_private_key_file(i.options.tls_key_file, ssl::context::pem, ec);
  if (ec) return absl::InvalidArgumentError(common::Cat("TLS_KEY_FILE: cannot load ", i.options.tls_key_file));

  auto acceptor = common::ListenTcp(*i.ioc, i.options.listen_address, "WEBHOOK_LISTEN_ADDRESS");
  if (!acceptor.ok()) return acceptor.status();
  i.acceptor = *std::move(acceptor);
  port_ = i.acceptor->local_endpoint().port();
  const std::string host = i.acceptor->local_endpoint().address().to_string();
  asio::co_spawn(*i.ioc, i.Accept(), asio::detached);
  for (int t = 0; t < i.options.limits.threads; ++t) {
    i.threads.emplace_back([ioc = i.ioc] { ioc->run(); });
  }
  spdlog::info("webhook endpoint listening on https://{}:{}{}", host, port_, kWebhookPath);
  return absl::OkStatus();
}

void WebhookServer::Stop() { Stop(absl::Now() + impl_->options.shutdown_grace); }

int WebhookServer::active_requests() const { return impl_->active_requests.load(); }

void WebhookServer::Stop(absl::Time deadline) {
  Impl& i = *impl_;
  if (i.threads.empty()) return;
  i.stopping.store(true);
  asio::post(*i.ioc, [impl = impl_] {
    boost::system::error_code ec;
    if (impl->acceptor) impl->acceptor->close(ec);
  });
  const int in_flight = i.active_requests.load();
  if (in_flight > 0) {
    spdlog::info("webhook endpoint draining {} in-flight request(s), {} ms left", in_flight,
                 std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
  }
  while (i.active_requests.load() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  if (const int left = i.active_requests.load(); left > 0) {
    spdlog::warn("webhook endpoint: grace period over, {} request(s) cut off unanswered", left);
  }
  // The io_context is released here: destroying it destroys the suspended sessions (which
  // hold the Impl alive until then).
  std::shared_ptr<asio::io_context> ioc = std::move(i.ioc);
  ioc->stop();
  for (auto& t : i.threads) t.join();
  i.threads.clear();
  i.acceptor.reset();  // its service dies with the io_context
}

}  // namespace outcall::webhook_ingest
