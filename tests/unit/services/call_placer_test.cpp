// CallPlacer's rules against an in-memory repository and a scripted ElevenLabs
// (call_gateway_fakes.h): what is refused before anything is recorded or dialled, how the call
// is linked to its patient and appointment, the opt-out, the Idempotency-Key (a retry replays,
// never dials again), and the settling of an answer that never came. tests/gateway covers the
// same path through PostgreSQL and real gRPC.
#include "call_placer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "call_event_hub.h"
#include "call_gateway_fakes.h"
#include "metrics.h"
#include "outcall/common/clock.h"
#include "outcall/elevenlabs/api.h"

namespace outcall::call_gateway {
namespace {

using elevenlabs::PlacedCall;
using elevenlabs::ProviderFailure;
using elevenlabs::Result;
using fakes::FakeCallRepository;
using fakes::FakeElevenLabs;
using fakes::FakePolicyRepository;
using ::testing::HasSubstr;
using ::testing::Not;

// The fixture's clock: Wednesday 2027-01-13 10:00 in Bogotá (15:00 UTC), inside the default
// profile's hours; the contact-policy tests move it.
constexpr int64_t kStart = 1799852400;

Result<PlacedCall> Placed(std::string conversation_id, std::string call_sid = "CA0001") {
  return PlacedCall{std::move(conversation_id), std::move(call_sid)};
}

// A request that may have reached ElevenLabs (the client's timeout): the outcome is unknown.
Result<PlacedCall> NoAnswer() {
  return {absl::UnavailableError("ElevenLabs did not answer within 10s"),
          ProviderFailure{0, "timeout", "no answer within 10s", /*maybe_delivered=*/true}};
}

// ElevenLabs refused the call (a 4xx): definitely not placed.
Result<PlacedCall> Refused422() {
  return {absl::InvalidArgumentError("ElevenLabs answered 422: the number cannot be called"),
          ProviderFailure{422, "invalid_phone_number", "the number cannot be called", false}};
}

Result<std::vector<elevenlabs::ConversationBrief>> Found(std::string conversation_id) {
  return std::vector<elevenlabs::ConversationBrief>{{std::move(conversation_id), "initiated", 0}};
}

Result<std::vector<elevenlabs::ConversationBrief>> NothingFound() {
  return std::vector<elevenlabs::ConversationBrief>{};
}

v1::InitiateCallRequest Req(std::string phone = "3001234567") {
  v1::InitiateCallRequest r;
  r.set_phone_number(std::move(phone));
  (*r.mutable_custom_variables()->mutable_fields())["appointment_time"].set_string_value("10:00");
  return r;
}

class CallPlacerTest : public ::testing::Test {
 protected:
  CallPlacerTest() {
    hub_.Subscribe([this](const v1::CallUpdate& u) { updates_.push_back(u); });
  }

  static PlacerOptions Options() {
    PlacerOptions o;
    o.default_agent_id = "agent_default";
    o.agent_phone_number_id = "phnum_1";
    o.max_call_duration_secs = 300;
    o.default_country_code = "57";
    return o;
  }

  // Nothing was recorded and nothing dialled: the refusal came before the call existed.
  void ExpectNothingPlaced() {
    EXPECT_EQ(store_.calls_of("BeginCall"), 0);
    EXPECT_TRUE(store_.calls().empty());
    EXPECT_TRUE(api_.placed().empty());
  }

  common::ManualClock clock_{absl::FromUnixSeconds(kStart)};
  std::vector<v1::CallUpdate> updates_;  // what the hub published, in order
  FakeCallRepository store_{clock_};
  FakeElevenLabs api_;
  GatewayMetrics metrics_{nullptr};
  CallEventHub hub_{clock_};
  FakePolicyRepository policy_store_;
  ContactPolicy policy_{policy_store_};
  CallPlacer placer_{Options(), store_, api_, policy_, clock_, metrics_, hub_};
};

// ---- The request checked before anything else

TEST_F(CallPlacerTest, AMissingOrInvalidNumberIsRefusedNamingTheFieldAndNothingIsDialled) {
  v1::InitiateCallRequest none = Req("");
  auto missing = placer_.InitiateCall("clinic", "", none);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(missing.status().message(), "phoneNumber is required");

  auto nine_digits = placer_.InitiateCall("clinic", "", Req("300123456"));
  EXPECT_EQ(nine_digits.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(nine_digits.status().message(),
            "phoneNumber: invalid phone number: a Colombian number has 10 digits (or 12 starting "
            "with 57), this one has 9");

  auto letters = placer_.InitiateCall("clinic", "key-1", Req("call me maybe"));
  EXPECT_EQ(letters.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(letters.status().message()), ::testing::StartsWith("phoneNumber: "));
  ExpectNothingPlaced();
  EXPECT_FALSE(store_.key("clinic", "key-1")) << "a refused request claims no key";
}

TEST_F(CallPlacerTest, ANationalNumberGetsTheDefaultCountryCodeAndTheDialCarriesTheCall) {
  api_.QueuePlace(Placed("conv_1", "CA123"));
  v1::InitiateCallRequest req = Req("300 123 4567");
  auto& vars = *req.mutable_custom_variables()->mutable_fields();
  vars["slots"].set_number_value(3);
  vars["price"].set_number_value(2.5);
  vars["first_visit"].set_bool_value(true);
  // Metadata is ours, not the agent's: it may nest, and is stored, not sent.
  (*(*req.mutable_metadata()->mutable_fields())["source"]
        .mutable_struct_value()
        ->mutable_fields())["system"]
      .set_string_value("agenda");

  auto resp = placer_.InitiateCall("clinic", "", req);

  ASSERT_TRUE(resp.ok()) << resp.status();
  const auto placed = api_.placed();
  ASSERT_EQ(placed.size(), 1u);
  const elevenlabs::OutboundCall& out = placed[0];
  EXPECT_EQ(out.to_number, "+573001234567");
  EXPECT_EQ(out.agent_id, "agent_default");
  EXPECT_EQ(out.agent_phone_number_id, "phnum_1");
  EXPECT_EQ(out.max_duration_secs, 300);
  const auto calls = store_.calls();
  ASSERT_EQ(calls.size(), 1u);
  const CallRow& row = calls[0].row;
  EXPECT_EQ(out.user_id, row.call_id) << "our call id is the correlation ElevenLabs echoes";
  EXPECT_EQ(out.dynamic_variables.at("call_id").as_string(), row.call_id);
  EXPECT_EQ(out.dynamic_variables.at("appointment_time").as_string(), "10:00");
  ASSERT_TRUE(out.dynamic_variables.at("slots").is_int64()) << "a whole number stays whole";
  EXPECT_EQ(out.dynamic_variables.at("slots").as_int64(), 3);
  EXPECT_DOUBLE_EQ(out.dynamic_variables.at("price").as_double(), 2.5);
  EXPECT_TRUE(out.dynamic_variables.at("first_visit").as_bool());
  EXPECT_FALSE(out.dynamic_variables.contains("patient_id")) << "no patient has this number";
  EXPECT_FALSE(out.dynamic_variables.contains("patient_name"));
  EXPECT_FALSE(out.dynamic_variables.contains("source")) << "metadata is not sent";

  EXPECT_EQ(MessageJson(*resp), MessageJson(InitiatedResponse("conv_1", row.call_id)));
  EXPECT_EQ(resp->data().status(), "initiated");
  EXPECT_EQ(row.status, "initiated");
  EXPECT_EQ(row.conversation_id, "conv_1");
  EXPECT_EQ(row.call_sid, "CA123");
  EXPECT_EQ(row.phone_number, "+573001234567");
  EXPECT_EQ(row.dial_attempted_unix, kStart);
  EXPECT_THAT(calls[0].request.metadata_json, HasSubstr("agenda"));
  ASSERT_EQ(updates_.size(), 1u);
  EXPECT_EQ(updates_[0].status(), "initiated");
  EXPECT_EQ(updates_[0].previous_status(), "dialing");
  EXPECT_EQ(updates_[0].cause(), "outbound_call");
  // Webhook events that came before the conversation id was known are applied now.
  EXPECT_THAT(store_.replayed_conversations(), ::testing::ElementsAre("conv_1"));
}

TEST_F(CallPlacerTest, TheRequestsAgentReplacesTheDefaultOne) {
  api_.QueuePlace(Placed("conv_1"));
  v1::InitiateCallRequest req = Req();
  req.set_agent_id("agent_reminders");
  ASSERT_TRUE(placer_.InitiateCall("clinic", "", req).ok());
  ASSERT_EQ(api_.placed().size(), 1u);
  EXPECT_EQ(api_.placed()[0].agent_id, "agent_reminders");
  EXPECT_EQ(store_.calls()[0].row.agent_id, "agent_reminders");
}

TEST_F(CallPlacerTest, NestedOrListVariablesAreRefusedNamingTheVariable) {
  v1::InitiateCallRequest nested = Req();
  (*(*nested.mutable_custom_variables()->mutable_fields())["slot"]
        .mutable_struct_value()
        ->mutable_fields())["time"]
      .set_string_value("10:00");
  auto s = placer_.InitiateCall("clinic", "", nested);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(),
            "customVariables.slot: values must be strings, numbers or booleans");

  v1::InitiateCallRequest list = Req();
  (*list.mutable_custom_variables()->mutable_fields())["times"]
      .mutable_list_value()
      ->add_values()
      ->set_string_value("10:00");
  s = placer_.InitiateCall("clinic", "", list);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(),
            "customVariables.times: values must be strings, numbers or booleans");
  ExpectNothingPlaced();
}

TEST_F(CallPlacerTest, SystemPrefixedVariablesAreRefused) {
  v1::InitiateCallRequest req = Req();
  (*req.mutable_custom_variables()->mutable_fields())["system__caller_id"].set_string_value("x");
  auto s = placer_.InitiateCall("clinic", "", req);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(),
            "customVariables.system__caller_id: the system__ prefix is reserved by ElevenLabs");
  ExpectNothingPlaced();
}

TEST_F(CallPlacerTest, NonPositiveIdsAndOverlongKeysAreRefused) {
  v1::InitiateCallRequest patient = Req();
  patient.set_patient_id(0);
  auto s = placer_.InitiateCall("clinic", "", patient);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(), "patientId must be a positive integer");

  v1::InitiateCallRequest appointment = Req();
  appointment.set_appointment_id(-3);
  s = placer_.InitiateCall("clinic", "", appointment);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(), "appointmentId must be a positive integer");

  s = placer_.InitiateCall("clinic", std::string(256, 'k'), Req());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(), "Idempotency-Key is longer than 255 characters");
  EXPECT_EQ(store_.calls_of("FindPatient"), 0) << "refused before any lookup";
  ExpectNothingPlaced();
}

// ---- Patients and appointments

TEST_F(CallPlacerTest, AnUnknownPatientOrAppointmentIsNotFound) {
  v1::InitiateCallRequest patient = Req();
  patient.set_patient_id(42);
  auto s = placer_.InitiateCall("clinic", "", patient);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.status().message(), "patient 42 not found");

  v1::InitiateCallRequest appointment = Req();
  appointment.set_appointment_id(9);
  s = placer_.InitiateCall("clinic", "", appointment);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.status().message(), "appointment 9 not found");
  ExpectNothingPlaced();
}

TEST_F(CallPlacerTest, AnAppointmentOfAnotherPatientIsRefused) {
  store_.AddPatient({1, "Ana Gómez", "+573001234567", false});
  store_.AddPatient({2, "Luis Pérez", "+573007654321", false});
  store_.AddAppointment(7, 2);
  v1::InitiateCallRequest req = Req();
  req.set_patient_id(1);
  req.set_appointment_id(7);
  auto s = placer_.InitiateCall("clinic", "", req);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.status().message(), "appointmentId 7 belongs to another patient");
  ExpectNothingPlaced();
}

TEST_F(CallPlacerTest, AnAppointmentLinksItsPatientWhenNoneIsNamed) {
  store_.AddPatient({2, "Luis Pérez", "+573007654321", false});
  store_.AddAppointment(7, 2);
  api_.QueuePlace(Placed("conv_1"));
  v1::InitiateCallRequest req = Req("3009990000");  // not Luis' number: nothing links by phone
  req.set_appointment_id(7);
  ASSERT_TRUE(placer_.InitiateCall("clinic", "", req).ok());
  const auto calls = store_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].request.patient_id, 2);
  EXPECT_EQ(calls[0].request.appointment_id, 7);
  ASSERT_EQ(api_.placed().size(), 1u);
  EXPECT_EQ(api_.placed()[0].dynamic_variables.at("patient_id").as_string(), "2");
  EXPECT_EQ(api_.placed()[0].dynamic_variables.at("appointment_id").as_string(), "7");
}

TEST_F(CallPlacerTest, APatientIsLinkedByNumberOnlyWhenExactlyOneHasIt) {
  store_.AddPatient({1, "Ana Gómez", "+573001234567", false});
  store_.AddPatient({2, "Luis Pérez", "+573007654321", false});
  store_.AddPatient({3, "Marta Pérez", "+573007654321", false});  // the same family phone
  api_.QueuePlace(Placed("conv_1"));
  api_.QueuePlace(Placed("conv_2"));

  ASSERT_TRUE(placer_.InitiateCall("clinic", "", Req("3001234567")).ok());
  ASSERT_TRUE(placer_.InitiateCall("clinic", "", Req("3007654321")).ok());

  const auto calls = store_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].request.patient_id, 1);
  EXPECT_EQ(calls[0].request.patient_name, "Ana Gómez");
  EXPECT_EQ(calls[1].request.patient_id, std::nullopt) << "two patients have it: no guess";
  EXPECT_EQ(calls[1].request.patient_name, "");
  const auto placed = api_.placed();
  ASSERT_EQ(placed.size(), 2u);
  EXPECT_EQ(placed[0].dynamic_variables.at("patient_id").as_string(), "1");
  EXPECT_EQ(placed[0].dynamic_variables.at("patient_name").as_string(), "Ana Gómez");
  EXPECT_FALSE(placed[1].dynamic_variables.contains("patient_id"));
  EXPECT_FALSE(placed[1].dynamic_variables.contains("patient_name"));
}

TEST_F(CallPlacerTest, TheRequestsNameWinsOverTheStoredOne) {
  store_.AddPatient({1, "Ana Gómez", "+573001234567", false});
  api_.QueuePlace(Placed("conv_1"));
  v1::InitiateCallRequest req = Req();
  req.set_patient_id(1);
  req.set_patient_name("Anita");
  ASSERT_TRUE(placer_.InitiateCall("clinic", "", req).ok());
  ASSERT_EQ(api_.placed().size(), 1u);
  EXPECT_EQ(api_.placed()[0].dynamic_variables.at("patient_name").as_string(), "Anita");
}

// ---- Opt-out

TEST_F(CallPlacerTest, AnOptedOutNumberOrPatientIsNotCalled) {
  store_.AddPatient({1, "Ana Gómez", "+573001234567", false});
  store_.AddPatient({2, "Luis Pérez", "+573007654321", true});  // do_not_call
  store_.OptOutPhone("+573005550003");
  store_.OptOutPatient(1);

  // By number, whatever spelling the request used.
  auto by_number = placer_.InitiateCall("clinic", "", Req("+57 300 555 0003"));
  // By patient: named, or linked by the number (no id in the request).
  v1::InitiateCallRequest named = Req("3009990000");
  named.set_patient_id(1);
  auto by_patient = placer_.InitiateCall("clinic", "", named);
  auto by_linked_number = placer_.InitiateCall("clinic", "", Req("3001234567"));
  // The patient's do_not_call.
  auto do_not_call = placer_.InitiateCall("clinic", "key-1", Req("3007654321"));
  v1::CallPatientRequest call_patient;
  call_patient.set_patient_id(2);
  auto through_call_patient = placer_.CallPatient("clinic", "", call_patient);

  for (const auto& s : {by_number.status(), by_patient.status(), by_linked_number.status(),
                        do_not_call.status(), through_call_patient.status()}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
    EXPECT_EQ(s.message(), "the patient asked not to be called (opt-out)");
  }
  ExpectNothingPlaced();
  EXPECT_FALSE(store_.key("clinic", "key-1")) << "an opt-out claims no key";
}

// ---- Idempotency-Key

TEST_F(CallPlacerTest, ARetryWithTheSameKeyReplaysTheFirstAnswerWithoutDiallingAgain) {
  api_.QueuePlace(Placed("conv_1"));
  auto first = placer_.InitiateCall("clinic", "key-1", Req());
  ASSERT_TRUE(first.ok()) << first.status();
  const v1::InitiateCallRequest retry = Req();  // a new message, as a new RPC would parse
  auto second = placer_.InitiateCall("clinic", "key-1", retry);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(MessageJson(*second), MessageJson(*first));
  EXPECT_EQ(second->data().conversation_id(), "conv_1");
  EXPECT_EQ(api_.placed().size(), 1u) << "never dialled twice";
  EXPECT_EQ(store_.calls().size(), 1u);
  const auto key = store_.key("clinic", "key-1");
  ASSERT_TRUE(key);
  EXPECT_FALSE(key->in_progress);
  EXPECT_EQ(key->grpc_code, 0);
  EXPECT_EQ(key->call_row, store_.calls()[0].row.id);
}

TEST_F(CallPlacerTest, TheSameVariablesInAnotherOrderAreTheSameRequest) {
  // A retry is a new RPC: its Structs are parsed into new maps, which protobuf iterates (and
  // serialises) in an order seeded per map. The request hash must not depend on it. Many
  // variables, set in opposite orders, make two iteration orders agreeing by chance unlikely.
  v1::InitiateCallRequest first = Req(), retry = Req();
  constexpr int kVariables = 24;
  for (int i = 0; i < kVariables; ++i) {
    (*first.mutable_custom_variables()->mutable_fields())["v" + std::to_string(i)].set_number_value(
        i);
    (*retry.mutable_custom_variables()->mutable_fields())["v" + std::to_string(kVariables - 1 - i)]
        .set_number_value(kVariables - 1 - i);
    (*first.mutable_metadata()->mutable_fields())["m" + std::to_string(i)].set_bool_value(true);
    (*retry.mutable_metadata()->mutable_fields())["m" + std::to_string(kVariables - 1 - i)]
        .set_bool_value(true);
  }
  api_.QueuePlace(Placed("conv_1"));
  ASSERT_TRUE(placer_.InitiateCall("clinic", "key-1", first).ok());
  auto again = placer_.InitiateCall("clinic", "key-1", retry);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->data().conversation_id(), "conv_1");
  // The same bytes parsed again, as a retry of the same body arrives: a new map, a new order.
  v1::InitiateCallRequest reparsed;
  ASSERT_TRUE(reparsed.ParseFromString(first.SerializeAsString()));
  auto same_bytes = placer_.InitiateCall("clinic", "key-1", reparsed);
  ASSERT_TRUE(same_bytes.ok()) << same_bytes.status();
  EXPECT_EQ(same_bytes->data().conversation_id(), "conv_1");
  EXPECT_EQ(api_.placed().size(), 1u);
}

TEST_F(CallPlacerTest, TheSameKeyWithAnotherRequestIsRefused) {
  api_.QueuePlace(Placed("conv_1"));
  ASSERT_TRUE(placer_.InitiateCall("clinic", "key-1", Req()).ok());
  v1::InitiateCallRequest other = Req("3007654321");
  auto s = placer_.InitiateCall("clinic", "key-1", other);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.status().message(),
            "Idempotency-Key was already used with a different request; use a new key for a new "
            "call");
  v1::InitiateCallRequest other_variables = Req();
  (*other_variables.mutable_custom_variables()->mutable_fields())["appointment_time"]
      .set_string_value("11:00");
  EXPECT_EQ(placer_.InitiateCall("clinic", "key-1", other_variables).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(api_.placed().size(), 1u);
  EXPECT_EQ(store_.calls().size(), 1u);
}

TEST_F(CallPlacerTest, KeysArePerPrincipal) {
  api_.QueuePlace(Placed("conv_1"));
  api_.QueuePlace(Placed("conv_2"));
  auto mine = placer_.InitiateCall("clinic-a", "key-1", Req());
  ASSERT_TRUE(mine.ok());
  ASSERT_TRUE(store_.AdvanceStatus(store_.calls()[0].row.id, "completed", "test").ok());
  // Another principal's same key is not a replay of clinic-a's call: it places its own.
  auto theirs = placer_.InitiateCall("clinic-b", "key-1", Req());
  ASSERT_TRUE(theirs.ok()) << theirs.status();
  EXPECT_EQ(theirs->data().conversation_id(), "conv_2");
  EXPECT_EQ(api_.placed().size(), 2u);
}

TEST_F(CallPlacerTest, AProviderRefusalIsRecordedAndReplayedWithItsCode) {
  api_.QueuePlace(Refused422());
  auto first = placer_.InitiateCall("clinic", "key-1", Req());
  EXPECT_EQ(first.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(first.status().message(), "ElevenLabs answered 422: the number cannot be called");
  const auto calls = store_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].row.status, "failed");
  ASSERT_EQ(calls[0].errors.size(), 1u);
  EXPECT_EQ(calls[0].errors[0].source, "provider");
  EXPECT_EQ(calls[0].errors[0].code, "invalid_phone_number");
  EXPECT_EQ(calls[0].errors[0].http_status, 422);
  EXPECT_TRUE(api_.finds().empty()) << "a definite refusal needs no lookup";
  ASSERT_EQ(updates_.size(), 1u);
  EXPECT_EQ(updates_[0].status(), "failed");
  const auto key = store_.key("clinic", "key-1");
  ASSERT_TRUE(key);
  EXPECT_FALSE(key->in_progress);
  EXPECT_EQ(key->grpc_code, static_cast<int>(absl::StatusCode::kInvalidArgument));

  auto retry = placer_.InitiateCall("clinic", "key-1", Req());
  EXPECT_EQ(retry.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(retry.status().message(), first.status().message());
  EXPECT_EQ(api_.placed().size(), 1u) << "the refusal is replayed, not dialled again";
}

// ---- An answer that never came

TEST_F(CallPlacerTest, AnUnknownAnswerFoundByCallIdIsInitiated) {
  api_.QueuePlace(NoAnswer());
  api_.QueueFind(Found("conv_7"));
  auto resp = placer_.InitiateCall("clinic", "key-1", Req());
  ASSERT_TRUE(resp.ok()) << resp.status();
  const CallRow row = store_.calls()[0].row;
  EXPECT_EQ(MessageJson(*resp), MessageJson(InitiatedResponse("conv_7", row.call_id)));
  // Looked up by our call id, from a little before the dial.
  const auto finds = api_.finds();
  ASSERT_EQ(finds.size(), 1u);
  EXPECT_EQ(finds[0].user_id, row.call_id);
  EXPECT_EQ(finds[0].agent_id, "agent_default");
  EXPECT_EQ(finds[0].after_unix, kStart - 120);
  EXPECT_EQ(row.status, "initiated");
  EXPECT_EQ(row.conversation_id, "conv_7");
  ASSERT_EQ(updates_.size(), 1u);
  EXPECT_EQ(updates_[0].cause(), "outbound_call_reconciled");
  const auto key = store_.key("clinic", "key-1");
  ASSERT_TRUE(key);
  EXPECT_FALSE(key->in_progress);
  EXPECT_EQ(key->response_json, MessageJson(InitiatedResponse("conv_7", row.call_id)));

  auto retry = placer_.InitiateCall("clinic", "key-1", Req());
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(retry->data().conversation_id(), "conv_7");
  EXPECT_EQ(api_.placed().size(), 1u);
  EXPECT_EQ(api_.finds().size(), 1u);
}

TEST_F(CallPlacerTest, AnUnknownAnswerThatElevenLabsDoesNotKnowIsFailed) {
  api_.QueuePlace(NoAnswer());
  api_.QueueFind(NothingFound());
  auto first = placer_.InitiateCall("clinic", "key-1", Req());
  const auto calls = store_.calls();
  ASSERT_EQ(calls.size(), 1u);
  // The answer says what happened and what to do: this key will never place the call.
  EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(first.status().message(),
            "call " + calls[0].row.call_id +
                " was not placed (ElevenLabs did not answer within 10s; ElevenLabs has no "
                "conversation for it): use a new Idempotency-Key to place it again");
  EXPECT_EQ(calls[0].row.status, "failed");
  ASSERT_EQ(calls[0].errors.size(), 1u);
  EXPECT_EQ(calls[0].errors[0].source, "reconciler");
  EXPECT_EQ(calls[0].errors[0].code, "not_placed");
  const auto key = store_.key("clinic", "key-1");
  ASSERT_TRUE(key);
  EXPECT_FALSE(key->in_progress);
  EXPECT_EQ(key->grpc_code, static_cast<int>(absl::StatusCode::kUnavailable));

  auto retry = placer_.InitiateCall("clinic", "key-1", Req());
  EXPECT_EQ(retry.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(retry.status().message(), first.status().message());
  EXPECT_EQ(api_.placed().size(), 1u);
  // The failed call holds nothing: a new key places the call again.
  api_.QueuePlace(Placed("conv_2"));
  auto fresh = placer_.InitiateCall("clinic", "key-2", Req());
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(api_.placed().size(), 2u);
}

TEST_F(CallPlacerTest, AnUnknownAnswerThatCannotBeLookedUpStaysDialingAndHoldsItsKey) {
  api_.QueuePlace(NoAnswer());
  api_.QueueFind(Result<std::vector<elevenlabs::ConversationBrief>>(
      absl::UnavailableError("ElevenLabs answered 503")));
  auto first = placer_.InitiateCall("clinic", "key-1", Req());
  const CallRow row = store_.calls()[0].row;
  EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(first.status().message(),
            "call " + row.call_id +
                ": ElevenLabs did not answer and the outcome is not known yet; it will be "
                "reconciled (do not place it again): ElevenLabs did not answer within 10s");
  EXPECT_EQ(row.status, "dialing");
  EXPECT_TRUE(updates_.empty());
  EXPECT_EQ(store_.calls_of("FinishKey"), 0);
  auto key = store_.key("clinic", "key-1");
  ASSERT_TRUE(key);
  EXPECT_TRUE(key->in_progress) << "the key follows its call: unsettled";

  // A retry with the key hears that the first is still being processed; nothing is dialled.
  auto retry = placer_.InitiateCall("clinic", "key-1", Req());
  EXPECT_EQ(retry.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(retry.status().message(),
            "a request with this Idempotency-Key is still being processed; retry shortly");
  // Without the key the live call guards the number.
  auto unkeyed = placer_.InitiateCall("clinic", "", Req());
  EXPECT_EQ(unkeyed.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(api_.placed().size(), 1u);
  EXPECT_EQ(api_.finds().size(), 1u);

  // The reconciler settles the call later, and the key with it.
  clock_.Advance(absl::Minutes(2));
  api_.QueueFind(Found("conv_7"));
  auto settled = placer_.SettleDial(row, "reconciler");
  ASSERT_TRUE(settled.ok()) << settled.status();
  EXPECT_EQ(settled->status, "initiated");
  EXPECT_EQ(settled->previous_status, "dialing");
  EXPECT_EQ(api_.finds().back().after_unix, kStart - 120) << "from the dial, not from now";
  auto replay = placer_.InitiateCall("clinic", "key-1", Req());
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_EQ(MessageJson(*replay), MessageJson(InitiatedResponse("conv_7", row.call_id)));
  EXPECT_EQ(api_.placed().size(), 1u);
}

TEST_F(CallPlacerTest, ADialThatTheReconcilerFindsNotPlacedTellsTheKeyToUseANewOne) {
  api_.QueuePlace(NoAnswer());
  api_.QueueFind(Result<std::vector<elevenlabs::ConversationBrief>>(
      absl::UnavailableError("ElevenLabs answered 503")));
  ASSERT_FALSE(placer_.InitiateCall("clinic", "key-1", Req()).ok());
  const CallRow row = store_.calls()[0].row;

  api_.QueueFind(NothingFound());
  auto settled = placer_.SettleDial(row, "reconciler");
  ASSERT_TRUE(settled.ok()) << settled.status();
  EXPECT_EQ(settled->status, "failed");
  EXPECT_EQ(settled->cause, "reconciler");
  auto replay = placer_.InitiateCall("clinic", "key-1", Req());
  EXPECT_EQ(replay.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(replay.status().message(),
            "call " + row.call_id +
                " was not placed (ElevenLabs has no conversation for it); use a new "
                "Idempotency-Key to place it again");
  EXPECT_EQ(api_.placed().size(), 1u);
}

TEST_F(CallPlacerTest, ACallPlacedButNotRecordedIsLeftForTheReconciler) {
  api_.QueuePlace(Placed("conv_1"));
  store_.FailNext("MarkInitiated", absl::UnavailableError("connection lost"));
  auto first = placer_.InitiateCall("clinic", "key-1", Req());
  const CallRow row = store_.calls()[0].row;
  EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(
      first.status().message(),
      "call " + row.call_id + " was placed but could not be recorded yet; it will be reconciled");
  EXPECT_EQ(row.status, "dialing");
  auto key = store_.key("clinic", "key-1");
  ASSERT_TRUE(key);
  EXPECT_TRUE(key->in_progress);
  EXPECT_EQ(placer_.InitiateCall("clinic", "key-1", Req()).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(api_.placed().size(), 1u);
}

// ---- CallPatient

TEST_F(CallPlacerTest, CallPatientNeedsAKnownPatientWithANumber) {
  store_.AddPatient({3, "Sin Teléfono", "", false});
  v1::CallPatientRequest req;
  req.set_patient_id(3);
  auto no_phone = placer_.CallPatient("clinic", "", req);
  EXPECT_EQ(no_phone.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(no_phone.status().message(), "patient 3 has no usable phone number");

  req.set_patient_id(4);
  auto unknown = placer_.CallPatient("clinic", "", req);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(unknown.status().message(), "patient 4 not found");

  req.set_patient_id(0);
  auto zero = placer_.CallPatient("clinic", "", req);
  EXPECT_EQ(zero.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(zero.status().message(), "patientId must be a positive integer");
  ExpectNothingPlaced();
}

TEST_F(CallPlacerTest, CallPatientDialsTheStoredNumberWithTheStoredName) {
  store_.AddPatient({5, "Beatriz Ruiz", "+573001112233", false});
  store_.AddAppointment(11, 5);
  api_.QueuePlace(Placed("conv_5"));
  v1::CallPatientRequest req;
  req.set_patient_id(5);
  req.set_appointment_id(11);
  (*req.mutable_custom_variables()->mutable_fields())["clinic"].set_string_value("Norte");
  auto resp = placer_.CallPatient("clinic", "key-5", req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->data().conversation_id(), "conv_5");
  const auto placed = api_.placed();
  ASSERT_EQ(placed.size(), 1u);
  EXPECT_EQ(placed[0].to_number, "+573001112233");
  EXPECT_EQ(placed[0].agent_id, "agent_default");
  EXPECT_EQ(placed[0].dynamic_variables.at("patient_name").as_string(), "Beatriz Ruiz");
  EXPECT_EQ(placed[0].dynamic_variables.at("patient_id").as_string(), "5");
  EXPECT_EQ(placed[0].dynamic_variables.at("appointment_id").as_string(), "11");
  EXPECT_EQ(placed[0].dynamic_variables.at("clinic").as_string(), "Norte");
  const auto calls = store_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].request.patient_id, 5);
  EXPECT_EQ(calls[0].request.patient_name, "Beatriz Ruiz");
  // Its key works as InitiateCall's: the retry replays.
  auto retry = placer_.CallPatient("clinic", "key-5", req);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(MessageJson(*retry), MessageJson(*resp));
  EXPECT_EQ(api_.placed().size(), 1u);
}

// ---- One live call per number and appointment

TEST_F(CallPlacerTest, ALiveCallForTheSameNumberAndAppointmentRefusesAnother) {
  store_.AddPatient({1, "Ana Gómez", "+573001234567", false});
  store_.AddAppointment(7, 1);
  store_.AddAppointment(8, 1);
  api_.QueuePlace(Placed("conv_1"));
  v1::InitiateCallRequest for7 = Req();
  for7.set_appointment_id(7);
  ASSERT_TRUE(placer_.InitiateCall("clinic", "", for7).ok());
  const std::string first_call = store_.calls()[0].row.call_id;

  v1::InitiateCallRequest again = for7;
  (*again.mutable_custom_variables()->mutable_fields())["appointment_time"].set_string_value(
      "11:00");
  auto s = placer_.InitiateCall("clinic", "key-2", again);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.status().message(),
            "a call to this patient for appointment 7 is already live (call " + first_call +
                ", initiated)");
  EXPECT_EQ(api_.placed().size(), 1u);
  EXPECT_FALSE(store_.key("clinic", "key-2")) << "the refusal claims no key";

  // Without an appointment the guard is the number alone, and its message never echoes it.
  api_.QueuePlace(Placed("conv_2"));
  ASSERT_TRUE(placer_.InitiateCall("clinic", "", Req("3009990000")).ok());
  auto by_number = placer_.InitiateCall("clinic", "", Req("3009990000"));
  EXPECT_EQ(by_number.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(by_number.status().message()),
              HasSubstr("a call to this phone number (+57******0000) is already live"));
  EXPECT_THAT(std::string(by_number.status().message()), Not(HasSubstr("3009990000")));
  EXPECT_EQ(api_.placed().size(), 2u);

  // Another appointment is another call; a settled call holds nothing.
  api_.QueuePlace(Placed("conv_3"));
  v1::InitiateCallRequest for8 = Req();
  for8.set_appointment_id(8);
  EXPECT_TRUE(placer_.InitiateCall("clinic", "", for8).ok());
  ASSERT_TRUE(store_.AdvanceStatus(store_.calls()[0].row.id, "completed", "webhook").ok());
  api_.QueuePlace(Placed("conv_4"));
  auto after = placer_.InitiateCall("clinic", "key-2", again);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->data().conversation_id(), "conv_4");
  EXPECT_EQ(api_.placed().size(), 4u);
}

// ---- The fake's forward-only status, which the tests above lean on

TEST(FakeCallRepository, StatusesOnlyMoveForwardAndFinalOnesNeverChange) {
  common::ManualClock clock;
  FakeCallRepository store(clock);
  NewCall call;
  call.agent_id = "agent";
  call.phone_number = "+573001234567";
  auto begun = store.BeginCall(call, "p", "", "");
  ASSERT_TRUE(begun.ok());
  const int64_t row = begun->call->id;
  auto ch = store.AdvanceStatus(row, "in_progress", "webhook");
  ASSERT_TRUE(ch.ok());
  EXPECT_EQ(ch->previous_status, "dialing");
  EXPECT_EQ(ch->status, "in_progress");
  ch = store.AdvanceStatus(row, "ringing", "late webhook");
  EXPECT_EQ(ch->status, "in_progress") << "backwards: unchanged";
  ch = store.AdvanceStatus(row, "completed", "webhook", "client hung up");
  EXPECT_EQ(ch->status, "completed");
  ch = store.AdvanceStatus(row, "failed", "late failure");
  EXPECT_EQ(ch->status, "completed") << "final: unchanged";
  EXPECT_EQ(ch->previous_status, "completed");
  EXPECT_EQ(store.call(row)->termination_reason, "client hung up");
}

// ---- The contact policy, immediately before the dial

// Saturday 2027-01-16 16:00 in Bogotá: after the Saturday window (08:00-15:00).
constexpr int64_t kSaturdayAfterHours = 1799852400 + 3 * 86400 + 6 * 3600;

TEST_F(CallPlacerTest, ACallOutsideTheHoursIsRefusedNamingTheRuleAndTheNextAllowedTime) {
  clock_.Advance(absl::Seconds(kSaturdayAfterHours - kStart));
  auto r = placer_.InitiateCall("clinic", "key-1", Req());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(),
            "contact policy co_ley2300_v1 v1 (hours): fuera del horario permitido (sábado "
            "08:00-15:00); próximo horario: lunes 2027-01-18 07:00 America/Bogota");
  ExpectNothingPlaced();
  EXPECT_FALSE(store_.key("clinic", "key-1")) << "a refusal claims no key";
  const auto refusals = policy_store_.refusals();
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_FALSE(refusals[0].allowed);
  EXPECT_EQ(refusals[0].rule, "hours");
  EXPECT_EQ(refusals[0].purpose, "confirmation");
  EXPECT_EQ(refusals[0].channel, "voice");
  EXPECT_EQ(refusals[0].profile_id, "co_ley2300_v1");
  EXPECT_EQ(refusals[0].profile_version, 1);
  EXPECT_EQ(refusals[0].decided_for, "clinic");
  EXPECT_EQ(refusals[0].decided_at, absl::FromUnixSeconds(kSaturdayAfterHours));
  EXPECT_NE(refusals[0].record_json.find("\"hours\""), std::string::npos);
}

TEST_F(CallPlacerTest, AnAllowedCallCarriesItsDecisionAndPurpose) {
  api_.QueuePlace(Placed("conv_1"));
  auto req = Req();
  req.set_purpose("reminder");
  ASSERT_TRUE(placer_.InitiateCall("clinic", "", req).ok());
  const auto calls = store_.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].request.purpose, "reminder");
  ASSERT_TRUE(calls[0].request.decision);
  const DecisionRecord& d = *calls[0].request.decision;
  EXPECT_TRUE(d.allowed);
  EXPECT_EQ(d.rule, "");
  EXPECT_EQ(d.purpose, "reminder");
  EXPECT_EQ(d.profile_id, "co_ley2300_v1");
  EXPECT_EQ(d.override_reason, "");
  EXPECT_EQ(d.decided_at, absl::FromUnixSeconds(kStart));
  EXPECT_FALSE(d.record_json.empty());
  EXPECT_TRUE(policy_store_.refusals().empty());
  ASSERT_EQ(policy_store_.asked().size(), 1u);
  EXPECT_EQ(policy_store_.asked()[0].phone_e164, "+573001234567");
}

TEST_F(CallPlacerTest, AnUnknownPurposeIsRefusedBeforeAnything) {
  auto req = Req();
  req.set_purpose("marketing");
  auto r = placer_.InitiateCall("clinic", "", req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "purpose: unknown value 'marketing' (confirmation, reminder, survey, promotion, "
            "collection)");
  ExpectNothingPlaced();
  EXPECT_TRUE(policy_store_.asked().empty());
}

TEST_F(CallPlacerTest, APromotionNeedsTheRegisterAndTheConsent) {
  auto req = Req();
  req.set_purpose("promotion");
  // No RNE download loaded: the register was not consulted, which refuses.
  auto no_rne = placer_.InitiateCall("clinic", "", req);
  EXPECT_EQ(no_rne.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(no_rne.status().message().find("(excluded_number)"), absl::string_view::npos)
      << no_rne.status();
  // Consulted and not listed, but no authorisation for promotion by voice.
  policy_store_.inputs.excluded_number = policy::ExcludedNumberCheck{false, "2027-01-10"};
  auto no_consent = placer_.InitiateCall("clinic", "", req);
  EXPECT_EQ(no_consent.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(no_consent.status().message().find("(consent)"), absl::string_view::npos)
      << no_consent.status();
  ExpectNothingPlaced();
  // Authorised: the call goes.
  policy_store_.inputs.consents.push_back({policy::Purpose::kPromotion, policy::Channel::kVoice,
                                           policy::ConsentState::kAuthorised, "form-77",
                                           absl::FromUnixSeconds(kStart - 86400)});
  api_.QueuePlace(Placed("conv_1"));
  EXPECT_TRUE(placer_.InitiateCall("clinic", "", req).ok());
  EXPECT_EQ(api_.placed().size(), 1u);
  // An answered promotion today: a second one the same day is refused by the daily cap.
  policy_store_.inputs.history.push_back({absl::FromUnixSeconds(kStart - 3600),
                                          policy::Channel::kVoice, policy::Purpose::kPromotion,
                                          true});
  api_.QueuePlace(Placed("conv_2"));
  auto capped = placer_.InitiateCall("clinic", "", Req("3001234568"));
  ASSERT_TRUE(capped.ok()) << "a confirmation is not capped: " << capped.status();
  auto req2 = Req("3001234569");
  req2.set_purpose("promotion");
  auto second = placer_.InitiateCall("clinic", "", req2);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("(daily_cap)"), absl::string_view::npos)
      << second.status();
}

TEST_F(CallPlacerTest, ACappedPurposeNeverStartsBesideALiveCallToThePatient) {
  store_.AddPatient({5, "Ana Ruiz", "+573001234567", false});
  store_.AddAppointment(10, 5);
  store_.AddAppointment(11, 5);
  policy_store_.inputs.excluded_number = policy::ExcludedNumberCheck{false, "2027-01-10"};
  policy_store_.inputs.consents.push_back({policy::Purpose::kPromotion, policy::Channel::kVoice,
                                           policy::ConsentState::kAuthorised, "form-77",
                                           absl::FromUnixSeconds(kStart - 86400)});
  auto req = Req();
  req.set_purpose("promotion");
  req.set_appointment_id(10);
  api_.QueuePlace(Placed("conv_1"));
  auto first = placer_.InitiateCall("clinic", "", req);
  ASSERT_TRUE(first.ok()) << first.status();
  // Live and not yet answered, so the ledger does not count it; the number and appointment
  // differ from the first call's (the live-call guard would not stop it), yet its answer would
  // make a second contact today.
  req.set_appointment_id(11);
  auto second = placer_.InitiateCall("clinic", "", req);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(second.status().message(),
            absl::StrCat("contact policy co_ley2300_v1 v1 (daily_cap): another call to this "
                         "patient is live (call ",
                         first->data().call_id(),
                         "); its answer counts toward the caps, so this promotion call waits "
                         "until it has ended"));
  EXPECT_EQ(api_.placed().size(), 1u);
  const auto refusals = policy_store_.refusals();
  ASSERT_EQ(refusals.size(), 1u);
  EXPECT_EQ(refusals[0].rule, "daily_cap");
  EXPECT_FALSE(refusals[0].allowed);
  // A reminder is under no frequency rule: it may go beside it.
  req.set_purpose("reminder");
  api_.QueuePlace(Placed("conv_2"));
  EXPECT_TRUE(placer_.InitiateCall("clinic", "", req).ok());
  // Once the first call has ended, a promotion is decided by the ledger again.
  ASSERT_TRUE(store_.AdvanceStatus(store_.calls()[0].row.id, "no_answer", "test").ok());
  ASSERT_TRUE(store_.AdvanceStatus(store_.calls()[1].row.id, "no_answer", "test").ok());
  req.set_purpose("promotion");
  api_.QueuePlace(Placed("conv_3"));
  EXPECT_TRUE(placer_.InitiateCall("clinic", "", req).ok());
}

TEST_F(CallPlacerTest, AnOverrideNeedsThePermissionAndIsStoredWithTheCall) {
  clock_.Advance(absl::Seconds(kSaturdayAfterHours - kStart));
  auto req = Req();
  req.set_policy_override_reason("el paciente pidió que lo llamaran a esta hora");
  auto denied = placer_.InitiateCall("clinic", "", req);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(denied.status().message(), "policyOverrideReason needs the policy:override permission");
  ExpectNothingPlaced();

  api_.QueuePlace(Placed("conv_1"));
  auto passed = placer_.InitiateCall("supervisor", "", req, /*may_override=*/true);
  ASSERT_TRUE(passed.ok()) << passed.status();
  const auto calls = store_.calls();
  ASSERT_EQ(calls.size(), 1u);
  ASSERT_TRUE(calls[0].request.decision);
  EXPECT_TRUE(calls[0].request.decision->allowed);
  EXPECT_EQ(calls[0].request.decision->rule, "hours") << "the rule the override passed";
  EXPECT_EQ(calls[0].request.decision->override_reason,
            "el paciente pidió que lo llamaran a esta hora");
  EXPECT_EQ(calls[0].request.decision->decided_for, "supervisor");
}

TEST_F(CallPlacerTest, AnOverrideNeverPassesAnOptOut) {
  store_.OptOutPhone("+573001234567");
  auto req = Req();
  req.set_policy_override_reason("urgente");
  auto r = placer_.InitiateCall("supervisor", "", req, /*may_override=*/true);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.status().message(), "the patient asked not to be called (opt-out)");
  ExpectNothingPlaced();
}

TEST_F(CallPlacerTest, ARetryAfterTheWindowClosedReplaysTheFirstAnswer) {
  api_.QueuePlace(Placed("conv_1"));
  auto first = placer_.InitiateCall("clinic", "key-1", Req());
  ASSERT_TRUE(first.ok()) << first.status();
  clock_.Advance(absl::Hours(10));  // Wednesday 20:00: closed, and the key (24 h) still holds
  auto retry = placer_.InitiateCall("clinic", "key-1", Req());
  ASSERT_TRUE(retry.ok()) << "a key's answer never changes: " << retry.status();
  EXPECT_EQ(retry->SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(api_.placed().size(), 1u);
  EXPECT_TRUE(policy_store_.refusals().empty()) << "a replay is not a refused attempt";
  // A new key is a new attempt: refused now.
  auto fresh = placer_.InitiateCall("clinic", "key-2", Req());
  EXPECT_EQ(fresh.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(CallPlacerTest, CallPatientPassesThePurposeAndTheOverride) {
  store_.AddPatient({5, "Ana Ruiz", "+573001112233", false});
  v1::CallPatientRequest req;
  req.set_patient_id(5);
  req.set_purpose("survey");
  api_.QueuePlace(Placed("conv_1"));
  ASSERT_TRUE(placer_.CallPatient("clinic", "", req).ok());
  EXPECT_EQ(store_.calls()[0].request.purpose, "survey");
  ASSERT_EQ(policy_store_.asked().size(), 1u);
  EXPECT_EQ(policy_store_.asked()[0].patient_id, 5);
  req.set_policy_override_reason("x");
  EXPECT_EQ(placer_.CallPatient("clinic", "", req).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(CallPlacerTest, CheckContactPolicyAnswersTheDecisionWithoutDiallingOrRecording) {
  store_.AddPatient({5, "Ana Ruiz", "+573001112233", false});
  v1::CheckContactPolicyRequest req;
  req.set_patient_id(5);
  req.mutable_at()->set_seconds(kSaturdayAfterHours);
  auto d = placer_.CheckContactPolicy(req);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_FALSE(d->allowed());
  EXPECT_EQ(d->rule(), "hours");
  EXPECT_EQ(d->time_zone(), "America/Bogota");
  EXPECT_EQ(d->profile_id(), "co_ley2300_v1");
  // Monday 2027-01-18 07:00 in Bogotá = 12:00 UTC.
  EXPECT_EQ(d->next_allowed_at().seconds(), kSaturdayAfterHours + 2 * 86400 - 9 * 3600);
  EXPECT_EQ(policy_store_.asked()[0].phone_e164, "+573001112233");
  v1::CheckContactPolicyRequest at_now = req;
  at_now.clear_at();
  auto now = placer_.CheckContactPolicy(at_now);
  ASSERT_TRUE(now.ok());
  EXPECT_TRUE(now->allowed()) << "the fixture's clock is a Wednesday 10:00";
  ExpectNothingPlaced();
  EXPECT_TRUE(policy_store_.refusals().empty());

  v1::CheckContactPolicyRequest bad;
  bad.set_phone_number("123");
  EXPECT_EQ(placer_.CheckContactPolicy(bad).status().code(), absl::StatusCode::kInvalidArgument);
  v1::CheckContactPolicyRequest channel;
  channel.set_phone_number("3001234567");
  channel.set_channel("fax");
  EXPECT_EQ(placer_.CheckContactPolicy(channel).status().message(),
            "channel: unknown value 'fax' (voice, sms, whatsapp, email)");
}

TEST_F(CallPlacerTest, APatientZoneTheDatabaseDoesNotKnowStopsTheCall) {
  policy_store_.inputs.time_zone = "Mars/Olympus_Mons";
  auto r = placer_.InitiateCall("clinic", "", Req());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("Mars/Olympus_Mons"), absl::string_view::npos);
  ExpectNothingPlaced();
}

}  // namespace
}  // namespace outcall::call_gateway
