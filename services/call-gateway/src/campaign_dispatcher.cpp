#include "campaign_dispatcher.h"

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <set>

#include "outcall/common/crypto.h"
#include "outcall/common/strings.h"

namespace outcall::call_gateway {

using common::Cat;

namespace {

std::string DefaultReplicaId() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return Cat(host[0] ? host : "call-gateway", ":", getpid(), ":", common::RandomHex(4));
}

// The recipient's variables as text, for the template ({{name}}).
std::map<std::string, std::string> TextVariables(const google::protobuf::Struct& vars) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : vars.fields()) {
    if (v.has_string_value()) {
      out[k] = v.string_value();
    } else if (v.has_bool_value()) {
      out[k] = v.bool_value() ? "true" : "false";
    } else if (v.has_number_value()) {
      const double d = v.number_value();
      out[k] = d == static_cast<double>(static_cast<int64_t>(d))
                   ? std::to_string(static_cast<int64_t>(d))
                   : std::to_string(d);
    }
  }
  return out;
}

}  // namespace

CampaignDispatcher::CampaignDispatcher(DispatcherOptions options, CampaignStore& store,
                                       CallPlacer& placer, ContactPolicy& policy,
                                       const common::Clock& clock, GatewayMetrics& metrics)
    : options_(std::move(options)),
      store_(store),
      placer_(placer),
      policy_(policy),
      clock_(clock),
      metrics_(metrics),
      workers_(std::max(1, options_.dial_workers), std::max(1, options_.limits.max_claim) * 4) {
  if (options_.replica_id.empty()) options_.replica_id = DefaultReplicaId();
}

CampaignDispatcher::~CampaignDispatcher() { Stop(); }

void CampaignDispatcher::Start() {
  loop_.Start(options_.tick, [this] {
    if (auto s = Tick(); !s.ok()) {
      spdlog::warn("campaign dispatcher tick failed: {}", common::ToStd(s.message()));
    }
  });
}

void CampaignDispatcher::Stop() { loop_.Stop(); }

void CampaignDispatcher::WaitIdle() {
  absl::MutexLock lock(&mu_);
  const auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return in_flight_ == 0; };
  mu_.Await(absl::Condition(&idle));
}

absl::Status CampaignDispatcher::Tick() {
  const absl::Time now = clock_.Now();
  auto changed = store_.AdvanceCampaigns(now);
  if (!changed.ok()) return changed.status();
  for (const std::string& c : *changed) spdlog::info("campaign {} changed state", c);
  auto recovered = store_.RecoverLeases(now);
  if (!recovered.ok()) return recovered.status();
  if (*recovered > 0) {
    spdlog::warn("campaign dispatcher recovered {} attempts from expired leases", *recovered);
    metrics_.Campaign("lease_recovered", *recovered);
  }
  if (auto s = SettleEnded(now); !s.ok()) return s;
  {
    absl::MutexLock lock(&mu_);
    if (now < hold_until_) return absl::OkStatus();  // back-pressure: no claim yet
  }
  auto running = store_.RunningCampaigns();
  if (!running.ok()) return running.status();
  for (int64_t campaign_row : *running) {
    auto claimed = store_.Claim(campaign_row, options_.replica_id, options_.limits, now);
    if (!claimed.ok()) return claimed.status();
    for (ClaimedAttempt& a : *claimed) {
      {
        absl::MutexLock lock(&mu_);
        ++in_flight_;
      }
      const bool queued = workers_.TrySubmit([this, a] {
        Dial(a);
        absl::MutexLock lock(&mu_);
        --in_flight_;
      });
      if (!queued) {
        {
          absl::MutexLock lock(&mu_);
          --in_flight_;
        }
        (void)store_.Unclaim(a.recipient_id, a.attempt_no, options_.replica_id, now,
                             "the dispatcher's workers were full");
      }
    }
  }
  return absl::OkStatus();
}

void CampaignDispatcher::BackPressure(absl::Time now) {
  absl::MutexLock lock(&mu_);
  // The dials of one claim meet the limit together: they make one hold, not one each. A 429
  // after a hold ended (no call was taken in between) doubles the next one.
  if (now < hold_until_) return;
  hold_ = hold_ == absl::ZeroDuration() ? options_.back_pressure_min
                                        : std::min(hold_ * 2, options_.back_pressure_max);
  hold_until_ = now + hold_;
}

void CampaignDispatcher::Dial(const ClaimedAttempt& a) {
  const std::string& owner = options_.replica_id;
  auto ineligible = [&](const std::string& outcome, const std::string& rule,
                        const std::string& detail) {
    AttemptSettlement s;
    s.state = outcome == "opt_out" ? "opted_out" : "ineligible";
    s.outcome = outcome;
    s.decision_rule = rule;
    s.detail = detail;
    auto done = store_.Settle(a.recipient_id, a.attempt_no, "dialing", owner, s, clock_.Now());
    if (!done.ok()) {
      spdlog::warn("campaign recipient {} not settled: {}", a.recipient_id,
                   common::ToStd(done.status().message()));
    }
    metrics_.Campaign(s.state, 1);
  };

  AttemptDial d;
  d.principal = Cat("campaign:", a.campaign_uuid);
  d.attempt = {a.recipient_id, a.attempt_no,
               campaign::AttemptCallId(a.campaign_uuid, a.recipient_id, a.attempt_no)};
  d.agent_id = a.agent_id;
  d.purpose = a.purpose;
  d.phone_e164 = a.phone_e164;
  d.patient_name = a.patient_name;
  d.patient_id = a.patient_id;
  d.appointment_id = a.appointment_id;
  d.profile = a.policy_profile;
  d.metadata_json = Cat(R"({"campaign_id":")", a.campaign_uuid, R"(","recipient_id":)",
                        a.recipient_id, R"(,"attempt":)", a.attempt_no, "}");
  google::protobuf::Struct own, tmpl;
  if (!google::protobuf::util::JsonStringToMessage(a.variables_json, &own).ok() ||
      !google::protobuf::util::JsonStringToMessage(a.variables_template_json, &tmpl).ok()) {
    ineligible("invalid", "", "the recipient's variables or the template are not readable");
    return;
  }
  std::map<std::string, std::string> vars = TextVariables(own);
  if (!a.patient_name.empty()) vars["patient_name"] = a.patient_name;
  if (a.patient_id) vars["patient_id"] = std::to_string(*a.patient_id);
  if (a.appointment_id) vars["appointment_id"] = std::to_string(*a.appointment_id);
  if (a.appointment_at) {
    vars["appointment_time"] = absl::FormatTime("%Y-%m-%d %H:%M", *a.appointment_at, BogotaZone());
  }
  auto rendered = campaign::Render(tmpl, vars);
  if (!rendered.ok()) {
    ineligible("invalid", "", std::string(rendered.status().message()));
    return;
  }
  for (auto& [k, v] : *rendered) (*d.variables.mutable_fields())[k] = v;
  for (const auto& [k, v] : own.fields()) (*d.variables.mutable_fields())[k] = v;

  const AttemptPlacement p = placer_.PlaceAttempt(d);
  const absl::Time now = clock_.Now();
  using Kind = AttemptPlacement::Kind;
  switch (p.kind) {
    case Kind::kPlaced: {
      {
        absl::MutexLock lock(&mu_);
        hold_ = absl::ZeroDuration();  // ElevenLabs took a call: the back-pressure is over
      }
      metrics_.Campaign("dialled", 1);
      if (auto s = store_.MarkInCall(a.recipient_id, a.attempt_no); !s.ok()) {
        // The lease runs out and RecoverLeases finds the attempt's call: in_call then.
        spdlog::warn("campaign recipient {} attempt {} placed but not marked in_call: {}",
                     a.recipient_id, a.attempt_no, common::ToStd(s.message()));
      }
      return;
    }
    case Kind::kBackPressure:
      BackPressure(now);
      metrics_.Campaign("back_pressure", 1);
      (void)store_.Unclaim(a.recipient_id, a.attempt_no, owner, now + options_.back_pressure_min,
                           "ElevenLabs' concurrent-call limit was reached (429); retried");
      return;
    case Kind::kRetryLater:
      metrics_.Campaign("retry_later", 1);
      (void)store_.Unclaim(a.recipient_id, a.attempt_no, owner, now + options_.retry_later,
                           std::string(p.status.message()));
      return;
    case Kind::kRefused:
      if (p.rule == "opt_out") {
        ineligible("opt_out", p.rule, "the patient asked not to be called");
      } else if (p.next_allowed_at) {
        // A time-based rule: the attempt waits for the next allowed time; it was not made.
        const absl::Time at = NextAllowed(*p.next_allowed_at, std::nullopt,
                                          {a.patient_id, a.phone_e164}, a.purpose,
                                          a.policy_profile);
        metrics_.Campaign("policy_deferred", 1);
        (void)store_.Unclaim(a.recipient_id, a.attempt_no, owner, at,
                             Cat("contact policy (", p.rule, "): waits for the next allowed time"));
      } else {
        ineligible("ineligible", p.rule, std::string(p.status.message()));
      }
      return;
    case Kind::kInvalid:
      ineligible("invalid", "", std::string(p.status.message()));
      return;
  }
}

absl::Time CampaignDispatcher::NextAllowed(absl::Time t,
                                           const std::optional<campaign::DailyWindow>& window,
                                           const PolicySubject& subject,
                                           const std::string& purpose,
                                           const std::optional<ProfileRef>& profile) {
  auto p = PurposeFromRequest(purpose);
  for (int i = 0; i < 4; ++i) {
    t = campaign::IntoWindow(t, window, BogotaZone());
    if (!p.ok()) return t;
    auto d = policy_.Decide(subject, *p, policy::Channel::kVoice, t,
                            profile ? &*profile : nullptr);
    if (!d.ok() || d->decision.allowed || !d->decision.next_allowed_at) return t;
    if (*d->decision.next_allowed_at <= t) return t;
    t = *d->decision.next_allowed_at;
  }
  return campaign::IntoWindow(t, window, BogotaZone());
}

AttemptSettlement CampaignDispatcher::Plan(const EndedAttempt& e, absl::Time now) {
  const campaign::AttemptResult r = campaign::Classify(e.end);
  AttemptSettlement s;
  s.attempt_outcome = r.outcome;
  s.failure = r.failure;
  s.call_row = e.call_row;
  s.review = r.review;
  if (r.outcome == "opt_out") {
    s.state = "opted_out";
    s.outcome = "opt_out";
    return s;
  }
  const auto delay = campaign::RetryDelay(e.retry, r, e.attempt_no, e.attempt_limit);
  if (!delay) {
    const bool retryable = !r.refusal && e.retry.retry_on.count(r.outcome) > 0;
    s.state = retryable ? "exhausted" : "done";
    s.outcome = r.outcome;
    return s;
  }
  if (e.campaign_state == "canceled" || e.campaign_state == "expired") {
    s.state = e.campaign_state;
    s.outcome = r.outcome;
    return s;
  }
  const absl::Time at = NextAllowed(now + *delay, e.window, {e.patient_id, e.phone_e164},
                                    e.purpose, e.policy_profile);
  if (e.ends_at && at >= *e.ends_at) {
    s.state = "expired";
    s.outcome = r.outcome;
    s.detail =
        "the next attempt would fall after the campaign's end or the recipient's call-by time";
    return s;
  }
  s.state = "scheduled";
  s.next_attempt_at = at;
  return s;
}

absl::Status CampaignDispatcher::SettleEnded(absl::Time now) {
  auto ended = store_.EndedAttempts(options_.settle_batch);
  if (!ended.ok()) return ended.status();
  std::set<int64_t> with_failures;
  for (const EndedAttempt& e : *ended) {
    const AttemptSettlement s = Plan(e, now);
    auto settled = store_.Settle(e.recipient_id, e.attempt_no, "in_call", "", s, now);
    if (!settled.ok()) return settled.status();
    if (!*settled) continue;  // another replica settled it
    metrics_.Campaign(Cat("attempt_", s.attempt_outcome), 1);
    if (s.failure) with_failures.insert(e.campaign_row);
  }
  for (int64_t campaign_row : with_failures) {
    auto rule = store_.Breaker(campaign_row);
    if (!rule.ok()) return rule.status();
    auto latest = store_.LatestFailures(campaign_row, rule->window);
    if (!latest.ok()) return latest.status();
    if (auto why = campaign::BreakerTrips(*latest, *rule)) {
      auto paused = store_.AutoPause(campaign_row, *why);
      if (!paused.ok()) return paused.status();
      if (*paused) {
        metrics_.Campaign("auto_paused", 1);
        spdlog::error("campaign row {} auto-paused: {}", campaign_row, *why);
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace outcall::call_gateway
