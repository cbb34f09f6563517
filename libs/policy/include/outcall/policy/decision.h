// The contact-policy decision: may this patient be contacted, for this purpose, on this channel,
// at this instant? Pure: the caller reads the contact ledger, the consents, the opt-out and the
// RNE result from its database and passes them in, and passes the instant too (no clock is read
// here), so a decision is reproducible from its record and cheap enough for every dial.
//
// Days are the patient's local calendar days; weeks are ISO weeks (Monday to Sunday) in the
// patient's zone. docs/policy.md has the rules, their order and the readings of the law chosen.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "outcall/policy/profile.h"

namespace outcall::policy {

// One earlier contact attempt, as the ledger holds it.
struct LedgerEntry {
  absl::Time at;
  Channel channel = Channel::kVoice;
  Purpose purpose = Purpose::kConfirmation;
  bool answered = false;  // a "contacto directo": the patient (not voicemail) answered
};

enum class ConsentState { kAuthorised, kRevoked };

// The patient's authorisation (Ley 1581 / Ley 2300 art. 2) for one purpose on one channel.
struct Consent {
  Purpose purpose = Purpose::kPromotion;
  Channel channel = Channel::kVoice;
  ConsentState state = ConsentState::kAuthorised;
  std::string reference;  // the caller's id of the proof (form, recording, message)
  // When it was given or revoked. Of several records for one purpose and channel the latest up to
  // the decision's instant counts (a revocation wins a tie); later ones are ignored.
  absl::Time recorded_at = absl::InfinitePast();
};

// The result of consulting the Registro de Números Excluidos for the number on this channel.
struct ExcludedNumberCheck {
  bool listed = false;
  std::string list_version;  // which RNE download or query answered, e.g. "2026-11-30"
};

struct DecisionRequest {
  Profile profile;
  Purpose purpose = Purpose::kConfirmation;
  Channel channel = Channel::kVoice;
  absl::Time at;                             // the instant to evaluate
  std::string time_zone = "America/Bogota";  // the patient's IANA zone
  std::vector<LedgerEntry> history;          // the patient's earlier contacts
  std::vector<Consent> consents;
  bool opted_out = false;  // the patient or number asked not to be contacted (any purpose)
  // nullopt: the RNE was not consulted, which refuses when the profile requires the check.
  std::optional<ExcludedNumberCheck> excluded_number;
};

struct Decision {
  bool allowed = false;
  // "" when allowed; else one of "opt_out", "excluded_number", "consent", "holiday", "sunday",
  // "hours", "daily_cap", "weekly_channel", "weekly_cap".
  std::string rule;
  std::string message;  // Spanish, for staff: "fuera del horario permitido (...); próximo ..."
  std::string profile_id;
  int profile_version = 0;
  // For a refusal by a time-based rule (holiday, sunday, hours, the caps): the first instant at
  // or after `at` at which the same request passes them. nullopt when allowed, when the refusal
  // is not time-based, or when no instant within a year passes.
  std::optional<absl::Time> next_allowed_at;
  // JSON: the inputs used and the outcome, for the caller to store with the attempt.
  std::string record_json;
};

// INVALID_ARGUMENT for an unknown time zone, an infinite `at` or a profile without an id.
absl::StatusOr<Decision> Decide(const DecisionRequest& request);

// Whether two local days are in the same ISO week, and the week's label ("2026-W49").
bool SameIsoWeek(absl::CivilDay a, absl::CivilDay b);
std::string IsoWeekLabel(absl::CivilDay day);

}  // namespace outcall::policy
