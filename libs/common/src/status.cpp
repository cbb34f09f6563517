#include "outcall/common/status.h"

#include <grpcpp/support/status.h>

#include <pqxx/except>

#include "absl/strings/cord.h"

#include "outcall/common/strings.h"

namespace outcall::common {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

int HttpStatusForCode(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk: return 200;
    case absl::StatusCode::kCancelled: return 499;
    case absl::StatusCode::kInvalidArgument: return 400;
    case absl::StatusCode::kDeadlineExceeded: return 504;
    case absl::StatusCode::kNotFound: return 404;
    case absl::StatusCode::kAlreadyExists: return 409;
    case absl::StatusCode::kPermissionDenied: return 403;
    case absl::StatusCode::kUnauthenticated: return 401;
    case absl::StatusCode::kResourceExhausted: return 429;
    case absl::StatusCode::kFailedPrecondition: return 400;
    case absl::StatusCode::kAborted: return 409;
    case absl::StatusCode::kOutOfRange: return 400;
    case absl::StatusCode::kUnimplemented: return 501;
    case absl::StatusCode::kUnavailable: return 503;
    case absl::StatusCode::kDataLoss: return 500;
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kInternal:
    default: return 500;
  }
}

namespace {

constexpr absl::string_view kDataErrorPayload = "type.outcall/db-data-error";

// The constraint's name from the server's primary message ("... violates check constraint
// \"name\""), which holds names only; the DETAIL line with the row is never read.
std::string ConstraintName(std::string_view what) {
  what = what.substr(0, what.find('\n'));
  const size_t at = what.find("constraint \"");
  if (at == std::string_view::npos) return {};
  const size_t begin = at + 12;
  const size_t end = what.find('"', begin);
  if (end == std::string_view::npos || end - begin > 63) return {};
  return std::string(what.substr(begin, end - begin));
}

absl::Status DataError(absl::Status s) {
  s.SetPayload(kDataErrorPayload, absl::Cord("1"));
  return s;
}

}  // namespace

bool IsDataError(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kDataErrorPayload).has_value();
}

absl::Status StatusFromDbException(const std::exception& e) {
  if (dynamic_cast<const pqxx::broken_connection*>(&e) != nullptr) {
    return absl::UnavailableError("database connection lost");
  }
  // libpqxx 6 raises these without an SQLSTATE, and not as sql_error: match by class.
  if (dynamic_cast<const pqxx::statement_completion_unknown*>(&e) != nullptr) {
    return absl::UnavailableError("database statement outcome unknown");
  }
  if (dynamic_cast<const pqxx::transaction_rollback*>(&e) != nullptr) {
    return absl::AbortedError("transaction conflict, retry");
  }
  if (dynamic_cast<const pqxx::unique_violation*>(&e) != nullptr) {
    return absl::AlreadyExistsError("duplicate record");
  }
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string state = sql->sqlstate();
    if (state == "23505") return absl::AlreadyExistsError("duplicate record");
    if (state.rfind("23", 0) == 0) {
      const std::string name = ConstraintName(sql->what());
      return DataError(absl::FailedPreconditionError(
          Cat("data constraint violated (", state, name.empty() ? "" : " ", name, ")")));
    }
    if (state.rfind("22", 0) == 0) {
      return DataError(absl::InvalidArgumentError(Cat("data value refused (", state, ")")));
    }
    if (state == "40001" || state == "40P01") {
      return absl::AbortedError("transaction conflict, retry");
    }
    if (state == "57014") return absl::DeadlineExceededError("database statement timed out");
    if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03" ||
        state == "53300") {
      return absl::UnavailableError(Cat("database unavailable (", state, ")"));
    }
    return absl::InternalError(Cat("database error (", state, ")"));
  }
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e) != nullptr) {
    return absl::UnavailableError("database commit outcome unknown");
  }
  return absl::InternalError("database error");
}

}  // namespace outcall::common
