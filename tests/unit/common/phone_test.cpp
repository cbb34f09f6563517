// Phone normalisation: the seed's rules, other countries, and refusals that say why.
#include "outcall/common/phone.h"

#include <gtest/gtest.h>

namespace outcall::common {
namespace {

TEST(NormalizePhone, SeedSpellingsGiveTheSameE164) {
  for (const char* in : {"3001234567", "573001234567", "+57 300 123 4567", "+573001234567",
                         "(300) 123-4567", "0057 300 123 4567", "300.123.4567"}) {
    auto out = NormalizePhone(in);
    ASSERT_TRUE(out.ok()) << in << ": " << out.status();
    EXPECT_EQ(*out, "+573001234567") << in;
  }
}

TEST(NormalizePhone, ColombianLandline) {
  EXPECT_EQ(*NormalizePhone("6012345678"), "+576012345678");
  EXPECT_EQ(*NormalizePhone("+57 601 234 5678"), "+576012345678");
}

TEST(NormalizePhone, OtherCountriesInE164) {
  for (const char* in : {"+14155552671", "+447911123456", "+34612345678", "+5215512345678"}) {
    auto out = NormalizePhone(in);
    ASSERT_TRUE(out.ok()) << in << ": " << out.status();
    EXPECT_EQ(*out, in);
  }
  EXPECT_EQ(*NormalizePhone("612345678", "34"), "+34612345678");
  EXPECT_EQ(*NormalizePhone("14155552671", "1"), "+14155552671");
}

void ExpectRefused(std::string_view in, std::string_view why, std::string_view cc = "57") {
  auto out = NormalizePhone(in, cc);
  ASSERT_FALSE(out.ok()) << in << " gave " << *out;
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string msg(out.status().message());
  EXPECT_NE(msg.find(why), std::string::npos) << in << ": " << msg;
}

TEST(NormalizePhone, RefusalsSayWhy) {
  ExpectRefused("", "no digits");
  ExpectRefused("   ", "no digits");
  ExpectRefused("300abc4567", "only hold digits");
  ExpectRefused("300+1234567", "'+' may only appear once");
  ExpectRefused("++573001234567", "'+' may only appear once");
  ExpectRefused("300123456", "10 digits");     // 9 digits
  ExpectRefused("30012345678", "10 digits");   // 11 digits
  ExpectRefused("+57300123456", "10 digits after +57");
  ExpectRefused("5001234567", "start with 3 (mobile) or 60");
  ExpectRefused("+571001234567", "start with 3 (mobile) or 60");
  ExpectRefused("+9991234567", "no country uses");
  ExpectRefused("+0573001234567", "never starts with 0");
  ExpectRefused("+4479111234567890", "at most 15 digits");
  ExpectRefused("+1415555267", "10 digits after the country code");
  ExpectRefused("+1015555267", "10 digits after the country code");
  ExpectRefused("+10155552671", "cannot start with 0 or 1");
  ExpectRefused("+", "no digits");
}

TEST(CountryCallingCode, FindsThePrefix) {
  EXPECT_EQ(CountryCallingCode("+573001234567"), "57");
  EXPECT_EQ(CountryCallingCode("+14155552671"), "1");
  EXPECT_EQ(CountryCallingCode("+593991234567"), "593");
  EXPECT_EQ(CountryCallingCode("+447911123456"), "44");
  EXPECT_EQ(CountryCallingCode("573001234567"), "");
  EXPECT_EQ(CountryCallingCode("+999"), "");
}

}  // namespace
}  // namespace outcall::common
