// libFuzzer target: the streaming body scanner, the envelope checks and the JSON -> CallEvent
// mapping. The first two bytes choose how the body is cut: a split point and a chunk size
// (1 = one byte at a time). Properties: nothing crashes; the verdict, error and envelope (and
// the audio of an accepted body) are those of the whole body in one piece, however it is cut;
// a body the scanner accepts as an event is valid JSON that the mapping reads (it may refuse a
// field's value, naming it, never the document).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "outcall/elevenlabs/body_scanner.h"
#include "outcall/elevenlabs/event_mapping.h"

using namespace outcall;

namespace {
struct Scan {
  bool ok;
  std::string error;
  elevenlabs::Envelope env;
  std::string audio;
};
// Feeds `body` as [0, split) and then pieces of `chunk` bytes.
Scan Run(std::string_view body, size_t split, size_t chunk) {
  Scan out{};
  elevenlabs::BodyScanner s([&](std::string_view d) { out.audio.append(d); });
  split = std::min(split, body.size());
  s.Write(body.substr(0, split));
  for (size_t i = split; i < body.size(); i += chunk) s.Write(body.substr(i, chunk));
  out.ok = s.Finish();
  out.error = s.error();
  out.env = s.envelope();
  return out;
}
bool Same(const Scan& a, const Scan& b) {
  // A refused body's audio is discarded by the caller: only an accepted body's must match.
  return a.ok == b.ok && a.error == b.error && (!a.ok || a.audio == b.audio) &&
         a.env.type == b.env.type &&
         a.env.conversation_id == b.env.conversation_id && a.env.agent_id == b.env.agent_id &&
         a.env.event_timestamp == b.env.event_timestamp &&
         a.env.has_data_object == b.env.has_data_object;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t split = data[0];
  const size_t chunk = data[1] % 32 + 1;
  const std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);
  const Scan a = Run(body, body.size(), 1);  // the whole body in one piece
  if (!Same(a, Run(body, split, body.size() + 1))) std::abort();
  if (!Same(a, Run(body, split, chunk))) std::abort();
  if (!Same(a, Run(body, body.size() / 2, body.size() + 1))) std::abort();
  if (a.ok) {
    if (elevenlabs::ValidateEnvelope(a.env).ok()) {
      std::string stored(body);
      if (a.env.type == elevenlabs::kAudio) {
        elevenlabs::AudioSummary summary;
        summary.size_bytes = static_cast<int64_t>(a.audio.size());
        summary.sha256 = std::string(64, '0');
        stored = elevenlabs::AudioInboxBody(a.env, summary);
      }
      auto ev = elevenlabs::MapInboxEvent(1, a.env.type, a.env.conversation_id, a.env.event_timestamp, stored);
      // The mapping may refuse a field's value (that event is quarantined), never the JSON.
      if (!ev.ok() && (ev.status().code() != absl::StatusCode::kInvalidArgument ||
                       ev.status().message() == "body is not a JSON object")) {
        std::abort();
      }
      if (ev.ok()) {
        if (ev->conversation_id() != a.env.conversation_id) std::abort();
        std::string wire;
        if (!ev->SerializeToString(&wire)) std::abort();
      }
    }
  }
  // The mapping on its own never crashes on any bytes.
  (void)elevenlabs::MapInboxEvent(2, "post_call_transcription", "c", std::nullopt, body);
  (void)elevenlabs::MapInboxEvent(3, "call_initiation_failure", "c", 1, body);
  return 0;
}
