// outcall-cli: calls any outcall RPC from a shell, with JSON in and out (the REST bodies' field
// names), for operators and the local setup, where no Envoy translates REST.
//
//   outcall-cli [--address HOST:PORT] [--token JWT] [--permissions P,P] [--idempotency-key KEY]
//               [--timeout SECS] [--csv] SERVICE.METHOD ['JSON REQUEST']
//
//   outcall-cli CallGateway.InitiateCall '{"phoneNumber": "+57 300 555 0001", "patientName":
//   "Ana"}' outcall-cli CallGateway.GetConversation '{"conversationId": "conv_..."}' outcall-cli
//   Stats.GetCallStats '{"startDate": "2026-11-01", "endDate": "2026-11-30"}' outcall-cli
//   CallGateway.WatchCallEvents          (prints each update until interrupted)
//
// SERVICE is CallGateway or Campaigns (default address $CALL_GATEWAY_ADDRESS, else
// 127.0.0.1:50051) or Stats ($STATS_ADDRESS, else 127.0.0.1:50052), as scripts/up.sh starts
// them. Without --token, a five-minute token is minted from JWT_HS256_SECRET, JWT_ISSUER and
// JWT_AUDIENCE (`set -a; . .local/env`) with --permissions (default
// calls:read,calls:write; e.g. privacy:admin for the evidence export and data requests).
// --csv prints a response's `csv` field as it is and follows `nextPageToken` to the last page
// (the header once): the evidence export as one file,
//   outcall-cli --permissions privacy:admin --csv CallGateway.ExportEvidence \
//     '{"patientId": 7, "from": "2026-11-01T05:00:00Z", "format": "csv"}' > evidencia.csv
// Exit status: 0 on success, the gRPC status code otherwise (2 for usage errors).
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>

#include "cli_common.h"
#include "cli_token.h"
#include "outcall/v1/call_gateway.pb.h"
#include "outcall/v1/campaigns.pb.h"
#include "outcall/v1/stats.pb.h"

namespace {

namespace pb = google::protobuf;

int Usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--address HOST:PORT] [--token JWT] [--idempotency-key KEY] "
               "[--permissions P,P] [--timeout SECS] [--csv] SERVICE.METHOD ['JSON REQUEST']\n"
               "  SERVICE: CallGateway or Campaigns (127.0.0.1:50051), Stats (127.0.0.1:50052)\n",
               argv0);
  return 2;
}

std::string Serialize(const pb::Message& m) {
  std::string out;
  m.SerializeToString(&out);
  return out;
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

bool FromBuffer(const grpc::ByteBuffer& buffer, pb::Message* m) {
  std::vector<grpc::Slice> slices;
  if (!buffer.Dump(&slices).ok()) return false;
  std::string bytes;
  for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return m->ParseFromString(bytes);
}

void PrintJson(const pb::Message& m) {
  std::fputs(outcall::ops::MessageJson(m).c_str(), stdout);
  std::fflush(stdout);
}

int Fail(const grpc::Status& s) {
  std::fprintf(stderr, "%d %s\n", static_cast<int>(s.error_code()), s.error_message().c_str());
  return static_cast<int>(s.error_code());
}

}  // namespace

int main(int argc, char** argv) {
  // The generated descriptors are registered when their messages are linked in.
  const pb::FileDescriptor* files[] = {outcall::v1::InitiateCallRequest::descriptor()->file(),
                                       outcall::v1::CreateCampaignRequest::descriptor()->file(),
                                       outcall::v1::ListCallsRequest::descriptor()->file()};
  std::string address, token, idempotency_key, permissions = "calls:read,calls:write";
  int timeout_secs = 30;
  bool csv = false;
  int i = 1;
  for (; i < argc && std::string_view(argv[i]).starts_with("--"); i += 2) {
    const std::string_view flag = argv[i];
    if (flag == "--csv") {
      csv = true;
      --i;  // a switch: no value
      continue;
    }
    if (i + 1 >= argc) return Usage(argv[0]);
    if (flag == "--permissions") {
      permissions = argv[i + 1];
    } else if (flag == "--address") {
      address = argv[i + 1];
    } else if (flag == "--token") {
      token = argv[i + 1];
    } else if (flag == "--idempotency-key") {
      idempotency_key = argv[i + 1];
    } else if (flag == "--timeout") {
      timeout_secs = std::atoi(argv[i + 1]);
      if (timeout_secs <= 0) return Usage(argv[0]);
    } else {
      return Usage(argv[0]);
    }
  }
  if (i >= argc || argc - i > 2) return Usage(argv[0]);
  const std::string target = argv[i];
  const std::string request_json = i + 1 < argc ? argv[i + 1] : "{}";
  const auto dot = target.find('.');
  if (dot == std::string::npos) return Usage(argv[0]);
  const std::string service_name = target.substr(0, dot);
  const pb::ServiceDescriptor* service = nullptr;
  for (const auto* f : files) {
    service = f->FindServiceByName(service_name);
    if (service != nullptr) break;
  }
  const pb::MethodDescriptor* method =
      service ? service->FindMethodByName(target.substr(dot + 1)) : nullptr;
  if (method == nullptr) {
    std::fprintf(stderr, "unknown method %s; known:", target.c_str());
    for (const auto* f : files) {
      for (int s = 0; s < f->service_count(); ++s) {
        for (int m = 0; m < f->service(s)->method_count(); ++m) {
          std::fprintf(stderr, " %s.%s", f->service(s)->name().c_str(),
                       f->service(s)->method(m)->name().c_str());
        }
      }
    }
    std::fprintf(stderr, "\n");
    return 2;
  }
  address = outcall::ops::ServiceAddress(
      service_name == "Stats" ? outcall::ops::Service::kStats : outcall::ops::Service::kCallGateway,
      address);

  pb::DynamicMessageFactory factory;
  std::unique_ptr<pb::Message> request(factory.GetPrototype(method->input_type())->New());
  std::unique_ptr<pb::Message> response(factory.GetPrototype(method->output_type())->New());
  if (auto s = pb::util::JsonStringToMessage(request_json, request.get()); !s.ok()) {
    std::fprintf(stderr, "request is not a valid %s: %s\n", method->input_type()->name().c_str(),
                 s.ToString().c_str());
    return 2;
  }

  if (token.empty()) {
    auto minted = outcall::ops::MintCliToken(permissions, "outcall-cli");
    if (!minted.ok()) {
      std::fprintf(stderr, "outcall-cli: %s\n", std::string(minted.status().message()).c_str());
      return 2;
    }
    token = *minted;
  }

  grpc::GenericStub stub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + token);
  if (!idempotency_key.empty()) ctx.AddMetadata("idempotency-key", idempotency_key);
  const std::string path = "/" + service->full_name() + "/" + method->name();
  const grpc::ByteBuffer request_buffer = ToBuffer(Serialize(*request));

  const pb::FieldDescriptor* csv_field = method->output_type()->FindFieldByName("csv");
  const pb::FieldDescriptor* next_field = method->output_type()->FindFieldByName("next_page_token");
  const pb::FieldDescriptor* token_field = method->input_type()->FindFieldByName("page_token");
  if (csv && (csv_field == nullptr || next_field == nullptr || token_field == nullptr)) {
    std::fprintf(stderr, "--csv: %s has no csv pages\n", target.c_str());
    return 2;
  }
  if (!method->server_streaming()) {
    for (int page = 0;; ++page) {
      grpc::ClientContext unary;
      unary.AddMetadata("authorization", "Bearer " + token);
      if (!idempotency_key.empty()) unary.AddMetadata("idempotency-key", idempotency_key);
      unary.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(timeout_secs));
      const grpc::ByteBuffer page_request = ToBuffer(Serialize(*request));
      grpc::ByteBuffer response_buffer;
      std::promise<grpc::Status> done;
      stub.UnaryCall(&unary, path, grpc::StubOptions(), &page_request, &response_buffer,
                     [&done](grpc::Status s) { done.set_value(std::move(s)); });
      const grpc::Status s = done.get_future().get();
      if (!s.ok()) return Fail(s);
      if (!FromBuffer(response_buffer, response.get())) {
        return Fail(grpc::Status(grpc::StatusCode::INTERNAL, "unparseable response"));
      }
      if (!csv) {
        PrintJson(*response);
        return 0;
      }
      const pb::Reflection* r = response->GetReflection();
      std::string text = r->GetString(*response, csv_field);
      // Every page starts with the header: printed once.
      if (page > 0)
        text.erase(0, text.find('\n') == std::string::npos ? text.size() : text.find('\n') + 1);
      std::fputs(text.c_str(), stdout);
      const std::string next = r->GetString(*response, next_field);
      if (next.empty()) {
        std::fflush(stdout);
        return 0;
      }
      request->GetReflection()->SetString(request.get(), token_field, next);
    }
  }

  // A server stream: one JSON document per update, until the server ends it or we are stopped.
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&ctx, path, &cq);
  void* tag = nullptr;
  bool ok = false;
  int next = 1;
  auto step = [&](auto&& start) {
    const void* want = reinterpret_cast<void*>(static_cast<intptr_t>(next++));
    start(const_cast<void*>(want));
    return cq.Next(&tag, &ok) && tag == want && ok;
  };
  bool open = step([&](void* t) { call->StartCall(t); }) &&
              step([&](void* t) { call->Write(request_buffer, t); }) &&
              step([&](void* t) { call->WritesDone(t); });
  grpc::ByteBuffer update;
  while (open && step([&](void* t) { call->Read(&update, t); })) {
    if (FromBuffer(update, response.get())) {
      PrintJson(*response);
      std::fputc('\n', stdout);
    }
  }
  grpc::Status s;
  step([&](void* t) { call->Finish(&s, t); });
  return s.ok() ? 0 : Fail(s);
}
