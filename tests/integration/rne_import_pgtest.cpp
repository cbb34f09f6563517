// outcall-rne-import as a real process against PostgreSQL: the set loaded and the counts for a
// file with good, duplicate and bad rows; bad rows over --max-errors change nothing; the latest
// list wins; a version is loaded once unless --replace; a 100k-row file from stdin.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <pqxx/pqxx>
#include <set>
#include <string>
#include <utility>

#include "outcall/common/crypto.h"
#include "test_database.h"

namespace outcall {
namespace {

struct ToolRun {
  int rc = -1;
  std::string out;
  std::string err;
};

std::string WriteTemp(const std::string& contents) {
  const std::string path = ::testing::TempDir() + "rne_" + common::RandomHex(6) + ".csv";
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

// Runs the tool with DATABASE_URL = `url`; `input` is the file's path, or "- < path" for stdin.
ToolRun Import(const std::string& url, const std::string& args, const std::string& input) {
  const std::string base = ::testing::TempDir() + "rne_run_" + common::RandomHex(6);
  const std::string cmd = "DATABASE_URL='" + url + "' " OUTCALL_RNE_IMPORT_BINARY " " + args + " " +
                          input + " >" + base + ".out 2>" + base + ".err";
  const int status = std::system(cmd.c_str());
  ToolRun r;
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = testing::ReadFile(base + ".out");
  r.err = testing::ReadFile(base + ".err");
  std::remove((base + ".out").c_str());
  std::remove((base + ".err").c_str());
  return r;
}

using Entries = std::set<std::pair<std::string, std::string>>;

// excluded_numbers as (phone, channel), checking every row has `version`.
Entries Listed(const std::string& url, const std::string& version) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  Entries out;
  for (const auto& r : tx.exec("SELECT phone_e164, channel, list_version FROM excluded_numbers")) {
    EXPECT_EQ(r[2].as<std::string>(), version) << r[0].as<std::string>();
    out.emplace(r[0].as<std::string>(), r[1].as<std::string>());
  }
  return out;
}

int64_t ListEntries(const std::string& url, const std::string& version) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  const auto r =
      tx.exec_params("SELECT entries FROM excluded_number_lists WHERE list_version = $1", version);
  return r.empty() ? -1 : r[0][0].as<int64_t>();
}

// What call-gateway's LoadPolicyInputs reads: the latest list, and whether it lists the pair.
std::pair<std::string, bool> GatewaySees(const std::string& url, const std::string& phone,
                                         const std::string& channel) {
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  const auto r = tx.exec_params(
      "SELECT rne.list_version, rne.list_version IS NOT NULL AND EXISTS (SELECT 1 FROM "
      "excluded_numbers e WHERE e.phone_e164 = $1 AND e.channel = $2 "
      "AND e.list_version = rne.list_version) "
      "FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT list_version FROM excluded_number_lists "
      "ORDER BY loaded_at DESC, list_version DESC LIMIT 1) rne ON true",
      phone, channel);
  return {r[0][0].is_null() ? "" : r[0][0].as<std::string>(), r[0][1].as<bool>()};
}

class RneImport : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(db_.ok());
    db_.Migrate();
  }
  const std::string& url() const { return db_.url(); }

  testing::TestDatabase db_;
};

// Spanish headers with ';' (a spreadsheet's export), a BOM, CRLF, quotes, an extra column.
constexpr const char* kMixedFile =
    "\xEF\xBB\xBFN\xC3\xBAmero;Canal;Fecha de registro\r\n"
    "300 123 4567;Voz;2026-11-02\r\n"                // line 2
    "+57 300 123 4567;llamada;2026-11-02\r\n"        // 3: the same pair (duplicate)
    "573001234567;SMS;2026-11-03\r\n"                // 4
    "\"310-555-0101\";\"Mensaje de texto\";\r\n"     // 5
    "3105550101;mensaje de texto;\r\n"               // 6: duplicate
    "(601) 555 0202;correo electr\xC3\xB3nico;\r\n"  // 7: landline, e-mail
    "3209990003;WhatsApp;\r\n"                       // 8
    "3209990003;fax;\r\n"                            // 9: unknown channel
    "99887;voz;\r\n"                                 // 10: bad number
    ";;\r\n"                                         // blank: not a row
    "3001234567\r\n";                                // 12: no channel field

TEST_F(RneImport, LoadsTheValidRowsAndCountsDuplicatesAndRejectedRows) {
  const std::string file = WriteTemp(kMixedFile);
  const ToolRun r = Import(url(), "--version=2026-11-30 --max-errors=3", file);
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_EQ(Listed(url(), "2026-11-30"), (Entries{{"+573001234567", "voice"},
                                                  {"+573001234567", "sms"},
                                                  {"+573105550101", "sms"},
                                                  {"+576015550202", "email"},
                                                  {"+573209990003", "whatsapp"}}));
  EXPECT_EQ(ListEntries(url(), "2026-11-30"), 5);
  EXPECT_NE(r.out.find("version 2026-11-30: 10 rows read, 5 loaded, 2 duplicates, 3 rejected"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("line 9: unknown channel \"fax\""), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line 10: invalid phone number"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("line 12: the row has 1 fields"), std::string::npos) << r.err;
  // Numbers only masked: never a whole number on stderr.
  EXPECT_EQ(r.err.find("99887"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("3209990003"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("*9887"), std::string::npos) << r.err;
  EXPECT_EQ(GatewaySees(url(), "+573209990003", "whatsapp"),
            (std::pair<std::string, bool>{"2026-11-30", true}));
  EXPECT_EQ(GatewaySees(url(), "+573209990003", "voice"),
            (std::pair<std::string, bool>{"2026-11-30", false}));
}

TEST_F(RneImport, MoreBadRowsThanMaxErrorsChangeNothing) {
  const std::string good = WriteTemp("phone,channel\n3001234567,voice\n");
  ASSERT_EQ(Import(url(), "--version=v1", good).rc, 0);

  const std::string file = WriteTemp(kMixedFile);
  ToolRun r = Import(url(), "--version=v2", file);  // default --max-errors=0
  EXPECT_EQ(r.rc, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("3 rows rejected, more than --max-errors=0 allows; nothing changed"),
            std::string::npos)
      << r.err;
  r = Import(url(), "--version=v2 --max-errors=2", file);
  EXPECT_EQ(r.rc, 1) << r.out << r.err;
  EXPECT_EQ(ListEntries(url(), "v2"), -1);
  EXPECT_EQ(Listed(url(), "v1"), (Entries{{"+573001234567", "voice"}}));
}

TEST_F(RneImport, TheLatestVersionWins) {
  ASSERT_EQ(Import(url(), "--version=2026-10-31",
                   WriteTemp("telefono,canal\n3001110001,voz\n3001110002,voz\n3001110002,sms\n"))
                .rc,
            0);
  EXPECT_EQ(GatewaySees(url(), "+573001110001", "voice"),
            (std::pair<std::string, bool>{"2026-10-31", true}));
  const ToolRun r = Import(url(), "--version=2026-11-30",
                           WriteTemp("telefono,canal\n3001110002,voz\n3001110003,email\n"));
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("(1 new, 2 no longer listed; previous list 2026-10-31)"), std::string::npos)
      << r.out;
  // Exactly the new list, all under its version; the old list's row stays as history.
  EXPECT_EQ(Listed(url(), "2026-11-30"),
            (Entries{{"+573001110002", "voice"}, {"+573001110003", "email"}}));
  EXPECT_EQ(ListEntries(url(), "2026-10-31"), 3);
  EXPECT_EQ(ListEntries(url(), "2026-11-30"), 2);
  EXPECT_EQ(GatewaySees(url(), "+573001110001", "voice"),
            (std::pair<std::string, bool>{"2026-11-30", false}));
  EXPECT_EQ(GatewaySees(url(), "+573001110002", "voice"),
            (std::pair<std::string, bool>{"2026-11-30", true}));
  EXPECT_EQ(GatewaySees(url(), "+573001110003", "email"),
            (std::pair<std::string, bool>{"2026-11-30", true}));
}

TEST_F(RneImport, ReimportingAVersionIsRefusedUnlessReplace) {
  ASSERT_EQ(Import(url(), "--version=2026-11-30", WriteTemp("numero,canal\n3001110001,voz\n")).rc,
            0);
  const std::string second = WriteTemp("numero,canal\n3001110009,sms\n3001110008,sms\n");
  ToolRun r = Import(url(), "--version=2026-11-30", second);
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("list version 2026-11-30 is already loaded; nothing changed"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(Listed(url(), "2026-11-30"), (Entries{{"+573001110001", "voice"}}));

  r = Import(url(), "--version=2026-11-30 --replace", second);
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_EQ(Listed(url(), "2026-11-30"),
            (Entries{{"+573001110009", "sms"}, {"+573001110008", "sms"}}));
  EXPECT_EQ(ListEntries(url(), "2026-11-30"), 2);

  // --replace of an older version makes it the latest again.
  ASSERT_EQ(Import(url(), "--version=2026-12-31", WriteTemp("numero,canal\n3001110007,voz\n")).rc,
            0);
  ASSERT_EQ(Import(url(), "--version=2026-11-30 --replace", second).rc, 0);
  EXPECT_EQ(GatewaySees(url(), "+573001110009", "sms"),
            (std::pair<std::string, bool>{"2026-11-30", true}));
  EXPECT_EQ(GatewaySees(url(), "+573001110007", "voice"),
            (std::pair<std::string, bool>{"2026-11-30", false}));
}

TEST_F(RneImport, RefusesUnusableFilesAndEmptyLists) {
  ToolRun r = Import(url(), "--version=x", WriteTemp("nombre,ciudad\nAna,Cali\n"));
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("needs a phone column and a channel column"), std::string::npos) << r.err;
  r = Import(url(), "--version=x", WriteTemp("phone,channel\n"));
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("lists no usable number"), std::string::npos) << r.err;
  r = Import(url(), "--version=x", WriteTemp("phone,channel\n\"3001234567,voice\n"));
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("line 2: a quoted field is never closed"), std::string::npos) << r.err;
  r = Import(url(), "--version='bad version'", WriteTemp("phone,channel\n3001234567,voice\n"));
  EXPECT_EQ(r.rc, 2);
  r = Import(url(), "--version=x", "/nonexistent/rne.csv");
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(ListEntries(url(), "x"), -1);
}

TEST_F(RneImport, LoadsAHundredThousandRowsFromStdin) {
  std::string csv = "numero,canal\n";
  constexpr int kRows = 100000;
  const char* channels[] = {"voz", "sms", "whatsapp", "correo"};
  for (int i = 0; i < kRows; ++i) {
    // Every 10th row repeats the row before it.
    const int n = i % 10 == 9 ? i - 1 : i;
    csv += std::to_string(3000000000LL + n) + "," + channels[n % 4] + "\n";
  }
  const std::string file = WriteTemp(csv);
  const ToolRun r = Import(url(), "--version=big", "- < " + file);
  ASSERT_EQ(r.rc, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("100000 rows read, 90000 loaded, 10000 duplicates, 0 rejected"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(ListEntries(url(), "big"), 90000);
  pqxx::connection c(url());
  pqxx::nontransaction tx(c);
  EXPECT_EQ(tx.exec("SELECT count(*) FROM excluded_numbers WHERE list_version = 'big'")[0][0]
                .as<int64_t>(),
            90000);
  EXPECT_EQ(GatewaySees(url(), "+573000099998", "whatsapp"),
            (std::pair<std::string, bool>{"big", true}));
  std::remove(file.c_str());
}

}  // namespace
}  // namespace outcall
