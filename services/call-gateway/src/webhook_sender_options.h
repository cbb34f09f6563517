// The outbound webhook sender's settings (webhook_sender.h), light enough for gateway_options.h.
#pragma once

#include <string>

#include "absl/time/time.h"

namespace outcall::call_gateway {

// When a subscription is disabled: this many failed attempts in a row, failing for this long.
struct DisablePolicy {
  int min_failures = 10;
  absl::Duration failing_for = absl::Hours(48);
};

struct WebhookSenderOptions {
  std::string owner = "call-gateway";  // this replica's lease name
  int workers = 16;
  int batch = 200;
  absl::Duration poll = absl::Milliseconds(100);
  absl::Duration timeout = absl::Seconds(10);  // per request
  absl::Duration lease = absl::Seconds(60);    // > timeout: a crashed sender's work comes back
  absl::Duration retry_base = absl::Seconds(10);
  absl::Duration retry_max = absl::Hours(6);
  absl::Duration retry_period = absl::Hours(72);
  DisablePolicy disable;
  std::string ca_file;  // trust these CAs (a receiver with a private CA); "" = the system's
};

}  // namespace outcall::call_gateway
