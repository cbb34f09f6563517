// Status mapping at the edges: gRPC, HTTP, and database errors.
#include "outcall/common/status.h"

#include <grpcpp/support/status.h>
#include <gtest/gtest.h>

#include <pqxx/except>

namespace outcall::common {
namespace {

TEST(Status, RoundTripsThroughGrpc) {
  for (auto code : {absl::StatusCode::kInvalidArgument, absl::StatusCode::kNotFound,
                    absl::StatusCode::kAlreadyExists, absl::StatusCode::kResourceExhausted,
                    absl::StatusCode::kUnavailable, absl::StatusCode::kFailedPrecondition}) {
    const absl::Status s(code, "why");
    const grpc::Status g = ToGrpcStatus(s);
    EXPECT_EQ(static_cast<int>(g.error_code()), static_cast<int>(code));
    EXPECT_EQ(g.error_message(), "why");
    EXPECT_EQ(FromGrpcStatus(g), s);
  }
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
}

TEST(Status, HttpCodes) {
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kOk), 200);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kInvalidArgument), 400);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kUnauthenticated), 401);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kPermissionDenied), 403);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kAlreadyExists), 409);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kResourceExhausted), 429);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kUnavailable), 503);
  EXPECT_EQ(HttpStatusForCode(absl::StatusCode::kInternal), 500);
}

TEST(Status, DatabaseErrorsGetTheMostSpecificCodeWithoutSql) {
  const std::string sql = "INSERT INTO patients (full_name) VALUES ('Juan')";
  auto dup = StatusFromDbException(pqxx::unique_violation("duplicate key", sql, "23505"));
  EXPECT_EQ(dup.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(std::string(dup.message()).find("INSERT"), std::string::npos);
  EXPECT_EQ(StatusFromDbException(pqxx::check_violation("check", sql, "23514")).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusFromDbException(pqxx::serialization_failure("could not serialize access")).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(StatusFromDbException(pqxx::deadlock_detected("deadlock detected")).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(StatusFromDbException(pqxx::broken_connection("gone")).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromDbException(pqxx::sql_error("timeout", sql, "57014")).code(),
            absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(StatusFromDbException(pqxx::sql_error("conflict", sql, "40001")).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(StatusFromDbException(pqxx::statement_completion_unknown("?")).code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(StatusFromDbException(std::runtime_error("boom")).code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace outcall::common
