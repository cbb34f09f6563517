// Scripted call outcomes: how long each phase lasts and what was said (in Spanish), with the
// post-call analysis ElevenLabs would produce. A scenario is chosen by the destination number's
// suffix (+57 300 555 000N), by a per-number or default setting on the control endpoint.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace outcall::sim {

enum class Scenario {
  kConfirmed,   // answered, appointment confirmed
  kReschedule,  // answered, patient asks to move the appointment
  kOptOut,      // answered, patient asks not to be called again
  kVoicemail,   // answered by voicemail: a short message is left, no failure webhook
  kBusy,        // call_initiation_failure "busy"
  kNoAnswer,    // rings until the ringing timeout: call_initiation_failure "no-answer"
  kFailed,      // the connection fails: conversation failed with metadata.error
  kLongCall,    // the patient keeps talking until the maximum duration cuts the call
};

struct ScenarioInfo {
  Scenario scenario;
  std::string_view name;
  std::string_view description;
  char suffix_digit;  // numbers ending in "555000<digit>" select it
};

const std::vector<ScenarioInfo>& AllScenarios();
std::string_view ScenarioName(Scenario s);
std::optional<Scenario> ScenarioFromName(std::string_view name);
// The scenario a "+...555000N" number selects, if any.
std::optional<Scenario> ScenarioForNumber(std::string_view to_number);

bool IsAnswered(Scenario s);
// Simulated seconds from dialling until the call is answered or fails.
int RingSeconds(Scenario s, int ringing_timeout_secs);
// Simulated seconds of conversation before the call ends by itself (capped by max_duration).
int TalkSeconds(Scenario s, int max_duration_secs);

struct CallContent {
  boost::json::array transcript;  // TranscriptItem[] up to the call's actual end
  boost::json::object analysis;   // call_successful, transcript_summary, data_collection_results...
  std::string termination_reason;  // free text, as ElevenLabs writes it
};

// What was said in an answered call that lasted `duration_secs` (shorter than the scenario's
// own length when the call was hung up). `dynamic_variables` fills the patient's details.
CallContent BuildContent(Scenario s, const boost::json::object& dynamic_variables,
                         int duration_secs, bool hung_up, std::string_view agent_id,
                         std::string_view max_duration_message);

}  // namespace outcall::sim
