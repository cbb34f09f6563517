// Unit tests for outcall/common/phone.h: E.164 normalisation with Colombia (+57) as the default.
#include "outcall/common/phone.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace outcall::common {
namespace {

using ::testing::HasSubstr;

// Asserts that `input` is refused with INVALID_ARGUMENT and a message containing `why`.
void ExpectRefused(std::string_view input, std::string_view why,
                   std::string_view default_country_code = "57") {
  SCOPED_TRACE(std::string("input: \"") + std::string(input) + "\"");
  const auto result = NormalizePhone(input, default_country_code);
  ASSERT_FALSE(result.ok()) << "accepted as " << *result;
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("invalid phone number"));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr(std::string(why)));
}

class ColombianMobileFormsTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ColombianMobileFormsTest, AllGiveTheSameE164Number) {
  const auto result = NormalizePhone(GetParam());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "+573001234567");
}

INSTANTIATE_TEST_SUITE_P(Forms, ColombianMobileFormsTest,
                         ::testing::Values("3001234567", "573001234567", "+573001234567",
                                           "+57 300 123 4567", "(300) 123-4567",
                                           "0057 300 123 4567", "300.123.4567", " 300 123 4567 ",
                                           "+57 (300) 123-4567", "300\t123\t4567"));

TEST(NormalizePhoneTest, DefaultArgumentIsColombia) {
  // The same national number with an explicit "57" and with the default argument.
  const auto explicit_cc = NormalizePhone("3001234567", "57");
  const auto implicit_cc = NormalizePhone("3001234567");
  ASSERT_TRUE(explicit_cc.ok());
  ASSERT_TRUE(implicit_cc.ok());
  EXPECT_EQ(*explicit_cc, *implicit_cc);
}

TEST(NormalizePhoneTest, ColombianLandline) {
  const auto result = NormalizePhone("6012345678");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "+576012345678");

  const auto international = NormalizePhone("+57 601 234 5678");
  ASSERT_TRUE(international.ok()) << international.status();
  EXPECT_EQ(*international, "+576012345678");
}

class ForeignE164Test : public ::testing::TestWithParam<const char*> {};

TEST_P(ForeignE164Test, PassesUnchanged) {
  const auto result = NormalizePhone(GetParam());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, GetParam());
}

INSTANTIATE_TEST_SUITE_P(OtherCountries, ForeignE164Test,
                         ::testing::Values("+14155552671", "+447911123456", "+34612345678",
                                           "+5215512345678", "+4915123456789"));

TEST(NormalizePhoneTest, ForeignNumberWithSeparatorsAndInternationalPrefix) {
  const auto spaced = NormalizePhone("+44 7911 123456");
  ASSERT_TRUE(spaced.ok()) << spaced.status();
  EXPECT_EQ(*spaced, "+447911123456");

  const auto double_zero = NormalizePhone("0034 612 345 678");
  ASSERT_TRUE(double_zero.ok()) << double_zero.status();
  EXPECT_EQ(*double_zero, "+34612345678");
}

TEST(NormalizePhoneTest, RefusesEmptyAndDigitless) {
  ExpectRefused("", "holds no digits");
  ExpectRefused("   ", "holds no digits");
  ExpectRefused("+", "holds no digits");
}

TEST(NormalizePhoneTest, RefusesLetters) {
  ExpectRefused("300123456a", "may only hold digits");
  ExpectRefused("call 3001234567", "may only hold digits");
  ExpectRefused("3001234567 ext 2", "may only hold digits");
}

TEST(NormalizePhoneTest, RefusesPlusInTheMiddle) {
  ExpectRefused("300+1234567", "'+' may only appear once, before the digits");
  ExpectRefused("57+3001234567", "'+' may only appear once, before the digits");
}

TEST(NormalizePhoneTest, RefusesTwoPluses) {
  ExpectRefused("++573001234567", "'+' may only appear once");
  ExpectRefused("+ +573001234567", "'+' may only appear once");
}

TEST(NormalizePhoneTest, RefusesColombianNumbersOfTheWrongLength) {
  ExpectRefused("300123456", "this one has 9");     // 9 digits, national
  ExpectRefused("30012345678", "this one has 11");  // 11 digits, national
  ExpectRefused("+57300123456", "Colombian numbers have 10 digits after +57, this one has 9");
  ExpectRefused("+5730012345678", "Colombian numbers have 10 digits after +57, this one has 11");
}

TEST(NormalizePhoneTest, RefusesColombianNumbersWithAWrongLeadingDigit) {
  ExpectRefused("5001234567", "start with 3 (mobile) or 60 (landline)");
  ExpectRefused("1001234567", "start with 3 (mobile) or 60 (landline)");
  ExpectRefused("+575001234567", "start with 3 (mobile) or 60 (landline)");
  ExpectRefused("+571001234567", "start with 3 (mobile) or 60 (landline)");
  // 6 followed by something other than 0 is not a current landline prefix.
  ExpectRefused("6112345678", "start with 3 (mobile) or 60 (landline)");
}

TEST(NormalizePhoneTest, RefusesUnknownCountryCode) {
  ExpectRefused("+9991234567", "no country uses the calling code");
  ExpectRefused("+8001234567", "no country uses the calling code");
  ExpectRefused("+0573001234567", "a country code never starts with 0");
}

TEST(NormalizePhoneTest, RefusesTooLong) {
  ExpectRefused("+4412345678901234", "at most 15 digits, this one has 16");
  ExpectRefused("+123456789012345678901", "far too many digits");
}

TEST(NormalizePhoneTest, RefusesNanpNumbersOfTheWrongShape) {
  ExpectRefused("+1415555267",
                "numbers under +1 have 10 digits after the country code, this one has 9");
  ExpectRefused("+141555526711", "this one has 11");
  ExpectRefused("+10155552671", "cannot start with 0 or 1");  // area code starts with 0
  ExpectRefused("+14151552671", "cannot start with 0 or 1");  // exchange starts with 1
}

TEST(NormalizePhoneTest, RefusesTooShortForeignNumber) { ExpectRefused("+34123", "too short"); }

TEST(NormalizePhoneTest, OtherDefaultCountry) {
  const auto spain = NormalizePhone("612345678", "34");
  ASSERT_TRUE(spain.ok()) << spain.status();
  EXPECT_EQ(*spain, "+34612345678");

  // The number already carries the default country code without '+'.
  const auto spain_with_cc = NormalizePhone("34612345678", "34");
  ASSERT_TRUE(spain_with_cc.ok()) << spain_with_cc.status();
  EXPECT_EQ(*spain_with_cc, "+34612345678");

  const auto us = NormalizePhone("(415) 555-2671", "1");
  ASSERT_TRUE(us.ok()) << us.status();
  EXPECT_EQ(*us, "+14155552671");

  const auto us_with_one = NormalizePhone("1 415 555 2671", "1");
  ASSERT_TRUE(us_with_one.ok()) << us_with_one.status();
  EXPECT_EQ(*us_with_one, "+14155552671");

  // An explicit international number ignores the default country.
  const auto colombia = NormalizePhone("+573001234567", "34");
  ASSERT_TRUE(colombia.ok()) << colombia.status();
  EXPECT_EQ(*colombia, "+573001234567");

  // With default 34 a Colombian national number is not Colombian any more.
  const auto not_colombian = NormalizePhone("3001234567", "34");
  ASSERT_TRUE(not_colombian.ok()) << not_colombian.status();
  EXPECT_EQ(*not_colombian, "+343001234567");
}

TEST(CountryCallingCodeTest, KnownCodes) {
  EXPECT_EQ(CountryCallingCode("+573001234567"), "57");
  EXPECT_EQ(CountryCallingCode("+14155552671"), "1");
  EXPECT_EQ(CountryCallingCode("+447911123456"), "44");
  EXPECT_EQ(CountryCallingCode("+34612345678"), "34");
  EXPECT_EQ(CountryCallingCode("+5215512345678"), "52");
  EXPECT_EQ(CountryCallingCode("+35312345678"), "353");
  EXPECT_EQ(CountryCallingCode("+593991234567"), "593");
  EXPECT_EQ(CountryCallingCode("+74951234567"), "7");
}

TEST(CountryCallingCodeTest, NoCode) {
  EXPECT_EQ(CountryCallingCode(""), "");
  EXPECT_EQ(CountryCallingCode("+"), "");
  EXPECT_EQ(CountryCallingCode("573001234567"), "");  // no '+'
  EXPECT_EQ(CountryCallingCode("+9991234567"), "");   // unassigned
  EXPECT_EQ(CountryCallingCode("+0571234567"), "");
}

}  // namespace
}  // namespace outcall::common
