// A route table: method and path pattern -> handler, matched in one place.
//
// A pattern is "/"-separated segments, each one of
//   literal        "convai"        the segment itself
//   {name}         "{agent_id}"    any one segment
//   {name}suffix   "{CallSid}.json" one segment ending in the suffix; the name gets the rest
//                                   (possibly empty)
//   {name...}      "{path...}"     last only: zero or more segments, joined with "/"
// Paths are split as the simulator always has: empty segments are skipped, so "//v1/convai/agents/"
// is "/v1/convai/agents".
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace outcall::sim {

// What a pattern's {names} matched.
class PathParams {
 public:
  void Set(std::string_view name, std::string value);
  // The value of {name}; "" when the route's pattern has no such parameter.
  std::string_view Get(std::string_view name) const;

 private:
  std::vector<std::pair<std::string, std::string>> values_;
};

std::vector<std::string_view> SplitPath(std::string_view path);

class PathPattern {
 public:
  explicit PathPattern(std::string_view pattern);  // an invalid pattern throws invalid_argument

  bool Match(const std::vector<std::string_view>& parts, PathParams& params) const;
  const std::string& text() const { return text_; }

 private:
  struct Segment {
    enum class Kind { kLiteral, kParam, kRest } kind = Kind::kLiteral;
    std::string name;     // kParam, kRest
    std::string literal;  // kLiteral: the segment; kParam: the suffix ("" for none)
  };
  std::string text_;
  std::vector<Segment> segments_;
};

// Methods a route accepts: "GET", "GET|DELETE", or "*" for any.
class MethodSet {
 public:
  explicit MethodSet(std::string_view methods);
  bool Contains(std::string_view method) const;

 private:
  std::vector<std::string> methods_;  // empty: any
};

template <typename Handler>
class RouteTable {
 public:
  struct Route {
    MethodSet methods;
    PathPattern pattern;
    Handler handler;
  };
  struct Match {
    const Route* route = nullptr;  // null: no route takes this method on this path
    bool path_known = false;       // when null: a route has the path, under other methods (405)
    PathParams params;
  };

  // Routes are tried in the order added; the first whose pattern and method match wins.
  RouteTable& Add(std::string_view methods, std::string_view pattern, Handler handler) {
    routes_.push_back(Route{MethodSet(methods), PathPattern(pattern), std::move(handler)});
    return *this;
  }

  Match Find(std::string_view method, std::string_view path) const {
    const std::vector<std::string_view> parts = SplitPath(path);
    Match match;
    for (const Route& route : routes_) {
      PathParams params;
      if (!route.pattern.Match(parts, params)) continue;
      if (!route.methods.Contains(method)) {
        match.path_known = true;
        continue;
      }
      match.route = &route;
      match.path_known = true;
      match.params = std::move(params);
      return match;
    }
    return match;
  }

 private:
  std::vector<Route> routes_;
};

}  // namespace outcall::sim
