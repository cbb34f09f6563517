// A blocking HTTP(S) client over libcurl for calls to ElevenLabs and Twilio: a deadline on every
// request, a cap on response size, connection reuse per thread, and errors that say whether the
// request may already have reached the server (so a non-idempotent POST is never blindly retried).
// Blocking: run it on a worker pool, never on a gRPC reactor or an Asio event loop.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace outcall::common {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  HttpHeaders headers;  // may hold credentials: never logged by this client
  std::string body;
  absl::Duration timeout = absl::Seconds(10);
  absl::Duration connect_timeout = absl::Seconds(3);
  // The cap on this response's body, instead of the client's (0: the client's). A declared
  // Content-Length over the cap ends the transfer before the body is read.
  size_t max_response_bytes = 0;
  // A POST or PATCH the receiver deduplicates (an outbound webhook, by its webhook-id) may reuse
  // a keep-alive connection, with libcurl's silent re-send when it died unused; other POSTs and
  // PATCHes always go out on a fresh connection.
  bool safe_to_repeat = false;
};

struct HttpResponse {
  long status = 0;
  HttpHeaders headers;  // names lower-cased
  std::string body;

  // The first header with this (lower-case) name, or "".
  std::string_view Header(std::string_view name) const;
};

struct HttpClientOptions {
  size_t max_response_bytes = 16 * 1024 * 1024;
  std::string user_agent = "outcall/0.1";
  std::string ca_file;  // trust these CAs instead of the system's (a local self-signed peer)
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options = {});

  // Any HTTP status is a response (the caller interprets 4xx/5xx). Transport failures:
  // DEADLINE_EXCEEDED (timeout), UNAVAILABLE (cannot connect, reset), RESOURCE_EXHAUSTED
  // (response over the cap), INVALID_ARGUMENT (bad URL or method). See RequestMayHaveBeenSent.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) const;

 private:
  HttpClientOptions options_;
};

// True when a failed Send may have delivered the request (the connection was established and
// bytes were written): the outcome is unknown and must be reconciled, not retried.
bool RequestMayHaveBeenSent(const absl::Status& status);

}  // namespace outcall::common
