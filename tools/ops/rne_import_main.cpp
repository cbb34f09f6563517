// outcall-rne-import --version=VERSION [--replace] [--max-errors=N] FILE|-
//
// Loads a Registro de Números Excluidos (RNE) download into excluded_number_lists and
// excluded_numbers (db/migrations/0011), which call-gateway's contact policy reads: the latest
// list loaded is the one in force. The file (or stdin for '-') is CSV with a header naming a
// phone column and a channel column (formats: tools/ops/rne_file.h, docs/policy.md "Loading the
// RNE"); it is streamed into a temporary table with COPY, so any size loads in constant memory.
// Then, in the same transaction: the list row is inserted (a version already loaded is refused
// unless --replace), and excluded_numbers is made to hold exactly the new list's distinct
// (number, channel) pairs, all under the new version. Readers see the old list or the new one,
// never a mix.
//
// Rows that cannot be used (a bad number, an unknown channel) are reported on stderr with their
// line number, the number masked, and skipped; more than --max-errors of them (default 0) and
// nothing changes. Connects to DATABASE_URL (or DATABASE_URL_FILE) as the migration/admin role:
// call-gateway's role may only read these tables.
//
// Exit 0 loaded; 1 refused or failed, nothing changed (version already loaded, too many bad rows,
// no rows, database error); 2 bad usage, no DATABASE_URL, or a file that cannot be read as an RNE
// CSV (unreadable, no usable header).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <pqxx/pqxx>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "outcall/common/config.h"
#include "outcall/common/strings.h"
#include "rne_file.h"

namespace {

constexpr const char* kTool = "outcall-rne-import";
// Rejected rows printed one by one; beyond this only their count.
constexpr int64_t kMaxErrorLines = 100;

int Usage() {
  std::fprintf(stderr,
               "usage: %s --version=VERSION [--replace] [--max-errors=N] FILE|-\n"
               "  VERSION      the download's name, e.g. 2026-11-30 (letters, digits, . _ : -)\n"
               "  --replace    load again a version already loaded (it becomes the latest)\n"
               "  --max-errors rows that may be rejected and skipped (default 0: any bad row\n"
               "               aborts and nothing changes)\n"
               "  FILE         CSV with a header naming a phone and a channel column; - is stdin\n",
               kTool);
  return 2;
}

bool ValidVersion(std::string_view v) {
  if (v.empty() || v.size() > 64) return false;
  for (char c : v) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// A database error's first line only: a DETAIL line may quote a row (a phone number).
std::string FirstLine(const std::exception& e) {
  const std::string what = e.what();
  return what.substr(0, what.find('\n'));
}

struct Counts {
  int64_t read = 0;      // data rows (blank lines not counted)
  int64_t valid = 0;     // streamed into the temporary table
  int64_t rejected = 0;  // skipped, each reported
  int64_t entries = 0;   // distinct (number, channel) pairs
};

// The summary, on stdout when loaded, on stderr (with "nothing loaded") when not.
void PrintCounts(const std::string& version, const Counts& c, bool loaded) {
  std::fprintf(loaded ? stdout : stderr,
               "version %s: %lld rows read, %lld %s, %lld duplicates, %lld rejected%s\n",
               version.c_str(), static_cast<long long>(c.read), static_cast<long long>(c.entries),
               loaded ? "loaded" : "usable", static_cast<long long>(c.valid - c.entries),
               static_cast<long long>(c.rejected), loaded ? "" : "; nothing loaded");
}

}  // namespace

int main(int argc, char** argv) {
  using namespace outcall;
  std::string version;
  bool have_version = false;
  bool replace = false;
  int64_t max_errors = 0;
  std::string path;
  bool have_path = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a.starts_with("--version=")) {
      version = std::string(a.substr(10));
      have_version = true;
    } else if (a == "--version" && i + 1 < argc) {
      version = argv[++i];
      have_version = true;
    } else if (a == "--replace") {
      replace = true;
    } else if (a.starts_with("--max-errors=")) {
      if (!common::ParseInt(a.substr(13), &max_errors) || max_errors < 0) {
        std::fprintf(stderr, "%s: --max-errors needs a number >= 0\n", kTool);
        return 2;
      }
    } else if (a == "--help" || a == "-h") {
      Usage();
      return 0;
    } else if ((a == "-" || !a.starts_with("-")) && !have_path) {
      path = std::string(a);
      have_path = true;
    } else {
      return Usage();
    }
  }
  if (!have_version || !have_path) return Usage();
  if (!ValidVersion(version)) {
    std::fprintf(stderr,
                 "%s: --version must be 1 to 64 letters, digits, '.', '_', ':' or '-' "
                 "(e.g. 2026-11-30)\n",
                 kTool);
    return 2;
  }

  common::EnvReader env;
  const common::Secret url = env.SecretValue("DATABASE_URL", /*required=*/true);
  if (auto s = env.Finish(); !s.ok()) {
    std::fprintf(stderr, "%s: %s\n", kTool, std::string(s.message()).c_str());
    return 2;
  }

  std::FILE* in = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (in == nullptr) {
    std::fprintf(stderr, "%s: cannot open %s: %s\n", kTool, path.c_str(), std::strerror(errno));
    return 2;
  }
  const std::string source = path == "-" ? "stdin" : path;
  rne::CsvReader reader(in);
  const auto header = reader.ReadHeaderLine();
  if (!header) {
    std::fprintf(stderr, "%s: %s: no header line (empty, or a first line over %zu bytes)\n", kTool,
                 source.c_str(), rne::kMaxRecordBytes);
    return 2;
  }
  std::string layout_error;
  const auto layout = rne::DetectLayout(*header, &layout_error);
  if (!layout) {
    std::fprintf(stderr, "%s: %s: %s\n", kTool, source.c_str(), layout_error.c_str());
    return 2;
  }

  Counts counts;
  bool unknown_channels = false;
  try {
    pqxx::connection conn(url.Reveal());
    pqxx::work tx(conn);
    if (!replace &&
        !tx.exec_params("SELECT 1 FROM excluded_number_lists WHERE list_version = $1", version)
             .empty()) {
      std::fprintf(stderr,
                   "%s: list version %s is already loaded; nothing changed (--replace loads it "
                   "again)\n",
                   kTool, version.c_str());
      return 1;
    }

    // 1. The file into a temporary table, by COPY, row by row.
    tx.exec(
        "CREATE TEMPORARY TABLE rne_load (phone_e164 text NOT NULL, channel text NOT NULL) "
        "ON COMMIT DROP");
    {
      pqxx::stream_to copy(tx, "rne_load", std::vector<std::string>{"phone_e164", "channel"});
      std::vector<std::string> fields;
      int64_t line = 0;
      std::string error;
      while (true) {
        const auto next = reader.Read(layout->delimiter, &fields, &line, &error);
        if (next == rne::CsvReader::Next::kEnd) break;
        if (next == rne::CsvReader::Next::kError) {
          std::fprintf(stderr, "%s: %s: %s; nothing changed\n", kTool, source.c_str(),
                       error.c_str());
          return 2;
        }
        bool blank = true;
        for (const auto& f : fields) blank = blank && f.empty();
        if (blank) continue;
        ++counts.read;
        const rne::Row row = rne::ParseRow(fields, *layout);
        if (!row.error.empty()) {
          ++counts.rejected;
          unknown_channels = unknown_channels || row.unknown_channel;
          if (counts.rejected <= kMaxErrorLines) {
            std::fprintf(stderr, "%s: line %lld: %s\n", kTool, static_cast<long long>(line),
                         row.error.c_str());
          } else if (counts.rejected == kMaxErrorLines + 1) {
            std::fprintf(stderr, "%s: more rejected rows: only their count is shown\n", kTool);
          }
          continue;
        }
        ++counts.valid;
        copy << std::make_tuple(row.phone_e164, row.channel);
      }
      copy.complete();
    }
    if (in != stdin) std::fclose(in);
    if (unknown_channels) {
      std::fprintf(stderr, "%s: channels accepted: %s\n", kTool,
                   std::string(rne::AcceptedChannelValues()).c_str());
    }

    // 2. Distinct pairs: the new list.
    tx.exec(
        "CREATE TEMPORARY TABLE rne_new ON COMMIT DROP AS "
        "SELECT DISTINCT phone_e164, channel FROM rne_load");
    tx.exec("ANALYZE rne_new");
    counts.entries = tx.exec("SELECT count(*) FROM rne_new")[0][0].as<int64_t>();
    if (counts.rejected > max_errors) {
      PrintCounts(version, counts, /*loaded=*/false);
      std::fprintf(stderr,
                   "%s: %lld rows rejected, more than --max-errors=%lld allows; nothing "
                   "changed\n",
                   kTool, static_cast<long long>(counts.rejected),
                   static_cast<long long>(max_errors));
      return 1;
    }

    if (counts.entries == 0) {
      PrintCounts(version, counts, /*loaded=*/false);
      std::fprintf(stderr,
                   "%s: %s lists no usable number; an empty list would lift every exclusion, so "
                   "nothing changed\n",
                   kTool, source.c_str());
      return 1;
    }

    // 3. In force: one writer at a time (call-gateway's reads go on, and see the old list until
    // the commit). loaded_at is taken after the lock, so the list committed last is the latest.
    tx.exec("LOCK TABLE excluded_number_lists, excluded_numbers IN SHARE ROW EXCLUSIVE MODE");
    const pqxx::result latest = tx.exec(
        "SELECT list_version FROM excluded_number_lists ORDER BY loaded_at DESC, list_version "
        "DESC LIMIT 1");
    const std::string previous = latest.empty() ? "" : latest[0][0].as<std::string>();
    const pqxx::result listed = tx.exec_params(
        replace ? "INSERT INTO excluded_number_lists (list_version, loaded_at, entries) "
                  "VALUES ($1, clock_timestamp(), $2) ON CONFLICT (list_version) DO UPDATE SET "
                  "loaded_at = EXCLUDED.loaded_at, entries = EXCLUDED.entries"
                : "INSERT INTO excluded_number_lists (list_version, loaded_at, entries) "
                  "VALUES ($1, clock_timestamp(), $2) ON CONFLICT (list_version) DO NOTHING",
        version, counts.entries);
    if (listed.affected_rows() == 0) {
      std::fprintf(stderr,
                   "%s: list version %s was loaded meanwhile; nothing changed (--replace loads "
                   "it again)\n",
                   kTool, version.c_str());
      return 1;
    }
    const int64_t before = tx.exec("SELECT count(*) FROM excluded_numbers")[0][0].as<int64_t>();
    const int64_t removed =
        tx.exec(
              "DELETE FROM excluded_numbers e WHERE NOT EXISTS (SELECT 1 FROM rne_new n "
              "WHERE n.phone_e164 = e.phone_e164 AND n.channel = e.channel)")
            .affected_rows();
    tx.exec_params(
        "INSERT INTO excluded_numbers (phone_e164, channel, list_version) "
        "SELECT phone_e164, channel, $1 FROM rne_new "
        "ON CONFLICT (phone_e164, channel) DO UPDATE SET list_version = EXCLUDED.list_version "
        "WHERE excluded_numbers.list_version IS DISTINCT FROM EXCLUDED.list_version",
        version);
    tx.commit();

    PrintCounts(version, counts, /*loaded=*/true);
    const int64_t kept = before - removed;
    std::printf("in force: list %s with %lld entries (%lld new, %lld no longer listed%s%s)\n",
                version.c_str(), static_cast<long long>(counts.entries),
                static_cast<long long>(counts.entries - kept), static_cast<long long>(removed),
                previous.empty() ? "; no list before" : "; previous list ",
                previous.empty() ? "" : previous.c_str());
    if (!previous.empty() && previous != version && version < previous) {
      std::printf(
          "note: %s sorts before the previous list %s; the list loaded last is the one "
          "in force\n",
          version.c_str(), previous.c_str());
    }
  } catch (const pqxx::broken_connection&) {
    std::fprintf(stderr,
                 "%s: cannot connect to the database (or lost the connection); nothing changed\n",
                 kTool);
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: database error: %s; nothing changed\n", kTool, FirstLine(e).c_str());
    return 1;
  }
  return 0;
}
