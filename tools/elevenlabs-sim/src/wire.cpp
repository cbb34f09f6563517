#include "wire.h"

#include <boost/json.hpp>

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

namespace {
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

std::string PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%' && i + 2 < in.size()) {
      const int hi = HexValue(in[i + 1]), lo = HexValue(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += (plus_is_space && c == '+') ? ' ' : c;
  }
  return out;
}

void ParseTarget(std::string_view target, std::string& path,
                 std::vector<std::pair<std::string, std::string>>& query) {
  const size_t q = target.find('?');
  path = PercentDecode(target.substr(0, q), /*plus_is_space=*/false);
  query.clear();
  if (q == std::string_view::npos) return;
  for (std::string_view item : common::Split(target.substr(q + 1), '&')) {
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    std::string key = PercentDecode(item.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? std::string() : PercentDecode(item.substr(eq + 1), true);
    query.emplace_back(std::move(key), std::move(value));
  }
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
