#include "campaigns.h"

#include <google/protobuf/util/json_util.h>

#include "absl/strings/numbers.h"
#include "contact_policy.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"

namespace outcall::call_gateway {

using common::Cat;

namespace {

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp out;
  out.set_seconds(absl::ToUnixSeconds(t));
  out.set_nanos(static_cast<int32_t>(
      absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(absl::ToUnixSeconds(t)))));
  return out;
}

bool IsBuiltin(const std::string& name) {
  for (const char* b : campaign::kBuiltinVariables)
    if (name == b) return true;
  return false;
}

absl::Status CheckScalarStruct(const google::protobuf::Struct& s, std::string_view field) {
  for (const auto& [k, v] : s.fields()) {
    if (v.has_struct_value() || v.has_list_value() || v.has_null_value()) {
      return absl::InvalidArgumentError(
          Cat(field, ".", k, ": values must be strings, numbers or booleans"));
    }
    if (k.rfind("system__", 0) == 0) {
      return absl::InvalidArgumentError(
          Cat(field, ".", k, ": the system__ prefix is reserved by ElevenLabs"));
    }
  }
  return absl::OkStatus();
}

std::string StructJson(const google::protobuf::Struct& s) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(s, &out);
  return out.empty() ? "{}" : out;
}

google::protobuf::Struct StructFrom(const std::string& json) {
  google::protobuf::Struct s;
  (void)google::protobuf::util::JsonStringToMessage(json, &s);
  return s;
}

absl::StatusOr<int64_t> PageToken(const std::string& token) {
  if (token.empty()) return 0;
  int64_t v = 0;
  if (!absl::SimpleAtoi(token, &v) || v <= 0) {
    return absl::InvalidArgumentError("pageToken: not a token this list gave");
  }
  return v;
}

int PageSize(int requested) { return requested <= 0 ? 100 : std::min(requested, 1000); }

constexpr const char* kAppointmentStatuses[] = {"scheduled", "confirmed", "reschedule_requested",
                                                "canceled",  "completed", "no_show"};

}  // namespace

Campaigns::Campaigns(CampaignsOptions options, CampaignStore& store, CallRepository& calls,
                     std::function<absl::StatusOr<bool>(const std::string&)> agent_exists,
                     const common::Clock& clock)
    : options_(std::move(options)),
      store_(store),
      calls_(calls),
      agent_exists_(std::move(agent_exists)),
      clock_(clock) {}

absl::StatusOr<CampaignSettings> Campaigns::Settings(const v1::CampaignSpec& spec,
                                                     const CampaignSettings* base) {
  CampaignSettings s = base ? *base : CampaignSettings{};
  if (!base || !spec.name().empty()) {
    if (auto st = TextFromRequest(spec.name(), "name", true); !st.ok()) return st;
    s.name = spec.name();
  }
  if (base) {
    if (!spec.purpose().empty() && spec.purpose() != base->purpose) {
      return absl::InvalidArgumentError("purpose: a campaign's purpose cannot change");
    }
    if (!spec.agent_id().empty() && spec.agent_id() != base->agent_id) {
      return absl::InvalidArgumentError("agentId: a campaign's agent cannot change");
    }
    if (!spec.policy_profile_id().empty() &&
        (!base->policy_profile || spec.policy_profile_id() != base->policy_profile->id ||
         spec.policy_profile_version() != base->policy_profile->version)) {
      return absl::InvalidArgumentError(
          "policyProfileId: a campaign's contact-policy profile cannot change (its decisions "
          "name it)");
    }
  } else {
    auto purpose = PurposeFromRequest(spec.purpose());
    if (!purpose.ok()) return purpose.status();
    s.purpose = std::string(policy::PurposeName(*purpose));
    s.agent_id = spec.agent_id().empty() ? options_.default_agent_id : spec.agent_id();
    if (s.agent_id.empty()) return absl::InvalidArgumentError("agentId is required");
    auto known = agent_exists_(s.agent_id);
    if (!known.ok()) return known.status();
    if (!*known) {
      return absl::InvalidArgumentError(
          Cat("agentId: unknown agent '", s.agent_id, "' (not among ElevenLabs' agents)"));
    }
    if (!spec.policy_profile_id().empty()) {
      if (spec.policy_profile_version() < 1) {
        return absl::InvalidArgumentError(
            "policyProfileVersion: a positive version of policyProfileId is required");
      }
      ProfileRef ref{spec.policy_profile_id(), spec.policy_profile_version()};
      auto stored = store_.ProfileExists(ref);
      if (!stored.ok()) return stored.status();
      if (!*stored) {
        return absl::InvalidArgumentError(
            Cat("policyProfileId: no contact-policy profile '", ref.id, "' version ", ref.version,
                " is stored"));
      }
      s.policy_profile = ref;
    } else if (spec.policy_profile_version() != 0) {
      return absl::InvalidArgumentError("policyProfileVersion: set without policyProfileId");
    }
  }
  if (spec.has_variables_template()) {
    if (auto st = CheckScalarStruct(spec.variables_template(), "variablesTemplate"); !st.ok())
      return st;
    s.variables_template_json = StructJson(spec.variables_template());
  }
  if (spec.has_starts_at()) {
    auto t = InstantFromRequest(spec.starts_at(), "startsAt");
    if (!t.ok()) return t.status();
    s.starts_at = *t;
  }
  if (spec.has_ends_at()) {
    auto t = InstantFromRequest(spec.ends_at(), "endsAt");
    if (!t.ok()) return t.status();
    if (*t <= clock_.Now()) return absl::InvalidArgumentError("endsAt: already passed");
    s.ends_at = *t;
  }
  if (s.starts_at && s.ends_at && *s.ends_at <= *s.starts_at) {
    return absl::InvalidArgumentError("endsAt: must be after startsAt");
  }
  if (spec.has_pacing()) {
    const auto& p = spec.pacing();
    if (p.max_concurrency() < 1 || p.max_concurrency() > 1000) {
      return absl::InvalidArgumentError("pacing.maxConcurrency: must be between 1 and 1000");
    }
    if (p.calls_per_minute() < 1 || p.calls_per_minute() > 6000) {
      return absl::InvalidArgumentError("pacing.callsPerMinute: must be between 1 and 6000");
    }
    s.max_concurrency = p.max_concurrency();
    s.calls_per_minute = p.calls_per_minute();
  }
  if (spec.has_retry()) {
    const auto& r = spec.retry();
    if (r.max_attempts() < 1 || r.max_attempts() > 10) {
      return absl::InvalidArgumentError("retry.maxAttempts: must be between 1 and 10");
    }
    s.retry.max_attempts = r.max_attempts();
    s.retry.retry_on.clear();
    for (int i = 0; i < r.retry_on_size(); ++i) {
      const std::string& o = r.retry_on(i);
      bool known = false;
      for (const char* k : campaign::kRetryableOutcomes) known = known || o == k;
      if (!known) {
        return absl::InvalidArgumentError(
            Cat("retry.retryOn[", i, "]: unknown outcome '", o,
                "' (no_answer, busy, failed, voicemail; a refusal or an opt-out never retries)"));
      }
      s.retry.retry_on.insert(o);
    }
    if (r.intervals_secs_size() > 0) {
      s.retry.intervals_secs.clear();
      for (int i = 0; i < r.intervals_secs_size(); ++i) {
        const int v = r.intervals_secs(i);
        if (v < 1 || v > 30 * 86400) {
          return absl::InvalidArgumentError(
              Cat("retry.intervalsSecs[", i, "]: must be between 1 and 2592000 (30 days)"));
        }
        s.retry.intervals_secs.push_back(v);
      }
    }
  }
  if (spec.has_window()) {
    auto start = campaign::MinuteOfDay(spec.window().start(), "window.start");
    if (!start.ok()) return start.status();
    auto end = campaign::MinuteOfDay(spec.window().end(), "window.end");
    if (!end.ok()) return end.status();
    if (*end <= *start || *start >= 1440) {
      return absl::InvalidArgumentError("window.end: must be after window.start");
    }
    s.window = campaign::DailyWindow{*start, *end};
  }
  if (spec.has_breaker()) {
    const auto& b = spec.breaker();
    if (!(b.failure_rate() > 0 && b.failure_rate() <= 1)) {
      return absl::InvalidArgumentError("breaker.failureRate: must be above 0 and at most 1");
    }
    if (b.window() < 1 || b.window() > 1000) {
      return absl::InvalidArgumentError("breaker.window: must be between 1 and 1000");
    }
    if (b.min_sample() < 1 || b.min_sample() > b.window()) {
      return absl::InvalidArgumentError("breaker.minSample: must be between 1 and breaker.window");
    }
    s.breaker = {b.failure_rate(), b.window(), b.min_sample()};
  }
  return s;
}

v1::Campaign Campaigns::ToProto(const CampaignRow& c) const {
  v1::Campaign out;
  out.set_campaign_id(c.uuid);
  v1::CampaignSpec& spec = *out.mutable_spec();
  const CampaignSettings& s = c.settings;
  spec.set_name(s.name);
  spec.set_purpose(s.purpose);
  spec.set_agent_id(s.agent_id);
  *spec.mutable_variables_template() = StructFrom(s.variables_template_json);
  if (s.starts_at) *spec.mutable_starts_at() = Ts(*s.starts_at);
  if (s.ends_at) *spec.mutable_ends_at() = Ts(*s.ends_at);
  spec.mutable_pacing()->set_max_concurrency(s.max_concurrency);
  spec.mutable_pacing()->set_calls_per_minute(s.calls_per_minute);
  for (const std::string& o : s.retry.retry_on) spec.mutable_retry()->add_retry_on(o);
  for (int v : s.retry.intervals_secs) spec.mutable_retry()->add_intervals_secs(v);
  spec.mutable_retry()->set_max_attempts(s.retry.max_attempts);
  if (s.window) {
    spec.mutable_window()->set_start(campaign::FormatMinute(s.window->start_minute));
    spec.mutable_window()->set_end(campaign::FormatMinute(s.window->end_minute));
  }
  spec.mutable_breaker()->set_failure_rate(s.breaker.failure_rate);
  spec.mutable_breaker()->set_window(s.breaker.window);
  spec.mutable_breaker()->set_min_sample(s.breaker.min_sample);
  if (s.policy_profile) {
    spec.set_policy_profile_id(s.policy_profile->id);
    spec.set_policy_profile_version(s.policy_profile->version);
  }
  out.set_state(c.state);
  out.set_state_reason(c.state_reason);
  v1::CampaignCounters& k = *out.mutable_counters();
  auto n = [&](const char* st) {
    auto it = c.counters.by_state.find(st);
    return it == c.counters.by_state.end() ? 0 : it->second;
  };
  k.set_total(c.counters.total);
  k.set_pending(n("pending"));
  k.set_scheduled(n("scheduled"));
  k.set_dialing(n("dialing"));
  k.set_in_call(n("in_call"));
  k.set_done(n("done"));
  k.set_exhausted(n("exhausted"));
  k.set_ineligible(n("ineligible"));
  k.set_opted_out(n("opted_out"));
  k.set_canceled(n("canceled"));
  k.set_expired(n("expired"));
  k.set_attempts(c.counters.attempts);
  for (const auto& [o, v] : c.counters.by_outcome) (*k.mutable_outcomes())[o] = v;
  if (c.state == "running") {
    if (auto eta = campaign::Eta(n("pending") + n("scheduled"), s.calls_per_minute, clock_.Now()))
      *out.mutable_eta() = Ts(*eta);
  }
  out.set_created_by(c.created_by);
  *out.mutable_created_at() = Ts(c.created_at);
  *out.mutable_updated_at() = Ts(c.updated_at);
  if (c.started_at) *out.mutable_started_at() = Ts(*c.started_at);
  if (c.finished_at) *out.mutable_finished_at() = Ts(*c.finished_at);
  return out;
}

v1::CampaignUpdate Campaigns::SnapshotOf(const CampaignRow& row) const {
  v1::Campaign c = ToProto(row);
  v1::CampaignUpdate u;
  u.set_campaign_id(row.uuid);
  *u.mutable_at() = Ts(clock_.Now());
  u.set_state(row.state);
  *u.mutable_counters() = std::move(*c.mutable_counters());
  return u;
}

absl::StatusOr<std::pair<int64_t, v1::CampaignUpdate>> Campaigns::WatchTarget(
    const std::string& uuid) {
  auto c = Known(uuid);
  if (!c.ok()) return c.status();
  return std::make_pair(c->id, SnapshotOf(*c));
}

absl::StatusOr<v1::CampaignUpdate> Campaigns::Snapshot(int64_t campaign_row) {
  auto c = store_.GetCampaignByRow(campaign_row);
  if (!c.ok()) return c.status();
  return SnapshotOf(*c);
}

absl::StatusOr<CampaignRow> Campaigns::Known(const std::string& uuid) {
  if (uuid.empty()) return absl::InvalidArgumentError("campaignId is required");
  auto c = store_.GetCampaign(uuid);
  if (!c.ok()) return c.status();
  if (!c->has_value()) return absl::NotFoundError(Cat("campaign ", uuid, " not found"));
  return **c;
}

absl::StatusOr<v1::Campaign> Campaigns::Create(const std::string& principal,
                                               const std::string& idem_key,
                                               const v1::CreateCampaignRequest& request) {
  if (idem_key.size() > 255) {
    return absl::InvalidArgumentError("Idempotency-Key is longer than 255 characters");
  }
  auto settings = Settings(request.spec(), nullptr);
  if (!settings.ok()) return settings.status();
  if (request.recipients_size() > options_.max_recipients_per_request) {
    return absl::InvalidArgumentError(
        Cat("recipients: at most ", options_.max_recipients_per_request,
            " per request; add more with AddRecipients"));
  }
  // The first recipients are checked before anything is written: a create either keeps them all
  // or fails naming each bad row (recipients[i].field), so a retry with the rows fixed is clean.
  if (request.recipients_size() > 0) {
    v1::AddRecipientsRequest add;
    *add.mutable_recipients() = request.recipients();
    v1::AddRecipientsResponse checked;
    Check(settings->variables_template_json, add, checked);
    if (checked.errors_size() > 0) {
      std::string message = Cat(checked.errors_size(), " of ", request.recipients_size(),
                                " recipients are invalid; nothing was created:");
      for (int i = 0; i < checked.errors_size() && i < 10; ++i) {
        const v1::RecipientError& e = checked.errors(i);
        message += Cat(i ? "; " : " ", "recipients[", e.index(), "].", e.field(), ": ",
                        e.message());
      }
      if (checked.errors_size() > 10) message += "; ...";
      return absl::InvalidArgumentError(message);
    }
  }
  std::string state = "draft";
  if (request.start()) {
    state = settings->starts_at && *settings->starts_at > clock_.Now() ? "scheduled" : "running";
  }
  auto row = store_.CreateCampaign(*settings, state, principal, idem_key, RequestSha256(request));
  if (!row.ok()) return row.status();
  if (!row->duplicate && request.recipients_size() > 0) {
    v1::AddRecipientsRequest add;
    *add.mutable_recipients() = request.recipients();
    auto added = Add(*row, add);
    if (!added.ok()) return added.status();
  }
  auto fresh = Known(row->uuid);
  if (!fresh.ok()) return fresh.status();
  return ToProto(*fresh);
}

absl::StatusOr<v1::Campaign> Campaigns::Get(const v1::GetCampaignRequest& request) {
  auto c = Known(request.campaign_id());
  if (!c.ok()) return c.status();
  return ToProto(*c);
}

absl::StatusOr<v1::ListCampaignsResponse> Campaigns::List(const v1::ListCampaignsRequest& request) {
  if (!request.state().empty() && !campaign::IsCampaignState(request.state())) {
    return absl::InvalidArgumentError(
        Cat("state: unknown value '", request.state(),
            "' (draft, scheduled, running, paused, auto_paused, completed, canceled, expired)"));
  }
  auto before = PageToken(request.page_token());
  if (!before.ok()) return before.status();
  const int size = PageSize(request.page_size());
  auto rows = store_.ListCampaigns(request.state(), *before, size + 1);
  if (!rows.ok()) return rows.status();
  v1::ListCampaignsResponse out;
  for (size_t i = 0; i < rows->size() && static_cast<int>(i) < size; ++i)
    *out.add_campaigns() = ToProto((*rows)[i]);
  if (static_cast<int>(rows->size()) > size) {
    out.set_next_page_token(std::to_string((*rows)[size - 1].id));
  }
  return out;
}

absl::StatusOr<v1::Campaign> Campaigns::Update(const v1::UpdateCampaignRequest& request) {
  auto c = Known(request.campaign_id());
  if (!c.ok()) return c.status();
  auto s = Settings(request.spec(), &c->settings);
  if (!s.ok()) return s.status();
  auto row = store_.UpdateSettings(c->uuid, *s);
  if (!row.ok()) return row.status();
  return ToProto(*row);
}

absl::StatusOr<v1::AddRecipientsResponse> Campaigns::AddRecipients(
    const v1::AddRecipientsRequest& request) {
  auto c = Known(request.campaign_id());
  if (!c.ok()) return c.status();
  if (c->state == "completed" || c->state == "canceled" || c->state == "expired") {
    return absl::FailedPreconditionError(
        Cat("campaign ", c->uuid, " is ", c->state, "; recipients can no longer be added"));
  }
  return Add(*c, request);
}

std::vector<NewRecipient> Campaigns::Check(const std::string& variables_template_json,
                                           const v1::AddRecipientsRequest& request,
                                           v1::AddRecipientsResponse& out) {
  const std::set<std::string> placeholders =
      campaign::Placeholders(StructFrom(variables_template_json));
  std::vector<NewRecipient> rows;
  auto error = [&](int index, std::string field, std::string message) {
    v1::RecipientError* e = out.add_errors();
    e->set_index(index);
    e->set_field(std::move(field));
    e->set_message(std::move(message));
  };
  auto check = [&](int index, const v1::RecipientInput& in) {
    NewRecipient n;
    if (in.patient_id() < 0) return error(index, "patientId", "must be a positive integer");
    if (in.appointment_id() < 0) return error(index, "appointmentId", "must be a positive integer");
    std::optional<PatientRow> patient;
    // An appointment alone names its patient (and so the phone to call).
    std::optional<int> owner_id;
    if (in.appointment_id() > 0) {
      auto owner = calls_.AppointmentPatient(in.appointment_id());
      if (!owner.ok()) return error(index, "appointmentId", std::string(owner.status().message()));
      if (!owner->has_value())
        return error(index, "appointmentId", Cat("appointment ", in.appointment_id(), " not found"));
      if (in.patient_id() > 0 && **owner != in.patient_id())
        return error(index, "appointmentId", "belongs to another patient");
      owner_id = **owner;
      n.appointment_id = in.appointment_id();
    }
    const int patient_id = in.patient_id() > 0 ? in.patient_id() : owner_id.value_or(0);
    if (patient_id > 0) {
      auto p = calls_.FindPatient(patient_id);
      const char* field = in.patient_id() > 0 ? "patientId" : "appointmentId";
      if (!p.ok()) return error(index, field, std::string(p.status().message()));
      if (!p->has_value()) return error(index, field, Cat("patient ", patient_id, " not found"));
      patient = **p;
      n.patient_id = patient_id;
    }
    if (!in.phone_number().empty()) {
      auto phone = PhoneFromRequest(in.phone_number(), options_.default_country_code);
      if (!phone.ok()) return error(index, "phoneNumber", std::string(phone.status().message()));
      n.phone_e164 = *phone;
    } else if (patient && !patient->phone_e164.empty()) {
      n.phone_e164 = patient->phone_e164;
    } else {
      return error(index, "phoneNumber",
                   patient ? Cat("patient ", patient->id, " has no usable phone number")
                           : std::string("phoneNumber or patientId is required"));
    }
    if (auto s = CheckScalarStruct(in.variables(), "variables"); !s.ok()) {
      return error(index, "variables", std::string(s.message()));
    }
    for (const std::string& name : placeholders) {
      if (in.variables().fields().count(name)) continue;
      if ((name == "patient_name" || name == "patient_id") && n.patient_id) continue;
      if ((name == "appointment_id" || name == "appointment_time") && n.appointment_id) continue;
      return error(index, Cat("variables.", name),
                   Cat("missing: the template uses {{", name, "}}"));
    }
    n.variables_json = StructJson(in.variables());
    rows.push_back(std::move(n));
  };
  for (int i = 0; i < request.recipients_size(); ++i) check(i, request.recipients(i));
  for (int i = 0; i < request.patient_ids_size(); ++i) {
    v1::RecipientInput in;
    in.set_patient_id(request.patient_ids(i));
    if (request.patient_ids(i) == 0) {
      error(request.recipients_size() + i, "patientIds", "must be a positive integer");
      continue;
    }
    check(request.recipients_size() + i, in);
  }
  return rows;
}

absl::StatusOr<v1::AddRecipientsResponse> Campaigns::Add(const CampaignRow& c,
                                                         const v1::AddRecipientsRequest& request) {
  if (request.recipients_size() + request.patient_ids_size() > options_.max_recipients_per_request) {
    return absl::InvalidArgumentError(Cat("recipients: at most ",
                                          options_.max_recipients_per_request, " per request"));
  }
  // The appointment query is checked before anything is written: a bad one fails the request
  // whole, with no row of it added.
  absl::Time from, to;
  std::vector<std::string> statuses;
  if (request.has_appointments()) {
    const auto& q = request.appointments();
    if (!q.has_from() || !q.has_to()) {
      return absl::InvalidArgumentError("appointments: from and to are required");
    }
    auto f = InstantFromRequest(q.from(), "appointments.from");
    if (!f.ok()) return f.status();
    auto t = InstantFromRequest(q.to(), "appointments.to");
    if (!t.ok()) return t.status();
    if (*t <= *f) return absl::InvalidArgumentError("appointments.to: must be after from");
    from = *f;
    to = *t;
    statuses.assign(q.statuses().begin(), q.statuses().end());
    if (statuses.empty()) statuses.push_back("scheduled");
    for (size_t i = 0; i < statuses.size(); ++i) {
      bool known = false;
      for (const char* k : kAppointmentStatuses) known = known || statuses[i] == k;
      if (!known) {
        return absl::InvalidArgumentError(
            Cat("appointments.statuses[", i, "]: unknown appointment status '", statuses[i], "'"));
      }
    }
    for (const std::string& name :
         campaign::Placeholders(StructFrom(c.settings.variables_template_json))) {
      if (!IsBuiltin(name)) {
        return absl::InvalidArgumentError(
            Cat("appointments: the template uses {{", name,
                "}}, which recipients enrolled from appointments do not have"));
      }
    }
  }
  v1::AddRecipientsResponse out;
  const std::vector<NewRecipient> rows = Check(c.settings.variables_template_json, request, out);
  auto added = store_.AddRecipients(c.id, rows);
  if (!added.ok()) return added.status();
  out.set_added(added->added);
  out.set_duplicates(added->duplicates);
  if (request.has_appointments()) {
    auto appts = store_.AddAppointments(c.id, from, to, statuses);
    if (!appts.ok()) return appts.status();
    out.set_added(out.added() + appts->added);
    out.set_duplicates(out.duplicates() + appts->duplicates);
  }
  return out;
}

absl::StatusOr<v1::ListRecipientsResponse> Campaigns::ListRecipients(
    const v1::ListRecipientsRequest& request) {
  auto c = Known(request.campaign_id());
  if (!c.ok()) return c.status();
  bool known = request.state().empty();
  for (const char* s : campaign::kRecipientStates) known = known || request.state() == s;
  if (!known) {
    return absl::InvalidArgumentError(Cat("state: unknown recipient state '", request.state(), "'"));
  }
  auto after = PageToken(request.page_token());
  if (!after.ok()) return after.status();
  const int size = PageSize(request.page_size());
  auto rows = store_.ListRecipients(c->id, request.state(), *after, size + 1);
  if (!rows.ok()) return rows.status();
  v1::ListRecipientsResponse out;
  for (size_t i = 0; i < rows->size() && static_cast<int>(i) < size; ++i) {
    const RecipientRow& r = (*rows)[i];
    v1::Recipient* x = out.add_recipients();
    x->set_id(r.id);
    if (r.patient_id) x->set_patient_id(*r.patient_id);
    if (r.appointment_id) x->set_appointment_id(*r.appointment_id);
    x->set_phone_number(common::MaskPhone(r.phone_e164));
    x->set_state(r.state);
    x->set_outcome(r.outcome);
    x->set_decision_rule(r.decision_rule);
    x->set_attempts(r.attempts);
    if (r.next_attempt_at) *x->mutable_next_attempt_at() = Ts(*r.next_attempt_at);
    *x->mutable_updated_at() = Ts(r.updated_at);
  }
  if (static_cast<int>(rows->size()) > size) {
    out.set_next_page_token(std::to_string((*rows)[size - 1].id));
  }
  return out;
}

absl::StatusOr<v1::Campaign> Campaigns::Start(const v1::CampaignActionRequest& request) {
  auto c = Known(request.campaign_id());
  if (!c.ok()) return c.status();
  const bool later = c->settings.starts_at && *c->settings.starts_at > clock_.Now();
  auto row = store_.Transition(c->uuid, {"draft"}, later ? "scheduled" : "running", "");
  if (!row.ok()) return row.status();
  return ToProto(*row);
}

absl::StatusOr<v1::Campaign> Campaigns::Pause(const v1::CampaignActionRequest& request) {
  if (auto s = TextFromRequest(request.reason(), "reason", false, 500); !s.ok()) return s;
  auto row = store_.Transition(request.campaign_id(), {"scheduled", "running"}, "paused",
                               request.reason());
  if (!row.ok()) return row.status();
  return ToProto(*row);
}

absl::StatusOr<v1::Campaign> Campaigns::Resume(const v1::CampaignActionRequest& request) {
  auto c = Known(request.campaign_id());
  if (!c.ok()) return c.status();
  const bool later = c->settings.starts_at && *c->settings.starts_at > clock_.Now();
  auto row = store_.Transition(c->uuid, {"paused", "auto_paused"}, later ? "scheduled" : "running",
                               "");
  if (!row.ok()) return row.status();
  return ToProto(*row);
}

absl::StatusOr<v1::Campaign> Campaigns::Cancel(const v1::CampaignActionRequest& request) {
  if (auto s = TextFromRequest(request.reason(), "reason", false, 500); !s.ok()) return s;
  auto row = store_.Transition(request.campaign_id(),
                               {"draft", "scheduled", "running", "paused", "auto_paused"},
                               "canceled", request.reason());
  if (!row.ok()) return row.status();
  return ToProto(*row);
}

absl::StatusOr<v1::Campaign> Campaigns::RetryFailed(const v1::CampaignActionRequest& request) {
  auto c = Known(request.campaign_id());
  if (!c.ok()) return c.status();
  if (c->state == "canceled" || c->state == "expired") {
    return absl::FailedPreconditionError(
        Cat("campaign ", c->uuid, " is ", c->state, "; its recipients are no longer called"));
  }
  auto n = store_.RetryExhausted(c->uuid);
  if (!n.ok()) return n.status();
  if (*n > 0 && c->state == "completed") {
    auto row = store_.Transition(c->uuid, {"completed"}, "running", "retrying exhausted recipients");
    if (!row.ok()) return row.status();
  }
  auto fresh = Known(c->uuid);
  if (!fresh.ok()) return fresh.status();
  return ToProto(*fresh);
}

absl::StatusOr<v1::Campaign> Campaigns::Duplicate(const std::string& principal,
                                                  const v1::DuplicateCampaignRequest& request) {
  auto c = Known(request.campaign_id());
  if (!c.ok()) return c.status();
  CampaignSettings s = c->settings;
  if (!request.name().empty()) {
    if (auto st = TextFromRequest(request.name(), "name", true); !st.ok()) return st;
    s.name = request.name();
  } else {
    s.name = Cat(s.name, " (copy)").substr(0, 200);
  }
  if (s.ends_at && *s.ends_at <= clock_.Now()) s.ends_at.reset();
  auto row = store_.CreateCampaign(s, "draft", principal, "", "");
  if (!row.ok()) return row.status();
  if (request.with_recipients()) {
    int64_t after = 0;
    for (;;) {
      auto page = store_.ListRecipients(c->id, "", after, 1000);
      if (!page.ok()) return page.status();
      if (page->empty()) break;
      std::vector<NewRecipient> rows;
      for (const RecipientRow& r : *page) {
        rows.push_back({r.patient_id, r.appointment_id, r.phone_e164, r.variables_json});
        after = r.id;
      }
      if (auto added = store_.AddRecipients(row->id, rows); !added.ok()) return added.status();
    }
  }
  auto fresh = Known(row->uuid);
  if (!fresh.ok()) return fresh.status();
  return ToProto(*fresh);
}

namespace {
v1::Review ReviewProto(const ReviewRow& r) {
  v1::Review x;
  x.set_review_id(r.id);
  x.set_campaign_id(r.campaign_uuid);
  x.set_recipient_id(r.recipient_id);
  x.set_attempt_no(r.attempt_no);
  x.set_reason(r.reason);
  x.set_conversation_id(r.conversation_id);
  if (r.patient_id) x.set_patient_id(*r.patient_id);
  if (r.appointment_id) x.set_appointment_id(*r.appointment_id);
  x.set_phone_number(common::MaskPhone(r.phone_e164));
  x.set_call_successful(r.call_successful);
  x.set_summary(r.summary);
  *x.mutable_created_at() = Ts(r.created_at);
  x.set_decision(r.decision);
  x.set_resolved_by(r.resolved_by);
  if (r.resolved_at) *x.mutable_resolved_at() = Ts(*r.resolved_at);
  x.set_note(r.note);
  return x;
}
}  // namespace

absl::StatusOr<v1::ListReviewsResponse> Campaigns::ListReviews(
    const v1::ListReviewsRequest& request) {
  int64_t campaign_row = 0;
  if (!request.campaign_id().empty()) {
    auto c = Known(request.campaign_id());
    if (!c.ok()) return c.status();
    campaign_row = c->id;
  }
  const std::string state = request.state().empty() ? "open" : request.state();
  if (state != "open" && state != "resolved" && state != "all") {
    return absl::InvalidArgumentError(
        Cat("state: unknown value '", request.state(), "' (open, resolved, all)"));
  }
  auto after = PageToken(request.page_token());
  if (!after.ok()) return after.status();
  const int size = PageSize(request.page_size());
  auto rows = store_.ListReviews(campaign_row, state, *after, size + 1);
  if (!rows.ok()) return rows.status();
  v1::ListReviewsResponse out;
  for (size_t i = 0; i < rows->size() && static_cast<int>(i) < size; ++i)
    *out.add_reviews() = ReviewProto((*rows)[i]);
  if (static_cast<int>(rows->size()) > size) {
    out.set_next_page_token(std::to_string((*rows)[size - 1].id));
  }
  return out;
}

absl::StatusOr<v1::Review> Campaigns::ResolveReview(const std::string& principal,
                                                    const v1::ResolveReviewRequest& request) {
  if (request.review_id() <= 0) return absl::InvalidArgumentError("reviewId: is required");
  const std::string& d = request.decision();
  if (d != "confirmed" && d != "reschedule_requested" && d != "canceled" && d != "call_again" &&
      d != "no_action") {
    return absl::InvalidArgumentError(
        Cat("decision: ", d.empty() ? std::string("is required") : Cat("unknown value '", d, "'"),
            " (confirmed, reschedule_requested, canceled, call_again, no_action)"));
  }
  if (auto st = TextFromRequest(request.note(), "note", false, 1000); !st.ok()) return st;
  auto row = store_.ResolveReview(request.review_id(), d, request.note(), principal);
  if (!row.ok()) return row.status();
  return ReviewProto(*row);
}

}  // namespace outcall::call_gateway
