// A webhook-ingest stack for integration tests: a fresh migrated database, the durable inbox,
// the HTTPS endpoint with a certificate made at test time, and (on demand) the publisher
// pointed at a RecordingSink.
#pragma once

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

#include "inbox_store.h"
#include "ingest_support.h"
#include "metrics.h"
#include "publisher.h"
#include "spool.h"
#include "test_database.h"
#include "webhook_server.h"

namespace outcall::ingest_testing {

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Small limits so that tests reach them quickly.
  static webhook_ingest::HttpLimits TestLimits();
  void StartIngest(bool save_audio = true, std::string database_url = "",
                   webhook_ingest::HttpLimits limits = TestLimits());
  void StopIngest();
  webhook_ingest::PublisherOptions PublisherOptionsFor(const std::string& address) const;

  std::string Body(std::string_view type, std::string_view conversation_id,
                   std::string_view extra_data = "") const;
  std::string Sign(std::string_view body, int64_t t = 0) const;
  // POST to the webhook path on a new connection.
  HttpReply Post(const std::string& body, const std::string& signature,
                 const std::string& target = "/api/webhooks/elevenlabs");
  std::unique_ptr<HttpsClient> Client() const;

  int64_t Count(const std::string& sql) const;
  std::string DatabaseHostPort(int* port) const;
  double Metric(const std::string& name, const std::string& label = "") const;

  TlsFiles tls_;
  std::unique_ptr<outcall::testing::TestDatabase> db_;
  std::string secret_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<webhook_ingest::IngestMetrics> metrics_;
  std::unique_ptr<webhook_ingest::InboxStore> store_;
  std::unique_ptr<webhook_ingest::WebhookServer> server_;
  std::function<void()> on_stored_;
  // When set before StartIngest, the store spools what PostgreSQL cannot take.
  std::unique_ptr<webhook_ingest::Spool> spool_;
};

}  // namespace outcall::ingest_testing
