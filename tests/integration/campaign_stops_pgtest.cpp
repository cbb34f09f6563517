// Migration 0015's stops, as call-gateway's role writes the causes: an opt-out, a revoked
// consent, do_not_call and a deletion move a recipient's pending and scheduled attempts to
// their final state in the same transaction, and leave alone what they do not concern (other
// patients, other purposes, an attempt already being dialled, final recipients).
#include <gtest/gtest.h>

#include <pqxx/pqxx>
#include <string>

#include "outcall/common/strings.h"
#include "test_database.h"

namespace outcall {
namespace {

class CampaignStopsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    db_.Migrate();
    Run("INSERT INTO patients (id, full_name, phone_e164) VALUES (1, 'Ana Ruiz', '+573005550001'), "
        "(2, 'Luis Gómez', '+573005550002');"
        "INSERT INTO campaigns (id, name, purpose, agent_id, created_by) VALUES "
        "(1, 'Promo vacunas', 'promotion', 'agent_a', 'test'), "
        "(2, 'Confirmaciones', 'confirmation', 'agent_a', 'test');"
        // Patient 1 in both campaigns (pending, scheduled, dialing, done); patient 2 pending.
        "INSERT INTO campaign_recipients (id, campaign_id, patient_id, phone_e164, state, "
        "outcome) VALUES (11, 1, 1, '+573005550001', 'pending', NULL), "
        "(12, 2, 1, '+573005550001', 'scheduled', NULL), "
        "(13, 1, 2, '+573005550002', 'pending', NULL);"
        "INSERT INTO campaign_recipients (id, campaign_id, patient_id, appointment_id, "
        "phone_e164, state, outcome) VALUES (14, 2, NULL, NULL, '+573005550009', 'pending', "
        "NULL);");
  }
  // As call-gateway: its role writes the causes, so the triggers run with its rights.
  void AsGateway(const std::string& sql) {
    pqxx::connection c(common::Cat(db_.url(), db_.url().find('?') == std::string::npos ? "?" : "&",
                                   "options=-c%20role%3Doutcall_gateway"));
    pqxx::work tx(c);
    tx.exec(sql);
    tx.commit();
  }
  void Run(const std::string& sql) {
    pqxx::connection c(db_.url());
    pqxx::work tx(c);
    tx.exec(sql);
    tx.commit();
  }
  std::string States() {
    pqxx::connection c(db_.url());
    pqxx::nontransaction tx(c);
    return tx
        .exec1(
            "SELECT string_agg(id || ':' || state || ':' || COALESCE(outcome, '-'), ' ' "
            "ORDER BY id) FROM campaign_recipients")[0]
        .as<std::string>();
  }

  testing::TestDatabase db_;
};

TEST_F(CampaignStopsTest, ARevocationStopsTheCampaignsOfItsPurposeOnly) {
  AsGateway(
      "INSERT INTO patient_consents (patient_id, purpose, channel, state, source, recorded_at, "
      "recorded_by) VALUES (1, 'promotion', 'voice', 'revoked', 'phone', now(), 'front-desk')");
  EXPECT_EQ(States(), "11:opted_out:consent_revoked 12:scheduled:- 13:pending:- 14:pending:-");
  // A revocation on another channel does not stop calls.
  AsGateway(
      "INSERT INTO patient_consents (patient_id, purpose, channel, state, source, recorded_at, "
      "recorded_by) VALUES (1, 'confirmation', 'sms', 'revoked', 'phone', now(), 'front-desk')");
  EXPECT_EQ(States(), "11:opted_out:consent_revoked 12:scheduled:- 13:pending:- 14:pending:-");
}

TEST_F(CampaignStopsTest, AnOptOutStopsEveryCampaignOfThePatientAndTheNumber) {
  Run("UPDATE campaign_recipients SET state = 'dialing' WHERE id = 13");
  // The number of recipient 14 (no patient) and patient 1 (both campaigns).
  AsGateway(
      "INSERT INTO call_opt_outs (phone_e164, patient_id, source) VALUES "
      "('+573005550001', 1, 'call_outcome'), ('+573005550009', NULL, 'patient_request')");
  EXPECT_EQ(States(),
            "11:opted_out:opt_out 12:opted_out:opt_out 13:dialing:- 14:opted_out:opt_out");
  // The one being dialled is the dispatcher's to end; a later opt-out of patient 2 leaves it.
  AsGateway(
      "INSERT INTO call_opt_outs (phone_e164, patient_id, source) VALUES "
      "('+573005550002', 2, 'admin')");
  EXPECT_EQ(States(),
            "11:opted_out:opt_out 12:opted_out:opt_out 13:dialing:- 14:opted_out:opt_out");
}

TEST_F(CampaignStopsTest, ADeletionCancelsAndDoNotCallOptsOut) {
  AsGateway(
      "UPDATE patients SET full_name = NULL, phone_e164 = NULL, erased_at = now() "
      "WHERE id = 1");
  EXPECT_EQ(States(),
            "11:canceled:data_deleted 12:canceled:data_deleted 13:pending:- 14:pending:-");
  Run("UPDATE patients SET do_not_call = true WHERE id = 2");
  EXPECT_EQ(States(),
            "11:canceled:data_deleted 12:canceled:data_deleted 13:opted_out:do_not_call "
            "14:pending:-");
}

}  // namespace
}  // namespace outcall
