#include "wire.h"

#include <boost/json.hpp>
#include <boost/url.hpp>

#include "outcall/common/strings.h"

namespace outcall::sim {

namespace json = boost::json;

std::string_view HttpRequest::Header(std::string_view lower_name) const {
  auto it = headers.find(std::string(lower_name));
  return it == headers.end() ? std::string_view() : std::string_view(it->second);
}

std::optional<std::string> HttpRequest::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return v;
  }
  return std::nullopt;
}

bool ParseTarget(std::string_view target, std::string& path,
                 std::vector<std::pair<std::string, std::string>>& query) {
  path.clear();
  query.clear();
  auto u = boost::urls::parse_origin_form(target);
  if (!u) return false;
  path = u->path();
  // Query strings (and form bodies) write a space as '+'.
  for (const auto& p : u->params(boost::urls::encoding_opts(/*space_as_plus=*/true))) {
    query.emplace_back(p.key, p.value);
  }
  return true;
}

Reply JsonReply(int status, const json::value& body) {
  Reply r;
  r.status = status;
  r.body = json::serialize(body);
  return r;
}

Reply ElevenLabsError(int status, std::string_view type, std::string_view code,
                      std::string_view message, std::string_view request_id, bool legacy,
                      std::string_view param) {
  json::object detail;
  if (legacy) {
    detail["status"] = code;
    detail["message"] = message;
  } else {
    detail["type"] = type;
    detail["code"] = code;
    detail["message"] = message;
    detail["status"] = code;  // legacy mirror of code, still sent
    detail["request_id"] = request_id;
    if (!param.empty()) detail["param"] = param;
  }
  return JsonReply(status, json::object{{"detail", std::move(detail)}});
}

Reply ValidationError(const std::vector<FieldProblem>& problems) {
  json::array detail;
  for (const auto& p : problems) {
    json::object item{{"type", p.type}, {"loc", p.loc}, {"msg", p.msg}, {"input", p.input}};
    if (!p.ctx.empty()) item["ctx"] = p.ctx;
    detail.push_back(std::move(item));
  }
  return JsonReply(422, json::object{{"detail", std::move(detail)}});
}

Reply TwilioError(int status, int code, std::string_view message) {
  return JsonReply(status,
                   json::object{{"code", code},
                                {"message", message},
                                {"more_info", common::Cat("https://www.twilio.com/docs/errors/",
                                                          std::to_string(code))},
                                {"status", status}});
}

}  // namespace outcall::sim
