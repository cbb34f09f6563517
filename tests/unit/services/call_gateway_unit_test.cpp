// call-gateway's rules that need neither a database nor a network: the hub that feeds
// WatchCallEvents (ordering, what is dropped, unsubscribing, the injected clock) and the agents
// cache of CallControl against a fake ElevenLabs API (the store is never reached).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "call_control.h"
#include "call_event_hub.h"
#include "call_gateway_fakes.h"
#include "metrics.h"
#include "outcall/common/clock.h"

namespace outcall::call_gateway {
namespace {

using fakes::FakeCallRepository;
using fakes::FakeElevenLabs;

TEST(CallEventHub, DeliversChangesInOrderStampedByItsClockAndDropsNonChanges) {
  common::ManualClock clock(absl::FromUnixSeconds(1800000000));
  CallEventHub hub(clock);
  std::vector<v1::CallUpdate> seen;
  const uint64_t id = hub.Subscribe([&](const v1::CallUpdate& u) { seen.push_back(u); });
  hub.Publish(StatusChange{"conv_1", "call-1", "initiated", "dialing", "outbound_call"});
  hub.Publish(StatusChange{"conv_1", "call-1", "initiated", "initiated", "reconciler"});  // none
  hub.Publish(StatusChange{"conv_1", "call-1", "", "initiated", "x"});                    // none
  clock.Advance(absl::Seconds(42));
  hub.Publish({StatusChange{"conv_1", "call-1", "in_progress", "initiated", "webhook"},
               StatusChange{"conv_1", "call-1", "completed", "in_progress", "webhook"}});
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].status(), "initiated");
  EXPECT_EQ(seen[0].previous_status(), "dialing");
  EXPECT_EQ(seen[0].cause(), "outbound_call");
  EXPECT_EQ(seen[0].at().seconds(), 1800000000);
  EXPECT_EQ(seen[1].status(), "in_progress");
  EXPECT_EQ(seen[2].status(), "completed");
  EXPECT_EQ(seen[2].at().seconds(), 1800000042);
  hub.Unsubscribe(id);
  EXPECT_EQ(hub.subscribers(), 0u);
  hub.Publish(StatusChange{"conv_2", "call-2", "initiated", "dialing", "outbound_call"});
  EXPECT_EQ(seen.size(), 3u) << "nothing after Unsubscribe";
}

TEST(CallEventHub, UnsubscribeWaitsForADeliveryInProgress) {
  CallEventHub hub;
  std::atomic<bool> delivering{false}, release{false}, unsubscribing{false};
  std::atomic<bool> delivering_after_unsubscribe{false};
  const uint64_t id = hub.Subscribe([&](const v1::CallUpdate&) {
    delivering = true;
    while (!release) std::this_thread::yield();
    delivering = false;
  });
  std::thread publisher([&] {
    hub.Publish(StatusChange{"conv_1", "call-1", "initiated", "dialing", "x"});
  });
  while (!delivering) std::this_thread::yield();
  std::thread unsubscriber([&] {
    unsubscribing = true;
    hub.Unsubscribe(id);
    // A subscriber still running here could touch a stream that is being freed.
    delivering_after_unsubscribe = delivering.load();
  });
  while (!unsubscribing) std::this_thread::yield();
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();  // let Unsubscribe get going
  release = true;
  publisher.join();
  unsubscriber.join();
  EXPECT_FALSE(delivering_after_unsubscribe.load());
}

class CallControlTest : public ::testing::Test {
 protected:
  FakeCallRepository store_;  // the agents cache never reaches it
  FakeElevenLabs api_;
  GatewayMetrics metrics_{nullptr};
  CallEventHub hub_;
  common::ManualClock clock_;
};

TEST_F(CallControlTest, AgentsAreCachedForTheirLifetimeThenFetchedAgain) {
  api_.agents = {{"agent_a", "Confirmaciones", {"es"}}, {"agent_b", "Recordatorios", {}}};
  CallControl control(absl::Seconds(60), store_, api_, metrics_, hub_, clock_);
  v1::ListAgentsResponse first;
  ASSERT_TRUE(control.ListAgents(&first).ok());
  EXPECT_TRUE(first.success());
  ASSERT_EQ(first.count(), 2);
  EXPECT_EQ(first.data(0).agent_id(), "agent_a");
  EXPECT_EQ(first.data(0).tags(0), "es");
  api_.agents.pop_back();
  clock_.Advance(absl::Seconds(59));
  v1::ListAgentsResponse cached;
  ASSERT_TRUE(control.ListAgents(&cached).ok());
  EXPECT_EQ(cached.count(), 2) << "served from the cache";
  EXPECT_EQ(api_.list_agents_calls.load(), 1);
  clock_.Advance(absl::Seconds(2));
  v1::ListAgentsResponse fresh;
  ASSERT_TRUE(control.ListAgents(&fresh).ok());
  EXPECT_EQ(fresh.count(), 1);
  EXPECT_EQ(api_.list_agents_calls.load(), 2);
}

TEST_F(CallControlTest, AProviderFailureIsReturnedAndNotCached) {
  api_.fail = absl::UnavailableError("ElevenLabs answered 503");
  CallControl control(absl::Seconds(60), store_, api_, metrics_, hub_, clock_);
  v1::ListAgentsResponse resp;
  const absl::Status s = control.ListAgents(&resp);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  api_.fail = absl::OkStatus();
  api_.agents = {{"agent_a", "Confirmaciones", {}}};
  ASSERT_TRUE(control.ListAgents(&resp).ok());
  EXPECT_EQ(resp.count(), 1);
  EXPECT_EQ(api_.list_agents_calls.load(), 2);
}

}  // namespace
}  // namespace outcall::call_gateway
