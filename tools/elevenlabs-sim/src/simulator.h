// The ElevenLabs Agents Platform simulator: the REST endpoints the services use (agents, phone
// numbers, Twilio and SIP-trunk outbound calls, conversations, audio, workspace webhooks),
// Twilio's call update for hang-ups, a call-lifecycle engine on a virtual clock, signed
// post-call webhooks, fault switches and a control endpoint (/__sim/...) for tests and demos.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <memory>
#include <queue>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "clock.h"
#include "scenarios.h"
#include "sim_config.h"
#include "webhook_sender.h"
#include "wire.h"

namespace outcall::sim {

class HttpServer;
class PathParams;

class Simulator {
 public:
  explicit Simulator(SimConfig config);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  // Listens on config.listen_address (port 0: any free port) and starts the call engine and the
  // webhook sender. Returns the bound port.
  absl::StatusOr<int> Start();
  void Stop();
  std::string base_url() const;

  VirtualClock& clock() { return clock_; }
  WebhookSender& webhooks() { return webhooks_; }

  // Routes one request (the HTTP server calls this; tests may too).
  Reply Handle(HttpRequest& req);

 private:
  struct Agent {
    std::string id, name;
    std::vector<std::string> tags;
    int64_t created_at = 0;
    std::set<std::string> overridable;  // "section.field" a client may override
    int max_duration_secs = 600;
    std::string first_message;
    std::string max_duration_message;
  };
  struct PhoneNumber {
    std::string id, number, label, provider, agent_id;
  };
  struct Conversation {
    std::string id, agent_id, agent_name, phone_number_id, provider, agent_number, to_number;
    std::string call_sid, stream_sid, user_id;
    boost::json::object client_data;  // as sent, echoed back
    Scenario scenario = Scenario::kConfirmed;
    std::string status = "initiated";  // initiated, in-progress, processing, done, failed
    std::string twilio_status = "ringing";
    absl::Time start;
    std::optional<absl::Time> accepted, ended;
    int duration_secs = 0;
    int max_duration_secs = 600;
    int ringing_timeout_secs = 60;
    std::optional<int64_t> cost;
    double cost_fiat = 0;
    std::string termination_reason;
    std::optional<std::pair<int, std::string>> error;  // metadata.error {code, reason}
    std::string override_error;
    boost::json::array transcript;
    boost::json::object pending_analysis;
    boost::json::value analysis;  // null until done
    bool has_audio = false;
    bool deleted = false;  // DELETE erased the record; the call itself goes on
    bool hung_up = false;
    int generation = 0;  // bumps invalidate scheduled steps
  };
  enum class Step { kRingEnd, kTalkEnd, kDone };
  struct Event {
    absl::Time at;
    uint64_t seq;
    std::string conversation_id;
    int generation;
    Step step;
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  struct OutboundFault {
    std::string kind;  // error | slow | lost_response | success_false
    int status = 503;
    std::string type, code, message;
    int retry_after = 0;
    bool legacy = false;
    bool place_call = false;
    int delay_ms = 0;
    std::string to_number;  // only calls to this number ("" = any)
    int remaining = 1;      // -1: until cleared
  };

  // simulator.cpp
  void SeedDirectory();
  const Agent* FindAgent(std::string_view id) const;
  const PhoneNumber* FindNumber(std::string_view id) const;

  // call_life.cpp: the call state machine on the virtual clock, and the webhooks it fires.
  void RunScheduler();
  void Schedule(const Conversation& c, absl::Duration after, Step step)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Advance(Conversation& c, Step step) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Answer(Conversation& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EndTalk(Conversation& c, bool hung_up) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Finish(Conversation& c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailInitiation(Conversation& c, std::string_view twilio_status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int LiveCalls() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // conversation_json.cpp
  boost::json::object ConversationJson(const Conversation& c) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  boost::json::object SummaryJson(const Conversation& c, bool with_summary) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AddExtraFields(boost::json::object& o) const;

  // routes.cpp: the route table; Control parses a /__sim body and routes by its own table.
  Reply Route(HttpRequest& req);
  Reply Control(HttpRequest& req, const PathParams& path);

  // elevenlabs_api.cpp
  std::optional<Reply> CheckApiKey(const HttpRequest& req) const;
  Reply ListAgents(const HttpRequest& req, const PathParams& path);
  Reply GetAgent(const HttpRequest& req, const PathParams& path);
  Reply ListPhoneNumbers(const HttpRequest& req, const PathParams& path);
  Reply OutboundCall(const HttpRequest& req, std::string_view provider);
  Reply ListConversations(const HttpRequest& req, const PathParams& path);
  Reply GetConversation(const HttpRequest& req, const PathParams& path);
  Reply DeleteConversation(const HttpRequest& req, const PathParams& path);
  Reply GetAudio(const HttpRequest& req, const PathParams& path);
  Reply WorkspaceWebhooks(const HttpRequest& req, const PathParams& path);

  // twilio_api.cpp
  Reply TwilioCall(const HttpRequest& req, const PathParams& path);
  boost::json::object TwilioCallJson(const Conversation& c) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // control_api.cpp: /__sim/...; body is the request's JSON object ({} for GET and DELETE).
  Reply SimHealth(const boost::json::object& body);
  Reply SimReset(const boost::json::object& body);
  Reply SimCounters(const boost::json::object& body);
  Reply SimScenarios(const boost::json::object& body);
  Reply SimSetScenarios(const boost::json::object& body);
  Reply SimFaults(const boost::json::object& body);
  Reply SimSetFaults(const boost::json::object& body);
  Reply SimClearFaults(const boost::json::object& body);
  Reply SimClock(const boost::json::object& body);
  Reply SimSetClock(const boost::json::object& body);
  Reply SimSettings(const boost::json::object& body);
  Reply SimSetSettings(const boost::json::object& body);
  Reply SimWebhooks(const boost::json::object& body);

  SimConfig config_;
  VirtualClock clock_;
  WebhookSender webhooks_;
  std::vector<Agent> agents_;         // fixed after construction
  std::vector<PhoneNumber> numbers_;  // fixed after construction

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, Conversation> conversations_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> by_call_sid_ ABSL_GUARDED_BY(mu_);
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  Scenario default_scenario_ ABSL_GUARDED_BY(mu_) = Scenario::kConfirmed;
  std::map<std::string, Scenario> number_scenarios_ ABSL_GUARDED_BY(mu_);
  std::vector<OutboundFault> outbound_faults_ ABSL_GUARDED_BY(mu_);
  int max_concurrent_calls_ ABSL_GUARDED_BY(mu_);
  std::string override_policy_ ABSL_GUARDED_BY(mu_);
  // Counters for the control endpoint.
  int64_t outbound_requests_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t calls_placed_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t hangups_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int64_t> dialled_by_number_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> dialled_by_correlation_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> requests_by_route_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int64_t> outbound_by_status_ ABSL_GUARDED_BY(mu_);

  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
  std::thread scheduler_;
};

}  // namespace outcall::sim
