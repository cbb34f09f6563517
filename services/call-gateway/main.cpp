// call-gateway: builds the object graph from the environment and serves until SIGTERM.
#include <grpcpp/support/server_interceptor.h>

#include <cstdio>

#include "call_store.h"
#include "elevenlabs_client.h"
#include "gateway_service.h"
#include "outcall/common/auth_interceptor.h"
#include "outcall/common/config.h"
#include "outcall/common/grpc_server.h"
#include "outcall/common/jwt.h"
#include "outcall/common/logging.h"
#include "outcall/common/pg_pool.h"
#include "outcall/common/strings.h"
#include "service_config.h"

int main() {
  using namespace outcall;
  common::BlockShutdownSignals();
  common::EnvReader env;
  auto config = call_gateway::LoadServiceConfig(env);
  if (!config.ok()) {
    std::fprintf(stderr, "call-gateway: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  const common::CommonConfig& cc = config->common;
  if (auto s = common::InitLogging({"call-gateway", cc.log_level, cc.log_format == "json"});
      !s.ok()) {
    std::fprintf(stderr, "call-gateway: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  auto verifier = common::JwtVerifier::Create(common::JwtOptionsFrom(cc));
  if (!verifier.ok()) {
    spdlog::critical("{}", common::ToStd(verifier.status().message()));
    return 2;
  }
  common::CallAuthenticator authenticator(common::Authorizer(*std::move(verifier)),
                                          call_gateway::MethodPermissions());

  common::PgPool pool({.url = cc.database_url.Reveal(),
                       .size = cc.database_pool_size,
                       .application_name = "call-gateway"});
  if (auto lease = pool.Acquire(); !lease.ok()) {
    // Not fatal: the pool reconnects on demand, and health reports the service meanwhile.
    spdlog::warn("database not reachable at start: {}", common::ToStd(lease.status().message()));
  }

  common::GrpcServer server(common::GrpcOptionsFrom(cc));
  server.AddInterceptorFactory(authenticator.NewInterceptorFactory());
  const common::ElevenLabsConfig& el = config->elevenlabs;
  call_gateway::CallStore store(pool, {.save_call_audio = el.save_call_audio});
  const call_gateway::ReconcilerConfig& rc = config->reconciler;
  call_gateway::ElevenLabsClient elevenlabs(el);
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
       .audio_timeout = absl::Seconds(rc.audio_timeout_secs)},
      store, elevenlabs, authenticator, &server.metrics());
  server.AddService(static_cast<v1::CallGateway::Service*>(&service));
  server.AddService(static_cast<v1::CallEventSink::Service*>(&service));
  service.StartReconciler();
  spdlog::info("call-gateway: SAVE_CALL_AUDIO={}, lost recordings fetched after {} s",
               el.save_call_audio, rc.audio_grace_secs);
  if (auto s = server.Start(); !s.ok()) {
    spdlog::critical("{}", common::ToStd(s.message()));
    return 1;
  }
  return common::ServeUntilSignal(server, "call-gateway");
}
