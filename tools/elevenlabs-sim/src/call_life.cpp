// A call's life on the virtual clock: ringing, answered (or busy, unanswered, failed), talking,
// hung up or ended, processing, done; the post-call and initiation-failure webhooks it sends.
#include <algorithm>
#include <boost/json.hpp>
#include <cmath>

#include "mp3.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"
#include "simulator.h"
#include "simulator_internal.h"

namespace outcall::sim {

namespace json = boost::json;

namespace {

constexpr int kAnalysisSeconds = 4;  // processing -> done

}  // namespace

void Simulator::RunScheduler() {
  absl::MutexLock lock(&mu_);
  while (running_) {
    if (events_.empty()) {
      cv_.WaitWithTimeout(&mu_, absl::Seconds(1));
      continue;
    }
    const Event next = events_.top();
    const absl::Duration wait = clock_.RealDelayUntil(next.at);
    if (wait > absl::ZeroDuration()) {
      cv_.WaitWithTimeout(&mu_, std::min(wait, absl::Seconds(1)));
      continue;
    }
    events_.pop();
    auto it = conversations_.find(next.conversation_id);
    if (it == conversations_.end() || it->second.generation != next.generation) continue;
    Advance(it->second, next.step);
  }
}

void Simulator::Schedule(const Conversation& c, absl::Duration after, Step step) {
  events_.push(Event{clock_.Now() + after, next_seq_++, c.id, c.generation, step});
  cv_.SignalAll();
}

void Simulator::Advance(Conversation& c, Step step) {
  switch (step) {
    case Step::kRingEnd:
      if (!c.override_error.empty() || !IsAnswered(c.scenario)) {
        FailInitiation(c, c.scenario == Scenario::kBusy       ? "busy"
                          : c.scenario == Scenario::kNoAnswer ? "no-answer"
                                                              : "failed");
      } else {
        Answer(c);
      }
      break;
    case Step::kTalkEnd:
      EndTalk(c, /*hung_up=*/false);
      break;
    case Step::kDone:
      Finish(c);
      break;
  }
}

void Simulator::Answer(Conversation& c) {
  c.status = "in-progress";
  c.twilio_status = "in-progress";
  c.accepted = clock_.Now();
  Schedule(c, absl::Seconds(TalkSeconds(c.scenario, c.max_duration_secs)), Step::kTalkEnd);
}

void Simulator::EndTalk(Conversation& c, bool hung_up) {
  const absl::Time now = clock_.Now();
  c.status = "processing";
  c.twilio_status = "completed";
  c.ended = now;
  c.hung_up = hung_up;
  c.duration_secs = static_cast<int>(absl::ToInt64Seconds(now - c.accepted.value_or(now)));
  const Agent* agent = FindAgent(c.agent_id);
  json::object vars;
  if (const json::value* dv = Field(c.client_data, "dynamic_variables"); dv && dv->is_object()) {
    vars = dv->as_object();
  }
  CallContent content = BuildContent(c.scenario, vars, c.duration_secs, hung_up, c.agent_id,
                                     agent ? agent->max_duration_message : "");
  c.transcript = std::move(content.transcript);
  c.pending_analysis = std::move(content.analysis);
  c.termination_reason = std::move(content.termination_reason);
  ++c.generation;  // a hang-up cancels the scheduled end
  Schedule(c, absl::Seconds(kAnalysisSeconds), Step::kDone);
}

void Simulator::Finish(Conversation& c) {
  c.status = "done";
  c.analysis = std::move(c.pending_analysis);
  c.has_audio = true;
  c.cost = 30 + int64_t{c.duration_secs} * 9;
  c.cost_fiat = std::round(c.duration_secs / 60.0 * 0.10 * 10000.0) / 10000.0;
  const absl::Time now = clock_.Now();
  webhooks_.Send("post_call_transcription", c.id, ConversationJson(c), now);
  webhooks_.Send("post_call_audio", c.id,
                 json::object{{"agent_id", c.agent_id},
                              {"conversation_id", c.id},
                              {"full_audio", Base64Encode(SilentMp3(c.duration_secs))}},
                 now);
  spdlog::info("simulated call finished: conversation {} scenario {} duration {}s", c.id,
               ScenarioName(c.scenario), c.duration_secs);
}

void Simulator::FailInitiation(Conversation& c, std::string_view twilio_status) {
  const absl::Time now = clock_.Now();
  c.status = "failed";
  c.twilio_status = std::string(twilio_status);
  c.ended = now;
  ++c.generation;
  std::string reason = "unknown";
  int sip_code = 500;
  std::string sip_reason = "Server Internal Error";
  if (twilio_status == "busy") {
    reason = "busy";
    sip_code = 486;
    sip_reason = "Busy Here";
  } else if (twilio_status == "no-answer") {
    reason = "no-answer";
    sip_code = 480;
    sip_reason = "Temporarily Unavailable";
  } else if (twilio_status == "canceled") {
    sip_code = 487;
    sip_reason = "Request Terminated";
  }
  if (!c.override_error.empty()) {
    c.error = std::make_pair(1008, c.override_error);
  } else if (twilio_status == "failed") {
    c.error = std::make_pair(1011, std::string("Call could not be connected: SIP 500"));
  }
  c.termination_reason = reason == "unknown" ? "Call failed" : common::Cat("Call ", reason);
  const PhoneNumber* number = FindNumber(c.phone_number_id);
  json::object metadata;
  if (c.provider == "twilio") {
    metadata =
        json::object{{"type", "twilio"},
                     {"body", json::object{{"AccountSid", config_.twilio_account_sid.empty()
                                                              ? "ACsimulated00000000000000000000000"
                                                              : config_.twilio_account_sid},
                                           {"ApiVersion", "2010-04-01"},
                                           {"CallSid", c.call_sid},
                                           {"CallStatus", twilio_status},
                                           {"CallbackSource", "call-progress-events"},
                                           {"Called", c.to_number},
                                           {"Caller", number ? number->number : ""},
                                           {"Direction", "outbound-api"},
                                           {"From", number ? number->number : ""},
                                           {"To", c.to_number},
                                           {"ToCountry", "CO"},
                                           {"FromCountry", "CO"},
                                           {"SipResponseCode", std::to_string(sip_code)},
                                           {"SequenceNumber", "0"},
                                           {"Timestamp", Rfc2822(now)},
                                           {"Duration", "0"},
                                           {"CallDuration", "0"}}}};
  } else {
    metadata = json::object{
        {"type", "sip"},
        {"body",
         json::object{{"from_number", number ? number->number : ""},
                      {"to_number", c.to_number},
                      {"sip_status_code", sip_code},
                      {"sip_status", sip_reason},
                      {"error_reason", common::Cat("INVITE failed: sip status: ", sip_code, ": ",
                                                   sip_reason, " (SIP ", sip_code, ")")},
                      {"call_sid", c.call_sid}}}};
  }
  webhooks_.Send("call_initiation_failure", c.id,
                 json::object{{"agent_id", c.agent_id},
                              {"conversation_id", c.id},
                              {"failure_reason", reason},
                              {"metadata", std::move(metadata)}},
                 now);
  spdlog::info("simulated call failed to connect: conversation {} reason {}", c.id, reason);
}

int Simulator::LiveCalls() const {
  int n = 0;
  for (const auto& [id, c] : conversations_) {
    if (c.status == "initiated" || c.status == "in-progress") ++n;
  }
  return n;
}
}  // namespace outcall::sim
