// A real, minimal MP3 stream: MPEG-1 Layer III frames (32 kHz, 32 kbit/s, mono) whose side
// information is empty, which every decoder plays as silence. 144 bytes per 36 ms frame, so a
// call's recording is about 4 KB per second, and any size can be produced for large-body tests.
#pragma once

#include <cstddef>
#include <string>

namespace outcall::sim {

inline constexpr size_t kMp3FrameBytes = 144;
inline constexpr double kMp3FrameSeconds = 1152.0 / 32000.0;

// At least one frame; `seconds` of audio rounded up to whole frames.
std::string SilentMp3(double seconds);
// Whole frames adding up to at least `bytes`.
std::string SilentMp3OfSize(size_t bytes);

}  // namespace outcall::sim
