// call-gateway's settings, as main reads them from the environment (service_config.h).
#pragma once

#include <cstddef>
#include <string>

#include "absl/time/time.h"
#include "outcall/common/clock.h"
#include "webhook_sender_options.h"

namespace outcall::call_gateway {

struct GatewayOptions {
  std::string default_agent_id;
  std::string agent_phone_number_id;
  int max_call_duration_secs = 600;
  std::string default_country_code = "57";
  absl::Duration agents_cache_ttl = absl::Seconds(60);
  int dialing_grace_secs = 30;  // a "dialing" call older than this is reconciled
  int open_grace_secs = 300;    // an open call this long past its maximum is fetched
  absl::Duration reconcile_every = absl::Seconds(30);
  int reconcile_batch = 100;  // calls per pass, least recently tried first
  // A call a pass could not settle waits reconcile_every, then twice that, ... up to this.
  absl::Duration reconcile_max_backoff = absl::Minutes(30);
  // Definite "not found" answers (404) after which an open call is failed with the reason, or a
  // call's recording is given up.
  int reconcile_max_not_found = 3;
  // SAVE_CALL_AUDIO: settled calls whose conversation has audio but whose post_call_audio
  // webhook did not bring it within audio_grace_secs get it from ElevenLabs' audio endpoint.
  bool save_call_audio = true;
  int audio_grace_secs = 300;
  int audio_batch = 10;                                // recordings per pass, one at a time
  absl::Duration audio_max_age = absl::Hours(24 * 7);  // a need this old is given up
  size_t audio_max_bytes = 64 << 20;
  absl::Duration audio_timeout = absl::Seconds(120);
  // The workers RPC handlers post their blocking work to (database, ElevenLabs), and how many
  // requests may wait for one before the next is refused with RESOURCE_EXHAUSTED.
  int workers = 16;
  int max_queued = 256;
  // Retention (retention_policies): a purge pass at most this often, this many calls per pass.
  absl::Duration retention_every = absl::Hours(1);
  int retention_batch = 500;
  // The campaign dispatcher (campaign_dispatcher.h): a tick this often; the ElevenLabs plan's
  // concurrent calls, of which campaigns leave `campaign_reserved_calls` to ad-hoc calls; a
  // claim's lease (a replica that dies holding it gives its attempts back after this).
  bool dispatcher = true;
  absl::Duration dispatch_every = absl::Seconds(1);
  int max_concurrent_calls = 10;
  int campaign_reserved_calls = 2;
  int dial_workers = 8;
  absl::Duration dispatch_lease = absl::Minutes(2);
  // Appointment automation: a pass over the enabled rules this often (with the dispatcher).
  absl::Duration automation_every = absl::Seconds(60);
  // The campaign feed's own PostgreSQL connection (LISTEN), for WatchCampaign's live updates;
  // "" = none (a watcher gets its first snapshot only).
  std::string feed_database_url;
  // Outbound webhooks' sender (webhook_sender.h); started by StartWebhookSender.
  WebhookSenderOptions webhooks;
  // The time the contact policy and the watch hub read (tests set their own).
  const common::Clock* clock = &common::Clock::Real();
};

}  // namespace outcall::call_gateway
