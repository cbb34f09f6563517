#include "stats_service.h"

#include <spdlog/spdlog.h>

#include <limits>

#include "absl/time/clock.h"
#include "outcall/common/logging.h"
#include "outcall/common/status.h"
#include "outcall/common/strings.h"
#include "outcall/common/unary_dispatch.h"

namespace outcall::stats {
namespace {

// Counts are int32 in the contract (proto3 JSON prints 64-bit integers as strings); a value that
// does not fit is reported as the largest that does.
int32_t Count32(int64_t v) {
  if (v > std::numeric_limits<int32_t>::max()) return std::numeric_limits<int32_t>::max();
  if (v < 0) return 0;
  return static_cast<int32_t>(v);
}

void SetTimestamp(int64_t us, google::protobuf::Timestamp* ts) {
  int64_t secs = us / 1000000;
  int64_t micros = us % 1000000;
  if (micros < 0) {
    micros += 1000000;
    secs -= 1;
  }
  ts->set_seconds(secs);
  ts->set_nanos(static_cast<int32_t>(micros * 1000));
}

void FillPagination(int32_t page, int32_t limit, int64_t total, v1::Pagination* out) {
  out->set_page(page);
  out->set_limit(limit);
  out->set_total(Count32(total));
  out->set_pages(Count32((total + limit - 1) / limit));
}

void FillCall(const CallRow& c, v1::CallSummary* out) {
  out->set_conversation_id(c.conversation_id);
  out->set_call_id(c.call_id);
  out->set_status(c.status);
  out->set_agent_id(c.agent_id);
  out->set_patient_id(c.patient_id.value_or(0));
  out->set_appointment_id(c.appointment_id.value_or(0));
  out->set_phone_number(c.phone_number);
  out->set_duration_secs(c.duration_secs.value_or(0));
  out->set_cost(DecimalToDouble(c.cost));
  out->set_call_successful(c.call_successful);
  SetTimestamp(c.created_at_us, out->mutable_created_at());
  if (c.started_at_us) SetTimestamp(*c.started_at_us, out->mutable_started_at());
  if (c.ended_at_us) SetTimestamp(*c.ended_at_us, out->mutable_ended_at());
}

}  // namespace

StatsService::StatsService(const common::CallAuthenticator* auth, StatsStore* store,
                           common::BlockingExecutor* executor, StatsServiceOptions options)
    : auth_(auth), store_(store), executor_(executor), options_(options) {
  if (!absl::LoadTimeZone(common::ToAbsl(store_->clinic_timezone()), &clinic_zone_)) {
    // The configuration already refused unknown zones; stay defined regardless.
    clinic_zone_ = absl::UTCTimeZone();
  }
}

absl::Time StatsService::DeadlineOf(const grpc::CallbackServerContext* ctx) const {
  const absl::Time own = absl::Now() + options_.request_timeout;
  const auto client = ctx->deadline();
  if (client == std::chrono::system_clock::time_point::max()) return own;
  return std::min(own, absl::FromChrono(client));
}

grpc::ServerUnaryReactor* StatsService::Dispatch(
    grpc::CallbackServerContext* ctx, std::function<absl::Status(absl::Time deadline)> work) {
  return common::DispatchUnary(ctx, *executor_, {.service = "stats",
                                .busy = "stats service is busy; retry shortly",
                                .log_unavailable = true},
                               [deadline = DeadlineOf(ctx), work = std::move(work)] {
                                 return work(deadline);
                               });
}

grpc::ServerUnaryReactor* StatsService::ListCalls(grpc::CallbackServerContext* ctx,
                                                  const v1::ListCallsRequest* request,
                                                  v1::ListCallsResponse* response) {
  if (auto principal = auth_->Check(ctx); !principal.ok()) {
    auto* r = ctx->DefaultReactor();
    r->Finish(common::ToGrpcStatus(principal.status()));
    return r;
  }
  auto params = ParseListCalls(*request, store_->clinic_timezone());
  if (!params.ok()) {
    auto* r = ctx->DefaultReactor();
    r->Finish(common::ToGrpcStatus(params.status()));
    return r;
  }
  return Dispatch(ctx, [this, p = *std::move(params), response](absl::Time deadline) {
    auto result = store_->ListCalls(p, deadline);
    if (!result.ok()) return result.status();
    response->set_success(true);
    for (const auto& row : result->rows) FillCall(row, response->add_data());
    auto* pg = response->mutable_pagination();
    FillPagination(p.reported_page(), p.limit, result->total, pg);
    if (result->next_cursor) pg->set_next_cursor(EncodeCursor(*result->next_cursor));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* StatsService::GetCallStats(grpc::CallbackServerContext* ctx,
                                                     const v1::GetCallStatsRequest* request,
                                                     v1::GetCallStatsResponse* response) {
  if (auto principal = auth_->Check(ctx); !principal.ok()) {
    auto* r = ctx->DefaultReactor();
    r->Finish(common::ToGrpcStatus(principal.status()));
    return r;
  }
  auto filter = ParseCallStats(*request);
  if (!filter.ok()) {
    auto* r = ctx->DefaultReactor();
    r->Finish(common::ToGrpcStatus(filter.status()));
    return r;
  }
  return Dispatch(ctx, [this, f = *std::move(filter), response](absl::Time deadline) {
    auto result = store_->CallStats(f, deadline);
    if (!result.ok()) return result.status();
    response->set_success(true);
    auto* d = response->mutable_data();
    d->set_total_calls(Count32(result->all.calls));
    d->set_completed_calls(Count32(result->completed_calls));
    d->set_failed_calls(Count32(result->failed_calls));
    d->set_avg_duration(DecimalToDouble(result->completed_avg_duration));
    d->set_total_cost(DecimalToDouble(result->all.cost_sum));
    for (const auto& [status, agg] : result->by_status) {
      auto* s = d->add_by_status();
      s->set_status(status);
      s->set_count(Count32(agg.calls));
      s->set_avg_duration(DecimalToDouble(agg.avg_duration));
      s->set_total_cost(DecimalToDouble(agg.cost_sum));
    }
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* StatsService::GetDailyStats(grpc::CallbackServerContext* ctx,
                                                      const v1::GetDailyStatsRequest* request,
                                                      v1::GetDailyStatsResponse* response) {
  if (auto principal = auth_->Check(ctx); !principal.ok()) {
    auto* r = ctx->DefaultReactor();
    r->Finish(common::ToGrpcStatus(principal.status()));
    return r;
  }
  auto filter = ParseDailyStats(*request, absl::ToCivilDay(absl::Now(), clinic_zone_));
  if (!filter.ok()) {
    auto* r = ctx->DefaultReactor();
    r->Finish(common::ToGrpcStatus(filter.status()));
    return r;
  }
  return Dispatch(ctx, [this, f = *std::move(filter), response](absl::Time deadline) {
    auto result = store_->DailyStats(f, deadline);
    if (!result.ok()) return result.status();
    response->set_success(true);
    for (const auto& row : result->rows) {
      auto* d = response->add_data();
      d->set_date(row.day);
      d->set_total_calls(Count32(row.total_calls));
      d->set_completed_calls(Count32(row.completed_calls));
      d->set_failed_calls(Count32(row.failed_calls));
      d->set_avg_duration(DecimalToDouble(row.avg_duration));
      d->set_total_cost(DecimalToDouble(row.total_cost));
    }
    response->set_count(Count32(static_cast<int64_t>(result->rows.size())));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* StatsService::ListCallErrors(grpc::CallbackServerContext* ctx,
                                                       const v1::ListCallErrorsRequest* request,
                                                       v1::ListCallErrorsResponse* response) {
  if (auto principal = auth_->Check(ctx); !principal.ok()) {
    auto* r = ctx->DefaultReactor();
    r->Finish(common::ToGrpcStatus(principal.status()));
    return r;
  }
  auto params = ParseListCallErrors(*request);
  if (!params.ok()) {
    auto* r = ctx->DefaultReactor();
    r->Finish(common::ToGrpcStatus(params.status()));
    return r;
  }
  return Dispatch(ctx, [this, p = *std::move(params), response](absl::Time deadline) {
    auto result = store_->ListErrors(p, deadline);
    if (!result.ok()) return result.status();
    response->set_success(true);
    for (const auto& e : result->rows) {
      auto* out = response->add_data();
      out->set_id(Count32(e.id));
      out->set_conversation_id(e.conversation_id);
      out->set_call_id(e.call_id);
      out->set_source(e.source);
      out->set_code(e.code);
      out->set_http_status(e.http_status.value_or(0));
      // Errors are written without patient data; numbers that slip into a provider's message
      // are masked here as well, as in the logs.
      out->set_message(common::RedactPhones(e.message));
      SetTimestamp(e.created_at_us, out->mutable_created_at());
    }
    FillPagination(p.page, p.limit, result->total, response->mutable_pagination());
    return absl::OkStatus();
  });
}

}  // namespace outcall::stats
