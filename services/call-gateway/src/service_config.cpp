#include "service_config.h"

namespace outcall::call_gateway {

absl::StatusOr<ServiceConfig> LoadServiceConfig(common::EnvReader& env) {
  ServiceConfig c;
  c.common = common::ReadCommonConfig(env, {"0.0.0.0:50051", "0.0.0.0:9101"});
  c.elevenlabs = common::ReadElevenLabsConfig(env);
  if (auto s = env.Finish(); !s.ok()) return s;
  return c;
}

std::map<std::string, common::Permission> MethodPermissions() {
  using common::Permission;
  const std::string gw = "/outcall.v1.CallGateway/";
  return {
      {gw + "ListAgents", Permission::kReadCalls},
      {gw + "InitiateCall", Permission::kPlaceCalls},
      {gw + "CallPatient", Permission::kPlaceCalls},
      {gw + "GetConversation", Permission::kReadCalls},
      {gw + "EndCall", Permission::kPlaceCalls},
      {gw + "EraseConversation", Permission::kPlaceCalls},
      {gw + "WatchCallEvents", Permission::kReadCalls},
      {"/outcall.v1.CallEventSink/ApplyEvents", Permission::kPublishEvents},
  };
}

}  // namespace outcall::call_gateway
