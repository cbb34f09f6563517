#include "rne_file.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

#include "outcall/common/logging.h"
#include "outcall/common/phone.h"
#include "outcall/common/strings.h"

namespace outcall::rne {
namespace {

using common::Cat;

// Lower-case, accents dropped (UTF-8, or a lone Latin-1 / Windows-1252 byte as spreadsheets
// export), and every run of spaces, tabs, '_', '-', '.' and '/' made one space, trimmed:
// "Número_de-Teléfono" -> "numero de telefono", "E-mail" -> "e mail".
std::string Fold(std::string_view s) {
  auto latin = [](unsigned char c) -> char {
    switch (c | 0x20) {  // upper and lower case of these letters differ by 0x20
      case 0xE0:
      case 0xE1:
      case 0xE2:
      case 0xE4:
        return 'a';
      case 0xE8:
      case 0xE9:
      case 0xEA:
      case 0xEB:
        return 'e';
      case 0xEC:
      case 0xED:
      case 0xEE:
      case 0xEF:
        return 'i';
      case 0xF2:
      case 0xF3:
      case 0xF4:
      case 0xF6:
        return 'o';
      case 0xF9:
      case 0xFA:
      case 0xFB:
      case 0xFC:
        return 'u';
      case 0xF1:
        return 'n';
      case 0xE7:
        return 'c';
      default:
        return '?';
    }
  };
  std::string out;
  bool space = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    char folded;
    if (c == ' ' || c == '\t' || c == '_' || c == '-' || c == '.' || c == '/') {
      space = true;
      continue;
    } else if (c < 0x80) {
      folded = common::LowerAscii(static_cast<char>(c));
    } else if (c == 0xC3 && i + 1 < s.size() &&
               (static_cast<unsigned char>(s[i + 1]) & 0xC0) == 0x80) {
      // U+00C0..U+00FF in UTF-8 is C3 followed by (code point - 0x40).
      folded = latin(static_cast<unsigned char>(s[++i]) + 0x40);
    } else if (c >= 0xC0) {
      folded = latin(c);
    } else {
      folded = '?';
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(folded);
  }
  return out;
}

constexpr std::array<std::string_view, 12> kPhoneHeaders = {"numero",
                                                            "phone",
                                                            "telefono",
                                                            "phone number",
                                                            "phone e164",
                                                            "numero telefono",
                                                            "numero de telefono",
                                                            "numero telefonico",
                                                            "numero movil",
                                                            "celular",
                                                            "movil",
                                                            "msisdn"};
constexpr std::array<std::string_view, 2> kChannelHeaders = {"canal", "channel"};

struct ChannelName {
  std::string_view value;
  std::string_view channel;
};
// Folded values (see Fold). The RNE's own channels are calls, SMS, app/web messaging and e-mail
// (docs/policy.md); outcall's only app channel is WhatsApp, so app messaging maps to it.
constexpr std::array<ChannelName, 24> kChannels = {{
    {"voice", "voice"},
    {"voz", "voice"},
    {"llamada", "voice"},
    {"llamadas", "voice"},
    {"llamada telefonica", "voice"},
    {"llamadas telefonicas", "voice"},
    {"call", "voice"},
    {"calls", "voice"},
    {"sms", "sms"},
    {"mensaje de texto", "sms"},
    {"mensajes de texto", "sms"},
    {"text", "sms"},
    {"whatsapp", "whatsapp"},
    {"app", "whatsapp"},
    {"aplicaciones", "whatsapp"},
    {"mensajeria por aplicaciones", "whatsapp"},
    {"mensajeria instantanea", "whatsapp"},
    {"email", "email"},
    {"e mail", "email"},
    {"mail", "email"},
    {"correo", "email"},
    {"correo electronico", "email"},
    {"correos electronicos", "email"},
    {"correo e", "email"},
}};

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A value safe to print: printable ASCII only, at most 40 characters, and nothing at all when it
// holds digits (a phone number in the wrong column must not reach stderr).
std::string Printable(std::string_view v) {
  if (std::any_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return "(a value with digits, not shown)";
  }
  std::string out = "\"";
  for (size_t i = 0; i < v.size() && i < 40; ++i) {
    const char c = v[i];
    out.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  }
  if (v.size() > 40) out += "...";
  return out + "\"";
}

}  // namespace

CsvReader::CsvReader(std::FILE* in) : in_(in), buf_(64 * 1024) {}

int CsvReader::Get() {
  if (pushback_ != -2) {
    const int c = pushback_;
    pushback_ = -2;
    return c;
  }
  if (pos_ == len_) {
    len_ = std::fread(buf_.data(), 1, buf_.size(), in_);
    pos_ = 0;
    if (len_ == 0) return EOF;
  }
  return static_cast<unsigned char>(buf_[pos_++]);
}

std::optional<std::string> CsvReader::ReadHeaderLine() {
  std::string line;
  int c = Get();
  if (c == EOF) return std::nullopt;
  if (!started_) {
    started_ = true;
    // UTF-8 byte-order mark (Excel's "CSV UTF-8").
    if (c == 0xEF) {
      const int b = Get();
      const int d = b == 0xBB ? Get() : EOF;
      if (b != 0xBB || d != 0xBF) {
        line.push_back(static_cast<char>(c));
        if (b != EOF) line.push_back(static_cast<char>(b));
        if (d != EOF) line.push_back(static_cast<char>(d));
      }
      c = Get();
    }
  }
  while (c != EOF && c != '\n') {
    if (line.size() >= kMaxRecordBytes) return std::nullopt;
    line.push_back(static_cast<char>(c));
    c = Get();
  }
  if (c == '\n') ++line_;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

CsvReader::Next CsvReader::Read(char delimiter, std::vector<std::string>* fields, int64_t* line,
                                std::string* error) {
  fields->clear();
  int c = Get();
  if (c == EOF) {
    if (std::ferror(in_)) {
      *error = Cat("cannot read the input: ", std::strerror(errno));
      return Next::kError;
    }
    return Next::kEnd;
  }
  *line = line_;
  std::string field;
  size_t bytes = 0;
  bool quoted = false;      // inside quotes now
  bool was_quoted = false;  // this field started with a quote
  while (true) {
    if (++bytes > kMaxRecordBytes) {
      *error = Cat("line ", *line, ": the record is longer than ", kMaxRecordBytes,
                   " bytes; is this an RNE file?");
      return Next::kError;
    }
    if (quoted) {
      if (c == EOF) {
        *error = Cat("line ", *line, ": a quoted field is never closed");
        return Next::kError;
      }
      if (c == '"') {
        const int next = Get();
        if (next == '"') {
          field.push_back('"');
        } else {
          quoted = false;
          Unget(next);
        }
      } else {
        if (c == '\n') ++line_;
        field.push_back(static_cast<char>(c));
      }
    } else if (c == delimiter) {
      fields->emplace_back(TrimSpaces(field));
      field.clear();
      was_quoted = false;
    } else if (c == '\n' || c == EOF) {
      if (c == '\n') ++line_;
      fields->emplace_back(TrimSpaces(field));
      if (c == EOF && std::ferror(in_)) {
        *error = Cat("cannot read the input: ", std::strerror(errno));
        return Next::kError;
      }
      return Next::kRecord;
    } else if (c == '\r') {
      // Part of a CRLF line end (a stray CR outside quotes means nothing either).
    } else if (c == '"' && !was_quoted && TrimSpaces(field).empty()) {
      quoted = true;
      was_quoted = true;
      field.clear();
    } else {
      field.push_back(static_cast<char>(c));
    }
    c = Get();
  }
}

std::vector<std::string> SplitLine(std::string_view line, char delimiter) {
  std::vector<std::string> out;
  std::string field;
  bool quoted = false;
  bool was_quoted = false;
  for (size_t i = 0; i <= line.size(); ++i) {
    const char c = i < line.size() ? line[i] : delimiter;
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        field.push_back('"');
        ++i;
      } else if (c == '"' || i == line.size()) {
        quoted = false;
        if (i == line.size()) --i;  // an unclosed quote: end the field here
      } else {
        field.push_back(c);
      }
    } else if (c == delimiter) {
      out.emplace_back(TrimSpaces(field));
      field.clear();
      was_quoted = false;
    } else if (c == '"' && !was_quoted && TrimSpaces(field).empty()) {
      quoted = true;
      was_quoted = true;
      field.clear();
    } else {
      field.push_back(c);
    }
  }
  return out;
}

std::string FoldHeaderName(std::string_view name) { return Fold(name); }

Column ClassifyHeader(std::string_view name) {
  const std::string f = Fold(name);
  if (std::find(kPhoneHeaders.begin(), kPhoneHeaders.end(), f) != kPhoneHeaders.end()) {
    return Column::kPhone;
  }
  if (std::find(kChannelHeaders.begin(), kChannelHeaders.end(), f) != kChannelHeaders.end()) {
    return Column::kChannel;
  }
  return Column::kOther;
}

std::optional<Layout> DetectLayout(std::string_view header_line, std::string* error) {
  std::string problem;
  for (const char d : {',', ';', '\t', '|'}) {
    const std::vector<std::string> names = SplitLine(header_line, d);
    std::vector<size_t> phones, channels;
    for (size_t i = 0; i < names.size(); ++i) {
      const Column c = ClassifyHeader(names[i]);
      if (c == Column::kPhone) phones.push_back(i);
      if (c == Column::kChannel) channels.push_back(i);
    }
    if (phones.size() == 1 && channels.size() == 1) {
      return Layout{d, phones[0], channels[0], names.size()};
    }
    if (phones.size() > 1 || channels.size() > 1) {
      problem = "the header names more than one phone column or more than one channel column";
    }
  }
  if (problem.empty()) {
    problem =
        Cat("the header needs a phone column and a channel column (", AcceptedHeaderNames(), ")");
  }
  // Header names are not personal data, but keep the line short and printable.
  std::string shown;
  for (char c : header_line.substr(0, 200)) shown.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  *error = Cat(problem, "; the header is: ", shown);
  return std::nullopt;
}

std::optional<std::string> MapChannel(std::string_view value) {
  const std::string f = Fold(value);
  for (const auto& c : kChannels) {
    if (c.value == f) return std::string(c.channel);
  }
  return std::nullopt;
}

Row ParseRow(const std::vector<std::string>& fields, const Layout& layout) {
  Row row;
  if (fields.size() <= std::max(layout.phone, layout.channel)) {
    row.error = Cat("the row has ", fields.size(), " fields, the header has ", layout.columns);
    return row;
  }
  const std::string& raw_phone = fields[layout.phone];
  const std::string& raw_channel = fields[layout.channel];
  if (raw_phone.empty()) {
    row.error = "no phone number";
    return row;
  }
  auto phone = common::NormalizePhone(raw_phone, "57");
  if (!phone.ok()) {
    row.error =
        Cat(common::ToStd(phone.status().message()), " (", common::MaskPhone(raw_phone), ")");
    return row;
  }
  // excluded_numbers' CHECK: '+' and 7 to 15 digits.
  if (phone->size() < 8) {
    row.error = Cat("invalid phone number: fewer than 7 digits (", common::MaskPhone(*phone), ")");
    return row;
  }
  if (raw_channel.empty()) {
    row.error = "no channel";
    return row;
  }
  auto channel = MapChannel(raw_channel);
  if (!channel) {
    row.error = Cat("unknown channel ", Printable(raw_channel));
    row.unknown_channel = true;
    return row;
  }
  row.phone_e164 = *std::move(phone);
  row.channel = *std::move(channel);
  return row;
}

std::string_view AcceptedHeaderNames() {
  return "phone: numero, número, telefono, teléfono, phone, phone_number, phone_e164, "
         "numero_telefono, numero de telefono, numero_telefonico, numero_movil, celular, movil, "
         "msisdn; channel: canal, channel; case, accents, spaces and _-./ do not matter";
}

std::string_view AcceptedChannelValues() {
  return "voice: voice, voz, llamada(s), llamada(s) telefónica(s), call(s); "
         "sms: sms, mensaje(s) de texto, text; "
         "whatsapp: whatsapp, app, aplicaciones, mensajería por aplicaciones, mensajería "
         "instantánea; email: email, e-mail, mail, correo, correo electrónico, correos "
         "electrónicos, correo-e";
}

}  // namespace outcall::rne
