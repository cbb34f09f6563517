// The campaign dispatcher's pure rules (campaign_rules.h): outcomes, retries, the daily window,
// the pace, the breaker, the ETA, the template and the attempt's call id.
#include "campaign_rules.h"

#include <gtest/gtest.h>

#include <set>

namespace outcall::call_gateway::campaign {
namespace {

absl::TimeZone Bogota() {
  absl::TimeZone z;
  EXPECT_TRUE(absl::LoadTimeZone("America/Bogota", &z));
  return z;
}

absl::Time At(int y, int mo, int d, int h, int mi) {
  return absl::FromCivil(absl::CivilMinute(y, mo, d, h, mi), Bogota());
}

TEST(CampaignRules, ClassifiesTheCallsEnd) {
  EXPECT_EQ(Classify({.status = "completed", .flags = {"appointment_confirmed"}}).outcome,
            "confirmed");
  const AttemptResult moved = Classify({.status = "completed", .flags = {"reschedule_requested"}});
  EXPECT_EQ(moved.outcome, "reschedule_requested");
  EXPECT_TRUE(moved.refusal);
  EXPECT_EQ(Classify({.status = "completed", .flags = {"voicemail_detected"}}).outcome,
            "voicemail");
  EXPECT_EQ(Classify({.status = "completed"}).outcome, "unclear");
  // Staff read what the analysis cannot settle: no decisive flag, or one the analysis doubts.
  EXPECT_EQ(Classify({.status = "completed"}).review, "unclear");
  EXPECT_EQ(Classify({.status = "completed", .flags = {"appointment_confirmed"}}).review, "");
  EXPECT_EQ(Classify({.status = "completed",
                      .flags = {"appointment_confirmed"},
                      .call_successful = "failure"})
                .review,
            "low_confidence");
  EXPECT_EQ(Classify({.status = "completed",
                      .flags = {"voicemail_detected"},
                      .call_successful = "failure"})
                .review,
            "");
  EXPECT_EQ(Classify({.status = "no_answer", .call_successful = "failure"}).review, "");
  // The patient's word wins over anything else the analysis says, and whatever the status.
  const AttemptResult no = Classify(
      {.status = "completed", .flags = {"appointment_confirmed", "do_not_call"}});
  EXPECT_EQ(no.outcome, "opt_out");
  EXPECT_TRUE(no.refusal);
  EXPECT_EQ(Classify({.status = "no_answer", .stopped = true}).outcome, "opt_out");
  EXPECT_EQ(Classify({.status = "busy"}).outcome, "busy");
  EXPECT_FALSE(Classify({.status = "busy"}).failure);
  EXPECT_TRUE(Classify({.status = "failed"}).failure);
  EXPECT_EQ(Classify({.status = "ended_manually"}).outcome, "ended_by_staff");
}

TEST(CampaignRules, RetriesOnlyWhatThePolicySaysAndNeverARefusal) {
  RetryRule r{.retry_on = {"no_answer", "voicemail"}, .intervals_secs = {60, 600}, .max_attempts = 3};
  const AttemptResult no_answer{.outcome = "no_answer"};
  EXPECT_EQ(RetryDelay(r, no_answer, 1, 3), absl::Seconds(60));
  EXPECT_EQ(RetryDelay(r, no_answer, 2, 3), absl::Seconds(600));
  EXPECT_EQ(RetryDelay(r, no_answer, 3, 3), std::nullopt);  // attempts used up
  EXPECT_EQ(RetryDelay(r, no_answer, 3, 6), absl::Seconds(600));  // the last interval repeats
  EXPECT_EQ(RetryDelay(r, {.outcome = "busy"}, 1, 3), std::nullopt);  // not in retry_on
  EXPECT_EQ(RetryDelay(r, {.outcome = "voicemail", .refusal = true}, 1, 3), std::nullopt);
}

TEST(CampaignRules, TheNextTimeInsideTheDailyWindow) {
  const DailyWindow w{8 * 60, 12 * 60 + 30};
  EXPECT_EQ(IntoWindow(At(2026, 12, 3, 9, 0), w, Bogota()), At(2026, 12, 3, 9, 0));
  EXPECT_EQ(IntoWindow(At(2026, 12, 3, 6, 10), w, Bogota()), At(2026, 12, 3, 8, 0));
  EXPECT_EQ(IntoWindow(At(2026, 12, 3, 12, 30), w, Bogota()), At(2026, 12, 4, 8, 0));
  EXPECT_EQ(IntoWindow(At(2026, 12, 31, 23, 0), w, Bogota()), At(2027, 1, 1, 8, 0));
  EXPECT_EQ(IntoWindow(At(2026, 12, 3, 23, 0), std::nullopt, Bogota()), At(2026, 12, 3, 23, 0));
  EXPECT_EQ(*MinuteOfDay("08:05", "window.start"), 485);
  EXPECT_EQ(*MinuteOfDay("24:00", "window.end"), 1440);
  EXPECT_FALSE(MinuteOfDay("24:01", "window.end").ok());
  EXPECT_EQ(MinuteOfDay("8:00", "window.start").status().message(),
            "window.start: '8:00' is not a time like 08:00");
  EXPECT_EQ(FormatMinute(485), "08:05");
}

TEST(CampaignRules, PaceSpacesDialsAtTheRate) {
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  // 60 a minute with a one-second burst: two now (at t0 and t0 + 1 s), then one a second.
  PaceTake p = TakePace(absl::InfinitePast(), t0, 60, 10, absl::Seconds(1));
  EXPECT_EQ(p.allowed, 2);
  EXPECT_EQ(p.tat, t0 + absl::Seconds(2));
  p = TakePace(p.tat, t0 + absl::Seconds(1), 60, 10, absl::Seconds(1));
  EXPECT_EQ(p.allowed, 1);
  // Over 60 s of one-second ticks, 60 dials (plus the first burst) start: the rate holds.
  absl::Time tat = absl::InfinitePast();
  int total = 0;
  for (int s = 0; s < 60; ++s) {
    p = TakePace(tat, t0 + absl::Seconds(s), 60, 100, absl::Seconds(1));
    total += p.allowed;
    tat = p.tat;
  }
  EXPECT_EQ(total, 61);
  EXPECT_EQ(TakePace(tat, t0, 60, 0, absl::Seconds(1)).allowed, 0);
}

TEST(CampaignRules, BreakerTripsOnlyWithTheSampleAndTheRate) {
  const BreakerRule rule{.failure_rate = 0.5, .window = 10, .min_sample = 4};
  EXPECT_FALSE(BreakerTrips({true, true, true}, rule));  // below the minimum sample
  EXPECT_FALSE(BreakerTrips({true, false, false, false, false}, rule));
  auto why = BreakerTrips({true, true, false, true}, rule);
  ASSERT_TRUE(why);
  EXPECT_EQ(*why,
            "circuit breaker: 3 of the last 4 attempts failed (threshold 50%); resume by hand "
            "once the cause is fixed");
  // Only the window counts: old failures beyond it are forgotten.
  std::vector<bool> latest(10, false);
  latest.insert(latest.end(), 10, true);
  EXPECT_FALSE(BreakerTrips(latest, rule));
}

TEST(CampaignRules, TemplateFillsFromTheRecipientAndNamesWhatIsMissing) {
  google::protobuf::Struct t;
  (*t.mutable_fields())["greeting"].set_string_value("Hola {{ patient_name }}, cita {{slot}}");
  (*t.mutable_fields())["clinic"].set_string_value("Clínica Norte");
  (*t.mutable_fields())["priority"].set_number_value(2);
  EXPECT_EQ(Placeholders(t), (std::set<std::string>{"patient_name", "slot"}));
  auto r = Render(t, {{"patient_name", "Ana"}, {"slot", "10:00"}});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->at("greeting").string_value(), "Hola Ana, cita 10:00");
  EXPECT_EQ(r->at("clinic").string_value(), "Clínica Norte");
  EXPECT_EQ(r->at("priority").number_value(), 2);
  auto missing = Render(t, {{"patient_name", "Ana"}});
  EXPECT_EQ(missing.status().message(), "variables.slot: missing (the template's greeting uses {{slot}})");
}

TEST(CampaignRules, AnAttemptsCallIdIsTheSameEverywhereAndDiffersPerAttempt) {
  const std::string a = AttemptCallId("6a1f0c9e-0000-4000-8000-000000000001", 7, 1);
  EXPECT_EQ(a, AttemptCallId("6a1f0c9e-0000-4000-8000-000000000001", 7, 1));
  EXPECT_NE(a, AttemptCallId("6a1f0c9e-0000-4000-8000-000000000001", 7, 2));
  EXPECT_NE(a, AttemptCallId("6a1f0c9e-0000-4000-8000-000000000001", 8, 1));
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[14], '8');  // version 8
  EXPECT_NE(std::string("89ab").find(a[19]), std::string::npos);
}

TEST(CampaignRules, EtaAtThePace) {
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  EXPECT_EQ(Eta(0, 10, now), std::nullopt);
  EXPECT_EQ(*Eta(30, 10, now), now + absl::Minutes(3));
}

}  // namespace
}  // namespace outcall::call_gateway::campaign
