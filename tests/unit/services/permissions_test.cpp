// Every RPC a service serves has a permission in its table (a method missing from the table
// would be denied to everyone), and no table names a method that does not exist.
#include <gtest/gtest.h>

#include <google/protobuf/descriptor.h>

#include "outcall/v1/call_gateway.pb.h"
#include "outcall/v1/campaigns.pb.h"
#include "outcall/v1/events.pb.h"
#include "outcall/common/jwt.h"
#include "outcall/v1/stats.pb.h"
#include "outcall/v1/sync.pb.h"
#include "outcall/v1/webhooks.pb.h"

// Both services name their header service_config.h; declare just what this test needs.
namespace outcall {
namespace call_gateway {
std::map<std::string, common::Permission> MethodPermissions();
}
namespace stats {
std::map<std::string, common::Permission> MethodPermissions();
}
}  // namespace outcall

namespace outcall {
namespace {

namespace pb = google::protobuf;

std::set<std::string> Methods(std::initializer_list<const pb::ServiceDescriptor*> services) {
  std::set<std::string> out;
  for (const auto* s : services) {
    for (int i = 0; i < s->method_count(); ++i) {
      out.insert("/" + s->full_name() + "/" + s->method(i)->name());
    }
  }
  return out;
}

std::set<std::string> Keys(const std::map<std::string, common::Permission>& table) {
  std::set<std::string> out;
  for (const auto& [k, v] : table) out.insert(k);
  return out;
}

TEST(MethodPermissions, CallGatewayCoversExactlyItsRpcs) {
  const auto table = call_gateway::MethodPermissions();
  const auto* gateway = v1::InitiateCallRequest::descriptor()->file()->FindServiceByName(
      "CallGateway");
  const auto* sink = v1::CallEvent::descriptor()->file()->FindServiceByName("CallEventSink");
  ASSERT_NE(gateway, nullptr);
  const auto* campaigns =
      v1::Campaign::descriptor()->file()->FindServiceByName("Campaigns");
  ASSERT_NE(sink, nullptr);
  ASSERT_NE(campaigns, nullptr);
  const auto* sync = v1::SyncResponse::descriptor()->file()->FindServiceByName("ClinicSync");
  const auto* webhooks =
      v1::WebhookSubscription::descriptor()->file()->FindServiceByName("Webhooks");
  ASSERT_NE(sync, nullptr);
  ASSERT_NE(webhooks, nullptr);
  EXPECT_EQ(Keys(table), Methods({gateway, sink, campaigns, sync, webhooks}));
  // The clinic's systems: reads need sync:read, every change sync:write; webhooks are admin.
  for (int i = 0; i < sync->method_count(); ++i) {
    const std::string name = sync->method(i)->name();
    const bool reads = name.rfind("Get", 0) == 0 || name.rfind("List", 0) == 0;
    EXPECT_EQ(table.at("/outcall.v1.ClinicSync/" + name),
              reads ? common::Permission::kReadSync : common::Permission::kWriteSync)
        << name;
  }
  for (int i = 0; i < webhooks->method_count(); ++i) {
    EXPECT_EQ(table.at("/outcall.v1.Webhooks/" + webhooks->method(i)->name()),
              common::Permission::kAdminWebhooks);
  }
  // Campaigns dial by themselves: changing one needs campaigns:write; reading is calls:read.
  for (int i = 0; i < campaigns->method_count(); ++i) {
    const std::string name = campaigns->method(i)->name();
    const bool reads = name.rfind("Get", 0) == 0 || name.rfind("List", 0) == 0 ||
                       name.rfind("Watch", 0) == 0;
    EXPECT_EQ(table.at("/outcall.v1.Campaigns/" + name),
              reads ? common::Permission::kReadCalls : common::Permission::kWriteCampaigns)
        << name;
  }
  // Placing, ending and erasing calls need the write permission; reading never does.
  EXPECT_EQ(table.at("/outcall.v1.CallGateway/InitiateCall"), common::Permission::kPlaceCalls);
  EXPECT_EQ(table.at("/outcall.v1.CallGateway/EndCall"), common::Permission::kPlaceCalls);
  EXPECT_EQ(table.at("/outcall.v1.CallGateway/EraseConversation"), common::Permission::kPlaceCalls);
  EXPECT_EQ(table.at("/outcall.v1.CallGateway/GetConversation"), common::Permission::kReadCalls);
  EXPECT_EQ(table.at("/outcall.v1.CallEventSink/ApplyEvents"), common::Permission::kPublishEvents);
}

TEST(MethodPermissions, StatsIsReadOnly) {
  const auto table = stats::MethodPermissions();
  const auto* stats = v1::ListCallsRequest::descriptor()->file()->FindServiceByName("Stats");
  ASSERT_NE(stats, nullptr);
  EXPECT_EQ(Keys(table), Methods({stats}));
  for (const auto& [method, permission] : table) {
    EXPECT_EQ(permission, common::Permission::kReadCalls) << method;
  }
}

}  // namespace
}  // namespace outcall
