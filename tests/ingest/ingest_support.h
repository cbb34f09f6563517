// Test support for webhook-ingest: a self-signed certificate generated at test time (openssl
// CLI), a small HTTPS client (Beast, one connection per client, streaming bodies), a recording
// CallEventSink gRPC server with switchable failures, and a TCP proxy that can cut PostgreSQL off.
//
// RecordingSink is a CallEventSink over a real loopback gRPC socket whose failures the tests
// switch on and off; tests/e2e publishes to the real call-gateway (see tests/ingest/README.md).
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "outcall/v1/events.grpc.pb.h"
#include "test_tls.h"

namespace outcall::ingest_testing {

using testing::MakeSelfSignedCert;
using testing::TlsFiles;

struct HttpReply {
  int status = 0;  // 0: no answer (connection closed or failed)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

// One TLS connection to 127.0.0.1:port, verifying the server against `ca_file`.
class HttpsClient {
 public:
  // Connects from `source` (a loopback address such as 127.0.0.7: another client to the server)
  // and completes the TLS handshake.
  HttpsClient(int port, const std::string& ca_file, const std::string& source = "127.0.0.1");
  ~HttpsClient();
  bool connected() const;

  HttpReply Request(const std::string& method, const std::string& target,
                    const std::map<std::string, std::string>& headers, const std::string& body);
  // POSTs a body produced piece by piece with Transfer-Encoding: chunked (`next` returns "" at
  // the end): the client never holds the whole body.
  HttpReply PostChunked(const std::string& target,
                        const std::map<std::string, std::string>& headers,
                        const std::function<std::string()>& next);
  // Sends raw bytes over TLS and reads one response (malformed requests).
  HttpReply Raw(const std::string& bytes);
  // The TLS protocol negotiated ("TLSv1.3", ...).
  std::string Protocol() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A TCP connection from `source` to 127.0.0.1:port that never starts TLS (-1 on failure);
// the caller closes it.
int OpenRawConnection(int port, const std::string& source);

// A CallEventSink that records every event it acknowledges. While `fail_remaining` > 0 (or
// `fail_always`) it answers UNAVAILABLE and records nothing.
class RecordingSink final : public v1::CallEventSink::Service {
 public:
  grpc::Status ApplyEvents(grpc::ServerContext* ctx, const v1::ApplyEventsRequest* req,
                           v1::ApplyEventsResponse* resp) override;
  std::vector<v1::CallEvent> events();
  int calls() const { return calls_.load(); }
  std::vector<std::string> authorizations();
  std::atomic<int> fail_remaining{0};
  std::atomic<bool> fail_always{false};

 private:
  std::mutex mu_;
  std::vector<v1::CallEvent> events_;
  std::vector<std::string> authorizations_;
  std::atomic<int> calls_{0};
};

// Runs a RecordingSink on 127.0.0.1:port (0 = pick one); can be stopped and started again on the
// same port (call-gateway down, then back).
class SinkServer {
 public:
  explicit SinkServer(RecordingSink* sink, int port = 0);
  ~SinkServer();
  void Start();
  void Stop();
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  RecordingSink* sink_;
  int port_;
  std::unique_ptr<grpc::Server> server_;
};

// Forwards 127.0.0.1:<port()> to a target; Cut() closes every open connection and refuses new
// ones (the database "goes away"), Restore() accepts again.
class TcpProxy {
 public:
  TcpProxy(std::string target_host, int target_port);
  ~TcpProxy();
  int port() const { return port_; }
  void Cut();
  void Restore();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

// VmHWM of this process, in bytes.
int64_t PeakRssBytes();
// Resets the peak (writes 5 to /proc/self/clear_refs); false when not permitted.
bool ResetPeakRss();

}  // namespace outcall::ingest_testing
