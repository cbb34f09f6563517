// stats: builds the object graph from the environment and serves until SIGTERM.
#include <spdlog/spdlog.h>

#include "outcall/common/blocking_executor.h"
#include "outcall/common/pg_pool.h"
#include "outcall/common/service_main.h"
#include "outcall/common/strings.h"
#include "service_config.h"
#include "stats_service.h"
#include "stats_store.h"

int main() {
  using namespace outcall;
  common::ServiceMain svc("stats");
  auto config = svc.Load(stats::LoadServiceConfig);
  if (!config || !svc.Init(config->common, stats::MethodPermissions())) return 2;
  const common::CommonConfig& cc = config->common;

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
  common::BlockingExecutor executor(cc.database_pool_size, cc.database_pool_size * 16);
  stats::StatsService service(&svc.authenticator(), &store, &executor,
                              {.request_timeout = config->query_timeout});
  svc.server().AddService(&service);
  return svc.Serve();
}
