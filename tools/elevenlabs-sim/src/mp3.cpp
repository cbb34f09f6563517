#include "mp3.h"

#include <algorithm>
#include <cmath>

namespace outcall::sim {
namespace {

std::string Frames(size_t count) {
  // Header: sync 0xFFF, MPEG-1, Layer III, no CRC (FF FB); bitrate index 1 (32 kbit/s), sample
  // rate index 2 (32 kHz), no padding (18); mono, no emphasis (C0). Frame length
  // 144 * 32000 / 32000 = 144 bytes. The rest (side info and main data) is zero: no granule data.
  std::string frame(kMp3FrameBytes, '\0');
  frame[0] = static_cast<char>(0xFF);
  frame[1] = static_cast<char>(0xFB);
  frame[2] = static_cast<char>(0x18);
  frame[3] = static_cast<char>(0xC0);
  std::string out;
  out.reserve(count * kMp3FrameBytes);
  for (size_t i = 0; i < count; ++i) out += frame;
  return out;
}

}  // namespace

std::string SilentMp3(double seconds) {
  const double frames = std::ceil(std::max(seconds, 0.0) / kMp3FrameSeconds);
  return Frames(std::max<size_t>(1, static_cast<size_t>(frames)));
}

std::string SilentMp3OfSize(size_t bytes) {
  return Frames(std::max<size_t>(1, (bytes + kMp3FrameBytes - 1) / kMp3FrameBytes));
}

}  // namespace outcall::sim
