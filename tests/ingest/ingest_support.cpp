#include "ingest_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace outcall::ingest_testing {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

struct HttpsClient::Impl {
  asio::io_context ioc;
  ssl::context ctx{ssl::context::tls_client};
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream;
  beast::flat_buffer buffer;
  bool connected = false;

  HttpReply ReadReply() {
    HttpReply out;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    beast::error_code ec;
    beast::get_lowest_layer(*stream).expires_after(std::chrono::seconds(60));
    http::read(*stream, buffer, parser, ec);
    if (ec) return out;
    auto& res = parser.get();
    out.status = res.result_int();
    for (const auto& f : res) {
      std::string name(f.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      out.headers[name] = std::string(f.value());
    }
    out.body = res.body();
    return out;
  }
};

int OpenRawConnection(int port, const std::string& source) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in from{};
  from.sin_family = AF_INET;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, source.c_str(), &from.sin_addr) != 1 ||
      ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr) != 1 ||
      ::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

HttpsClient::HttpsClient(int port, const std::string& ca_file, const std::string& source)
    : impl_(std::make_unique<Impl>()) {
  beast::error_code ec;
  impl_->ctx.set_verify_mode(ssl::verify_peer);
  impl_->ctx.load_verify_file(ca_file, ec);
  if (ec) return;
  impl_->stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(impl_->ioc, impl_->ctx);
  impl_->stream->set_verify_callback(ssl::host_name_verification("127.0.0.1"));
  auto& tcp_stream = beast::get_lowest_layer(*impl_->stream);
  tcp_stream.expires_after(std::chrono::seconds(10));
  tcp_stream.socket().open(tcp::v4(), ec);
  if (ec) return;
  tcp_stream.socket().bind(tcp::endpoint(asio::ip::make_address(source), 0), ec);
  if (ec) return;
  tcp_stream.socket().connect(
      tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)), ec);
  if (ec) return;
  impl_->stream->handshake(ssl::stream_base::client, ec);
  impl_->connected = !ec;
}

HttpsClient::~HttpsClient() = default;
bool HttpsClient::connected() const { return impl_->connected; }

std::string HttpsClient::Protocol() const {
  if (!impl_->connected) return "";
  return SSL_get_version(impl_->stream->native_handle());
}

HttpReply HttpsClient::Request(const std::string& method, const std::string& target,
                               const std::map<std::string, std::string>& headers,
                               const std::string& body) {
  if (!impl_->connected) return {};
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();
  beast::error_code ec;
  beast::get_lowest_layer(*impl_->stream).expires_after(std::chrono::seconds(60));
  http::write(*impl_->stream, req, ec);
  // The server may answer (and close) before reading the whole body: still read its answer.
  return impl_->ReadReply();
}

HttpReply HttpsClient::PostChunked(const std::string& target,
                                   const std::map<std::string, std::string>& headers,
                                   const std::function<std::string()>& next) {
  if (!impl_->connected) return {};
  http::request<http::empty_body> req{http::verb::post, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.chunked(true);
  http::request_serializer<http::empty_body> sr{req};
  beast::error_code ec;
  auto& s = *impl_->stream;
  beast::get_lowest_layer(s).expires_after(std::chrono::seconds(120));
  http::write_header(s, sr, ec);
  if (ec) return impl_->ReadReply();
  while (true) {
    std::string piece = next();
    if (piece.empty()) break;
    asio::write(s, http::make_chunk(asio::buffer(piece)), ec);
    if (ec) return impl_->ReadReply();
  }
  asio::write(s, http::make_chunk_last(), ec);
  return impl_->ReadReply();
}

HttpReply HttpsClient::Raw(const std::string& bytes) {
  if (!impl_->connected) return {};
  beast::error_code ec;
  asio::write(*impl_->stream, asio::buffer(bytes), ec);
  return impl_->ReadReply();
}

grpc::Status RecordingSink::ApplyEvents(grpc::ServerContext* ctx, const v1::ApplyEventsRequest* req,
                                        v1::ApplyEventsResponse* resp) {
  calls_.fetch_add(1);
  if (fail_always.load()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "sink down");
  if (fail_remaining.load() > 0) {
    fail_remaining.fetch_sub(1);
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "sink failing");
  }
  std::lock_guard lock(mu_);
  auto auth = ctx->client_metadata().find("authorization");
  authorizations_.push_back(auth == ctx->client_metadata().end()
                                ? std::string()
                                : std::string(auth->second.data(), auth->second.size()));
  for (const auto& ev : req->events()) {
    events_.push_back(ev);
    auto* r = resp->add_results();
    r->set_inbox_id(ev.inbox_id());
    r->set_outcome(v1::APPLY_OUTCOME_APPLIED);
  }
  return grpc::Status::OK;
}

std::vector<v1::CallEvent> RecordingSink::events() {
  std::lock_guard lock(mu_);
  return events_;
}

std::vector<std::string> RecordingSink::authorizations() {
  std::lock_guard lock(mu_);
  return authorizations_;
}

SinkServer::SinkServer(RecordingSink* sink, int port) : sink_(sink), port_(port) { Start(); }
SinkServer::~SinkServer() { Stop(); }

void SinkServer::Start() {
  if (server_) return;
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port_), grpc::InsecureServerCredentials(),
                           &bound);
  builder.RegisterService(sink_);
  server_ = builder.BuildAndStart();
  if (port_ == 0) port_ = bound;
}

void SinkServer::Stop() {
  if (!server_) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
  server_.reset();
}

// ---------------------------------------------------------------------------------------------

struct TcpProxy::Impl {
  std::string host;
  int target_port;
  int port = 0;
  std::mutex mu;
  int listen_fd = -1;
  std::vector<int> fds;
  std::atomic<bool> stop{false};
  std::atomic<bool> cut{false};
  std::thread acceptor;
  std::vector<std::thread> pumps;

  int Listen(int want_port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(want_port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0) {
      ::close(fd);
      return -1;
    }
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    return fd;
  }

  static void Pump(int from, int to) {
    char buf[16384];
    while (true) {
      ssize_t n = ::read(from, buf, sizeof buf);
      if (n <= 0) break;
      ssize_t off = 0;
      while (off < n) {
        ssize_t w = ::write(to, buf + off, static_cast<size_t>(n - off));
        if (w <= 0) {
          off = -1;
          break;
        }
        off += w;
      }
      if (off < 0) break;
    }
    ::shutdown(from, SHUT_RDWR);
    ::shutdown(to, SHUT_RDWR);
  }

  void AcceptLoop() {
    while (!stop.load()) {
      int lfd;
      {
        std::lock_guard lock(mu);
        lfd = listen_fd;
      }
      if (lfd < 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      pollfd p{lfd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      int c = ::accept(lfd, nullptr, nullptr);
      if (c < 0) continue;
      int t = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(target_port));
      ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
      if (cut.load() || ::connect(t, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(c);
        ::close(t);
        continue;
      }
      std::lock_guard lock(mu);
      fds.push_back(c);
      fds.push_back(t);
      pumps.emplace_back(Pump, c, t);
      pumps.emplace_back(Pump, t, c);
    }
  }
};

TcpProxy::TcpProxy(std::string target_host, int target_port) : impl_(std::make_unique<Impl>()) {
  impl_->host = std::move(target_host);
  impl_->target_port = target_port;
  impl_->listen_fd = impl_->Listen(0);
  port_ = impl_->port;
  impl_->acceptor = std::thread([this] { impl_->AcceptLoop(); });
}

TcpProxy::~TcpProxy() {
  impl_->stop.store(true);
  Cut();
  impl_->acceptor.join();
  for (auto& t : impl_->pumps) t.join();
  for (int fd : impl_->fds) ::close(fd);
}

void TcpProxy::Cut() {
  std::lock_guard lock(impl_->mu);
  impl_->cut.store(true);
  if (impl_->listen_fd >= 0) {
    ::close(impl_->listen_fd);  // new connections are refused
    impl_->listen_fd = -1;
  }
  for (int fd : impl_->fds) ::shutdown(fd, SHUT_RDWR);
}

void TcpProxy::Restore() {
  std::lock_guard lock(impl_->mu);
  impl_->cut.store(false);
  if (impl_->listen_fd < 0) impl_->listen_fd = impl_->Listen(port_);
}

int64_t PeakRssBytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream s(line.substr(6));
      int64_t kb = 0;
      s >> kb;
      return kb * 1024;
    }
  }
  return -1;
}

bool ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

}  // namespace outcall::ingest_testing
