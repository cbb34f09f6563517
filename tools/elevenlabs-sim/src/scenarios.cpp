#include "scenarios.h"

#include <algorithm>
#include <boost/json.hpp>

#include "outcall/common/strings.h"

namespace outcall::sim {

namespace json = boost::json;

const std::vector<ScenarioInfo>& AllScenarios() {
  static const std::vector<ScenarioInfo> all = {
      {Scenario::kConfirmed, "confirmed", "answered; the patient confirms the appointment", '1'},
      {Scenario::kReschedule, "reschedule", "answered; the patient asks to reschedule", '2'},
      {Scenario::kOptOut, "opt_out", "answered; the patient asks not to be called again", '3'},
      {Scenario::kVoicemail, "voicemail", "voicemail answers; a message is left", '4'},
      {Scenario::kBusy, "busy", "the line is busy (call_initiation_failure busy)", '5'},
      {Scenario::kNoAnswer, "no_answer",
       "rings until the ringing timeout (call_initiation_failure no-answer)", '6'},
      {Scenario::kFailed, "failed", "the connection fails (conversation failed)", '7'},
      {Scenario::kLongCall, "long_call", "the call runs until its maximum duration cuts it", '8'},
  };
  return all;
}

std::string_view ScenarioName(Scenario s) {
  for (const auto& info : AllScenarios()) {
    if (info.scenario == s) return info.name;
  }
  return "confirmed";
}

std::optional<Scenario> ScenarioFromName(std::string_view name) {
  for (const auto& info : AllScenarios()) {
    if (info.name == name) return info.scenario;
  }
  return std::nullopt;
}

std::optional<Scenario> ScenarioForNumber(std::string_view to_number) {
  if (to_number.size() < 7) return std::nullopt;
  const std::string_view tail = to_number.substr(to_number.size() - 7);
  if (!tail.starts_with("555000")) return std::nullopt;
  for (const auto& info : AllScenarios()) {
    if (info.suffix_digit == tail.back()) return info.scenario;
  }
  return std::nullopt;
}

bool IsAnswered(Scenario s) {
  return s != Scenario::kBusy && s != Scenario::kNoAnswer && s != Scenario::kFailed;
}

int RingSeconds(Scenario s, int ringing_timeout_secs) {
  switch (s) {
    case Scenario::kBusy:
      return 4;
    case Scenario::kNoAnswer:
      return ringing_timeout_secs;
    case Scenario::kFailed:
      return 2;
    case Scenario::kVoicemail:
      return std::min(20, ringing_timeout_secs);
    default:
      return std::min(6, ringing_timeout_secs);
  }
}

int TalkSeconds(Scenario s, int max_duration_secs) {
  int natural = 0;
  switch (s) {
    case Scenario::kConfirmed:
      natural = 31;
      break;
    case Scenario::kReschedule:
      natural = 47;
      break;
    case Scenario::kOptOut:
      natural = 24;
      break;
    case Scenario::kVoicemail:
      natural = 19;
      break;
    case Scenario::kLongCall:
      natural = max_duration_secs;
      break;
    default:
      natural = 0;
  }
  return std::min(natural, max_duration_secs);
}

namespace {

std::string Var(const json::object& vars, std::string_view key, std::string_view fallback) {
  if (auto it = vars.find(key); it != vars.end()) {
    if (it->value().is_string()) return std::string(it->value().as_string());
    if (it->value().is_int64()) return std::to_string(it->value().as_int64());
  }
  return std::string(fallback);
}

struct Turn {
  bool agent;
  int at;
  std::string message;  // empty: a tool call turn (message null)
};

json::object Item(const Turn& t, std::string_view agent_id) {
  json::object item{
      {"role", t.agent ? "agent" : "user"},
      {"time_in_call_secs", t.at},
      {"tool_calls", json::array()},
      {"tool_results", json::array()},
      {"feedback", nullptr},
      {"llm_override", nullptr},
      {"conversation_turn_metrics", nullptr},
      {"rag_retrieval_info", nullptr},
      {"llm_usage", nullptr},
      {"interrupted", false},
      {"original_message", nullptr},
      {"source_medium", t.message.empty() ? json::value(nullptr) : json::value("audio")}};
  if (t.message.empty()) {
    item["message"] = nullptr;
    item["tool_calls"] = json::array{json::object{{"type", "system"},
                                                  {"request_id", "end_call_0"},
                                                  {"tool_name", "end_call"},
                                                  {"params_as_json", "{}"},
                                                  {"tool_has_been_called", true}}};
  } else {
    item["message"] = t.message;
  }
  if (t.agent) item["agent_metadata"] = json::object{{"agent_id", agent_id}};
  return item;
}

json::object Collected(std::string_view id, json::value value, std::string_view rationale) {
  return json::object{{"data_collection_id", id},
                      {"value", std::move(value)},
                      {"rationale", rationale},
                      {"json_schema", nullptr}};
}

}  // namespace

CallContent BuildContent(Scenario s, const json::object& vars, int duration_secs, bool hung_up,
                         std::string_view agent_id, std::string_view max_duration_message) {
  const std::string name = Var(vars, "patient_name", "usted");
  const std::string clinic = Var(vars, "clinic_name", "la clínica");
  const std::string date = Var(vars, "appointment_date", "próximo lunes");
  const std::string time = Var(vars, "appointment_time", "9:00 a. m.");
  const std::string doctor = Var(vars, "doctor_name", "su médico");
  const std::string greeting =
      common::Cat("Hola, buenos días. Le hablamos de ", clinic, " para confirmar la cita de ", name,
                  " el ", date, " a las ", time, " con ", doctor, ". ¿Podrá asistir?");

  std::vector<Turn> turns;
  CallContent c;
  bool confirmed = false, reschedule = false, opt_out = false, voicemail = false;
  std::string successful = "success", title, summary;
  switch (s) {
    case Scenario::kConfirmed:
      turns = {{true, 0, greeting},
               {false, 7, "Sí, claro, ahí estaré."},
               {true, 11,
                "Perfecto, su cita queda confirmada. Recuerde llegar quince minutos "
                "antes con su documento de identidad."},
               {false, 20, "Listo, muchas gracias."},
               {true, 24, "Con gusto. Que tenga un buen día."},
               {true, 29, ""}};
      confirmed = true;
      title = "Cita confirmada";
      summary = "El paciente confirmó su asistencia a la cita.";
      c.termination_reason = "end_call tool was called.";
      break;
    case Scenario::kReschedule:
      turns = {
          {true, 0, greeting},
          {false, 8, "Ese día no puedo. ¿Me la pueden cambiar para la otra semana?"},
          {true, 14,
           "Entiendo. Registro su solicitud de reprogramación. ¿Prefiere en la "
           "mañana o en la tarde?"},
          {false, 24, "En la tarde, por favor."},
          {true, 30, "Anotado: en la tarde. Un asesor le llamará para acordar la nueva fecha."},
          {false, 40, "Perfecto, gracias."},
          {true, 45, ""}};
      reschedule = true;
      title = "Solicitud de reprogramación";
      summary =
          "El paciente no puede asistir y pide reprogramar la cita, de preferencia en la tarde.";
      c.termination_reason = "end_call tool was called.";
      break;
    case Scenario::kOptOut:
      turns = {{true, 0, greeting},
               {false, 8, "No me interesa. Por favor no me vuelvan a llamar."},
               {true, 14,
                "Entendido. Lo retiramos de nuestra lista de llamadas. Disculpe la "
                "molestia."},
               {true, 22, ""}};
      opt_out = true;
      title = "Paciente pide no ser llamado";
      summary = "El paciente pidió que no lo vuelvan a llamar.";
      c.termination_reason = "end_call tool was called.";
      break;
    case Scenario::kVoicemail:
      turns = {{false, 0,
                "Su llamada ha sido transferida al buzón de voz. Deje su mensaje "
                "después del tono."},
               {true, 5,
                common::Cat("Hola, le hablamos de ", clinic, " para recordarle la cita de ", name,
                            " el ", date, " a las ", time,
                            ". Por favor comuníquese con nosotros para confirmarla.")},
               {true, 17, ""}};
      voicemail = true;
      successful = "failure";
      title = "Buzón de voz";
      summary = "Contestó el buzón de voz; se dejó un mensaje con los datos de la cita.";
      c.termination_reason = "voicemail_detection tool was called.";
      break;
    case Scenario::kLongCall: {
      turns = {{true, 0, greeting}};
      static const char* kChatter[] = {
          "Sí, pero antes quería preguntarle por los resultados de mis exámenes.",
          "¿Y también me puede decir si la EPS cubre la consulta?",
          "Es que la última vez me hicieron esperar mucho tiempo.",
          "Otra cosa, ¿el parqueadero sigue siendo gratis?"};
      int at = 9, i = 0;
      while (at < duration_secs - 5) {
        turns.push_back({false, at, kChatter[i % 4]});
        turns.push_back({true, at + 6, "Claro, con gusto le ayudo con eso."});
        at += 20;
        ++i;
      }
      turns.push_back({true, std::max(0, duration_secs - 3), std::string(max_duration_message)});
      successful = "unknown";
      title = "Llamada extensa sin confirmación";
      summary =
          "El paciente hizo varias preguntas y la llamada terminó al llegar a su duración "
          "máxima sin confirmar la cita.";
      c.termination_reason = "Maximum call duration reached.";
      break;
    }
    default:
      break;
  }
  if (hung_up) {
    successful = "unknown";
    title = "Llamada finalizada por la clínica";
    summary = "La llamada fue finalizada antes de terminar la conversación.";
    c.termination_reason = "Call ended by remote party";
    confirmed = reschedule = opt_out = false;
  }
  for (const auto& t : turns) {
    if (t.at <= duration_secs) c.transcript.push_back(Item(t, agent_id));
  }

  json::object collected;
  collected["appointment_confirmed"] =
      Collected("appointment_confirmed", confirmed, "Si el paciente confirmó la asistencia.");
  collected["reschedule_requested"] =
      Collected("reschedule_requested", reschedule, "Si el paciente pidió cambiar la cita.");
  collected["do_not_call"] =
      Collected("do_not_call", opt_out, "Si el paciente pidió no volver a ser llamado.");
  collected["voicemail_detected"] =
      Collected("voicemail_detected", voicemail, "Si respondió un buzón de voz.");
  collected["preferred_time"] =
      Collected("preferred_time", reschedule ? json::value("tarde") : json::value(nullptr),
                "Franja preferida para la nueva cita.");
  c.analysis = json::object{
      {"call_successful", successful},
      {"transcript_summary", summary},
      {"call_summary_title", title},
      {"evaluation_criteria_results",
       json::object{{"objetivo_cumplido", json::object{{"criteria_id", "objetivo_cumplido"},
                                                       {"result", successful},
                                                       {"rationale", summary}}}}},
      {"data_collection_results", std::move(collected)},
  };
  return c;
}

}  // namespace outcall::sim
