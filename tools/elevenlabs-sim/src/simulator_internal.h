// Helpers the simulator's pieces share (simulator.cpp, routes.cpp, elevenlabs_api.cpp,
// twilio_api.cpp, control_api.cpp, call_life.cpp, conversation_json.cpp); not its interface.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <string>
#include <string_view>

#include "absl/time/time.h"

namespace outcall::sim {

// o[key], or null when absent.
const boost::json::value* Field(const boost::json::object& o, std::string_view key);

bool IsE164(std::string_view s);

// "Sat, 01 Mar 2025 00:00:00 +0000", as Twilio writes times.
std::string Rfc2822(absl::Time t);

// The body as a JSON object; on failure {} and error set ("not an object" for valid JSON that is
// not an object).
boost::json::object ParseJsonObject(std::string_view body, std::string& error);

}  // namespace outcall::sim
