// The Simulator's construction (the seeded directory of agents and numbers), start and stop, and
// the helpers its pieces share (simulator_internal.h). What it imitates is elsewhere: routes.cpp
// (the route table), elevenlabs_api.cpp, twilio_api.cpp, control_api.cpp (/__sim/...),
// call_life.cpp (calls on the virtual clock) and conversation_json.cpp.
#include "simulator.h"

#include <algorithm>
#include <boost/json.hpp>

#include "http_server.h"
#include "outcall/common/strings.h"
#include "simulator_internal.h"

namespace outcall::sim {

namespace json = boost::json;

namespace {

constexpr int64_t kDirectoryCreated = 1740787200;  // 2025-03-01

}  // namespace

std::string Rfc2822(absl::Time t) {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", t, absl::UTCTimeZone());
}

const json::value* Field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  return it == o.end() ? nullptr : &it->value();
}

bool IsE164(std::string_view s) {
  if (s.size() < 8 || s.size() > 16 || s[0] != '+' || s[1] == '0') return false;
  return std::all_of(s.begin() + 1, s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

json::object ParseJsonObject(std::string_view body, std::string& error) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec) {
    error = ec.message();
    return {};
  }
  if (!v.is_object()) {
    error = "not an object";
    return {};
  }
  return std::move(v.as_object());
}

Simulator::Simulator(SimConfig config)
    : config_(std::move(config)),
      clock_(config_.time_scale),
      webhooks_(config_, clock_),
      max_concurrent_calls_(config_.max_concurrent_calls),
      override_policy_(config_.override_policy) {
  SeedDirectory();
  clock_.OnChange([this] {
    {
      absl::MutexLock lock(&mu_);
      cv_.SignalAll();
    }
    webhooks_.Wake();
  });
}

Simulator::~Simulator() { Stop(); }

void Simulator::SeedDirectory() {
  const std::string cut = "Hemos alcanzado el tiempo máximo de la llamada. Gracias por atendernos.";
  agents_ = {
      {config_.agent_id,
       "Confirmación de citas",
       {"citas", "confirmacion"},
       kDirectoryCreated,
       {"agent.first_message", "agent.language", "conversation.max_duration_seconds"},
       600,
       "Hola, le hablamos de la clínica para confirmar su cita.",
       cut},
      {"agent_sim_recordatorios",
       "Recordatorio de citas",
       {"citas", "recordatorio"},
       kDirectoryCreated + 86400,
       {"conversation.max_duration_seconds"},
       600,
       "Hola, le recordamos su cita.",
       cut},
      {"agent_sim_campanas",
       "Campaña de vacunación",
       {"campanas"},
       kDirectoryCreated + 2 * 86400,
       {},
       600,
       "Hola, le invitamos a la jornada de vacunación.",
       cut},
      {"agent_sim_encuestas",
       "Encuesta de satisfacción",
       {"encuestas"},
       kDirectoryCreated + 3 * 86400,
       {},
       300,
       "Hola, ¿nos regala un minuto para una encuesta?",
       cut},
      {"agent_sim_resultados",
       "Entrega de resultados",
       {"resultados"},
       kDirectoryCreated + 4 * 86400,
       {},
       600,
       "Hola, sus resultados están listos.",
       cut},
      // The original README's example agent: its requests (agentId "agent_123") work as written.
      {"agent_123",
       "Valeria - Asistente Médica",
       {"asistente"},
       kDirectoryCreated + 5 * 86400,
       {},
       600,
       "Hola, habla Valeria, la asistente de la clínica.",
       cut},
  };
  numbers_ = {
      {config_.phone_number_id, "+576015550100", "Línea principal (Twilio)", "twilio",
       config_.agent_id},
      {"phnum_sim_sip", "+576015550101", "Troncal SIP", "sip_trunk", "agent_sim_recordatorios"},
  };
}

absl::StatusOr<int> Simulator::Start() {
  server_ = std::make_unique<HttpServer>([this](HttpRequest& req) { return Handle(req); }, 2);
  auto port = server_->Listen(config_.listen_address);
  if (!port.ok()) return port.status();
  port_ = *port;
  {
    absl::MutexLock lock(&mu_);
    running_ = true;
  }
  scheduler_ = std::thread([this] { RunScheduler(); });
  webhooks_.Start();
  return port_;
}

void Simulator::Stop() {
  if (server_) server_->Stop();
  {
    absl::MutexLock lock(&mu_);
    if (!running_) return;
    running_ = false;
    cv_.SignalAll();
  }
  scheduler_.join();
  webhooks_.Stop();
}

std::string Simulator::base_url() const {
  const size_t colon = config_.listen_address.rfind(':');
  std::string host = config_.listen_address.substr(0, colon);
  if (host == "0.0.0.0") host = "127.0.0.1";
  return common::Cat("http://", host, ":", port_);
}

const Simulator::Agent* Simulator::FindAgent(std::string_view id) const {
  for (const auto& a : agents_) {
    if (a.id == id) return &a;
  }
  return nullptr;
}

const Simulator::PhoneNumber* Simulator::FindNumber(std::string_view id) const {
  for (const auto& n : numbers_) {
    if (n.id == id) return &n;
  }
  return nullptr;
}
}  // namespace outcall::sim
