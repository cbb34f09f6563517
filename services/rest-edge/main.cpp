// outcall-rest-edge: the REST face on a single machine (scripts/up.sh starts it on
// 127.0.0.1:8080): JSON over HTTP to the services' gRPC, transcoded from the same descriptor set
// and routed like deploy/envoy/envoy.yaml, the webhook passed to webhook-ingest, the console's
// files. Envoy stays the production edge.
//
//   outcall-rest-edge                       serve (configuration from the environment)
//   outcall-rest-edge --print-routes FILE   the route table for FILE (a descriptor set) as JSON,
//                                           one object per binding: what the contract test
//                                           compares with envoy.yaml
#include <csignal>
#include <cstdio>
#include <cstring>
#include <iostream>

#include <boost/json.hpp>
#include <grpcpp/grpcpp.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include "edge_config.h"
#include "edge_server.h"
#include "outcall/common/clock.h"
#include "outcall/common/jwt.h"
#include "outcall/common/logging.h"
#include "outcall/common/strings.h"
#include "outcall/rest/transcoder.h"
#include "route_policy.h"
#include "static_files.h"

namespace {

using namespace outcall;

const std::vector<std::string> kServices = {"outcall.v1.CallGateway", "outcall.v1.Campaigns",
                                            "outcall.v1.ClinicSync", "outcall.v1.Webhooks",
                                            "outcall.v1.Stats"};

int PrintRoutes(const std::string& descriptor_set) {
  auto t = rest::Transcoder::FromDescriptorSetFile(descriptor_set, kServices);
  if (!t.ok()) {
    std::fprintf(stderr, "outcall-rest-edge: %s\n", std::string(t.status().message()).c_str());
    return 2;
  }
  boost::json::array out;
  for (const auto& b : (*t)->bindings()) {
    std::string sample;
    for (size_t i = 0; i < b.path_template.size(); ++i) {
      if (b.path_template[i] == '{') {
        sample += "123";
        i = b.path_template.find('}', i);
      } else {
        sample += b.path_template[i];
      }
    }
    const rest_edge::RouteRule* r = rest_edge::FindRoute(sample);
    boost::json::object o;
    o["verb"] = b.verb;
    o["template"] = b.path_template;
    o["rpc"] = b.grpc_path;
    o["streaming"] = b.server_streaming;
    o["route"] = r ? boost::json::value(r->name) : boost::json::value(nullptr);
    o["cluster"] = r ? std::string(rest_edge::ClusterName(r->cluster)) : "";
    o["timeout_secs"] = r ? absl::ToInt64Seconds(r->timeout) : -1;
    o["jwt"] = sample.starts_with(rest_edge::kJwtPrefix);
    // The binding the edge itself would pick for the sample path.
    auto m = (*t)->Match(b.verb, sample);
    o["matched_rpc"] = m.ok() ? m->binding->grpc_path : "";
    out.push_back(std::move(o));
  }
  boost::json::object doc;
  doc["bindings"] = std::move(out);
  boost::json::array routes;
  for (const auto& r : rest_edge::RouteTable()) {
    boost::json::object o;
    o["name"] = r.name;
    o["cluster"] = std::string(rest_edge::ClusterName(r.cluster));
    o["timeout_secs"] = absl::ToInt64Seconds(r.timeout);
    o["transcoded"] = r.transcoded;
    routes.push_back(std::move(o));
  }
  doc["routes"] = std::move(routes);
  doc["not_found_body"] = std::string(rest_edge::kNotFoundBody);
  boost::json::object codes;
  for (const auto& [status, code] : rest_edge::LocalReplyCodes()) codes[std::to_string(status)] = code;
  doc["local_reply_codes"] = std::move(codes);
  const rest_edge::EdgeServerOptions defaults;
  doc["max_body_bytes"] = defaults.max_body_bytes;
  doc["stream_idle_timeout_secs"] = absl::ToInt64Seconds(defaults.stream_idle_timeout);
  doc["request_headers_timeout_secs"] = absl::ToInt64Seconds(defaults.request_headers_timeout);
  doc["idle_timeout_secs"] = absl::ToInt64Seconds(defaults.idle_timeout);
  doc["jwt_prefix"] = std::string(rest_edge::kJwtPrefix);
  doc["stream_framing"] = "newline_delimited";
  std::cout << boost::json::serialize(doc) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--print-routes") == 0) return PrintRoutes(argv[2]);
  if (argc != 1) {
    std::fprintf(stderr, "usage: outcall-rest-edge [--print-routes DESCRIPTOR_SET]\n");
    return 2;
  }
  // SIGTERM/SIGINT are taken by sigwait below alone: blocked before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  common::EnvReader env;
  auto config = rest_edge::LoadEdgeConfig(env);
  if (!config.ok()) {
    std::fprintf(stderr, "outcall-rest-edge: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  if (auto s = common::InitLogging({"rest-edge", config->common.log_level, config->common.log_format == "json"});
      !s.ok()) {
    std::fprintf(stderr, "outcall-rest-edge: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  auto transcoder = rest::Transcoder::FromDescriptorSetFile(config->descriptor_set, kServices);
  if (!transcoder.ok()) {
    spdlog::critical("EDGE_DESCRIPTOR_SET: {}", common::ToStd(transcoder.status().message()));
    return 2;
  }
  auto verifier = common::JwtVerifier::Create(common::JwtOptionsFrom(config->common));
  if (!verifier.ok()) {
    spdlog::critical("JWT: {}", common::ToStd(verifier.status().message()));
    return 2;
  }
  std::optional<rest_edge::StaticFiles> console;
  if (!config->console_dir.empty()) {
    auto loaded = rest_edge::StaticFiles::Load(config->console_dir);
    if (!loaded.ok()) {
      spdlog::critical("{}", common::ToStd(loaded.status().message()));
      return 2;
    }
    console = *std::move(loaded);
    spdlog::info("console: {} file(s) from {}", console->size(), config->console_dir);
  }
  auto registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<prometheus::Exposer> exposer;
  if (!config->metrics_listen_address.empty()) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(config->metrics_listen_address);
      exposer->RegisterCollectable(registry);
    } catch (const std::exception& e) {
      spdlog::critical("METRICS_LISTEN_ADDRESS: cannot listen on {}: {}", config->metrics_listen_address, e.what());
      return 1;
    }
  }

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(16 * 1024 * 1024);  // Envoy: max_response_body_size
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  rest_edge::EdgeBackends backends;
  backends.transcoder = transcoder->get();
  backends.jwt = &*verifier;
  backends.clock = &common::Clock::Real();
  backends.call_gateway = grpc::CreateCustomChannel(config->call_gateway_address, grpc::InsecureChannelCredentials(), args);
  backends.stats = grpc::CreateCustomChannel(config->stats_address, grpc::InsecureChannelCredentials(), args);
  backends.console = console ? &*console : nullptr;
  backends.webhook_ingest_url = config->webhook_ingest_url;
  backends.webhook_ingest_ca_file = config->webhook_ingest_ca_file;
  backends.registry = registry.get();

  rest_edge::EdgeServerOptions options;
  options.listen_address = config->listen_address;
  options.max_body_bytes = config->max_body_bytes;
  options.max_connections = config->max_connections;
  options.threads = config->threads;
  options.request_headers_timeout = config->request_headers_timeout;
  options.idle_timeout = config->idle_timeout;
  options.stream_idle_timeout = config->stream_idle_timeout;
  options.access_log = config->access_log;
  rest_edge::EdgeServer server(options, backends);
  if (auto s = server.Start(); !s.ok()) {
    spdlog::critical("{}", common::ToStd(s.message()));
    return 1;
  }
  spdlog::info("rest-edge: call-gateway {}, stats {}, webhook-ingest {}", config->call_gateway_address,
               config->stats_address, config->webhook_ingest_url);
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("rest-edge: signal {}, draining", sig);
  server.Stop(absl::Now() + absl::Seconds(10));
  spdlog::info("rest-edge: shutdown complete");
  return 0;
}
