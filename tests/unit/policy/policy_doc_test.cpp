// docs/policy.md shows the default profile and a clinic's example: both must stay true.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "boost/json.hpp"
#include "gtest/gtest.h"
#include "outcall/policy/profile.h"

namespace outcall::policy {
namespace {

namespace json = boost::json;

std::vector<std::string> JsonBlocks() {
  std::ifstream in(OUTCALL_POLICY_DOC);
  EXPECT_TRUE(in.good()) << OUTCALL_POLICY_DOC;
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  std::vector<std::string> out;
  const std::string open = "```json\n";
  for (size_t at = doc.find(open); at != std::string::npos; at = doc.find(open, at)) {
    at += open.size();
    const size_t end = doc.find("```", at);
    out.push_back(doc.substr(at, end - at));
    at = end;
  }
  return out;
}

std::string BlockWithId(const std::string& id) {
  for (const std::string& block : JsonBlocks()) {
    if (block.find("\"id\": \"" + id + "\"") != std::string::npos) return block;
  }
  ADD_FAILURE() << "no ```json block with id " << id << " in docs/policy.md";
  return "{}";
}

TEST(PolicyDoc, ShowsTheDefaultProfileAsBuilt) {
  EXPECT_EQ(
      json::parse(BlockWithId("co_ley2300_v1")),
      json::parse(json::string_view(DefaultProfileJson().data(), DefaultProfileJson().size())));
}

TEST(PolicyDoc, ClinicExampleParses) {
  auto p = ParseProfile(BlockWithId("clinica_norte_v2"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->version, 2);
  EXPECT_FALSE(p->Applies(Purpose::kPromotion, Rule::kWeeklyCap));
  EXPECT_TRUE(p->Applies(Purpose::kCollection, Rule::kWeeklyCap));
  EXPECT_EQ(FormatWindows(p->WindowsFor(Purpose::kReminder).For(absl::Weekday::sunday)),
            "09:00-12:00");
  EXPECT_EQ(FormatWindows(p->WindowsFor(Purpose::kReminder).For(absl::Weekday::saturday)),
            "08:00-12:00");
}

}  // namespace
}  // namespace outcall::policy
