#include "outcall/common/http_client.h"

#include <curl/curl.h>

#include <memory>
#include <mutex>

#include "absl/strings/cord.h"
#include "outcall/common/strings.h"

namespace outcall::common {
namespace {

constexpr char kSentPayloadUrl[] = "type.outcall/request-may-have-been-sent";

struct CurlEasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

// One easy handle per thread keeps connections (and TLS sessions) alive between requests.
CURL* ThreadHandle() {
  static std::once_flag global_init;
  std::call_once(global_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  thread_local std::unique_ptr<CURL, CurlEasyDeleter> handle(curl_easy_init());
  if (handle) curl_easy_reset(handle.get());
  return handle.get();
}

struct Sink {
  std::string* body;
  HttpHeaders* headers;
  size_t limit;
  bool overflow = false;
};

// A declared Content-Length, or -1 (absent or unreadable).
int64_t ContentLength(std::string_view value) {
  value = Trim(value);
  if (value.empty() || value.size() > 18) return -1;
  int64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t len = size * n;
  if (sink->body->size() + len > sink->limit) {
    sink->overflow = true;
    return 0;  // aborts the transfer
  }
  sink->body->append(data, len);
  return len;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const size_t len = size * n;
  std::string_view line(data, len);
  if (line.starts_with("HTTP/")) {
    sink->headers->clear();  // a new response (after 100-continue or a redirect)
    return len;
  }
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    sink->headers->emplace_back(ToLower(Trim(line.substr(0, colon))),
                                std::string(Trim(line.substr(colon + 1))));
    if (sink->headers->back().first == "content-length") {
      // A body declared over the cap is refused before it is read; one within it is received
      // into a buffer of its size (no reallocations on a large body).
      const int64_t declared = ContentLength(sink->headers->back().second);
      if (declared > static_cast<int64_t>(sink->limit)) {
        sink->overflow = true;
        return 0;  // aborts the transfer
      }
      if (declared > 0) sink->body->reserve(static_cast<size_t>(declared));
    }
  }
  return len;
}

absl::Status WithSentFlag(absl::Status s, bool maybe_sent) {
  if (maybe_sent) s.SetPayload(kSentPayloadUrl, absl::Cord("1"));
  return s;
}

}  // namespace

std::string_view HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return {};
}

bool RequestMayHaveBeenSent(const absl::Status& status) {
  return status.GetPayload(kSentPayloadUrl).has_value();
}

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) {}

absl::StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request) const {
  if (!request.url.starts_with("http://") && !request.url.starts_with("https://")) {
    return absl::InvalidArgumentError("HTTP client: URL must be http:// or https://");
  }
  if (request.method.empty() ||
      request.method.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos) {
    return absl::InvalidArgumentError("HTTP client: invalid method");
  }
  CURL* curl = ThreadHandle();
  if (curl == nullptr) return absl::InternalError("HTTP client: curl_easy_init failed");

  HttpResponse response;
  const size_t limit =
      request.max_response_bytes > 0 ? request.max_response_bytes : options_.max_response_bytes;
  Sink sink{&response.body, &response.headers, limit};
  struct curl_slist* header_list = nullptr;
  for (const auto& [k, v] : request.headers) {
    header_list = curl_slist_append(header_list, Cat(k, ": ", v).c_str());
  }
  // No "Expect: 100-continue" round trip on POST bodies.
  header_list = curl_slist_append(header_list, "Expect:");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers_guard(header_list,
                                                                           &curl_slist_free_all);

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  if (request.method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  // libcurl silently re-sends a request whose reused keep-alive connection dies before any
  // response byte arrives. For a non-idempotent request that could place a second phone call,
  // so POST and PATCH always go out on a fresh connection (and fail instead of repeating).
  const bool idempotent =
      request.safe_to_repeat || (request.method != "POST" && request.method != "PATCH");
  curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, idempotent ? 0L : 1L);
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(request.timeout)));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(request.connect_timeout)));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);  // APIs do not redirect; never leak keys
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &sink);

  const CURLcode rc = curl_easy_perform(curl);
  long request_bytes = 0;
  curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &request_bytes);
  const bool maybe_sent = request_bytes > 0;
  if (rc != CURLE_OK) {
    if (sink.overflow) {
      return WithSentFlag(
          absl::ResourceExhaustedError(Cat("HTTP response larger than ", limit, " bytes")), true);
    }
    const std::string what = curl_easy_strerror(rc);
    switch (rc) {
      case CURLE_OPERATION_TIMEDOUT:
        return WithSentFlag(absl::DeadlineExceededError(Cat("HTTP request timed out: ", what)),
                            maybe_sent);
      case CURLE_URL_MALFORMAT:
      case CURLE_UNSUPPORTED_PROTOCOL:
        return absl::InvalidArgumentError(Cat("HTTP client: ", what));
      default:
        return WithSentFlag(absl::UnavailableError(Cat("HTTP request failed: ", what)),
                            maybe_sent);
    }
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

}  // namespace outcall::common
