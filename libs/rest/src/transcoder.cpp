#include "outcall/rest/transcoder.h"

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/type.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/type_resolver.h>
#include <google/protobuf/util/type_resolver_util.h>

#include "google/api/annotations.pb.h"
#include "outcall/common/strings.h"

namespace outcall::rest {
namespace {

namespace pb = google::protobuf;
constexpr std::string_view kTypeUrlPrefix = "type.googleapis.com";

std::string TypeUrl(std::string_view full_name) { return common::Cat(kTypeUrlPrefix, "/", full_name); }

// protobuf's resolver converts a Descriptor into a google.protobuf.Type on every lookup, and the
// JSON converters look types up on every call: keep each conversion once.
class CachingTypeResolver final : public pb::util::TypeResolver {
 public:
  explicit CachingTypeResolver(const pb::DescriptorPool* pool)
      : inner_(pb::util::NewTypeResolverForDescriptorPool(std::string(kTypeUrlPrefix), pool)) {}

  pb::util::Status ResolveMessageType(const std::string& url, pb::Type* out) override {
    return Resolve(url, out, types_);
  }
  pb::util::Status ResolveEnumType(const std::string& url, pb::Enum* out) override {
    return Resolve(url, out, enums_);
  }

 private:
  template <typename T>
  pb::util::Status Resolve(const std::string& url, T* out, std::map<std::string, T>& cache) {
    {
      std::lock_guard lock(mu_);
      if (auto it = cache.find(url); it != cache.end()) {
        *out = it->second;
        return pb::util::Status();
      }
    }
    T fresh;
    pb::util::Status s;
    if constexpr (std::is_same_v<T, pb::Type>) {
      s = inner_->ResolveMessageType(url, &fresh);
    } else {
      s = inner_->ResolveEnumType(url, &fresh);
    }
    if (!s.ok()) return s;
    std::lock_guard lock(mu_);
    *out = cache.emplace(url, std::move(fresh)).first->second;
    return s;
  }

  std::unique_ptr<pb::util::TypeResolver> inner_;
  std::mutex mu_;
  std::map<std::string, pb::Type> types_;
  std::map<std::string, pb::Enum> enums_;
};

struct Segment {
  std::string literal;  // empty for a variable
  std::string field;    // the variable's field path (dotted proto names)
};

struct CompiledBinding {
  Binding binding;
  std::vector<Segment> segments;
  const pb::Descriptor* input = nullptr;
};

absl::StatusOr<std::vector<Segment>> ParseTemplate(std::string_view tmpl) {
  if (tmpl.empty() || tmpl.front() != '/') {
    return absl::InvalidArgumentError(common::Cat("path template ", tmpl, " must start with /"));
  }
  std::vector<Segment> out;
  for (std::string_view part : common::Split(tmpl.substr(1), '/')) {
    Segment s;
    if (part.empty()) return absl::InvalidArgumentError(common::Cat("path template ", tmpl, ": empty segment"));
    if (part.front() == '{') {
      if (part.back() != '}') return absl::InvalidArgumentError(common::Cat("path template ", tmpl, ": bad variable ", part));
      std::string_view inner = part.substr(1, part.size() - 2);
      if (const size_t eq = inner.find('='); eq != std::string_view::npos) {
        if (inner.substr(eq + 1) != "*") {
          return absl::InvalidArgumentError(common::Cat("path template ", tmpl, ": only {field} and {field=*} variables are supported"));
        }
        inner = inner.substr(0, eq);
      }
      s.field = std::string(inner);
    } else if (part.find_first_of("{}*:") != std::string_view::npos) {
      return absl::InvalidArgumentError(common::Cat("path template ", tmpl, ": unsupported segment ", part));
    } else {
      s.literal = std::string(part);
    }
    out.push_back(std::move(s));
  }
  return out;
}

// A field by proto name or json_name (the transcoder accepts both).
const pb::FieldDescriptor* FindField(const pb::Descriptor* d, std::string_view name) {
  if (const auto* f = d->FindFieldByName(std::string(name))) return f;
  for (int i = 0; i < d->field_count(); ++i) {
    if (d->field(i)->json_name() == name) return d->field(i);
  }
  return nullptr;
}

// Resolves a dotted field path; null when a part is unknown or not a message on the way.
std::vector<const pb::FieldDescriptor*> ResolvePath(const pb::Descriptor* d, std::string_view path) {
  std::vector<const pb::FieldDescriptor*> out;
  for (std::string_view part : common::Split(path, '.')) {
    if (d == nullptr) return {};
    const auto* f = FindField(d, part);
    if (f == nullptr) return {};
    out.push_back(f);
    d = f->type() == pb::FieldDescriptor::TYPE_MESSAGE ? f->message_type() : nullptr;
  }
  return out;
}

bool IsWellKnownScalarMessage(const pb::Descriptor* d) {
  const std::string& n = d->full_name();
  return n == "google.protobuf.Timestamp" || n == "google.protobuf.Duration" ||
         n == "google.protobuf.FieldMask" ||
         (n.rfind("google.protobuf.", 0) == 0 && n.size() > 5 && n.substr(n.size() - 5) == "Value" &&
          n != "google.protobuf.Value");
}

std::string PercentDecode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
      };
      const int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(in[i]);
  }
  return out;
}

// A JSON object under construction for the path and query bindings.
struct JsonNode {
  std::map<std::string, JsonNode> children;
  std::vector<boost::json::value> values;  // leaf
  bool repeated = false;
};

boost::json::value ToJson(const JsonNode& n) {
  if (n.children.empty()) {
    if (n.repeated) return boost::json::array(n.values.begin(), n.values.end());
    return n.values.empty() ? boost::json::value() : n.values.back();
  }
  boost::json::object o;
  for (const auto& [k, child] : n.children) o[k] = ToJson(child);
  return o;
}

std::string StatusText(const pb::util::Status& s) { return s.message().ToString(); }

}  // namespace

struct Transcoder::Impl {
  pb::DescriptorPool pool;
  std::unique_ptr<CachingTypeResolver> resolver;
  pb::DynamicMessageFactory factory{&pool};
  std::vector<CompiledBinding> compiled;
  std::vector<Binding> bindings;
  pb::util::JsonParseOptions parse_options;
  pb::util::JsonPrintOptions print_options;

  absl::Status AddBindings(const pb::FileDescriptorProto& file, const std::vector<std::string>& services) {
    for (const auto& svc : file.service()) {
      const std::string full = file.package().empty() ? svc.name() : common::Cat(file.package(), ".", svc.name());
      if (std::find(services.begin(), services.end(), full) == services.end()) continue;
      const pb::ServiceDescriptor* sd = pool.FindServiceByName(full);
      if (sd == nullptr) return absl::InternalError(common::Cat("service ", full, " not in the pool"));
      for (const auto& m : svc.method()) {
        if (!m.options().HasExtension(google::api::http)) continue;
        const pb::MethodDescriptor* md = sd->FindMethodByName(m.name());
        std::vector<google::api::HttpRule> rules{m.options().GetExtension(google::api::http)};
        for (const auto& extra : rules.front().additional_bindings()) rules.push_back(extra);
        for (const auto& rule : rules) {
          CompiledBinding cb;
          Binding& b = cb.binding;
          switch (rule.pattern_case()) {
            case google::api::HttpRule::kGet: b.verb = "GET"; b.path_template = rule.get(); break;
            case google::api::HttpRule::kPost: b.verb = "POST"; b.path_template = rule.post(); break;
            case google::api::HttpRule::kPut: b.verb = "PUT"; b.path_template = rule.put(); break;
            case google::api::HttpRule::kPatch: b.verb = "PATCH"; b.path_template = rule.patch(); break;
            case google::api::HttpRule::kDelete: b.verb = "DELETE"; b.path_template = rule.delete_(); break;
            default:
              return absl::InvalidArgumentError(common::Cat(full, ".", m.name(), ": unsupported HTTP rule pattern"));
          }
          b.body = rule.body();
          b.service = full;
          b.method = m.name();
          b.grpc_path = common::Cat("/", full, "/", m.name());
          b.input_type = md->input_type()->full_name();
          b.output_type = md->output_type()->full_name();
          b.server_streaming = md->server_streaming();
          b.http_body_output = b.output_type == "google.api.HttpBody";
          if (md->client_streaming()) {
            return absl::InvalidArgumentError(common::Cat(b.grpc_path, ": client streaming is not transcoded"));
          }
          auto segs = ParseTemplate(b.path_template);
          if (!segs.ok()) return absl::InvalidArgumentError(common::Cat(b.grpc_path, ": ", common::ToStd(segs.status().message())));
          cb.segments = *std::move(segs);
          cb.input = md->input_type();
          for (const auto& s : cb.segments) {
            if (!s.field.empty() && ResolvePath(cb.input, s.field).empty()) {
              return absl::InvalidArgumentError(common::Cat(b.grpc_path, ": path variable ", s.field, " is not a field of ", b.input_type));
            }
          }
          if (!b.body.empty() && b.body != "*" && FindField(cb.input, b.body) == nullptr) {
            return absl::InvalidArgumentError(common::Cat(b.grpc_path, ": body field ", b.body, " is not a field of ", b.input_type));
          }
          compiled.push_back(std::move(cb));
        }
      }
    }
    return absl::OkStatus();
  }
};

Transcoder::Transcoder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Transcoder::~Transcoder() = default;

absl::StatusOr<std::unique_ptr<Transcoder>> Transcoder::FromDescriptorSetFile(
    const std::string& path, const std::vector<std::string>& services) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(common::Cat("descriptor set ", path, ": cannot open"));
  std::stringstream ss;
  ss << in.rdbuf();
  auto t = FromDescriptorSet(ss.str(), services);
  if (!t.ok()) return absl::Status(t.status().code(), common::Cat("descriptor set ", path, ": ", common::ToStd(t.status().message())));
  return t;
}

absl::StatusOr<std::unique_ptr<Transcoder>> Transcoder::FromDescriptorSet(
    std::string_view serialized, const std::vector<std::string>& services) {
  pb::FileDescriptorSet set;
  if (!set.ParseFromArray(serialized.data(), static_cast<int>(serialized.size()))) {
    return absl::InvalidArgumentError("not a FileDescriptorSet");
  }
  auto impl = std::make_unique<Impl>();
  for (const auto& file : set.file()) {
    if (impl->pool.BuildFile(file) == nullptr) {
      return absl::InvalidArgumentError(common::Cat("cannot build ", file.name(), " (imports missing? use --include_imports)"));
    }
  }
  for (const auto& s : services) {
    if (impl->pool.FindServiceByName(s) == nullptr) {
      return absl::NotFoundError(common::Cat("service ", s, " is not in the descriptor set"));
    }
  }
  for (const auto& file : set.file()) {
    if (auto st = impl->AddBindings(file, services); !st.ok()) return st;
  }
  impl->resolver = std::make_unique<CachingTypeResolver>(&impl->pool);
  impl->parse_options.ignore_unknown_fields = false;
  impl->print_options.add_whitespace = false;
  impl->print_options.always_print_primitive_fields = true;
  impl->print_options.always_print_enums_as_ints = false;
  impl->print_options.preserve_proto_field_names = false;
  for (const auto& cb : impl->compiled) impl->bindings.push_back(cb.binding);
  return std::unique_ptr<Transcoder>(new Transcoder(std::move(impl)));
}

const std::vector<Binding>& Transcoder::bindings() const { return impl_->bindings; }

absl::StatusOr<RouteMatch> Transcoder::Match(std::string_view verb, std::string_view path) const {
  std::vector<std::string_view> parts;
  if (path.size() > 1) parts = common::Split(path.substr(1), '/');
  const CompiledBinding* best = nullptr;
  for (const auto& cb : impl_->compiled) {
    if (cb.binding.verb != verb || cb.segments.size() != parts.size()) continue;
    bool ok = true;
    for (size_t i = 0; i < parts.size() && ok; ++i) {
      const Segment& s = cb.segments[i];
      ok = s.field.empty() ? parts[i] == s.literal : !parts[i].empty();
    }
    if (!ok) continue;
    if (best != nullptr) {
      // Literal beats variable at the first segment where the two differ.
      for (size_t i = 0; i < parts.size(); ++i) {
        const bool a = cb.segments[i].field.empty(), b = best->segments[i].field.empty();
        if (a != b) {
          if (a) best = &cb;
          break;
        }
      }
    } else {
      best = &cb;
    }
  }
  if (best == nullptr) {
    return absl::NotFoundError(common::Cat("no method for ", verb, " ", path));
  }
  RouteMatch m;
  m.binding = &best->binding;
  m.index = static_cast<size_t>(best - impl_->compiled.data());
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!best->segments[i].field.empty()) m.variables.emplace_back(best->segments[i].field, PercentDecode(parts[i]));
  }
  return m;
}

absl::StatusOr<std::string> Transcoder::Request(const RouteMatch& match, std::string_view body,
                                                const QueryParams& query) const {
  const Binding& b = *match.binding;
  const CompiledBinding& cb = impl_->compiled.at(match.index);
  const std::string url = TypeUrl(b.input_type);
  std::string wire;

  // The body.
  if (!b.body.empty()) {
    std::string json;
    std::string_view trimmed = body;
    while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\n' || trimmed.front() == '\r' || trimmed.front() == '\t')) trimmed.remove_prefix(1);
    if (b.body == "*") {
      json = trimmed.empty() ? std::string("{}") : std::string(body);
      if (!trimmed.empty() && trimmed.front() != '{') {
        return absl::InvalidArgumentError("the request body must be a JSON object");
      }
    } else {
      // body: "<field>": the JSON is that field's value.
      boost::system::error_code ec;
      boost::json::value v = trimmed.empty() ? boost::json::value() : boost::json::parse(body, ec);
      if (ec) return absl::InvalidArgumentError(common::Cat("the request body is not JSON: ", ec.message()));
      boost::json::object o;
      o[FindField(cb.input, b.body)->json_name()] = std::move(v);
      json = boost::json::serialize(o);
    }
    auto s = pb::util::JsonToBinaryString(impl_->resolver.get(), url, json, &wire, impl_->parse_options);
    if (!s.ok()) return absl::InvalidArgumentError(common::Cat("bad request body: ", StatusText(s)));
  }

  // Path variables, then query parameters (not with body "*": every field is in the body).
  JsonNode root;
  auto bind = [&](const std::vector<const pb::FieldDescriptor*>& path, std::string_view name,
                  const std::string& value) -> absl::Status {
    JsonNode* n = &root;
    for (const auto* f : path) n = &n->children[f->json_name()];
    const pb::FieldDescriptor* leaf = path.back();
    if (leaf->type() == pb::FieldDescriptor::TYPE_MESSAGE && !IsWellKnownScalarMessage(leaf->message_type())) {
      return absl::InvalidArgumentError(common::Cat("parameter ", name, " names a message field"));
    }
    n->repeated = leaf->is_repeated();
    if (leaf->type() == pb::FieldDescriptor::TYPE_BOOL) {
      if (value == "true" || value == "1") {
        n->values.emplace_back(true);
      } else if (value == "false" || value == "0") {
        n->values.emplace_back(false);
      } else {
        return absl::InvalidArgumentError(common::Cat("parameter ", name, ": not a boolean"));
      }
    } else {
      n->values.emplace_back(boost::json::string(value));
    }
    return absl::OkStatus();
  };
  std::vector<const pb::FieldDescriptor*> bound_by_path;
  std::vector<std::vector<const pb::FieldDescriptor*>> path_fields;
  for (const auto& [field, value] : match.variables) {
    auto path = ResolvePath(cb.input, field);
    if (auto s = bind(path, field, value); !s.ok()) return s;
    bound_by_path.push_back(path.front());
    path_fields.push_back(std::move(path));
  }
  if (b.body != "*") {
    for (const auto& [name, value] : query) {
      auto path = ResolvePath(cb.input, name);
      if (path.empty()) continue;  // unknown parameters are ignored, as the original system did
      // The path's own variables are not overridden from the query string.
      if (std::find(path_fields.begin(), path_fields.end(), path) != path_fields.end()) continue;
      if (!b.body.empty() && path.front()->json_name() == FindField(cb.input, b.body)->json_name()) continue;
      if (auto s = bind(path, name, value); !s.ok()) return s;
    }
  }
  if (!root.children.empty()) {
    if (!wire.empty() && b.body == "*" && !bound_by_path.empty()) {
      // A field bound by the path may not also come in the body.
      std::unique_ptr<pb::Message> msg(impl_->factory.GetPrototype(cb.input)->New());
      if (msg->ParseFromString(wire)) {
        const pb::Reflection* r = msg->GetReflection();
        for (const auto* f : bound_by_path) {
          if (!f->is_repeated() && r->HasField(*msg, f)) {
            return absl::InvalidArgumentError(common::Cat("field ", f->json_name(), " is given by the path and must not be in the body"));
          }
        }
      }
    }
    std::string extra;
    const std::string json = boost::json::serialize(ToJson(root));
    auto s = pb::util::JsonToBinaryString(impl_->resolver.get(), url, json, &extra, impl_->parse_options);
    if (!s.ok()) return absl::InvalidArgumentError(common::Cat("bad parameter: ", StatusText(s)));
    wire += extra;  // concatenated messages merge
  }
  return wire;
}

absl::StatusOr<HttpPayload> Transcoder::Response(const Binding& binding, std::string_view wire) const {
  HttpPayload out;
  if (binding.http_body_output) {
    const pb::Descriptor* d = impl_->pool.FindMessageTypeByName(binding.output_type);
    std::unique_ptr<pb::Message> msg(impl_->factory.GetPrototype(d)->New());
    if (!msg->ParseFromArray(wire.data(), static_cast<int>(wire.size()))) {
      return absl::InternalError("the service's HttpBody does not parse");
    }
    const pb::Reflection* r = msg->GetReflection();
    out.content_type = r->GetString(*msg, d->FindFieldByName("content_type"));
    out.body = r->GetString(*msg, d->FindFieldByName("data"));
    return out;
  }
  out.content_type = "application/json";
  auto s = pb::util::BinaryToJsonString(impl_->resolver.get(), TypeUrl(binding.output_type),
                                        std::string(wire), &out.body, impl_->print_options);
  if (!s.ok()) return absl::InternalError(common::Cat("the service's answer does not convert: ", StatusText(s)));
  return out;
}

absl::StatusOr<Target> ParseTarget(std::string_view target) {
  auto u = boost::urls::parse_origin_form(target);
  if (!u) return absl::InvalidArgumentError("malformed request target");
  Target t;
  // Dot segments resolved and repeated slashes merged (Envoy's normalize_path, merge_slashes);
  // an encoded slash or backslash is refused (path_with_escaped_slashes_action: REJECT_REQUEST).
  std::string_view raw = u->encoded_path();
  std::vector<std::string_view> out;
  for (std::string_view part : common::Split(raw, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!out.empty()) out.pop_back();
      continue;
    }
    for (size_t i = part.find('%'); i != std::string_view::npos && i + 2 < part.size(); i = part.find('%', i + 1)) {
      const char hi = part[i + 1], lo = static_cast<char>(part[i + 2] | 0x20);
      if ((hi == '2' && lo == 'f') || (hi == '5' && lo == 'c')) {
        return absl::InvalidArgumentError("encoded slashes are not allowed in the path");
      }
    }
    out.push_back(part);
  }
  t.path = "/" + common::Join(out, "/");
  boost::urls::encoding_opts opts;
  opts.space_as_plus = true;
  for (auto p : u->params(opts)) t.query.emplace_back(std::string(p.key), std::string(p.value));
  return t;
}

int HttpStatusForGrpcCode(int code) {
  switch (code) {
    case 0: return 200;    // OK
    case 1: return 499;    // CANCELLED
    case 2: return 500;    // UNKNOWN
    case 3: return 400;    // INVALID_ARGUMENT
    case 4: return 504;    // DEADLINE_EXCEEDED
    case 5: return 404;    // NOT_FOUND
    case 6: return 409;    // ALREADY_EXISTS
    case 7: return 403;    // PERMISSION_DENIED
    case 8: return 429;    // RESOURCE_EXHAUSTED
    case 9: return 400;    // FAILED_PRECONDITION
    case 10: return 409;   // ABORTED
    case 11: return 400;   // OUT_OF_RANGE
    case 12: return 501;   // UNIMPLEMENTED
    case 13: return 500;   // INTERNAL
    case 14: return 503;   // UNAVAILABLE
    case 15: return 500;   // DATA_LOSS
    case 16: return 401;   // UNAUTHENTICATED
    default: return 500;
  }
}

std::string ErrorBody(int grpc_code, std::string_view message) {
  boost::json::object o;
  o["code"] = grpc_code;
  o["message"] = message;
  o["details"] = boost::json::array();
  return boost::json::serialize(o);
}

}  // namespace outcall::rest
