// One place where absl::Status meets the outside: gRPC statuses and HTTP codes.
#pragma once

#include <exception>

#include "absl/status/status.h"

namespace grpc {
class Status;
}

namespace outcall::common {

// absl and gRPC share canonical codes; the message is carried as is (callers never put SQL
// text or secrets in a Status message that can reach a client).
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

// The HTTP status Envoy's transcoder uses for a code (INVALID_ARGUMENT 400, NOT_FOUND 404, ...).
int HttpStatusForCode(absl::StatusCode code);

// Maps a libpqxx/std exception to the most specific code: unique violation ALREADY_EXISTS,
// other integrity violations FAILED_PRECONDITION, serialization failure and deadlock ABORTED,
// broken connection UNAVAILABLE, statement timeout DEADLINE_EXCEEDED, anything else INTERNAL.
// The message names the class of failure, never the SQL text.
// Integrity violations (class 23 but 23505) and data exceptions (class 22: a value out of
// range, an invalid character) are marked as data errors (IsDataError): the same statement with
// the same values will always fail, so retrying it is pointless. Their message names the
// SQLSTATE and, when the server gave one, the constraint, never the row.
absl::Status StatusFromDbException(const std::exception& e);

// True for a status made by StatusFromDbException from a data error (see above).
bool IsDataError(const absl::Status& status);

}  // namespace outcall::common
