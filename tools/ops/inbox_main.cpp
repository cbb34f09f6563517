// outcall-inbox: the operator's hand on webhook-ingest's quarantine (events that cannot be
// applied as they are, with the reason; later events of their conversations wait behind them).
//
//   outcall-inbox list                   quarantined events: id, type, conversation, reason,
//                                        how many later events wait behind each
//   outcall-inbox show ID                one event's envelope, reason and stored body
// The publisher picks a returned event up at its next poll (PUBLISH_POLL_INTERVAL_MS).
//
//   outcall-inbox retry ID               back to the publisher as it is (after a fix elsewhere:
//                                        a new release, a migration)
//   outcall-inbox replace ID FILE        the body replaced by FILE's JSON (the original is kept
//                                        in original_body), then back to the publisher
//   outcall-inbox discard ID REASON      given up: marked published and discarded, so its
//                                        conversation goes on; the row and reason stay
//
// Connects to DATABASE_URL (or DATABASE_URL_FILE). Exit 0 on success, 1 when the event is not
// in quarantine or the database refused, 2 on bad usage.
#include <cstdio>
#include <cstring>
#include <string>

#include <boost/json.hpp>
#include <pqxx/pqxx>

#include "outcall/common/config.h"
#include "outcall/common/files.h"

namespace {

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s list | show ID | retry ID | replace ID FILE | discard ID REASON\n",
               argv0);
  return 2;
}

bool ParseId(const char* s, long long* out) {
  char* end = nullptr;
  *out = std::strtoll(s, &end, 10);
  return end != s && *end == '\0' && *out > 0;
}

int List(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  const pqxx::result rows = tx.exec(
      "SELECT q.id, q.event_type, q.conversation_id, q.quarantined_at::text, "
      "q.quarantine_reason, (SELECT count(*) FROM webhook_inbox w WHERE w.conversation_id = "
      "q.conversation_id AND w.id > q.id AND w.published_at IS NULL) "
      "FROM webhook_inbox q WHERE q.quarantined_at IS NOT NULL AND q.published_at IS NULL "
      "ORDER BY q.id");
  std::printf("%-10s %-24s %-36s %-24s %-7s %s\n", "id", "type", "conversation", "since",
              "waiting", "reason");
  for (const auto& r : rows) {
    std::printf("%-10s %-24s %-36s %-24.24s %-7s %s\n", r[0].c_str(), r[1].c_str(), r[2].c_str(),
                r[3].c_str(), r[5].c_str(), r[4].c_str());
  }
  std::printf("%zu in quarantine\n", static_cast<size_t>(rows.size()));
  return 0;
}

int Show(pqxx::connection& conn, long long id) {
  pqxx::nontransaction tx(conn);
  const pqxx::result rows = tx.exec_params(
      "SELECT event_type, conversation_id, received_at::text, COALESCE(quarantined_at::text, ''), "
      "COALESCE(quarantine_reason, ''), published_at IS NOT NULL, body, original_body IS NOT NULL "
      "FROM webhook_inbox WHERE id = $1",
      id);
  if (rows.empty()) {
    std::fprintf(stderr, "outcall-inbox: no inbox event %lld\n", id);
    return 1;
  }
  const auto& r = rows[0];
  const pqxx::binarystring body(r[6]);
  std::printf("id: %lld\ntype: %s\nconversation: %s\nreceived: %s\nquarantined: %s\n"
              "reason: %s\npublished: %s\nbody replaced: %s\nbody:\n",
              id, r[0].c_str(), r[1].c_str(), r[2].c_str(), r[3].c_str(), r[4].c_str(),
              r[5].as<bool>() ? "yes" : "no", r[7].as<bool>() ? "yes" : "no");
  std::fwrite(body.data(), 1, body.size(), stdout);
  std::printf("\n");
  return 0;
}

// Runs `sql` ($1 = id, then `extra`) on a quarantined event; 1 when it is not in quarantine.
template <typename... Extra>
int OnQuarantined(pqxx::connection& conn, long long id, const char* done, const std::string& sql,
                  const Extra&... extra) {
  pqxx::work tx(conn);
  const pqxx::result r = tx.exec_params(sql, id, extra...);
  if (r.affected_rows() == 0) {
    std::fprintf(stderr, "outcall-inbox: inbox event %lld is not in quarantine\n", id);
    return 1;
  }
  tx.commit();
  std::printf("inbox event %lld %s\n", id, done);
  return 0;
}

constexpr const char* kWhereQuarantined =
    " WHERE id = $1 AND quarantined_at IS NOT NULL AND published_at IS NULL";

}  // namespace

int main(int argc, char** argv) {
  using namespace outcall::common;
  if (argc < 2) return Usage(argv[0]);
  const std::string cmd = argv[1];
  long long id = 0;
  if (cmd != "list" && (argc < 3 || !ParseId(argv[2], &id))) return Usage(argv[0]);
  if ((cmd == "replace" || cmd == "discard") && argc != 4) return Usage(argv[0]);
  if ((cmd == "show" || cmd == "retry") && argc != 3) return Usage(argv[0]);

  std::string body;
  if (cmd == "replace") {
    auto file = ReadWholeFile(argv[3]);
    if (!file) {
      std::fprintf(stderr, "outcall-inbox: cannot read %s\n", argv[3]);
      return 2;
    }
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(*file, ec);
    if (ec || !v.is_object() || !v.as_object().contains("data")) {
      std::fprintf(stderr, "outcall-inbox: %s is not a webhook body (a JSON object with data)\n",
                   argv[3]);
      return 2;
    }
    body = *std::move(file);
  }

  EnvReader env;
  const Secret url = env.SecretValue("DATABASE_URL", /*required=*/true);
  if (auto s = env.Finish(); !s.ok()) {
    std::fprintf(stderr, "outcall-inbox: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  try {
    pqxx::connection conn(url.Reveal());
    if (cmd == "list") return List(conn);
    if (cmd == "show") return Show(conn, id);
    if (cmd == "retry") {
      return OnQuarantined(conn, id, "returned to the publisher",
                           std::string("UPDATE webhook_inbox SET quarantined_at = NULL, "
                                       "next_attempt_at = now()") +
                               kWhereQuarantined);
    }
    if (cmd == "replace") {
      return OnQuarantined(
          conn, id, "replaced and returned to the publisher",
          std::string("UPDATE webhook_inbox SET original_body = COALESCE(original_body, body), "
                      "body = convert_to($2, 'UTF8'), quarantined_at = NULL, "
                      "next_attempt_at = now()") +
              kWhereQuarantined,
          body);
    }
    if (cmd == "discard") {
      return OnQuarantined(conn, id, "discarded",
                           std::string("UPDATE webhook_inbox SET discarded_at = now(), "
                                       "published_at = now(), quarantine_reason = "
                                       "quarantine_reason || '; discarded: ' || $2") +
                               kWhereQuarantined,
                           std::string(argv[3]));
    }
  } catch (const std::exception& e) {
    // The first line only: a DETAIL line may quote a row.
    const std::string what = e.what();
    std::fprintf(stderr, "outcall-inbox: database error: %s\n",
                 what.substr(0, what.find('\n')).c_str());
    return 1;
  }
  return Usage(argv[0]);
}
