#include "contact_ledger.h"

#include "absl/strings/numbers.h"
#include "absl/time/time.h"
#include "outcall/common/strings.h"

namespace outcall::call_gateway {
namespace {

using common::Cat;

// A Timestamp field, or `fallback` when unset; INVALID_ARGUMENT naming it when out of range.
absl::StatusOr<absl::Time> TimeOr(const google::protobuf::Timestamp& t, bool set,
                                  std::string_view field, absl::Time fallback) {
  if (!set) return fallback;
  return InstantFromRequest(t, field);
}

// One CSV field (RFC 4180): always quoted, quotes doubled. Free text that a spreadsheet would
// run as a formula (=, +, -, @ first) gets a leading apostrophe.
std::string CsvField(std::string_view v, bool free_text = false) {
  std::string out = "\"";
  if (free_text && !v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@'))
    out += '\'';
  for (char ch : v) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
  return out;
}

}  // namespace

absl::StatusOr<v1::RecordConsentResponse> ContactLedger::RecordConsent(
    const std::string& principal, const v1::RecordConsentRequest& req) {
  if (auto s = PatientIdFromRequest(req.patient_id()); !s.ok()) return s;
  auto purpose = PurposeFromRequest(req.purpose());
  if (!purpose.ok()) return purpose.status();
  if (req.channel().empty()) return absl::InvalidArgumentError("channel is required");
  auto channel = ChannelFromRequest(req.channel());
  if (!channel.ok()) return channel.status();
  if (req.state() != "authorised" && req.state() != "revoked") {
    return absl::InvalidArgumentError(
        Cat("state: unknown value '", req.state(), "' (authorised, revoked)"));
  }
  if (auto s = TextFromRequest(req.source(), "source", true); !s.ok()) return s;
  const bool authorising = req.state() == "authorised";
  // Health data is sensitive (Ley 1581 art. 6): an authorisation without its proof is no
  // authorisation. A revocation needs none: the patient's word is enough.
  if (auto s = TextFromRequest(req.text_version(), "textVersion", authorising); !s.ok()) return s;
  if (auto s = TextFromRequest(req.evidence_ref(), "evidenceRef", authorising, 500); !s.ok())
    return s;
  const absl::Time now = clock_.Now();
  auto at = TimeOr(req.recorded_at(), req.has_recorded_at(), "recordedAt", now);
  if (!at.ok()) return at.status();
  if (*at > now + kRequestClockSlack)
    return absl::InvalidArgumentError("recordedAt is in the future");
  if (auto patient = KnownPatient(calls_, req.patient_id()); !patient.ok()) return patient.status();
  ConsentRecord c{req.patient_id(),
                  std::string(policy::PurposeName(*purpose)),
                  std::string(policy::ChannelName(*channel)),
                  req.state(),
                  req.source(),
                  req.text_version(),
                  req.evidence_ref(),
                  *at,
                  principal};
  auto id = policy_.AppendConsent(c);
  if (!id.ok()) return id.status();
  v1::RecordConsentResponse out;
  out.set_consent_id(*id);
  return out;
}

absl::StatusOr<v1::RecordContactResponse> ContactLedger::RecordContact(
    const std::string& principal, const v1::RecordContactRequest& req) {
  ContactRecord c;
  if (req.channel().empty()) return absl::InvalidArgumentError("channel is required");
  auto channel = ChannelFromRequest(req.channel());
  if (!channel.ok()) return channel.status();
  auto purpose = PurposeFromRequest(req.purpose());
  if (!purpose.ok()) return purpose.status();
  if (auto s = TextFromRequest(req.source(), "source", true); !s.ok()) return s;
  if (auto s = TextFromRequest(req.external_ref(), "externalRef", false, 500); !s.ok()) return s;
  if (auto s = TextFromRequest(req.outcome(), "outcome", false); !s.ok()) return s;
  if (!req.has_at()) return absl::InvalidArgumentError("at is required");
  auto at = TimeOr(req.at(), true, "at", absl::Time());
  if (!at.ok()) return at.status();
  if (*at > clock_.Now() + kRequestClockSlack)
    return absl::InvalidArgumentError("at is in the future");
  if (req.has_patient_id()) {
    if (auto s = PatientIdFromRequest(req.patient_id()); !s.ok()) return s;
    if (auto patient = KnownPatient(calls_, req.patient_id()); !patient.ok())
      return patient.status();
    c.patient_id = req.patient_id();
  }
  if (!req.phone_number().empty()) {
    auto phone = PhoneFromRequest(req.phone_number(), default_country_code_);
    if (!phone.ok()) return phone.status();
    c.phone_e164 = *phone;
  } else if (!c.patient_id) {
    return absl::InvalidArgumentError("patientId or phoneNumber is required");
  }
  c.channel = std::string(policy::ChannelName(*channel));
  c.purpose = std::string(policy::PurposeName(*purpose));
  c.at = *at;
  c.answered = req.answered();
  c.outcome = req.outcome();
  c.source = req.source();
  c.external_ref = req.external_ref();
  c.recorded_by = principal;
  auto r = policy_.AppendContact(c);
  if (!r.ok()) return r.status();
  v1::RecordContactResponse out;
  out.set_contact_id(r->first);
  out.set_duplicate(r->second);
  return out;
}

absl::StatusOr<v1::ExportEvidenceResponse> ContactLedger::ExportEvidence(
    const v1::ExportEvidenceRequest& req) {
  if (req.format() != "" && req.format() != "json" && req.format() != "csv")
    return absl::InvalidArgumentError(
        Cat("format: unknown value '", req.format(), "' (json, csv)"));
  if (req.page_size() < 0 || req.page_size() > 10000)
    return absl::InvalidArgumentError("pageSize must be between 1 and 10000");
  const absl::Time now = clock_.Now();
  EvidenceQuery q;
  if (req.has_patient_id()) {
    if (auto s = PatientIdFromRequest(req.patient_id()); !s.ok()) return s;
    q.patient_id = req.patient_id();
  }
  auto to = TimeOr(req.to(), req.has_to(), "to", now);
  if (!to.ok()) return to.status();
  auto from = TimeOr(req.from(), req.has_from(), "from", *to - absl::Hours(24 * 31));
  if (!from.ok()) return from.status();
  if (*from >= *to) return absl::InvalidArgumentError("from must be before to");
  q.from = *from;
  q.to = *to;
  q.limit = req.page_size() == 0 ? 1000 : req.page_size();
  if (!req.page_token().empty() && !absl::SimpleAtoi(req.page_token(), &q.after_id))
    return absl::InvalidArgumentError("pageToken is not one this API gave");
  auto rows = policy_.Evidence(q);
  if (!rows.ok()) return rows.status();
  v1::ExportEvidenceResponse out;
  std::string csv;
  const bool as_csv = req.format() == "csv";
  if (as_csv) {
    csv =
        "decision_id,decided_at_bogota,patient_id,phone_number,purpose,channel,allowed,rule,"
        "profile,override_reason,decided_for,consent_reference,excluded_list_version,call_id,"
        "outcome,retention\r\n";
  }
  for (const EvidenceRecord& e : *rows) {
    v1::EvidenceRow row;
    row.set_decision_id(e.decision_id);
    row.set_decided_at(BogotaTime(e.decided_at));
    if (e.patient_id) row.set_patient_id(*e.patient_id);
    row.set_phone_number(e.phone_e164);
    row.set_purpose(e.purpose);
    row.set_channel(e.channel);
    row.set_allowed(e.allowed);
    row.set_rule(e.rule);
    row.set_profile(Cat(e.profile_id, " v", e.profile_version));
    row.set_override_reason(e.override_reason);
    row.set_decided_for(e.decided_for);
    row.set_consent_reference(e.consent_reference);
    row.set_excluded_list_version(e.excluded_list_version);
    row.set_call_id(e.call_id);
    row.set_outcome(e.outcome);
    row.set_retention(e.retention);
    if (as_csv) {
      csv += Cat(row.decision_id(), ",", CsvField(row.decided_at()), ",",
                 row.has_patient_id() ? std::to_string(row.patient_id()) : std::string(), ",",
                 CsvField(row.phone_number()), ",", CsvField(row.purpose()), ",",
                 CsvField(row.channel()), ",", row.allowed() ? "true" : "false", ",",
                 CsvField(row.rule()), ",", CsvField(row.profile()), ",",
                 CsvField(row.override_reason(), true), ",", CsvField(row.decided_for(), true), ",",
                 CsvField(row.consent_reference(), true), ",",
                 CsvField(row.excluded_list_version(), true), ",", CsvField(row.call_id()), ",",
                 CsvField(row.outcome()), ",", CsvField(row.retention()), "\r\n");
    } else {
      *out.add_rows() = std::move(row);
    }
  }
  if (as_csv) out.set_csv(std::move(csv));
  if (static_cast<int>(rows->size()) == q.limit) {
    out.set_next_page_token(std::to_string(rows->back().decision_id));
  }
  return out;
}

}  // namespace outcall::call_gateway
