#include "ingest_fixture.h"

#include <prometheus/text_serializer.h>

#include <cstdlib>
#include <pqxx/pqxx>
#include <regex>

#include "outcall/common/crypto.h"
#include "outcall/common/jwt.h"
#include "outcall/common/strings.h"
#include "outcall/elevenlabs/webhook_signature.h"

namespace outcall::ingest_testing {

void IngestTest::SetUp() {
  tls_ = MakeSelfSignedCert();
  ASSERT_FALSE(tls_.cert.empty()) << "openssl could not make a certificate";
  db_ = std::make_unique<outcall::testing::TestDatabase>();
  ASSERT_TRUE(db_->ok());
  db_->Migrate();
  secret_ = "wsec_" + common::RandomHex(16);
  registry_ = std::make_shared<prometheus::Registry>();
  metrics_ = std::make_unique<webhook_ingest::IngestMetrics>(*registry_);
}

void IngestTest::TearDown() {
  StopIngest();
  testing::RemoveTlsFiles(tls_);
}

webhook_ingest::HttpLimits IngestTest::TestLimits() {
  webhook_ingest::HttpLimits l;
  l.threads = 2;
  l.small_body_bytes = 64 * 1024;
  l.max_event_bytes = 1024 * 1024;
  l.max_audio_bytes = 80 * 1024 * 1024;
  l.max_large_bodies = 2;
  l.read_timeout = absl::Seconds(5);
  return l;
}

void IngestTest::StartIngest(bool save_audio, std::string database_url,
                             webhook_ingest::HttpLimits limits) {
  if (database_url.empty()) database_url = db_->url();
  webhook_ingest::StoreOptions so;
  so.audio_part_bytes = 1024 * 1024;
  so.connect_timeout = absl::Seconds(2);
  store_ = std::make_unique<webhook_ingest::InboxStore>(database_url, so, metrics_.get(),
                                                       [this] {
                                                         if (on_stored_) on_stored_();
                                                       },
                                                       spool_.get());
  webhook_ingest::WebhookServerOptions o;
  o.listen_address = "127.0.0.1:0";
  o.tls_cert_file = tls_.cert;
  o.tls_key_file = tls_.key;
  o.limits = limits;
  o.save_call_audio = save_audio;
  o.shutdown_grace = absl::Seconds(2);
  elevenlabs::WebhookVerifierOptions v;
  v.secrets.emplace_back(secret_);
  server_ = std::make_unique<webhook_ingest::WebhookServer>(o, v, store_.get(), metrics_.get(),
                                                            registry_.get());
  ASSERT_TRUE(server_->Start().ok());
}

void IngestTest::StopIngest() {
  if (server_) server_->Stop();
  if (store_) store_->Stop();
  server_.reset();
  store_.reset();
}

webhook_ingest::PublisherOptions IngestTest::PublisherOptionsFor(const std::string& address) const {
  webhook_ingest::PublisherOptions p;
  p.gateway_address = address;
  p.jwt_issuer = "outcall-test";
  p.jwt_audiences = {"outcall"};
  p.jwt_hs256_secret = common::Secret("jwt-test-secret-" + common::RandomHex(16));
  p.rpc_timeout = absl::Seconds(3);
  p.min_backoff = absl::Milliseconds(50);
  p.max_backoff = absl::Milliseconds(400);
  p.poll_interval = absl::Milliseconds(100);
  p.batch_size = 3;  // several batches even with few events
  return p;
}

std::string IngestTest::Body(std::string_view type, std::string_view conversation_id,
                             std::string_view extra_data) const {
  return common::Cat(R"({"type": ")", type, R"(", "event_timestamp": 1739537297, "data": {)",
                     R"("agent_id": "agent_1", "conversation_id": ")", conversation_id, "\"",
                     extra_data.empty() ? "" : ", ", extra_data, "}}");
}

std::string IngestTest::Sign(std::string_view body, int64_t t) const {
  if (t == 0) t = absl::ToUnixSeconds(absl::Now());
  return elevenlabs::SignElevenLabsWebhook(secret_, t, body);
}

std::unique_ptr<HttpsClient> IngestTest::Client() const {
  return std::make_unique<HttpsClient>(server_->port(), tls_.cert);
}

HttpReply IngestTest::Post(const std::string& body, const std::string& signature,
                           const std::string& target) {
  auto c = Client();
  EXPECT_TRUE(c->connected());
  std::map<std::string, std::string> h{{"Content-Type", "application/json"}};
  if (!signature.empty()) h["ElevenLabs-Signature"] = signature;
  return c->Request("POST", target, h, body);
}

int64_t IngestTest::Count(const std::string& sql) const {
  pqxx::connection c(db_->url());
  pqxx::nontransaction tx(c);
  return tx.exec1(sql)[0].as<int64_t>();
}

std::string IngestTest::DatabaseHostPort(int* port) const {
  static const std::regex re(R"(@([0-9.]+|localhost):([0-9]+)/)");
  std::smatch m;
  const std::string& url = db_->url();
  if (!std::regex_search(url, m, re)) return "";
  *port = std::stoi(m[2]);
  return m[1];
}

double IngestTest::Metric(const std::string& name, const std::string& label) const {
  for (const auto& family : registry_->Collect()) {
    if (family.name != name) continue;
    double total = 0;
    for (const auto& m : family.metric) {
      bool match = label.empty();
      for (const auto& l : m.label) match = match || l.value == label;
      if (!match) continue;
      total += m.counter.value + m.gauge.value;
    }
    return total;
  }
  return 0;
}

}  // namespace outcall::ingest_testing
