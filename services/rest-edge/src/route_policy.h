// Where each public path goes and under which rules: the same route list as Envoy's
// deploy/envoy/envoy.yaml (names, matches, clusters, timeouts, the JWT rule), so the single-machine
// edge and the production edge route alike. tests/deploy's contract check compares this table
// (outcall-rest-edge --print-routes) with envoy.yaml on every binding of the descriptor set.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"

namespace outcall::rest_edge {

enum class Cluster { kCallGateway, kStats, kWebhookIngest, kNone };
std::string_view ClusterName(Cluster c);  // Envoy's cluster names: call_gateway, stats, ...

struct RouteRule {
  std::string name;  // Envoy's route name, e.g. rest.call
  enum class Match { kPath, kSeparatedPrefix, kRegexWatch } match;
  std::string value;
  Cluster cluster;
  absl::Duration timeout;  // zero: none (streams)
  bool transcoded = true;
};

// In Envoy's order: the first that matches wins.
const std::vector<RouteRule>& RouteTable();

// The rule for `path` (normalised), or null: the not_found route.
const RouteRule* FindRoute(std::string_view path);

// Paths under this prefix need a valid JWT (Envoy's jwt_authn rule); the webhook does not.
inline constexpr std::string_view kJwtPrefix = "/api/elevenlabs/";
inline constexpr std::string_view kWebhookPath = "/api/webhooks/elevenlabs";
inline constexpr std::string_view kNotFoundBody = R"({"success":false,"message":"not found"})";

// The gRPC code in the body of the edge's own answers, by HTTP status (Envoy's local_reply_config
// maps its local replies to the same body): {"code": <this>, "message", "details": []}.
int LocalReplyCode(unsigned http_status);
const std::vector<std::pair<unsigned, int>>& LocalReplyCodes();

}  // namespace outcall::rest_edge
