// outcall-health HOST:PORT [SERVICE]: gRPC health check; exit 0 when SERVING, 1 otherwise.
// Used by scripts/up.sh and container health checks.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>

#include "grpc/health/v1/health.grpc.pb.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s HOST:PORT [SERVICE]\n", argv[0]);
    return 2;
  }
  auto stub = grpc::health::v1::Health::NewStub(
      grpc::CreateChannel(argv[1], grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  grpc::health::v1::HealthCheckRequest req;
  if (argc == 3) req.set_service(argv[2]);
  grpc::health::v1::HealthCheckResponse resp;
  const grpc::Status s = stub->Check(&ctx, req, &resp);
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", argv[1], s.error_message().c_str());
    return 1;
  }
  const bool serving = resp.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  std::printf("%s: %s\n", argv[1], serving ? "SERVING" : "NOT_SERVING");
  return serving ? 0 : 1;
}
