#include "edge_server.h"

#include <atomic>
#include <list>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <variant>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "absl/strings/str_cat.h"
#include "outcall/common/blocking_executor.h"
#include "outcall/common/clock.h"
#include "outcall/common/http_client.h"
#include "outcall/common/jwt.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"
#include "outcall/common/tcp_listen.h"
#include "outcall/rest/transcoder.h"
#include "route_policy.h"
#include "static_files.h"

namespace outcall::rest_edge {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

std::chrono::steady_clock::duration Chrono(absl::Duration d) {
  return std::chrono::nanoseconds(absl::ToInt64Nanoseconds(d));
}

// A complete (not streamed) answer.
struct Reply {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  int grpc_code = -1;  // the upstream's status, when there was one
};

Reply JsonError(unsigned http_status, int grpc_code, std::string_view message) {
  Reply r;
  r.status = http_status;
  r.body = rest::ErrorBody(grpc_code, message);
  return r;
}

// The edge's own answer (not the service's): the body's code from the local-reply table.
Reply LocalError(unsigned http_status, std::string_view message) {
  return JsonError(http_status, LocalReplyCode(http_status), message);
}

Reply GrpcError(const grpc::Status& s) {
  const int code = static_cast<int>(s.error_code());
  Reply r = JsonError(static_cast<unsigned>(rest::HttpStatusForGrpcCode(code)), code, s.error_message());
  r.grpc_code = code;
  return r;
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromBuffer(const grpc::ByteBuffer& buf) {
  std::vector<grpc::Slice> slices;
  (void)buf.Dump(&slices);
  std::string out;
  out.reserve(buf.Length());
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

std::string RandomRequestId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  const uint64_t a = rng(), b = rng();
  return absl::StrCat(absl::Hex(a, absl::kZeroPad16), absl::Hex(b, absl::kZeroPad16));
}

bool ValidMetadataKey(std::string_view k) {
  if (k.empty() || k.starts_with("grpc-") || k.ends_with("-bin")) return false;
  for (char c : k) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

bool ValidMetadataValue(std::string_view v) {
  for (unsigned char c : v) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

// Headers that describe this hop, not the request: never passed on as metadata.
bool HopHeader(std::string_view k) {
  static const std::set<std::string_view> hop = {
      "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
      "host", "content-length", "content-type", "accept-encoding", "expect", "trailer"};
  return hop.count(k) > 0;
}

// One item of a server stream, handed from gRPC's threads to the connection's coroutine.
struct StreamItem {
  enum class Kind { kHeaders, kMessage, kDone } kind = Kind::kMessage;
  std::string bytes;
  grpc::Status status;
};
using ItemChannel = asio::experimental::concurrent_channel<void(boost::system::error_code, StreamItem)>;

}  // namespace

struct EdgeServer::Impl : std::enable_shared_from_this<EdgeServer::Impl> {
  EdgeServerOptions options;
  EdgeBackends backends;
  std::unique_ptr<grpc::GenericStub> gateway_stub, stats_stub;
  std::shared_ptr<asio::io_context> ioc = std::make_shared<asio::io_context>();
  std::unique_ptr<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  std::atomic<int> in_flight{0};       // requests being handled (streams included)
  std::atomic<int> upstream_calls{0};  // gRPC calls and webhook posts not yet completed
  std::unique_ptr<common::BlockingExecutor> webhook_pool;
  common::HttpClient webhook_client;

  // Contexts of upstream calls in flight, cancelled at shutdown (streams first: they never end
  // by themselves).
  std::mutex calls_mu;
  std::set<grpc::ClientContext*> calls;
  std::set<grpc::ClientContext*> streams;

  // Connections, least recently idle first: the cap closes the oldest idle one.
  struct Conn {
    asio::any_io_executor executor;
    tcp::socket* socket = nullptr;  // on the strand only, while open
    bool open = true;
    bool idle = true;
    bool listed = false;
    std::list<std::shared_ptr<Conn>>::iterator pos;
  };
  std::mutex conns_mu;
  std::list<std::shared_ptr<Conn>> conns;

  // Metrics (null without a registry).
  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Family<prometheus::Histogram>* latency = nullptr;
  prometheus::Histogram* overhead = nullptr;  // the edge's own time on a unary call

  Impl(EdgeServerOptions o, EdgeBackends b)
      : options(std::move(o)), backends(std::move(b)),
        webhook_client([&] {
          common::HttpClientOptions h;
          h.ca_file = backends.webhook_ingest_ca_file;
          h.user_agent = "outcall-rest-edge";
          return h;
        }()) {
    if (backends.call_gateway) gateway_stub = std::make_unique<grpc::GenericStub>(backends.call_gateway);
    if (backends.stats) stats_stub = std::make_unique<grpc::GenericStub>(backends.stats);
    webhook_pool = std::make_unique<common::BlockingExecutor>(4, 256);
    if (backends.registry != nullptr) {
      requests = &prometheus::BuildCounter()
                      .Name("outcall_edge_requests_total")
                      .Help("HTTP requests answered by the REST edge, by route and HTTP status")
                      .Register(*backends.registry);
      latency = &prometheus::BuildHistogram()
                     .Name("outcall_edge_request_seconds")
                     .Help("Time from the request's last byte to its answer's, by route")
                     .Register(*backends.registry);
      overhead = &prometheus::BuildHistogram()
                      .Name("outcall_edge_overhead_seconds")
                      .Help("The edge's own share of a transcoded unary request: from its last byte in "
                            "to its answer written, minus the time the service took")
                      .Register(*backends.registry)
                      .Add({}, prometheus::Histogram::BucketBoundaries{
                                   0.00005, 0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001,
                                   0.0015, 0.002, 0.005, 0.01});
    }
  }

  void Record(std::string_view route, unsigned status, double seconds) {
    if (requests == nullptr) return;
    requests->Add({{"route", std::string(route)}, {"status", std::to_string(status)}}).Increment();
    static const prometheus::Histogram::BucketBoundaries kBuckets = {
        0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
    latency->Add({{"route", std::string(route)}}, kBuckets).Observe(seconds);
  }

  // ---- connections ----

  std::shared_ptr<Conn> Admit(const asio::any_io_executor& ex) {
    std::lock_guard lock(conns_mu);
    if (static_cast<int>(conns.size()) >= options.max_connections) {
      bool evicted = false;
      for (auto& c : conns) {
        if (!c->idle) continue;
        std::shared_ptr<Conn> victim = c;
        asio::post(victim->executor, [victim] {
          if (victim->open && victim->socket != nullptr) {
            boost::system::error_code ec;
            victim->socket->close(ec);
          }
        });
        victim->listed = false;
        conns.erase(victim->pos);
        evicted = true;
        break;
      }
      if (!evicted) return nullptr;
    }
    auto c = std::make_shared<Conn>();
    c->executor = ex;
    c->pos = conns.insert(conns.end(), c);
    c->listed = true;
    return c;
  }
  void SetIdle(const std::shared_ptr<Conn>& c, bool idle) {
    std::lock_guard lock(conns_mu);
    if (!c->listed) return;
    c->idle = idle;
    if (idle) conns.splice(conns.end(), conns, c->pos);
  }
  void Release(const std::shared_ptr<Conn>& c) {
    std::lock_guard lock(conns_mu);
    if (!c->listed) return;
    c->listed = false;
    conns.erase(c->pos);
  }

  asio::awaitable<void> Accept() {
    auto self = shared_from_this();
    while (!stopping.load()) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor->async_accept(asio::make_strand(*ioc),
                                                           asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || stopping.load()) co_return;
        continue;  // e.g. EMFILE: keep serving the connections we have
      }
      auto ex = socket.get_executor();
      std::shared_ptr<Conn> conn = Admit(ex);
      if (!conn) {
        socket.close(ec);
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      asio::co_spawn(ex, Session(std::move(socket), std::move(conn)), asio::detached);
    }
  }

  asio::awaitable<void> Session(tcp::socket socket, std::shared_ptr<Conn> conn) {
    auto self = shared_from_this();
    beast::tcp_stream stream(std::move(socket));
    struct ConnGuard {
      Impl* impl;
      std::shared_ptr<Conn> conn;
      ~ConnGuard() {
        conn->open = false;
        conn->socket = nullptr;
        impl->Release(conn);
      }
    } guard{this, conn};
    conn->socket = &stream.socket();
    beast::flat_buffer buffer;
    bool first = true;
    while (!stopping.load()) {
      boost::system::error_code ec;
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<uint32_t>(options.max_header_bytes));
      parser.body_limit(options.max_body_bytes);
      SetIdle(conn, true);
      stream.expires_after(Chrono(first ? options.request_headers_timeout : options.idle_timeout));
      first = false;
      co_await http::async_read_header(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == http::error::header_limit) {
        co_await WriteReply(stream, LocalError(431, "request headers too large"), 11, false, "-", "-", absl::Now());
        break;
      }
      if (ec == http::error::body_limit) {
        co_await WriteReply(stream, TooLarge(), 11, false, "-", "-", absl::Now());
        co_await Linger(stream);
        break;
      }
      if (ec) break;  // closed, timed out, or not HTTP
      SetIdle(conn, false);
      in_flight.fetch_add(1);
      struct InFlight {
        std::atomic<int>& n;
        ~InFlight() { n.fetch_sub(1); }
      } counted{in_flight};
      auto& req = parser.get();
      const unsigned version = req.version();
      if (beast::iequals(req[http::field::expect], "100-continue")) {
        http::response<http::empty_body> cont{http::status::continue_, version};
        stream.expires_after(Chrono(options.body_timeout));
        co_await http::async_write(stream, cont, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
      }
      stream.expires_after(Chrono(options.body_timeout));
      co_await http::async_read(stream, buffer, parser, asio::redirect_error(asio::use_awaitable, ec));
      if (ec == http::error::body_limit) {
        co_await WriteReply(stream, TooLarge(), version, false, "-", "-", absl::Now());
        co_await Linger(stream);
        break;
      }
      if (ec) break;
      const bool keep = req.keep_alive() && !stopping.load();
      const bool again = co_await Serve(stream, req, keep);
      if (!again || !keep) break;
    }
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  // After refusing a body: stop sending and read (and drop) what the client still sends for a
  // moment, so it gets to read the answer instead of a reset.
  asio::awaitable<void> Linger(beast::tcp_stream& stream) {
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    std::vector<char> sink(64 * 1024);
    size_t total = 0;
    while (!ec && total < 8 * options.max_body_bytes) {
      stream.expires_after(std::chrono::seconds(2));
      total += co_await stream.async_read_some(asio::buffer(sink), asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  Reply TooLarge() const {
    return LocalError(413, common::Cat("request body larger than ", options.max_body_bytes, " bytes"));
  }

  asio::awaitable<bool> WriteReply(beast::tcp_stream& stream, const Reply& r, unsigned version, bool keep,
                                   std::string_view route, std::string_view method, absl::Time started) {
    http::response<http::string_body> res{static_cast<http::status>(r.status), version};
    res.set(http::field::server, "outcall-rest-edge");
    if (!r.content_type.empty()) res.set(http::field::content_type, r.content_type);
    for (const auto& [k, v] : r.headers) res.set(k, v);
    res.body() = r.body;
    res.keep_alive(keep);
    res.prepare_payload();
    boost::system::error_code ec;
    stream.expires_after(Chrono(options.body_timeout));
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    Log(route, method, r.status, r.grpc_code, started, r.body.size());
    co_return !ec;
  }

  void Log(std::string_view route, std::string_view method, unsigned status, int grpc_code, absl::Time started,
           size_t bytes_out) {
    const double secs = absl::ToDoubleSeconds(absl::Now() - started);
    Record(route, status, secs);
    // Never the path or the query: they can carry patient identifiers.
    if (options.access_log) {
      spdlog::info("http route={} method={} status={} grpc_status={} duration_ms={:.3f} bytes_out={}", route,
                   method, status, grpc_code, secs * 1000, bytes_out);
    }
  }

  // One request: answers it (or streams it) and says whether the connection may go on.
  asio::awaitable<bool> Serve(beast::tcp_stream& stream, http::request<http::string_body>& req, bool keep) {
    const absl::Time started = absl::Now();
    const unsigned version = req.version();
    const std::string method(req.method_string());
    auto target = rest::ParseTarget(req.target());
    if (!target.ok()) {
      co_return co_await WriteReply(stream, LocalError(400, common::ToStd(target.status().message())), version, keep, "-", method, started);
    }
    const std::string& path = target->path;

    if (path == "/healthz") {
      Reply r;
      r.status = stopping.load() ? 503 : 200;
      r.body = stopping.load() ? R"({"status":"draining"})" : R"({"status":"ok"})";
      co_return co_await WriteReply(stream, r, version, keep, "healthz", method, started);
    }

    // JWT, as jwt_authn: before routing, on the whole /api/elevenlabs/ prefix.
    std::optional<Reply> denied;
    if (path.starts_with(kJwtPrefix)) {
      denied = CheckJwt(req, path);
    }
    if (denied) co_return co_await WriteReply(stream, *denied, version, keep, "jwt", method, started);

    const RouteRule* route = FindRoute(path);
    if (route == nullptr) {
      if (backends.console != nullptr && !path.starts_with("/api/") &&
          (req.method() == http::verb::get || req.method() == http::verb::head)) {
        if (const StaticFile* f = backends.console->Find(path)) {
          co_return co_await WriteStatic(stream, req, *f, keep, started);
        }
      }
      Reply r;
      r.status = 404;
      r.body = std::string(kNotFoundBody);
      co_return co_await WriteReply(stream, r, version, keep, "not_found", method, started);
    }

    if (route->cluster == Cluster::kWebhookIngest) {
      Reply r = co_await ProxyWebhook(req);
      co_return co_await WriteReply(stream, r, version, keep, route->name, method, started);
    }

    auto match = backends.transcoder->Match(method, path);
    if (!match.ok()) {
      // Envoy's transcoder with reject_unknown_method.
      co_return co_await WriteReply(stream, LocalError(404, common::RedactPhones(common::ToStd(match.status().message()))),
                                    version, keep, route->name, method, started);
    }
    auto wire = backends.transcoder->Request(*match, req.body(), target->query);
    if (!wire.ok()) {
      // protobuf's parser quotes the offending value, which may be a phone number: masked.
      co_return co_await WriteReply(stream, LocalError(400, common::RedactPhones(common::ToStd(wire.status().message()))),
                                    version, keep, route->name, method, started);
    }
    grpc::GenericStub* stub = route->cluster == Cluster::kStats ? stats_stub.get() : gateway_stub.get();
    if (stub == nullptr) {
      co_return co_await WriteReply(stream, LocalError(503, "no upstream configured"), version, keep, route->name,
                                    method, started);
    }
    if (match->binding->server_streaming) {
      co_return co_await ServeStream(stream, req, *match->binding, *stub, *std::move(wire), keep, route->name, started);
    }

    auto ctx = std::make_shared<grpc::ClientContext>();
    Prepare(*ctx, req, route->timeout);
    auto request = ToBuffer(*wire);
    grpc::ByteBuffer response;
    const absl::Time sent = absl::Now();
    grpc::Status status = co_await UnaryCall(*stub, match->binding->grpc_path, ctx, &request, &response);
    const absl::Duration upstream = absl::Now() - sent;
    const int64_t upstream_ms = absl::ToInt64Milliseconds(upstream);
    Reply r;
    if (status.ok()) {
      auto payload = backends.transcoder->Response(*match->binding, FromBuffer(response));
      if (payload.ok()) {
        r.body = std::move(payload->body);
        r.content_type = std::move(payload->content_type);
        r.grpc_code = 0;
      } else {
        r = JsonError(500, 13, common::ToStd(payload.status().message()));
      }
    } else {
      r = GrpcError(status);
    }
    // As Envoy's x-envoy-upstream-service-time: the answer came from the service, in this long.
    r.headers.emplace_back("x-upstream-service-time", std::to_string(upstream_ms));
    const bool written = co_await WriteReply(stream, r, version, keep, route->name, method, started);
    if (overhead != nullptr) overhead->Observe(absl::ToDoubleSeconds(absl::Now() - started - upstream));
    co_return written;
  }

  std::optional<Reply> CheckJwt(const http::request<http::string_body>& req, std::string_view path) const {
    auto it = req.find(http::field::authorization);
    // Only for a refusal: not on the path of every accepted request.
    auto realm = [&] { return common::Cat("Bearer realm=\"http://", std::string(req[http::field::host]), path, "\""); };
    if (it == req.end() || !beast::iequals(it->value().substr(0, 7), "Bearer ")) {
      Reply r = LocalError(401, "Jwt is missing");
      r.headers.emplace_back("www-authenticate", realm());
      return r;
    }
    std::string_view token = it->value().substr(7);
    auto principal = backends.jwt->Verify(token, backends.clock->Now());
    if (!principal.ok()) {
      Reply r = LocalError(401, common::Cat("Jwt verification fails: ", common::ToStd(principal.status().message())));
      r.headers.emplace_back("www-authenticate", realm() + ", error=\"invalid_token\"");
      return r;
    }
    return std::nullopt;
  }

  // The request's headers as metadata (Envoy passes every header but the hop's own), a request
  // id, and the route's deadline.
  void Prepare(grpc::ClientContext& ctx, const http::request<http::string_body>& req, absl::Duration timeout) const {
    bool has_id = false;
    for (const auto& f : req) {
      const std::string k = common::ToLower(f.name_string());
      if (HopHeader(k) || !ValidMetadataKey(k) || !ValidMetadataValue(f.value())) continue;
      if (k == "x-request-id") has_id = true;
      ctx.AddMetadata(k, std::string(f.value()));
    }
    if (!has_id) ctx.AddMetadata("x-request-id", RandomRequestId());
    if (timeout > absl::ZeroDuration()) {
      ctx.set_deadline(std::chrono::system_clock::now() + Chrono(timeout));
    }
  }

  void Track(grpc::ClientContext* ctx, bool add, bool stream = false) {
    std::lock_guard lock(calls_mu);
    auto& set = stream ? streams : calls;
    if (add) {
      set.insert(ctx);
    } else {
      set.erase(ctx);
    }
  }

  // A unary call through the generic stub, resumed on the connection's strand.
  template <typename Token>
  auto AsyncUnary(grpc::GenericStub& stub, const std::string& method, std::shared_ptr<grpc::ClientContext> ctx,
                  const grpc::ByteBuffer* request, grpc::ByteBuffer* response, Token&& token) {
    return asio::async_initiate<Token, void(grpc::Status)>(
        [this, &stub, &method, ctx, request, response](auto handler) {
          auto ex = asio::get_associated_executor(handler);
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          upstream_calls.fetch_add(1);
          Track(ctx.get(), true);
          stub.UnaryCall(ctx.get(), method, grpc::StubOptions(), request, response,
                         [this, ex, h, ctx](grpc::Status s) {
                           Track(ctx.get(), false);
                           asio::post(ex, [h, s]() mutable { (*h)(s); });
                           upstream_calls.fetch_sub(1);
                         });
        },
        token);
  }
  asio::awaitable<grpc::Status> UnaryCall(grpc::GenericStub& stub, const std::string& method,
                                          std::shared_ptr<grpc::ClientContext> ctx, const grpc::ByteBuffer* request,
                                          grpc::ByteBuffer* response) {
    co_return co_await AsyncUnary(stub, method, std::move(ctx), request, response, asio::use_awaitable);
  }

  // ---- server streams: newline-delimited JSON over a chunked response ----

  class StreamCall final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
   public:
    StreamCall(Impl* impl, const asio::any_io_executor& ex) : impl_(impl), channel(ex, 8) {}
    grpc::ClientContext ctx;
    ItemChannel channel;
    grpc::ByteBuffer request;

    void Begin(grpc::GenericStub& stub, const std::string& method, std::shared_ptr<StreamCall> self) {
      self_ = std::move(self);
      impl_->upstream_calls.fetch_add(1);
      impl_->Track(&ctx, true, /*stream=*/true);
      stub.PrepareBidiStreamingCall(&ctx, method, grpc::StubOptions(), this);
      StartWriteLast(&request, grpc::WriteOptions());
      StartRead(&incoming_);
      StartCall();
    }
    void Next() { StartRead(&incoming_); }
    void OnReadInitialMetadataDone(bool ok) override {
      if (ok) channel.try_send(boost::system::error_code(), StreamItem{StreamItem::Kind::kHeaders, {}, {}});
    }
    void OnReadDone(bool ok) override {
      if (ok) channel.try_send(boost::system::error_code(), StreamItem{StreamItem::Kind::kMessage, FromBuffer(incoming_), {}});
    }
    void OnDone(const grpc::Status& s) override {
      channel.try_send(boost::system::error_code(), StreamItem{StreamItem::Kind::kDone, {}, s});
      impl_->Track(&ctx, false, /*stream=*/true);
      Impl* impl = impl_;
      self_.reset();  // may delete this
      impl->upstream_calls.fetch_sub(1);
    }

   private:
    Impl* impl_;
    grpc::ByteBuffer incoming_;
    std::shared_ptr<StreamCall> self_;
  };

  asio::awaitable<bool> ServeStream(beast::tcp_stream& stream, const http::request<http::string_body>& req,
                                    const rest::Binding& binding, grpc::GenericStub& stub, std::string wire,
                                    bool keep, std::string_view route, absl::Time started) {
    const unsigned version = req.version();
    const std::string method(req.method_string());
    auto ex = co_await asio::this_coro::executor;
    auto call = std::make_shared<StreamCall>(this, ex);
    Prepare(call->ctx, req, absl::ZeroDuration());
    call->request = ToBuffer(wire);
    call->Begin(stub, binding.grpc_path, call);

    http::response<http::empty_body> head{http::status::ok, version};
    head.set(http::field::server, "outcall-rest-edge");
    head.set(http::field::content_type, "application/json");
    head.set(http::field::cache_control, "no-store");
    head.set("x-accel-buffering", "no");
    head.chunked(true);
    head.keep_alive(keep);
    http::response_serializer<http::empty_body> sr{head};
    bool head_sent = false;
    bool ok = true;
    size_t bytes = 0;
    int grpc_code = -1;
    asio::steady_timer idle(ex);

    auto send_head = [&]() -> asio::awaitable<bool> {
      if (head_sent) co_return true;
      head_sent = true;
      boost::system::error_code ec;
      stream.expires_after(Chrono(options.body_timeout));
      co_await http::async_write_header(stream, sr, asio::redirect_error(asio::use_awaitable, ec));
      co_return !ec;
    };
    auto send = [&](auto buffers) -> asio::awaitable<bool> {
      boost::system::error_code ec;
      stream.expires_after(Chrono(options.body_timeout));
      co_await asio::async_write(stream, buffers, asio::redirect_error(asio::use_awaitable, ec));
      co_return !ec;
    };

    for (;;) {
      idle.expires_after(Chrono(options.stream_idle_timeout));
      auto got = co_await (call->channel.async_receive(asio::as_tuple(asio::use_awaitable)) ||
                           idle.async_wait(asio::as_tuple(asio::use_awaitable)));
      if (got.index() == 1 || stopping.load()) {
        // Idle for too long (or shutting down): end the stream cleanly; the client watches again.
        call->ctx.TryCancel();
        if (!(co_await send_head())) { ok = false; break; }
        ok = co_await send(http::make_chunk_last());
        grpc_code = 1;
        break;
      }
      auto& [ec, item] = std::get<0>(got);
      if (ec) { ok = false; call->ctx.TryCancel(); break; }
      if (item.kind == StreamItem::Kind::kHeaders) {
        if (!(co_await send_head())) { ok = false; call->ctx.TryCancel(); break; }
        continue;
      }
      if (item.kind == StreamItem::Kind::kMessage) {
        auto payload = backends.transcoder->Response(binding, item.bytes);
        std::string line = payload.ok() ? std::move(payload->body) : rest::ErrorBody(13, common::ToStd(payload.status().message()));
        line.push_back('\n');
        bytes += line.size();
        if (!(co_await send_head()) || !(co_await send(http::make_chunk(asio::buffer(line))))) {
          ok = false;
          call->ctx.TryCancel();
          break;
        }
        call->Next();
        continue;
      }
      // Done.
      grpc_code = static_cast<int>(item.status.error_code());
      if (!head_sent && !item.status.ok()) {
        // Nothing was sent yet: an ordinary error answer with its HTTP status.
        co_return co_await WriteReply(stream, GrpcError(item.status), version, keep, route, method, started);
      }
      if (!(co_await send_head())) { ok = false; break; }
      if (!item.status.ok()) {
        std::string line = rest::ErrorBody(grpc_code, item.status.error_message());
        line.push_back('\n');
        bytes += line.size();
        if (!(co_await send(http::make_chunk(asio::buffer(line))))) { ok = false; break; }
      }
      ok = co_await send(http::make_chunk_last());
      break;
    }
    Log(route, method, 200, grpc_code, started, bytes);
    // The reactor ends by itself once cancelled; its last item is dropped with the channel.
    co_return ok;
  }

  // ---- static files ----

  asio::awaitable<bool> WriteStatic(beast::tcp_stream& stream, const http::request<http::string_body>& req,
                                    const StaticFile& f, bool keep, absl::Time started) {
    const bool gzip = !f.gzip_body.empty() && req[http::field::accept_encoding].find("gzip") != std::string_view::npos;
    http::response<http::string_body> res{http::status::ok, req.version()};
    res.set(http::field::server, "outcall-rest-edge");
    res.set(http::field::content_type, f.content_type);
    res.set(http::field::cache_control, f.cache_control);
    res.set("x-content-type-options", "nosniff");
    res.set("referrer-policy", "no-referrer");
    res.set("x-frame-options", "DENY");
    res.set("content-security-policy",
            "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
            "style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'");
    if (!f.gzip_body.empty()) res.set(http::field::vary, "Accept-Encoding");
    if (gzip) res.set(http::field::content_encoding, "gzip");
    res.keep_alive(keep);
    if (req.method() == http::verb::head) {
      res.content_length((gzip ? f.gzip_body : f.body).size());
    } else {
      res.body() = gzip ? f.gzip_body : f.body;
      res.prepare_payload();
    }
    boost::system::error_code ec;
    stream.expires_after(Chrono(options.body_timeout));
    if (req.method() == http::verb::head) {
      http::response_serializer<http::string_body> sr{res};
      co_await http::async_write_header(stream, sr, asio::redirect_error(asio::use_awaitable, ec));
    } else {
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    }
    Log("console", req.method_string(), 200, -1, started, res.body().size());
    co_return !ec;
  }

  // ---- the webhook, passed on untouched ----

  template <typename Token>
  auto AsyncPost(common::HttpRequest request, Token&& token) {
    return asio::async_initiate<Token, void(absl::StatusOr<common::HttpResponse>)>(
        [this](auto handler, common::HttpRequest request) {
          auto ex = asio::get_associated_executor(handler);
          auto h = std::make_shared<decltype(handler)>(std::move(handler));
          upstream_calls.fetch_add(1);
          auto work = [this, ex, h, request = std::move(request)]() mutable {
            absl::StatusOr<common::HttpResponse> r = webhook_client.Send(request);
            asio::post(ex, [h, r = std::move(r)]() mutable { (*h)(std::move(r)); });
            upstream_calls.fetch_sub(1);
          };
          auto shared_work = std::make_shared<decltype(work)>(std::move(work));
          if (!webhook_pool->TrySubmit([shared_work] { (*shared_work)(); })) {
            asio::post(ex, [h]() mutable {
              (*h)(absl::StatusOr<common::HttpResponse>(absl::ResourceExhaustedError("webhook queue full")));
            });
            upstream_calls.fetch_sub(1);
          }
        },
        token, std::move(request));
  }

  asio::awaitable<Reply> ProxyWebhook(const http::request<http::string_body>& req) {
    common::HttpRequest out;
    out.method = std::string(req.method_string());
    out.url = common::Cat(backends.webhook_ingest_url, std::string(req.target()));
    out.body = req.body();
    out.timeout = absl::Seconds(60);
    for (const auto& f : req) {
      const std::string k = common::ToLower(f.name_string());
      if (HopHeader(k) && k != "content-type") continue;
      out.headers.emplace_back(k, std::string(f.value()));
    }
    absl::StatusOr<common::HttpResponse> r = co_await AsyncPost(std::move(out), asio::use_awaitable);
    if (!r.ok()) {
      const bool timeout = r.status().code() == absl::StatusCode::kDeadlineExceeded;
      Reply e;
      e.status = timeout ? 504 : 503;
      e.content_type = "text/plain";
      e.body = timeout ? "upstream request timeout" : "upstream connect error or disconnect/reset before headers";
      co_return e;
    }
    Reply ok;
    ok.status = static_cast<unsigned>(r->status);
    ok.content_type = std::string(r->Header("content-type"));
    ok.body = std::move(r->body);
    co_return ok;
  }
};

EdgeServer::EdgeServer(EdgeServerOptions options, EdgeBackends backends)
    : impl_(std::make_shared<Impl>(std::move(options), std::move(backends))) {}

EdgeServer::~EdgeServer() { Stop(absl::Now()); }

absl::Status EdgeServer::Start() {
  Impl& i = *impl_;
  auto acceptor = common::ListenTcp(*i.ioc, i.options.listen_address, "EDGE_LISTEN_ADDRESS");
  if (!acceptor.ok()) return acceptor.status();
  i.acceptor = *std::move(acceptor);
  port_ = i.acceptor->local_endpoint().port();
  const std::string host = i.acceptor->local_endpoint().address().to_string();
  asio::co_spawn(*i.ioc, i.Accept(), asio::detached);
  for (int t = 0; t < i.options.threads; ++t) {
    i.threads.emplace_back([ioc = i.ioc] { ioc->run(); });
  }
  spdlog::info("REST edge listening on http://{}:{}", host, port_);
  return absl::OkStatus();
}

void EdgeServer::Stop(absl::Time deadline) {
  Impl& i = *impl_;
  if (i.threads.empty()) return;
  i.stopping.store(true);
  asio::post(*i.ioc, [impl = impl_] {
    boost::system::error_code ec;
    if (impl->acceptor) impl->acceptor->close(ec);
  });
  {
    std::lock_guard lock(i.calls_mu);
    for (auto* ctx : i.streams) ctx->TryCancel();  // each ends with a last chunk
  }
  while (i.in_flight.load() > 0 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(20));
  {
    std::lock_guard lock(i.calls_mu);
    for (auto* ctx : i.calls) ctx->TryCancel();
    for (auto* ctx : i.streams) ctx->TryCancel();
  }
  // Every upstream callback posts to the io_context: it must still run when they do.
  const absl::Time hard = absl::Now() + absl::Seconds(5);
  while (i.upstream_calls.load() > 0 && absl::Now() < hard) absl::SleepFor(absl::Milliseconds(10));
  std::shared_ptr<asio::io_context> ioc = std::move(i.ioc);
  ioc->stop();
  for (auto& t : i.threads) t.join();
  i.threads.clear();
  // After the I/O threads: a session still proxying a webhook can no longer reach the pool. Its
  // last tasks post their answers into the stopped io_context, where they never run.
  i.webhook_pool.reset();
  i.acceptor.reset();
}

}  // namespace outcall::rest_edge
