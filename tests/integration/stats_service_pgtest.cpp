// The Stats service over real gRPC (loopback socket, JWT minted here) and a real PostgreSQL
// (migrated test database): history paging and filters, the cursor, statistics from the
// rollups, time-zone edges, state changes after the fact, a randomised comparison with direct
// SQL aggregates, concurrent writers, the read-only role, and every parameter error.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <pqxx/pqxx>
#include <random>
#include <thread>

#include "outcall/common/auth_interceptor.h"
#include "outcall/common/crypto.h"
#include "outcall/common/grpc_server.h"
#include "outcall/common/jwt.h"
#include "outcall/common/pg_pool.h"
#include "outcall/common/strings.h"
#include "outcall/v1/stats.grpc.pb.h"
#include "outcall/common/blocking_executor.h"
#include "stats_service.h"
#include "stats_store.h"
#include "test_database.h"

// service_config.h is a name several services use; declare what this test needs.
namespace outcall::stats {
std::map<std::string, common::Permission> MethodPermissions();
}

namespace outcall {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kIssuer[] = "outcall-test";
constexpr char kAudience[] = "outcall";

// The service as main() builds it, on a free loopback port.
class StatsServer {
 public:
  StatsServer(const std::string& db_url, const std::string& clinic_tz, const std::string& secret)
      : pool_({.url = db_url,
               .size = 3,
               .application_name = "stats-test",
               .statement_timeout_ms = 20000}),
        store_(&pool_, {.clinic_timezone = clinic_tz, .statement_timeout = absl::Seconds(20)}),
        executor_(3, 32),
        auth_(MakeAuthorizer(secret), stats::MethodPermissions()),
        service_(&auth_, &store_, &executor_, {.request_timeout = absl::Seconds(20)}) {
    common::GrpcServerOptions o;
    o.listen_address = "127.0.0.1:0";
    o.shutdown_grace = absl::Seconds(2);
    server_ = std::make_unique<common::GrpcServer>(o);
    server_->AddService(&service_);
    server_->AddInterceptorFactory(auth_.NewInterceptorFactory());
    started_ = server_->Start();
    if (started_.ok()) {
      server_->SetServing(true);
      stub_ = v1::Stats::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                                     grpc::InsecureChannelCredentials()));
    }
  }
  ~StatsServer() {
    stub_.reset();
    server_->Shutdown();
    server_->Wait();
  }

  const absl::Status& started() const { return started_; }
  v1::Stats::Stub& stub() { return *stub_; }
  stats::StatsStore& store() { return store_; }

 private:
  static common::Authorizer MakeAuthorizer(const std::string& secret) {
    common::JwtOptions jo;
    jo.issuer = kIssuer;
    jo.audiences = {kAudience};
    jo.hs256_secrets = {common::Secret(secret)};
    return common::Authorizer(*common::JwtVerifier::Create(jo));
  }

  common::PgPool pool_;
  stats::StatsStore store_;
  common::BlockingExecutor executor_;
  common::CallAuthenticator auth_;
  stats::StatsService service_;
  std::unique_ptr<common::GrpcServer> server_;
  absl::Status started_;
  std::unique_ptr<v1::Stats::Stub> stub_;
};

std::string SignToken(const std::string& secret, std::vector<std::string> permissions) {
  common::JwtClaims c;
  c.issuer = kIssuer;
  c.subject = "clinic-app";
  c.audiences = {kAudience};
  c.permissions = std::move(permissions);
  return *common::SignJwt("HS256", secret, c);
}

class StatsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    db_.Migrate();
    conn_ = std::make_unique<pqxx::connection>(db_.url());
    Exec(
        "INSERT INTO patients (id, full_name, phone_e164) OVERRIDING SYSTEM VALUE "
        "SELECT g, 'Paciente ' || g, '+5730000000' || lpad(g::text, 2, '0') "
        "FROM generate_series(1, 9) g");
    token_ = SignToken(secret_, {"calls:read"});
    server_ = std::make_unique<StatsServer>(db_.url(), "America/Bogota", secret_);
    ASSERT_TRUE(server_->started().ok()) << server_->started();
  }

  pqxx::result Exec(const std::string& sql) {
    pqxx::work tx(*conn_);
    pqxx::result r = tx.exec(sql);
    tx.commit();
    return r;
  }

  // A call created at `created_at` (a timestamptz literal). Returns its id.
  int64_t InsertCall(const std::string& created_at, const std::string& status = "completed",
                     const std::string& agent = "agent_a", std::optional<int> patient = 1,
                     std::optional<int> duration = 60, const std::string& cost = "0.1000") {
    const int n = ++calls_;
    pqxx::work tx(*conn_);
    const auto row = tx.exec_params1(
        "INSERT INTO elevenlabs_conversations (conversation_id, agent_id, patient_id, "
        "phone_number, status, created_at, dial_attempted_at, duration_secs, cost) "
        "VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $6::timestamptz, $7, $8::numeric) "
        "RETURNING id",
        "conv_" + std::to_string(n), agent, patient, "+5731" + std::to_string(10000000 + n), status,
        created_at, duration, cost.empty() ? std::optional<std::string>() : cost);
    tx.commit();
    return row[0].as<int64_t>();
  }

  template <typename Req, typename Resp>
  grpc::Status Call(grpc::Status (v1::Stats::Stub::*method)(grpc::ClientContext*, const Req&,
                                                            Resp*),
                    const Req& req, Resp* resp, const std::string* token = nullptr) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    const std::string& t = token ? *token : token_;
    if (!t.empty()) ctx.AddMetadata("authorization", "Bearer " + t);
    return (server_->stub().*method)(&ctx, req, resp);
  }

  v1::ListCallsResponse List(const v1::ListCallsRequest& req) {
    v1::ListCallsResponse resp;
    auto s = Call(&v1::Stats::Stub::ListCalls, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  v1::CallStats Stats(const std::string& start, const std::string& end,
                      const std::string& status = "", const std::string& agent = "") {
    v1::GetCallStatsRequest req;
    req.set_start_date(start);
    req.set_end_date(end);
    req.set_status(status);
    req.set_agent_id(agent);
    v1::GetCallStatsResponse resp;
    auto s = Call(&v1::Stats::Stub::GetCallStats, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(resp.success());
    return resp.data();
  }

  std::map<std::string, int> ByStatus(const v1::CallStats& s) {
    std::map<std::string, int> out;
    for (const auto& b : s.by_status()) out[b.status()] = b.count();
    return out;
  }

  testing::TestDatabase db_;
  std::unique_ptr<pqxx::connection> conn_;
  const std::string secret_ = common::RandomHex(32);
  std::string token_;
  std::unique_ptr<StatsServer> server_;
  int calls_ = 0;
};

// ---------------------------------------------------------------------------------------------
// ListCalls

TEST_F(StatsServiceTest, ListCallsEnvelopeOrderAndPages) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 23; ++i) {
    ids.push_back(
        InsertCall("2025-03-01 10:00:00-05", "completed", "agent_a", 1, 30 + i, "0.0125"));
  }
  // Two calls share a timestamp: the newer id comes first.
  const int64_t tie_a = InsertCall("2025-03-02 09:00:00-05");
  const int64_t tie_b = InsertCall("2025-03-02 09:00:00-05");
  Exec(
      "UPDATE elevenlabs_conversations SET created_at = created_at + (id || ' seconds')::interval "
      "WHERE created_at = '2025-03-01 10:00:00-05'");

  v1::ListCallsResponse first = List({});
  EXPECT_TRUE(first.success());
  ASSERT_EQ(first.data_size(), 20);
  EXPECT_EQ(first.pagination().page(), 1);
  EXPECT_EQ(first.pagination().limit(), 20);
  EXPECT_EQ(first.pagination().total(), 25);
  EXPECT_EQ(first.pagination().pages(), 2);
  EXPECT_FALSE(first.pagination().next_cursor().empty());
  EXPECT_EQ(first.data(0).conversation_id(), "conv_" + std::to_string(tie_b));
  EXPECT_EQ(first.data(1).conversation_id(), "conv_" + std::to_string(tie_a));
  for (int i = 1; i < first.data_size(); ++i) {
    const auto& a = first.data(i - 1).created_at();
    const auto& b = first.data(i).created_at();
    EXPECT_TRUE(a.seconds() > b.seconds() ||
                (a.seconds() == b.seconds() && a.nanos() >= b.nanos()));
  }
  // Field mapping of one row.
  const auto& row = first.data(2);
  EXPECT_EQ(row.status(), "completed");
  EXPECT_EQ(row.agent_id(), "agent_a");
  EXPECT_EQ(row.patient_id(), 1);
  EXPECT_EQ(row.duration_secs(), 52);
  EXPECT_EQ(row.cost(), 0.0125);
  EXPECT_THAT(row.phone_number(), StartsWith("+5731"));
  EXPECT_EQ(row.call_id().size(), 36u);
  EXPECT_EQ(row.created_at().seconds() % 60, (ids.back()) % 60);

  v1::ListCallsRequest req;
  req.set_page(2);
  v1::ListCallsResponse second = List(req);
  ASSERT_EQ(second.data_size(), 5);
  EXPECT_EQ(second.pagination().page(), 2);
  EXPECT_TRUE(second.pagination().next_cursor().empty());
  EXPECT_EQ(second.data(4).conversation_id(), "conv_" + std::to_string(ids.front()));

  req.set_page(9);  // past the end: empty, not an error
  v1::ListCallsResponse past = List(req);
  EXPECT_EQ(past.data_size(), 0);
  EXPECT_EQ(past.pagination().total(), 25);
}

TEST_F(StatsServiceTest, ListCallsFilters) {
  InsertCall("2025-03-10 23:30:00-05", "completed", "agent_a", 1);  // Bogotá 10 March
  InsertCall("2025-03-11 00:00:00-05", "failed", "agent_b", 2);     // 11 March
  InsertCall("2025-03-11 12:00:00-05", "no_answer", "agent_a", 2);
  InsertCall("2025-03-12 08:00:00-05", "completed", "agent_b", 3);
  InsertCall("2025-03-12 09:00:00-05", "queued", "agent_a", std::nullopt, std::nullopt, "");

  auto count = [&](std::function<void(v1::ListCallsRequest&)> set) {
    v1::ListCallsRequest req;
    set(req);
    v1::ListCallsResponse r = List(req);
    EXPECT_EQ(r.pagination().total(), r.data_size()) << req.ShortDebugString();
    return r.data_size();
  };
  EXPECT_EQ(count([](auto&) {}), 5);
  EXPECT_EQ(count([](auto& r) { r.set_patient_id(2); }), 2);
  EXPECT_EQ(count([](auto& r) { r.set_patient_id(9); }), 0);
  EXPECT_EQ(count([](auto& r) { r.set_status("completed"); }), 2);
  EXPECT_EQ(count([](auto& r) { r.set_status("queued"); }), 1);
  EXPECT_EQ(count([](auto& r) { r.set_agent_id("agent_b"); }), 2);
  EXPECT_EQ(count([](auto& r) {
              r.set_start_date("2025-03-10");
              r.set_end_date("2025-03-10");
            }),
            1);
  EXPECT_EQ(count([](auto& r) { r.set_start_date("2025-03-11"); }), 4);
  EXPECT_EQ(count([](auto& r) { r.set_end_date("2025-03-11"); }), 3);
  EXPECT_EQ(count([](auto& r) {
              r.set_start_date("2025-03-11");
              r.set_end_date("2025-03-11");
              r.set_agent_id("agent_a");
            }),
            1);
  EXPECT_EQ(count([](auto& r) {
              r.set_patient_id(2);
              r.set_status("failed");
              r.set_start_date("2025-03-11");
            }),
            1);
  v1::ListCallsRequest req;
  req.set_status("queued");
  v1::ListCallsResponse queued = List(req);
  ASSERT_EQ(queued.data_size(), 1);
  EXPECT_EQ(queued.data(0).patient_id(), 0);
  EXPECT_EQ(queued.data(0).cost(), 0.0);
  EXPECT_FALSE(queued.data(0).has_started_at());
}

TEST_F(StatsServiceTest, CursorVisitsEveryRowOnceAndSurvivesNewCalls) {
  for (int i = 0; i < 30; ++i) {
    InsertCall("2025-05-01 08:00:00-05", i % 3 == 0 ? "failed" : "completed", "agent_a", 1);
  }
  Exec(
      "UPDATE elevenlabs_conversations SET created_at = created_at + ((id % 7) || ' "
      "minutes')::interval");

  // The whole list in page mode, for reference.
  v1::ListCallsRequest all;
  all.set_limit(100);
  std::vector<std::string> expected;
  const v1::ListCallsResponse everything = List(all);
  for (const auto& c : everything.data()) expected.push_back(c.conversation_id());
  ASSERT_EQ(expected.size(), 30u);

  v1::ListCallsRequest req;
  req.set_limit(7);
  std::vector<std::string> seen;
  std::vector<int> pages;
  v1::ListCallsResponse r = List(req);
  while (true) {
    pages.push_back(r.pagination().page());
    EXPECT_EQ(r.pagination().total(), pages.size() == 1 ? 30 : 31);  // one call placed meanwhile
    for (const auto& c : r.data()) seen.push_back(c.conversation_id());
    if (r.pagination().next_cursor().empty()) break;
    if (pages.size() == 1) {
      // A call placed while the client pages is newer than the cursor: it does not shift
      // the rows still to come (offset paging would repeat one).
      InsertCall("2025-06-01 08:00:00-05");
    }
    req.set_cursor(r.pagination().next_cursor());
    r = List(req);
    ASSERT_LT(pages.size(), 10u);
  }
  EXPECT_EQ(seen, expected);
  EXPECT_EQ(pages, (std::vector<int>{1, 2, 3, 4, 5}));

  // The cursor with other filters is refused, naming the cursor.
  v1::ListCallsRequest first_page;
  first_page.set_limit(7);
  const std::string cursor = List(first_page).pagination().next_cursor();
  v1::ListCallsRequest other;
  other.set_cursor(cursor);
  other.set_status("failed");
  v1::ListCallsResponse resp;
  grpc::Status s = Call(&v1::Stats::Stub::ListCalls, other, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), StartsWith("cursor: "));

  // With a filter, the cursor walks the filtered rows.
  v1::ListCallsRequest failed;
  failed.set_status("failed");
  failed.set_limit(4);
  int failed_seen = 0;
  v1::ListCallsResponse fr = List(failed);
  while (true) {
    for (const auto& c : fr.data()) {
      EXPECT_EQ(c.status(), "failed");
      ++failed_seen;
    }
    if (fr.pagination().next_cursor().empty()) break;
    failed.set_cursor(fr.pagination().next_cursor());
    fr = List(failed);
  }
  EXPECT_EQ(failed_seen, 10);
}

// ---------------------------------------------------------------------------------------------
// Parameters and authentication

TEST_F(StatsServiceTest, BadParametersAreInvalidArgumentNamingTheParameter) {
  auto expect = [&](const grpc::Status& s, const std::string& param) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << param;
    EXPECT_THAT(s.error_message(), StartsWith(param + ": "));
  };
  {
    struct Case {
      std::string param;
      std::function<void(v1::ListCallsRequest&)> set;
    };
    for (const auto& c : std::vector<Case>{
             {"page", [](auto& r) { r.set_page(0); }},
             {"limit", [](auto& r) { r.set_limit(1000); }},
             {"limit", [](auto& r) { r.set_limit(0); }},
             {"patientId", [](auto& r) { r.set_patient_id(-3); }},
             {"status", [](auto& r) { r.set_status("finished"); }},
             {"startDate", [](auto& r) { r.set_start_date("01/10/2025"); }},
             {"endDate", [](auto& r) { r.set_end_date("2025-02-30"); }},
             {"endDate",
              [](auto& r) {
                r.set_start_date("2025-10-02");
                r.set_end_date("2025-10-01");
              }},
             {"agentId", [](auto& r) { r.set_agent_id(std::string(500, 'a')); }},
             {"cursor", [](auto& r) { r.set_cursor("bm90IGEgY3Vyc29y"); }},
         }) {
      v1::ListCallsRequest req;
      c.set(req);
      v1::ListCallsResponse resp;
      expect(Call(&v1::Stats::Stub::ListCalls, req, &resp), c.param);
    }
  }
  {
    v1::GetCallStatsRequest req;
    v1::GetCallStatsResponse resp;
    req.set_status("done");
    expect(Call(&v1::Stats::Stub::GetCallStats, req, &resp), "status");
    req.set_status("");
    req.set_start_date("2025-10-31");
    req.set_end_date("2025-10-01");
    expect(Call(&v1::Stats::Stub::GetCallStats, req, &resp), "endDate");
    req.set_start_date("2025-10-32");
    expect(Call(&v1::Stats::Stub::GetCallStats, req, &resp), "startDate");
  }
  {
    v1::GetDailyStatsRequest req;
    v1::GetDailyStatsResponse resp;
    req.set_start_date("2000-01-01");
    req.set_end_date("2025-01-01");
    expect(Call(&v1::Stats::Stub::GetDailyStats, req, &resp), "endDate");
    req.set_start_date("2025-01-01");
    req.set_status("x");
    expect(Call(&v1::Stats::Stub::GetDailyStats, req, &resp), "status");
  }
  {
    v1::ListCallErrorsRequest req;
    v1::ListCallErrorsResponse resp;
    req.set_source("elevenlabs");
    expect(Call(&v1::Stats::Stub::ListCallErrors, req, &resp), "source");
    req.clear_source();
    req.set_limit(1000);
    expect(Call(&v1::Stats::Stub::ListCallErrors, req, &resp), "limit");
    req.set_limit(10);
    req.set_page(0);
    expect(Call(&v1::Stats::Stub::ListCallErrors, req, &resp), "page");
  }
}

TEST_F(StatsServiceTest, EveryRpcNeedsAValidTokenWithReadPermission) {
  const std::string none;
  const std::string garbage = "not.a.jwt";
  const std::string writer = SignToken(secret_, {"calls:write"});
  const std::string foreign = SignToken(common::RandomHex(32), {"calls:read"});
  struct Want {
    const std::string* token;
    grpc::StatusCode code;
  };
  for (const Want& w :
       {Want{&none, grpc::StatusCode::UNAUTHENTICATED},
        Want{&garbage, grpc::StatusCode::UNAUTHENTICATED},
        Want{&foreign, grpc::StatusCode::UNAUTHENTICATED},
        Want{&writer, grpc::StatusCode::PERMISSION_DENIED}, Want{&token_, grpc::StatusCode::OK}}) {
    v1::ListCallsResponse a;
    EXPECT_EQ(Call(&v1::Stats::Stub::ListCalls, v1::ListCallsRequest(), &a, w.token).error_code(),
              w.code);
    v1::GetCallStatsResponse b;
    EXPECT_EQ(
        Call(&v1::Stats::Stub::GetCallStats, v1::GetCallStatsRequest(), &b, w.token).error_code(),
        w.code);
    v1::GetDailyStatsResponse c;
    EXPECT_EQ(
        Call(&v1::Stats::Stub::GetDailyStats, v1::GetDailyStatsRequest(), &c, w.token).error_code(),
        w.code);
    v1::ListCallErrorsResponse d;
    EXPECT_EQ(Call(&v1::Stats::Stub::ListCallErrors, v1::ListCallErrorsRequest(), &d, w.token)
                  .error_code(),
              w.code);
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics

TEST_F(StatsServiceTest, CallStatsEnvelopeAndAggregates) {
  InsertCall("2025-10-01 09:00:00-05", "completed", "agent_a", 1, 100, "0.5000");
  InsertCall("2025-10-02 09:00:00-05", "completed", "agent_a", 1, 261, "1.2500");
  InsertCall("2025-10-03 09:00:00-05", "completed", "agent_b", 1, std::nullopt, "");
  InsertCall("2025-10-04 09:00:00-05", "failed", "agent_a", 1, 0, "0.0100");
  InsertCall("2025-10-05 09:00:00-05", "no_answer", "agent_b", 1, std::nullopt, "");
  InsertCall("2025-10-06 09:00:00-05", "busy", "agent_a", 1, std::nullopt, "");
  InsertCall("2025-10-07 09:00:00-05", "ended_manually", "agent_a", 1, 12, "0.0300");
  InsertCall("2025-11-01 09:00:00-05", "completed", "agent_a", 1, 999, "9.0000");  // outside

  v1::GetCallStatsRequest req;
  req.set_start_date("2025-10-01");
  req.set_end_date("2025-10-31");
  v1::GetCallStatsResponse resp;
  ASSERT_TRUE(Call(&v1::Stats::Stub::GetCallStats, req, &resp).ok());
  EXPECT_TRUE(resp.success());
  const v1::CallStats& d = resp.data();
  EXPECT_EQ(d.total_calls(), 7);
  EXPECT_EQ(d.completed_calls(), 3);
  EXPECT_EQ(d.failed_calls(), 3);      // failed + no_answer + busy
  EXPECT_EQ(d.avg_duration(), 180.5);  // (100 + 261) / 2: the completed calls with a duration
  EXPECT_EQ(d.total_cost(), 1.79);
  EXPECT_EQ(
      ByStatus(d),
      (std::map<std::string, int>{
          {"busy", 1}, {"completed", 3}, {"ended_manually", 1}, {"failed", 1}, {"no_answer", 1}}));
  for (const auto& b : d.by_status()) {
    if (b.status() == "ended_manually") {
      EXPECT_EQ(b.avg_duration(), 12);
      EXPECT_EQ(b.total_cost(), 0.03);
    }
  }
  EXPECT_EQ(Stats("2025-10-01", "2025-10-31", "", "agent_b").total_calls(), 2);
  const v1::CallStats completed = Stats("2025-10-01", "2025-10-31", "completed");
  EXPECT_EQ(completed.total_calls(), 3);
  EXPECT_EQ(completed.failed_calls(), 0);
  EXPECT_EQ(Stats("", "").total_calls(), 8);            // no range: everything
  EXPECT_EQ(Stats("2025-10-07", "").total_calls(), 2);  // open end
  EXPECT_EQ(Stats("", "2025-10-01").total_calls(), 1);  // open start
  EXPECT_EQ(Stats("2030-01-01", "2030-12-31").total_calls(), 0);
  EXPECT_EQ(Stats("2030-01-01", "2030-12-31").avg_duration(), 0);
}

// campaignId: the calls one campaign placed (its recipients' attempts), nothing else; served from
// the calls themselves (the rollups have no campaign), in GetCallStats and GetDailyStats alike.
TEST_F(StatsServiceTest, CampaignFilterCountsOnlyThatCampaignsCalls) {
  const auto ids = Exec(
      "INSERT INTO campaigns (name, purpose, agent_id, created_by) VALUES ('A', 'reminder', "
      "'agent_a', 't'), ('B', 'reminder', 'agent_a', 't') RETURNING id, campaign_id::text");
  const std::string a = ids[0][1].as<std::string>(), b = ids[1][1].as<std::string>();
  auto attempt = [&](int64_t campaign_row, int64_t call, int attempt_no) {
    const auto r = Exec(common::Cat("INSERT INTO campaign_recipients (campaign_id, phone_e164, state, "
                            "attempts) VALUES (", campaign_row, ", '+5730000001' || lpad('", call,
                            "', 2, '0'), 'in_call', ", attempt_no, ") RETURNING id"));
    Exec(common::Cat("UPDATE elevenlabs_conversations SET campaign_recipient_id = ", r[0][0].as<int64_t>(),
             ", attempt_no = ", attempt_no, " WHERE id = ", call));
  };
  attempt(ids[0][0].as<int64_t>(), InsertCall("2025-10-01 09:00:00-05", "completed"), 1);
  attempt(ids[0][0].as<int64_t>(), InsertCall("2025-10-02 09:00:00-05", "no_answer"), 1);
  attempt(ids[0][0].as<int64_t>(), InsertCall("2025-10-02 10:00:00-05", "completed"), 2);
  attempt(ids[1][0].as<int64_t>(), InsertCall("2025-10-02 11:00:00-05", "busy"), 1);
  InsertCall("2025-10-02 12:00:00-05", "completed");  // ad hoc

  v1::GetCallStatsRequest req;
  req.set_campaign_id(a);
  v1::GetCallStatsResponse resp;
  ASSERT_TRUE(Call(&v1::Stats::Stub::GetCallStats, req, &resp).ok());
  EXPECT_EQ(resp.data().total_calls(), 3);
  EXPECT_EQ(resp.data().completed_calls(), 2);
  EXPECT_EQ(resp.data().failed_calls(), 1);
  std::string upper = b;
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  req.set_campaign_id(upper);  // any case
  ASSERT_TRUE(Call(&v1::Stats::Stub::GetCallStats, req, &resp).ok());
  EXPECT_EQ(ByStatus(resp.data()), (std::map<std::string, int>{{"busy", 1}}));
  req.set_campaign_id("00000000-0000-4000-8000-000000000000");  // no such campaign: nothing
  ASSERT_TRUE(Call(&v1::Stats::Stub::GetCallStats, req, &resp).ok());
  EXPECT_EQ(resp.data().total_calls(), 0);
  EXPECT_EQ(Stats("", "").total_calls(), 5);

  v1::GetDailyStatsRequest daily;
  daily.set_start_date("2025-10-01");
  daily.set_end_date("2025-10-03");
  daily.set_campaign_id(a);
  v1::GetDailyStatsResponse dresp;
  ASSERT_TRUE(Call(&v1::Stats::Stub::GetDailyStats, daily, &dresp).ok());
  ASSERT_EQ(dresp.data_size(), 3);
  EXPECT_EQ(dresp.data(0).total_calls(), 1);
  EXPECT_EQ(dresp.data(1).total_calls(), 2);
  EXPECT_EQ(dresp.data(1).completed_calls(), 1);
  EXPECT_EQ(dresp.data(1).failed_calls(), 1);
  EXPECT_EQ(dresp.data(2).total_calls(), 0);

  req.set_campaign_id("campaña de prueba");
  const grpc::Status bad = Call(&v1::Stats::Stub::GetCallStats, req, &resp);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(bad.error_message().find("campaignId"), std::string::npos) << bad.error_message();
}

TEST_F(StatsServiceTest, ACallAtHalfPastElevenInBogotaCountsOnThatDay) {
  InsertCall("2025-03-10 23:30:00-05");  // = 2025-03-11 04:30 UTC
  InsertCall("2025-03-10 23:59:59.999999-05");
  InsertCall("2025-03-11 00:00:00-05");  // first instant of the 11th in Bogotá
  InsertCall("2025-03-10 00:00:00-05");
  InsertCall("2025-03-09 23:59:59-05");

  EXPECT_EQ(Stats("2025-03-10", "2025-03-10").total_calls(), 3);
  EXPECT_EQ(Stats("2025-03-11", "2025-03-11").total_calls(), 1);
  EXPECT_EQ(Stats("2025-03-09", "2025-03-09").total_calls(), 1);

  v1::GetDailyStatsRequest req;
  req.set_start_date("2025-03-08");
  req.set_end_date("2025-03-12");
  v1::GetDailyStatsResponse resp;
  ASSERT_TRUE(Call(&v1::Stats::Stub::GetDailyStats, req, &resp).ok());
  EXPECT_TRUE(resp.success());
  ASSERT_EQ(resp.count(), 5);
  ASSERT_EQ(resp.data_size(), 5);
  std::vector<std::pair<std::string, int>> got;
  for (const auto& d : resp.data()) got.emplace_back(d.date(), d.total_calls());
  EXPECT_EQ(got, (std::vector<std::pair<std::string, int>>{{"2025-03-08", 0},
                                                           {"2025-03-09", 1},
                                                           {"2025-03-10", 3},
                                                           {"2025-03-11", 1},
                                                           {"2025-03-12", 0}}));
  v1::ListCallsRequest lreq;
  lreq.set_start_date("2025-03-10");
  lreq.set_end_date("2025-03-10");
  EXPECT_EQ(List(lreq).pagination().total(), 3);
  EXPECT_EQ(List(lreq).data_size(), 3);
}

TEST_F(StatsServiceTest, AStateChangeAfterTheFactMovesTheCall) {
  const int64_t id =
      InsertCall("2025-04-02 10:00:00-05", "initiated", "agent_a", 1, std::nullopt, "");
  v1::CallStats s = Stats("2025-04-01", "2025-04-30");
  EXPECT_EQ(s.total_calls(), 1);
  EXPECT_EQ(s.completed_calls(), 0);
  EXPECT_EQ(ByStatus(s), (std::map<std::string, int>{{"initiated", 1}}));

  Exec("UPDATE elevenlabs_conversations SET status = 'in_progress' WHERE id = " +
       std::to_string(id));
  EXPECT_EQ(ByStatus(Stats("2025-04-01", "2025-04-30")),
            (std::map<std::string, int>{{"in_progress", 1}}));

  Exec(
      "UPDATE elevenlabs_conversations SET status = 'completed', duration_secs = 120, "
      "cost = 0.2500 WHERE id = " +
      std::to_string(id));
  s = Stats("2025-04-01", "2025-04-30");
  EXPECT_EQ(s.total_calls(), 1);
  EXPECT_EQ(s.completed_calls(), 1);
  EXPECT_EQ(s.avg_duration(), 120);
  EXPECT_EQ(s.total_cost(), 0.25);
  EXPECT_EQ(ByStatus(s), (std::map<std::string, int>{{"completed", 1}}));
  EXPECT_EQ(Stats("2025-04-01", "2025-04-30", "initiated").total_calls(), 0);

  // A failed call and a later cost correction.
  const int64_t other =
      InsertCall("2025-04-03 10:00:00-05", "ringing", "agent_b", 2, std::nullopt, "");
  Exec("UPDATE elevenlabs_conversations SET status = 'busy' WHERE id = " + std::to_string(other));
  Exec("UPDATE elevenlabs_conversations SET cost = 0.3000 WHERE id = " + std::to_string(id));
  s = Stats("2025-04-01", "2025-04-30");
  EXPECT_EQ(s.total_calls(), 2);
  EXPECT_EQ(s.failed_calls(), 1);
  EXPECT_EQ(s.total_cost(), 0.3);

  // Moved to another day (a corrected created_at) and erased.
  Exec("UPDATE elevenlabs_conversations SET created_at = '2025-05-01 10:00:00-05' WHERE id = " +
       std::to_string(other));
  EXPECT_EQ(Stats("2025-04-01", "2025-04-30").total_calls(), 1);
  EXPECT_EQ(Stats("2025-05-01", "2025-05-01").failed_calls(), 1);
  Exec("DELETE FROM elevenlabs_conversations WHERE id = " + std::to_string(id));
  EXPECT_EQ(Stats("2025-04-01", "2025-04-30").total_calls(), 0);
  // Empty groups leave no rollup rows behind.
  EXPECT_EQ(Exec("SELECT count(*) FROM call_daily_rollups")[0][0].as<int>(), 1);
  EXPECT_EQ(Exec("SELECT count(*) FROM call_monthly_rollups")[0][0].as<int>(), 1);
  EXPECT_EQ(Exec("SELECT count(*) FROM stats_verify_rollups()")[0][0].as<int>(), 0);
}

// Migration 0022: the rollup rows of a group are spread over 8 stripes by call id (concurrent
// writers meet rarely); stats_fold_rollups() folds past days back into one row per group, and a
// later change to an old call keeps every group exact before and after the next fold.
TEST_F(StatsServiceTest, StripedRollupsFoldIntoOneRowPerGroupAndStayExact) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 24; ++i) ids.push_back(InsertCall("2025-08-05 10:00:00-05", "completed", "agent_a", 1, 30, "0.0100"));
  for (int i = 0; i < 5; ++i) InsertCall("2025-08-05 11:00:00-05", "failed", "agent_a", 1, 0, "0");
  auto rows = [&](const std::string& table) {
    return Exec("SELECT count(*) FROM " + table)[0][0].as<int>();
  };
  EXPECT_EQ(rows("call_daily_rollups WHERE status = 'completed'"), 8);  // 24 ids: every stripe
  EXPECT_EQ(rows("call_monthly_rollups WHERE status = 'completed'"), 8);
  EXPECT_EQ(Stats("2025-08-05", "2025-08-05").total_calls(), 29);
  EXPECT_EQ(Exec("SELECT count(*) FROM stats_verify_rollups()")[0][0].as<int>(), 0);

  EXPECT_GT(Exec("SELECT stats_fold_rollups()")[0][0].as<int64_t>(), 0);
  EXPECT_EQ(rows("call_daily_rollups"), 2);  // completed, failed: one row each
  EXPECT_EQ(rows("call_monthly_rollups"), 2);
  EXPECT_EQ(rows("call_daily_rollups WHERE stripe <> 0"), 0);
  EXPECT_EQ(Exec("SELECT count(*) FROM stats_verify_rollups()")[0][0].as<int>(), 0);
  const v1::CallStats folded = Stats("2025-08-05", "2025-08-05");
  EXPECT_EQ(folded.total_calls(), 29);
  EXPECT_EQ(folded.completed_calls(), 24);
  EXPECT_EQ(folded.total_cost(), 0.24);
  EXPECT_EQ(Stats("2025-08-01", "2025-08-31").total_calls(), 29);  // the monthly rows
  EXPECT_EQ(Exec("SELECT stats_fold_rollups()")[0][0].as<int64_t>(), 0);  // nothing left to fold

  // An old call changes later (its cost corrected, another one erased): its delta lands in its
  // own stripe; the sums stay exact, and the next fold leaves one row per group again.
  Exec("UPDATE elevenlabs_conversations SET cost = 0.0300 WHERE id = " + std::to_string(ids[3]));
  Exec("DELETE FROM elevenlabs_conversations WHERE id = " + std::to_string(ids[5]));
  EXPECT_EQ(Exec("SELECT count(*) FROM stats_verify_rollups()")[0][0].as<int>(), 0);
  EXPECT_EQ(Stats("2025-08-05", "2025-08-05").total_calls(), 28);
  EXPECT_EQ(Stats("2025-08-05", "2025-08-05").total_cost(), 0.25);
  Exec("SELECT stats_fold_rollups()");
  EXPECT_EQ(rows("call_daily_rollups"), 2);
  EXPECT_EQ(Exec("SELECT count(*) FROM stats_verify_rollups()")[0][0].as<int>(), 0);
  EXPECT_EQ(Stats("2025-08-01", "2025-08-31").total_cost(), 0.25);

  // Today's rows are not folded (they are the hot ones), and a rebuild writes history folded.
  Exec("SELECT stats_rebuild_rollups()");
  EXPECT_EQ(rows("call_daily_rollups"), 2);
  EXPECT_EQ(Exec("SELECT count(*) FROM stats_verify_rollups()")[0][0].as<int>(), 0);
}

TEST_F(StatsServiceTest, StatisticsAreReadFromTheRollups) {
  InsertCall("2025-06-01 10:00:00-05");
  InsertCall("2025-06-02 10:00:00-05");
  auto direct = server_->store().CallStats({}, absl::Now() + absl::Seconds(30));
  ASSERT_TRUE(direct.ok()) << direct.status();
  EXPECT_TRUE(direct->from_rollups);
  EXPECT_EQ(direct->all.calls, 2);
  // A caller deadline shorter than the statement timeout: the query runs in a transaction of its
  // own with a timeout from that deadline, same answer.
  auto hurried = server_->store().CallStats({}, absl::Now() + absl::Seconds(3));
  ASSERT_TRUE(hurried.ok()) << hurried.status();
  EXPECT_TRUE(hurried->from_rollups);
  EXPECT_EQ(hurried->all.calls, 2);
  EXPECT_EQ(server_->store().CallStats({}, absl::Now() - absl::Seconds(1)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(Stats("2025-06-01", "2025-06-30").total_calls(), 2);

  // Tamper with rollup rows: the service's answers follow them, so it does read the rollups
  // (daily rows for part of a month, the monthly row for a whole month); the verification
  // function sees the drift and the rebuild repairs it.
  Exec("UPDATE call_daily_rollups SET calls = calls + 5 WHERE day = '2025-06-01'");
  EXPECT_EQ(Stats("2025-06-01", "2025-06-29").total_calls(), 7);
  EXPECT_EQ(Stats("2025-06-01", "2025-06-30").total_calls(), 2);
  // One stripe of the month (its two calls are in the stripes of their ids).
  Exec("UPDATE call_monthly_rollups SET calls = calls + 10 WHERE month = '2025-06-01' AND stripe = "
       "(SELECT min(stripe) FROM call_monthly_rollups WHERE month = '2025-06-01')");
  EXPECT_EQ(Stats("2025-06-01", "2025-06-30").total_calls(), 12);
  EXPECT_EQ(Stats("2025-05-31", "2025-07-01").total_calls(), 12);
  EXPECT_EQ(Stats("2025-06-02", "2025-06-30").total_calls(), 1);
  EXPECT_EQ(Exec("SELECT count(*) FROM stats_verify_rollups()")[0][0].as<int>(), 2);
  Exec("SELECT stats_rebuild_rollups()");
  EXPECT_EQ(Stats("2025-06-01", "2025-06-29").total_calls(), 2);
  EXPECT_EQ(Stats("2025-06-01", "2025-06-30").total_calls(), 2);
  EXPECT_EQ(Exec("SELECT count(*) FROM stats_verify_rollups()")[0][0].as<int>(), 0);
}

// A failing query is reported by class only, and its connection goes back to the pool clean
// (its transaction rolled back): the next requests on every pooled connection succeed.
TEST_F(StatsServiceTest, AFailedQueryLeavesNoBrokenConnectionBehind) {
  InsertCall("2025-06-10 10:00:00-05");
  Exec("ALTER TABLE call_monthly_rollups RENAME TO call_monthly_rollups_away");
  for (int i = 0; i < 5; ++i) {  // more requests than pooled connections
    v1::GetCallStatsRequest req;
    req.set_start_date("2025-06-01");
    req.set_end_date("2025-06-30");  // a whole month: read from the monthly rollups
    v1::GetCallStatsResponse resp;
    const grpc::Status s = Call(&v1::Stats::Stub::GetCallStats, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
    EXPECT_EQ(s.error_message(), "database error (42P01)");  // no SQL text, no table name
  }
  Exec("ALTER TABLE call_monthly_rollups_away RENAME TO call_monthly_rollups");
  for (int i = 0; i < 6; ++i) EXPECT_EQ(Stats("2025-06-01", "2025-06-30").total_calls(), 1);
  v1::ListCallsRequest req;
  req.set_start_date("2025-06-01");
  for (int i = 0; i < 6; ++i) EXPECT_EQ(List(req).pagination().total(), 1);
}

TEST_F(StatsServiceTest, AnotherClinicTimeZoneIsServedFromTheRawCallsUntilTheRollupsFollow) {
  InsertCall("2025-03-10 23:30:00-05");  // 2025-03-11 04:30 UTC
  InsertCall("2025-03-10 12:00:00-05");
  StatsServer utc(db_.url(), "UTC", secret_);
  ASSERT_TRUE(utc.started().ok());

  auto stats_in_utc = [&](const std::string& day) {
    v1::GetCallStatsRequest req;
    req.set_start_date(day);
    req.set_end_date(day);
    v1::GetCallStatsResponse resp;
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token_);
    EXPECT_TRUE(utc.stub().GetCallStats(&ctx, req, &resp).ok());
    return resp.data().total_calls();
  };
  EXPECT_EQ(stats_in_utc("2025-03-10"), 1);
  EXPECT_EQ(stats_in_utc("2025-03-11"), 1);
  auto raw = utc.store().CallStats({}, absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(raw.ok());
  EXPECT_FALSE(raw->from_rollups);
  // Meanwhile the Bogotá service still reads rollups cut in Bogotá.
  EXPECT_EQ(Stats("2025-03-10", "2025-03-10").total_calls(), 2);

  // The database follows (rebuilding the rollups in the same transaction): rollups again.
  Exec("UPDATE stats_settings SET clinic_timezone = 'UTC'");
  EXPECT_EQ(Exec("SELECT count(*) FROM stats_verify_rollups()")[0][0].as<int>(), 0);
  auto again = utc.store().CallStats({}, absl::Now() + absl::Seconds(10));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->from_rollups);
  EXPECT_EQ(stats_in_utc("2025-03-10"), 1);
  EXPECT_EQ(stats_in_utc("2025-03-11"), 1);
  // ... and now the Bogotá-configured service is the one scanning raw calls, still right.
  EXPECT_EQ(Stats("2025-03-10", "2025-03-10").total_calls(), 2);

  // Only real zone names are accepted.
  EXPECT_THROW(Exec("UPDATE stats_settings SET clinic_timezone = 'Mars/Base'"), pqxx::sql_error);
  EXPECT_THROW(Exec("DELETE FROM stats_settings"), pqxx::sql_error);
}

// The statistics equal the same aggregates computed directly in SQL, over random calls,
// random later state changes and deletions, and random filters.
TEST_F(StatsServiceTest, RandomisedStatsEqualDirectSqlAggregates) {
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const std::vector<std::string> agents = {"agent_a", "agent_b", "agent_c"};
  const std::vector<std::string> finals = {"completed", "completed", "completed",      "failed",
                                           "no_answer", "busy",      "ended_manually", "canceled"};
  const std::vector<std::string> open = {"queued", "initiated", "ringing", "in_progress"};

  // 1500 calls over 60 days from 2025-01-01 (Bogotá), many close to midnight, in batches.
  for (int batch = 0; batch < 15; ++batch) {
    std::string values;
    for (int i = 0; i < 100; ++i) {
      const int n = ++calls_;
      const bool near_midnight = uniform(0, 3) == 0;
      const int minute =
          near_midnight ? (uniform(0, 1) ? uniform(1410, 1439) : uniform(0, 30)) : uniform(0, 1439);
      const std::string status = uniform(0, 4) == 0 ? open[uniform(0, 3)] : finals[uniform(0, 7)];
      const bool has_duration = status == "completed" ? uniform(0, 9) > 0 : uniform(0, 2) == 0;
      const bool has_cost = uniform(0, 4) > 0;
      char cost[32];
      std::snprintf(cost, sizeof cost, "%d.%04d", uniform(0, 3), uniform(0, 9999));
      if (!values.empty()) values += ",";
      values += "('conv_r" + std::to_string(n) + "', '" + agents[uniform(0, 2)] + "', " +
                std::to_string(uniform(1, 9)) + ", '+5732" + std::to_string(10000000 + n) + "', '" +
                status + "', timestamptz '2025-01-01 00:00:00-05' + interval '" +
                std::to_string(uniform(0, 59)) + " days " + std::to_string(minute) + " minutes " +
                std::to_string(uniform(0, 59)) + " seconds', now(), " +
                (has_duration ? std::to_string(uniform(0, 900)) : "NULL") + ", " +
                (has_cost ? std::string(cost) : "NULL") + ")";
    }
    Exec(
        "INSERT INTO elevenlabs_conversations (conversation_id, agent_id, patient_id, "
        "phone_number, status, created_at, dial_attempted_at, duration_secs, cost) VALUES " +
        values);
  }
  // Later events: open calls finish (some in multi-row statements, some one by one), costs
  // arrive, a few calls are erased.
  Exec(
      "UPDATE elevenlabs_conversations SET status = 'completed', duration_secs = 30 + id % 300, "
      "cost = (id % 97) / 100.0 WHERE status = 'in_progress' AND id % 2 = 0");
  Exec(
      "UPDATE elevenlabs_conversations SET status = 'no_answer' WHERE status = 'ringing' AND id % "
      "3 = 0");
  for (int i = 0; i < 40; ++i) {
    const std::string& to = finals[uniform(0, 7)];
    Exec("UPDATE elevenlabs_conversations SET status = '" + to +
         "' WHERE id = (SELECT id FROM elevenlabs_conversations WHERE status IN "
         "('queued', 'initiated', 'ringing', 'in_progress') ORDER BY id OFFSET " +
         std::to_string(uniform(0, 20)) + " LIMIT 1)");
  }
  Exec(
      "UPDATE elevenlabs_conversations SET cost = cost + 0.0001 WHERE id % 11 = 0 AND cost IS NOT "
      "NULL");
  Exec("DELETE FROM elevenlabs_conversations WHERE id % 37 = 0");
  Exec(
      "UPDATE elevenlabs_conversations SET created_at = created_at + interval '5 hours' WHERE id % "
      "53 = 0");

  ASSERT_EQ(Exec("SELECT count(*) FROM stats_verify_rollups()")[0][0].as<int>(), 0);

  const std::vector<std::string> statuses = {"completed", "failed",    "no_answer", "busy",
                                             "queued",    "initiated", "canceled"};
  for (int q = 0; q < 40; ++q) {
    const absl::CivilDay first(2024, 12, 30);
    const absl::CivilDay a = first + uniform(0, 62);
    const absl::CivilDay b = a + uniform(0, 75);  // often spans whole months
    const std::string start = uniform(0, 9) == 0 ? "" : stats::FormatDay(a);
    const std::string end = uniform(0, 9) == 0 ? "" : stats::FormatDay(b);
    const std::string status = uniform(0, 2) == 0 ? statuses[uniform(0, 6)] : "";
    const std::string agent = uniform(0, 2) == 0 ? agents[uniform(0, 2)] : "";
    SCOPED_TRACE("query " + start + ".." + end + " status=" + status + " agent=" + agent);

    std::string where = "true";
    const std::string day = "(created_at AT TIME ZONE 'America/Bogota')::date";
    if (!start.empty()) where += " AND " + day + " >= '" + start + "'";
    if (!end.empty()) where += " AND " + day + " <= '" + end + "'";
    if (!status.empty()) where += " AND status = '" + status + "'";
    if (!agent.empty()) where += " AND agent_id = '" + agent + "'";
    const pqxx::row want = Exec(
        "SELECT count(*), count(*) FILTER (WHERE status = 'completed'), "
        "count(*) FILTER (WHERE status IN ('failed', 'no_answer', 'busy')), "
        "(avg(duration_secs) FILTER (WHERE status = 'completed'))::text, "
        "COALESCE(sum(cost), 0)::text FROM elevenlabs_conversations WHERE " +
        where)[0];
    const v1::CallStats got = Stats(start, end, status, agent);
    EXPECT_EQ(got.total_calls(), want[0].as<int>());
    EXPECT_EQ(got.completed_calls(), want[1].as<int>());
    EXPECT_EQ(got.failed_calls(), want[2].as<int>());
    EXPECT_EQ(got.avg_duration(), stats::DecimalToDouble(want[3].is_null() ? "" : want[3].c_str()));
    EXPECT_EQ(got.total_cost(), stats::DecimalToDouble(want[4].c_str()));

    std::map<std::string, std::tuple<int, double, double>> want_by_status;
    for (const auto& r : Exec("SELECT status, count(*), avg(duration_secs)::text, "
                              "COALESCE(sum(cost), 0)::text FROM elevenlabs_conversations WHERE " +
                              where + " GROUP BY status")) {
      want_by_status[r[0].as<std::string>()] = {
          r[1].as<int>(), stats::DecimalToDouble(r[2].is_null() ? "" : r[2].c_str()),
          stats::DecimalToDouble(r[3].c_str())};
    }
    std::map<std::string, std::tuple<int, double, double>> got_by_status;
    for (const auto& s : got.by_status()) {
      got_by_status[s.status()] = {s.count(), s.avg_duration(), s.total_cost()};
    }
    EXPECT_EQ(got_by_status, want_by_status);

    // The history's total for the same filters agrees.
    v1::ListCallsRequest lreq;
    lreq.set_start_date(start);
    lreq.set_end_date(end);
    lreq.set_status(status);
    lreq.set_agent_id(agent);
    lreq.set_limit(1);
    EXPECT_EQ(List(lreq).pagination().total(), want[0].as<int>());
  }

  // The daily series, day by day.
  v1::GetDailyStatsRequest dreq;
  dreq.set_start_date("2024-12-31");
  dreq.set_end_date("2025-03-05");
  v1::GetDailyStatsResponse dresp;
  ASSERT_TRUE(Call(&v1::Stats::Stub::GetDailyStats, dreq, &dresp).ok());
  std::map<std::string, std::tuple<int, int, int, double, double>> want_daily;
  for (const auto& r :
       Exec("SELECT to_char(d, 'YYYY-MM-DD'), count(c.id), count(c.id) FILTER (WHERE c.status = "
            "'completed'), "
            "count(c.id) FILTER (WHERE c.status IN ('failed', 'no_answer', 'busy')), "
            "(avg(c.duration_secs) FILTER (WHERE c.status = 'completed'))::text, "
            "COALESCE(sum(c.cost), 0)::text "
            "FROM generate_series(date '2024-12-31', date '2025-03-05', interval '1 day') d "
            "LEFT JOIN elevenlabs_conversations c ON (c.created_at AT TIME ZONE "
            "'America/Bogota')::date = d::date "
            "GROUP BY d ORDER BY d")) {
    want_daily[r[0].as<std::string>()] = {
        r[1].as<int>(), r[2].as<int>(), r[3].as<int>(),
        stats::DecimalToDouble(r[4].is_null() ? "" : r[4].c_str()),
        stats::DecimalToDouble(r[5].c_str())};
  }
  std::map<std::string, std::tuple<int, int, int, double, double>> got_daily;
  for (const auto& d : dresp.data()) {
    got_daily[d.date()] = {d.total_calls(), d.completed_calls(), d.failed_calls(), d.avg_duration(),
                           d.total_cost()};
  }
  EXPECT_EQ(dresp.count(), 65);
  EXPECT_EQ(got_daily, want_daily);
}

// Several writers on the same (day, status, agent) groups at once: no error, no deadlock, exact.
TEST_F(StatsServiceTest, ConcurrentWritersKeepTheRollupsExact) {
  constexpr int kThreads = 4;
  constexpr int kCallsEach = 60;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      pqxx::connection c(db_.url());
      for (int i = 0; i < kCallsEach; ++i) {
        try {
          pqxx::work tx(c);
          const std::string n = std::to_string(t * 1000 + i);
          const int64_t id =
              tx.exec1(
                    "INSERT INTO elevenlabs_conversations (conversation_id, agent_id, "
                    "phone_number, status, "
                    "created_at) VALUES ('conv_c" +
                    n + "', 'agent_hot', '+5733" + std::to_string(10000000 + t * 1000 + i) +
                    "', 'initiated', '2025-07-01 10:00:00-05') RETURNING id")[0]
                  .as<int64_t>();
          tx.exec("UPDATE elevenlabs_conversations SET status = 'in_progress' WHERE id = " +
                  std::to_string(id));
          tx.exec("UPDATE elevenlabs_conversations SET status = '" +
                  std::string(i % 4 == 0 ? "failed" : "completed") +
                  "', duration_secs = 10, cost = 0.0100 WHERE id = " + std::to_string(id));
          tx.commit();
        } catch (const std::exception& e) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  const v1::CallStats s = Stats("2025-07-01", "2025-07-01", "", "agent_hot");
  EXPECT_EQ(s.total_calls(), kThreads * kCallsEach);
  EXPECT_EQ(s.failed_calls(), kThreads * kCallsEach / 4);
  EXPECT_EQ(s.total_cost(), 2.4);  // 240 calls at 0.0100, summed exactly
  EXPECT_EQ(Exec("SELECT count(*) FROM stats_verify_rollups()")[0][0].as<int>(), 0);
  // Two groups (failed, completed), each spread over the 8 stripes of its calls' ids.
  EXPECT_EQ(Exec("SELECT count(DISTINCT (day, status)) FROM call_daily_rollups WHERE agent_id = "
                 "'agent_hot'")[0][0]
                .as<int>(),
            2);
  EXPECT_EQ(Exec("SELECT count(DISTINCT (month, status)) FROM call_monthly_rollups WHERE agent_id = "
                 "'agent_hot'")[0][0]
                .as<int>(),
            2);
  EXPECT_EQ(Exec("SELECT count(*) FROM call_daily_rollups WHERE agent_id = 'agent_hot'")[0][0].as<int>(),
            16);
  EXPECT_EQ(Exec("SELECT count(*) FROM call_daily_rollups WHERE calls < 0")[0][0].as<int>(), 0);
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST_F(StatsServiceTest, ListCallErrorsPagesFiltersAndMasksNumbers) {
  const int64_t call = InsertCall("2025-08-01 10:00:00-05");
  const std::string call_uuid =
      Exec("SELECT call_id::text FROM elevenlabs_conversations WHERE id = " +
           std::to_string(call))[0][0]
          .as<std::string>();
  Exec(
      "INSERT INTO elevenlabs_call_errors (call_row_id, conversation_id, source, error_code, "
      "http_status, message, created_at) SELECT " +
      std::to_string(call) +
      ", 'conv_1', 'provider', 'rate_limited', 429, 'too many requests #' || g, "
      "timestamptz '2025-08-01 10:00:00-05' + g * interval '1 minute' FROM generate_series(1, 25) "
      "g");
  Exec(
      "INSERT INTO elevenlabs_call_errors (conversation_id, source, message, created_at) VALUES "
      "('conv_unknown', 'webhook', 'unknown conversation for +57 300 123 4567', '2025-08-02 "
      "10:00:00-05')");

  v1::ListCallErrorsRequest req;
  v1::ListCallErrorsResponse resp;
  ASSERT_TRUE(Call(&v1::Stats::Stub::ListCallErrors, req, &resp).ok());
  EXPECT_TRUE(resp.success());
  ASSERT_EQ(resp.data_size(), 20);
  EXPECT_EQ(resp.pagination().total(), 26);
  EXPECT_EQ(resp.pagination().pages(), 2);
  EXPECT_EQ(resp.data(0).source(), "webhook");  // newest first
  EXPECT_THAT(resp.data(0).message(), ::testing::Not(HasSubstr("123 4567")));
  EXPECT_EQ(resp.data(0).http_status(), 0);
  EXPECT_EQ(resp.data(1).message(), "too many requests #25");
  EXPECT_EQ(resp.data(1).code(), "rate_limited");
  EXPECT_EQ(resp.data(1).http_status(), 429);
  EXPECT_EQ(resp.data(1).call_id(), call_uuid);

  req.set_page(2);
  resp.Clear();
  ASSERT_TRUE(Call(&v1::Stats::Stub::ListCallErrors, req, &resp).ok());
  ASSERT_EQ(resp.data_size(), 6);
  EXPECT_EQ(resp.data(5).message(), "too many requests #1");

  auto total = [&](const std::string& source, const std::string& conv) {
    v1::ListCallErrorsRequest r;
    r.set_source(source);
    r.set_conversation_id(conv);
    v1::ListCallErrorsResponse out;
    EXPECT_TRUE(Call(&v1::Stats::Stub::ListCallErrors, r, &out).ok());
    return out.pagination().total();
  };
  EXPECT_EQ(total("webhook", ""), 1);
  EXPECT_EQ(total("provider", ""), 25);
  EXPECT_EQ(total("reconciler", ""), 0);
  EXPECT_EQ(total("", "conv_unknown"), 1);
  EXPECT_EQ(total("", call_uuid), 25);  // our call id works wherever a conversation id does
  EXPECT_EQ(total("", "conv_nothing"), 0);
}

// ---------------------------------------------------------------------------------------------
// The read-only role

TEST_F(StatsServiceTest, ServesEveryRpcThroughARoleWithOnlyReaderPrivileges) {
  InsertCall("2025-09-01 10:00:00-05");
  Exec(
      "INSERT INTO elevenlabs_call_errors (conversation_id, source, message) VALUES ('conv_1', "
      "'internal', 'x')");
  const std::string role = "stats_ro_" + common::RandomHex(4);
  const std::string password = common::RandomHex(16);
  Exec("CREATE ROLE " + role + " LOGIN PASSWORD '" + password + "' IN ROLE outcall_reader");
  struct DropRole {
    std::string admin_url, role;
    ~DropRole() {
      try {
        pqxx::connection c(admin_url);
        pqxx::nontransaction tx(c);
        tx.exec("DROP ROLE IF EXISTS " + role);
      } catch (...) {
      }
    }
  } drop{std::getenv("DATABASE_URL"), role};

  // The test database's URL with the new role's credentials.
  std::string url = db_.url();
  const size_t scheme = url.find("://") + 3;
  const size_t at = url.find('@', scheme);
  ASSERT_NE(at, std::string::npos) << "expected a user@host URL";
  url = url.substr(0, scheme) + role + ":" + password + url.substr(at);

  {
    // The role can read, and cannot write or rebuild anything.
    pqxx::connection c(url);
    pqxx::work tx(c);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM call_daily_rollups")[0].as<int>(), 1);
    EXPECT_THROW(
        tx.exec(
            "INSERT INTO call_daily_rollups VALUES ('2025-01-01', 'completed', 'x', 1, 0, 0, 0)"),
        pqxx::insufficient_privilege);
  }
  {
    pqxx::connection c(url);
    pqxx::work tx(c);
    EXPECT_THROW(tx.exec("SELECT stats_rebuild_rollups()"), pqxx::insufficient_privilege);
  }

  {
    StatsServer ro(url, "America/Bogota", secret_);
    ASSERT_TRUE(ro.started().ok());
    auto ctx = [&] {
      auto c = std::make_unique<grpc::ClientContext>();
      c->AddMetadata("authorization", "Bearer " + token_);
      return c;
    };
    v1::ListCallsRequest lreq;
    lreq.set_patient_id(1);  // the raw count path
    v1::ListCallsResponse l;
    grpc::Status s = ro.stub().ListCalls(ctx().get(), lreq, &l);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(l.data_size(), 1);
    v1::ListCallsResponse l2;
    ASSERT_TRUE(ro.stub().ListCalls(ctx().get(), v1::ListCallsRequest(), &l2).ok());
    EXPECT_EQ(l2.pagination().total(), 1);
    v1::GetCallStatsRequest sreq;
    sreq.set_start_date("2025-09-01");
    sreq.set_end_date("2025-09-30");
    v1::GetCallStatsResponse st;
    ASSERT_TRUE(ro.stub().GetCallStats(ctx().get(), sreq, &st).ok());
    EXPECT_EQ(st.data().total_calls(), 1);
    v1::GetDailyStatsRequest dreq;
    dreq.set_start_date("2025-09-01");
    dreq.set_end_date("2025-09-03");
    v1::GetDailyStatsResponse d;
    ASSERT_TRUE(ro.stub().GetDailyStats(ctx().get(), dreq, &d).ok());
    EXPECT_EQ(d.count(), 3);
    v1::ListCallErrorsResponse e;
    ASSERT_TRUE(ro.stub().ListCallErrors(ctx().get(), v1::ListCallErrorsRequest(), &e).ok());
    EXPECT_EQ(e.pagination().total(), 1);
  }
}

}  // namespace
}  // namespace outcall
