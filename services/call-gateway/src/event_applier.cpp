#include "event_applier.h"

#include <spdlog/spdlog.h>

#include <map>

#include "outcall/common/strings.h"

namespace outcall::call_gateway {

EventApplier::EventApplier(CallStore& store, GatewayMetrics& metrics, CallEventHub& hub)
    : store_(store), metrics_(metrics), hub_(hub) {}

absl::Status EventApplier::Apply(const v1::ApplyEventsRequest& request,
                                 v1::ApplyEventsResponse* resp) {
  const v1::ApplyEventsRequest* req = &request;
  std::vector<v1::ApplyOutcome> outcomes;
  std::vector<StatusChange> changes;
  std::map<int, std::string> rejected;
  const absl::Status applied = store_.ApplyEvents(req->events(), outcomes, changes, rejected);
  hub_.Publish(changes);
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const auto& ev = req->events(static_cast<int>(i));
    metrics_.Event(v1::EventType_Name(ev.type()), v1::ApplyOutcome_Name(outcomes[i]));
    auto* r = resp->add_results();
    r->set_inbox_id(ev.inbox_id());
    r->set_outcome(outcomes[i]);
    if (auto it = rejected.find(static_cast<int>(i)); it != rejected.end()) {
      r->set_reason(it->second);
      spdlog::warn("event {} ({}, conversation {}) cannot be applied: {}", ev.inbox_id(),
                   v1::EventType_Name(ev.type()), ev.conversation_id(), it->second);
    }
  }
  // Events are applied in order: the first that could not be ends the answer, and the publisher
  // retries from there. Those before it stay acknowledged.
  if (!applied.ok() && outcomes.empty()) return applied;
  if (!applied.ok()) {
    spdlog::warn("event {} not applied, {} before it were: {}",
                 req->events(static_cast<int>(outcomes.size())).inbox_id(), outcomes.size(),
                 common::ToStd(applied.message()));
  }
  return absl::OkStatus();
}

}  // namespace outcall::call_gateway
