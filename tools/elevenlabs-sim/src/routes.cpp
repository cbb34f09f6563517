// The route table's matching, and every route the simulator answers: the ElevenLabs API, Twilio's
// call update, and the control endpoint (/__sim/...) with its own table.
#include "routes.h"

#include <boost/json.hpp>
#include <functional>
#include <stdexcept>

#include "outcall/common/strings.h"
#include "simulator.h"
#include "simulator_internal.h"

namespace outcall::sim {

namespace json = boost::json;

void PathParams::Set(std::string_view name, std::string value) {
  values_.emplace_back(std::string(name), std::move(value));
}

std::string_view PathParams::Get(std::string_view name) const {
  for (const auto& [key, value] : values_) {
    if (key == name) return value;
  }
  return {};
}

std::vector<std::string_view> SplitPath(std::string_view path) {
  return common::Split(path, '/', /*skip_empty=*/true);
}

PathPattern::PathPattern(std::string_view pattern) : text_(pattern) {
  const std::vector<std::string_view> parts = SplitPath(pattern);
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string_view part = parts[i];
    Segment s;
    if (!part.starts_with('{')) {
      if (part.find_first_of("{}") != std::string_view::npos) {
        throw std::invalid_argument(common::Cat("route pattern ", pattern, ": braces in ", part));
      }
      s.literal = std::string(part);
      segments_.push_back(std::move(s));
      continue;
    }
    const size_t close = part.find('}');
    if (close == std::string_view::npos || close == 1) {
      throw std::invalid_argument(common::Cat("route pattern ", pattern, ": bad parameter ", part));
    }
    std::string_view name = part.substr(1, close - 1);
    const std::string_view suffix = part.substr(close + 1);
    if (name.ends_with("...")) {
      if (i + 1 != parts.size() || !suffix.empty()) {
        throw std::invalid_argument(
            common::Cat("route pattern ", pattern, ": {name...} must be the whole last segment"));
      }
      name.remove_suffix(3);
      s.kind = Segment::Kind::kRest;
    } else {
      s.kind = Segment::Kind::kParam;
      s.literal = std::string(suffix);
    }
    s.name = std::string(name);
    segments_.push_back(std::move(s));
  }
}

bool PathPattern::Match(const std::vector<std::string_view>& parts, PathParams& params) const {
  size_t i = 0;
  for (const Segment& s : segments_) {
    if (s.kind == Segment::Kind::kRest) {
      std::string rest;
      for (; i < parts.size(); ++i) {
        if (!rest.empty()) rest += '/';
        rest += parts[i];
      }
      params.Set(s.name, std::move(rest));
      return true;
    }
    if (i == parts.size()) return false;
    const std::string_view part = parts[i++];
    if (s.kind == Segment::Kind::kLiteral) {
      if (part != s.literal) return false;
      continue;
    }
    if (!part.ends_with(s.literal)) return false;
    params.Set(s.name, std::string(part.substr(0, part.size() - s.literal.size())));
  }
  return i == parts.size();
}

MethodSet::MethodSet(std::string_view methods) {
  if (methods == "*") return;
  for (std::string_view m : common::Split(methods, '|')) methods_.emplace_back(m);
}

bool MethodSet::Contains(std::string_view method) const {
  if (methods_.empty()) return true;
  for (const auto& m : methods_) {
    if (m == method) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// The simulator's routes

namespace {

// Which API a route imitates decides what happens between matching and its handler.
enum class Surface {
  kElevenLabs,  // xi-api-key checked; counted in /__sim/counters "requests"
  kTwilio,      // counted; the handler checks Twilio's Basic auth
  kControl,     // neither
};

struct ApiRoute {
  Surface surface;
  std::function<Reply(Simulator&, HttpRequest&, const PathParams&)> call;
};

using ControlRoute = std::function<Reply(Simulator&, const json::object& body)>;

Reply NotFoundRoute() { return JsonReply(404, json::object{{"detail", "Not Found"}}); }
Reply MethodNotAllowed() { return JsonReply(405, json::object{{"detail", "Method Not Allowed"}}); }

}  // namespace

Reply Simulator::Handle(HttpRequest& req) {
  Reply reply = Route(req);
  if (req.path.starts_with("/v1/") && config_.extra_fields) {
    reply.headers.emplace_back("x-sim-note", "simulated ElevenLabs API");
  }
  return reply;
}

Reply Simulator::Route(HttpRequest& req) {
  static const RouteTable<ApiRoute> kRoutes = [] {
    const auto outbound = [](std::string_view provider) {
      return [provider](Simulator& sim, HttpRequest& req, const PathParams&) {
        return sim.OutboundCall(req, provider);
      };
    };
    constexpr Surface kEleven = Surface::kElevenLabs;
    RouteTable<ApiRoute> t;
    t.Add("GET", "/v1/convai/agents", {kEleven, &Simulator::ListAgents})
        .Add("GET", "/v1/convai/agents/{agent_id}", {kEleven, &Simulator::GetAgent})
        .Add("GET", "/v1/convai/phone-numbers", {kEleven, &Simulator::ListPhoneNumbers})
        .Add("POST", "/v1/convai/twilio/outbound-call", {kEleven, outbound("twilio")})
        .Add("POST", "/v1/convai/sip-trunk/outbound-call", {kEleven, outbound("sip_trunk")})
        .Add("GET", "/v1/convai/conversations", {kEleven, &Simulator::ListConversations})
        .Add("GET", "/v1/convai/conversations/{conversation_id}",
             {kEleven, &Simulator::GetConversation})
        .Add("DELETE", "/v1/convai/conversations/{conversation_id}",
             {kEleven, &Simulator::DeleteConversation})
        .Add("GET", "/v1/convai/conversations/{conversation_id}/audio",
             {kEleven, &Simulator::GetAudio})
        .Add("GET", "/v1/workspace/webhooks", {kEleven, &Simulator::WorkspaceWebhooks})
        .Add("GET|POST", "/2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json",
             {Surface::kTwilio, &Simulator::TwilioCall})
        .Add("*", "/__sim/{path...}", {Surface::kControl, &Simulator::Control});
    return t;
  }();

  // Matching first: an unknown path is FastAPI's 404 and a known one under another method 405,
  // both without looking at the API key.
  const auto match = kRoutes.Find(req.method, req.path);
  if (match.route == nullptr) return match.path_known ? MethodNotAllowed() : NotFoundRoute();
  const ApiRoute& route = match.route->handler;
  if (route.surface == Surface::kElevenLabs) {
    if (auto denied = CheckApiKey(req)) return *denied;
  }
  if (route.surface != Surface::kControl) {
    absl::MutexLock lock(&mu_);
    ++requests_by_route_[common::Cat(req.method, " ", match.route->pattern.text())];
  }
  return route.call(*this, req, match.params);
}

Reply Simulator::Control(HttpRequest& req, const PathParams& path) {
  // A wrong method is 405 on the endpoints that take several, the listing (404) on the others.
  static const RouteTable<ControlRoute> kRoutes = [] {
    const ControlRoute wrong_method = [](Simulator&, const json::object&) {
      return MethodNotAllowed();
    };
    RouteTable<ControlRoute> t;
    t.Add("GET", "/__sim/health", &Simulator::SimHealth)
        .Add("POST", "/__sim/reset", &Simulator::SimReset)
        .Add("GET", "/__sim/counters", &Simulator::SimCounters)
        .Add("GET", "/__sim/scenarios", &Simulator::SimScenarios)
        .Add("PUT|POST", "/__sim/scenarios", &Simulator::SimSetScenarios)
        .Add("*", "/__sim/scenarios", wrong_method)
        .Add("GET", "/__sim/faults", &Simulator::SimFaults)
        .Add("PUT|POST", "/__sim/faults", &Simulator::SimSetFaults)
        .Add("DELETE", "/__sim/faults", &Simulator::SimClearFaults)
        .Add("*", "/__sim/faults", wrong_method)
        .Add("GET", "/__sim/clock", &Simulator::SimClock)
        .Add("POST|PUT", "/__sim/clock", &Simulator::SimSetClock)
        .Add("*", "/__sim/clock", wrong_method)
        .Add("GET", "/__sim/settings", &Simulator::SimSettings)
        .Add("PATCH|PUT|POST", "/__sim/settings", &Simulator::SimSetSettings)
        .Add("*", "/__sim/settings", wrong_method)
        .Add("GET", "/__sim/webhooks", &Simulator::SimWebhooks);
    return t;
  }();

  const std::string& m = req.method;
  json::object body;
  if (m == "POST" || m == "PUT" || m == "PATCH") {
    std::string parse_error;
    body = req.body.empty() ? json::object() : ParseJsonObject(req.body, parse_error);
    if (!parse_error.empty()) {
      return JsonReply(
          400, json::object{{"error", common::Cat("body must be a JSON object: ", parse_error)}});
    }
  }
  // The first segment names the endpoint; anything after it is ignored.
  const std::string_view rest = path.Get("path");
  const auto match = kRoutes.Find(m, common::Cat("/__sim/", rest.substr(0, rest.find('/'))));
  if (match.route != nullptr) return match.route->handler(*this, body);
  return JsonReply(
      404, json::object{
               {"error", "unknown control endpoint"},
               {"endpoints", json::array{"GET /__sim/health", "GET /__sim/counters",
                                         "POST /__sim/reset", "GET|PUT /__sim/scenarios",
                                         "GET|PUT|DELETE /__sim/faults", "GET|POST /__sim/clock",
                                         "GET|PATCH /__sim/settings", "GET /__sim/webhooks"}}});
}

}  // namespace outcall::sim
