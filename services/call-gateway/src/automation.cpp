#include "automation.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "call_repository.h"
#include "campaign_rules.h"
#include "contact_policy.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"

namespace outcall::call_gateway {

using common::Cat;
using google::protobuf::util::TimeUtil;

namespace {

constexpr const char* kEnrollable[] = {"scheduled", "confirmed", "reschedule_requested"};
constexpr int kMaxLeadMinutes = 30 * 24 * 60;

google::protobuf::Timestamp Ts(absl::Time t) {
  return TimeUtil::MicrosecondsToTimestamp(absl::ToUnixMicros(t));
}

}  // namespace

Automation::Automation(AutomationStore& store, Campaigns& campaigns, const common::Clock& clock)
    : store_(store), campaigns_(campaigns), clock_(clock) {}

Automation::~Automation() { Stop(); }

absl::StatusOr<v1::AutomationRule> Automation::Create(
    const std::string& principal, const std::string& idem_key,
    const v1::CreateAutomationRuleRequest& request) {
  if (idem_key.size() > 255) {
    return absl::InvalidArgumentError("Idempotency-Key is longer than 255 characters");
  }
  // The day campaigns' name is the rule's and the day, within a campaign name's 200 characters.
  if (auto s = TextFromRequest(request.name(), "name", true, 180); !s.ok()) return s;
  if (!request.has_spec()) return absl::InvalidArgumentError("spec is required");
  v1::CampaignSpec spec = request.spec();
  if (!spec.name().empty()) {
    return absl::InvalidArgumentError(
        "spec.name: the day campaigns are named after the rule and the day; leave it empty");
  }
  if (spec.has_starts_at() || spec.has_ends_at()) {
    return absl::InvalidArgumentError(Cat(spec.has_starts_at() ? "spec.startsAt" : "spec.endsAt",
                                          ": a rule's campaigns run the day they are made; how "
                                          "far ahead of an appointment is leadMinMinutes"));
  }
  const std::string purpose = spec.purpose().empty() ? "confirmation" : spec.purpose();
  if (purpose != "confirmation" && purpose != "reminder") {
    return absl::InvalidArgumentError(
        Cat("spec.purpose: an automation rule confirms or reminds appointments (confirmation, "
            "reminder), not '", purpose, "'"));
  }
  spec.set_purpose(purpose);
  spec.set_name(request.name());
  if (auto s = campaigns_.CheckSpec(spec); !s.ok()) {
    return absl::Status(s.code(), Cat("spec.", s.message()));
  }
  spec.clear_name();
  if (request.lead_min_minutes() < 0 || request.lead_min_minutes() >= kMaxLeadMinutes) {
    return absl::InvalidArgumentError(
        Cat("leadMinMinutes: must be between 0 and ", kMaxLeadMinutes - 1));
  }
  if (request.lead_max_minutes() <= request.lead_min_minutes() ||
      request.lead_max_minutes() > kMaxLeadMinutes) {
    return absl::InvalidArgumentError(
        Cat("leadMaxMinutes: must be more than leadMinMinutes and at most ", kMaxLeadMinutes,
            " (30 days)"));
  }
  AutomationRuleRow row;
  row.name = request.name();
  row.created_by = principal;
  row.lead_min_minutes = request.lead_min_minutes();
  row.lead_max_minutes = request.lead_max_minutes();
  for (int i = 0; i < request.appointment_statuses_size(); ++i) {
    const std::string& st = request.appointment_statuses(i);
    bool known = false;
    for (const char* k : kEnrollable) known = known || st == k;
    if (!known) {
      return absl::InvalidArgumentError(
          Cat("appointmentStatuses[", i, "]: '", st,
              "' cannot be enrolled (scheduled, confirmed, reschedule_requested; a canceled, "
              "completed or no-show appointment is never called)"));
    }
    if (std::find(row.appointment_statuses.begin(), row.appointment_statuses.end(), st) ==
        row.appointment_statuses.end())
      row.appointment_statuses.push_back(st);
  }
  if (row.appointment_statuses.empty()) {
    // A confirmation is for appointments nobody confirmed yet; a reminder for every one still on.
    row.appointment_statuses = {"scheduled"};
    if (purpose == "reminder") row.appointment_statuses.push_back("confirmed");
  }
  row.spec_json.clear();  // the conversion appends
  if (!google::protobuf::util::MessageToJsonString(spec, &row.spec_json).ok()) {
    return absl::InternalError("the rule's spec could not be written as JSON");
  }
  auto created = store_.CreateRule(row, idem_key, RequestSha256(request));
  if (!created.ok()) return created.status();
  if (!created->duplicate) {
    spdlog::info("automation rule {} created by {}: {}..{} minutes ahead, {}", created->uuid,
                 principal, row.lead_min_minutes, row.lead_max_minutes, purpose);
  }
  return ToProto(*created);
}

absl::StatusOr<v1::ListAutomationRulesResponse> Automation::List(
    const v1::ListAutomationRulesRequest&) {
  auto rows = store_.ListRules(false);
  if (!rows.ok()) return rows.status();
  v1::ListAutomationRulesResponse out;
  for (const auto& r : *rows) *out.add_rules() = ToProto(r);
  return out;
}

absl::StatusOr<v1::AutomationRule> Automation::Update(
    const v1::UpdateAutomationRuleRequest& request) {
  if (request.rule_id().empty()) return absl::InvalidArgumentError("ruleId is required");
  if (!campaign::IsUuid(request.rule_id())) {
    return absl::InvalidArgumentError("ruleId: not an automation rule id (a UUID)");
  }
  auto row = store_.SetEnabled(request.rule_id(), request.enabled());
  if (!row.ok()) return row.status();
  spdlog::info("automation rule {} {}", row->uuid, request.enabled() ? "enabled" : "disabled");
  return ToProto(*row);
}

absl::Status Automation::RunOnce() {
  const absl::Time now = clock_.Now();
  auto rules = store_.ListRules(true);
  if (!rules.ok()) return rules.status();
  absl::Status first;
  for (const AutomationRuleRow& rule : *rules) {
    if (auto s = RunRule(rule, now); !s.ok()) {
      spdlog::warn("automation rule {} not run: {}", rule.uuid, common::ToStd(s.message()));
      if (first.ok()) first = s;
    }
  }
  return first;
}

absl::Status Automation::RunRule(const AutomationRuleRow& rule, absl::Time now) {
  const std::string day = absl::FormatTime("%Y-%m-%d", now, BogotaZone());
  std::string campaign = rule.current_day == day ? rule.current_campaign_uuid : "";
  if (campaign.empty()) {
    v1::CreateCampaignRequest req;
    if (!google::protobuf::util::JsonStringToMessage(rule.spec_json, req.mutable_spec()).ok()) {
      return absl::DataLossError("the rule's stored spec is not readable");
    }
    req.mutable_spec()->set_name(Cat(rule.name, " · ", day));
    req.set_start(true);
    auto c = campaigns_.Create(Cat("automation:", rule.uuid), Cat("day-", day), req);
    if (!c.ok()) return c.status();
    campaign = c->campaign_id();
    if (auto s = store_.RecordDayCampaign(rule.id, day, campaign); !s.ok()) return s;
  }
  auto e = store_.Enroll(rule, campaign, now);
  if (!e.ok()) return e.status();
  if (e->enrolled > 0 || e->withdrawn > 0) {
    spdlog::info("automation rule {}: {} appointments enrolled into campaign {}, {} withdrawn",
                 rule.uuid, e->enrolled, campaign, e->withdrawn);
  }
  if (!e->skipped.empty()) spdlog::info("automation rule {}: {}", rule.uuid, e->skipped);
  return absl::OkStatus();
}

void Automation::Start(absl::Duration every) {
  loop_.Start(every, [this] { (void)RunOnce(); });  // logged per rule
}

void Automation::Stop() { loop_.Stop(); }

v1::AutomationRule Automation::ToProto(const AutomationRuleRow& r) const {
  v1::AutomationRule out;
  out.set_rule_id(r.uuid);
  out.set_name(r.name);
  (void)google::protobuf::util::JsonStringToMessage(r.spec_json, out.mutable_spec());
  out.set_lead_min_minutes(r.lead_min_minutes);
  out.set_lead_max_minutes(r.lead_max_minutes);
  for (const auto& s : r.appointment_statuses) out.add_appointment_statuses(s);
  out.set_enabled(r.enabled);
  out.set_created_by(r.created_by);
  *out.mutable_created_at() = Ts(r.created_at);
  if (r.last_run_at) *out.mutable_last_run_at() = Ts(*r.last_run_at);
  out.set_enrolled(r.enrolled);
  out.set_current_campaign_id(r.current_campaign_uuid);
  return out;
}

}  // namespace outcall::call_gateway
