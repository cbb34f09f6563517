#include "data_requests.h"

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "contact_policy.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"

namespace outcall::call_gateway {
namespace {

using common::Cat;

// A claimed erasure is skipped by other replicas this long (a pass that dies leaves it to the
// next one after that).
constexpr absl::Duration kLease = absl::Minutes(5);
// A call still live is looked at again after this; a refused DELETE waits 1, 2, 4, ... minutes,
// up to an hour.
constexpr absl::Duration kLiveCallWait = absl::Minutes(1);
constexpr absl::Duration kMaxBackoff = absl::Hours(1);

}  // namespace

v1::DataRequest DataRequests::ToProto(const DataRequestRow& row) const {
  v1::DataRequest out;
  out.set_request_id(row.id);
  out.set_patient_id(row.patient_id);
  out.set_kind(row.kind);
  out.set_state(row.state);
  out.set_received_via(row.received_via);
  out.set_external_ref(row.external_ref);
  out.set_requested_by(row.requested_by);
  out.set_received_at(BogotaTime(row.received_at));
  out.set_due_at(BogotaTime(row.due_at));
  out.set_extended_due_at(BogotaTime(row.extended_due_at));
  if (auto kind = policy::ParseDataRequestKind(row.kind); kind.ok())
    out.set_legal_basis(std::string(policy::TermFor(*kind).article));
  out.set_overdue(row.state != "completed" && clock_.Now() >= row.due_at);
  if (row.completed_at) out.set_completed_at(BogotaTime(*row.completed_at));
  if (!google::protobuf::util::JsonStringToMessage(row.detail_json, out.mutable_detail()).ok())
    out.clear_detail();
  out.set_erasures_pending(row.erasures_pending);
  out.set_last_error(row.last_error);
  out.set_duplicate(row.duplicate);
  return out;
}

absl::StatusOr<v1::DataRequest> DataRequests::Create(const std::string& principal,
                                                     const v1::CreateDataRequestRequest& req) {
  if (auto s = PatientIdFromRequest(req.patient_id()); !s.ok()) return s;
  if (req.kind().empty()) return absl::InvalidArgumentError("kind is required");
  auto kind = policy::ParseDataRequestKind(req.kind());
  if (!kind.ok()) return kind.status();
  if (auto s = TextFromRequest(req.received_via(), "receivedVia", true, 50); !s.ok()) return s;
  if (auto s = TextFromRequest(req.external_ref(), "externalRef", false, 200); !s.ok()) return s;
  const absl::Time now = clock_.Now();
  absl::Time received = now;
  if (req.has_received_at()) {
    auto at = InstantFromRequest(req.received_at(), "receivedAt");
    if (!at.ok()) return at.status();
    if (*at > now + kRequestClockSlack)
      return absl::InvalidArgumentError("receivedAt is in the future");
    received = std::min(*at, now);
  }
  NewDataRequest r{.patient_id = req.patient_id(),
                   .kind = *kind,
                   .received_via = req.received_via(),
                   .external_ref = req.external_ref(),
                   .requested_by = principal,
                   .received_at = received,
                   .deadlines = policy::DeadlinesFor(*kind, received, BogotaZone())};
  const bool rectifying = *kind == policy::DataRequestKind::kRectification;
  if (!rectifying && (req.has_full_name() || req.has_phone_number() || req.has_time_zone())) {
    return absl::InvalidArgumentError(
        "fullName, phoneNumber and timeZone are for a rectification only");
  }
  if (rectifying) {
    if (!req.has_full_name() && !req.has_phone_number() && !req.has_time_zone()) {
      return absl::InvalidArgumentError(
          "a rectification needs fullName, phoneNumber or timeZone (the corrected values)");
    }
    if (req.has_full_name()) {
      const std::string name(absl::StripAsciiWhitespace(req.full_name()));
      if (auto s = TextFromRequest(name, "fullName", true, 200); !s.ok()) return s;
      r.full_name = name;
    }
    if (req.has_phone_number()) {
      auto phone = PhoneFromRequest(req.phone_number(), default_country_code_);
      if (!phone.ok()) return phone.status();
      r.phone_e164 = *phone;
    }
    if (req.has_time_zone()) {
      absl::TimeZone probe;
      if (!req.time_zone().empty() && !absl::LoadTimeZone(req.time_zone(), &probe)) {
        return absl::InvalidArgumentError(
            Cat("timeZone: '", req.time_zone(), "' is not in the time-zone database"));
      }
      r.time_zone = req.time_zone();
    }
  }
  // Access: the document is assembled first, so a request recorded as completed was delivered.
  google::protobuf::Struct document;
  const bool access = *kind == policy::DataRequestKind::kAccess;
  if (access) {
    if (auto s = PatientDocument(calls_, req.patient_id(), &document); !s.ok()) return s;
  }
  auto row = repo_.CreateDataRequest(r);
  if (!row.ok()) return row.status();
  if (!row->has_value())
    return absl::NotFoundError(Cat("patient ", req.patient_id(), " not found"));
  v1::DataRequest out = ToProto(**row);
  if (access) *out.mutable_document() = std::move(document);
  // Ids and kinds only: the request's values are the patient's data.
  spdlog::info("data request {} ({}) for patient {}{}", out.request_id(), out.kind(),
               out.patient_id(), out.duplicate() ? ": registered before" : "");
  return out;
}

absl::StatusOr<v1::DataRequest> DataRequests::Get(const v1::GetDataRequestRequest& req) {
  if (req.request_id() <= 0)
    return absl::InvalidArgumentError("requestId must be a positive integer");
  auto row = repo_.GetDataRequest(req.request_id());
  if (!row.ok()) return row.status();
  if (!row->has_value())
    return absl::NotFoundError(Cat("data request ", req.request_id(), " not found"));
  return ToProto(**row);
}

absl::StatusOr<v1::ListDataRequestsResponse> DataRequests::List(
    const v1::ListDataRequestsRequest& req) {
  if (!req.state().empty() && req.state() != "in_progress" && req.state() != "completed") {
    return absl::InvalidArgumentError(
        Cat("state: unknown value '", req.state(), "' (in_progress, completed)"));
  }
  if (req.limit() < 0 || req.limit() > 1000)
    return absl::InvalidArgumentError("limit must be between 1 and 1000");
  std::optional<int> patient;
  if (req.has_patient_id()) {
    if (auto s = PatientIdFromRequest(req.patient_id()); !s.ok()) return s;
    patient = req.patient_id();
  }
  auto rows = repo_.ListDataRequests(req.state(), patient, req.limit() == 0 ? 100 : req.limit());
  if (!rows.ok()) return rows.status();
  v1::ListDataRequestsResponse out;
  for (const auto& r : *rows) *out.add_requests() = ToProto(r);
  return out;
}

absl::StatusOr<DataRequests::ErasurePass> DataRequests::WorkErasures(int limit) {
  auto items = repo_.ClaimErasures(limit, kLease);
  if (!items.ok()) return items.status();
  ErasurePass pass;
  for (const ErasureItem& item : *items) {
    const absl::Time now = clock_.Now();
    if (!item.call_final) {
      // Erasing a live call would leave its end unrecorded; it is erased once it has ended.
      if (auto s = repo_.PostponeErasure(item, now + kLiveCallWait, ""); !s.ok()) return s;
      ++pass.waiting;
      continue;
    }
    if (!item.conversation_id.empty()) {
      auto del = Timed(metrics_, "delete_conversation",
                       [&] { return api_.DeleteConversation(item.conversation_id); });
      // 404: ElevenLabs has nothing (deleted before, or never kept): done there.
      if (!del.ok() && del.status().code() != absl::StatusCode::kNotFound) {
        const absl::Duration wait =
            std::min(kMaxBackoff, absl::Minutes(1) * (int64_t{1} << std::min(item.attempts, 6)));
        const std::string error =
            Cat("ElevenLabs did not erase conversation ", item.conversation_id, ": ",
                common::ToStd(del.status().message()));
        if (auto s = repo_.PostponeErasure(item, now + wait, error); !s.ok()) return s;
        spdlog::warn("data request {}: {} (try {}, next in {})", item.request_id, error,
                     item.attempts + 1, absl::FormatDuration(wait));
        ++pass.failed;
        continue;
      }
    }
    if (auto s = repo_.FinishErasure(item); !s.ok()) return s;
    ++pass.erased;
  }
  metrics_.Erasure("erased", pass.erased);
  metrics_.Erasure("failed", pass.failed);
  // What an operator watches: requests open, and those past their legal deadline.
  auto open = repo_.CountOpenDataRequests();
  if (!open.ok()) return open.status();
  metrics_.DataRequests(open->open, open->overdue);
  return pass;
}

}  // namespace outcall::call_gateway
