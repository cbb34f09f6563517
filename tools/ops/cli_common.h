// What the operator tools that speak gRPC share (outcall-cli, outcall, outcall-campaign-import):
// where each service is and how a response is printed as JSON.
#pragma once

#include <string>

namespace google::protobuf {
class Message;
}

namespace outcall::ops {

enum class Service { kCallGateway, kStats };  // CallGateway and Campaigns; Stats

// `flag` (an --address given) when not empty; else CALL_GATEWAY_ADDRESS or STATS_ADDRESS (what
// scripts/up.sh exports); else 127.0.0.1:50051 or 127.0.0.1:50052, as scripts/up.sh starts them.
std::string ServiceAddress(Service service, const std::string& flag = "");

// protobuf's JSON printer: json_name spellings, primitive fields always printed (zeros, false,
// ""), two-space indented unless `compact` (then one line, for streams printed as JSON lines).
std::string MessageJson(const google::protobuf::Message& m, bool compact = false);

}  // namespace outcall::ops
