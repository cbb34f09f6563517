// call-gateway: builds the object graph from the environment and serves until SIGTERM.
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>
#include <string>

#include "call_store.h"
#include "gateway_service.h"
#include "outcall/common/pg_pool.h"
#include "outcall/common/service_main.h"
#include "outcall/common/strings.h"
#include "outcall/elevenlabs/client.h"
#include "service_config.h"

namespace {

outcall::call_gateway::WebhookSenderOptions WebhookOptions(
    const outcall::call_gateway::WebhookConfig& w) {
  outcall::call_gateway::WebhookSenderOptions o;
  char host[256] = {};
  (void)gethostname(host, sizeof host - 1);
  o.owner = std::string("call-gateway@") + host + "/" + std::to_string(getpid());
  o.workers = w.workers;
  o.batch = w.batch;
  o.poll = absl::Milliseconds(w.poll_ms);
  o.timeout = absl::Milliseconds(w.timeout_ms);
  o.lease = absl::Seconds(w.lease_secs);
  o.retry_base = absl::Milliseconds(w.retry_base_ms);
  o.retry_max = absl::Seconds(w.retry_max_secs);
  o.retry_period = absl::Hours(w.retry_hours);
  o.disable = {.min_failures = w.disable_min_failures,
               .failing_for = absl::Seconds(w.disable_after_secs)};
  o.ca_file = w.ca_file;
  return o;
}

}  // namespace

int main() {
  using namespace outcall;
  common::ServiceMain svc("call-gateway");
  auto config = svc.Load(call_gateway::LoadServiceConfig);
  if (!config || !svc.Init(config->common, call_gateway::MethodPermissions())) return 2;
  const common::CommonConfig& cc = config->common;

  common::PgPool pool({.url = cc.database_url.Reveal(),
                       .size = cc.database_pool_size,
                       .application_name = "call-gateway"});
  if (auto lease = pool.Acquire(); !lease.ok()) {
    // Not fatal: the pool reconnects on demand, and health reports the service meanwhile.
    spdlog::warn("database not reachable at start: {}", common::ToStd(lease.status().message()));
  }

  const elevenlabs::ElevenLabsConfig& el = config->elevenlabs;
  call_gateway::CallStore store(pool, {.save_call_audio = el.save_call_audio});
  const call_gateway::ReconcilerConfig& rc = config->reconciler;
  elevenlabs::ElevenLabsClient elevenlabs(el);
  call_gateway::GatewayService service(
      {.default_agent_id = el.agent_id,
       .agent_phone_number_id = el.agent_phone_number_id,
       .max_call_duration_secs = el.max_call_duration_secs,
       .default_country_code = cc.default_country_code,
       .dialing_grace_secs = config->reconciler.dialing_grace_secs,
       .open_grace_secs = config->reconciler.open_grace_secs,
       .reconcile_every = absl::Seconds(config->reconciler.interval_secs),
       .reconcile_batch = config->reconciler.batch,
       .reconcile_max_backoff = absl::Seconds(config->reconciler.max_backoff_secs),
       .reconcile_max_not_found = config->reconciler.max_not_found,
       .save_call_audio = el.save_call_audio,
       .audio_grace_secs = rc.audio_grace_secs,
       .audio_batch = rc.audio_batch,
       .audio_max_age = absl::Seconds(rc.audio_max_age_secs),
       .audio_max_bytes = static_cast<size_t>(rc.audio_max_bytes),
       .audio_timeout = absl::Seconds(rc.audio_timeout_secs),
       // Two workers per database connection (a request waits on ElevenLabs part of the time),
       // a short queue beyond that, then RESOURCE_EXHAUSTED. 64 workers doubled the RSS under
       // load (a malloc arena per busy thread) for no throughput.
       .workers = std::max(8, 2 * cc.database_pool_size),
       .max_queued = std::max(8, 2 * cc.database_pool_size) * 16,
       .dispatcher = config->dispatcher.enabled,
       .dispatch_every = absl::Milliseconds(config->dispatcher.tick_ms),
       .max_concurrent_calls = config->dispatcher.max_concurrent_calls,
       .campaign_reserved_calls = config->dispatcher.reserved_calls,
       .dial_workers = config->dispatcher.dial_workers,
       .dispatch_lease = absl::Seconds(config->dispatcher.lease_secs),
       .automation_every = absl::Seconds(config->dispatcher.automation_secs),
       .feed_database_url = cc.database_url.Reveal(),
       .webhooks = WebhookOptions(config->webhooks)},
      store, elevenlabs, svc.authenticator(), &svc.server().metrics());
  svc.server().AddService(service.call_gateway());
  svc.server().AddService(service.event_sink());
  svc.server().AddService(service.campaigns());
  svc.server().AddService(service.clinic_sync());
  svc.server().AddService(service.webhooks());
  service.StartReconciler();
  if (config->dispatcher.enabled) {
    service.StartDispatcher();
    service.StartAutomation();
  }
  if (config->webhooks.enabled) service.StartWebhookSender();
  spdlog::info("call-gateway: SAVE_CALL_AUDIO={}, lost recordings fetched after {} s",
               el.save_call_audio, rc.audio_grace_secs);
  return svc.Serve();
}
