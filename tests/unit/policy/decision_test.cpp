#include "outcall/policy/decision.h"

#include <optional>
#include <string>
#include <vector>

#include "boost/json.hpp"
#include "gtest/gtest.h"
#include "outcall/policy/holidays.h"
#include "policy_test_util.h"

namespace outcall::policy {
namespace {

namespace json = boost::json;
using testing::At;
using testing::Utc;

constexpr char kBogota[] = "America/Bogota";
constexpr char kNewYork[] = "America/New_York";
constexpr char kMadrid[] = "Europe/Madrid";

DecisionRequest Request(Purpose purpose, absl::Time at, const std::string& zone = kBogota) {
  DecisionRequest r;
  r.profile = DefaultProfile();
  r.purpose = purpose;
  r.at = at;
  r.time_zone = zone;
  return r;
}

// A promotion request that passes the non-time rules: consent given, RNE consulted and clean.
DecisionRequest Promotion(absl::Time at, Channel channel = Channel::kVoice,
                          const std::string& zone = kBogota) {
  DecisionRequest r = Request(Purpose::kPromotion, at, zone);
  r.channel = channel;
  r.consents.push_back(
      {Purpose::kPromotion, channel, ConsentState::kAuthorised, "AUT-001", At(2026, 1, 15, 10, 0)});
  r.excluded_number = ExcludedNumberCheck{false, "2026-11-30"};
  return r;
}

Decision MustDecide(const DecisionRequest& r) {
  auto d = Decide(r);
  EXPECT_TRUE(d.ok()) << d.status();
  return d.ok() ? *d : Decision{};
}

Profile Parsed(const std::string& text) {
  auto p = ParseProfile(text);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : Profile{};
}

std::string WithRelaxations(const std::string& relaxations_json) {
  json::value doc =
      json::parse(json::string_view(DefaultProfileJson().data(), DefaultProfileJson().size()));
  doc.as_object()["id"] = "clinica_relajada_v1";
  doc.as_object()["relaxations"] = json::parse(relaxations_json);
  return json::serialize(doc);
}

// --- the time-based rules around every boundary, table-driven ---------------------------------

struct TimeCase {
  const char* name;
  Purpose purpose;
  const char* zone;
  absl::Time at;
  bool allowed;
  const char* rule;                // "" when allowed
  std::optional<absl::Time> next;  // expected next_allowed_at
};

class TimeRules : public ::testing::TestWithParam<TimeCase> {};

TEST_P(TimeRules, Decide) {
  const TimeCase& c = GetParam();
  const Decision d = MustDecide(Request(c.purpose, c.at, c.zone));
  EXPECT_EQ(d.allowed, c.allowed) << d.message;
  EXPECT_EQ(d.rule, c.rule) << d.message;
  EXPECT_EQ(d.next_allowed_at, c.next) << d.message;
  EXPECT_EQ(d.profile_id, "co_ley2300_v1");
  EXPECT_EQ(d.profile_version, 1);
}

const Purpose kConf = Purpose::kConfirmation;

INSTANTIATE_TEST_SUITE_P(
    Boundaries, TimeRules,
    ::testing::Values(
        // Saturday 2026-12-05: 08:00-15:00, end exclusive.
        TimeCase{"SaturdayBeforeOpening", kConf, kBogota, At(2026, 12, 5, 7, 59), false, "hours",
                 At(2026, 12, 5, 8, 0)},
        TimeCase{"SaturdayOpening", kConf, kBogota, At(2026, 12, 5, 8, 0), true, "", std::nullopt},
        TimeCase{"Saturday1459", kConf, kBogota, At(2026, 12, 5, 14, 59), true, "", std::nullopt},
        TimeCase{"Saturday145959", kConf, kBogota, At(2026, 12, 5, 14, 59, kBogota, 59), true, "",
                 std::nullopt},
        TimeCase{"Saturday1500", kConf, kBogota, At(2026, 12, 5, 15, 0), false, "hours",
                 At(2026, 12, 7, 7, 0)},
        // Wednesday 2026-12-02: 07:00-19:00.
        TimeCase{"Weekday0659", kConf, kBogota, At(2026, 12, 2, 6, 59), false, "hours",
                 At(2026, 12, 2, 7, 0)},
        TimeCase{"Weekday0700", kConf, kBogota, At(2026, 12, 2, 7, 0), true, "", std::nullopt},
        TimeCase{"Weekday1859", kConf, kBogota, At(2026, 12, 2, 18, 59), true, "", std::nullopt},
        TimeCase{"Weekday1900", kConf, kBogota, At(2026, 12, 2, 19, 0), false, "hours",
                 At(2026, 12, 3, 7, 0)},
        TimeCase{"WeekdayMidnight", kConf, kBogota, At(2026, 12, 3, 0, 0), false, "hours",
                 At(2026, 12, 3, 7, 0)},
        // Friday evening: the next window is Saturday's, at 08:00.
        TimeCase{"Friday1900", kConf, kBogota, At(2026, 12, 4, 19, 0), false, "hours",
                 At(2026, 12, 5, 8, 0)},
        // Holidays: Monday 2026-03-23 (San José) -> Tuesday 07:00; Tuesday 2026-12-08.
        TimeCase{"HolidayMonday", kConf, kBogota, At(2026, 3, 23, 10, 0), false, "holiday",
                 At(2026, 3, 24, 7, 0)},
        TimeCase{"HolidayMondayBeforeOpening", kConf, kBogota, At(2026, 3, 23, 6, 0), false,
                 "holiday", At(2026, 3, 24, 7, 0)},
        TimeCase{"HolidayOnSaturday", kConf, kBogota, At(2026, 8, 15, 10, 0), true, "",
                 std::nullopt},  // 15 Aug 2026 is a Saturday: Asunción moved to Monday 17
        TimeCase{"MovedHolidayMonday", kConf, kBogota, At(2026, 8, 17, 10, 0), false, "holiday",
                 At(2026, 8, 18, 7, 0)},
        TimeCase{"JuevesSanto", Purpose::kReminder, kBogota, At(2026, 4, 2, 9, 0), false, "holiday",
                 At(2026, 4, 4, 8, 0)},  // Jueves, Viernes Santo, then Saturday
        // Sundays: next Monday 07:00, or Tuesday when Monday is a holiday.
        TimeCase{"Sunday", kConf, kBogota, At(2026, 12, 6, 10, 0), false, "sunday",
                 At(2026, 12, 7, 7, 0)},
        TimeCase{"SundayBeforeHolidayMonday", kConf, kBogota, At(2026, 1, 11, 10, 0), false,
                 "sunday", At(2026, 1, 13, 7, 0)},
        TimeCase{"SundayHoliday", kConf, kBogota, At(2025, 7, 20, 10, 0), false, "holiday",
                 At(2025, 7, 21, 7, 0)},
        // The patient's zone decides, not the clinic's (Bogotá, UTC-5).
        TimeCase{"NewYorkFriday1859", kConf, kNewYork, At(2026, 7, 10, 18, 59, kNewYork), true, "",
                 std::nullopt},
        TimeCase{"NewYorkFriday1900", kConf, kNewYork, At(2026, 7, 10, 19, 0, kNewYork), false,
                 "hours", At(2026, 7, 11, 8, 0, kNewYork)},
        TimeCase{"MadridFriday1859", kConf, kMadrid, At(2026, 12, 4, 18, 59, kMadrid), true, "",
                 std::nullopt},
        TimeCase{"MadridFriday1930", kConf, kMadrid, At(2026, 12, 4, 19, 30, kMadrid), false,
                 "hours", At(2026, 12, 5, 8, 0, kMadrid)},
        // Across DST changes in New York, the next window opens at 07:00 local after the change:
        // 2026-03-08 (EST -> EDT): Monday 07:00 EDT is 11:00 UTC.
        TimeCase{"NewYorkSpringForward", kConf, kNewYork, At(2026, 3, 7, 15, 0, kNewYork), false,
                 "hours", Utc(2026, 3, 9, 11, 0)},
        // 2026-11-01 (EDT -> EST); Monday 2 Nov is Todos los Santos, so Tuesday 07:00 EST is
        // 12:00 UTC.
        TimeCase{"NewYorkFallBack", kConf, kNewYork, At(2026, 10, 31, 15, 0, kNewYork), false,
                 "hours", Utc(2026, 11, 3, 12, 0)}),
    [](const ::testing::TestParamInfo<TimeCase>& info) { return std::string(info.param.name); });

TEST(Decision, PatientZoneChangesTheAnswer) {
  // 19:00 in New York in July is 18:00 in Bogotá: refused for the New York patient only.
  const absl::Time at = At(2026, 7, 10, 19, 0, kNewYork);
  EXPECT_EQ(at, At(2026, 7, 10, 18, 0, kBogota));
  EXPECT_FALSE(MustDecide(Request(kConf, at, kNewYork)).allowed);
  EXPECT_TRUE(MustDecide(Request(kConf, at, kBogota)).allowed);
}

TEST(Decision, DstNextIsLocalSevenNotTwentyFourHoursLater) {
  const Decision spring = MustDecide(Request(kConf, At(2026, 3, 7, 15, 0, kNewYork), kNewYork));
  ASSERT_TRUE(spring.next_allowed_at.has_value());
  EXPECT_EQ(absl::FormatTime("%Y-%m-%d %H:%M %z", *spring.next_allowed_at, testing::Zone(kNewYork)),
            "2026-03-09 07:00 -0400");
  const Decision fall = MustDecide(Request(kConf, At(2026, 10, 31, 15, 0, kNewYork), kNewYork));
  ASSERT_TRUE(fall.next_allowed_at.has_value());
  EXPECT_EQ(absl::FormatTime("%Y-%m-%d %H:%M %z", *fall.next_allowed_at, testing::Zone(kNewYork)),
            "2026-11-03 07:00 -0500");
}

// --- messages -------------------------------------------------------------------------------

TEST(Decision, ExactHoursMessage) {
  const Decision d = MustDecide(Request(kConf, At(2026, 12, 5, 15, 0)));
  EXPECT_EQ(d.message,
            "fuera del horario permitido (sábado 08:00-15:00); próximo horario: lunes 2026-12-07 "
            "07:00 America/Bogota");
}

TEST(Decision, HolidayMessageNamesTheHoliday) {
  const Decision d = MustDecide(Request(kConf, At(2026, 12, 8, 10, 0)));
  EXPECT_EQ(d.rule, "holiday");
  EXPECT_EQ(d.message,
            "día festivo (Inmaculada Concepción); próximo horario: miércoles 2026-12-09 07:00 "
            "America/Bogota");
}

TEST(Decision, SundayMessage) {
  const Decision d = MustDecide(Request(kConf, At(2026, 12, 6, 10, 0)));
  EXPECT_EQ(d.message,
            "no se permite contactar en domingo; próximo horario: lunes 2026-12-07 07:00 "
            "America/Bogota");
}

TEST(Decision, AllowedHasNoNextAndSaysSo) {
  const Decision d = MustDecide(Request(kConf, At(2026, 12, 2, 10, 0)));
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.rule, "");
  EXPECT_EQ(d.message, "permitido");
  EXPECT_FALSE(d.next_allowed_at.has_value());
}

// --- frequency --------------------------------------------------------------------------------

TEST(Decision, SecondAnsweredContactSameDayRefusedForPromotionOnly) {
  const absl::Time morning = At(2026, 12, 2, 9, 0);
  const absl::Time afternoon = At(2026, 12, 2, 15, 0);
  DecisionRequest promo = Promotion(afternoon);
  promo.history.push_back({morning, Channel::kVoice, Purpose::kPromotion, true});
  const Decision refused = MustDecide(promo);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.rule, "daily_cap");
  EXPECT_NE(refused.message.find("ya hubo un contacto con el paciente el 2026-12-02"),
            std::string::npos)
      << refused.message;
  // Same channel later in the ISO week is the stricter weekly reading: next is Monday 7 Dec.
  EXPECT_EQ(refused.next_allowed_at, At(2026, 12, 7, 7, 0));

  DecisionRequest confirmation = Request(kConf, afternoon);
  confirmation.history = promo.history;
  EXPECT_TRUE(MustDecide(confirmation).allowed);
}

TEST(Decision, ContactsOfAnyPurposeCountTowardsTheCap) {
  DecisionRequest promo = Promotion(At(2026, 12, 2, 15, 0));
  promo.history.push_back({At(2026, 12, 2, 9, 0), Channel::kVoice, Purpose::kConfirmation, true});
  EXPECT_EQ(MustDecide(promo).rule, "daily_cap");
}

TEST(Decision, UnansweredAttemptsDoNotCountByDefault) {
  DecisionRequest promo = Promotion(At(2026, 12, 2, 15, 0));
  promo.history.push_back({At(2026, 12, 2, 9, 0), Channel::kVoice, Purpose::kPromotion, false});
  promo.history.push_back({At(2026, 12, 2, 11, 0), Channel::kSms, Purpose::kPromotion, false});
  EXPECT_TRUE(MustDecide(promo).allowed);

  // A profile counting every attempt refuses.
  json::value doc =
      json::parse(json::string_view(DefaultProfileJson().data(), DefaultProfileJson().size()));
  doc.as_object()["contact_counting"] = "any_attempt";
  promo.profile = Parsed(json::serialize(doc));
  EXPECT_EQ(MustDecide(promo).rule, "daily_cap");
}

TEST(Decision, DayIsThePatientsLocalDay) {
  // 2026-12-03 03:00 UTC is 2026-12-02 22:00 in Bogotá: the day before, locally.
  DecisionRequest promo = Promotion(At(2026, 12, 3, 10, 0));
  promo.history.push_back({Utc(2026, 12, 3, 3, 0), Channel::kVoice, Purpose::kPromotion, true});
  const Decision d = MustDecide(promo);
  EXPECT_EQ(d.rule, "weekly_cap") << d.message;  // same ISO week, not the same local day
}

TEST(Decision, SecondChannelSameIsoWeekRefusedForPromotion) {
  DecisionRequest promo = Promotion(At(2026, 12, 2, 10, 0), Channel::kVoice);
  promo.history.push_back({At(2026, 11, 30, 10, 0), Channel::kSms, Purpose::kPromotion, true});
  const Decision d = MustDecide(promo);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.rule, "weekly_channel");
  EXPECT_EQ(d.message,
            "ya hubo un contacto por SMS en la semana 2026-W49 (un solo canal por semana); "
            "próximo horario: lunes 2026-12-07 07:00 America/Bogota");
  EXPECT_EQ(d.next_allowed_at, At(2026, 12, 7, 7, 0));

  DecisionRequest reminder = Request(Purpose::kReminder, At(2026, 12, 2, 10, 0));
  reminder.history = promo.history;
  EXPECT_TRUE(MustDecide(reminder).allowed);
}

TEST(Decision, IsoWeekStartsOnMondayInThePatientsZone) {
  // Saturday 28 Nov is in the previous ISO week: Monday 30 Nov on another channel is fine.
  DecisionRequest promo = Promotion(At(2026, 11, 30, 10, 0), Channel::kVoice);
  promo.history.push_back({At(2026, 11, 28, 10, 0), Channel::kSms, Purpose::kPromotion, true});
  EXPECT_TRUE(MustDecide(promo).allowed) << MustDecide(promo).message;
  // 2026-11-30 04:00 UTC is still Sunday 29 Nov in Bogotá (previous week) but Monday in Madrid.
  DecisionRequest bogota = Promotion(At(2026, 12, 1, 10, 0), Channel::kVoice);
  bogota.history.push_back({Utc(2026, 11, 30, 4, 0), Channel::kSms, Purpose::kPromotion, true});
  EXPECT_TRUE(MustDecide(bogota).allowed);
  DecisionRequest madrid = Promotion(At(2026, 12, 1, 10, 0, kMadrid), Channel::kVoice, kMadrid);
  madrid.history = bogota.history;
  EXPECT_EQ(MustDecide(madrid).rule, "weekly_channel");
}

TEST(Decision, IsoWeekLabels) {
  EXPECT_EQ(IsoWeekLabel(absl::CivilDay(2026, 12, 2)), "2026-W49");
  EXPECT_EQ(IsoWeekLabel(absl::CivilDay(2027, 1, 1)), "2026-W53");  // Friday of 2026's week 53
  EXPECT_EQ(IsoWeekLabel(absl::CivilDay(2024, 12, 30)), "2025-W01");
  EXPECT_EQ(IsoWeekLabel(absl::CivilDay(2026, 1, 5)), "2026-W02");
  EXPECT_TRUE(SameIsoWeek(absl::CivilDay(2026, 11, 30), absl::CivilDay(2026, 12, 6)));
  EXPECT_FALSE(SameIsoWeek(absl::CivilDay(2026, 11, 29), absl::CivilDay(2026, 11, 30)));
}

TEST(Decision, WeeklyCapRelaxedGivesTheOtherReading) {
  DecisionRequest promo = Promotion(At(2026, 12, 3, 10, 0));
  promo.history.push_back({At(2026, 12, 2, 10, 0), Channel::kVoice, Purpose::kPromotion, true});
  EXPECT_EQ(MustDecide(promo).rule, "weekly_cap");

  promo.profile = Parsed(WithRelaxations(
      R"([{"purpose": "promotion", "rule": "weekly_cap",
           "reason": "Lectura [C4]: varios contactos por semana en un mismo canal, uno por día"}])"));
  const Decision d = MustDecide(promo);
  EXPECT_TRUE(d.allowed) << d.message;
  EXPECT_EQ(d.profile_id, "clinica_relajada_v1");
  EXPECT_NE(d.record_json.find("Lectura [C4]"), std::string::npos);
  // The daily cap still holds on the same day.
  promo.at = At(2026, 12, 2, 16, 0);
  const Decision same_day = MustDecide(promo);
  EXPECT_EQ(same_day.rule, "daily_cap");
  EXPECT_EQ(same_day.next_allowed_at, At(2026, 12, 3, 7, 0));
}

// --- consent, RNE, opt-out: not time-based, so no next instant -------------------------------

TEST(Decision, MissingConsentRefusedForPromotion) {
  DecisionRequest promo = Promotion(At(2026, 12, 2, 10, 0));
  promo.consents.clear();
  const Decision d = MustDecide(promo);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.rule, "consent");
  EXPECT_EQ(d.message, "sin autorización del paciente para promoción por voz");
  EXPECT_FALSE(d.next_allowed_at.has_value());
}

TEST(Decision, ConsentForAnotherChannelOrPurposeDoesNotCount) {
  DecisionRequest promo = Promotion(At(2026, 12, 2, 10, 0), Channel::kWhatsapp);
  promo.consents = {{Purpose::kPromotion, Channel::kVoice, ConsentState::kAuthorised, "A"},
                    {Purpose::kCollection, Channel::kWhatsapp, ConsentState::kAuthorised, "B"}};
  EXPECT_EQ(MustDecide(promo).rule, "consent");
}

TEST(Decision, RevokedConsentRefused) {
  DecisionRequest promo = Promotion(At(2026, 12, 2, 10, 0));
  promo.consents.push_back({Purpose::kPromotion, Channel::kVoice, ConsentState::kRevoked, "REV-77",
                            At(2026, 11, 20, 9, 0)});
  const Decision d = MustDecide(promo);
  EXPECT_EQ(d.rule, "consent");
  EXPECT_EQ(d.message, "autorización revocada para promoción por voz (ref. REV-77)");
  EXPECT_FALSE(d.next_allowed_at.has_value());
  EXPECT_NE(d.record_json.find("REV-77"), std::string::npos);
}

TEST(Decision, LatestConsentRecordWins) {
  DecisionRequest promo = Promotion(At(2026, 12, 2, 10, 0));
  promo.consents = {
      {Purpose::kPromotion, Channel::kVoice, ConsentState::kRevoked, "R", At(2026, 3, 1, 9, 0)},
      {Purpose::kPromotion, Channel::kVoice, ConsentState::kAuthorised, "A2",
       At(2026, 6, 1, 9, 0)}};
  EXPECT_TRUE(MustDecide(promo).allowed);
  // A record after the decision's instant is not yet known at it.
  promo.consents.push_back(
      {Purpose::kPromotion, Channel::kVoice, ConsentState::kRevoked, "R2", At(2026, 12, 3, 9, 0)});
  EXPECT_TRUE(MustDecide(promo).allowed);
  // A tie between authorisation and revocation is a revocation.
  promo.consents.push_back(
      {Purpose::kPromotion, Channel::kVoice, ConsentState::kRevoked, "R3", At(2026, 6, 1, 9, 0)});
  EXPECT_EQ(MustDecide(promo).rule, "consent");
}

TEST(Decision, RneListedRefusedForPromotionWithListVersion) {
  DecisionRequest promo = Promotion(At(2026, 12, 2, 10, 0));
  promo.excluded_number = ExcludedNumberCheck{true, "rne-2026-11-30"};
  const Decision d = MustDecide(promo);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.rule, "excluded_number");
  EXPECT_EQ(d.message,
            "número inscrito en el Registro de Números Excluidos (RNE) para voz (lista "
            "rne-2026-11-30)");
  EXPECT_FALSE(d.next_allowed_at.has_value());
  const json::value rec = json::parse(d.record_json);
  EXPECT_EQ(rec.at("excluded_number").at("list_version").as_string(), "rne-2026-11-30");
  EXPECT_TRUE(rec.at("excluded_number").at("listed").as_bool());

  // RNE is not checked for a service message.
  DecisionRequest confirmation = Request(kConf, At(2026, 12, 2, 10, 0));
  confirmation.excluded_number = promo.excluded_number;
  EXPECT_TRUE(MustDecide(confirmation).allowed);
}

TEST(Decision, RneNotConsultedRefusedForCollection) {
  DecisionRequest r = Request(Purpose::kCollection, At(2026, 12, 2, 10, 0));
  r.consents.push_back({Purpose::kCollection, Channel::kVoice, ConsentState::kAuthorised, "C"});
  const Decision d = MustDecide(r);
  EXPECT_EQ(d.rule, "excluded_number");
  EXPECT_EQ(d.message, "no se consultó el Registro de Números Excluidos (RNE) para voz");
}

TEST(Decision, OptOutRefusesEveryPurpose) {
  for (Purpose p : kAllPurposes) {
    DecisionRequest r = Promotion(At(2026, 12, 2, 10, 0));
    r.purpose = p;
    r.opted_out = true;
    const Decision d = MustDecide(r);
    EXPECT_FALSE(d.allowed) << PurposeName(p);
    EXPECT_EQ(d.rule, "opt_out") << PurposeName(p);
    EXPECT_EQ(d.message, "el paciente pidió no ser contactado");
    EXPECT_FALSE(d.next_allowed_at.has_value());
  }
}

TEST(Decision, NonTimeRefusalsComeFirstEvenOnSunday) {
  DecisionRequest r = Promotion(At(2026, 12, 6, 10, 0));
  r.consents.clear();
  const Decision d = MustDecide(r);
  EXPECT_EQ(d.rule, "consent");
  EXPECT_FALSE(d.next_allowed_at.has_value());
}

// --- relaxations ----------------------------------------------------------------------------

TEST(Decision, HoursRelaxationWithReasonIsHonoured) {
  const Profile relaxed = Parsed(WithRelaxations(
      "[{\"purpose\": \"reminder\", \"rule\": \"hours\", "
      "\"reason\": \"Recordatorio el domingo de las citas del lunes (acta comité 2026-11)\", "
      "\"windows\": {\"sunday\": [\"09:00-12:00\"]}}]"));
  DecisionRequest reminder = Request(Purpose::kReminder, At(2026, 12, 6, 10, 0));
  reminder.profile = relaxed;
  const Decision d = MustDecide(reminder);
  EXPECT_TRUE(d.allowed) << d.message;
  const json::value rec = json::parse(d.record_json);
  ASSERT_EQ(rec.at("relaxations").as_array().size(), 1u);
  EXPECT_EQ(rec.at("relaxations").at(0).at("rule").as_string(), "hours");

  reminder.at = At(2026, 12, 6, 12, 0);
  const Decision late = MustDecide(reminder);
  EXPECT_EQ(late.rule, "hours");
  EXPECT_EQ(late.message,
            "fuera del horario permitido (domingo 09:00-12:00); próximo horario: lunes 2026-12-07 "
            "07:00 America/Bogota");

  DecisionRequest confirmation = Request(kConf, At(2026, 12, 6, 10, 0));
  confirmation.profile = relaxed;
  EXPECT_EQ(MustDecide(confirmation).rule, "sunday");
}

TEST(Decision, HolidayRelaxationMakesTheDayAnOrdinaryWeekday) {
  DecisionRequest survey = Request(Purpose::kSurvey, At(2026, 3, 23, 10, 0));
  survey.profile = Parsed(WithRelaxations(
      R"([{"purpose": "survey", "rule": "holidays", "reason": "encuesta de servicio en festivo"}])"));
  EXPECT_TRUE(MustDecide(survey).allowed);
  survey.at = At(2026, 3, 23, 19, 0);
  EXPECT_EQ(MustDecide(survey).rule, "hours");
}

TEST(Decision, RelaxationWithoutReasonDoesNotParse) {
  auto p = ParseProfile(WithRelaxations(R"([{"purpose": "survey", "rule": "holidays"}])"));
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("relaxations[0].reason: missing"), absl::string_view::npos);
}

// --- errors and the record ------------------------------------------------------------------

TEST(Decision, InvalidTimeZoneIsAnError) {
  for (const char* zone : {"Mars/Olympus_Mons", "", "America/Bogotá"}) {
    auto d = Decide(Request(kConf, At(2026, 12, 2, 10, 0), zone));
    ASSERT_FALSE(d.ok()) << zone;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  }
  auto d = Decide(Request(kConf, At(2026, 12, 2, 10, 0), "Mars/Olympus_Mons"));
  EXPECT_NE(d.status().message().find("\"Mars/Olympus_Mons\""), absl::string_view::npos);
}

TEST(Decision, OtherInvalidInputs) {
  DecisionRequest no_profile = Request(kConf, At(2026, 12, 2, 10, 0));
  no_profile.profile = Profile{};
  EXPECT_EQ(Decide(no_profile).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Decide(Request(kConf, absl::InfiniteFuture())).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Decision, RecordHoldsTheInputsAndTheOutcome) {
  DecisionRequest promo = Promotion(At(2026, 12, 5, 15, 0), Channel::kVoice);
  promo.history.push_back({At(2026, 11, 2, 10, 0), Channel::kSms, Purpose::kPromotion, true});
  promo.history.push_back({At(2026, 11, 30, 10, 0), Channel::kVoice, Purpose::kReminder, false});
  const Decision d = MustDecide(promo);
  const json::value rec = json::parse(d.record_json);
  EXPECT_EQ(rec.at("profile").at("id").as_string(), "co_ley2300_v1");
  EXPECT_EQ(rec.at("profile").at("version").as_int64(), 1);
  EXPECT_EQ(rec.at("purpose").as_string(), "promotion");
  EXPECT_EQ(rec.at("channel").as_string(), "voice");
  EXPECT_EQ(rec.at("at").as_string(), "2026-12-05T20:00:00Z");
  EXPECT_EQ(rec.at("time_zone").as_string(), "America/Bogota");
  EXPECT_EQ(rec.at("local_time").as_string(), "2026-12-05T15:00:00");
  EXPECT_EQ(rec.at("iso_week").as_string(), "2026-W49");
  EXPECT_TRUE(rec.at("holiday").is_null());
  EXPECT_EQ(rec.at("rules_applied").as_array().size(), 7u);
  EXPECT_EQ(rec.at("consent").at("reference").as_string(), "AUT-001");
  EXPECT_EQ(rec.at("history_entries").to_number<int>(), 2);
  // Neither entry counts this week: one is from November's first week, one unanswered.
  EXPECT_TRUE(rec.at("history_counted_this_week").as_array().empty());
  EXPECT_FALSE(rec.at("decision").at("allowed").as_bool());
  EXPECT_EQ(rec.at("decision").at("rule").as_string(), "hours");
  EXPECT_EQ(rec.at("decision").at("message").as_string(), d.message);
  EXPECT_EQ(rec.at("decision").at("next_allowed_at").as_string(), "2026-12-07T12:00:00Z");
}

// --- properties -----------------------------------------------------------------------------

// Over five weeks that cross New York's spring DST change and three holidays, every 17 minutes:
// a time-based refusal's next instant is allowed, is after `at`, and one second before it the
// request is still refused (no earlier instant was skipped).
TEST(Decision, NextAllowedIsAllowedAndMinimal) {
  for (const char* zone : {kBogota, kNewYork}) {
    DecisionRequest promo = Promotion(At(2026, 3, 2, 0, 0, zone), Channel::kVoice, zone);
    promo.history.push_back(
        {At(2026, 3, 11, 9, 30, zone), Channel::kVoice, Purpose::kConfirmation, true});
    promo.history.push_back(
        {At(2026, 3, 25, 9, 30, zone), Channel::kSms, Purpose::kPromotion, true});
    const absl::Time end = At(2026, 4, 6, 0, 0, zone);
    int refused = 0;
    for (absl::Time t = promo.at; t < end; t += absl::Minutes(17)) {
      DecisionRequest r = promo;
      r.at = t;
      const Decision d = MustDecide(r);
      if (d.allowed) continue;
      ++refused;
      ASSERT_TRUE(d.next_allowed_at.has_value()) << d.message;
      ASSERT_GT(*d.next_allowed_at, t);
      r.at = *d.next_allowed_at;
      ASSERT_TRUE(MustDecide(r).allowed)
          << zone << " " << absl::FormatTime(t) << " -> " << MustDecide(r).message;
      r.at = *d.next_allowed_at - absl::Seconds(1);
      if (r.at > t) {
        ASSERT_FALSE(MustDecide(r).allowed) << zone << " " << absl::FormatTime(r.at);
      }
    }
    EXPECT_GT(refused, 1000) << zone;
  }
}

// Every day of 2026 at 10:00 in Bogotá, a confirmation is allowed exactly on the days that are
// neither a Sunday nor a holiday.
TEST(Decision, ConfirmationAtTenFollowsTheCalendar) {
  int allowed = 0;
  for (absl::CivilDay day(2026, 1, 1); day.year() == 2026; ++day) {
    const Decision d =
        MustDecide(Request(kConf, At(static_cast<int>(day.year()), day.month(), day.day(), 10, 0)));
    const bool expected = absl::GetWeekday(day) != absl::Weekday::sunday && !IsHoliday(day);
    EXPECT_EQ(d.allowed, expected) << absl::FormatCivilTime(day) << " " << d.message;
    allowed += d.allowed ? 1 : 0;
  }
  // 365 days, 52 Sundays, 18 holidays none of them on a Sunday in 2026.
  EXPECT_EQ(allowed, 365 - 52 - 18);
}

TEST(Decision, ProfileWithoutWindowsHasNoNext) {
  json::value doc =
      json::parse(json::string_view(DefaultProfileJson().data(), DefaultProfileJson().size()));
  for (auto& kv : doc.as_object()["windows"].as_object()) kv.value() = json::array{};
  DecisionRequest r = Request(kConf, At(2026, 12, 2, 10, 0));
  r.profile = Parsed(json::serialize(doc));
  const Decision d = MustDecide(r);
  EXPECT_EQ(d.rule, "hours");
  EXPECT_FALSE(d.next_allowed_at.has_value());
  EXPECT_EQ(d.message,
            "fuera del horario permitido (miércoles sin horario); sin horario permitido en los "
            "próximos 400 días");
}

}  // namespace
}  // namespace outcall::policy
