#include "outcall/common/phone.h"

#include <algorithm>
#include <array>

#include "outcall/common/strings.h"

namespace outcall::common {
namespace {

// ITU-T E.164 assigned country calling codes (a prefix code: no code is a prefix of another).
constexpr std::array<std::string_view, 214> kCountryCodes = {
    "1",   "7",   "20",  "27",  "30",  "31",  "32",  "33",  "34",  "36",  "39",  "40",  "41",
    "43",  "44",  "45",  "46",  "47",  "48",  "49",  "51",  "52",  "53",  "54",  "55",  "56",
    "57",  "58",  "60",  "61",  "62",  "63",  "64",  "65",  "66",  "81",  "82",  "84",  "86",
    "90",  "91",  "92",  "93",  "94",  "95",  "98",  "211", "212", "213", "216", "218", "220",
    "221", "222", "223", "224", "225", "226", "227", "228", "229", "230", "231", "232", "233",
    "234", "235", "236", "237", "238", "239", "240", "241", "242", "243", "244", "245", "246",
    "247", "248", "249", "250", "251", "252", "253", "254", "255", "256", "257", "258", "260",
    "261", "262", "263", "264", "265", "266", "267", "268", "269", "290", "291", "297", "298",
    "299", "350", "351", "352", "353", "354", "355", "356", "357", "358", "359", "370", "371",
    "372", "373", "374", "375", "376", "377", "378", "379", "380", "381", "382", "383", "385",
    "386", "387", "389", "420", "421", "423", "500", "501", "502", "503", "504", "505", "506",
    "507", "508", "509", "590", "591", "592", "593", "594", "595", "596", "597", "598", "599",
    "670", "672", "673", "674", "675", "676", "677", "678", "679", "680", "681", "682", "683",
    "685", "686", "687", "688", "689", "690", "691", "692", "850", "852", "853", "855", "856",
    "880", "886", "960", "961", "962", "963", "964", "965", "966", "967", "968", "970", "971",
    "972", "973", "974", "975", "976", "977", "992", "993", "994", "995", "996", "998", "870",
    "881", "882", "883", "888", "979", "808"};

constexpr size_t kMaxE164Digits = 15;
constexpr size_t kMinNationalDigits = 4;

bool IsAssigned(std::string_view code) {
  return std::find(kCountryCodes.begin(), kCountryCodes.end(), code) != kCountryCodes.end();
}

absl::Status Invalid(std::string_view why) {
  return absl::InvalidArgumentError(Cat("invalid phone number: ", why));
}

// Colombia since 2021: 10-digit national numbers, mobiles 3xx xxx xxxx, landlines 60x xxx xxxx.
absl::Status CheckColombian(std::string_view national) {
  if (national.size() != 10) {
    return Invalid(Cat("Colombian numbers have 10 digits after +57, this one has ",
                                national.size()));
  }
  if (national[0] != '3' && !(national[0] == '6' && national[1] == '0')) {
    return Invalid("Colombian numbers start with 3 (mobile) or 60 (landline) after +57");
  }
  return absl::OkStatus();
}

// North American Numbering Plan: 10 digits, area code and exchange both start with 2-9.
absl::Status CheckNanp(std::string_view national) {
  if (national.size() != 10) {
    return Invalid(Cat("numbers under +1 have 10 digits after the country code, this one "
                                "has ",
                                national.size()));
  }
  if (national[0] < '2' || national[3] < '2') {
    return Invalid("under +1 the area code and the exchange cannot start with 0 or 1");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ValidateInternational(std::string_view digits) {
  if (digits.empty()) return Invalid("nothing follows the '+'");
  if (digits[0] == '0') return Invalid("a country code never starts with 0");
  std::string_view code;
  for (size_t len = 1; len <= 3 && len <= digits.size(); ++len) {
    if (IsAssigned(digits.substr(0, len))) {
      code = digits.substr(0, len);
      break;
    }
  }
  if (code.empty()) {
    return Invalid(Cat("no country uses the calling code at the start of +",
                                digits.substr(0, std::min<size_t>(3, digits.size()))));
  }
  if (digits.size() > kMaxE164Digits) {
    return Invalid(Cat("E.164 numbers have at most 15 digits, this one has ",
                                digits.size()));
  }
  const std::string_view national = digits.substr(code.size());
  if (code == "57") {
    if (auto s = CheckColombian(national); !s.ok()) return s;
  } else if (code == "1") {
    if (auto s = CheckNanp(national); !s.ok()) return s;
  } else if (national.size() < kMinNationalDigits) {
    return Invalid(Cat("too short: only ", national.size(),
                                " digits after the country code +", code));
  }
  return Cat("+", digits);
}

}  // namespace

std::string_view CountryCallingCode(std::string_view e164) {
  if (e164.empty() || e164[0] != '+') return {};
  for (size_t len = 1; len <= 3 && len + 1 <= e164.size(); ++len) {
    if (IsAssigned(e164.substr(1, len))) return e164.substr(1, len);
  }
  return {};
}

absl::StatusOr<std::string> NormalizePhone(std::string_view input,
                                           std::string_view default_country_code) {
  std::string digits;
  digits.reserve(input.size());
  bool plus = false;
  bool seen_digit = false;
  for (size_t i = 0; i < input.size(); ++i) {
    const char c = input[i];
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
      seen_digit = true;
    } else if (c == '+') {
      if (plus || seen_digit) return Invalid("'+' may only appear once, before the digits");
      plus = true;
    } else if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')' || c == '\t') {
      continue;
    } else {
      return Invalid("it may only hold digits, spaces, dashes, dots, parentheses and a leading "
                     "'+'");
    }
    if (digits.size() > 20) return Invalid("far too many digits");
  }
  if (digits.empty()) return Invalid("it holds no digits");

  if (plus) return ValidateInternational(digits);
  // "00" is the international call prefix: 0057 300... is +57 300...
  if (digits.size() > 2 && digits[0] == '0' && digits[1] == '0') {
    return ValidateInternational(std::string_view(digits).substr(2));
  }

  const std::string cc(default_country_code);
  if (cc == "57") {
    // 3001234567 (national) or 573001234567 (country code without '+').
    if (digits.size() == 10) return ValidateInternational(cc + digits);
    if (digits.size() == 12 && digits.compare(0, 2, cc) == 0) return ValidateInternational(digits);
    return Invalid(Cat("a Colombian number has 10 digits (or 12 starting with 57), this "
                                "one has ",
                                digits.size()));
  }
  if (cc == "1" && digits.size() == 11 && digits[0] == '1') return ValidateInternational(digits);
  if (digits.size() > cc.size() + 7 && digits.compare(0, cc.size(), cc) == 0 &&
      digits.size() <= kMaxE164Digits) {
    return ValidateInternational(digits);
  }
  return ValidateInternational(cc + digits);
}

}  // namespace outcall::common
