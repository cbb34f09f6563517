// From webhook JSON to the internal event contract (outcall.v1.CallEvent): the envelope checks
// done before an event is stored, the stored form of an audio event (its envelope and what we
// learnt about the audio, without the audio itself), and the mapping of a stored body to the
// typed message call-gateway receives. Lenient with fields it does not know or that are missing:
// the raw body stays in the inbox.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include <boost/json/object.hpp>
#include "outcall/elevenlabs/body_scanner.h"
#include "outcall/v1/events.pb.h"

namespace outcall::elevenlabs {

inline constexpr std::string_view kTranscription = "post_call_transcription";
inline constexpr std::string_view kAudio = "post_call_audio";
inline constexpr std::string_view kInitiationFailure = "call_initiation_failure";

// INVALID_ARGUMENT ("unknown type", "missing conversation_id", ...) unless the envelope names a
// known type, a data object and a non-blank conversation_id.
absl::Status ValidateEnvelope(const Envelope& envelope);

v1::EventType EventTypeFromName(std::string_view type);

// What the inbox keeps of a post_call_audio event in place of full_audio.
struct AudioSummary {
  bool stored = false;
  int64_t size_bytes = 0;  // decoded MP3 bytes
  std::string sha256;      // of the decoded MP3, lowercase hex
  std::string content_type = "audio/mpeg";
};

// {"type":"post_call_audio","event_timestamp":..,"data":{"agent_id":..,"conversation_id":..},
//  "outcall_audio":{"stored":..,"size_bytes":..,"sha256":..,"content_type":..}}
std::string AudioInboxBody(const Envelope& envelope, const AudioSummary& audio);

// A stored inbox row -> the typed event. Unknown strings (roles, statuses, verdicts) are kept as
// data. INVALID_ARGUMENT, naming the field, when the body is not a JSON object, the transcript
// is not a list, or a count, time or cost is present but negative or out of range: such an
// event is quarantined, not applied with a silent 0.
absl::StatusOr<v1::CallEvent> MapInboxEvent(int64_t inbox_id, std::string_view event_type,
                                            std::string_view conversation_id,
                                            std::optional<int64_t> event_timestamp,
                                            std::string_view body);

// ElevenLabs' conversation model (GET /v1/convai/conversations/{id}, the same model as a
// post_call_transcription webhook's data) -> a transcription event with no inbox row, mapped by
// the same rules as the webhook. For the reconciler: the JSON it already holds, no re-parsing.
absl::StatusOr<v1::CallEvent> MapConversation(std::string_view conversation_id,
                                              const boost::json::object& conversation);

}  // namespace outcall::elevenlabs
