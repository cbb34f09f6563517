#include "contact_policy.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include "outcall/common/phone.h"
#include "outcall/common/strings.h"

namespace outcall::call_gateway {

using common::Cat;

absl::StatusOr<policy::Purpose> PurposeFromRequest(std::string_view value) {
  if (value.empty()) return policy::Purpose::kConfirmation;
  auto p = policy::ParsePurpose(value);
  if (!p.ok()) {
    return absl::InvalidArgumentError(
        Cat("purpose: unknown value '", value,
            "' (confirmation, reminder, survey, promotion, collection)"));
  }
  return *p;
}

absl::StatusOr<policy::Channel> ChannelFromRequest(std::string_view value) {
  if (value.empty()) return policy::Channel::kVoice;
  auto c = policy::ParseChannel(value);
  if (!c.ok()) {
    return absl::InvalidArgumentError(
        Cat("channel: unknown value '", value, "' (voice, sms, whatsapp, email)"));
  }
  return *c;
}

absl::StatusOr<absl::Time> InstantFromRequest(const google::protobuf::Timestamp& t,
                                              std::string_view field) {
  using google::protobuf::util::TimeUtil;
  if (t.seconds() < 0 || t.seconds() > TimeUtil::kTimestampMaxSeconds || t.nanos() < 0 ||
      t.nanos() > 999999999)
    return absl::InvalidArgumentError(Cat(field, ": not a valid instant"));
  return absl::FromUnixMicros(TimeUtil::TimestampToMicroseconds(t));
}

absl::StatusOr<std::string> PhoneFromRequest(std::string_view value,
                                             std::string_view default_country_code) {
  auto phone = common::NormalizePhone(value, default_country_code);
  if (!phone.ok())
    return absl::InvalidArgumentError(Cat("phoneNumber: ", phone.status().message()));
  return *phone;
}

absl::Status TextFromRequest(const std::string& value, std::string_view field, bool required,
                             size_t max) {
  if (required && value.empty()) return absl::InvalidArgumentError(Cat(field, " is required"));
  if (value.size() > max)
    return absl::InvalidArgumentError(Cat(field, " is longer than ", max, " characters"));
  return absl::OkStatus();
}

absl::Status PatientIdFromRequest(int id) {
  if (id <= 0) return absl::InvalidArgumentError("patientId must be a positive integer");
  return absl::OkStatus();
}

absl::StatusOr<PatientRow> KnownPatient(CallRepository& calls, int id) {
  auto p = calls.FindPatient(id);
  if (!p.ok()) return p.status();
  if (!p->has_value()) return absl::NotFoundError(Cat("patient ", id, " not found"));
  return **std::move(p);
}

absl::Status PatientDocument(CallRepository& calls, int id, google::protobuf::Struct* out) {
  auto doc = calls.ExportPatientData(id);
  if (!doc.ok()) return doc.status();
  if (!doc->has_value()) return absl::NotFoundError(Cat("patient ", id, " not found"));
  if (!google::protobuf::util::JsonStringToMessage(**doc, out).ok())
    return absl::InternalError("the patient's record could not be assembled");
  return absl::OkStatus();
}

absl::TimeZone BogotaZone() {
  static const absl::TimeZone bogota = [] {
    absl::TimeZone tz;
    if (!absl::LoadTimeZone("America/Bogota", &tz)) tz = absl::FixedTimeZone(-5 * 3600);
    return tz;
  }();
  return bogota;
}

std::string BogotaTime(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", t, BogotaZone());
}

absl::Status RefusalStatus(const policy::Decision& decision) {
  return absl::FailedPreconditionError(Cat("contact policy ", decision.profile_id, " v",
                                           decision.profile_version, " (", decision.rule,
                                           "): ", decision.message));
}

absl::Status ContactPolicy::RegisterDefaultProfile() {
  const policy::Profile& p = policy::DefaultProfile();
  return repo_.EnsureProfile(p.id, p.version, std::string(policy::DefaultProfileJson()));
}

absl::StatusOr<policy::Profile> ContactPolicy::ProfileFor(const PolicyInputs& in) {
  if (in.profile_json.empty()) return policy::DefaultProfile();
  const auto key = std::make_pair(in.profile_id, in.profile_version);
  {
    absl::MutexLock lock(&mu_);
    if (auto it = profiles_.find(key); it != profiles_.end()) return it->second;
  }
  auto parsed = policy::ParseProfile(in.profile_json);
  if (!parsed.ok()) {
    return absl::FailedPreconditionError(
        Cat("the contact-policy profile in force (", in.profile_id, " v", in.profile_version,
            ") cannot be used, so no call is placed: ", parsed.status().message()));
  }
  if (parsed->id != in.profile_id || parsed->version != in.profile_version) {
    return absl::FailedPreconditionError(Cat("the contact-policy profile stored as ", in.profile_id,
                                             " v", in.profile_version, " says it is ", parsed->id,
                                             " v", parsed->version, "; no call is placed"));
  }
  absl::MutexLock lock(&mu_);
  return profiles_.emplace(key, *std::move(parsed)).first->second;
}

absl::StatusOr<ContactPolicy::Outcome> ContactPolicy::Decide(const PolicySubject& subject,
                                                             policy::Purpose purpose,
                                                             policy::Channel channel,
                                                             absl::Time at,
                                                             const ProfileRef* profile_ref) {
  auto in = repo_.LoadPolicyInputs(subject, channel, at, profile_ref);
  if (!in.ok()) return in.status();
  if (profile_ref && in->profile_json.empty()) {
    return absl::NotFoundError(Cat("contact-policy profile ", profile_ref->id, " v",
                                   profile_ref->version, " not found; no call is placed"));
  }
  auto profile = ProfileFor(*in);
  if (!profile.ok()) return profile.status();
  absl::TimeZone probe;
  if (!absl::LoadTimeZone(in->time_zone, &probe)) {
    return absl::FailedPreconditionError(
        Cat("time zone '", in->time_zone,
            "' (the patient's or the clinic's) is not in the time-zone database; fix it before "
            "calling"));
  }
  const bool capped = profile->Applies(purpose, policy::Rule::kDailyCap) ||
                      profile->Applies(purpose, policy::Rule::kWeeklyCap) ||
                      profile->Applies(purpose, policy::Rule::kWeeklyChannel);
  policy::DecisionRequest req;
  req.profile = *std::move(profile);
  req.purpose = purpose;
  req.channel = channel;
  req.at = at;
  req.time_zone = in->time_zone;
  req.history = std::move(in->history);
  req.consents = std::move(in->consents);
  req.opted_out = in->opted_out;
  req.excluded_number = in->excluded_number;
  auto d = policy::Decide(req);
  if (!d.ok()) return d.status();
  return Outcome{*std::move(d), in->time_zone, capped};
}

}  // namespace outcall::call_gateway
