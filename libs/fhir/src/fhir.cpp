#include "outcall/fhir/fhir.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/time/civil_time.h"
#include "google/protobuf/util/time_util.h"

namespace outcall::fhir {
namespace {

using google::protobuf::ListValue;
using google::protobuf::Struct;
using google::protobuf::Value;

// ---- reading a Struct ---------------------------------------------------------------------------

const Value* Get(const Struct& s, const std::string& name) {
  const auto it = s.fields().find(name);
  return it == s.fields().end() ? nullptr : &it->second;
}

const Struct* Obj(const Value* v) {
  return v != nullptr && v->kind_case() == Value::kStructValue ? &v->struct_value() : nullptr;
}

const ListValue* List(const Value* v) {
  return v != nullptr && v->kind_case() == Value::kListValue ? &v->list_value() : nullptr;
}

std::string Trim(std::string s) {
  const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && ws(s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && ws(s[i])) ++i;
  return s.substr(i);
}

// A string element, trimmed; a whole JSON number is taken as its digits (an id sent as 123).
std::string Str(const Value* v) {
  if (v == nullptr) return "";
  if (v->kind_case() == Value::kStringValue) return Trim(v->string_value());
  if (v->kind_case() == Value::kNumberValue) {
    const double d = v->number_value();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
      return std::to_string(static_cast<long long>(d));
    }
  }
  return "";
}

std::string Str(const Struct* s, const std::string& name) {
  return s == nullptr ? "" : Str(Get(*s, name));
}

// The objects of a list element (a lone object, which some exporters write for a 0..* element
// with one value, counts as a list of one).
std::vector<const Struct*> Objects(const Value* v) {
  std::vector<const Struct*> out;
  if (const ListValue* l = List(v)) {
    for (const Value& e : l->values()) {
      if (const Struct* o = Obj(&e)) out.push_back(o);
    }
  } else if (const Struct* o = Obj(v)) {
    out.push_back(o);
  }
  return out;
}

std::vector<std::string> Strings(const Value* v) {
  std::vector<std::string> out;
  if (const ListValue* l = List(v)) {
    for (const Value& e : l->values()) {
      if (std::string s = Str(&e); !s.empty()) out.push_back(std::move(s));
    }
  } else if (std::string s = Str(v); !s.empty()) {
    out.push_back(std::move(s));
  }
  return out;
}

// A value safe to quote in an error: printable ASCII (others '?'), at most `max` characters.
std::string Quoted(const std::string& v, size_t max = 40) {
  std::string out = "'";
  for (size_t i = 0; i < v.size() && i < max; ++i) {
    const char c = v[i];
    out.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  }
  if (v.size() > max) out += "...";
  return out + "'";
}

// ---- times
// ----------------------------------------------------------------------------------------

bool Digits(const std::string& s, size_t from, size_t n) {
  if (from + n > s.size()) return false;
  for (size_t i = from; i < from + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

bool IsDateOnly(const std::string& s) {  // YYYY, YYYY-MM, YYYY-MM-DD
  if (s.size() == 4) return Digits(s, 0, 4);
  if (s.size() == 7) return Digits(s, 0, 4) && s[4] == '-' && Digits(s, 5, 2);
  if (s.size() == 10) {
    return Digits(s, 0, 4) && s[4] == '-' && Digits(s, 5, 2) && s[7] == '-' && Digits(s, 8, 2);
  }
  return false;
}

// YYYY-MM-DDThh:mm[:ss[.fff]] with nothing after: a local time with no zone.
bool IsZonelessDateTime(const std::string& s) {
  if (s.size() < 16 || !IsDateOnly(s.substr(0, 10)) || (s[10] != 'T' && s[10] != ' ')) {
    return false;
  }
  if (!Digits(s, 11, 2) || s[13] != ':' || !Digits(s, 14, 2)) return false;
  if (s.size() == 16) return true;
  if (s[16] != ':' || !Digits(s, 17, 2)) return false;
  if (s.size() == 19) return true;
  if (s[19] != '.') return false;
  return s.size() > 20 && Digits(s, 20, s.size() - 20);
}

// A FHIR instant ("2026-12-04T10:00:00-05:00", "...Z"; minutes-only tolerated); else why not.
std::optional<absl::Time> ParseInstant(const std::string& s, std::string* why) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, s, &t, &err) ||
      absl::ParseTime("%Y-%m-%d%ET%H:%M%Ez", s, &t, &err)) {
    return t;
  }
  if (IsZonelessDateTime(s)) {
    *why = Quoted(s) + " has no time zone (a FHIR instant needs Z or an offset such as -05:00)";
  } else if (IsDateOnly(s)) {
    *why = Quoted(s) +
           " is a date without a time (a FHIR instant such as "
           "2026-12-04T10:00:00-05:00 is needed)";
  } else {
    *why = Quoted(s) + " is not a FHIR instant such as 2026-12-04T10:00:00-05:00";
  }
  return std::nullopt;
}

// The span a FHIR date or dateTime covers: "2024" is all of 2024, "2024-05-31" that day (UTC),
// a full dateTime that instant. nullopt when `s` is none of these.
std::optional<std::pair<absl::Time, absl::Time>> Span(const std::string& s) {
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, s, &t, &err)) return std::make_pair(t, t);
  const absl::TimeZone utc = absl::UTCTimeZone();
  if (s.size() == 4 && IsDateOnly(s)) {
    absl::CivilYear y;
    if (absl::ParseCivilTime(s, &y))
      return std::make_pair(absl::FromCivil(y, utc), absl::FromCivil(y + 1, utc));
  } else if (s.size() == 7 && IsDateOnly(s)) {
    absl::CivilMonth m;
    if (absl::ParseCivilTime(s, &m))
      return std::make_pair(absl::FromCivil(m, utc), absl::FromCivil(m + 1, utc));
  } else if (s.size() == 10 && IsDateOnly(s)) {
    absl::CivilDay d;
    if (absl::ParseCivilTime(s, &d))
      return std::make_pair(absl::FromCivil(d, utc), absl::FromCivil(d + 1, utc));
  } else if (IsZonelessDateTime(s) && s.size() >= 10) {
    absl::CivilDay d;  // no zone: the whole day, to be safe
    if (absl::ParseCivilTime(s.substr(0, 10), &d))
      return std::make_pair(absl::FromCivil(d, utc), absl::FromCivil(d + 1, utc));
  }
  return std::nullopt;
}

// A Period in force at `now`: not ended (end, if any, after now) and begun (start, if any,
// before now). An unreadable bound does not count.
bool InForce(const Struct* period, absl::Time now) {
  if (period == nullptr) return true;
  if (auto end = Span(Str(period, "end")); end && end->second <= now) return false;
  if (auto start = Span(Str(period, "start")); start && start->first > now) return false;
  return true;
}

// ---- references
// -----------------------------------------------------------------------------------

struct Reference {
  std::string type;  // "Patient", "Practitioner", ... ("" when unknown)
  std::string id;
};

// "Patient/123", "Patient/123/_history/2", "https://host/fhir/Patient/123" -> {Patient, 123}.
Reference ParseReference(std::string ref) {
  if (const size_t h = ref.find("/_history/"); h != std::string::npos) ref.resize(h);
  while (!ref.empty() && ref.back() == '/') ref.pop_back();
  const size_t slash = ref.rfind('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 >= ref.size()) return {};
  const size_t before = ref.rfind('/', slash - 1);
  std::string type = ref.substr(before == std::string::npos ? 0 : before + 1,
                                slash - (before == std::string::npos ? 0 : before + 1));
  if (type.empty() || type[0] < 'A' || type[0] > 'Z') return {};
  return {std::move(type), ref.substr(slash + 1)};
}

struct Actor {
  std::string type;  // resource type of the actor
  std::string id;    // its id (Patient: the patient's external_ref)
  std::string display;
};

// `patients_by_url`: each Patient entry's fullUrl -> that patient's external_ref (a transaction
// Bundle refers to its own entries by fullUrl, often urn:uuid:...).
Actor ReadActor(const Struct* actor, const std::map<std::string, std::string>& patients_by_url) {
  Actor a;
  if (actor == nullptr) return a;
  a.display = Str(actor, "display");
  const std::string ref = Str(actor, "reference");
  if (!ref.empty()) {
    if (const auto it = patients_by_url.find(ref); it != patients_by_url.end()) {
      a.type = "Patient";
      a.id = it->second;
      return a;
    }
    Reference r = ParseReference(ref);
    a.type = std::move(r.type);
    a.id = std::move(r.id);
  }
  if (a.type.empty()) {
    a.type = Str(actor, "type");  // "Patient", or (rarely) a StructureDefinition URL
    if (const size_t slash = a.type.rfind('/'); slash != std::string::npos) {
      a.type = a.type.substr(slash + 1);
    }
  }
  if (a.id.empty() && a.type == "Patient") a.id = Str(Obj(Get(*actor, "identifier")), "value");
  return a;
}

// A CodeableConcept's words: text, else the first coding's display.
std::string ConceptText(const Struct* c) {
  if (c == nullptr) return "";
  if (std::string t = Str(c, "text"); !t.empty()) return t;
  const std::vector<const Struct*> codings = Objects(Get(*c, "coding"));
  return codings.empty() ? "" : Str(codings[0], "display");
}

// ---- one resource
// ---------------------------------------------------------------------------------

v1::SyncRowResult Refusal(int index, const std::string& kind, const std::string& external_ref,
                          const std::string& field, const std::string& error) {
  v1::SyncRowResult r;
  r.set_index(index);
  r.set_kind(kind);
  r.set_external_ref(external_ref);
  r.set_outcome("refused");
  r.set_field(field);
  r.set_error(error);
  return r;
}

// The external_ref of a Patient or Appointment: id, else the first identifier's value.
std::string ExternalRef(const Struct& r, bool* from_identifier) {
  *from_identifier = false;
  if (std::string id = Str(Get(r, "id")); !id.empty()) return id;
  for (const Struct* ident : Objects(Get(r, "identifier"))) {
    if (std::string v = Str(ident, "value"); !v.empty()) {
      *from_identifier = true;
      return v;
    }
  }
  return "";
}

// Elements of `r` outside `used` (and outside the bookkeeping ones), as "Type.element".
void AddIgnored(const Struct& r, const std::string& type, const std::set<std::string>& used,
                std::set<std::string>* ignored) {
  static const std::set<std::string> kBookkeeping = {"resourceType", "id", "meta", "text"};
  for (const auto& [name, value] : r.fields()) {
    if (kBookkeeping.count(name) > 0 || used.count(name) > 0) continue;
    std::string path = type;
    path += '.';
    path += name;
    ignored->insert(std::move(path));
  }
}

std::optional<std::string> ModifierExtension(const Struct& r) {
  const Value* v = Get(r, "modifierExtension");
  if (v == nullptr || (List(v) != nullptr && List(v)->values_size() == 0)) return std::nullopt;
  const std::vector<const Struct*> mods = Objects(v);
  const std::string url = mods.empty() ? "" : Str(mods[0], "url");
  std::string why = "it has a modifierExtension";
  if (!url.empty()) why += " (" + Quoted(url, 120) + ")";
  why += " that outcall does not understand; FHIR forbids reading the resource without it";
  return why;
}

class Importer {
 public:
  explicit Importer(absl::Time now) : now_(now) {}

  // A Patient entry's external_ref before anything is mapped, for references by fullUrl.
  static std::string PatientRefOf(const Struct& r) {
    bool from_identifier = false;
    return ExternalRef(r, &from_identifier);
  }

  void Add(int index, const Struct& r, const std::string& type,
           const std::map<std::string, std::string>& patients_by_url) {
    if (type == "Patient") {
      Patient(index, r);
    } else if (type == "Appointment") {
      Appointment(index, r, patients_by_url);
    } else if (type.empty()) {
      out_.refused.push_back(
          Refusal(index, "", "", "resourceType", "the entry's resource has no resourceType"));
    } else if (type == "Bundle") {
      out_.refused.push_back(Refusal(index, type, "", "resourceType",
                                     "resourceType Bundle is not imported inside a Bundle"));
    } else {
      out_.refused.push_back(Refusal(index, type, Str(Get(r, "id")), "resourceType",
                                     "resourceType " + type + " is not imported"));
    }
  }

  void Refuse(v1::SyncRowResult r) { out_.refused.push_back(std::move(r)); }

  FhirImport Finish() && {
    out_.ignored.assign(ignored_.begin(), ignored_.end());
    return std::move(out_);
  }

 private:
  void Patient(int index, const Struct& r) {
    const std::string kind = "patient";
    bool from_identifier = false;
    const std::string ref = ExternalRef(r, &from_identifier);
    if (auto why = ModifierExtension(r)) {
      Refuse(Refusal(index, kind, ref, "Patient.modifierExtension", *why));
      return;
    }
    if (ref.empty()) {
      Refuse(Refusal(index, kind, "", "Patient.id",
                     "no id and no identifier.value (outcall keys patients by the clinic's id)"));
      return;
    }
    std::set<std::string> used = {"name", "telecom", "active", "deceasedBoolean",
                                  "deceasedDateTime"};
    if (from_identifier) used.insert("identifier");

    // The name: official among those in use, else the first in use, else the first.
    const std::vector<const Struct*> names = Objects(Get(r, "name"));
    const Struct* name = nullptr;
    for (const Struct* n : names) {
      if (Str(n, "use") == "old" || !InForce(Obj(Get(*n, "period")), now_)) continue;
      if (name == nullptr || (Str(n, "use") == "official" && Str(name, "use") != "official")) {
        name = n;
      }
    }
    if (name == nullptr && !names.empty()) name = names[0];
    std::string full_name = Str(name, "text");
    if (full_name.empty() && name != nullptr) {
      std::vector<std::string> parts = Strings(Get(*name, "given"));
      if (std::string family = Str(name, "family"); !family.empty()) parts.push_back(family);
      for (const std::string& p : parts) full_name += (full_name.empty() ? "" : " ") + p;
    }
    if (full_name.empty()) {
      Refuse(Refusal(index, kind, ref, "Patient.name",
                     "no name (neither name.text nor name.given/name.family)"));
      return;
    }

    // The phone: system phone (else sms), in use; mobile first, then rank, then order.
    std::string phone;
    for (const char* system : {"phone", "sms"}) {
      int best_score = std::numeric_limits<int>::max();
      for (const Struct* t : Objects(Get(r, "telecom"))) {
        const std::string value = Str(t, "value");
        const std::string use = Str(t, "use");
        if (Str(t, "system") != system || value.empty() || use == "old" ||
            !InForce(Obj(Get(*t, "period")), now_)) {
          continue;
        }
        const Value* rank_v = Get(*t, "rank");
        int rank = 1000000;
        if (rank_v != nullptr && rank_v->kind_case() == Value::kNumberValue &&
            rank_v->number_value() >= 1 && rank_v->number_value() < 1000000) {
          rank = static_cast<int>(rank_v->number_value());
        }
        const int score = (use == "mobile" ? 0 : 1000000) + rank;
        if (score < best_score) {
          best_score = score;
          phone = value;
        }
      }
      if (!phone.empty()) break;
    }
    if (phone.empty()) {
      Refuse(Refusal(index, kind, ref, "Patient.telecom",
                     "no phone number in use (telecom with system phone, not use old, not "
                     "ended)"));
      return;
    }

    v1::PatientInput p;
    p.set_external_ref(ref);
    p.set_full_name(full_name);
    p.set_phone(phone);
    const Value* deceased_b = Get(r, "deceasedBoolean");
    const Value* active = Get(r, "active");
    const bool deceased = (deceased_b != nullptr && deceased_b->kind_case() == Value::kBoolValue &&
                           deceased_b->bool_value()) ||
                          !Str(Get(r, "deceasedDateTime")).empty();
    const bool inactive =
        active != nullptr && active->kind_case() == Value::kBoolValue && !active->bool_value();
    if (deceased || inactive) p.set_do_not_call(true);
    *out_.patients.add_patients() = std::move(p);
    out_.patient_entries.push_back(index);
    AddIgnored(r, "Patient", used, &ignored_);
  }

  void Appointment(int index, const Struct& r,
                   const std::map<std::string, std::string>& patients_by_url) {
    const std::string kind = "appointment";
    bool from_identifier = false;
    const std::string ref = ExternalRef(r, &from_identifier);
    if (auto why = ModifierExtension(r)) {
      Refuse(Refusal(index, kind, ref, "Appointment.modifierExtension", *why));
      return;
    }
    if (ref.empty()) {
      Refuse(Refusal(index, kind, "", "Appointment.id",
                     "no id and no identifier.value (outcall keys appointments by the clinic's "
                     "id)"));
      return;
    }
    std::set<std::string> used = {"status", "start", "participant"};
    if (from_identifier) used.insert("identifier");

    std::vector<Actor> patients;
    std::string patient_status, doctor, role_doctor, location;
    for (const Struct* p : Objects(Get(r, "participant"))) {
      const Actor a = ReadActor(Obj(Get(*p, "actor")), patients_by_url);
      if (a.type == "Patient") {
        if (a.id.empty()) continue;  // "Patient/" or an identifier without a value
        if (patients.empty()) patient_status = Str(p, "status");
        patients.push_back(a);
      } else if (a.type == "Practitioner") {
        if (doctor.empty()) doctor = a.display;
      } else if (a.type == "PractitionerRole") {
        if (role_doctor.empty()) role_doctor = a.display;
      } else if (a.type == "Location") {
        if (location.empty()) location = a.display;
      }
    }
    if (patients.empty()) {
      Refuse(Refusal(index, kind, ref, "Appointment.participant",
                     "no participant is a patient (an actor with reference Patient/<id>)"));
      return;
    }
    for (size_t i = 1; i < patients.size(); ++i) {
      if (patients[i].id != patients[0].id) {
        Refuse(Refusal(index, kind, ref, "Appointment.participant",
                       "it has " + std::to_string(patients.size()) +
                           " patient participants; an outcall appointment has one patient"));
        return;
      }
    }

    const std::string start = Str(Get(r, "start"));
    if (start.empty()) {
      Refuse(Refusal(index, kind, ref, "Appointment.start", "no start (when the appointment is)"));
      return;
    }
    std::string why;
    const std::optional<absl::Time> when = ParseInstant(start, &why);
    if (!when) {
      Refuse(Refusal(index, kind, ref, "Appointment.start", why));
      return;
    }

    const std::string fhir_status = Str(Get(r, "status"));
    bool known = true;
    const std::string status = OutcallAppointmentStatus(fhir_status, patient_status, &known);
    if (!known) {
      Refuse(Refusal(index, kind, ref, "Appointment.status",
                     Quoted(fhir_status) +
                         " is not a FHIR R4 appointment status (proposed, pending, booked, "
                         "arrived, fulfilled, cancelled, noshow, entered-in-error, checked-in, "
                         "waitlist)"));
      return;
    }

    std::string specialty;
    for (const char* element : {"serviceType", "specialty"}) {
      if (Get(r, element) == nullptr) continue;
      const std::vector<const Struct*> concepts = Objects(Get(r, element));
      if (specialty.empty() && !concepts.empty()) {
        specialty = ConceptText(concepts[0]);
        if (!specialty.empty()) {
          used.insert(element);
          continue;
        }
      }
      // Present but not what the specialty was taken from: listed as ignored.
    }

    v1::AppointmentInput a;
    a.set_external_ref(ref);
    a.set_patient_external_ref(patients[0].id);
    const int64_t secs = absl::ToUnixSeconds(*when);
    a.mutable_scheduled_at()->set_seconds(secs);
    a.mutable_scheduled_at()->set_nanos(
        static_cast<int32_t>(absl::ToInt64Nanoseconds(*when - absl::FromUnixSeconds(secs))));
    a.set_doctor_name(doctor.empty() ? role_doctor : doctor);
    a.set_specialty(specialty);
    a.set_location(location);
    a.set_status(status);
    *out_.appointments.add_appointments() = std::move(a);
    out_.appointment_entries.push_back(index);
    AddIgnored(r, "Appointment", used, &ignored_);
  }

  absl::Time now_;
  FhirImport out_;
  std::set<std::string> ignored_;
};

std::string PrintableType(const std::string& type) {
  std::string out;
  for (size_t i = 0; i < type.size() && i < 64; ++i) {
    const char c = type[i];
    out.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  }
  return out;
}

// ---- writing a Struct
// -----------------------------------------------------------------------------

Value Text(const std::string& s) {
  Value v;
  v.set_string_value(s);
  return v;
}

Value Object(Struct s) {
  Value v;
  *v.mutable_struct_value() = std::move(s);
  return v;
}

Value Array(std::vector<Value> items) {
  Value v;
  for (Value& i : items) *v.mutable_list_value()->add_values() = std::move(i);
  return v;
}

void Put(Struct* s, const std::string& key, Value v) { (*s->mutable_fields())[key] = std::move(v); }

bool IsSet(const google::protobuf::Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

std::string Instant(const google::protobuf::Timestamp& t) {
  return google::protobuf::util::TimeUtil::ToString(t);
}

void PutMeta(Struct* s, const google::protobuf::Timestamp& updated_at) {
  if (!IsSet(updated_at)) return;
  Struct meta;
  Put(&meta, "lastUpdated", Text(Instant(updated_at)));
  Put(s, "meta", Object(std::move(meta)));
}

Value Participant(Struct actor, const std::string& status) {
  Struct p;
  Put(&p, "actor", Object(std::move(actor)));
  Put(&p, "status", Text(status));
  return Object(std::move(p));
}

}  // namespace

absl::StatusOr<FhirImport> FromFhir(const Struct& resource, absl::Time now) {
  const std::string type = Str(Get(resource, "resourceType"));
  if (type.empty()) {
    return absl::InvalidArgumentError(
        "not a FHIR resource: it has no resourceType (send a Patient, an Appointment or a "
        "Bundle of them)");
  }
  Importer importer(now);
  const std::map<std::string, std::string> no_urls;
  if (type == "Patient" || type == "Appointment") {
    importer.Add(0, resource, type, no_urls);
    return std::move(importer).Finish();
  }
  if (type != "Bundle") {
    return absl::InvalidArgumentError("resourceType " + PrintableType(type) +
                                      " is not imported: send a Patient, an Appointment or a "
                                      "Bundle of them");
  }
  const Value* entry = Get(resource, "entry");
  if (entry != nullptr && List(entry) == nullptr) {
    return absl::InvalidArgumentError("Bundle.entry is not a list of entries");
  }
  if (entry == nullptr) return std::move(importer).Finish();  // an empty Bundle: nothing to do
  const auto& entries = entry->list_value().values();
  // Every Patient entry's fullUrl first: an Appointment may refer to a Patient after it.
  std::map<std::string, std::string> patients_by_url;
  for (const Value& v : entries) {
    const Struct* e = Obj(&v);
    const Struct* res = e == nullptr ? nullptr : Obj(Get(*e, "resource"));
    if (res == nullptr || Str(Get(*res, "resourceType")) != "Patient") continue;
    const std::string url = Str(Get(*e, "fullUrl"));
    const std::string ref = Importer::PatientRefOf(*res);
    if (!url.empty() && !ref.empty()) patients_by_url.emplace(url, ref);
  }
  for (int i = 0; i < entries.size(); ++i) {  // RepeatedPtrField::size() is an int
    const Struct* e = Obj(&entries[i]);
    const Struct* res = e == nullptr ? nullptr : Obj(Get(*e, "resource"));
    if (res == nullptr) {
      importer.Refuse(Refusal(i, "", "", "Bundle.entry.resource",
                              "the entry has no resource (requests such as DELETE are not "
                              "imported)"));
      continue;
    }
    importer.Add(i, *res, PrintableType(Str(Get(*res, "resourceType"))), patients_by_url);
  }
  return std::move(importer).Finish();
}

std::string FhirAppointmentStatus(std::string_view s) {
  if (s.empty() || s == "scheduled" || s == "confirmed" || s == "reschedule_requested") {
    return "booked";
  }
  if (s == "canceled") return "cancelled";
  if (s == "completed") return "fulfilled";
  if (s == "no_show") return "noshow";
  return "";
}

std::string FhirPatientParticipantStatus(const v1::SyncedAppointment& a) {
  const std::string& s = a.status();
  if (s == "reschedule_requested") return "tentative";
  if (s == "confirmed" || s == "completed") return "accepted";
  if ((s == "canceled" || s == "no_show") && IsSet(a.confirmed_at())) return "accepted";
  return "needs-action";
}

std::string OutcallAppointmentStatus(std::string_view fhir, std::string_view patient_status,
                                     bool* known) {
  *known = true;
  if (fhir.empty()) return "";
  if (fhir == "booked") return patient_status == "accepted" ? "confirmed" : "scheduled";
  if (fhir == "proposed" || fhir == "pending" || fhir == "waitlist") return "scheduled";
  if (fhir == "arrived" || fhir == "checked-in" || fhir == "fulfilled") return "completed";
  if (fhir == "cancelled" || fhir == "entered-in-error") return "canceled";
  if (fhir == "noshow") return "no_show";
  *known = false;
  return "";
}

Struct PatientToFhir(const v1::SyncedPatient& p) {
  Struct r;
  Put(&r, "resourceType", Text("Patient"));
  Put(&r, "id", Text(p.external_ref()));
  PutMeta(&r, p.updated_at());
  Struct identifier;
  Put(&identifier, "use", Text("usual"));
  Put(&identifier, "value", Text(p.external_ref()));
  Put(&r, "identifier", Array({Object(std::move(identifier))}));
  Value active;
  active.set_bool_value(true);
  Put(&r, "active", std::move(active));
  if (!p.full_name().empty()) {
    Struct name;
    Put(&name, "text", Text(p.full_name()));
    Put(&r, "name", Array({Object(std::move(name))}));
  }
  if (!p.phone_number().empty()) {
    Struct telecom;
    Put(&telecom, "system", Text("phone"));
    Put(&telecom, "value", Text(p.phone_number()));
    Put(&telecom, "use", Text("mobile"));
    Put(&r, "telecom", Array({Object(std::move(telecom))}));
  }
  return r;
}

Struct AppointmentToFhir(const v1::SyncedAppointment& a) {
  Struct r;
  Put(&r, "resourceType", Text("Appointment"));
  Put(&r, "id", Text(a.external_ref()));
  PutMeta(&r, a.updated_at());
  std::string status = FhirAppointmentStatus(a.status());
  if (status.empty()) status = a.fhir_status().empty() ? "booked" : a.fhir_status();
  Put(&r, "status", Text(status));
  if (!a.specialty().empty()) {
    Struct service;
    Put(&service, "text", Text(a.specialty()));
    Put(&r, "serviceType", Array({Object(std::move(service))}));
  }
  if (IsSet(a.scheduled_at())) Put(&r, "start", Text(Instant(a.scheduled_at())));
  if (a.status() == "reschedule_requested") {
    Put(&r, "comment",
        Text(a.reschedule_preference().empty()
                 ? std::string("Reschedule requested")
                 : "Reschedule requested: " + a.reschedule_preference()));
  }
  std::vector<Value> participants;
  {
    Struct actor;
    Put(&actor, "reference", Text("Patient/" + a.patient_external_ref()));
    Put(&actor, "type", Text("Patient"));
    participants.push_back(Participant(std::move(actor), FhirPatientParticipantStatus(a)));
  }
  if (!a.doctor_name().empty()) {
    Struct actor;
    Put(&actor, "type", Text("Practitioner"));
    Put(&actor, "display", Text(a.doctor_name()));
    participants.push_back(Participant(std::move(actor), "accepted"));
  }
  if (!a.location().empty()) {
    Struct actor;
    Put(&actor, "type", Text("Location"));
    Put(&actor, "display", Text(a.location()));
    participants.push_back(Participant(std::move(actor), "accepted"));
  }
  Put(&r, "participant", Array(std::move(participants)));
  return r;
}

}  // namespace outcall::fhir
