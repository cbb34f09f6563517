// Integration with the clinic's systems (issue 18), through call-gateway's real gRPC face and
// PostgreSQL with the gateway's role: sync batches with good and bad rows, re-sent; FHIR
// imports; a moved and a canceled appointment reaching queued campaigns (manual and automation);
// outbound webhooks to a real HTTP receiver: Standard Webhooks headers and signature, masked data,
// order per subject through a failing receiver, backoff, a receiver that stays down (disabled,
// nothing lost, resumed), replay, and a sender that died holding deliveries.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "http_test_server.h"
#include "outcall/common/crypto.h"
#include "outcall/v1/campaigns.grpc.pb.h"
#include "outcall/v1/sync.grpc.pb.h"
#include "outcall/v1/webhooks.grpc.pb.h"
#include "pipeline_fixture.h"
#include "webhook_sender.h"
#include "webhook_store.h"

namespace outcall {
namespace {

namespace json = boost::json;
using common::Cat;
using google::protobuf::util::TimeUtil;

google::protobuf::Timestamp At(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

// A receiver of outbound webhooks: records every request; answers 503 while `failing`. (The
// independent Standard Webhooks check is tests/outbound/receiver.mjs, with the spec's library.)
struct Receiver {
  Receiver()
      : server([this](const testing::TestHttpRequest& r) {
          std::lock_guard lock(mu);
          got.push_back(r);
          testing::TestHttpResponse out;
          out.status = failing ? 503 : 200;
          // One connection at a time: none left idle to hold the server's only thread.
          out.headers["connection"] = "close";
          return out;
        }) {}
  std::vector<testing::TestHttpRequest> Got() {
    std::lock_guard lock(mu);
    return got;
  }
  std::mutex mu;
  std::vector<testing::TestHttpRequest> got;
  std::atomic<bool> failing{false};
  testing::HttpTestServer server;
};

class IntegrationTest : public testing::PipelineFixture {
 protected:
  void ConfigureGateway(call_gateway::GatewayOptions& o) override {
    o.webhooks.retry_base = absl::Milliseconds(20);
    o.webhooks.retry_max = absl::Milliseconds(80);
    o.webhooks.timeout = absl::Seconds(2);
    o.webhooks.lease = absl::Seconds(5);
    o.webhooks.disable = {.min_failures = 4, .failing_for = absl::ZeroDuration()};
    o.webhooks.owner = "test-sender";
    // The test receiver serves one keep-alive connection at a time: one sender thread.
    o.webhooks.workers = 1;
  }
  void SetUp() override {
    PipelineFixture::SetUp();
    if (HasFatalFailure()) return;
    auto channel = grpc::CreateChannel(Cat("127.0.0.1:", grpc_->port()),
                                       grpc::InsecureChannelCredentials());
    sync_ = v1::ClinicSync::NewStub(channel);
    hooks_ = v1::Webhooks::NewStub(channel);
    campaigns_ = v1::Campaigns::NewStub(channel);
  }

  void Writer(grpc::ClientContext& ctx) {
    Auth(ctx, {"sync:read", "sync:write", "webhooks:admin", "calls:read", "campaigns:write"});
  }
  // One RPC with a writer's token: its answer (a failed call fails the test).
  template <typename Stub, typename Req, typename Resp>
  Resp Call(Stub& stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
            const Req& req) {
    grpc::ClientContext ctx;
    Writer(ctx);
    Resp out;
    const grpc::Status s = (stub.*method)(&ctx, req, &out);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return out;
  }

  v1::SyncResponse Patients(const std::vector<std::array<std::string, 3>>& rows) {
    v1::UpsertPatientsRequest req;
    for (const auto& [ref, name, phone] : rows) {
      v1::PatientInput* p = req.add_patients();
      p->set_external_ref(ref);
      p->set_full_name(name);
      p->set_phone(phone);
    }
    return Call(*sync_, &v1::ClinicSync::Stub::UpsertPatients, req);
  }

  v1::SyncResponse Appointments(const std::vector<v1::AppointmentInput>& rows) {
    v1::UpsertAppointmentsRequest req;
    for (const auto& a : rows) *req.add_appointments() = a;
    return Call(*sync_, &v1::ClinicSync::Stub::UpsertAppointments, req);
  }

  static v1::AppointmentInput Appt(const std::string& ref, const std::string& patient,
                                   absl::Time at, const std::string& status = "") {
    v1::AppointmentInput a;
    a.set_external_ref(ref);
    a.set_patient_external_ref(patient);
    *a.mutable_scheduled_at() = At(at);
    a.set_doctor_name("Dra. Gómez");
    a.set_specialty("Cardiología");
    a.set_status(status);
    return a;
  }

  v1::SyncedAppointment Cancel(const std::string& ref) {
    v1::CancelAppointmentRequest req;
    req.set_external_ref(ref);
    return Call(*sync_, &v1::ClinicSync::Stub::CancelAppointment, req);
  }

  v1::WebhookSubscription Subscribe(const std::string& url, std::vector<std::string> types,
                                    bool full_data = false, const std::string& key = "",
                                    grpc::Status* status = nullptr) {
    v1::CreateWebhookSubscriptionRequest req;
    req.set_url(url);
    for (auto& t : types) req.add_event_types(t);
    req.set_full_data(full_data);
    grpc::ClientContext ctx;
    Writer(ctx);
    if (!key.empty()) ctx.AddMetadata("idempotency-key", key);
    v1::WebhookSubscription out;
    auto s = hooks_->CreateWebhookSubscription(&ctx, req, &out);
    if (status) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return out;
  }

  v1::WebhookSubscription GetSub(const std::string& id) {
    v1::WebhookSubscriptionRef req;
    req.set_subscription_id(id);
    return Call(*hooks_, &v1::Webhooks::Stub::GetWebhookSubscription, req);
  }

  // Sender passes (real time: the test's backoff is milliseconds) until `done` or 5 s.
  bool SendUntil(const std::function<bool()>& done) {
    for (int i = 0; i < 250; ++i) {
      auto n = gateway_service_->SendWebhooksOnce();
      EXPECT_TRUE(n.ok()) << n.status();
      if (done()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return done();
  }

  std::unique_ptr<v1::ClinicSync::Stub> sync_;
  std::unique_ptr<v1::Webhooks::Stub> hooks_;
  std::unique_ptr<v1::Campaigns::Stub> campaigns_;
};

const v1::SyncRowResult& Row(const v1::SyncResponse& r, int index) {
  for (const auto& x : r.results()) {
    if (x.index() == index) return x;
  }
  static v1::SyncRowResult none;
  ADD_FAILURE() << "no result for row " << index;
  return none;
}

TEST_F(IntegrationTest, SyncBatchesKeepTheGoodRowsRefuseTheBadOnesAndAreIdempotent) {
  auto r = Patients({{"CC-1", "María Rodríguez", "300 123 4567"},
                     {"CC-2", "Juan Pérez", "315 22"},
                     {"CC-3", "", "3001112233"},
                     {"CC-1", "María otra vez", "3001234567"},
                     {"CC-4", "Luis Martínez", "+57 (320) 999-0011"}});
  EXPECT_EQ(r.accepted(), 2);
  EXPECT_EQ(r.created(), 2);
  EXPECT_EQ(r.refused(), 3);
  ASSERT_EQ(r.results_size(), 5);
  EXPECT_EQ(Row(r, 0).outcome(), "created");
  EXPECT_GT(Row(r, 0).id(), 0);
  EXPECT_EQ(Row(r, 1).outcome(), "refused");
  EXPECT_EQ(Row(r, 1).field(), "phone");
  EXPECT_EQ(Row(r, 2).field(), "fullName");
  EXPECT_EQ(Row(r, 3).field(), "externalRef");
  EXPECT_NE(Row(r, 3).error().find("row 0"), std::string::npos) << Row(r, 3).error();
  EXPECT_EQ(Scalar("SELECT phone_e164 FROM patients WHERE external_ref = 'CC-4'"), "+573209990011");
  // The error names the problem, never the number itself.
  EXPECT_EQ(Row(r, 1).error().find("31522"), std::string::npos) << Row(r, 1).error();
  EXPECT_EQ(Row(r, 1).error().find("315 22"), std::string::npos) << Row(r, 1).error();

  // The same batch again changes nothing; a changed name is an update.
  auto again = Patients({{"CC-1", "María Rodríguez", "300 123 4567"},
                         {"CC-4", "Luis Martínez", "3209990011"}});
  EXPECT_EQ(again.unchanged(), 2);
  EXPECT_EQ(again.created() + again.updated(), 0);
  EXPECT_EQ(Patients({{"CC-1", "María F. Rodríguez", "3001234567"}}).updated(), 1);
  EXPECT_EQ(Scalar("SELECT count(*) FROM patients WHERE external_ref LIKE 'CC-%'"), "2");

  const absl::Time t = absl::Now() + absl::Hours(72);
  v1::AppointmentInput bad_time = Appt("AP-4", "CC-1", t);
  bad_time.clear_scheduled_at();
  auto a = Appointments({Appt("AP-1", "CC-1", t), Appt("AP-2", "CC-404", t),
                         Appt("AP-3", "CC-4", t, "tentative"), bad_time,
                         Appt("AP-5", "CC-4", t + absl::Hours(1))});
  EXPECT_EQ(a.created(), 2);
  EXPECT_EQ(a.refused(), 3);
  EXPECT_EQ(Row(a, 1).field(), "patientExternalRef");
  EXPECT_EQ(Row(a, 2).field(), "status");
  EXPECT_EQ(Row(a, 3).field(), "scheduledAt");
  EXPECT_EQ(Appointments({Appt("AP-1", "CC-1", t)}).unchanged(), 1);

  // A confirmation a call recorded is not undone by the clinic re-sending "scheduled" for the
  // same time; moving the appointment does undo it (the patient confirmed the old time).
  Query("UPDATE appointments SET status = 'confirmed', confirmed_at = now() WHERE external_ref = 'AP-1'");
  EXPECT_EQ(Appointments({Appt("AP-1", "CC-1", t, "scheduled")}).unchanged(), 1);
  EXPECT_EQ(Scalar("SELECT status FROM appointments WHERE external_ref = 'AP-1'"), "confirmed");
  EXPECT_EQ(Appointments({Appt("AP-1", "CC-1", t + absl::Hours(2), "scheduled")}).updated(), 1);
  EXPECT_EQ(Scalar("SELECT status || ' ' || (confirmed_at IS NULL) FROM appointments WHERE "
                   "external_ref = 'AP-1'"),
            "scheduled true");

  // Read back, in the contract's and in FHIR's terms.
  v1::ListSyncedRequest list;
  list.set_patient_external_ref("CC-4");
  v1::ListSyncedAppointmentsResponse listed = Call(*sync_, &v1::ClinicSync::Stub::ListAppointments, list);
  ASSERT_EQ(listed.appointments_size(), 1);
  EXPECT_EQ(listed.appointments(0).external_ref(), "AP-5");
  EXPECT_EQ(listed.appointments(0).fhir_status(), "booked");
  Cancel("AP-5");
  v1::GetSyncedRequest get;
  get.set_external_ref("AP-5");
  google::protobuf::Struct fhir = Call(*sync_, &v1::ClinicSync::Stub::GetFhirAppointment, get);
  EXPECT_EQ(fhir.fields().at("resourceType").string_value(), "Appointment");
  EXPECT_EQ(fhir.fields().at("status").string_value(), "cancelled");
  EXPECT_EQ(fhir.fields().at("id").string_value(), "AP-5");

  // Deleting a patient removes their appointments.
  grpc::ClientContext dc;
  Writer(dc);
  v1::GetSyncedRequest del;
  del.set_external_ref("CC-4");
  v1::DeleteSyncedResponse deleted;
  ASSERT_TRUE(sync_->DeletePatient(&dc, del, &deleted).ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM appointments WHERE external_ref = 'AP-5'"), "0");

  // Without sync:write the batch is refused as a whole.
  grpc::ClientContext rc;
  Auth(rc, {"sync:read"});
  v1::SyncResponse none;
  EXPECT_EQ(sync_->UpsertPatients(&rc, v1::UpsertPatientsRequest(), &none).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(IntegrationTest, FhirBundleIsImportedOnTheSamePathWithItsErrorsReported) {
  std::ifstream in(OUTCALL_TEST_DATA_DIR "/sync/bundle.json");
  ASSERT_TRUE(in) << "tests/data/sync/bundle.json";
  std::stringstream text;
  text << in.rdbuf();
  v1::ImportFhirRequest req;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(text.str(), req.mutable_resource()).ok());
  grpc::ClientContext ctx;
  Writer(ctx);
  v1::SyncResponse r;
  auto s = sync_->ImportFhir(&ctx, req, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GT(r.created(), 0);
  EXPECT_GT(r.refused(), 0);  // the file has errors on purpose
  EXPECT_FALSE(r.ignored().empty());
  for (const auto& row : r.results()) {
    if (row.outcome() == "refused") {
      EXPECT_FALSE(row.error().empty()) << row.index();
    }
  }
  EXPECT_EQ(std::to_string(r.created()),
            Scalar("SELECT (SELECT count(*) FROM patients WHERE external_ref IS NOT NULL) + "
                   "(SELECT count(*) FROM appointments WHERE external_ref IS NOT NULL)"));
  // The same Bundle again: nothing new.
  v1::SyncResponse r2 = Call(*sync_, &v1::ClinicSync::Stub::ImportFhir, req);
  EXPECT_EQ(r2.created() + r2.updated(), 0);
  EXPECT_EQ(r2.unchanged(), r.accepted());
}

TEST_F(IntegrationTest, MovedAndCanceledAppointmentsReachQueuedCampaigns) {
  Patients({{"P-1", "Ana Ruiz", "3005550001"}, {"P-2", "Beto Díaz", "3005550002"},
            {"P-3", "Carla Mora", "3005550003"}});
  const absl::Time t = absl::Now() + absl::Hours(30);
  Appointments({Appt("A-1", "P-1", t), Appt("A-2", "P-2", t), Appt("A-3", "P-3", t)});

  // A manual campaign (not started: its recipients wait) with the three appointments.
  v1::CreateCampaignRequest create;
  v1::CampaignSpec* spec = create.mutable_spec();
  spec->set_name("Confirmaciones");
  spec->set_purpose("confirmation");
  v1::Campaign campaign = Call(*campaigns_, &v1::Campaigns::Stub::CreateCampaign, create);
  v1::AddRecipientsRequest add;
  add.set_campaign_id(campaign.campaign_id());
  *add.mutable_appointments()->mutable_from() = At(t - absl::Hours(1));
  *add.mutable_appointments()->mutable_to() = At(t + absl::Hours(1));
  v1::AddRecipientsResponse added = Call(*campaigns_, &v1::Campaigns::Stub::AddRecipients, add);
  ASSERT_EQ(added.added(), 3);

  // An automation rule enrols the same appointments into its day campaign.
  v1::CreateAutomationRuleRequest rule;
  rule.set_name("Confirmar 48 h antes");
  rule.mutable_spec()->set_purpose("confirmation");
  rule.set_lead_min_minutes(60);
  rule.set_lead_max_minutes(2880);
  v1::AutomationRule made = Call(*campaigns_, &v1::Campaigns::Stub::CreateAutomationRule, rule);
  ASSERT_TRUE(gateway_service_->AutomateOnce().ok());
  ASSERT_EQ(Scalar("SELECT count(*) FROM automation_enrollments"), "3");

  // The clinic cancels A-1 and moves A-2 (a sync batch) and deletes A-3.
  Cancel("A-1");
  Appointments({Appt("A-2", "P-2", t + absl::Hours(3))});
  grpc::ClientContext dc;
  Writer(dc);
  v1::GetSyncedRequest del;
  del.set_external_ref("A-3");
  v1::DeleteSyncedResponse deleted;
  ASSERT_TRUE(sync_->DeleteAppointment(&dc, del, &deleted).ok());
  EXPECT_EQ(deleted.canceled_calls(), 2);

  const std::string manual = Cat("(SELECT id FROM campaigns WHERE campaign_id = '",
                                 campaign.campaign_id(), "')");
  auto state_of = [&](const std::string& ref, const std::string& campaign_row) {
    return Scalar(Cat("SELECT r.state || ' ' || COALESCE(r.outcome, '-') FROM campaign_recipients "
                      "r JOIN appointments a ON a.id = r.appointment_id WHERE a.external_ref = '",
                      ref, "' AND r.campaign_id ", campaign_row, " ORDER BY r.id DESC LIMIT 1"));
  };
  // Canceled: removed from every queue.
  EXPECT_EQ(state_of("A-1", "= " + manual), "canceled appointment_canceled");
  EXPECT_EQ(state_of("A-1", "<> " + manual), "canceled appointment_canceled");
  // Moved: the manual campaign dials it at its new time (read at dial time); the automation's
  // enrolment of the old time is withdrawn, and the rule's next pass enrols the new time.
  EXPECT_EQ(state_of("A-2", "= " + manual), "pending -");
  EXPECT_EQ(state_of("A-2", "<> " + manual), "canceled appointment_moved");
  ASSERT_TRUE(gateway_service_->AutomateOnce().ok());
  EXPECT_EQ(state_of("A-2", "<> " + manual), "pending -");
  EXPECT_EQ(Scalar("SELECT count(*) FROM automation_enrollments e JOIN appointments a ON a.id = "
                   "e.appointment_id WHERE a.external_ref = 'A-2'"),
            "2");
  // Deleted: the manual campaign's recipient ended before its link went.
  EXPECT_EQ(Scalar(Cat("SELECT string_agg(outcome, ',') FROM campaign_recipients WHERE "
                       "appointment_id IS NULL AND campaign_id = ", manual)),
            "appointment_deleted");
}

// The receiver's view: each request's event type and webhook-id, in arrival order.
std::vector<std::pair<std::string, std::string>> Arrivals(Receiver& rx) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : rx.Got()) {
    out.emplace_back(json::parse(r.body).as_object().at("type").as_string().c_str(),
                     r.headers.at("webhook-id"));
  }
  return out;
}

TEST_F(IntegrationTest, OutboundWebhooksAreSignedMaskedOrderedRetriedHeldAndReplayed) {
  const absl::Time test_start = absl::Now() - absl::Seconds(1);
  Receiver rx;
  auto sub = Subscribe(rx.server.base_url() + "/hooks/outcall",
                       {"appointment.confirmed", "appointment.canceled", "patient.opted_out"});
  ASSERT_EQ(sub.secret().rfind("whsec_", 0), 0u);
  EXPECT_FALSE(GetSub(sub.subscription_id()).has_secret());  // shown once
  Patients({{"W-1", "Ana Ruiz", "3001234567"}});
  const absl::Time t = absl::Now() + absl::Hours(30);
  Appointments({Appt("WA-1", "W-1", t), Appt("WA-2", "W-1", t + absl::Hours(1))});

  // 1. One event, its headers and signature (Standard Webhooks v1), masked data.
  Cancel("WA-1");
  ASSERT_TRUE(SendUntil([&] { return rx.Got().size() == 1; }));
  {
    const auto r = rx.Got()[0];
    const std::string id = r.headers.at("webhook-id");
    const std::string ts = r.headers.at("webhook-timestamp");
    EXPECT_EQ(id.rfind("msg_", 0), 0u);
    EXPECT_LE(std::abs(std::stoll(ts) - absl::ToUnixSeconds(absl::Now())), 5);
    std::string key;
    ASSERT_TRUE(absl::Base64Unescape(sub.secret().substr(6), &key));
    const auto mac = common::HmacSha256::Compute(key, Cat(id, ".", ts, ".", r.body));
    EXPECT_EQ(r.headers.at("webhook-signature"),
              "v1," + common::Base64Encode(std::string_view(
                          reinterpret_cast<const char*>(mac.data()), mac.size())));
    const json::object body = json::parse(r.body).as_object();
    EXPECT_EQ(body.at("type").as_string(), "appointment.canceled");
    const json::object& data = body.at("data").as_object();
    EXPECT_EQ(data.at("externalRef").as_string(), "WA-1");
    EXPECT_EQ(data.at("patientExternalRef").as_string(), "W-1");
    EXPECT_EQ(data.at("fhirStatus").as_string(), "cancelled");
    EXPECT_EQ(data.at("phoneNumber").as_string(), "+57******4567");
    EXPECT_FALSE(data.contains("patientName"));
  }

  // 2. Order per subject through a failing receiver: WA-2 confirmed (by a call's outcome) then
  //    canceled (by the clinic). The cancellation waits behind the confirmation's retries.
  rx.failing = true;
  Query("UPDATE appointments SET status = 'confirmed', confirmed_at = now() WHERE external_ref = 'WA-2'");
  Cancel("WA-2");
  ASSERT_TRUE(SendUntil([&] { return rx.Got().size() >= 4; }))
      << rx.Got().size() << " "
      << Scalar("SELECT string_agg(d.state || ':' || d.attempts || ':' || e.event_type || ':' || "
                "d.next_attempt_at::text, ' ') FROM webhook_deliveries d JOIN webhook_events e ON "
                "e.id = d.event_row")
      << " sub " << GetSub(sub.subscription_id()).state() << " "
      << Scalar("SELECT string_agg(attempt || ':' || http_status || ':' || COALESCE(error, '') || ':' "
                "|| duration_ms, ' | ') FROM webhook_attempts");
  for (size_t i = 1; i < rx.Got().size(); ++i) {
    EXPECT_EQ(Arrivals(rx)[i].first, "appointment.confirmed") << i;  // only the head is tried
  }
  rx.failing = false;
  ASSERT_TRUE(SendUntil([&] { return Arrivals(rx).back().first == "appointment.canceled"; }));
  {
    auto a = Arrivals(rx);
    const size_t n = a.size();
    EXPECT_EQ(a[n - 2].first, "appointment.confirmed");
    EXPECT_EQ(a[n - 1].first, "appointment.canceled");
    // Every retry of the confirmation carried the same webhook-id.
    for (size_t i = 1; i + 1 < n; ++i) EXPECT_EQ(a[i].second, a[1].second);
  }
  EXPECT_EQ(GetSub(sub.subscription_id()).failure_streak(), 0);

  // The delivery log shows the attempts with the receiver's answers.
  v1::ListWebhookDeliveriesRequest lr;
  lr.set_subscription_id(sub.subscription_id());
  v1::ListWebhookDeliveriesResponse log = Call(*hooks_, &v1::Webhooks::Stub::ListWebhookDeliveries, lr);
  ASSERT_EQ(log.deliveries_size(), 3);
  const v1::WebhookDelivery& confirmed = log.deliveries(1);
  EXPECT_EQ(confirmed.event_type(), "appointment.confirmed");
  EXPECT_EQ(confirmed.state(), "delivered");
  ASSERT_GE(confirmed.attempt_log_size(), 2);
  EXPECT_EQ(confirmed.attempt_log(0).http_status(), 503);
  EXPECT_EQ(confirmed.attempt_log(confirmed.attempt_log_size() - 1).http_status(), 200);

  // 3. A receiver that stays down: disabled after the streak, its queue held (nothing lost), and
  //    an event while disabled queued too; enabling it again delivers them in order.
  rx.failing = true;
  Query("INSERT INTO call_opt_outs (phone_e164, patient_id, reason, source) SELECT phone_e164, "
        "id, 'no más llamadas', 'patient_request' FROM patients WHERE external_ref = 'W-1'");
  ASSERT_TRUE(SendUntil([&] { return GetSub(sub.subscription_id()).state() == "disabled"; }));
  const auto disabled = GetSub(sub.subscription_id());
  EXPECT_NE(disabled.disabled_reason().find("consecutive failed attempts"), std::string::npos)
      << disabled.disabled_reason();
  Appointments({Appt("WA-3", "W-1", t, "canceled")});  // created canceled: no status change
  Query("UPDATE appointments SET status = 'canceled' WHERE external_ref = 'WA-1'");  // no change
  Patients({{"W-2", "Beto Díaz", "3001230000"}});
  Appointments({Appt("WA-4", "W-2", t)});
  Cancel("WA-4");
  const size_t before = rx.Got().size();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(gateway_service_->SendWebhooksOnce().ok());
  EXPECT_EQ(rx.Got().size(), before);  // disabled: nothing sent
  EXPECT_EQ(GetSub(sub.subscription_id()).pending(), 2);
  rx.failing = false;
  v1::UpdateWebhookSubscriptionRequest enable;
  enable.set_subscription_id(sub.subscription_id());
  enable.set_enabled(true);
  v1::WebhookSubscription enabled = Call(*hooks_, &v1::Webhooks::Stub::UpdateWebhookSubscription, enable);
  EXPECT_EQ(enabled.state(), "active");
  ASSERT_TRUE(SendUntil([&] { return GetSub(sub.subscription_id()).pending() == 0; }));
  std::set<std::string> types;
  for (size_t i = before; i < rx.Got().size(); ++i) types.insert(Arrivals(rx)[i].first);
  EXPECT_EQ(types, (std::set<std::string>{"patient.opted_out", "appointment.canceled"}));

  // 4. Replay one event: the same webhook-id again (the receiver drops it by that id).
  const std::string first_id = Arrivals(rx)[0].second;
  v1::ReplayWebhookEventsRequest replay;
  replay.set_subscription_id(sub.subscription_id());
  replay.set_event_id(first_id);
  v1::ReplayWebhookEventsResponse queued = Call(*hooks_, &v1::Webhooks::Stub::ReplayWebhookEvents, replay);
  EXPECT_EQ(queued.queued(), 1);
  const size_t n_before_replay = rx.Got().size();
  ASSERT_TRUE(SendUntil([&] { return rx.Got().size() == n_before_replay + 1; }));
  EXPECT_EQ(Arrivals(rx).back().second, first_id);
  // ... or a time range: every event of the subscription's types since the test began, again.
  v1::ReplayWebhookEventsRequest range;
  range.set_subscription_id(sub.subscription_id());
  *range.mutable_from() = At(test_start);
  *range.mutable_to() = At(absl::Now() + absl::Seconds(1));
  v1::ReplayWebhookEventsResponse range_queued = Call(*hooks_, &v1::Webhooks::Stub::ReplayWebhookEvents, range);
  const std::string events = Scalar("SELECT count(*) FROM webhook_events");
  EXPECT_EQ(std::to_string(range_queued.queued()), events);
  ASSERT_TRUE(SendUntil([&] { return GetSub(sub.subscription_id()).pending() == 0; }));
  std::set<std::string> distinct;
  for (const auto& a : Arrivals(rx)) distinct.insert(a.second);
  EXPECT_EQ(std::to_string(distinct.size()), events);  // deduplicated by webhook-id: one each

  // 5. A sender that died holding a delivery (claimed, never answered): nothing is sent while
  //    its lease runs; then this sender sends it.
  Appointments({Appt("WA-5", "W-2", t)});
  Cancel("WA-5");
  call_gateway::WebhookStore store(*pool_);
  auto held = store.Claim("dead-replica", absl::Now(), 10, absl::Seconds(1));
  ASSERT_TRUE(held.ok()) << held.status();
  ASSERT_EQ(held->size(), 1u);
  const size_t n_before_crash = rx.Got().size();
  ASSERT_TRUE(gateway_service_->SendWebhooksOnce().ok());
  EXPECT_EQ(rx.Got().size(), n_before_crash);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  ASSERT_TRUE(SendUntil([&] { return rx.Got().size() == n_before_crash + 1; }));
  EXPECT_EQ(Arrivals(rx).back().second, (*held)[0].event_id);
  EXPECT_EQ(Scalar("SELECT count(*) FROM webhook_deliveries WHERE state <> 'delivered'"), "0");
}

TEST_F(IntegrationTest, FullDataSubscriptionsGetTheNumberAndRotationSignsWithBothSecrets) {
  Receiver rx;
  auto sub = Subscribe(rx.server.base_url(), {"appointment.canceled"}, /*full_data=*/true, "k-1");
  // A retried create (same key and body) is the same subscription with the same secret; the key
  // with another body is refused.
  auto retried = Subscribe(rx.server.base_url(), {"appointment.canceled"}, true, "k-1");
  EXPECT_EQ(retried.subscription_id(), sub.subscription_id());
  EXPECT_EQ(retried.secret(), sub.secret());
  grpc::Status other;
  Subscribe(rx.server.base_url(), {"call.completed"}, true, "k-1", &other);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Scalar("SELECT count(*) FROM webhook_subscriptions"), "1");
  v1::RotateWebhookSecretRequest rot;
  rot.set_subscription_id(sub.subscription_id());
  v1::WebhookSubscription rotated = Call(*hooks_, &v1::Webhooks::Stub::RotateWebhookSecret, rot);
  EXPECT_NE(rotated.secret(), sub.secret());
  EXPECT_EQ(rotated.secret_version(), 2);
  Patients({{"F-1", "Ana Ruiz", "3001234567"}});
  Appointments({Appt("FA-1", "F-1", absl::Now() + absl::Hours(5))});
  Cancel("FA-1");
  ASSERT_TRUE(SendUntil([&] { return rx.Got().size() == 1; }));
  const auto r = rx.Got()[0];
  const json::object data = json::parse(r.body).as_object().at("data").as_object();
  EXPECT_EQ(data.at("phoneNumber").as_string(), "+573001234567");
  EXPECT_EQ(data.at("patientName").as_string(), "Ana Ruiz");
  // Two signatures, the new secret's first.
  const std::string sig = r.headers.at("webhook-signature");
  ASSERT_NE(sig.find(' '), std::string::npos) << sig;
  for (const auto& [secret, pos] : {std::pair{rotated.secret(), 0}, {sub.secret(), 1}}) {
    std::string key;
    ASSERT_TRUE(absl::Base64Unescape(secret.substr(6), &key));
    const auto mac = common::HmacSha256::Compute(
        key, Cat(r.headers.at("webhook-id"), ".", r.headers.at("webhook-timestamp"), ".", r.body));
    const std::string want = "v1," + common::Base64Encode(std::string_view(
                                         reinterpret_cast<const char*>(mac.data()), mac.size()));
    const std::vector<std::string> parts = absl::StrSplit(sig, ' ');
    ASSERT_EQ(parts.size(), 2u) << sig;
    EXPECT_EQ(parts[pos], want) << pos;
  }
  // A subscription URL must be https (http only to this machine).
  v1::CreateWebhookSubscriptionRequest bad;
  bad.set_url("http://clinic.example.com/hooks");
  bad.add_event_types("call.completed");
  grpc::ClientContext bc;
  Writer(bc);
  v1::WebhookSubscription none;
  auto s = hooks_->CreateWebhookSubscription(&bc, bad, &none);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("https"), std::string::npos);
}

// The clinic's backend re-syncs its patients and appointments over and over while a campaign
// calls them: the batches and the dispatcher never block each other for long, nobody is dialled
// twice, and what the patients said (the write-back) survives the re-syncs.
class IntegrationCampaignTest : public IntegrationTest {
 protected:
  void ConfigureSim(sim::SimConfig& sc) override {
    sc.time_scale = 200;
    sc.max_concurrent_calls = 100;
  }
  void ConfigureGateway(call_gateway::GatewayOptions& o) override {
    IntegrationTest::ConfigureGateway(o);
    o.dispatch_every = absl::Milliseconds(100);
    o.max_concurrent_calls = 20;
  }
  json::object SimCounters() {
    common::HttpRequest req;
    req.url = Cat(sim_->base_url(), "/__sim/counters");
    auto r = common::HttpClient().Send(req);
    EXPECT_TRUE(r.ok());
    return r.ok() ? json::parse(r->body).as_object() : json::object();
  }
};

TEST_F(IntegrationCampaignTest, ResyncsDuringACampaignNeitherDialTwiceNorUndoOutcomes) {
  constexpr int kPatients = 40;
  std::vector<std::array<std::string, 3>> patients;
  json::object scenarios;
  std::vector<v1::AppointmentInput> appointments;
  const absl::Time t = absl::Now() + absl::Hours(30);
  for (int i = 0; i < kPatients; ++i) {
    char phone[32];
    std::snprintf(phone, sizeof phone, "+573006%06d", i);
    patients.push_back({Cat("CC-", i), Cat("Paciente ", i), phone});
    scenarios[phone] = "confirmed";
    appointments.push_back(Appt(Cat("AP-", i), Cat("CC-", i), t + absl::Minutes(i)));
  }
  {
    common::HttpRequest req;
    req.method = "PUT";
    req.url = Cat(sim_->base_url(), "/__sim/scenarios");
    req.body = json::serialize(json::object{{"numbers", scenarios}});
    auto r = common::HttpClient().Send(req);
    ASSERT_TRUE(r.ok() && r->status == 200);
  }
  ASSERT_EQ(Patients(patients).created(), kPatients);
  ASSERT_EQ(Appointments(appointments).created(), kPatients);

  v1::CreateCampaignRequest create;
  create.mutable_spec()->set_name("Confirmaciones");
  create.mutable_spec()->set_purpose("confirmation");
  create.mutable_spec()->mutable_pacing()->set_max_concurrency(8);
  create.mutable_spec()->mutable_pacing()->set_calls_per_minute(6000);
  v1::Campaign campaign = Call(*campaigns_, &v1::Campaigns::Stub::CreateCampaign, create);
  v1::AddRecipientsRequest add;
  add.set_campaign_id(campaign.campaign_id());
  *add.mutable_appointments()->mutable_from() = At(t - absl::Hours(1));
  *add.mutable_appointments()->mutable_to() = At(t + absl::Hours(2));
  v1::AddRecipientsResponse added = Call(*campaigns_, &v1::Campaigns::Stub::AddRecipients, add);
  ASSERT_EQ(added.added(), kPatients);

  // The clinic's backend: the same rows with a changed doctor and name, again and again (no
  // status: as it is), until the campaign ends.
  std::atomic<bool> done{false};
  std::atomic<int> batches{0}, aborted{0}, failed{0};
  std::thread clinic([&] {
    for (int round = 0; !done; ++round) {
      v1::UpsertPatientsRequest pr;
      for (const auto& [ref, name, phone] : patients) {
        v1::PatientInput* p = pr.add_patients();
        p->set_external_ref(ref);
        p->set_full_name(Cat(name, round % 2 ? " R." : ""));
        p->set_phone(phone);
      }
      v1::UpsertAppointmentsRequest ar;
      for (auto a : appointments) {
        a.set_doctor_name(Cat("Dr. Turno ", round));
        *ar.add_appointments() = a;
      }
      for (int k = 0; k < 2; ++k) {
        grpc::ClientContext ctx;
        Writer(ctx);
        v1::SyncResponse out;
        const grpc::Status s = k == 0 ? sync_->UpsertPatients(&ctx, pr, &out)
                                      : sync_->UpsertAppointments(&ctx, ar, &out);
        if (s.error_code() == grpc::StatusCode::ABORTED) {
          ++aborted;  // a deadlock or serialization loser: the client retries the batch
        } else if (!s.ok() || out.refused() > 0) {
          ++failed;
          ADD_FAILURE() << s.error_message() << " refused " << out.refused();
        }
        ++batches;
      }
    }
  });
  v1::Campaign started;
  grpc::ClientContext sc;
  Writer(sc);
  v1::CampaignActionRequest start;
  start.set_campaign_id(campaign.campaign_id());
  ASSERT_TRUE(campaigns_->StartCampaign(&sc, start, &started).ok());
  gateway_service_->StartDispatcher();
  const bool completed = WaitForScalar(
      Cat("SELECT state FROM campaigns WHERE campaign_id = '", campaign.campaign_id(), "'"),
      "completed", 120);
  done = true;
  clinic.join();
  ASSERT_TRUE(completed);
  EXPECT_GE(batches.load(), 4);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_LE(aborted.load(), batches.load() / 4) << "re-syncs keep losing to the campaign";

  // Everyone called once, everyone confirmed, and the re-syncs left the confirmations alone.
  const json::object counters = SimCounters();
  ASSERT_TRUE(counters.contains("dialled_by_correlation_id"));
  EXPECT_EQ(counters.at("dialled_by_correlation_id").as_object().size(), size_t{kPatients});
  for (const auto& [id, n] : counters.at("dialled_by_correlation_id").as_object()) {
    EXPECT_EQ(n.to_number<int64_t>(), 1) << "call id " << std::string_view(id);
  }
  EXPECT_EQ(Scalar(Cat("SELECT count(*) FROM campaign_recipients r JOIN campaigns c ON c.id = "
                       "r.campaign_id WHERE c.campaign_id = '",
                       campaign.campaign_id(), "' AND r.state = 'done' AND r.attempts = 1")),
            std::to_string(kPatients));
  EXPECT_EQ(Scalar("SELECT count(*) FROM elevenlabs_conversations"), std::to_string(kPatients));
  EXPECT_EQ(Scalar("SELECT count(*) FROM appointments WHERE status = 'confirmed' AND "
                   "confirmed_at IS NOT NULL AND external_ref LIKE 'AP-%'"),
            std::to_string(kPatients));
  // One more re-sync after the campaign: still confirmed.
  Appointments(appointments);
  EXPECT_EQ(Scalar("SELECT count(*) FROM appointments WHERE status = 'confirmed'"),
            std::to_string(kPatients));
}

TEST(WebhookBackoff, GrowsExponentiallyWithJitterUpToTheCap) {
  call_gateway::WebhookSenderOptions o;
  o.retry_base = absl::Seconds(10);
  o.retry_max = absl::Hours(6);
  using call_gateway::WebhookSender;
  EXPECT_EQ(WebhookSender::Backoff(o, 1, 0.0), absl::Seconds(5));
  EXPECT_EQ(WebhookSender::Backoff(o, 1, 1.0), absl::Seconds(10));
  EXPECT_EQ(WebhookSender::Backoff(o, 4, 1.0), absl::Seconds(80));
  EXPECT_EQ(WebhookSender::Backoff(o, 30, 1.0), absl::Hours(6));
  EXPECT_EQ(WebhookSender::Backoff(o, 30, 0.0), absl::Hours(3));
}

}  // namespace
}  // namespace outcall
