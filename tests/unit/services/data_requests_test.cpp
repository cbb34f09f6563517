// A data subject's requests (DataRequests) against in-memory fakes: what is refused (naming the
// field), what reaches the repository, and how the erasure pass treats live calls, ElevenLabs'
// refusals (backoff) and its 404 (done).
#include "data_requests.h"

#include <gtest/gtest.h>

#include "call_gateway_fakes.h"
#include "outcall/common/clock.h"

namespace outcall::call_gateway {
namespace {

using fakes::FakeCallRepository;
using fakes::FakeElevenLabs;

constexpr int64_t kNow = 1796137200;  // Tuesday 1 December 2026, 10:00 Bogotá

class FakeDataRequestRepository final : public DataRequestRepository {
 public:
  absl::StatusOr<std::optional<DataRequestRow>> CreateDataRequest(
      const NewDataRequest& r) override {
    created.push_back(r);
    DataRequestRow row;
    row.id = static_cast<int64_t>(created.size());
    row.patient_id = r.patient_id;
    row.kind = std::string(policy::DataRequestKindName(r.kind));
    row.state = r.kind == policy::DataRequestKind::kDeletion ? "in_progress" : "completed";
    row.received_via = r.received_via;
    row.received_at = r.received_at;
    row.due_at = r.deadlines.due;
    row.extended_due_at = r.deadlines.extended_due;
    return std::optional<DataRequestRow>(row);
  }
  absl::StatusOr<std::optional<DataRequestRow>> GetDataRequest(int64_t) override {
    return std::optional<DataRequestRow>();
  }
  absl::StatusOr<std::vector<DataRequestRow>> ListDataRequests(const std::string&,
                                                               std::optional<int>, int) override {
    return std::vector<DataRequestRow>();
  }
  absl::StatusOr<std::vector<ErasureItem>> ClaimErasures(int, absl::Duration) override {
    return items;
  }
  absl::Status FinishErasure(const ErasureItem& item) override {
    finished.push_back(item.call_row);
    return absl::OkStatus();
  }
  absl::Status PostponeErasure(const ErasureItem& item, absl::Time next,
                               const std::string& error) override {
    postponed.push_back({item.call_row, next, error});
    return absl::OkStatus();
  }

  absl::StatusOr<OpenCount> CountOpenDataRequests() override { return OpenCount{2, 1}; }

  struct Postponed {
    int64_t call_row;
    absl::Time next;
    std::string error;
  };
  std::vector<NewDataRequest> created;
  std::vector<ErasureItem> items;
  std::vector<int64_t> finished;
  std::vector<Postponed> postponed;
};

class DataRequestsTest : public ::testing::Test {
 protected:
  DataRequestsTest() { calls_.AddPatient({5, "Ana Ruiz", "+573001112233", false}); }

  static v1::CreateDataRequestRequest Request(std::string kind) {
    v1::CreateDataRequestRequest r;
    r.set_patient_id(5);
    r.set_kind(std::move(kind));
    r.set_received_via("email");
    return r;
  }
  absl::Status Refusal(const v1::CreateDataRequestRequest& r) {
    return requests_.Create("dpo", r).status();
  }

  common::ManualClock clock_{absl::FromUnixSeconds(kNow)};
  FakeCallRepository calls_{clock_};
  FakeDataRequestRepository repo_;
  FakeElevenLabs api_;
  GatewayMetrics metrics_{nullptr};
  DataRequests requests_{repo_, calls_, api_, metrics_, clock_, "57"};
};

TEST_F(DataRequestsTest, ARequestGetsItsLegalDeadlineInBusinessDays) {
  auto r = requests_.Create("dpo", Request("access"));
  ASSERT_TRUE(r.ok()) << r.status();
  // Ten business days, the 8th (Inmaculada Concepción) not counted: the 16th is the last.
  EXPECT_EQ(r->due_at(), "2026-12-17 00:00:00");
  EXPECT_EQ(r->extended_due_at(), "2026-12-24 00:00:00");
  EXPECT_EQ(r->legal_basis(), "Ley 1581 de 2012 art. 14");
  EXPECT_EQ(r->received_at(), "2026-12-01 10:00:00");
  EXPECT_FALSE(r->overdue());
  // Access answers with the patient's document (the fake's: the patient's id and name).
  EXPECT_EQ(
      r->document().fields().at("patient").struct_value().fields().at("full_name").string_value(),
      "Ana Ruiz");
  ASSERT_EQ(repo_.created.size(), 1u);
  EXPECT_EQ(repo_.created[0].requested_by, "dpo");
}

TEST_F(DataRequestsTest, ARectificationIsNormalisedAndChecked) {
  auto r = Request("rectification");
  r.set_phone_number("300 111 2244");
  r.set_full_name("  Ana María Ruiz ");
  ASSERT_TRUE(requests_.Create("dpo", r).ok());
  ASSERT_EQ(repo_.created.size(), 1u);
  EXPECT_EQ(repo_.created[0].phone_e164, "+573001112244");
  EXPECT_EQ(repo_.created[0].full_name, "Ana María Ruiz");
  EXPECT_FALSE(repo_.created[0].time_zone.has_value());

  EXPECT_EQ(Refusal(Request("rectification")).message(),
            "a rectification needs fullName, phoneNumber or timeZone (the corrected values)");
  auto zone = Request("rectification");
  zone.set_time_zone("America/Gotham");
  EXPECT_EQ(Refusal(zone).message(), "timeZone: 'America/Gotham' is not in the time-zone database");
  auto phone = Request("rectification");
  phone.set_phone_number("12");
  EXPECT_EQ(Refusal(phone).code(), absl::StatusCode::kInvalidArgument);
  auto stray = Request("deletion");
  stray.set_full_name("X");
  EXPECT_EQ(Refusal(stray).message(),
            "fullName, phoneNumber and timeZone are for a rectification only");
  EXPECT_EQ(repo_.created.size(), 1u);
}

TEST_F(DataRequestsTest, BadRequestsNameTheField) {
  auto no_patient = Request("access");
  no_patient.set_patient_id(0);
  EXPECT_EQ(Refusal(no_patient).message(), "patientId must be a positive integer");
  EXPECT_EQ(Refusal(Request("")).message(), "kind is required");
  EXPECT_EQ(Refusal(Request("forget")).message(),
            "kind \"forget\" is not one of access, rectification, deletion");
  auto via = Request("deletion");
  via.clear_received_via();
  EXPECT_EQ(Refusal(via).message(), "receivedVia is required");
  auto future = Request("deletion");
  future.mutable_received_at()->set_seconds(kNow + 3600);
  EXPECT_EQ(Refusal(future).message(), "receivedAt is in the future");
  auto unknown = Request("access");
  unknown.set_patient_id(9);
  EXPECT_EQ(Refusal(unknown).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(repo_.created.empty());
}

TEST_F(DataRequestsTest, TheErasurePassWaitsForLiveCallsAndBacksOffWhenElevenLabsRefuses) {
  repo_.items = {{1, 10, "conv_done", true, 0},
                 {1, 11, "conv_live", false, 0},
                 {1, 12, "conv_refused", true, 2},
                 {1, 13, "conv_gone", true, 0},
                 {1, 14, "", true, 0}};
  api_.QueueDelete(elevenlabs::Done{});
  api_.QueueDelete(absl::UnavailableError("HTTP 503"));
  api_.QueueDelete(absl::NotFoundError("conversation_not_found"));
  auto pass = requests_.WorkErasures(10);
  ASSERT_TRUE(pass.ok()) << pass.status();
  EXPECT_EQ(pass->erased, 3);
  EXPECT_EQ(pass->waiting, 1);
  EXPECT_EQ(pass->failed, 1);
  // ElevenLabs was asked about the final calls only; one never given an id is erased here only.
  EXPECT_EQ(api_.deleted(), (std::vector<std::string>{"conv_done", "conv_refused", "conv_gone"}));
  EXPECT_EQ(repo_.finished, (std::vector<int64_t>{10, 13, 14}));
  ASSERT_EQ(repo_.postponed.size(), 2u);
  // The live call: looked at again in a minute, not counted as a failure.
  EXPECT_EQ(repo_.postponed[0].call_row, 11);
  EXPECT_EQ(repo_.postponed[0].next, clock_.Now() + absl::Minutes(1));
  EXPECT_EQ(repo_.postponed[0].error, "");
  // The refusal, on its third try: four minutes, with the reason kept.
  EXPECT_EQ(repo_.postponed[1].call_row, 12);
  EXPECT_EQ(repo_.postponed[1].next, clock_.Now() + absl::Minutes(4));
  EXPECT_EQ(repo_.postponed[1].error,
            "ElevenLabs did not erase conversation conv_refused: HTTP 503");
}

}  // namespace
}  // namespace outcall::call_gateway
