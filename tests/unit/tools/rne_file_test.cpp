// tools/ops/rne_file: the CSV reader, the header names, the channel values and row parsing that
// outcall-rne-import uses (docs/policy.md "Loading the RNE" lists what is accepted).
#include "rne_file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

namespace outcall::rne {
namespace {

struct Parsed {
  std::vector<std::vector<std::string>> records;
  std::vector<int64_t> lines;
  std::string error;
};

Parsed ReadAll(const std::string& text, char delimiter, std::string* header = nullptr) {
  std::FILE* f = fmemopen(const_cast<char*>(text.data()), text.size(), "rb");
  CsvReader reader(f);
  Parsed p;
  auto h = reader.ReadHeaderLine();
  if (header != nullptr) *header = h.value_or("<none>");
  std::vector<std::string> fields;
  int64_t line = 0;
  while (true) {
    const auto next = reader.Read(delimiter, &fields, &line, &p.error);
    if (next != CsvReader::Next::kRecord) break;
    p.records.push_back(fields);
    p.lines.push_back(line);
  }
  std::fclose(f);
  return p;
}

TEST(RneCsv, QuotesCrlfBomAndLineNumbers) {
  std::string header;
  const Parsed p =
      ReadAll("\xEF\xBB\xBFnumero,canal\r\n 300 123 4567 , voz \r\n\"a,\"\"b\"\"\nc\",sms\r\nx,y",
              ',', &header);
  EXPECT_EQ(header, "numero,canal");
  ASSERT_EQ(p.records.size(), 3u);
  EXPECT_EQ(p.records[0], (std::vector<std::string>{"300 123 4567", "voz"}));
  EXPECT_EQ(p.records[1], (std::vector<std::string>{"a,\"b\"\nc", "sms"}));
  EXPECT_EQ(p.records[2], (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(p.lines, (std::vector<int64_t>{2, 3, 5}));
  EXPECT_TRUE(p.error.empty());
}

TEST(RneCsv, AnUnclosedQuoteIsAnError) {
  const Parsed p = ReadAll("phone,channel\n3001234567,voz\n\"3001234567,voz\n", ',');
  EXPECT_EQ(p.records.size(), 1u);
  EXPECT_EQ(p.error, "line 3: a quoted field is never closed");
}

TEST(RneCsv, ARecordOverTheLimitIsAnError) {
  const Parsed p = ReadAll("phone,channel\n" + std::string(kMaxRecordBytes + 10, '1'), ',');
  EXPECT_NE(p.error.find("line 2: the record is longer than"), std::string::npos) << p.error;
}

TEST(RneHeader, NamesAndDelimiters) {
  std::string error;
  auto l = DetectLayout("Número;Canal;Fecha", &error);
  ASSERT_TRUE(l) << error;
  EXPECT_EQ(l->delimiter, ';');
  EXPECT_EQ(l->phone, 0u);
  EXPECT_EQ(l->channel, 1u);
  EXPECT_EQ(l->columns, 3u);
  l = DetectLayout("fecha,channel,\"Phone_Number\"", &error);
  ASSERT_TRUE(l) << error;
  EXPECT_EQ(l->delimiter, ',');
  EXPECT_EQ(l->phone, 2u);
  EXPECT_EQ(l->channel, 1u);
  l = DetectLayout("TELÉFONO\tcanal", &error);
  ASSERT_TRUE(l) << error;
  EXPECT_EQ(l->delimiter, '\t');
  // Latin-1 (a spreadsheet's "CSV" without UTF-8): "número".
  EXPECT_EQ(ClassifyHeader("n\xFAmero"), Column::kPhone);
  EXPECT_EQ(ClassifyHeader("numero de teléfono"), Column::kPhone);
  EXPECT_EQ(ClassifyHeader("celular"), Column::kPhone);
  EXPECT_EQ(ClassifyHeader("nombre"), Column::kOther);

  EXPECT_FALSE(DetectLayout("nombre,canal", &error));
  EXPECT_NE(error.find("needs a phone column and a channel column"), std::string::npos);
  EXPECT_FALSE(DetectLayout("numero,telefono,canal", &error));
  EXPECT_NE(error.find("more than one phone column"), std::string::npos);
}

TEST(RneChannel, SpanishAndEnglishValues) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"voice", "voice"},
      {"Voz", "voice"},
      {"LLAMADA", "voice"},
      {"llamadas telefónicas", "voice"},
      {"sms", "sms"},
      {"Mensaje de texto", "sms"},
      {"mensajes_de_texto", "sms"},
      {"WhatsApp", "whatsapp"},
      {"mensajería por aplicaciones", "whatsapp"},
      {"email", "email"},
      {"E-mail", "email"},
      {"correo", "email"},
      {"Correo electrónico", "email"},
      {"correo electr\xF3nico", "email"}};
  for (const auto& [in, want] : cases) {
    EXPECT_EQ(MapChannel(in).value_or("<none>"), want) << in;
  }
  EXPECT_FALSE(MapChannel("fax"));
  EXPECT_FALSE(MapChannel(""));
  EXPECT_FALSE(MapChannel("voz sms"));
}

TEST(RneRow, NormalisesAndRejectsWithMaskedNumbers) {
  const Layout layout{',', 0, 1, 2};
  Row r = ParseRow({"300 123 4567", "voz"}, layout);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.phone_e164, "+573001234567");
  EXPECT_EQ(r.channel, "voice");
  r = ParseRow({"+1 212 555 0100", "sms"}, layout);
  EXPECT_EQ(r.phone_e164, "+12125550100");

  r = ParseRow({"30012345678", "voz"}, layout);
  EXPECT_NE(r.error.find("invalid phone number"), std::string::npos);
  EXPECT_NE(r.error.find("*******5678"), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find("30012345678"), std::string::npos) << r.error;
  r = ParseRow({"3001234567", "3001234567"}, layout);  // columns swapped
  EXPECT_TRUE(r.unknown_channel);
  EXPECT_EQ(r.error.find("3001234567"), std::string::npos) << r.error;
  r = ParseRow({"+7 1234", "voz"}, layout);  // too short for excluded_numbers' CHECK
  EXPECT_NE(r.error.find("fewer than 7 digits"), std::string::npos) << r.error;
  EXPECT_EQ(ParseRow({"", "voz"}, layout).error, "no phone number");
  EXPECT_EQ(ParseRow({"3001234567", ""}, layout).error, "no channel");
  EXPECT_EQ(ParseRow({"3001234567"}, layout).error, "the row has 1 fields, the header has 2");
}

}  // namespace
}  // namespace outcall::rne
