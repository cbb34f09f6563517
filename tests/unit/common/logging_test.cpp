// Masking of patient data in logs.
#include "outcall/common/logging.h"

#include <gtest/gtest.h>

namespace outcall::common {
namespace {

TEST(MaskPhone, KeepsCountryCodeAndLastFour) {
  EXPECT_EQ(MaskPhone("+573001234567"), "+57******4567");
  EXPECT_EQ(MaskPhone("+14155552671"), "+1******2671");
  EXPECT_EQ(MaskPhone("+593991234567"), "+593*****4567");
  EXPECT_EQ(MaskPhone("3001234567"), "******4567");
  EXPECT_EQ(MaskPhone("123"), "***");
}

TEST(MaskName, KeepsFirstLetterOfEachWord) {
  EXPECT_EQ(MaskName("Juan Pérez"), "J*** P****");
  EXPECT_EQ(MaskName("Ñusta María-José"), "Ñ**** M****-J***");
  EXPECT_EQ(MaskName(""), "");
}

TEST(RedactPhones, MasksPhoneLikeRunsOnly) {
  EXPECT_EQ(RedactPhones("calling +57 300 123 4567 now"), "calling +** *** *** **67 now");
  EXPECT_EQ(RedactPhones("to=3001234567."), "to=********67.");
  EXPECT_EQ(RedactPhones("conversation conv_12345678 on port 50051"),
            "conversation conv_12345678 on port 50051");
  EXPECT_EQ(RedactPhones("took 183 ms, 2 retries"), "took 183 ms, 2 retries");
  EXPECT_EQ(RedactPhones("300-123-4567"), "***-***-**67");
  EXPECT_EQ(RedactPhones(""), "");
}

TEST(AppendJsonEscaped, EscapesWhatJsonNeeds) {
  std::string out;
  AppendJsonEscaped(out, "a\"b\\c\nd\te\x01");
  EXPECT_EQ(out, "a\\\"b\\\\c\\nd\\te\\u0001");
}

TEST(InitLogging, WritesMaskedJsonLines) {
  ASSERT_TRUE(InitLogging({"unit-test", "info", true}).ok());
  ::testing::internal::CaptureStderr();
  spdlog::info("dialling {} for {}", "+573001234567", MaskName("Juan Pérez"));
  spdlog::debug("hidden below the level");
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("\"level\":\"info\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"service\":\"unit-test\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"ts\":\""), std::string::npos) << out;
  EXPECT_EQ(out.find("3001234567"), std::string::npos) << out;
  EXPECT_EQ(out.find("Pérez"), std::string::npos) << out;
  EXPECT_EQ(out.find("hidden"), std::string::npos) << out;
  EXPECT_FALSE(InitLogging({"unit-test", "loud", true}).ok());
}

}  // namespace
}  // namespace outcall::common
