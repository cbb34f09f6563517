// Reading a Registro de Números Excluidos (RNE) download for outcall-rne-import: a CSV file with a
// header, read record by record (constant memory, any size), its phone and channel columns found
// by name, each row turned into (E.164 number, outcall channel) or a reason it cannot be used.
// The accepted formats are listed in docs/policy.md ("Loading the RNE"); keep both in step.
#pragma once

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace outcall::rne {

// A record longer than this is an error (it is not an RNE row, and memory stays bounded).
inline constexpr size_t kMaxRecordBytes = 64 * 1024;

// RFC 4180 CSV from a FILE*, with a chosen delimiter: quoted fields ("" is a quote, newlines
// allowed inside quotes), CRLF or LF line ends, a UTF-8 byte-order mark at the start skipped.
class CsvReader {
 public:
  explicit CsvReader(std::FILE* in);

  // The first physical line (the header), without its line end; nullopt at end of input.
  std::optional<std::string> ReadHeaderLine();

  enum class Next { kRecord, kEnd, kError };
  // The next record's fields (each trimmed of surrounding spaces) and the line it starts on.
  // kError: `error` says why (an unclosed quote, a record over kMaxRecordBytes, a read error);
  // reading cannot go on.
  Next Read(char delimiter, std::vector<std::string>* fields, int64_t* line, std::string* error);

 private:
  int Get();
  void Unget(int c) { pushback_ = c; }

  std::FILE* in_;
  std::vector<char> buf_;
  size_t pos_ = 0;
  size_t len_ = 0;
  int pushback_ = -2;  // -2: none
  bool started_ = false;
  int64_t line_ = 1;
};

// Splits one header line with `delimiter` (quotes honoured), fields trimmed.
std::vector<std::string> SplitLine(std::string_view line, char delimiter);

// A header name folded for matching: lower case, accents dropped, each run of spaces, '_', '-',
// '.' and '/' one space ("Número_de-Teléfono" -> "numero de telefono").
std::string FoldHeaderName(std::string_view name);

enum class Column { kOther, kPhone, kChannel };
// What a header name means: "numero", "Número", "telefono", "phone", "canal", "Channel", ...
Column ClassifyHeader(std::string_view name);

struct Layout {
  char delimiter = ',';
  size_t phone = 0;  // column indexes
  size_t channel = 0;
  size_t columns = 0;  // in the header
};
// Finds the delimiter (',', ';', tab, '|': the first that yields exactly one phone and one
// channel column) and the two columns; nullopt with `error` saying what is wrong.
std::optional<Layout> DetectLayout(std::string_view header_line, std::string* error);

// "voz" -> "voice", "Mensaje de texto" -> "sms", "correo electrónico" -> "email", ...; nullopt
// for an unknown value.
std::optional<std::string> MapChannel(std::string_view value);

// One data row: the E.164 number and channel, or the reason it is rejected. The reason never
// holds a full phone number (only common::MaskPhone's form).
struct Row {
  std::string phone_e164;
  std::string channel;
  std::string error;             // empty: the row is good
  bool unknown_channel = false;  // the error is an unknown channel value
};
Row ParseRow(const std::vector<std::string>& fields, const Layout& layout);

// The names accepted, for messages and documentation.
std::string_view AcceptedHeaderNames();
std::string_view AcceptedChannelValues();

}  // namespace outcall::rne
