// A listening TCP socket for an HTTP endpoint ("host:port", port 0 for a free one), with errors
// that name the configuration variable. Part of outcall::asio (Boost.Asio's headers).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "absl/status/statusor.h"

namespace outcall::common {

absl::StatusOr<std::unique_ptr<boost::asio::ip::tcp::acceptor>> ListenTcp(
    boost::asio::io_context& ioc, const std::string& address, std::string_view variable);

}  // namespace outcall::common
