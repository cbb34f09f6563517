// Unit tests for outcall/common/status.h: gRPC and HTTP mappings and database exceptions.
#include "outcall/common/status.h"

#include <gmock/gmock.h>
#include <grpcpp/support/status.h>
#include <gtest/gtest.h>

#include <pqxx/except>
#include <stdexcept>
#include <string>
#include <vector>

namespace outcall::common {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSql[] =
    "INSERT INTO calls (id, patient_phone) VALUES ('c-1', '+573001234567') -- secret_sql_marker";

TEST(GrpcStatusTest, OkRoundTrip) {
  const grpc::Status g = ToGrpcStatus(absl::OkStatus());
  EXPECT_TRUE(g.ok());
  EXPECT_EQ(g.error_code(), grpc::StatusCode::OK);
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(GrpcStatusTest, EveryCodeAndMessageRoundTrips) {
  const std::vector<std::pair<absl::StatusCode, grpc::StatusCode>> codes = {
      {absl::StatusCode::kCancelled, grpc::StatusCode::CANCELLED},
      {absl::StatusCode::kUnknown, grpc::StatusCode::UNKNOWN},
      {absl::StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
      {absl::StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
      {absl::StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
      {absl::StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
      {absl::StatusCode::kPermissionDenied, grpc::StatusCode::PERMISSION_DENIED},
      {absl::StatusCode::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
      {absl::StatusCode::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
      {absl::StatusCode::kAborted, grpc::StatusCode::ABORTED},
      {absl::StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
      {absl::StatusCode::kUnimplemented, grpc::StatusCode::UNIMPLEMENTED},
      {absl::StatusCode::kInternal, grpc::StatusCode::INTERNAL},
      {absl::StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
      {absl::StatusCode::kDataLoss, grpc::StatusCode::DATA_LOSS},
      {absl::StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
  };
  for (const auto& [absl_code, grpc_code] : codes) {
    SCOPED_TRACE(absl::StatusCodeToString(absl_code));
    const std::string message = "llamada no encontrada: ñandú \"x\"";
    const absl::Status original(absl_code, message);
    const grpc::Status g = ToGrpcStatus(original);
    EXPECT_FALSE(g.ok());
    EXPECT_EQ(g.error_code(), grpc_code);
    EXPECT_EQ(g.error_message(), message);
    const absl::Status back = FromGrpcStatus(g);
    EXPECT_EQ(back.code(), absl_code);
    EXPECT_EQ(back.message(), message);
    EXPECT_EQ(back, original);
  }
}

TEST(GrpcStatusTest, FromGrpcStatusConstructedDirectly) {
  const absl::Status s = FromGrpcStatus(grpc::Status(grpc::StatusCode::NOT_FOUND, "no such call"));
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "no such call");
}

TEST(HttpStatusForCodeTest, UsualCodes) {
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kOk), 200);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kFailedPrecondition), 400);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kOutOfRange), 400);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kAborted), 409);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kCancelled), 499);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kInternal), 500);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kUnknown), 500);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kDataLoss), 500);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kUnimplemented), 501);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kDeadlineExceeded), 504);
  EXPECT_EQ(HttpStatusForCode(static_cast<absl::StatusCode>(99)), 500);
}

// The message must name the class of failure and never carry the SQL text or the server's
// error text (which can quote row values such as phone numbers).
void ExpectNoSql(const absl::Status& s) {
  const std::string m(s.message());
  EXPECT_FALSE(m.empty());
  EXPECT_THAT(m, Not(HasSubstr("INSERT")));
  EXPECT_THAT(m, Not(HasSubstr("secret_sql_marker")));
  EXPECT_THAT(m, Not(HasSubstr("3001234567")));
}

TEST(StatusFromDbExceptionTest, UniqueViolationIsAlreadyExists) {
  const pqxx::unique_violation e(
      "ERROR: duplicate key value violates unique constraint \"calls_pkey\" DETAIL: Key "
      "(patient_phone)=(+573001234567) already exists. secret_sql_marker",
      kSql, "23505");
  const absl::Status s = StatusFromDbException(e);
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  ExpectNoSql(s);
  // Identified by its class even without an SQLSTATE.
  EXPECT_EQ(StatusFromDbException(pqxx::unique_violation("ERROR: duplicate", kSql)).code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(StatusFromDbExceptionTest, OtherIntegrityViolationsAreFailedPrecondition) {
  const pqxx::foreign_key_violation fk("ERROR: fk secret_sql_marker", kSql, "23503");
  EXPECT_EQ(StatusFromDbException(fk).code(), absl::StatusCode::kFailedPrecondition);
  ExpectNoSql(StatusFromDbException(fk));
  const pqxx::check_violation check("ERROR: check secret_sql_marker", kSql, "23514");
  EXPECT_EQ(StatusFromDbException(check).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(StatusFromDbException(check).message()), HasSubstr("23514"));
  const pqxx::not_null_violation not_null("ERROR: null secret_sql_marker", kSql, "23502");
  EXPECT_EQ(StatusFromDbException(not_null).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(StatusFromDbExceptionTest, BrokenConnectionIsUnavailable) {
  const pqxx::broken_connection e("server closed the connection unexpectedly");
  const absl::Status s = StatusFromDbException(e);
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("server closed")));
  // libpqxx 6 throws too_many_connections (53300), a broken_connection, as well.
  EXPECT_EQ(StatusFromDbException(pqxx::too_many_connections("too many clients")).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromDbException(pqxx::broken_connection()).code(),
            absl::StatusCode::kUnavailable);
}

TEST(StatusFromDbExceptionTest, SqlStatesWithoutADedicatedClass) {
  // libpqxx 6 throws a plain sql_error carrying the SQLSTATE for these.
  const pqxx::sql_error timeout("ERROR: canceling statement due to statement timeout", kSql,
                                "57014");
  EXPECT_EQ(StatusFromDbException(timeout).code(), absl::StatusCode::kDeadlineExceeded);
  ExpectNoSql(StatusFromDbException(timeout));
  const pqxx::sql_error shutdown("FATAL: terminating connection", kSql, "57P01");
  EXPECT_EQ(StatusFromDbException(shutdown).code(), absl::StatusCode::kUnavailable);
  const pqxx::sql_error serialization("ERROR: could not serialize", kSql, "40001");
  EXPECT_EQ(StatusFromDbException(serialization).code(), absl::StatusCode::kAborted);
  const pqxx::sql_error deadlock("ERROR: deadlock detected", kSql, "40P01");
  EXPECT_EQ(StatusFromDbException(deadlock).code(), absl::StatusCode::kAborted);
  const pqxx::sql_error other("ERROR: syntax error secret_sql_marker", kSql, "42601");
  EXPECT_EQ(StatusFromDbException(other).code(), absl::StatusCode::kInternal);
  ExpectNoSql(StatusFromDbException(other));
  const pqxx::sql_error no_state("ERROR: something secret_sql_marker", kSql);
  EXPECT_EQ(StatusFromDbException(no_state).code(), absl::StatusCode::kInternal);
  ExpectNoSql(StatusFromDbException(no_state));
}

// libpqxx 6.4 (result.cxx, ThrowSQLError) reports SQLSTATE 40001 as
// pqxx::serialization_failure{msg} and 40P01 as pqxx::deadlock_detected{msg}: both derive from
// transaction_rollback -> failure, not from sql_error, and carry no SQLSTATE. status.h promises
// ABORTED for them ("serialization failure and deadlock ABORTED") so callers retry.
TEST(StatusFromDbExceptionTest, SerializationFailureAndDeadlockAsThrownByLibpqxx6AreAborted) {
  EXPECT_EQ(StatusFromDbException(pqxx::serialization_failure("ERROR: could not serialize")).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(StatusFromDbException(pqxx::deadlock_detected("ERROR: deadlock detected")).code(),
            absl::StatusCode::kAborted);
}

TEST(StatusFromDbExceptionTest, InDoubtIsUnavailable) {
  EXPECT_EQ(StatusFromDbException(pqxx::in_doubt_error("commit outcome unknown")).code(),
            absl::StatusCode::kUnavailable);
  // 40003 in libpqxx 6: a transaction_rollback whose outcome is unknown must not be retried
  // blindly as ABORTED.
  EXPECT_EQ(StatusFromDbException(pqxx::statement_completion_unknown("outcome unknown")).code(),
            absl::StatusCode::kUnavailable);
}

TEST(StatusFromDbExceptionTest, GenericExceptionIsInternal) {
  const std::runtime_error e("boom: secret_sql_marker");
  const absl::Status s = StatusFromDbException(e);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("secret_sql_marker")));
  EXPECT_EQ(StatusFromDbException(std::logic_error("x")).code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace outcall::common
