#include "outcall/policy/profile.h"

#include <string>

#include "boost/json.hpp"
#include "gtest/gtest.h"

namespace outcall::policy {
namespace {

namespace json = boost::json;

// The default document with one change applied, so each test shows only what it breaks.
std::string Modified(void (*change)(json::object&)) {
  json::value doc =
      json::parse(json::string_view(DefaultProfileJson().data(), DefaultProfileJson().size()));
  change(doc.as_object());
  return json::serialize(doc);
}

std::string ErrorOf(const std::string& text) {
  auto parsed = ParseProfile(text);
  EXPECT_FALSE(parsed.ok()) << text;
  if (parsed.ok()) return "";
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(parsed.status().message());
}

TEST(Profile, DefaultIsCoLey2300V1) {
  const Profile& p = DefaultProfile();
  EXPECT_EQ(p.id, "co_ley2300_v1");
  EXPECT_EQ(p.version, 1);
  EXPECT_EQ(p.counting, ContactCounting::kAnswered);
  EXPECT_TRUE(p.relaxations.empty());
  for (absl::Weekday d : {absl::Weekday::monday, absl::Weekday::tuesday, absl::Weekday::wednesday,
                          absl::Weekday::thursday, absl::Weekday::friday}) {
    EXPECT_EQ(p.windows.For(d), (std::vector<TimeWindow>{{7 * 60, 19 * 60}}));
  }
  EXPECT_EQ(p.windows.For(absl::Weekday::saturday), (std::vector<TimeWindow>{{8 * 60, 15 * 60}}));
  EXPECT_TRUE(p.windows.For(absl::Weekday::sunday).empty());
}

TEST(Profile, DefaultRulesPerPurpose) {
  const Profile& p = DefaultProfile();
  for (Purpose purpose : kAllPurposes) {
    EXPECT_TRUE(p.Applies(purpose, Rule::kHours)) << PurposeName(purpose);
    EXPECT_TRUE(p.Applies(purpose, Rule::kHolidays)) << PurposeName(purpose);
  }
  for (Purpose purpose : {Purpose::kConfirmation, Purpose::kReminder, Purpose::kSurvey}) {
    for (Rule r : {Rule::kDailyCap, Rule::kWeeklyCap, Rule::kWeeklyChannel,
                   Rule::kAuthorisedChannels, Rule::kExcludedNumbers}) {
      EXPECT_FALSE(p.Applies(purpose, r)) << PurposeName(purpose) << " " << RuleName(r);
    }
  }
  for (Purpose purpose : {Purpose::kPromotion, Purpose::kCollection}) {
    for (Rule r : kAllRules) {
      EXPECT_TRUE(p.Applies(purpose, r)) << PurposeName(purpose) << " " << RuleName(r);
    }
  }
}

TEST(Profile, DefaultParsesThroughThePublicParser) {
  auto parsed = ParseProfile(DefaultProfileJson());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->id, "co_ley2300_v1");
  EXPECT_EQ(parsed->rules, DefaultProfile().rules);
}

TEST(Profile, NamesRoundTrip) {
  for (Purpose p : kAllPurposes) EXPECT_EQ(*ParsePurpose(PurposeName(p)), p);
  for (Channel c : kAllChannels) EXPECT_EQ(*ParseChannel(ChannelName(c)), c);
  for (Rule r : kAllRules) EXPECT_EQ(*ParseRule(RuleName(r)), r);
  EXPECT_FALSE(ParsePurpose("marketing").ok());
  EXPECT_FALSE(ParseChannel("fax").ok());
  EXPECT_EQ(FormatWindows({{7 * 60, 12 * 60}, {14 * 60, 24 * 60}}), "07:00-12:00, 14:00-24:00");
}

TEST(Profile, StricterProfileIsAccepted) {
  const std::string text = Modified([](json::object& o) {
    o["id"] = "clinica_x_v3";
    o["version"] = 3;
    o["windows"].as_object()["saturday"] = json::array{"09:00-12:00"};
    o["windows"].as_object()["monday"] = json::array{"08:00-12:00", "14:00-18:00"};
    o["purposes"].as_object()["survey"] = json::array{"hours", "holidays", "daily_cap"};
    o["contact_counting"] = "any_attempt";
  });
  auto parsed = ParseProfile(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->id, "clinica_x_v3");
  EXPECT_EQ(parsed->version, 3);
  EXPECT_EQ(parsed->counting, ContactCounting::kAnyAttempt);
  EXPECT_EQ(FormatWindows(parsed->windows.For(absl::Weekday::monday)), "08:00-12:00, 14:00-18:00");
  EXPECT_TRUE(parsed->Applies(Purpose::kSurvey, Rule::kDailyCap));
}

TEST(Profile, RelaxationWithReasonSwitchesTheRuleOff) {
  const std::string text = Modified([](json::object& o) {
    o["relaxations"] = json::array{json::object{
        {"purpose", "promotion"},
        {"rule", "weekly_cap"},
        {"reason", "Lectura de asuntoslegales [C4]: varios contactos por semana en un canal"},
        {"approved_by", "oficial de cumplimiento"}}};
  });
  auto parsed = ParseProfile(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_FALSE(parsed->Applies(Purpose::kPromotion, Rule::kWeeklyCap));
  EXPECT_TRUE(parsed->Applies(Purpose::kCollection, Rule::kWeeklyCap));
  EXPECT_TRUE(parsed->Applies(Purpose::kPromotion, Rule::kDailyCap));
  ASSERT_NE(parsed->RelaxationOf(Purpose::kPromotion, Rule::kWeeklyCap), nullptr);
  EXPECT_NE(parsed->RelaxationOf(Purpose::kPromotion, Rule::kWeeklyCap)->reason.find("[C4]"),
            std::string::npos);
}

TEST(Profile, HoursRelaxationWithWindowsReplacesOnlyTheDaysGiven) {
  const std::string text = Modified([](json::object& o) {
    o["relaxations"] = json::array{json::object{
        {"purpose", "reminder"},
        {"rule", "hours"},
        {"reason", "recordatorio el domingo de citas del lunes, pedido por los pacientes"},
        {"windows", json::object{{"sunday", json::array{"09:00-12:00"}}}}}};
  });
  auto parsed = ParseProfile(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_TRUE(parsed->Applies(Purpose::kReminder, Rule::kHours));
  const WeeklyWindows& w = parsed->WindowsFor(Purpose::kReminder);
  EXPECT_EQ(FormatWindows(w.For(absl::Weekday::sunday)), "09:00-12:00");
  EXPECT_EQ(FormatWindows(w.For(absl::Weekday::saturday)), "08:00-15:00");
  EXPECT_TRUE(parsed->WindowsFor(Purpose::kConfirmation).For(absl::Weekday::sunday).empty());
}

TEST(Profile, RelaxationWithoutReasonIsAnError) {
  const std::string missing = ErrorOf(Modified([](json::object& o) {
    o["relaxations"] = json::array{json::object{{"purpose", "promotion"}, {"rule", "daily_cap"}}};
  }));
  EXPECT_EQ(missing,
            "profile: relaxations[0].reason: missing (a relaxation needs a recorded reason)");
  const std::string blank = ErrorOf(Modified([](json::object& o) {
    o["relaxations"] = json::array{
        json::object{{"purpose", "promotion"}, {"rule", "daily_cap"}, {"reason", "  "}}};
  }));
  EXPECT_EQ(blank, "profile: relaxations[0].reason: empty (a relaxation needs a recorded reason)");
}

TEST(Profile, DroppingABaselineRuleNeedsARelaxation) {
  const std::string error = ErrorOf(Modified([](json::object& o) {
    o["purposes"].as_object()["promotion"] = json::array{"hours", "holidays"};
  }));
  EXPECT_NE(error.find("purposes.promotion"), std::string::npos) << error;
  EXPECT_NE(error.find("\"daily_cap\" is required by co_ley2300_v1"), std::string::npos) << error;
}

TEST(Profile, WideningHoursNeedsARelaxation) {
  const std::string sunday = ErrorOf(Modified(
      [](json::object& o) { o["windows"].as_object()["sunday"] = json::array{"09:00-12:00"}; }));
  EXPECT_NE(sunday.find("windows.sunday[0]: 09:00-12:00 is outside co_ley2300_v1's hours (none)"),
            std::string::npos)
      << sunday;
  const std::string evening = ErrorOf(Modified(
      [](json::object& o) { o["windows"].as_object()["friday"] = json::array{"07:00-20:00"}; }));
  EXPECT_NE(evening.find("windows.friday[0]"), std::string::npos) << evening;
}

struct BadCase {
  const char* name;
  void (*change)(json::object&);
  const char* expected;  // a substring of the error
};

class ProfileErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(ProfileErrors, NameTheField) {
  const std::string error = ErrorOf(Modified(GetParam().change));
  EXPECT_NE(error.find(GetParam().expected), std::string::npos) << error;
}

INSTANTIATE_TEST_SUITE_P(
    Fields, ProfileErrors,
    ::testing::Values(
        BadCase{"UnknownTopLevel", [](json::object& o) { o["timezone"] = "UTC"; },
                "profile: timezone: unknown field"},
        BadCase{"MissingId", [](json::object& o) { o.erase("id"); }, "profile: id: missing"},
        BadCase{"EmptyId", [](json::object& o) { o["id"] = ""; }, "profile: id: empty"},
        BadCase{"VersionNotInteger", [](json::object& o) { o["version"] = "1"; },
                "profile: version: must be a positive integer"},
        BadCase{"VersionZero", [](json::object& o) { o["version"] = 0; },
                "profile: version: must be a positive integer"},
        BadCase{"MissingDay", [](json::object& o) { o["windows"].as_object().erase("tuesday"); },
                "profile: windows.tuesday: missing"},
        BadCase{
            "BadWindow",
            [](json::object& o) { o["windows"].as_object()["monday"] = json::array{"7:00-19:00"}; },
            "profile: windows.monday[0]: \"7:00-19:00\" is not a window"},
        BadCase{"BackwardsWindow",
                [](json::object& o) {
                  o["windows"].as_object()["monday"] = json::array{"19:00-07:00"};
                },
                "profile: windows.monday[0]: \"19:00-07:00\" ends before it starts"},
        BadCase{"OverlappingWindows",
                [](json::object& o) {
                  o["windows"].as_object()["monday"] = json::array{"07:00-12:00", "11:00-13:00"};
                },
                "profile: windows.monday[1]: windows must be in order"},
        BadCase{"UnknownWeekday",
                [](json::object& o) { o["windows"].as_object()["festivo"] = json::array{}; },
                "profile: windows.festivo: unknown field"},
        BadCase{"UnknownRule",
                [](json::object& o) {
                  o["purposes"].as_object()["survey"] = json::array{"hours", "holidays", "rne"};
                },
                "profile: purposes.survey[2]: unknown rule \"rne\""},
        BadCase{"MissingPurpose",
                [](json::object& o) { o["purposes"].as_object().erase("collection"); },
                "profile: purposes.collection: missing"},
        BadCase{"BadCounting", [](json::object& o) { o["contact_counting"] = "all"; },
                "profile: contact_counting: must be"},
        BadCase{"RelaxationOfUnlistedRule",
                [](json::object& o) {
                  o["relaxations"] = json::array{json::object{
                      {"purpose", "confirmation"}, {"rule", "daily_cap"}, {"reason", "x"}}};
                },
                "profile: relaxations[0]: rule \"daily_cap\" is not listed for purpose "
                "\"confirmation\""},
        BadCase{"RelaxationWindowsOnOtherRule",
                [](json::object& o) {
                  o["relaxations"] = json::array{
                      json::object{{"purpose", "promotion"},
                                   {"rule", "holidays"},
                                   {"reason", "x"},
                                   {"windows", json::object{{"sunday", json::array{}}}}}};
                },
                "profile: relaxations[0].windows: only a relaxation of \"hours\""},
        BadCase{"RelaxationTypo",
                [](json::object& o) {
                  o["relaxations"] = json::array{json::object{
                      {"purpose", "promotion"}, {"rule", "daily_cap"}, {"reasn", "x"}}};
                },
                "profile: relaxations[0].reasn: unknown field"},
        BadCase{"DuplicateRelaxation",
                [](json::object& o) {
                  json::object r{{"purpose", "promotion"}, {"rule", "daily_cap"}, {"reason", "x"}};
                  o["relaxations"] = json::array{r, r};
                },
                "profile: relaxations[1]: a second relaxation"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return std::string(info.param.name); });

TEST(Profile, NotJson) {
  EXPECT_NE(ErrorOf("{\"id\": ").find("profile: not JSON"), std::string::npos);
  EXPECT_EQ(ErrorOf("[]"), "profile: must be a JSON object");
}

}  // namespace
}  // namespace outcall::policy
