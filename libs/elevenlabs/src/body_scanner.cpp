#include "outcall/elevenlabs/body_scanner.h"

#include <boost/json/basic_parser_impl.hpp>
#include <vector>

namespace outcall::elevenlabs {
namespace {

int Base64Value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

bool Base64StreamDecoder::Update(std::string_view in, std::string& out) {
  for (unsigned char c : in) {
    if (done_) return false;  // nothing may follow the padding
    if (c == '=') {
      // Padding only completes a quantum of 2 or 3 characters.
      if (quantum_ < 2) return false;
      ++padding_;
      if (quantum_ + padding_ == 4) done_ = true;
      continue;
    }
    if (padding_ != 0) return false;
    const int v = Base64Value(c);
    if (v < 0) return false;
    acc_ = (acc_ << 6) | static_cast<uint32_t>(v);
    bits_ += 6;
    quantum_ = (quantum_ + 1) % 4;
    if (bits_ >= 8) {
      bits_ -= 8;
      out.push_back(static_cast<char>((acc_ >> bits_) & 0xFF));
    }
  }
  return true;
}

bool Base64StreamDecoder::Finish(std::string& out) {
  if (padding_ > 0) return done_;  // padded: the quantum must be complete
  return quantum_ != 1;            // unpadded: 2 or 3 trailing characters are fine, 1 is not
}

// The SAX handler: tracks where in the document the parser is and captures what matters.
struct BodyScanner::Handler {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  enum class Field { kNone, kType, kTimestamp, kData, kConversationId, kAgentId, kAudio };

  Handler(BodyScanner* o, AudioSink s) : owner(o), sink(std::move(s)) {}

  BodyScanner* owner;
  AudioSink sink;
  // One entry per open container: is it an object, and the (truncated) key being read.
  struct Level {
    bool object;
    std::string key;
    bool key_too_long = false;
  };
  // Longer than every key the scanner looks for ("event_timestamp" and "conversation_id").
  static constexpr std::size_t kMaxKeyBytes = 64;
  std::vector<Level> stack;
  std::string string_value;
  bool string_too_long = false;
  Base64StreamDecoder base64;
  bool in_audio = false;  // inside the full_audio string (a part may be empty)
  std::string decoded;

  // The key of a level, or empty when it is not an object or its key is longer than any name
  // the scanner looks for (such a key never matches, however it arrived).
  static std::string_view KeyOf(const Level& l) {
    if (!l.object || l.key_too_long) return {};
    return l.key;
  }

  Field Current() const {
    if (stack.empty()) return Field::kNone;
    const std::string_view k = KeyOf(stack.back());
    if (k.empty()) return Field::kNone;
    if (stack.size() == 1) {
      if (k == "type") return Field::kType;
      if (k == "event_timestamp") return Field::kTimestamp;
      if (k == "data") return Field::kData;
    } else if (stack.size() == 2 && KeyOf(stack[0]) == "data") {
      if (k == "conversation_id") return Field::kConversationId;
      if (k == "agent_id") return Field::kAgentId;
      if (k == "full_audio") return Field::kAudio;
    }
    return Field::kNone;
  }

  // A body that is valid JSON but not an acceptable event. The parse goes on, so that a
  // syntax error anywhere in the body wins whatever the cut (a string's parts arrive before
  // the parser has seen all of it, and only when the body is cut inside it); nothing more is
  // captured or decoded.
  bool Fail(boost::json::error_code&, std::string_view why) {
    if (rejection.empty()) rejection = std::string(why);
    return true;
  }
  std::string rejection;

  bool on_document_begin(boost::json::error_code&) { return true; }
  bool on_document_end(boost::json::error_code&) { return true; }
  bool on_object_begin(boost::json::error_code&) {
    if (Current() == Field::kData) owner->envelope_.has_data_object = true;
    stack.push_back({true, {}});
    return true;
  }
  bool on_object_end(std::size_t, boost::json::error_code&) {
    stack.pop_back();
    return true;
  }
  bool on_array_begin(boost::json::error_code&) {
    stack.push_back({false, {}});
    return true;
  }
  bool on_array_end(std::size_t, boost::json::error_code&) {
    stack.pop_back();
    return true;
  }
  // `n` is the size of the key so far, `s` included: the verdict depends on n alone, never on
  // where the network cut the key.
  bool on_key_part(boost::json::string_view s, std::size_t n, boost::json::error_code&) {
    Level& l = stack.back();
    if (n == s.size()) {
      l.key.clear();
      l.key_too_long = false;
    }
    if (l.key_too_long) return true;
    if (n > kMaxKeyBytes) {
      l.key_too_long = true;
      l.key.clear();
    } else {
      l.key.append(s.data(), s.size());
    }
    return true;
  }
  bool on_key(boost::json::string_view s, std::size_t n, boost::json::error_code& ec) {
    return on_key_part(s, n, ec);
  }
  bool on_string_part(boost::json::string_view s, std::size_t n, boost::json::error_code& ec) {
    if (!rejection.empty()) return true;
    const Field f = Current();
    if (f == Field::kAudio) {
      if (!in_audio) {
        // A second full_audio would continue the first one's base64 state: refuse it.
        if (owner->saw_audio_) return Fail(ec, "full_audio appears twice");
        owner->saw_audio_ = true;
        in_audio = true;
      }
      decoded.clear();
      if (!base64.Update({s.data(), s.size()}, decoded)) return Fail(ec, "full_audio is not base64");
      if (!decoded.empty()) {
        owner->audio_bytes_ += static_cast<int64_t>(decoded.size());
        if (sink) sink(decoded);
      }
      return true;
    }
    if (f == Field::kType || f == Field::kConversationId || f == Field::kAgentId ||
        f == Field::kTimestamp) {
      if (n == s.size()) {
        string_value.clear();
        string_too_long = false;
      }
      if (n > kMaxFieldBytes) {
        string_too_long = true;
        string_value.clear();
      } else if (!string_too_long) {
        string_value.append(s.data(), s.size());
      }
    }
    return true;
  }
  bool on_string(boost::json::string_view s, std::size_t n, boost::json::error_code& ec) {
    if (!rejection.empty()) return true;
    on_string_part(s, n, ec);
    if (!rejection.empty()) return true;
    const Field f = Current();
    if (f == Field::kAudio) {
      in_audio = false;
      decoded.clear();
      if (!base64.Finish(decoded)) return Fail(ec, "full_audio is not base64");
      return true;
    }
    if (f == Field::kNone || f == Field::kData) return true;
    if (string_too_long) return Fail(ec, "envelope field too long");
    Envelope& e = owner->envelope_;
    switch (f) {
      case Field::kType: e.type = string_value; break;
      case Field::kConversationId: e.conversation_id = string_value; break;
      case Field::kAgentId: e.agent_id = string_value; break;
      case Field::kTimestamp: {
        // Documented as a number, sometimes as a string: accept digits.
        int64_t v = 0;
        bool ok = !string_value.empty() && string_value.size() <= 18;
        for (char c : ok ? std::string_view(string_value) : std::string_view()) {
          if (c < '0' || c > '9') {
            ok = false;
            break;
          }
          v = v * 10 + (c - '0');
        }
        if (ok) e.event_timestamp = v;
        break;
      }
      default: break;
    }
    return true;
  }
  bool on_number_part(boost::json::string_view, boost::json::error_code&) { return true; }
  bool on_int64(int64_t v, boost::json::string_view, boost::json::error_code&) {
    if (Current() == Field::kTimestamp) owner->envelope_.event_timestamp = v;
    return true;
  }
  bool on_uint64(uint64_t v, boost::json::string_view, boost::json::error_code&) { return true; }
  bool on_double(double v, boost::json::string_view, boost::json::error_code&) {
    if (Current() == Field::kTimestamp && v >= 0 && v < 1e15) {
      owner->envelope_.event_timestamp = static_cast<int64_t>(v);
    }
    return true;
  }
  bool on_bool(bool, boost::json::error_code&) { return true; }
  bool on_null(boost::json::error_code&) { return true; }
  bool on_comment_part(boost::json::string_view, boost::json::error_code&) { return true; }
  bool on_comment(boost::json::string_view, boost::json::error_code&) { return true; }
};

struct BodyScanner::Impl {
  explicit Impl(BodyScanner* owner, AudioSink sink)
      : parser(boost::json::parse_options{.max_depth = 64}, owner, std::move(sink)) {}
  boost::json::basic_parser<Handler> parser;
};

BodyScanner::BodyScanner(AudioSink sink)
    : impl_(std::make_unique<Impl>(this, std::move(sink))) {}
BodyScanner::~BodyScanner() = default;

void BodyScanner::Fail(std::string_view why) {
  if (error_.empty()) error_ = std::string(why);
}

void BodyScanner::Write(std::string_view chunk) {
  if (failed() || chunk.empty()) return;
  boost::json::error_code ec;
  const size_t used = impl_->parser.write_some(true, chunk.data(), chunk.size(), ec);
  // Bytes left over after a complete document are trailing garbage.
  if (ec || used < chunk.size()) Fail("malformed JSON");
}

bool BodyScanner::Finish() {
  if (!failed()) {
    boost::json::error_code ec;
    impl_->parser.write_some(false, nullptr, 0, ec);
    if (ec || !impl_->parser.done()) Fail("malformed JSON");
  }
  // Syntax first, then what the handler refused: the order never depends on the cut.
  const std::string& rejection = impl_->parser.handler().rejection;
  if (!failed() && !rejection.empty()) Fail(rejection);
  return !failed();
}

}  // namespace outcall::elevenlabs
