#include "service_config.h"

namespace outcall::call_gateway {

absl::StatusOr<ServiceConfig> LoadServiceConfig(common::EnvReader& env) {
  ServiceConfig c;
  c.common = common::ReadCommonConfig(env, {"0.0.0.0:50051", "0.0.0.0:9101"});
  c.elevenlabs = elevenlabs::ReadElevenLabsConfig(env);
  ReconcilerConfig& r = c.reconciler;
  r.interval_secs = static_cast<int>(env.Int("RECONCILE_INTERVAL_SECS", 30, 1, 3600));
  r.dialing_grace_secs = static_cast<int>(env.Int("RECONCILE_DIALING_GRACE_SECS", 30, 5, 3600));
  r.open_grace_secs = static_cast<int>(env.Int("RECONCILE_OPEN_GRACE_SECS", 300, 0, 86400));
  r.batch = static_cast<int>(env.Int("RECONCILE_BATCH", 100, 1, 10000));
  r.max_backoff_secs = static_cast<int>(env.Int("RECONCILE_MAX_BACKOFF_SECS", 1800, 1, 86400));
  r.max_not_found = static_cast<int>(env.Int("RECONCILE_MAX_NOT_FOUND", 3, 1, 100));
  r.audio_grace_secs = static_cast<int>(env.Int("RECONCILE_AUDIO_GRACE_SECS", 300, 0, 86400));
  r.audio_batch = static_cast<int>(env.Int("RECONCILE_AUDIO_BATCH", 10, 1, 1000));
  r.audio_max_age_secs =
      static_cast<int>(env.Int("RECONCILE_AUDIO_MAX_AGE_SECS", 604800, 3600, 2592000));
  r.audio_max_bytes = env.Int("RECONCILE_AUDIO_MAX_BYTES", 64 << 20, 1 << 20, 256 << 20);
  r.audio_timeout_secs = static_cast<int>(env.Int("RECONCILE_AUDIO_TIMEOUT_SECS", 120, 1, 600));
  DispatcherConfig& d = c.dispatcher;
  d.enabled = env.Bool("CAMPAIGN_DISPATCHER", true);
  d.tick_ms = static_cast<int>(env.Int("CAMPAIGN_TICK_MS", 1000, 50, 60000));
  d.max_concurrent_calls =
      static_cast<int>(env.Int("ELEVENLABS_MAX_CONCURRENT_CALLS", 10, 1, 10000));
  d.reserved_calls = static_cast<int>(env.Int("CAMPAIGN_RESERVED_CALLS", 2, 0, 10000));
  d.dial_workers = static_cast<int>(env.Int("CAMPAIGN_DIAL_WORKERS", 8, 1, 256));
  d.lease_secs = static_cast<int>(env.Int("CAMPAIGN_LEASE_SECS", 120, 10, 3600));
  d.automation_secs = static_cast<int>(env.Int("AUTOMATION_INTERVAL_SECS", 60, 1, 3600));
  WebhookConfig& w = c.webhooks;
  w.enabled = env.Bool("OUTBOX_SENDER", true);
  w.workers = static_cast<int>(env.Int("OUTBOX_WORKERS", 16, 1, 256));
  w.batch = static_cast<int>(env.Int("OUTBOX_BATCH", 200, 1, 5000));
  w.poll_ms = static_cast<int>(env.Int("OUTBOX_POLL_MS", 100, 10, 60000));
  w.timeout_ms = static_cast<int>(env.Int("OUTBOX_TIMEOUT_MS", 10000, 100, 60000));
  w.lease_secs = static_cast<int>(env.Int("OUTBOX_LEASE_SECS", 60, 1, 3600));
  w.retry_base_ms = env.Int("OUTBOX_RETRY_BASE_MS", 10000, 10, 3600000);
  w.retry_max_secs = env.Int("OUTBOX_RETRY_MAX_SECS", 21600, 1, 86400);
  w.retry_hours = env.Int("OUTBOX_RETRY_HOURS", 72, 0, 720);
  w.disable_after_secs = env.Int("OUTBOX_DISABLE_AFTER_SECS", 172800, 0, 2592000);
  w.disable_min_failures = static_cast<int>(env.Int("OUTBOX_DISABLE_MIN_FAILURES", 10, 1, 100000));
  w.ca_file = env.String("OUTBOX_CA_FILE", "");
  if (w.lease_secs * 1000 <= w.timeout_ms) {
    return absl::InvalidArgumentError(
        "OUTBOX_LEASE_SECS must be longer than OUTBOX_TIMEOUT_MS (a delivery in flight would be "
        "sent twice)");
  }
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
      {gw + "GetConversationAudio", Permission::kReadCalls},
      {gw + "EndCall", Permission::kPlaceCalls},
      {gw + "EraseConversation", Permission::kPlaceCalls},
      {gw + "WatchCallEvents", Permission::kReadCalls},
      {gw + "CheckContactPolicy", Permission::kReadPolicy},
      {gw + "RecordConsent", Permission::kWriteConsent},
      {gw + "RecordContact", Permission::kWriteConsent},
      {gw + "ExportPatientData", Permission::kPrivacyAdmin},
      {gw + "ExportEvidence", Permission::kPrivacyAdmin},
      {gw + "CreateDataRequest", Permission::kPrivacyAdmin},
      {gw + "GetDataRequest", Permission::kPrivacyAdmin},
      {gw + "ListDataRequests", Permission::kPrivacyAdmin},
      {"/outcall.v1.CallEventSink/ApplyEvents", Permission::kPublishEvents},
      {"/outcall.v1.Campaigns/CreateCampaign", Permission::kWriteCampaigns},
      {"/outcall.v1.Campaigns/GetCampaign", Permission::kReadCalls},
      {"/outcall.v1.Campaigns/ListCampaigns", Permission::kReadCalls},
      {"/outcall.v1.Campaigns/UpdateCampaign", Permission::kWriteCampaigns},
      {"/outcall.v1.Campaigns/AddRecipients", Permission::kWriteCampaigns},
      {"/outcall.v1.Campaigns/ListRecipients", Permission::kReadCalls},
      {"/outcall.v1.Campaigns/StartCampaign", Permission::kWriteCampaigns},
      {"/outcall.v1.Campaigns/PauseCampaign", Permission::kWriteCampaigns},
      {"/outcall.v1.Campaigns/ResumeCampaign", Permission::kWriteCampaigns},
      {"/outcall.v1.Campaigns/CancelCampaign", Permission::kWriteCampaigns},
      {"/outcall.v1.Campaigns/RetryFailed", Permission::kWriteCampaigns},
      {"/outcall.v1.Campaigns/DuplicateCampaign", Permission::kWriteCampaigns},
      {"/outcall.v1.Campaigns/ListReviews", Permission::kReadCalls},
      {"/outcall.v1.Campaigns/ResolveReview", Permission::kWriteCampaigns},
      {"/outcall.v1.Campaigns/CreateAutomationRule", Permission::kWriteCampaigns},
      {"/outcall.v1.Campaigns/ListAutomationRules", Permission::kReadCalls},
      {"/outcall.v1.Campaigns/WatchCampaign", Permission::kReadCalls},
      {"/outcall.v1.Campaigns/UpdateAutomationRule", Permission::kWriteCampaigns},
      {"/outcall.v1.ClinicSync/UpsertPatients", Permission::kWriteSync},
      {"/outcall.v1.ClinicSync/UpsertAppointments", Permission::kWriteSync},
      {"/outcall.v1.ClinicSync/ImportFhir", Permission::kWriteSync},
      {"/outcall.v1.ClinicSync/GetPatient", Permission::kReadSync},
      {"/outcall.v1.ClinicSync/ListPatients", Permission::kReadSync},
      {"/outcall.v1.ClinicSync/DeletePatient", Permission::kWriteSync},
      {"/outcall.v1.ClinicSync/GetAppointment", Permission::kReadSync},
      {"/outcall.v1.ClinicSync/ListAppointments", Permission::kReadSync},
      {"/outcall.v1.ClinicSync/CancelAppointment", Permission::kWriteSync},
      {"/outcall.v1.ClinicSync/DeleteAppointment", Permission::kWriteSync},
      {"/outcall.v1.ClinicSync/GetFhirAppointment", Permission::kReadSync},
      {"/outcall.v1.ClinicSync/GetFhirPatient", Permission::kReadSync},
      {"/outcall.v1.Webhooks/CreateWebhookSubscription", Permission::kAdminWebhooks},
      {"/outcall.v1.Webhooks/ListWebhookSubscriptions", Permission::kAdminWebhooks},
      {"/outcall.v1.Webhooks/GetWebhookSubscription", Permission::kAdminWebhooks},
      {"/outcall.v1.Webhooks/UpdateWebhookSubscription", Permission::kAdminWebhooks},
      {"/outcall.v1.Webhooks/RotateWebhookSecret", Permission::kAdminWebhooks},
      {"/outcall.v1.Webhooks/DeleteWebhookSubscription", Permission::kAdminWebhooks},
      {"/outcall.v1.Webhooks/ListWebhookDeliveries", Permission::kAdminWebhooks},
      {"/outcall.v1.Webhooks/ReplayWebhookEvents", Permission::kAdminWebhooks},
      {"/outcall.v1.Webhooks/ListWebhookEvents", Permission::kAdminWebhooks},
  };
}

}  // namespace outcall::call_gateway
