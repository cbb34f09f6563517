#include "cli_common.h"

#include <google/protobuf/message.h>
#include <google/protobuf/util/json_util.h>

#include <cstdlib>

namespace outcall::ops {

std::string ServiceAddress(Service service, const std::string& flag) {
  if (!flag.empty()) return flag;
  const bool stats = service == Service::kStats;
  const char* env = std::getenv(stats ? "STATS_ADDRESS" : "CALL_GATEWAY_ADDRESS");
  if (env != nullptr && *env != '\0') return env;
  return stats ? "127.0.0.1:50052" : "127.0.0.1:50051";
}

std::string MessageJson(const google::protobuf::Message& m, bool compact) {
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = !compact;
  o.always_print_primitive_fields = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  if (compact && !out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace outcall::ops
