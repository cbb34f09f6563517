#include "http_server.h"

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <thread>
#include <vector>

#include "outcall/common/crypto.h"
#include "outcall/common/strings.h"

namespace outcall::sim {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kBodyLimit = 8 * 1024 * 1024;
constexpr size_t kHeaderLimit = 16 * 1024;
constexpr auto kIdleTimeout = std::chrono::seconds(60);

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HttpServer::Handler& handler)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), handler_(handler) {}

  void Start() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->Read(); });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(kBodyLimit);
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(kIdleTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec) {
      if (ec == http::error::body_limit) {
        Reply r = JsonReply(413, boost::json::object{{"detail", "Request body too large"}});
        keep_alive_ = false;
        Write(std::move(r));
        return;
      }
      Close();
      return;
    }
    const auto& req = parser_->get();
    HttpRequest in;
    in.method = std::string(req.method_string());
    in.target = std::string(req.target());
    const bool valid_target = ParseTarget(in.target, in.path, in.query);
    for (const auto& field : req) {
      in.headers[common::ToLower(field.name_string())] = std::string(field.value());
    }
    in.body = req.body();
    in.request_id = common::RandomHex(12);
    keep_alive_ = req.keep_alive();
    Reply reply = valid_target ? handler_(in)
                               : ElevenLabsError(400, "validation_error", "invalid_request_target",
                                                 "the request target is not a valid URL path and "
                                                 "query",
                                                 in.request_id, /*legacy=*/false, "");
    reply.headers.emplace_back("request-id", in.request_id);
    if (reply.delay > absl::ZeroDuration()) {
      timer_.expires_after(std::chrono::microseconds(absl::ToInt64Microseconds(reply.delay)));
      timer_.async_wait(
          [self = shared_from_this(), reply = std::move(reply)](beast::error_code ec) mutable {
            if (ec) return self->Close();
            self->Finish(std::move(reply));
          });
      return;
    }
    Finish(std::move(reply));
  }

  void Finish(Reply reply) {
    if (reply.drop_connection) {
      Close();
      return;
    }
    Write(std::move(reply));
  }

  void Write(Reply reply) {
    auto res = std::make_shared<http::response<http::string_body>>(
        static_cast<http::status>(reply.status), 11);
    res->set(http::field::server, "elevenlabs-sim");
    res->set(http::field::content_type, reply.content_type);
    for (const auto& [k, v] : reply.headers) res->set(k, v);
    res->body() = std::move(reply.body);
    res->keep_alive(keep_alive_);
    res->prepare_payload();
    stream_.expires_after(kIdleTimeout);
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, size_t) {
                        if (ec || !self->keep_alive_) return self->Close();
                        self->Read();
                      });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  const HttpServer::Handler& handler_;
  bool keep_alive_ = true;
};

}  // namespace

struct HttpServer::Impl {
  explicit Impl(Handler h, int n) : handler(std::move(h)), threads(n) {}
  Handler handler;
  int threads;
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::vector<std::thread> workers;
  std::atomic<bool> running{false};

  void Accept() {
    acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket s) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      } else {
        std::make_shared<Session>(std::move(s), handler)->Start();
      }
      Accept();
    });
  }
};

HttpServer::HttpServer(Handler handler, int threads)
    : impl_(std::make_unique<Impl>(std::move(handler), std::max(1, threads))) {}

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<int> HttpServer::Listen(std::string_view host_port) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string_view::npos) {
    return absl::InvalidArgumentError("listen address must be host:port");
  }
  int64_t port = -1;
  if (!common::ParseInt(host_port.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError("listen address has an invalid port");
  }
  beast::error_code ec;
  const auto address = asio::ip::make_address(std::string(host_port.substr(0, colon)), ec);
  if (ec) return absl::InvalidArgumentError("listen address has an invalid host");
  tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  impl_->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(common::Cat("cannot listen on ", host_port, ": ", ec.message()));
  }
  const int bound = impl_->acceptor.local_endpoint().port();
  impl_->Accept();
  impl_->running = true;
  for (int i = 0; i < impl_->threads; ++i) {
    impl_->workers.emplace_back([this] { impl_->io.run(); });
  }
  return bound;
}

void HttpServer::Stop() {
  if (!impl_ || !impl_->running.exchange(false)) return;
  asio::post(impl_->io, [this] {
    beast::error_code ignored;
    impl_->acceptor.close(ignored);
  });
  impl_->io.stop();
  for (auto& t : impl_->workers) t.join();
  impl_->workers.clear();
}

}  // namespace outcall::sim
