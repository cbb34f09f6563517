#include "gateway_service.h"

#include <spdlog/spdlog.h>

#include <memory>
#include <random>

#include "automation.h"
#include "automation_store.h"
#include "call_control.h"
#include "call_placer.h"
#include "campaign_dispatcher.h"
#include "campaign_feed.h"
#include "campaign_store.h"
#include "campaigns.h"
#include "contact_ledger.h"
#include "contact_policy.h"
#include "data_requests.h"
#include "event_applier.h"
#include "grpc_handlers.h"
#include "integration_handlers.h"
#include "metrics.h"
#include "outcall/common/blocking_executor.h"
#include "outcall/common/crypto.h"
#include "outcall/common/logging.h"
#include "outcall/common/periodic.h"
#include "outcall/common/strings.h"
#include "reconciler.h"
#include "sync_store.h"
#include "webhook_sender.h"
#include "webhook_store.h"

namespace outcall::call_gateway {

// Declared in dependency order: destroyed in reverse (handlers and the executor's workers
// first, then what they use).
struct GatewayService::Parts {
  Parts(GatewayOptions o, CallStore& store, const elevenlabs::ElevenLabsApi& api,
        const common::CallAuthenticator& auth, prometheus::Registry* registry)
      : metrics(registry),
        hub(*o.clock),
        policy(store),
        placer({.default_agent_id = o.default_agent_id,
                .agent_phone_number_id = o.agent_phone_number_id,
                .max_call_duration_secs = o.max_call_duration_secs,
                .default_country_code = o.default_country_code},
               store, api, policy, *o.clock, metrics, hub),
        control(o.agents_cache_ttl, store, api, metrics, hub),
        ledger(store, store, *o.clock, o.default_country_code),
        data_requests(store, store, api, metrics, *o.clock, o.default_country_code),
        applier(store, metrics, hub),
        reconciler(o, store, api, placer, data_requests, metrics, hub),
        campaign_store(store.pool()),
        campaigns({.default_agent_id = o.default_agent_id,
                   .default_country_code = o.default_country_code},
                  campaign_store, store,
                  [this](const std::string& agent) -> absl::StatusOr<bool> {
                    v1::ListAgentsResponse agents;
                    if (auto s = control.ListAgents(&agents); !s.ok()) return s;
                    for (const auto& a : agents.data())
                      if (a.agent_id() == agent) return true;
                    return false;
                  },
                  *o.clock),
        automation_store(store.pool()),
        automation(automation_store, campaigns, *o.clock),
        automation_every(o.automation_every),
        feed({.database_url = o.feed_database_url}, campaigns, hub, *o.clock),
        dispatcher({.limits = {.max_concurrent_calls = o.max_concurrent_calls,
                               .reserved_calls = o.campaign_reserved_calls,
                               .lease = o.dispatch_lease,
                               .burst = o.dispatch_every},
                    .tick = o.dispatch_every,
                    .dial_workers = o.dial_workers},
                   campaign_store, placer, policy, *o.clock, metrics),
        sync_store(store.pool()),
        sync({.default_country_code = o.default_country_code}, sync_store, *o.clock),
        webhook_store(store.pool()),
        webhooks(webhook_store, *o.clock, [](size_t n) { return common::RandomBytes(n); }),
        sender(o.webhooks, webhook_store, *o.clock, UnitRandom(), metrics),
        executor(o.workers, o.max_queued),
        gateway(auth, executor, placer, control, ledger, data_requests, hub),
        sink(auth, executor, applier),
        campaign_handlers(auth, executor, campaigns, automation, hub),
        sync_handlers(auth, executor, sync),
        webhook_handlers(auth, executor, webhooks),
        store(store) {}

  // Uniform in [0, 1) from a generator seeded by the OS: the webhook retries' jitter.
  static std::function<double()> UnitRandom() {
    auto gen = std::make_shared<std::mt19937_64>(std::random_device{}());
    auto mu = std::make_shared<absl::Mutex>();
    return [gen, mu] {
      absl::MutexLock lock(mu.get());
      return std::uniform_real_distribution<double>(0.0, 1.0)(*gen);
    };
  }

  GatewayMetrics metrics;
  CallEventHub hub;
  ContactPolicy policy;
  CallPlacer placer;
  CallControl control;
  ContactLedger ledger;
  DataRequests data_requests;
  EventApplier applier;
  Reconciler reconciler;
  CampaignStore campaign_store;
  Campaigns campaigns;
  AutomationStore automation_store;
  Automation automation;
  absl::Duration automation_every;
  CampaignFeed feed;
  CampaignDispatcher dispatcher;
  SyncStore sync_store;
  ClinicSync sync;
  WebhookStore webhook_store;
  OutboundWebhooks webhooks;
  WebhookSender sender;
  common::BlockingExecutor executor;
  CallGatewayHandlers gateway;
  CallEventSinkHandlers sink;
  CampaignsHandlers campaign_handlers;
  ClinicSyncHandlers sync_handlers;
  WebhooksHandlers webhook_handlers;
  CallStore& store;
  common::PeriodicThread fold_loop;  // the rollups' history folded, hourly
};

GatewayService::GatewayService(GatewayOptions options, CallStore& store,
                               const elevenlabs::ElevenLabsApi& api,
                               const common::CallAuthenticator& auth,
                               prometheus::Registry* registry)
    : parts_(std::make_unique<Parts>(std::move(options), store, api, auth, registry)) {
  // The built-in profile in the database, so every decision's profile can be read back there.
  // Not fatal: decisions name it either way, and the next start tries again.
  parts_->feed.Start();  // WatchCampaign's live part (no-op without feed_database_url)
  if (auto s = parts_->policy.RegisterDefaultProfile(); !s.ok()) {
    spdlog::warn("built-in contact-policy profile not stored: {}", common::ToStd(s.message()));
  }
}

GatewayService::~GatewayService() {
  StopWebhookSender();
  parts_->feed.Stop();
  StopAutomation();
  StopDispatcher();
  StopReconciler();
}

grpc::Service* GatewayService::call_gateway() { return &parts_->gateway; }
grpc::Service* GatewayService::event_sink() { return &parts_->sink; }
grpc::Service* GatewayService::campaigns() { return &parts_->campaign_handlers; }
grpc::Service* GatewayService::clinic_sync() { return &parts_->sync_handlers; }
grpc::Service* GatewayService::webhooks() { return &parts_->webhook_handlers; }
absl::StatusOr<int> GatewayService::SendWebhooksOnce() { return parts_->sender.RunOnce(); }
void GatewayService::StartWebhookSender() { parts_->sender.Start(); }
void GatewayService::StopWebhookSender() { parts_->sender.Stop(); }
absl::Status GatewayService::DispatchOnce() { return parts_->dispatcher.Tick(); }
void GatewayService::WaitForDials() { parts_->dispatcher.WaitIdle(); }
void GatewayService::StartDispatcher() { parts_->dispatcher.Start(); }
void GatewayService::StopDispatcher() { parts_->dispatcher.Stop(); }
absl::Status GatewayService::AutomateOnce() { return parts_->automation.RunOnce(); }
void GatewayService::StartAutomation() { parts_->automation.Start(parts_->automation_every); }
void GatewayService::StopAutomation() { parts_->automation.Stop(); }
absl::Status GatewayService::ReconcileOnce() { return parts_->reconciler.RunOnce(); }
void GatewayService::StartReconciler() {
  parts_->reconciler.Start();
  // Today's rollup rows are striped for concurrent writers; history is folded back to one row per
  // group so that statistics over months stay cheap (migration 0022).
  parts_->fold_loop.Start(absl::Hours(1), [this] {
    auto folded = parts_->store.FoldRollups();
    if (!folded.ok()) {
      spdlog::warn("rollup fold failed (retried next hour): {}", common::ToStd(folded.status().message()));
    } else if (*folded > 0) {
      spdlog::info("rollups: {} striped row(s) of past days folded", *folded);
    }
  });
}
void GatewayService::StopReconciler() {
  parts_->fold_loop.Stop();
  parts_->reconciler.Stop();
}

}  // namespace outcall::call_gateway
