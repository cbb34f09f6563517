// The consent ledger and other-channel contacts over the API (ContactLedger), against the
// in-memory fakes: what is refused (naming the field), what is appended, what a retry does.
#include "contact_ledger.h"

#include <gtest/gtest.h>

#include "call_gateway_fakes.h"
#include "outcall/common/clock.h"

namespace outcall::call_gateway {
namespace {

using fakes::FakeCallRepository;
using fakes::FakePolicyRepository;

constexpr int64_t kNow = 1799852400;

class ContactLedgerTest : public ::testing::Test {
 protected:
  ContactLedgerTest() { calls_.AddPatient({5, "Ana Ruiz", "+573001112233", false}); }

  static v1::RecordConsentRequest Consent() {
    v1::RecordConsentRequest r;
    r.set_patient_id(5);
    r.set_purpose("promotion");
    r.set_channel("whatsapp");
    r.set_state("authorised");
    r.set_source("form");
    r.set_text_version("aut-2026-03");
    r.set_evidence_ref("doc-881");
    return r;
  }
  static v1::RecordContactRequest Contact() {
    v1::RecordContactRequest r;
    r.set_patient_id(5);
    r.set_channel("sms");
    r.set_purpose("reminder");
    r.mutable_at()->set_seconds(kNow - 600);
    r.set_answered(true);
    r.set_source("crm");
    r.set_external_ref("sms-1");
    return r;
  }

  common::ManualClock clock_{absl::FromUnixSeconds(kNow)};
  FakeCallRepository calls_{clock_};
  FakePolicyRepository policy_;
  ContactLedger ledger_{policy_, calls_, clock_, "57"};
};

TEST_F(ContactLedgerTest, AnAuthorisationIsAppendedWithItsEvidenceAndWho) {
  auto r = ledger_.RecordConsent("front-desk", Consent());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->consent_id(), 1);
  const auto c = policy_.consents();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].patient_id, 5);
  EXPECT_EQ(c[0].purpose, "promotion");
  EXPECT_EQ(c[0].channel, "whatsapp");
  EXPECT_EQ(c[0].state, "authorised");
  EXPECT_EQ(c[0].text_version, "aut-2026-03");
  EXPECT_EQ(c[0].evidence_ref, "doc-881");
  EXPECT_EQ(c[0].recorded_by, "front-desk");
  EXPECT_EQ(c[0].recorded_at, absl::FromUnixSeconds(kNow)) << "default: now";
}

TEST_F(ContactLedgerTest, AnAuthorisationWithoutProofIsRefusedARevocationNeedsNone) {
  auto no_text = Consent();
  no_text.clear_text_version();
  EXPECT_EQ(ledger_.RecordConsent("x", no_text).status().message(), "textVersion is required");
  auto no_evidence = Consent();
  no_evidence.clear_evidence_ref();
  EXPECT_EQ(ledger_.RecordConsent("x", no_evidence).status().message(), "evidenceRef is required");
  EXPECT_TRUE(policy_.consents().empty());
  auto revoke = Consent();
  revoke.set_state("revoked");
  revoke.clear_text_version();
  revoke.clear_evidence_ref();
  revoke.mutable_recorded_at()->set_seconds(kNow - 3600);
  ASSERT_TRUE(ledger_.RecordConsent("x", revoke).ok());
  EXPECT_EQ(policy_.consents().at(0).recorded_at, absl::FromUnixSeconds(kNow - 3600));
}

TEST_F(ContactLedgerTest, BadConsentsNameWhatIsWrong) {
  auto state = Consent();
  state.set_state("maybe");
  EXPECT_EQ(ledger_.RecordConsent("x", state).status().message(),
            "state: unknown value 'maybe' (authorised, revoked)");
  auto channel = Consent();
  channel.clear_channel();
  EXPECT_EQ(ledger_.RecordConsent("x", channel).status().message(), "channel is required");
  auto future = Consent();
  future.mutable_recorded_at()->set_seconds(kNow + 3600);
  EXPECT_EQ(ledger_.RecordConsent("x", future).status().message(), "recordedAt is in the future");
  auto unknown = Consent();
  unknown.set_patient_id(9);
  EXPECT_EQ(ledger_.RecordConsent("x", unknown).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(policy_.consents().empty());
}

TEST_F(ContactLedgerTest, AContactIsAppendedOnceAndCountsWithItsNumber) {
  auto req = Contact();
  req.set_phone_number("300 111 2233");
  auto first = ledger_.RecordContact("crm-sync", req);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->duplicate());
  auto again = ledger_.RecordContact("crm-sync", req);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->duplicate());
  EXPECT_EQ(again->contact_id(), first->contact_id());
  const auto c = policy_.contacts();
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].phone_e164, "+573001112233");
  EXPECT_EQ(c[0].channel, "sms");
  EXPECT_EQ(c[0].purpose, "reminder");
  EXPECT_TRUE(c[0].answered);
  EXPECT_EQ(c[0].at, absl::FromUnixSeconds(kNow - 600));
  EXPECT_EQ(c[0].recorded_by, "crm-sync");
}

TEST_F(ContactLedgerTest, BadContactsNameWhatIsWrong) {
  auto nobody = Contact();
  nobody.clear_patient_id();
  EXPECT_EQ(ledger_.RecordContact("x", nobody).status().message(),
            "patientId or phoneNumber is required");
  auto when = Contact();
  when.clear_at();
  EXPECT_EQ(ledger_.RecordContact("x", when).status().message(), "at is required");
  auto future = Contact();
  future.mutable_at()->set_seconds(kNow + 3600);
  EXPECT_EQ(ledger_.RecordContact("x", future).status().message(), "at is in the future");
  auto source = Contact();
  source.clear_source();
  EXPECT_EQ(ledger_.RecordContact("x", source).status().message(), "source is required");
  auto phone = Contact();
  phone.set_phone_number("12");
  EXPECT_EQ(ledger_.RecordContact("x", phone).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(policy_.contacts().empty());
}

TEST_F(ContactLedgerTest, EvidenceIsPagedInBogotaTimeAndItsCsvCannotBeTurnedIntoFormulas) {
  for (int i = 1; i <= 3; ++i) {
    EvidenceRecord e;
    e.decision_id = i;
    e.decided_at = absl::FromUnixSeconds(kNow - 3600 * (4 - i));  // 07:00, 08:00, 09:00 Bogotá
    e.patient_id = 5;
    e.phone_e164 = "+573001112233";
    e.purpose = "promotion";
    e.channel = "voice";
    e.allowed = i != 2;
    e.rule = i == 2 ? "daily_cap" : "";
    e.profile_id = "co_ley2300_v1";
    e.profile_version = 1;
    e.override_reason = i == 3 ? "=HYPERLINK(\"x\")" : "";
    e.decided_for = "clinic";
    e.call_id = i == 2 ? "" : "c-" + std::to_string(i);
    e.outcome = i == 2 ? "refused" : "completed";
    policy_.evidence.push_back(e);
  }
  v1::ExportEvidenceRequest req;
  req.set_patient_id(5);
  req.set_page_size(2);
  auto page1 = ledger_.ExportEvidence(req);
  ASSERT_TRUE(page1.ok()) << page1.status();
  ASSERT_EQ(page1->rows_size(), 2);
  EXPECT_EQ(page1->rows(0).decided_at(), "2027-01-13 07:00:00");
  EXPECT_EQ(page1->rows(1).rule(), "daily_cap");
  EXPECT_EQ(page1->rows(1).outcome(), "refused");
  EXPECT_EQ(page1->rows(0).profile(), "co_ley2300_v1 v1");
  EXPECT_EQ(page1->rows(0).retention(), "kept");
  ASSERT_EQ(page1->next_page_token(), "2");
  req.set_page_token(page1->next_page_token());
  req.set_format("csv");
  auto page2 = ledger_.ExportEvidence(req);
  ASSERT_TRUE(page2.ok());
  EXPECT_EQ(page2->rows_size(), 0) << "csv replaces the rows";
  EXPECT_EQ(page2->next_page_token(), "");
  EXPECT_EQ(page2->csv(),
            "decision_id,decided_at_bogota,patient_id,phone_number,purpose,channel,allowed,rule,"
            "profile,override_reason,decided_for,consent_reference,excluded_list_version,call_id,"
            "outcome,retention\r\n"
            "3,\"2027-01-13 09:00:00\",5,\"+573001112233\",\"promotion\",\"voice\",true,\"\","
            "\"co_ley2300_v1 v1\",\"'=HYPERLINK(\"\"x\"\")\",\"clinic\",\"\",\"\",\"c-3\","
            "\"completed\",\"kept\"\r\n");
  v1::ExportEvidenceRequest bad;
  bad.set_format("xml");
  EXPECT_EQ(ledger_.ExportEvidence(bad).status().message(),
            "format: unknown value 'xml' (json, csv)");
  bad.set_format("");
  bad.set_page_token("abc");
  EXPECT_EQ(ledger_.ExportEvidence(bad).status().message(), "pageToken is not one this API gave");
}

}  // namespace
}  // namespace outcall::call_gateway
