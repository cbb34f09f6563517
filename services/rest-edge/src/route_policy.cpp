#include "route_policy.h"

namespace outcall::rest_edge {

std::string_view ClusterName(Cluster c) {
  switch (c) {
    case Cluster::kCallGateway: return "call_gateway";
    case Cluster::kStats: return "stats";
    case Cluster::kWebhookIngest: return "webhook_ingest";
    case Cluster::kNone: break;
  }
  return "";
}

const std::vector<RouteRule>& RouteTable() {
  using M = RouteRule::Match;
  static const std::vector<RouteRule> table = {
      {"webhook.elevenlabs", M::kPath, std::string(kWebhookPath), Cluster::kWebhookIngest, absl::Seconds(60), false},
      {"rest.agents", M::kSeparatedPrefix, "/api/elevenlabs/agents", Cluster::kCallGateway, absl::Seconds(30)},
      {"rest.call", M::kPath, "/api/elevenlabs/call", Cluster::kCallGateway, absl::Seconds(30)},
      {"rest.call-patient", M::kSeparatedPrefix, "/api/elevenlabs/call-patient", Cluster::kCallGateway, absl::Seconds(30)},
      {"rest.call-events", M::kPath, "/api/elevenlabs/call-events", Cluster::kCallGateway, absl::ZeroDuration()},
      {"rest.conversation", M::kSeparatedPrefix, "/api/elevenlabs/conversation", Cluster::kCallGateway, absl::Seconds(30)},
      {"rest.contact-policy", M::kSeparatedPrefix, "/api/elevenlabs/contact-policy", Cluster::kCallGateway, absl::Seconds(30)},
      {"rest.patients", M::kSeparatedPrefix, "/api/elevenlabs/patients", Cluster::kCallGateway, absl::Seconds(30)},
      {"rest.contacts", M::kPath, "/api/elevenlabs/contacts", Cluster::kCallGateway, absl::Seconds(30)},
      {"rest.data-requests", M::kSeparatedPrefix, "/api/elevenlabs/data-requests", Cluster::kCallGateway, absl::Seconds(30)},
      {"rest.campaign-watch", M::kRegexWatch, "/api/elevenlabs/campaigns", Cluster::kCallGateway, absl::ZeroDuration()},
      {"rest.campaigns", M::kSeparatedPrefix, "/api/elevenlabs/campaigns", Cluster::kCallGateway, absl::Seconds(60)},
      {"rest.campaign-reviews", M::kSeparatedPrefix, "/api/elevenlabs/campaign-reviews", Cluster::kCallGateway, absl::Seconds(30)},
      {"rest.automation-rules", M::kSeparatedPrefix, "/api/elevenlabs/automation-rules", Cluster::kCallGateway, absl::Seconds(30)},
      {"rest.sync", M::kSeparatedPrefix, "/api/elevenlabs/sync", Cluster::kCallGateway, absl::Seconds(60)},
      {"rest.webhook-subscriptions", M::kSeparatedPrefix, "/api/elevenlabs/webhook-subscriptions", Cluster::kCallGateway, absl::Seconds(30)},
      {"rest.webhook-events", M::kSeparatedPrefix, "/api/elevenlabs/webhook-events", Cluster::kCallGateway, absl::Seconds(30)},
      {"rest.calls", M::kSeparatedPrefix, "/api/elevenlabs/calls", Cluster::kStats, absl::Seconds(30)},
      {"rest.stats", M::kSeparatedPrefix, "/api/elevenlabs/stats", Cluster::kStats, absl::Seconds(30)},
      {"rest.errors", M::kSeparatedPrefix, "/api/elevenlabs/errors", Cluster::kStats, absl::Seconds(30)},
  };
  return table;
}

namespace {
bool Matches(const RouteRule& r, std::string_view path) {
  switch (r.match) {
    case RouteRule::Match::kPath:
      return path == r.value;
    case RouteRule::Match::kSeparatedPrefix:
      return path == r.value || (path.size() > r.value.size() && path.starts_with(r.value) &&
                                 path[r.value.size()] == '/');
    case RouteRule::Match::kRegexWatch: {
      // ^<value>/[^/]+/watch$ (Envoy: safe_regex)
      if (!path.starts_with(r.value) || path.size() <= r.value.size() || path[r.value.size()] != '/') return false;
      std::string_view rest = path.substr(r.value.size() + 1);
      const size_t slash = rest.find('/');
      return slash != std::string_view::npos && slash > 0 && rest.substr(slash) == "/watch";
    }
  }
  return false;
}
}  // namespace

const RouteRule* FindRoute(std::string_view path) {
  for (const auto& r : RouteTable()) {
    if (Matches(r, path)) return &r;
  }
  return nullptr;
}

const std::vector<std::pair<unsigned, int>>& LocalReplyCodes() {
  static const std::vector<std::pair<unsigned, int>> codes = {
      {400, 3},   // INVALID_ARGUMENT: bad JSON, unknown field, bad parameter
      {401, 16},  // UNAUTHENTICATED: JWT missing or not valid
      {403, 7},   // PERMISSION_DENIED
      {404, 5},   // NOT_FOUND: no method for the path
      {413, 8},   // RESOURCE_EXHAUSTED: body over the limit
      {431, 8},   // RESOURCE_EXHAUSTED: headers over the limit
      {503, 14},  // UNAVAILABLE: no upstream
      {504, 4},   // DEADLINE_EXCEEDED
  };
  return codes;
}

int LocalReplyCode(unsigned http_status) {
  for (const auto& [status, code] : LocalReplyCodes()) {
    if (status == http_status) return code;
  }
  return 2;  // UNKNOWN
}

}  // namespace outcall::rest_edge
