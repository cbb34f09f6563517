// Streaming inspection of a webhook body while it arrives: a SAX JSON parser (Boost.JSON
// basic_parser) that validates the syntax, captures the envelope fields (type, event_timestamp,
// data.conversation_id, data.agent_id) and hands the base64 `data.full_audio` string, decoded,
// to a sink piece by piece. Memory stays constant whatever the body size.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace outcall::elevenlabs {

// What the envelope said. Strings longer than kMaxFieldBytes make the body invalid.
struct Envelope {
  std::string type;
  std::string conversation_id;
  std::string agent_id;
  std::optional<int64_t> event_timestamp;
  bool has_data_object = false;
};

inline constexpr size_t kMaxFieldBytes = 256;

class BodyScanner {
 public:
  // Receives the decoded bytes of data.full_audio, in order. The verdict, error and envelope
  // never depend on how the body is cut into Write() calls, nor does the audio of a body that
  // Finish() accepts; what the sink received before a refusal is to be discarded.
  using AudioSink = std::function<void(std::string_view decoded)>;

  explicit BodyScanner(AudioSink sink);
  ~BodyScanner();
  BodyScanner(const BodyScanner&) = delete;
  BodyScanner& operator=(const BodyScanner&) = delete;

  // Feeds the next piece of the body. After the first error, further input is ignored.
  void Write(std::string_view chunk);
  // Ends the body. False (with error()) when the JSON is incomplete or invalid.
  bool Finish();

  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }  // a short reason, no body content
  const Envelope& envelope() const { return envelope_; }
  bool saw_audio() const { return saw_audio_; }
  int64_t audio_bytes() const { return audio_bytes_; }

 private:
  struct Handler;
  friend struct Handler;
  void Fail(std::string_view why);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  Envelope envelope_;
  std::string error_;
  bool saw_audio_ = false;
  int64_t audio_bytes_ = 0;
};

// Decodes standard base64 (with or without '=' padding) incrementally.
class Base64StreamDecoder {
 public:
  // Appends decoded bytes to `out`. False on a character outside the alphabet or data after
  // padding.
  bool Update(std::string_view in, std::string& out);
  // False when the input ended in the middle of a quantum that padding cannot explain.
  bool Finish(std::string& out);

 private:
  uint32_t acc_ = 0;
  int bits_ = 0;
  int quantum_ = 0;  // characters of the current 4-character quantum
  int padding_ = 0;
  bool done_ = false;
};

}  // namespace outcall::elevenlabs
