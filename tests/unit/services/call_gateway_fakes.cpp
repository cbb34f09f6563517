#include "call_gateway_fakes.h"

#include <boost/json.hpp>

#include "absl/strings/str_format.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"

namespace outcall::call_gateway::fakes {

using common::Cat;

namespace {

// call_status_rank (migration 0001): final states share the top rank; unknown ones have none.
std::optional<int> Rank(std::string_view s) {
  if (s == "queued") return 0;
  if (s == "dialing") return 1;
  if (s == "initiated") return 2;
  if (s == "ringing") return 3;
  if (s == "in_progress") return 4;
  if (IsFinalStatus(s)) return 5;
  return std::nullopt;
}

// call_status_can_transition: the same state, or forward out of a non-final one. Unknown states
// are left to the column's CHECK there; here they are allowed as there.
bool CanTransition(std::string_view from, std::string_view to) {
  if (from == to) return true;
  const auto f = Rank(from), t = Rank(to);
  if (!f || !t) return true;
  if (IsFinalStatus(from)) return false;
  return *t > *f;
}

// The partial unique index elevenlabs_conversations_one_live_call_key covers these.
bool IsLive(std::string_view s) { return Rank(s).has_value() && !IsFinalStatus(s); }

constexpr absl::Duration kKeyLifetime = absl::Hours(24);

}  // namespace

// ---- FakeCallRepository: set-up and inspection

void FakeCallRepository::AddPatient(PatientRow patient) {
  absl::MutexLock lock(&mu_);
  patients_[patient.id] = std::move(patient);
}

void FakeCallRepository::AddAppointment(int appointment_id, int patient_id) {
  absl::MutexLock lock(&mu_);
  appointments_[appointment_id] = patient_id;
}

void FakeCallRepository::OptOutPhone(std::string e164) {
  absl::MutexLock lock(&mu_);
  opted_out_phones_.insert(std::move(e164));
}

void FakeCallRepository::OptOutPatient(int patient_id) {
  absl::MutexLock lock(&mu_);
  opted_out_patients_.insert(patient_id);
}

void FakeCallRepository::FailNext(std::string_view method, absl::Status status) {
  absl::MutexLock lock(&mu_);
  failures_[std::string(method)].push_back(std::move(status));
}

std::vector<FakeCall> FakeCallRepository::calls() const {
  absl::MutexLock lock(&mu_);
  std::vector<FakeCall> out;
  for (const auto& [row, c] : calls_) out.push_back(c);
  return out;
}

std::optional<FakeCall> FakeCallRepository::call(int64_t row) const {
  absl::MutexLock lock(&mu_);
  auto it = calls_.find(row);
  if (it == calls_.end()) return std::nullopt;
  return it->second;
}

std::optional<FakeKey> FakeCallRepository::key(const std::string& principal,
                                               const std::string& idem_key) const {
  absl::MutexLock lock(&mu_);
  auto it = keys_.find({principal, idem_key});
  if (it == keys_.end()) return std::nullopt;
  return it->second;
}

int FakeCallRepository::calls_of(std::string_view method) const {
  absl::MutexLock lock(&mu_);
  auto it = counts_.find(method);
  return it == counts_.end() ? 0 : it->second;
}

std::vector<std::string> FakeCallRepository::replayed_conversations() const {
  absl::MutexLock lock(&mu_);
  return replayed_;
}

// ---- FakeCallRepository: helpers

absl::Status FakeCallRepository::Enter(std::string_view method) {
  ++counts_[std::string(method)];
  auto it = failures_.find(method);
  if (it == failures_.end() || it->second.empty()) return absl::OkStatus();
  absl::Status s = std::move(it->second.front());
  it->second.pop_front();
  return s;
}

FakeCall* FakeCallRepository::Find(int64_t row) {
  auto it = calls_.find(row);
  return it == calls_.end() ? nullptr : &it->second;
}

StatusChange FakeCallRepository::Unchanged(const FakeCall& c, std::string_view cause) const {
  return StatusChange{c.row.conversation_id, c.row.call_id, c.row.status, c.row.status,
                      std::string(cause)};
}

StatusChange FakeCallRepository::Advance(FakeCall& c, std::string_view to, std::string_view cause) {
  if (!CanTransition(c.row.status, to)) return Unchanged(c, cause);
  StatusChange ch{c.row.conversation_id, c.row.call_id, std::string(to), c.row.status,
                  std::string(cause)};
  c.row.status = std::string(to);
  return ch;
}

void FakeCallRepository::CompleteKeys(int64_t row, int code, const std::string& response_json) {
  for (auto& [id, k] : keys_) {
    if (k.call_row == row && k.in_progress) {
      k.in_progress = false;
      k.grpc_code = code;
      k.response_json = response_json;
    }
  }
}

// ---- FakeCallRepository: CallRepository

absl::StatusOr<std::optional<PatientRow>> FakeCallRepository::FindPatient(int id) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("FindPatient"); !s.ok()) return s;
  auto it = patients_.find(id);
  if (it == patients_.end()) return std::optional<PatientRow>();
  return std::optional<PatientRow>(it->second);
}

absl::StatusOr<std::optional<PatientRow>> FakeCallRepository::FindPatientByPhone(
    const std::string& e164) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("FindPatientByPhone"); !s.ok()) return s;
  std::optional<PatientRow> found;
  for (const auto& [id, p] : patients_) {
    if (p.phone_e164 != e164) continue;
    if (found) return std::optional<PatientRow>();  // several: no guess
    found = p;
  }
  return found;
}

absl::StatusOr<std::optional<int>> FakeCallRepository::AppointmentPatient(int appointment_id) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("AppointmentPatient"); !s.ok()) return s;
  auto it = appointments_.find(appointment_id);
  if (it == appointments_.end()) return std::optional<int>();
  return std::optional<int>(it->second);
}

absl::StatusOr<bool> FakeCallRepository::IsOptedOut(const std::string& e164,
                                                    std::optional<int> patient_id) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("IsOptedOut"); !s.ok()) return s;
  // As CallStore: an opt-out of the number or of the patient, or the patient's do_not_call.
  if (opted_out_phones_.count(e164) > 0) return true;
  if (!patient_id) return false;
  if (opted_out_patients_.count(*patient_id) > 0) return true;
  auto it = patients_.find(*patient_id);
  return it != patients_.end() && it->second.do_not_call;
}

absl::StatusOr<std::optional<IdempotencyHit>> FakeCallRepository::FindKey(
    const std::string& principal, const std::string& idem_key, const std::string& request_sha256) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("FindKey"); !s.ok()) return s;
  if (idem_key.empty()) return std::optional<IdempotencyHit>();
  return ReadKey(principal, idem_key, request_sha256, clock_.Now());
}

absl::StatusOr<std::optional<IdempotencyHit>> FakeCallRepository::ReadKey(
    const std::string& principal, const std::string& idem_key, const std::string& request_sha256,
    absl::Time now) const {
  auto it = keys_.find({principal, idem_key});
  if (it == keys_.end() || it->second.expires_at <= now) return std::optional<IdempotencyHit>();
  const FakeKey& k = it->second;
  if (k.request_sha256 != request_sha256) {
    return absl::AlreadyExistsError(
        "Idempotency-Key was already used with a different request; use a new key for a new "
        "call");
  }
  return std::optional<IdempotencyHit>(
      IdempotencyHit{k.in_progress, k.grpc_code, k.response_json.empty() ? "{}" : k.response_json});
}

absl::StatusOr<CallRepository::Begin> FakeCallRepository::BeginCall(
    const NewCall& call, const std::string& principal, const std::string& idem_key,
    const std::string& request_sha256) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("BeginCall"); !s.ok()) return s;
  const absl::Time now = clock_.Now();
  Begin out;
  // A purpose under the frequency rules: no call beside a live one to the number or patient
  // (CallStore checks it first, under its locks).
  if (call.one_live_contact) {
    for (const auto& [row, c] : calls_) {
      if (!IsLive(c.row.status)) continue;
      if (c.row.phone_number == call.phone_number ||
          (call.patient_id && c.request.patient_id == call.patient_id)) {
        out.live_contact = c.row.call_id;
        return out;
      }
    }
  }
  if (!idem_key.empty()) {
    auto hit = ReadKey(principal, idem_key, request_sha256, now);
    if (!hit.ok()) return hit.status();
    if (hit->has_value()) {
      out.replay = **hit;
      return out;
    }
  }
  // One live call per phone number and appointment (0: none). Nothing is written on a refusal:
  // CallStore's key claim is rolled back with the transaction.
  const int appointment = call.appointment_id.value_or(0);
  for (const auto& [row, c] : calls_) {
    if (c.row.phone_number != call.phone_number ||
        c.request.appointment_id.value_or(0) != appointment || !IsLive(c.row.status)) {
      continue;
    }
    const std::string message =
        call.appointment_id ? Cat("a call to this patient for appointment ", *call.appointment_id,
                                  " is already live")
                            : Cat("a call to this phone number (",
                                  common::MaskPhone(call.phone_number), ") is already live");
    return absl::AlreadyExistsError(
        Cat(message, " (call ", c.row.call_id, ", ", c.row.status, ")"));
  }
  FakeCall c;
  c.request = call;
  c.row.id = next_row_++;
  c.row.call_id = absl::StrFormat("00000000-0000-4000-8000-%012d", c.row.id);
  c.row.status = "dialing";
  c.row.agent_id = call.agent_id;
  c.row.phone_number = call.phone_number;
  c.row.dial_attempted_unix = c.row.created_unix = absl::ToUnixSeconds(now);
  c.row.max_duration_secs = call.max_duration_secs;
  if (!idem_key.empty()) {
    keys_[{principal, idem_key}] =
        FakeKey{request_sha256, true, 0, "", c.row.id, now + kKeyLifetime};
  }
  out.call = c.row;
  calls_.emplace(c.row.id, std::move(c));
  return out;
}

absl::Status FakeCallRepository::FinishKey(const std::string& principal,
                                           const std::string& idem_key, int64_t call_row,
                                           int grpc_code, const std::string& response_json) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("FinishKey"); !s.ok()) return s;
  if (idem_key.empty()) return absl::OkStatus();
  auto it = keys_.find({principal, idem_key});
  if (it == keys_.end()) return absl::OkStatus();  // an UPDATE of no row
  FakeKey& k = it->second;
  k.in_progress = false;
  k.grpc_code = grpc_code;
  k.response_json = response_json;
  if (k.call_row == 0) k.call_row = call_row;
  return absl::OkStatus();
}

absl::StatusOr<StatusChange> FakeCallRepository::MarkInitiated(int64_t row,
                                                               const std::string& conversation_id,
                                                               const std::string& call_sid,
                                                               std::string_view cause) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("MarkInitiated"); !s.ok()) return s;
  FakeCall* c = Find(row);
  if (c == nullptr) return absl::NotFoundError(Cat("no call row ", row));
  StatusChange ch;
  if (c->row.conversation_id.empty() || CanTransition(c->row.status, "initiated")) {
    // The ids are set once (the first conversation id wins), the status moves when it may.
    if (c->row.conversation_id.empty()) {
      c->row.conversation_id = conversation_id;
      if (!call_sid.empty()) c->row.call_sid = call_sid;
    }
    ch = CanTransition(c->row.status, "initiated") ? Advance(*c, "initiated", cause)
                                                   : Unchanged(*c, cause);
    ch.conversation_id = c->row.conversation_id;
  } else {
    ch = Unchanged(*c, cause);
  }
  if (!c->row.conversation_id.empty()) {
    CompleteKeys(row, 0, MessageJson(InitiatedResponse(c->row.conversation_id, c->row.call_id)));
  }
  return ch;
}

absl::StatusOr<StatusChange> FakeCallRepository::MarkFailed(int64_t row,
                                                            const ProviderErrorRecord& error,
                                                            std::string_view cause,
                                                            const absl::Status& answer) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("MarkFailed"); !s.ok()) return s;
  FakeCall* c = Find(row);
  if (c == nullptr) return absl::NotFoundError(Cat("no call row ", row));
  StatusChange ch = Advance(*c, "failed", cause);
  ProviderErrorRecord e = error;
  e.message = e.message.empty() ? std::string("unknown error") : common::RedactPhones(e.message);
  c->errors.push_back(std::move(e));
  if (!c->row.conversation_id.empty()) {
    // ElevenLabs had accepted it after all: that is the answer the client would have got.
    CompleteKeys(row, 0, MessageJson(InitiatedResponse(c->row.conversation_id, c->row.call_id)));
  } else if (!answer.ok()) {
    CompleteKeys(row, static_cast<int>(answer.code()),
                 boost::json::serialize(boost::json::object{
                     {"message", common::RedactPhones(common::ToStd(answer.message()))}}));
  }
  return ch;
}

absl::Status FakeCallRepository::DiscardUnplaced(int64_t row) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("DiscardUnplaced"); !s.ok()) return s;
  FakeCall* c = Find(row);
  if (c == nullptr) return absl::NotFoundError(Cat("no call row ", row));
  c->row.status = "discarded";
  return absl::OkStatus();
}

absl::Status FakeCallRepository::RecordError(int64_t row, const std::string&,
                                             const ProviderErrorRecord& e) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("RecordError"); !s.ok()) return s;
  FakeCall* c = Find(row);
  if (c == nullptr) return absl::NotFoundError(Cat("no call row ", row));
  ProviderErrorRecord kept = e;
  kept.message =
      kept.message.empty() ? std::string("unknown error") : common::RedactPhones(kept.message);
  c->errors.push_back(std::move(kept));
  return absl::OkStatus();
}

absl::StatusOr<std::optional<CallRow>> FakeCallRepository::FindCall(const std::string& id) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("FindCall"); !s.ok()) return s;
  for (const auto& [row, c] : calls_) {
    if (c.row.call_id == id || (!id.empty() && c.row.conversation_id == id)) {
      return std::optional<CallRow>(c.row);
    }
  }
  return std::optional<CallRow>();
}

absl::StatusOr<std::optional<CallRepository::StoredAudio>> FakeCallRepository::LoadAudio(
    const std::string& conversation_id) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("LoadAudio"); !s.ok()) return s;
  return std::optional<StoredAudio>();  // the fake stores no recordings
}

absl::StatusOr<v1::Conversation> FakeCallRepository::LoadConversation(int64_t row) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("LoadConversation"); !s.ok()) return s;
  const FakeCall* c = Find(row);
  if (c == nullptr) return absl::NotFoundError(Cat("no call row ", row));
  v1::Conversation conv;
  conv.set_conversation_id(c->row.conversation_id);
  conv.set_call_id(c->row.call_id);
  conv.set_status(c->row.status);
  conv.set_agent_id(c->row.agent_id);
  conv.set_patient_id(c->request.patient_id.value_or(0));
  conv.set_appointment_id(c->request.appointment_id.value_or(0));
  conv.set_phone_number(c->row.phone_number);
  conv.set_termination_reason(c->termination_reason);
  conv.mutable_created_at()->set_seconds(c->row.created_unix);
  for (const auto& e : c->errors) {
    auto* err = conv.add_errors();
    err->set_conversation_id(c->row.conversation_id);
    err->set_call_id(c->row.call_id);
    err->set_source(e.source);
    err->set_code(e.code);
    err->set_http_status(e.http_status);
    err->set_message(e.message);
  }
  return conv;
}

absl::StatusOr<StatusChange> FakeCallRepository::AdvanceStatus(
    int64_t row, std::string_view status, std::string_view cause,
    std::optional<std::string> termination_reason) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("AdvanceStatus"); !s.ok()) return s;
  FakeCall* c = Find(row);
  if (c == nullptr) return absl::NotFoundError(Cat("no call row ", row));
  StatusChange ch = Advance(*c, status, cause);
  if (ch.status == status && ch.previous_status != status && termination_reason) {
    c->termination_reason = *termination_reason;
  }
  return ch;
}

absl::StatusOr<std::optional<std::string>> FakeCallRepository::ExportPatientData(int patient_id) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("ExportPatientData"); !s.ok()) return s;
  auto it = patients_.find(patient_id);
  if (it == patients_.end()) return std::optional<std::string>();
  boost::json::object patient{{"id", it->second.id}, {"full_name", it->second.full_name}};
  return std::optional<std::string>(
      boost::json::serialize(boost::json::object{{"patient", std::move(patient)}}));
}

absl::Status FakeCallRepository::EraseData(int64_t row) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("EraseData"); !s.ok()) return s;
  FakeCall* c = Find(row);
  if (c == nullptr) return absl::NotFoundError(Cat("no call row ", row));
  c->erased = true;
  c->request.patient_name.clear();
  c->request.custom_variables_json = "{}";
  return absl::OkStatus();
}

absl::Status FakeCallRepository::ReplayUnmatched(const std::string& conversation_id,
                                                 std::vector<StatusChange>&) {
  absl::MutexLock lock(&mu_);
  if (auto s = Enter("ReplayUnmatched"); !s.ok()) return s;
  replayed_.push_back(conversation_id);  // nothing is kept unmatched here: no change to replay
  return absl::OkStatus();
}

// ---- FakeElevenLabs

void FakeElevenLabs::QueuePlace(elevenlabs::Result<elevenlabs::PlacedCall> result) {
  absl::MutexLock lock(&mu_);
  place_answers_.push_back(std::move(result));
}

void FakeElevenLabs::QueueFind(
    elevenlabs::Result<std::vector<elevenlabs::ConversationBrief>> result) {
  absl::MutexLock lock(&mu_);
  find_answers_.push_back(std::move(result));
}

std::vector<elevenlabs::OutboundCall> FakeElevenLabs::placed() const {
  absl::MutexLock lock(&mu_);
  return placed_;
}

std::vector<FakeElevenLabs::FindRequest> FakeElevenLabs::finds() const {
  absl::MutexLock lock(&mu_);
  return finds_;
}

elevenlabs::Result<std::vector<elevenlabs::AgentInfo>> FakeElevenLabs::ListAgents() const {
  ++list_agents_calls;
  if (!fail.ok()) return fail;
  return agents;
}

elevenlabs::Result<elevenlabs::PlacedCall> FakeElevenLabs::PlaceTwilioCall(
    const elevenlabs::OutboundCall& call) const {
  absl::MutexLock lock(&mu_);
  placed_.push_back(call);
  if (place_answers_.empty()) {
    return absl::InternalError("FakeElevenLabs: no PlaceTwilioCall answer queued");
  }
  auto answer = std::move(place_answers_.front());
  place_answers_.pop_front();
  return answer;
}

elevenlabs::Result<std::vector<elevenlabs::ConversationBrief>> FakeElevenLabs::FindByUserId(
    std::string_view user_id, std::string_view agent_id, int64_t after_unix) const {
  absl::MutexLock lock(&mu_);
  finds_.push_back({std::string(user_id), std::string(agent_id), after_unix});
  if (find_answers_.empty()) {
    return absl::InternalError("FakeElevenLabs: no FindByUserId answer queued");
  }
  auto answer = std::move(find_answers_.front());
  find_answers_.pop_front();
  return answer;
}

elevenlabs::Result<boost::json::object> FakeElevenLabs::GetConversation(std::string_view) const {
  return absl::UnimplementedError("not in this fake");
}

elevenlabs::Result<elevenlabs::ConversationAudio> FakeElevenLabs::GetConversationAudio(
    std::string_view, size_t, absl::Duration) const {
  return absl::UnimplementedError("not in this fake");
}

void FakeElevenLabs::QueueDelete(elevenlabs::Result<elevenlabs::Done> result) {
  absl::MutexLock lock(&mu_);
  delete_answers_.push_back(std::move(result));
}

std::vector<std::string> FakeElevenLabs::deleted() const {
  absl::MutexLock lock(&mu_);
  return deleted_;
}

elevenlabs::Result<elevenlabs::Done> FakeElevenLabs::DeleteConversation(
    std::string_view conversation_id) const {
  absl::MutexLock lock(&mu_);
  deleted_.emplace_back(conversation_id);
  if (delete_answers_.empty()) return elevenlabs::Done{};
  auto answer = std::move(delete_answers_.front());
  delete_answers_.pop_front();
  return answer;
}

elevenlabs::Result<std::string> FakeElevenLabs::UpdateTwilioCall(std::string_view,
                                                                 std::string_view) const {
  return absl::UnimplementedError("not in this fake");
}

absl::StatusOr<PolicyInputs> FakePolicyRepository::LoadPolicyInputs(const PolicySubject& subject,
                                                                    policy::Channel,
                                                                    absl::Time at,
                                                                    const ProfileRef*) {
  absl::MutexLock lock(&mu_);
  asked_.push_back(subject);
  if (!fail_load.ok()) return fail_load;
  PolicyInputs in = inputs;
  // As the statement: only what happened up to the instant.
  std::erase_if(in.history, [&](const policy::LedgerEntry& e) { return e.at > at; });
  std::erase_if(in.consents, [&](const policy::Consent& c) { return c.recorded_at > at; });
  return in;
}

absl::Status FakePolicyRepository::RecordDecision(const DecisionRecord& decision) {
  absl::MutexLock lock(&mu_);
  refusals_.push_back(decision);
  return absl::OkStatus();
}

absl::Status FakePolicyRepository::EnsureProfile(const std::string& id, int version,
                                                 const std::string& document) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = profiles_.emplace(std::make_pair(id, version), document);
  if (!inserted && it->second != document)
    return absl::FailedPreconditionError("profile stored with another text");
  return absl::OkStatus();
}

absl::StatusOr<int64_t> FakePolicyRepository::AppendConsent(const ConsentRecord& consent) {
  absl::MutexLock lock(&mu_);
  consents_.push_back(consent);
  return static_cast<int64_t>(consents_.size());
}

absl::StatusOr<std::pair<int64_t, bool>> FakePolicyRepository::AppendContact(
    const ContactRecord& contact) {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < contacts_.size(); ++i) {  // (source, external_ref) is unique
    if (!contact.external_ref.empty() && contacts_[i].source == contact.source &&
        contacts_[i].external_ref == contact.external_ref) {
      return std::make_pair(static_cast<int64_t>(i + 1), true);
    }
  }
  contacts_.push_back(contact);
  return std::make_pair(static_cast<int64_t>(contacts_.size()), false);
}

absl::StatusOr<std::vector<EvidenceRecord>> FakePolicyRepository::Evidence(const EvidenceQuery& q) {
  absl::MutexLock lock(&mu_);
  std::vector<EvidenceRecord> out;
  for (const auto& e : evidence) {
    if (q.patient_id && e.patient_id != q.patient_id) continue;
    if (e.decided_at < q.from || e.decided_at >= q.to || e.decision_id <= q.after_id) continue;
    if (static_cast<int>(out.size()) == q.limit) break;
    out.push_back(e);
  }
  return out;
}

std::vector<ConsentRecord> FakePolicyRepository::consents() const {
  absl::MutexLock lock(&mu_);
  return consents_;
}

std::vector<ContactRecord> FakePolicyRepository::contacts() const {
  absl::MutexLock lock(&mu_);
  return contacts_;
}

std::vector<DecisionRecord> FakePolicyRepository::refusals() const {
  absl::MutexLock lock(&mu_);
  return refusals_;
}

std::vector<PolicySubject> FakePolicyRepository::asked() const {
  absl::MutexLock lock(&mu_);
  return asked_;
}

}  // namespace outcall::call_gateway::fakes
