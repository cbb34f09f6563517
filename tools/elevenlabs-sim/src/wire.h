// What goes over the wire: HTTP requests and replies as the simulator sees them, and the error
// bodies of ElevenLabs (current and legacy shapes, FastAPI's 422) and of Twilio.
#pragma once

#include <boost/json/value.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "outcall/common/crypto.h"

namespace outcall::sim {

using common::Base64Encode;

struct HttpRequest {
  std::string method;
  std::string target;                                      // as received
  std::string path;                                        // percent-decoded, without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::map<std::string, std::string> headers;              // lower-case names
  std::string body;
  std::string request_id;  // generated per request, echoed in "request-id"

  std::string_view Header(std::string_view lower_name) const;
  std::optional<std::string> Query(std::string_view name) const;
};

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  absl::Duration delay = absl::ZeroDuration();  // wait this long (real time) before answering
  bool drop_connection = false;  // close the connection without answering (a lost response)
};

// Splits a request target (origin form: "/path?query") into its decoded path and query
// parameters ('+' in the query is a space); false when it is not a valid target (a bad
// percent-escape, a character a target may not hold).
bool ParseTarget(std::string_view target, std::string& path,
                 std::vector<std::pair<std::string, std::string>>& query);

Reply JsonReply(int status, const boost::json::value& body);

// {"detail": {"type", "code", "status", "message", "request_id", "param"}} (current shape), or
// {"detail": {"status", "message"}} (legacy shape).
Reply ElevenLabsError(int status, std::string_view type, std::string_view code,
                      std::string_view message, std::string_view request_id, bool legacy = false,
                      std::string_view param = {});

// One FastAPI/pydantic validation problem.
struct FieldProblem {
  boost::json::array loc;  // e.g. ["body", "to_number"]
  std::string type;        // e.g. "missing"
  std::string msg;         // e.g. "Field required"
  boost::json::value input;
  boost::json::object ctx;
};
Reply ValidationError(const std::vector<FieldProblem>& problems);

// Twilio's REST error body: {"code", "message", "more_info", "status"}.
Reply TwilioError(int status, int code, std::string_view message);

}  // namespace outcall::sim
