// Twilio's call resource: GET and POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json
// (Status=completed|canceled hangs up), with HTTP Basic auth and Twilio's error bodies.
#include <boost/json.hpp>

#include "outcall/common/crypto.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"
#include "routes.h"
#include "simulator.h"
#include "simulator_internal.h"

namespace outcall::sim {

namespace json = boost::json;

json::object Simulator::TwilioCallJson(const Conversation& c) const {
  const PhoneNumber* number = FindNumber(c.phone_number_id);
  const std::string uri = common::Cat("/2010-04-01/Accounts/", config_.twilio_account_sid,
                                      "/Calls/", c.call_sid, ".json");
  const int duration = c.ended && c.accepted ? c.duration_secs : 0;
  return json::object{
      {"sid", c.call_sid},
      {"account_sid", config_.twilio_account_sid},
      {"to", c.to_number},
      {"from", number ? number->number : ""},
      {"status", c.twilio_status},
      {"direction", "outbound-api"},
      {"date_created", Rfc2822(c.start)},
      {"date_updated", Rfc2822(clock_.Now())},
      {"start_time", c.accepted ? json::value(Rfc2822(*c.accepted)) : json::value(nullptr)},
      {"end_time", c.ended ? json::value(Rfc2822(*c.ended)) : json::value(nullptr)},
      {"duration", c.ended ? json::value(std::to_string(duration)) : json::value(nullptr)},
      {"price", nullptr},
      {"price_unit", "USD"},
      {"answered_by", nullptr},
      {"parent_call_sid", nullptr},
      {"phone_number_sid", nullptr},
      {"queue_time", "0"},
      {"api_version", "2010-04-01"},
      {"uri", uri},
  };
}

Reply Simulator::TwilioCall(const HttpRequest& req, const PathParams& path) {
  const std::string_view account_sid = path.Get("AccountSid");
  const std::string_view call_sid = path.Get("CallSid");
  bool authorised = false;
  const std::string_view auth = req.Header("authorization");
  if (!config_.twilio_account_sid.empty() && auth.starts_with("Basic ")) {
    const std::string expected = Base64Encode(
        common::Cat(config_.twilio_account_sid, ":", config_.twilio_auth_token.Reveal()));
    authorised = common::ConstantTimeEquals(auth.substr(6), expected) &&
                 account_sid == config_.twilio_account_sid;
  }
  if (!authorised) return TwilioError(401, 20003, "Authenticate");
  const std::string uri =
      common::Cat("/2010-04-01/Accounts/", account_sid, "/Calls/", call_sid, ".json");
  absl::MutexLock lock(&mu_);
  auto sid = by_call_sid_.find(std::string(call_sid));
  auto it = sid == by_call_sid_.end() ? conversations_.end() : conversations_.find(sid->second);
  if (it == conversations_.end() || it->second.provider != "twilio") {
    // Twilio does not know SIP-trunk calls either.
    return TwilioError(404, 20404, common::Cat("The requested resource ", uri, " was not found"));
  }
  Conversation& c = it->second;
  if (req.method == "GET") return JsonReply(200, TwilioCallJson(c));
  std::string status;
  std::vector<std::pair<std::string, std::string>> form;
  if (!ParseTarget(common::Cat("/?", req.body), status, form)) {
    return TwilioError(400, 20001, "The request body is not a valid form (x-www-form-urlencoded)");
  }
  status.clear();
  for (const auto& [k, v] : form) {
    if (k == "Status")
      status = v;
    else if (k == "Url" || k == "Twiml" || k == "Method") {
      return TwilioError(400, 20001,
                         common::Cat("The simulator only supports Status updates, not ", k));
    }
  }
  if (status != "completed" && status != "canceled") {
    return TwilioError(400, 20001, "Status must be completed or canceled");
  }
  ++hangups_;
  if (c.status == "initiated") {
    FailInitiation(c, "canceled");  // both values end a call that is still ringing
  } else if (c.status == "in-progress" && status == "completed") {
    EndTalk(c, /*hung_up=*/true);
  }
  // canceled on an answered call, or any update of a finished call: no change (as Twilio).
  spdlog::info("twilio call update Status={} for conversation {}: now {}", status, c.id,
               c.twilio_status);
  return JsonReply(200, TwilioCallJson(c));
}
}  // namespace outcall::sim
