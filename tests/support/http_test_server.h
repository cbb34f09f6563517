// A small real HTTP/1.1 server on 127.0.0.1 (Boost.Beast, one thread, keep-alive) for tests of
// HTTP clients. Each request goes to a handler; the server counts connections and requests.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

namespace outcall::testing {

// A TCP port on 127.0.0.1 that nothing listened on a moment ago.
int FreeLoopbackPort();

struct TestHttpRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

struct TestHttpResponse {
  int status = 200;
  std::map<std::string, std::string> headers;
  std::string body;
  int delay_ms = 0;  // sleep before answering (timeouts)
};

class HttpTestServer {
 public:
  using Handler = std::function<TestHttpResponse(const TestHttpRequest&)>;
  explicit HttpTestServer(Handler handler);
  ~HttpTestServer();

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Handler handler_;
  int port_ = 0;
  std::atomic<int> connections_{0};
  std::atomic<int> requests_{0};
  std::thread thread_;
};

}  // namespace outcall::testing
