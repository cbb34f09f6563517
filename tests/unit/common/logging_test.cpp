// Unit tests for outcall/common/logging.h: PII masking and the JSON log line.
#include "outcall/common/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "outcall/common/strings.h"

namespace outcall::common {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

TEST(MaskPhoneTest, E164KeepsCountryCodeAndLastFour) {
  EXPECT_EQ(MaskPhone("+573001234567"), "+57******4567");
  EXPECT_EQ(MaskPhone("+576012345678"), "+57******5678");
  EXPECT_EQ(MaskPhone("+14155552671"), "+1******2671");
  EXPECT_EQ(MaskPhone("+447911123456"), "+44******3456");
  EXPECT_EQ(MaskPhone("+35312345678"), "+353****5678");
  EXPECT_EQ(MaskPhone("+593991234567"), "+593*****4567");
}

TEST(MaskPhoneTest, OtherForms) {
  EXPECT_EQ(MaskPhone("+57 300 123 4567"), "+57******4567");
  EXPECT_EQ(MaskPhone("3001234567"), "******4567");
  EXPECT_EQ(MaskPhone("(300) 123-4567"), "******4567");
  // Without '+' the leading 57 is not known to be a country code.
  EXPECT_EQ(MaskPhone("573001234567"), "********4567");
}

TEST(MaskPhoneTest, ShortAndEmpty) {
  EXPECT_EQ(MaskPhone(""), "");
  EXPECT_EQ(MaskPhone("1234"), "****");
  EXPECT_EQ(MaskPhone("12345"), "*2345");
  EXPECT_EQ(MaskPhone("+5712345"), "***2345");
}

TEST(MaskPhoneTest, NeverContainsTheMiddleDigits) {
  for (const char* phone : {"+573001234567", "3001234567", "+57 300 123 4567"}) {
    const std::string masked = MaskPhone(phone);
    EXPECT_THAT(masked, Not(HasSubstr("300"))) << phone;
    EXPECT_THAT(masked, Not(HasSubstr("123"))) << phone;
  }
}

TEST(MaskNameTest, KeepsFirstLetterOfEachWord) {
  EXPECT_EQ(MaskName("Juan Pérez"), "J*** P****");  // é is one character, one '*'
  EXPECT_EQ(MaskName("María José Gómez-Ñáñez"), "M**** J*** G****-Ñ****");
  EXPECT_EQ(MaskName("Ángela"), "Á*****");  // a multi-byte first letter is kept whole
  EXPECT_EQ(MaskName("O'Neil"), "O'N***");
  EXPECT_EQ(MaskName("Ñusta María-José"), "Ñ**** M****-J***");
  EXPECT_EQ(MaskName("Ana"), "A**");
  EXPECT_EQ(MaskName("A"), "A");
  EXPECT_EQ(MaskName(""), "");
}

TEST(MaskNameTest, OutputIsValidUtf8WithoutTheHiddenLetters) {
  const std::string masked = MaskName("José Núñez");
  EXPECT_EQ(masked, "J*** N****");
  EXPECT_THAT(masked, Not(HasSubstr("ú")));
  EXPECT_THAT(masked, Not(HasSubstr("ñ")));
}

TEST(RedactPhonesTest, MasksPhonesInsideSentences) {
  EXPECT_EQ(RedactPhones("Llamando a +57 300 123 4567 ahora"), "Llamando a +** *** *** **67 ahora");
  EXPECT_EQ(RedactPhones("paciente 3001234567."), "paciente ********67.");
  EXPECT_EQ(RedactPhones("+573001234567"), "+**********67");
  EXPECT_EQ(RedactPhones("tel:3001234567, ok"), "tel:********67, ok");
  EXPECT_EQ(RedactPhones("(300-123-4567)"), "(***-***-**67)");
  EXPECT_EQ(RedactPhones("from 3001234567 to +14155552671"), "from ********67 to +*********71");
}

TEST(RedactPhonesTest, NoPhoneDigitsSurvive) {
  const std::string out =
      RedactPhones("call to +57 300 123 4567 failed, retry 3001234567 later (x=6012345678)");
  EXPECT_THAT(out, Not(HasSubstr("300")));
  EXPECT_THAT(out, Not(HasSubstr("123")));
  EXPECT_THAT(out, Not(HasSubstr("4567")));
  EXPECT_THAT(out, Not(HasSubstr("601")));
  EXPECT_THAT(out, HasSubstr("call to +"));
  EXPECT_THAT(out, HasSubstr("failed, retry "));
  EXPECT_THAT(out, HasSubstr("later (x="));
}

TEST(RedactPhonesTest, LeavesIdentifiersShortNumbersAndWordsAlone) {
  for (const char* text :
       {"conv_12345678", "listening on port 50051", "hello world", "agent_7f3a9c21e5",
        "order12345678", "12345678abc", "attempt 3 of 5", "", "+", "123456", "v1.2.3"}) {
    EXPECT_EQ(RedactPhones(text), text);
  }
}

TEST(RedactPhonesTest, SevenDigitRunIsMasked) {
  EXPECT_EQ(RedactPhones("id 1234567"), "id *****67");
  EXPECT_EQ(RedactPhones("id 123456"), "id 123456");
}

// A phone number next to non-ASCII punctuation (no-break space, inverted question mark,
// ellipsis) is not "part of a longer word", so it must be masked like after an ASCII space.
TEST(RedactPhonesTest, MasksPhonesNextToNonAsciiPunctuation) {
  EXPECT_THAT(RedactPhones("tel\u00a03001234567"), Not(HasSubstr("3001234567")));
  EXPECT_THAT(RedactPhones("\u00bf3001234567?"), Not(HasSubstr("3001234567")));
  EXPECT_THAT(RedactPhones("llamar a 3001234567\u2026"), Not(HasSubstr("3001234567")));
}

// Call ids are UUIDs; a group of digits only (the last one has 12) is not a phone number, and a
// masked call id cannot be traced.
TEST(RedactPhonesTest, LeavesUuidsWhole) {
  for (const char* id :
       {"3f2b7c1e-8d4a-4b7e-9c1d-123456789012", "12345678-1234-4234-8234-123456789012",
        "00000000-0000-0000-0000-000000000000", "3F2B7C1E-8D4A-4B7E-9C1D-123456789012",
        "3f2b7c1e-8d4a-4b7e-9c1d-300123456712"}) {
    EXPECT_EQ(RedactPhones(id), id);
  }
}

TEST(RedactPhonesTest, LeavesUuidsInTextWhole) {
  for (const char* text :
       {"call 3f2b7c1e-8d4a-4b7e-9c1d-123456789012 (conv_abc): dialing -> initiated",
        "placing call 12345678-1234-4234-8234-123456789012 to ******4567 (agent a)",
        "calls [3f2b7c1e-8d4a-4b7e-9c1d-123456789012,12345678-1234-4234-8234-123456789012]",
        "id=3f2b7c1e-8d4a-4b7e-9c1d-123456789012.", "call_3f2b7c1e-8d4a-4b7e-9c1d-123456789012",
        "\"3f2b7c1e-8d4a-4b7e-9c1d-123456789012\""}) {
    EXPECT_EQ(RedactPhones(text), text);
  }
}

TEST(RedactPhonesTest, MasksPhonesNextToUuids) {
  const std::string id = "3f2b7c1e-8d4a-4b7e-9c1d-123456789012";
  const std::string digit_id = "12345678-1234-4234-8234-123456789012";
  EXPECT_EQ(RedactPhones(Cat("call ", id, " to +573001234567")),
            Cat("call ", id, " to +**********67"));
  EXPECT_EQ(RedactPhones(Cat("call ", id, " to 3001234567")), Cat("call ", id, " to ********67"));
  EXPECT_EQ(RedactPhones(Cat("+573001234567 ", id)), Cat("+**********67 ", id));
  EXPECT_EQ(RedactPhones(Cat("3001234567 ", digit_id)), Cat("********67 ", digit_id));
  EXPECT_EQ(RedactPhones(Cat("+57 300 123 4567 ", digit_id)), Cat("+** *** *** **67 ", digit_id));
  EXPECT_EQ(RedactPhones(Cat(digit_id, " 3001234567")), Cat(digit_id, " ********67"));
  EXPECT_EQ(RedactPhones(Cat("+573001234567-", id)), Cat("+**********67-", id));
  EXPECT_EQ(RedactPhones(Cat("3001234567-", digit_id)), Cat("********67-", digit_id));
  EXPECT_EQ(RedactPhones(Cat(id, "-3001234567")), Cat(id, "-********67"));
  EXPECT_EQ(RedactPhones(Cat(id, ":+573001234567,", digit_id)),
            Cat(id, ":+**********67,", digit_id));
  for (const std::string& text :
       {Cat("call ", id, " to +573001234567"), Cat("3001234567 ", digit_id),
        Cat("+573001234567-", id), Cat(digit_id, "/3001234567"), Cat(id, "3001234567")}) {
    const std::string out = RedactPhones(text);
    EXPECT_THAT(out, Not(HasSubstr("3001234567"))) << text;
    EXPECT_THAT(out, Not(HasSubstr("00123"))) << text;
  }
}

// Not a UUID (a group too short or too long, a letter beyond f): the digit runs are masked as
// before.
TEST(RedactPhonesTest, UuidLookalikesAreNotExempt) {
  EXPECT_EQ(RedactPhones("3f2b7c1e-8d4a-4b7e-9c1d-1234567890"), "3f2b7c1e-8d4a-4b7e-9c1d-********90");
  EXPECT_EQ(RedactPhones("3f2b7c1e-8d4a-4b7e-9c1d-1234567890123"),
            "3f2b7c1e-8d4a-4b7e-9c1d-***********23");
  EXPECT_EQ(RedactPhones("3f2b7c1g-8d4a-4b7e-9c1d-123456789012"),
            "3f2b7c1g-8d4a-4b7e-9c1d-**********12");
}

TEST(RedactNameTest, MasksEachWordOfTheName) {
  EXPECT_EQ(RedactName("Invalid name Paciente Prueba for call", "Paciente Prueba"),
            "Invalid name P******* P***** for call");
  EXPECT_EQ(RedactName("PACIENTE prueba, again: paciente", "Paciente Prueba"),
            "P******* p*****, again: p*******");
  EXPECT_EQ(RedactName("María-José Gómez", "María-José Gómez"), "M****-J*** G****");
  // Whole words only; initials and empty names change nothing.
  EXPECT_EQ(RedactName("Analysis of Ana", "Ana"), "Analysis of A**");
  EXPECT_EQ(RedactName("A plan", "A. Ruiz"), "A plan");
  EXPECT_EQ(RedactName("nothing", ""), "nothing");
}

TEST(RedactPatientDataTest, MasksPhonesAndTheName) {
  const std::string out = RedactPatientData(
      "Invalid phone number +573108000003 for Paciente Prueba (call "
      "3f2b7c1e-8d4a-4b7e-9c1d-123456789012)",
      "Paciente Prueba");
  EXPECT_EQ(out,
            "Invalid phone number +**********03 for P******* P***** (call "
            "3f2b7c1e-8d4a-4b7e-9c1d-123456789012)");
}

TEST(InitLoggingTest, RejectsUnknownLevel) {
  const absl::Status s = InitLogging({.service = "unit", .level = "verbose", .json = true});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("verbose"));
}

// Everything the capture saw, split into non-empty lines.
std::vector<std::string> Lines(const std::string& captured) {
  std::vector<std::string> lines = absl::StrSplit(captured, '\n', absl::SkipEmpty());
  return lines;
}

TEST(InitLoggingTest, JsonLineHasFieldsAndMasksPhones) {
  ASSERT_TRUE(InitLogging({.service = "call-gateway", .level = "info", .json = true}).ok());
  ::testing::internal::CaptureStderr();
  spdlog::debug("hidden at info level {}", 1);
  spdlog::info("placing call to +573001234567 for {} \"quoted\"", MaskName("Juan Pérez"));
  spdlog::default_logger()->flush();
  const std::string captured = ::testing::internal::GetCapturedStderr();

  const std::vector<std::string> lines = Lines(captured);
  ASSERT_EQ(lines.size(), 1u) << captured;
  EXPECT_THAT(captured, Not(HasSubstr("hidden at info level")));
  EXPECT_THAT(captured, Not(HasSubstr("3001234567")));
  EXPECT_THAT(captured, Not(HasSubstr("Juan")));

  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(lines[0], ec);
  ASSERT_FALSE(ec) << ec.message() << ": " << lines[0];
  ASSERT_TRUE(v.is_object());
  const boost::json::object& o = v.as_object();
  ASSERT_TRUE(o.contains("ts"));
  ASSERT_TRUE(o.contains("level"));
  ASSERT_TRUE(o.contains("service"));
  ASSERT_TRUE(o.contains("msg"));
  EXPECT_THAT(std::string(o.at("ts").as_string()),
              MatchesRegex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z"));
  EXPECT_EQ(o.at("level").as_string(), "info");
  EXPECT_EQ(o.at("service").as_string(), "call-gateway");
  EXPECT_EQ(o.at("msg").as_string(), "placing call to +**********67 for J*** P**** \"quoted\"");
}

TEST(InitLoggingTest, JsonLineKeepsEveryCharacterOfTheMessage) {
  ASSERT_TRUE(InitLogging({.service = "unit", .level = "info", .json = true}).ok());
  const std::string original = "q\"b\\n\nr\rt\tc\x02z\x1f\xc3\xa9 {} /";
  ::testing::internal::CaptureStderr();
  spdlog::info("{}", original);
  spdlog::default_logger()->flush();
  const std::string captured = ::testing::internal::GetCapturedStderr();
  const std::vector<std::string> lines = Lines(captured);
  ASSERT_EQ(lines.size(), 1u) << "a newline in the message stays escaped: " << captured;
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(lines[0], ec);
  ASSERT_FALSE(ec) << ec.message() << ": " << lines[0];
  EXPECT_EQ(std::string(v.at("msg").as_string()), original);
}

TEST(InitLoggingTest, CallIdsSurviveAndPhonesAndNamesAreMasked) {
  ASSERT_TRUE(InitLogging({.service = "call-gateway", .level = "info", .json = true}).ok());
  ::testing::internal::CaptureStderr();
  spdlog::info("placing call {} to {} for {}", "3f2b7c1e-8d4a-4b7e-9c1d-123456789012",
               "+573024445566", MaskName("Paciente Prueba"));
  spdlog::default_logger()->flush();
  const std::string captured = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(captured, HasSubstr("3f2b7c1e-8d4a-4b7e-9c1d-123456789012"));
  EXPECT_THAT(captured, Not(HasSubstr("3024445566")));
  EXPECT_THAT(captured, Not(HasSubstr("Paciente")));
  EXPECT_THAT(captured, HasSubstr("to +**********66 for P******* P*****"));
}

TEST(InitLoggingTest, TextFormatAlsoMasks) {
  ASSERT_TRUE(InitLogging({.service = "stats", .level = "warn", .json = false}).ok());
  ::testing::internal::CaptureStderr();
  spdlog::info("dropped at warn level");
  spdlog::warn("retrying 3001234567");
  spdlog::default_logger()->flush();
  const std::string captured = ::testing::internal::GetCapturedStderr();
  const std::vector<std::string> lines = Lines(captured);
  ASSERT_EQ(lines.size(), 1u) << captured;
  EXPECT_THAT(lines[0], HasSubstr("stats: retrying ********67"));
  EXPECT_THAT(lines[0], HasSubstr("warn"));
  EXPECT_THAT(captured, Not(HasSubstr("3001234567")));
  EXPECT_THAT(captured, Not(HasSubstr("dropped at warn level")));
}

}  // namespace
}  // namespace outcall::common
