// JSON over HTTP <-> protobuf over gRPC, from a descriptor set's google.api.http rules: what
// Envoy's gRPC-JSON transcoder does, for the single-machine REST edge. Routes come from the rules
// (path templates with {field} variables, the body field, the verb); request JSON and response
// protobufs are converted by protobuf's own JSON support (json_name, primitives always printed,
// unknown fields refused); path variables and query parameters bind to fields by proto name or
// json_name, as the transcoder binds them. No generated code is used: the descriptor set alone
// drives it, so it serves exactly what Envoy loads.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace outcall::rest {

struct Binding {
  std::string verb;           // GET, POST, PUT, PATCH, DELETE
  std::string path_template;  // as written in the rule, e.g. /api/elevenlabs/call-patient/{patient_id}
  std::string body;           // "", "*" or a field name
  std::string service;        // full name, e.g. outcall.v1.CallGateway
  std::string method;         // e.g. CallPatient
  std::string grpc_path;      // /outcall.v1.CallGateway/CallPatient
  std::string input_type;     // full message names
  std::string output_type;
  bool server_streaming = false;
  bool http_body_output = false;  // google.api.HttpBody: raw bytes with their content type
};

using QueryParams = std::vector<std::pair<std::string, std::string>>;  // decoded, in order

// A request matched to a binding, with its path variables (field path, decoded value).
struct RouteMatch {
  const Binding* binding = nullptr;
  std::vector<std::pair<std::string, std::string>> variables;
  size_t index = 0;  // the binding's place in Transcoder::bindings()
};

// A response body and its content type.
struct HttpPayload {
  std::string content_type;
  std::string body;
};

class Transcoder {
 public:
  // Loads a FileDescriptorSet (protoc --include_imports) and the bindings of `services` (full
  // names). Fails naming the file, the service or the rule that cannot be used.
  static absl::StatusOr<std::unique_ptr<Transcoder>> FromDescriptorSetFile(
      const std::string& path, const std::vector<std::string>& services);
  static absl::StatusOr<std::unique_ptr<Transcoder>> FromDescriptorSet(
      std::string_view serialized, const std::vector<std::string>& services);
  ~Transcoder();
  Transcoder(const Transcoder&) = delete;
  Transcoder& operator=(const Transcoder&) = delete;

  const std::vector<Binding>& bindings() const;

  // The binding for `verb` and the (already normalised, still percent-encoded) `path`:
  // NOT_FOUND when no rule matches either. Literal segments win over variables.
  absl::StatusOr<RouteMatch> Match(std::string_view verb, std::string_view path) const;

  // The request message's wire bytes: the JSON body (when the rule has one), the path variables
  // and the query parameters (unknown ones ignored; none for body "*"). INVALID_ARGUMENT naming
  // the field for bad JSON, an unknown field, a value of the wrong type, or a field given both
  // in the path and in the body.
  absl::StatusOr<std::string> Request(const RouteMatch& match, std::string_view body,
                                      const QueryParams& query) const;

  // A response message's JSON (or, for google.api.HttpBody, its bytes and content type).
  absl::StatusOr<HttpPayload> Response(const Binding& binding, std::string_view wire) const;

 private:
  struct Impl;
  explicit Transcoder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Splits a request target into its path and decoded query parameters ('+' is a space, as Envoy's
// query_param_unescape_plus). INVALID_ARGUMENT for a malformed target.
struct Target {
  std::string path;  // dot segments resolved, repeated slashes merged, still percent-encoded
  QueryParams query;
};
absl::StatusOr<Target> ParseTarget(std::string_view target);

// The HTTP status Envoy's transcoder answers for a gRPC status code, and the error body both
// answer: {"code": <grpc code>, "message": "...", "details": []}.
int HttpStatusForGrpcCode(int grpc_code);
std::string ErrorBody(int grpc_code, std::string_view message);

}  // namespace outcall::rest
