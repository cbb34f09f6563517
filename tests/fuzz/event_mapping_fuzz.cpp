// libFuzzer target: the streaming body scanner (split at a point the input chooses), the envelope
// checks and the JSON -> CallEvent mapping. Properties: nothing crashes; whatever the split, the
// scanner reaches the same verdict and envelope; a body the scanner accepts as an event is
// valid JSON that the mapping accepts.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "body_scanner.h"
#include "event_mapping.h"

using namespace outcall::webhook_ingest;

namespace {
struct Scan {
  bool ok;
  Envelope env;
  std::string audio;
};
Scan Run(std::string_view body, size_t split) {
  Scan out{};
  BodyScanner s([&](std::string_view d) { out.audio.append(d); });
  s.Write(body.substr(0, split));
  s.Write(body.substr(split));
  out.ok = s.Finish();
  out.env = s.envelope();
  return out;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t split = data[0];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  const Scan a = Run(body, std::min(split, body.size()));
  const Scan b = Run(body, body.size() / 2);
  if (a.ok != b.ok || (a.ok && a.audio != b.audio)) std::abort();
  if (a.ok) {
    if (a.env.type != b.env.type || a.env.conversation_id != b.env.conversation_id ||
        a.env.event_timestamp != b.env.event_timestamp) {
      std::abort();
    }
    if (ValidateEnvelope(a.env).ok()) {
      std::string stored(body);
      if (a.env.type == kAudio) {
        AudioSummary summary;
        summary.size_bytes = static_cast<int64_t>(a.audio.size());
        summary.sha256 = std::string(64, '0');
        stored = AudioInboxBody(a.env, summary);
      }
      auto ev = MapInboxEvent(1, a.env.type, a.env.conversation_id, a.env.event_timestamp, stored);
      if (!ev.ok()) std::abort();
      if (ev->conversation_id() != a.env.conversation_id) std::abort();
      std::string wire;
      if (!ev->SerializeToString(&wire)) std::abort();
    }
  }
  // The mapping on its own never crashes on any bytes.
  (void)MapInboxEvent(2, "post_call_transcription", "c", std::nullopt, body);
  (void)MapInboxEvent(3, "call_initiation_failure", "c", 1, body);
  return 0;
}
