#include "http_test_server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sys/socket.h>

#include <chrono>

namespace outcall::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

int FreeLoopbackPort() {
  asio::io_context io;
  tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return probe.local_endpoint().port();
}

struct HttpTestServer::Impl {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::atomic<bool> stopping{false};
  std::atomic<int> current_fd{-1};  // the connection being served, so the destructor can end it
};

HttpTestServer::HttpTestServer(Handler handler)
    : impl_(std::make_unique<Impl>()), handler_(std::move(handler)) {
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  impl_->acceptor.open(ep.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(ep);
  impl_->acceptor.listen();
  port_ = impl_->acceptor.local_endpoint().port();
  thread_ = std::thread([this] {
    // One connection at a time is enough for the client tests.
    while (!impl_->stopping) {
      boost::system::error_code ec;
      tcp::socket socket(impl_->io);
      impl_->acceptor.accept(socket, ec);
      if (ec || impl_->stopping) break;
      ++connections_;
      impl_->current_fd = socket.native_handle();
      if (impl_->stopping) break;
      beast::flat_buffer buffer;
      while (true) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(64 * 1024 * 1024);
        http::read(socket, buffer, parser, ec);
        if (ec) break;
        ++requests_;
        const auto& req = parser.get();
        TestHttpRequest r;
        r.method = std::string(req.method_string());
        r.target = std::string(req.target());
        for (const auto& f : req) {
          std::string name(f.name_string());
          for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          r.headers[name] = std::string(f.value());
        }
        r.body = req.body();
        TestHttpResponse out = handler_(r);
        if (out.delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(out.delay_ms));
        http::response<http::string_body> res{static_cast<http::status>(out.status), 11};
        for (const auto& [k, v] : out.headers) res.set(k, v);
        res.body() = out.body;
        // A handler's "connection: close" ends the connection after this answer.
        const bool keep = req.keep_alive() && out.headers.count("connection") == 0;
        res.keep_alive(keep);
        res.prepare_payload();
        http::write(socket, res, ec);
        if (ec || !keep) break;
      }
      impl_->current_fd = -1;
      socket.shutdown(tcp::socket::shutdown_both, ec);
    }
  });
}

HttpTestServer::~HttpTestServer() {
  impl_->stopping = true;
  // A keep-alive client may hold the connection open: end it so the blocked read returns.
  if (const int fd = impl_->current_fd.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
  boost::system::error_code ec;
  // Wake a blocking accept with a throwaway connection.
  tcp::socket poke(impl_->io);
  poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port_)),
               ec);
  impl_->acceptor.close(ec);
  if (thread_.joinable()) thread_.join();
}

}  // namespace outcall::testing
