// webhook-ingest over real HTTPS with the real PostgreSQL: every answer of the endpoint, the
// durable dedup store, concurrent duplicates, streamed audio within bounded memory,
// SAVE_CALL_AUDIO, PostgreSQL going away and coming back, and the simulator's signed webhooks.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <future>
#include <pqxx/pqxx>
#include <thread>
#include <unistd.h>

#include "ingest_fixture.h"
#include "outcall/common/crypto.h"
#include "outcall/common/http_client.h"
#include "outcall/common/strings.h"
#include "simulator.h"

namespace outcall::ingest_testing {
namespace {

std::string Base64(std::string_view in) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += k[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint8_t(in[i]) << 16;
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += k[v >> 18];
    out += k[(v >> 12) & 63];
    out += k[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

using IngestHttpTest = IngestTest;

TEST_F(IngestHttpTest, AnswersEachCaseWithItsStatus) {
  StartIngest();
  const std::string body = Body("post_call_transcription", "conv_status_1");
  // Stored, then a duplicate: 200 both, one row.
  HttpReply r = Post(body, Sign(body));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"status":"stored"})");
  r = Post(body, Sign(body));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"duplicate"})");
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox"), 1);
  {
    pqxx::connection c(db_->url());
    pqxx::nontransaction tx(c);
    auto row = tx.exec1("SELECT body, body_sha256, event_timestamp, body_truncated FROM webhook_inbox");
    pqxx::binarystring stored(row[0]);
    EXPECT_EQ(stored.str(), body);  // the exact bytes
    EXPECT_EQ(row[1].as<std::string>(), common::Sha256::Hex(body));
    EXPECT_EQ(row[2].as<int64_t>(), 1739537297);
    EXPECT_FALSE(row[3].as<bool>());
  }

  // 401: forged, stale, future, missing, spaces after the comma.
  const std::string other = Body("post_call_transcription", "conv_status_2");
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  EXPECT_EQ(Post(other, elevenlabs::SignElevenLabsWebhook("wsec_wrong", now, other)).status, 401);
  EXPECT_EQ(Post(other, Sign(other, now - 31 * 60)).status, 401);
  EXPECT_EQ(Post(other, Sign(other, now + 10 * 60)).status, 401);
  EXPECT_EQ(Post(other, "").status, 401);
  std::string spaced = Sign(other);
  spaced.replace(spaced.find(",v0="), 4, ", v0=");
  EXPECT_EQ(Post(other, spaced).status, 401);
  std::string flipped = other;
  flipped[10] ^= 1;
  r = Post(flipped, Sign(other));
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body.find("invalid_signature"), std::string::npos);
  // v0 before t is fine.
  const std::string sig = Sign(other);
  const std::string reversed = sig.substr(sig.find(",v0=") + 1) + "," + sig.substr(0, sig.find(",v0="));
  EXPECT_EQ(Post(other, reversed).status, 200);

  // 400: malformed JSON, unknown type, missing conversation_id, no envelope (signed correctly).
  for (const std::string& bad :
       {std::string(R"({"type": "post_call_transcription", "data": {)"),
        Body("post_call_something", "conv_x"),
        std::string(R"({"type": "post_call_transcription", "data": {"agent_id": "a"}})"),
        Body("post_call_transcription", "   "),
        std::string(R"({"conversation_id": "conv_x", "transcript": []})")}) {
    r = Post(bad, Sign(bad));
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_NE(r.body.find("\"error\""), std::string::npos);
  }

  // 404, 405.
  EXPECT_EQ(Post(other, Sign(other), "/api/webhooks/other").status, 404);
  {
    auto c = Client();
    r = c->Request("GET", "/api/webhooks/elevenlabs", {}, "");
    EXPECT_EQ(r.status, 405);
    EXPECT_EQ(r.headers["allow"], "POST");
    // The connection stays usable after an error without a body.
    r = c->Request("GET", "/healthz", {}, "");
    EXPECT_EQ(r.status, 200);
  }
  // 413: a declared length over the audio limit; a JSON event over WEBHOOK_MAX_EVENT_BYTES.
  {
    auto c = Client();
    r = c->Raw("POST /api/webhooks/elevenlabs HTTP/1.1\r\nHost: x\r\nElevenLabs-Signature: " +
               Sign("x") + "\r\nContent-Length: 999999999\r\n\r\n");
    EXPECT_EQ(r.status, 413);
  }
  const std::string big = Body("post_call_transcription", "conv_big",
                               R"("pad": ")" + std::string(2 * 1024 * 1024, 'x') + "\"");
  EXPECT_EQ(Post(big, Sign(big)).status, 413);
  // 431: headers over the limit.
  {
    auto c = Client();
    r = c->Request("POST", "/api/webhooks/elevenlabs",
                   {{"X-Pad", std::string(20 * 1024, 'a')}, {"ElevenLabs-Signature", Sign(other)}},
                   other);
    EXPECT_EQ(r.status, 431);
  }

  EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox"), 2);
  EXPECT_GE(Metric("webhook_requests_total", "unauthorized"), 6);
  EXPECT_GE(Metric("webhook_signature_failures_total", "stale"), 1);
  EXPECT_GE(Metric("webhook_signature_failures_total", "mismatch"), 2);
  auto c = Client();
  r = c->Request("GET", "/metrics", {}, "");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("webhook_requests_total"), std::string::npos);
  EXPECT_NE(r.body.find("webhook_commit_batch_size"), std::string::npos);
  // TLS 1.2 or later only.
  EXPECT_TRUE(c->Protocol() == "TLSv1.3" || c->Protocol() == "TLSv1.2") << c->Protocol();
}

TEST_F(IngestHttpTest, MalformedChunkedBodyIs400NamingTheProblemNotATimeout) {
  StartIngest();
  const std::string body = Body("post_call_transcription", "conv_bad_chunk");
  const std::string head = "POST /api/webhooks/elevenlabs HTTP/1.1\r\nHost: x\r\nElevenLabs-Signature: " +
                           Sign(body) + "\r\nTransfer-Encoding: chunked\r\n\r\n";
  struct Case {
    std::string chunked;
    std::string names;  // what the message must say
  };
  const Case cases[] = {
      {"zz\r\n" + body + "\r\n0\r\n\r\n", "bad chunk size"},
      {"5;=x\r\n" + body.substr(0, 5) + "\r\n0\r\n\r\n", "bad chunk extension"},
  };
  for (const Case& c : cases) {
    auto client = Client();
    ASSERT_TRUE(client->connected());
    HttpReply r = client->Raw(head + c.chunked);
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(r.headers["content-type"], "application/json");
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(r.body, ec);
    ASSERT_FALSE(ec) << r.body;
    ASSERT_TRUE(v.is_object()) << r.body;
    EXPECT_EQ(v.at("error"), "malformed_body") << r.body;
    const std::string message(v.at("message").as_string());
    EXPECT_NE(message.find("chunked body"), std::string::npos) << message;
    EXPECT_NE(message.find(c.names), std::string::npos) << message;
  }
  EXPECT_EQ(Metric("webhook_requests_total", "timeout"), 0);
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox"), 0);
  // A well-formed chunked body on a new connection is still stored.
  char size[32];
  std::snprintf(size, sizeof size, "%zx", body.size());
  auto client = Client();
  HttpReply ok = client->Raw(head + size + "\r\n" + body + "\r\n0\r\n\r\n");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox"), 1);
}

TEST_F(IngestHttpTest, SlowClientsAreCutOffAndConnectionsCapped) {
  webhook_ingest::HttpLimits limits = TestLimits();
  limits.read_timeout = absl::Seconds(1);
  limits.max_connections = 2;
  StartIngest(true, "", limits);
  {
    // A header that never ends: the connection is closed, no answer, no thread held.
    auto slow = Client();
    ASSERT_TRUE(slow->connected());
    HttpReply r = slow->Raw("POST /api/webhooks/elevenlabs HTTP/1.1\r\nHost: x\r\n");
    EXPECT_EQ(r.status, 0);
    // A body that stops halfway: cut off (a timed-out TLS stream cannot be answered).
    auto stalled = Client();
    r = stalled->Raw("POST /api/webhooks/elevenlabs HTTP/1.1\r\nHost: x\r\nElevenLabs-Signature: " +
                     Sign("{}") + "\r\nContent-Length: 100\r\n\r\n{\"type\"");
    EXPECT_EQ(r.status, 0);
    // The server counts it once its read fails, which may be just after the client sees the close.
    for (int i = 0; i < 100 && Metric("webhook_requests_total", "timeout") < 1; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_GE(Metric("webhook_requests_total", "timeout"), 1);
  }
  // Two idle connections fill the cap: a third is served, and the oldest idle one is closed to
  // make room (not the newcomer refused).
  auto a = Client();
  auto b = Client();
  ASSERT_TRUE(a->connected());
  ASSERT_TRUE(b->connected());
  auto c = Client();
  ASSERT_TRUE(c->connected());
  EXPECT_EQ(c->Request("GET", "/healthz", {}, "").status, 200);
  EXPECT_EQ(Metric("webhook_requests_total", "connection_evicted_idle"), 1);
  EXPECT_EQ(a->Request("GET", "/healthz", {}, "").status, 0) << "the oldest idle was closed";
  const std::string body = Body("post_call_transcription", "conv_after_cap");
  HttpsClient again(server_->port(), tls_.cert);
  ASSERT_TRUE(again.connected());
  EXPECT_EQ(again.Request("POST", "/api/webhooks/elevenlabs", {{"ElevenLabs-Signature", Sign(body)}},
                          body).status,
            200);
}

// What an outside probe did to main: hundreds of connections that never start TLS, and idle TLS
// connections, from many addresses, held and reopened. Valid webhooks keep getting 200, with
// handshake and idle timeouts far longer than the test, so only the caps' eviction lets them in.
TEST_F(IngestHttpTest, HostileConnectionsNeverLockOutValidWebhooks) {
  webhook_ingest::HttpLimits limits = TestLimits();
  limits.max_connections = 24;
  limits.max_handshakes = 8;
  limits.max_connections_per_source = 6;
  limits.handshake_timeout = absl::Seconds(60);
  limits.idle_timeout = absl::Seconds(60);
  limits.read_timeout = absl::Seconds(60);
  StartIngest(true, "", limits);
  std::vector<int> raw;
  std::vector<std::unique_ptr<HttpsClient>> idle;
  int next_source = 2;
  auto source = [&] { return common::Cat("127.0.0.", 2 + (next_source++ % 200)); };
  auto hold = [&] {
    for (int i = 0; i < 20; ++i) {  // never start TLS
      const int fd = OpenRawConnection(server_->port(), source());
      if (fd >= 0) raw.push_back(fd);
    }
    for (int i = 0; i < 4; ++i) {  // TLS done, then silence
      idle.push_back(std::make_unique<HttpsClient>(server_->port(), tls_.cert, source()));
    }
  };
  for (int round = 0; round < 12; ++round) {
    hold();
    const std::string body = Body("post_call_transcription", common::Cat("conv_flood_", round));
    HttpsClient valid(server_->port(), tls_.cert);
    ASSERT_TRUE(valid.connected()) << round;
    EXPECT_EQ(valid.Request("POST", "/api/webhooks/elevenlabs",
                            {{"ElevenLabs-Signature", Sign(body)}}, body).status,
              200)
        << round;
  }
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox WHERE conversation_id LIKE 'conv_flood_%'"),
            12);
  EXPECT_GT(Metric("webhook_requests_total", "connection_evicted_handshake"), 0);
  EXPECT_GT(Metric("webhook_requests_total", "connection_evicted_idle"), 0);
  for (int fd : raw) ::close(fd);
}

// One address cannot hold more than its share of connections.
TEST_F(IngestHttpTest, ConnectionsPerSourceAreCapped) {
  webhook_ingest::HttpLimits limits = TestLimits();
  limits.max_connections_per_source = 3;
  limits.handshake_timeout = absl::Seconds(60);
  StartIngest(true, "", limits);
  std::vector<int> raw;
  for (int i = 0; i < 5; ++i) raw.push_back(OpenRawConnection(server_->port(), "127.0.0.9"));
  for (int i = 0; i < 200 && Metric("webhook_requests_total", "connection_refused_source") < 2;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Metric("webhook_requests_total", "connection_refused_source"), 2);
  // Another address is served as usual.
  const std::string body = Body("post_call_transcription", "conv_other_source");
  HttpsClient valid(server_->port(), tls_.cert, "127.0.0.10");
  ASSERT_TRUE(valid.connected());
  EXPECT_EQ(valid.Request("POST", "/api/webhooks/elevenlabs", {{"ElevenLabs-Signature", Sign(body)}},
                          body).status,
            200);
  for (int fd : raw) {
    if (fd >= 0) ::close(fd);
  }
}

TEST_F(IngestHttpTest, DuplicatesOnTwoConnectionsAtOnceAreStoredOnce) {
  StartIngest();
  for (int round = 0; round < 10; ++round) {
    const std::string body = Body("call_initiation_failure", common::Cat("conv_dup_", round),
                                  R"("failure_reason": "busy")");
    const std::string sig = Sign(body);
    auto a = Client();
    auto b = Client();
    auto fa = std::async(std::launch::async, [&] {
      return a->Request("POST", "/api/webhooks/elevenlabs", {{"ElevenLabs-Signature", sig}}, body);
    });
    auto fb = std::async(std::launch::async, [&] {
      return b->Request("POST", "/api/webhooks/elevenlabs", {{"ElevenLabs-Signature", sig}}, body);
    });
    HttpReply ra = fa.get();
    HttpReply rb = fb.get();
    EXPECT_EQ(ra.status, 200);
    EXPECT_EQ(rb.status, 200);
    // Exactly one of them stored it.
    EXPECT_EQ((ra.body == R"({"status":"stored"})") + (rb.body == R"({"status":"stored"})"), 1)
        << ra.body << " " << rb.body;
  }
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox"), 10);
  EXPECT_EQ(Count("SELECT count(*) FROM (SELECT 1 FROM webhook_inbox GROUP BY event_type, "
                  "conversation_id HAVING count(*) > 1) d"),
            0);
}

TEST_F(IngestHttpTest, ConcurrentRequestsShareCommits) {
  StartIngest();
  constexpr int kClients = 8;
  constexpr int kEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      auto c = Client();
      for (int i = 0; i < kEach; ++i) {
        const std::string body = Body("post_call_transcription", common::Cat("conv_gc_", t, "_", i));
        if (c->Request("POST", "/api/webhooks/elevenlabs", {{"ElevenLabs-Signature", Sign(body)}},
                       body).status == 200) {
          ok.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), kClients * kEach);
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox"), kClients * kEach);
  // Every acknowledged event went through a commit; batches of several show group commit.
  double batches = 0;
  double events = 0;
  for (const auto& f : registry_->Collect()) {
    if (f.name != "webhook_commit_batch_size") continue;
    batches = static_cast<double>(f.metric[0].histogram.sample_count);
    events = f.metric[0].histogram.sample_sum;
  }
  EXPECT_EQ(events, kClients * kEach);
  EXPECT_LE(batches, events);
  std::printf("group commit: %.0f events in %.0f transactions\n", events, batches);
}

// A post_call_audio body of about 50 MB, sent chunked and never held by the client, is verified
// while it streams, stored in parts, and never held in memory by the server either.
TEST_F(IngestHttpTest, FiftyMegabyteAudioStreamsWithinBoundedMemory) {
  StartIngest(/*save_audio=*/true);
  const std::string conversation = "conv_audio_big";
  const std::string head = R"({"type": "post_call_audio", "event_timestamp": 1739537297, "data": )"
                           R"({"agent_id": "agent_1", "conversation_id": ")" + conversation +
                           R"(", "full_audio": ")";
  const std::string tail = "\"}}";
  constexpr size_t kPiece = 48 * 1024;   // decoded bytes per piece (multiple of 3)
  constexpr int kPieces = 800;           // 37.5 MiB decoded -> 50 MiB base64
  auto piece = [](int i) {
    std::string p(kPiece, '\0');
    uint64_t x = 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(i + 1);
    for (size_t j = 0; j < p.size(); ++j) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      p[j] = static_cast<char>(x);
    }
    return p;
  };
  // First pass: the signature and the audio's hash (a sender signs before sending).
  const int64_t t = absl::ToUnixSeconds(absl::Now());
  common::HmacSha256 mac(secret_);
  mac.Update(std::to_string(t));
  mac.Update(".");
  mac.Update(head);
  common::Sha256 audio_hash;
  for (int i = 0; i < kPieces; ++i) {
    const std::string p = piece(i);
    audio_hash.Update(p);
    mac.Update(Base64(p));
  }
  mac.Update(tail);
  const std::string sig = common::Cat("t=", t, ",v0=", common::HexEncode(mac.Finish()));
  const std::string expected_sha = common::HexEncode(audio_hash.Finish());

  ResetPeakRss();
  const int64_t before = PeakRssBytes();
  int i = -1;
  auto c = Client();
  HttpReply r = c->PostChunked("/api/webhooks/elevenlabs", {{"ElevenLabs-Signature", sig}}, [&] {
    ++i;
    if (i == 0) return head;
    if (i <= kPieces) return Base64(piece(i - 1));
    if (i == kPieces + 1) return tail;
    return std::string();
  });
  const int64_t after = PeakRssBytes();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"status":"stored"})");
  // The body is 50 MiB; the process (client and server together) grew by far less. Not under
  // AddressSanitizer, whose allocator keeps freed memory in quarantine on purpose (the bound is
  // the release build's; the buffered-bytes figure below holds in both).
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(after - before, 24 * 1024 * 1024) << "peak RSS grew by " << (after - before);
#endif
  EXPECT_LE(Metric("webhook_max_buffered_body_bytes"), TestLimits().max_event_bytes);

  pqxx::connection conn(db_->url());
  pqxx::nontransaction tx(conn);
  auto row = tx.exec1(
      "SELECT i.id, i.body_truncated, convert_from(i.body, 'UTF8'), "
      "(SELECT count(*) FROM webhook_audio_parts p WHERE p.inbox_id = i.id), "
      "(SELECT sum(length(data)) FROM webhook_audio_parts p WHERE p.inbox_id = i.id), "
      "(SELECT encode(sha256(string_agg(data, ''::bytea ORDER BY part)), 'hex') "
      " FROM webhook_audio_parts p WHERE p.inbox_id = i.id) "
      "FROM webhook_inbox i WHERE conversation_id = '" + conversation + "'");
  EXPECT_TRUE(row[1].as<bool>());
  auto stored = boost::json::parse(row[2].as<std::string>()).as_object();
  EXPECT_FALSE(stored.at("data").as_object().contains("full_audio"));
  EXPECT_EQ(stored.at("outcall_audio").at("sha256").as_string(), expected_sha);
  EXPECT_EQ(stored.at("outcall_audio").at("size_bytes").as_int64(), int64_t{kPiece} * kPieces);
  EXPECT_TRUE(stored.at("outcall_audio").at("stored").as_bool());
  EXPECT_EQ(row[3].as<int64_t>(), 38);  // 37.5 MiB in 1 MiB parts
  EXPECT_EQ(row[4].as<int64_t>(), int64_t{kPiece} * kPieces);
  EXPECT_EQ(row[5].as<std::string>(), expected_sha);
}

TEST_F(IngestHttpTest, AudioIsVerifiedAndDiscardedWithoutSaveCallAudio) {
  StartIngest(/*save_audio=*/false);
  const std::string audio = Base64(std::string(300 * 1024, 'z'));
  const std::string body = Body("post_call_audio", "conv_audio_off", R"("full_audio": ")" + audio + "\"");
  // Forged audio is refused like anything else.
  std::string forged = body;
  forged[forged.size() - 10] = 'A';
  EXPECT_EQ(Post(forged, Sign(body)).status, 401);
  EXPECT_EQ(Post(body, Sign(body)).status, 200);
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_audio_parts"), 0);
  pqxx::connection conn(db_->url());
  pqxx::nontransaction tx(conn);
  auto stored = boost::json::parse(
      tx.exec1("SELECT convert_from(body, 'UTF8') FROM webhook_inbox").at(0).as<std::string>());
  EXPECT_FALSE(stored.at("outcall_audio").at("stored").as_bool());
  EXPECT_EQ(stored.at("outcall_audio").at("size_bytes").as_int64(), 300 * 1024);
  // Bad base64 in full_audio is a malformed event.
  const std::string bad = Body("post_call_audio", "conv_audio_bad", R"("full_audio": "!!!!")");
  EXPECT_EQ(Post(bad, Sign(bad)).status, 400);
}

TEST_F(IngestHttpTest, DatabaseOutageAnswers503ThenRecoversWithoutLosingAcknowledged) {
  int port = 0;
  const std::string host = DatabaseHostPort(&port);
  ASSERT_FALSE(host.empty());
  TcpProxy proxy(host, port);
  std::string url = db_->url();
  url.replace(url.find(":" + std::to_string(port) + "/"), std::to_string(port).size() + 2,
              ":" + std::to_string(proxy.port()) + "/");
  StartIngest(true, url);

  std::vector<std::string> acked;
  int unavailable = 0;
  auto send = [&](int i) {
    const std::string id = common::Cat("conv_outage_", i);
    const std::string body = Body("post_call_transcription", id);
    HttpReply r = Post(body, Sign(body));
    if (r.status == 200) {
      acked.push_back(id);
    } else {
      EXPECT_EQ(r.status, 503) << r.body;  // never anything else, never 200 unstored
      ++unavailable;
    }
    return r.status;
  };
  for (int i = 0; i < 20; ++i) EXPECT_EQ(send(i), 200);
  proxy.Cut();  // PostgreSQL gone: open connections dropped, new ones refused
  for (int i = 20; i < 40; ++i) EXPECT_EQ(send(i), 503);
  proxy.Restore();
  for (int i = 40; i < 60; ++i) EXPECT_EQ(send(i), 200);
  // The events refused meanwhile are accepted once resent (a retrying sender).
  for (int i = 20; i < 40; ++i) EXPECT_EQ(send(i), 200);
  EXPECT_EQ(unavailable, 20);
  for (const auto& id : acked) {
    EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox WHERE conversation_id = '" + id + "'"), 1)
        << id;
  }
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox"), 60);
  EXPECT_GE(Metric("webhook_requests_total", "unavailable"), 20);
}

// What a PostgreSQL restart does to ingest's open connections: the server ends them while they
// are idle. The next webhooks must be stored (200), not refused with a 503 that ElevenLabs
// would never retry.
TEST_F(IngestHttpTest, ConnectionsEndedByTheServerAreReplacedWithoutRefusingWebhooks) {
  StartIngest(true);
  for (int i = 0; i < 6; ++i) {  // every commit worker and the audio writer hold a connection
    const std::string body = Body(i % 2 ? "post_call_audio" : "post_call_transcription",
                                  common::Cat("conv_before_", i));
    ASSERT_EQ(Post(body, Sign(body)).status, 200);
  }
  {
    pqxx::connection admin(db_->url());
    pqxx::nontransaction tx(admin);
    const std::string others =
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend'";
    ASSERT_GT(tx.exec1("SELECT count(*) " + others)[0].as<int>(), 0);
    tx.exec("SELECT pg_terminate_backend(pid) " + others);
    for (int i = 0; i < 500 && tx.exec1("SELECT count(*) " + others)[0].as<int>() > 0; ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    ASSERT_EQ(tx.exec1("SELECT count(*) " + others)[0].as<int>(), 0);
  }
  for (int i = 0; i < 6; ++i) {
    const std::string body = Body(i % 2 ? "post_call_audio" : "post_call_transcription",
                                  common::Cat("conv_after_", i));
    EXPECT_EQ(Post(body, Sign(body)).status, 200) << i;
  }
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox WHERE conversation_id LIKE 'conv_after_%'"),
            6);
  EXPECT_EQ(Metric("webhook_requests_total", "unavailable"), 0);
}

// ElevenLabs sends each webhook once: with PostgreSQL unreachable, ingest acknowledges verified
// events from its local spool (fsynced), keeps them across its own restart, and moves them into
// the inbox, once each and in order, when the database is back. Only a full spool answers 503.
TEST_F(IngestHttpTest, DuringADatabaseOutageEventsAreSpooledAndNothingAcknowledgedIsLost) {
  int port = 0;
  const std::string host = DatabaseHostPort(&port);
  ASSERT_FALSE(host.empty());
  TcpProxy proxy(host, port);
  std::string url = db_->url();
  url.replace(url.find(":" + std::to_string(port) + "/"), std::to_string(port).size() + 2,
              ":" + std::to_string(proxy.port()) + "/");
  const std::string dir = ::testing::TempDir() + "/spool-" + common::RandomHex(6);
  auto open_spool = [&](int64_t max_bytes) {
    auto s = webhook_ingest::Spool::Open(dir, max_bytes);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  };
  spool_ = open_spool(int64_t{64} << 20);
  StartIngest(true, url);
  auto post = [&](const std::string& type, const std::string& conv, const std::string& extra = "") {
    const std::string body = Body(type, conv, extra);
    return Post(body, Sign(body)).status;
  };
  const std::string audio = R"("full_audio": "SUQzBAAAAAAAI1RTU0UAAAAPAAADTGF2ZjU4Ljc2LjEwMAAAAAAAAAAAAAAA//tQ")";
  EXPECT_EQ(post("post_call_transcription", "conv_spool_0"), 200);
  proxy.Cut();
  for (int i = 1; i <= 5; ++i) {
    EXPECT_EQ(post("post_call_transcription", common::Cat("conv_spool_", i)), 200) << i;
  }
  EXPECT_EQ(post("post_call_audio", "conv_spool_1", audio), 200);
  EXPECT_EQ(Metric("webhook_requests_total", "spooled"), 6);
  EXPECT_EQ(Metric("webhook_requests_total", "unavailable"), 0);
  // ingest restarts while the database is still away: the spool outlives it.
  StopIngest();
  spool_.reset();
  spool_ = open_spool(int64_t{64} << 20);
  ASSERT_EQ(spool_->count(), 6);
  StartIngest(true, url);
  EXPECT_EQ(post("post_call_transcription", "conv_spool_6"), 200);  // joins the spool
  EXPECT_EQ(spool_->count(), 7);
  proxy.Restore();
  for (int i = 0; i < 500 && spool_->count() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(spool_->count(), 0);
  EXPECT_EQ(post("post_call_transcription", "conv_spool_7"), 200);  // straight to the inbox
  EXPECT_EQ(spool_->count(), 0);
  // Every acknowledged event once, in the order they were acknowledged, the audio with its part.
  pqxx::connection conn(db_->url());
  pqxx::nontransaction tx(conn);
  std::vector<std::string> order;
  for (const auto& r : tx.exec("SELECT conversation_id || '/' || event_type FROM webhook_inbox "
                               "ORDER BY id")) {
    order.push_back(r[0].as<std::string>());
  }
  const std::vector<std::string> want = {
      "conv_spool_0/post_call_transcription", "conv_spool_1/post_call_transcription",
      "conv_spool_2/post_call_transcription", "conv_spool_3/post_call_transcription",
      "conv_spool_4/post_call_transcription", "conv_spool_5/post_call_transcription",
      "conv_spool_1/post_call_audio",         "conv_spool_6/post_call_transcription",
      "conv_spool_7/post_call_transcription"};
  EXPECT_EQ(order, want);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM webhook_audio_parts p JOIN webhook_inbox i ON i.id = "
                     "p.inbox_id WHERE i.conversation_id = 'conv_spool_1'")[0]
                .as<int>(),
            1);
}

TEST_F(IngestHttpTest, OnlyAFullSpoolAnswers503) {
  int port = 0;
  const std::string host = DatabaseHostPort(&port);
  TcpProxy proxy(host, port);
  std::string url = db_->url();
  url.replace(url.find(":" + std::to_string(port) + "/"), std::to_string(port).size() + 2,
              ":" + std::to_string(proxy.port()) + "/");
  // The size one of these events takes in a spool, measured on a scratch one: room for two.
  int64_t one = 0;
  {
    auto scratch = webhook_ingest::Spool::Open(
        ::testing::TempDir() + "/spool-" + common::RandomHex(6), int64_t{1} << 20);
    ASSERT_TRUE(scratch.ok());
    webhook_ingest::InboxRecord r;
    r.event_type = "post_call_transcription";
    r.conversation_id = "conv_full_0";
    r.event_timestamp = 1739537297;
    r.body = Body("post_call_transcription", "conv_full_0");
    r.body_sha256 = std::string(64, 'a');
    ASSERT_TRUE((*scratch)->Append(r).ok());
    one = (*scratch)->bytes();
  }
  auto s = webhook_ingest::Spool::Open(::testing::TempDir() + "/spool-" + common::RandomHex(6),
                                       2 * one + one / 2);
  ASSERT_TRUE(s.ok()) << s.status();
  spool_ = *std::move(s);
  StartIngest(true, url);
  proxy.Cut();
  std::vector<int> statuses;
  for (int i = 0; i < 4; ++i) {
    const std::string body = Body("post_call_transcription", common::Cat("conv_full_", i));
    statuses.push_back(Post(body, Sign(body)).status);
  }
  EXPECT_EQ(statuses, (std::vector<int>{200, 200, 503, 503}));
  proxy.Restore();
  for (int i = 0; i < 500 && spool_->count() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox WHERE conversation_id LIKE 'conv_full_%'"), 2);
}

// The simulator places a call and sends its real signed webhooks (chunked audio included) to the
// endpoint over HTTPS; its signature faults are refused.
TEST_F(IngestHttpTest, SimulatorWebhooksAreStoredAndItsForgeriesRefused) {
  StartIngest(/*save_audio=*/true);
  sim::SimConfig config;
  config.listen_address = "127.0.0.1:0";
  config.api_key = common::Secret("sk_test_" + common::RandomHex(16));
  config.agent_id = "agent_sim_confirmaciones";
  config.phone_number_id = "phnum_sim_twilio";
  config.webhook_url = common::Cat("https://127.0.0.1:", server_->port(), "/api/webhooks/elevenlabs");
  config.webhook_secret = common::Secret(secret_);
  config.webhook_ca_file = tls_.cert;
  config.time_scale = 0;
  sim::Simulator simulator(config);
  ASSERT_TRUE(simulator.Start().ok());
  auto call = [&](const std::string& method, const std::string& path, const std::string& body,
                  bool key) {
    common::HttpRequest req;
    req.method = method;
    req.url = simulator.base_url() + path;
    req.body = body;
    if (key) req.headers = {{"xi-api-key", config.api_key.Reveal()}};
    req.headers.emplace_back("Content-Type", "application/json");
    auto r = common::HttpClient().Send(req);
    EXPECT_TRUE(r.ok());
    return r.ok() ? boost::json::parse(r->body.empty() ? "{}" : r->body) : boost::json::value();
  };
  auto place = [&](const std::string& to) {
    auto v = call("POST", "/v1/convai/twilio/outbound-call",
                  R"({"agent_id":"agent_sim_confirmaciones","agent_phone_number_id":"phnum_sim_twilio","to_number":")" +
                      to + R"("})",
                  true);
    return std::string(v.at("conversation_id").as_string());
  };
  const std::string answered = place("+573005550001");
  const std::string busy = place("+573005550005");
  call("POST", "/__sim/clock", R"({"advance_secs": 120})", false);
  for (int i = 0; i < 1000 && !simulator.webhooks().Idle(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox WHERE conversation_id = '" + answered +
                  "' AND event_type IN ('post_call_transcription', 'post_call_audio')"),
            2);
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox WHERE conversation_id = '" + busy +
                  "' AND event_type = 'call_initiation_failure'"),
            1);
  EXPECT_GT(Count("SELECT count(*) FROM webhook_audio_parts"), 0);

  // Signature faults on the next call's webhooks: refused, nothing stored.
  call("PUT", "/__sim/faults",
       R"({"webhooks": [{"kind": "bad_signature", "times": 0}]})", false);
  const std::string forged = place("+573005550005");
  call("POST", "/__sim/clock", R"({"advance_secs": 120})", false);
  for (int i = 0; i < 1000 && !simulator.webhooks().Idle(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(Count("SELECT count(*) FROM webhook_inbox WHERE conversation_id = '" + forged + "'"), 0);
  EXPECT_GE(Metric("webhook_signature_failures_total", "mismatch"), 1);
  simulator.Stop();
}

}  // namespace
}  // namespace outcall::ingest_testing
