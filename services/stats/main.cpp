// stats: builds the object graph from the environment and serves until SIGTERM.
#include <grpcpp/support/server_interceptor.h>

#include <cstdio>

#include "outcall/common/auth_interceptor.h"
#include "outcall/common/config.h"
#include "outcall/common/grpc_server.h"
#include "outcall/common/jwt.h"
#include "outcall/common/logging.h"
#include "outcall/common/pg_pool.h"
#include "outcall/common/strings.h"
#include "service_config.h"
#include "stats_executor.h"
#include "stats_service.h"
#include "stats_store.h"

int main() {
  using namespace outcall;
  common::BlockShutdownSignals();
  common::EnvReader env;
  auto config = stats::LoadServiceConfig(env);
  if (!config.ok()) {
    std::fprintf(stderr, "stats: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  const common::CommonConfig& cc = config->common;
  if (auto s = common::InitLogging({"stats", cc.log_level, cc.log_format == "json"}); !s.ok()) {
    std::fprintf(stderr, "stats: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  auto verifier = common::JwtVerifier::Create(common::JwtOptionsFrom(cc));
  if (!verifier.ok()) {
    spdlog::critical("{}", common::ToStd(verifier.status().message()));
    return 2;
  }
  common::CallAuthenticator authenticator(common::Authorizer(*std::move(verifier)),
                                          stats::MethodPermissions());

  common::PgPool pool(
      {.url = cc.database_url.Reveal(),
       .size = cc.database_pool_size,
       .application_name = "stats",
       .statement_timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(config->query_timeout))});
  stats::StatsStore store(
      &pool, {.clinic_timezone = cc.clinic_timezone, .statement_timeout = config->query_timeout});
  if (auto db_zone = store.DatabaseTimezone(absl::Now() + absl::Seconds(5)); !db_zone.ok()) {
    // Not fatal: the pool reconnects on demand, and health reports the service meanwhile.
    spdlog::warn("database not ready at start: {}", common::ToStd(db_zone.status().message()));
  } else if (*db_zone != cc.clinic_timezone) {
    // Still correct, but statistics then scan the calls instead of reading the rollups.
    spdlog::warn(
        "CLINIC_TIMEZONE is {} but the database's rollups are cut in {}: statistics are computed "
        "from the raw calls (slower as history grows). Align them (docs/stats.md).",
        cc.clinic_timezone, *db_zone);
  } else {
    spdlog::info("statistics read the rollups (clinic time zone {})", cc.clinic_timezone);
  }

  // One worker per database connection; a short queue beyond that, then RESOURCE_EXHAUSTED.
  stats::BlockingExecutor executor(cc.database_pool_size, cc.database_pool_size * 16);
  stats::StatsService service(&authenticator, &store, &executor,
                              {.request_timeout = config->query_timeout});

  common::GrpcServer server(common::GrpcOptionsFrom(cc));
  server.AddService(&service);
  server.AddInterceptorFactory(authenticator.NewInterceptorFactory());
  if (auto s = server.Start(); !s.ok()) {
    spdlog::critical("{}", common::ToStd(s.message()));
    return 1;
  }
  return common::ServeUntilSignal(server, "stats");
}
