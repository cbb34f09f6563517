// The simulator's HTTP/1.1 server (Boost.Beast, asynchronous, keep-alive): parses each request
// into an HttpRequest, asks the handler for a Reply, and honours its delay and drop flags.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "wire.h"

namespace outcall::sim {

class HttpServer {
 public:
  using Handler = std::function<Reply(HttpRequest&)>;

  HttpServer(Handler handler, int threads);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port (port 0 picks a free one) and starts serving; returns the bound port.
  absl::StatusOr<int> Listen(std::string_view host_port);
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace outcall::sim
