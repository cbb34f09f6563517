#include "outcall/common/tcp_listen.h"

#include "outcall/common/strings.h"

namespace outcall::common {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

absl::StatusOr<std::unique_ptr<tcp::acceptor>> ListenTcp(asio::io_context& ioc, const std::string& addr,
                                                         std::string_view variable) {
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos) return absl::InvalidArgumentError(Cat(variable, ": not host:port"));
  std::string host = addr.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  int64_t port = 0;
  if (!ParseInt(addr.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(Cat(variable, ": bad port"));
  }
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) return absl::InvalidArgumentError(Cat(variable, ": bad host"));
  tcp::endpoint ep(ip, static_cast<uint16_t>(port));
  auto acceptor = std::make_unique<tcp::acceptor>(ioc);
  acceptor->open(ep.protocol(), ec);
  if (!ec) acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor->bind(ep, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return absl::UnavailableError(Cat(variable, ": cannot listen on ", addr, ": ", ec.message()));
  return acceptor;
}

}  // namespace outcall::common
