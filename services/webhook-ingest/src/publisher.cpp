#include "publisher.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <pqxx/pqxx>
#include <set>

#include "outcall/elevenlabs/event_mapping.h"
#include "outcall/common/files.h"
#include "outcall/common/jwt.h"
#include "outcall/common/logging.h"
#include "outcall/common/pg_pool.h"
#include "outcall/common/strings.h"

namespace outcall::webhook_ingest {
namespace {

// Keeps each ApplyEvents request under gRPC's default 4 MiB receive limit.
constexpr size_t kMaxRequestBytes = 3 * 1024 * 1024;
constexpr int64_t kLeaderLockKey = 0x6f7574696e6765;  // "outinge"

std::string IdArray(const std::vector<int64_t>& ids) {
  return common::Cat("{", common::Join(ids, ","), "}");
}

std::string WithConnectTimeout(const std::string& url) {
  if (url.find("connect_timeout") != std::string::npos) return url;
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
    return common::Cat(url, url.find('?') == std::string::npos ? "?" : "&", "connect_timeout=3");
  }
  return common::Cat(url, " connect_timeout=3");
}

std::shared_ptr<grpc::Channel> MakeChannel(const PublisherOptions& o) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (o.gateway_ca_file.empty()) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    if (auto pem = common::ReadWholeFile(o.gateway_ca_file)) ssl.pem_root_certs = *pem;
    creds = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  return grpc::CreateCustomChannel(o.gateway_address, creds, args);
}

}  // namespace

GatewayToken::GatewayToken(const PublisherOptions& options) : options_(options) {}

absl::StatusOr<std::string> GatewayToken::Get() {
  if (!options_.gateway_token.empty()) return options_.gateway_token.Reveal();
  std::lock_guard lock(mu_);
  const absl::Time now = options_.clock->Now();
  if (now < renew_at_) return token_;
  common::JwtClaims claims;
  claims.issuer = options_.jwt_issuer;
  claims.subject = "webhook-ingest";
  claims.audiences = options_.jwt_audiences;
  claims.permissions = {std::string(common::PermissionName(common::Permission::kPublishEvents))};
  claims.issued_at = now;
  claims.lifetime = absl::Minutes(10);
  auto token = common::SignJwt("HS256", options_.jwt_hs256_secret.Reveal(), claims);
  if (!token.ok()) return token.status();
  token_ = *std::move(token);
  renew_at_ = now + absl::Minutes(5);
  return token_;
}

Publisher::Publisher(std::string database_url, PublisherOptions options, IngestMetrics* metrics)
    : url_(WithConnectTimeout(database_url)),
      options_(std::move(options)),
      metrics_(metrics),
      token_(options_),
      channel_(MakeChannel(options_)),
      stub_(v1::CallEventSink::NewStub(channel_)) {}

Publisher::~Publisher() { Stop(); }

void Publisher::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  loop_done_ = false;
  cancel_rpcs_ = false;
  thread_ = std::thread([this] {
    Loop();
    {
      std::lock_guard lock(mu_);
      loop_done_ = true;
    }
    cv_.notify_all();
  });
}

void Publisher::Stop(absl::Time deadline) {
  {
    std::unique_lock lock(mu_);
    stopping_ = true;
    cv_.notify_all();
    if (thread_.joinable() &&
        !cv_.wait_until(lock, absl::ToChronoTime(deadline), [&] { return loop_done_; })) {
      // Out of time: the RPC in flight (or the next one) is cancelled, not waited for.
      cancel_rpcs_ = true;
      if (in_flight_ != nullptr) in_flight_->TryCancel();
    }
  }
  if (thread_.joinable()) thread_.join();
  conn_.reset();
  leader_ = false;
}

void Publisher::Wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

void Publisher::SleepFor(absl::Duration d, bool wakeable) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, absl::ToChronoMilliseconds(d), [&] { return stopping_ || (wakeable && woken_); });
  woken_ = false;
}

void Publisher::Loop() {
  absl::Duration backoff = options_.min_backoff;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      woken_ = false;
    }
    auto n = PublishPending();
    if (n.ok()) {
      backoff = options_.min_backoff;
      SleepFor(options_.poll_interval, /*wakeable=*/true);
    } else {
      // Full jitter over an exponentially growing ceiling; wakes do not cut a backoff short.
      std::uniform_real_distribution<double> jitter(0.5, 1.0);
      SleepFor(backoff * jitter(rng_), /*wakeable=*/false);
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }
}

bool Publisher::EnsureLeader() {
  if (!conn_ || !common::IdleConnectionLooksAlive(*conn_)) {
    conn_ = std::make_unique<pqxx::connection>(url_);
    leader_ = false;
  }
  if (leader_) return true;
  pqxx::nontransaction tx(*conn_);
  leader_ = tx.exec_params1("SELECT pg_try_advisory_lock($1)", kLeaderLockKey)[0].as<bool>();
  return leader_;
}

absl::StatusOr<int> Publisher::PublishPending() {
  int total = 0;
  while (true) {
    auto n = PublishBatch();
    if (!n.ok()) return n.status();
    total += *n;
    if (*n == 0) return total;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return total;
    }
  }
}

void Publisher::Quarantine(pqxx::transaction_base& tx, int64_t id, const std::string& type,
                           const std::string& conversation, std::string_view where,
                           const std::string& reason) {
  const std::string why = common::Cat(where, ": ", std::string_view(reason).substr(0, 500));
  tx.exec_params(
      "UPDATE webhook_inbox SET quarantined_at = now(), quarantine_reason = $2, "
      "publish_attempts = publish_attempts + 1, last_error = $2 WHERE id = $1 AND "
      "published_at IS NULL",
      id, why);
  if (metrics_ != nullptr) metrics_->Quarantined(where);
  // One line, with the inbox id: what an operator needs to find it (outcall-inbox show ID).
  spdlog::error("inbox event {} ({}, conversation {}) quarantined: {}; later events of its "
                "conversation wait (outcall-inbox)",
                id, type, conversation, why);
}

absl::StatusOr<int> Publisher::PublishBatch() {
  std::vector<int64_t> ids;
  int quarantined_here = 0;  // progress too: the next pass reads past them
  v1::ApplyEventsRequest request;
  try {
    if (!EnsureLeader()) return 0;  // another replica publishes
    pqxx::nontransaction tx(*conn_);
    const pqxx::row lag = tx.exec1(
        "SELECT count(*) FILTER (WHERE quarantined_at IS NULL), COALESCE(EXTRACT(EPOCH FROM "
        "now() - min(received_at) FILTER (WHERE quarantined_at IS NULL)), 0)::float8, "
        "count(*) FILTER (WHERE quarantined_at IS NOT NULL) "
        "FROM webhook_inbox WHERE published_at IS NULL");
    if (metrics_ != nullptr) {
      metrics_->InboxLag(lag[1].as<double>(), lag[0].as<double>(), lag[2].as<double>());
    }
    if (lag[0].as<int64_t>() == 0) return 0;
    // In order, but for quarantined events and the later events of their conversations, which
    // wait behind them (every other conversation goes on).
    const pqxx::result rows = tx.exec_params(
        "SELECT id, event_type, conversation_id, event_timestamp, body FROM webhook_inbox i "
        "WHERE published_at IS NULL AND quarantined_at IS NULL AND NOT EXISTS (SELECT 1 FROM "
        "webhook_inbox q WHERE q.quarantined_at IS NOT NULL AND q.published_at IS NULL AND "
        "q.conversation_id = i.conversation_id AND q.id < i.id) ORDER BY id LIMIT $1",
        options_.batch_size);
    size_t bytes = 0;
    std::set<std::string> held;  // conversations with an event quarantined in this pass
    for (const pqxx::row& row : rows) {
      const int64_t id = row[0].as<int64_t>();
      const std::string type = row[1].as<std::string>();
      const std::string conversation = row[2].as<std::string>();
      if (held.contains(conversation)) continue;
      std::optional<int64_t> ts;
      if (!row[3].is_null()) ts = row[3].as<int64_t>();
      const pqxx::binarystring body(row[4]);
      const std::string_view body_view(reinterpret_cast<const char*>(body.data()), body.size());
      auto event = elevenlabs::MapInboxEvent(id, type, conversation, ts, body_view);
      if (!event.ok()) {
        // It can never become an event as it is: quarantined, never sent half-mapped.
        Quarantine(tx, id, type, conversation, "mapping",
                   std::string(common::ToStd(event.status().message())));
        held.insert(conversation);
        ++quarantined_here;
        continue;
      }
      v1::CallEvent ev = *std::move(event);
      const size_t size = ev.ByteSizeLong();
      if (!ids.empty() && bytes + size > kMaxRequestBytes) break;
      bytes += size;
      ids.push_back(id);
      *request.add_events() = std::move(ev);
    }
  } catch (const std::exception& e) {
    conn_.reset();
    leader_ = false;
    return absl::UnavailableError("database unreachable");
  }
  if (ids.empty()) return quarantined_here;

  absl::Status status;
  v1::ApplyEventsResponse response;
  auto token = token_.Get();
  if (!token.ok()) {
    status = token.status();
  } else {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.rpc_timeout));  // gRPC: real time
    ctx.AddMetadata("authorization", common::Cat("Bearer ", *token));
    {
      std::lock_guard lock(mu_);
      in_flight_ = &ctx;
      if (cancel_rpcs_) ctx.TryCancel();
    }
    grpc::Status s = stub_->ApplyEvents(&ctx, request, &response);
    {
      std::lock_guard lock(mu_);
      in_flight_ = nullptr;
    }
    if (!s.ok()) {
      status = absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    } else if (response.results_size() != request.events_size()) {
      status = absl::InternalError("ApplyEvents answered a different number of results");
    } else {
      for (int i = 0; i < response.results_size(); ++i) {
        if (response.results(i).inbox_id() != request.events(i).inbox_id()) {
          status = absl::InternalError("ApplyEvents answered results out of order");
          break;
        }
      }
    }
  }

  try {
    pqxx::nontransaction tx(*conn_);
    if (status.ok()) {
      // Acknowledged: published, but for those call-gateway rejected (quarantined) and those it
      // held behind them (still pending).
      std::vector<int64_t> done;
      for (int i = 0; i < response.results_size(); ++i) {
        const auto& r = response.results(i);
        const auto& ev = request.events(i);
        if (r.outcome() == v1::APPLY_OUTCOME_REJECTED) {
          Quarantine(tx, r.inbox_id(), v1::EventType_Name(ev.type()), ev.conversation_id(),
                     "gateway", r.reason().empty() ? "rejected by call-gateway" : r.reason());
        } else if (r.outcome() != v1::APPLY_OUTCOME_HELD) {
          done.push_back(r.inbox_id());
        }
      }
      tx.exec_params(
          "UPDATE webhook_inbox SET published_at = now(), publish_attempts = publish_attempts + 1, "
          "last_error = NULL WHERE id = ANY($1::bigint[])",
          IdArray(done));
      ids = std::move(done);  // what was published, for the count below
    } else {
      const std::string error = common::Cat(absl::StatusCodeToString(status.code()), ": ",
                                            status.message().substr(0, 200));
      tx.exec_params(
          "UPDATE webhook_inbox SET publish_attempts = publish_attempts + 1, last_error = $2, "
          "next_attempt_at = now() WHERE id = ANY($1::bigint[])",
          IdArray(ids), error);
    }
  } catch (const std::exception& e) {
    conn_.reset();
    leader_ = false;
    // Acknowledged but not marked: sent again later, and call-gateway applies idempotently.
    return absl::UnavailableError("database unreachable after publishing");
  }
  if (!status.ok()) {
    if (metrics_ != nullptr) metrics_->PublishRetry();
    spdlog::warn("publishing {} events to call-gateway failed ({}); retrying with backoff",
                 ids.size(), absl::StatusCodeToString(status.code()));
    return status;
  }
  if (metrics_ != nullptr) metrics_->Published(ids.size());
  return quarantined_here + response.results_size();
}

}  // namespace outcall::webhook_ingest
