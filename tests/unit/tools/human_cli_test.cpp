// `outcall`'s plain parts (tools/ops/human_cli.h) and the campaign CSV reading it shares with
// outcall-campaign-import (tools/ops/campaign_csv.h): arguments, exit codes (and that
// docs/cli.md lists the same table), UTF-8 widths, tables, values, progress.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "campaign_csv.h"
#include "human_cli.h"

namespace outcall::cli {
namespace {

const std::vector<FlagSpec> kSpecs = {
    {"json", false}, {"name"}, {"var", true, true}, {"limit"}, {"start", false}};

TEST(HumanCliArgs, ParsesValuesSwitchesRepeatsAndPositionals) {
  Args a;
  std::string err;
  ASSERT_TRUE(ParseArgs({"+57 300 555 0001", "--name", "José Núñez", "--var", "clinic=Norte",
                         "--var=hora=10:00", "--json", "--limit=5"},
                        kSpecs, &a, &err))
      << err;
  EXPECT_EQ(a.positionals, std::vector<std::string>{"+57 300 555 0001"});
  EXPECT_EQ(a.Get("name"), "José Núñez");
  EXPECT_EQ(a.All("var"), (std::vector<std::string>{"clinic=Norte", "hora=10:00"}));
  EXPECT_TRUE(a.Has("json"));
  EXPECT_FALSE(a.Has("start"));
  EXPECT_EQ(a.Get("limit"), "5");
  EXPECT_EQ(a.Get("missing", "fallback"), "fallback");
  // "--" ends the options; "-" is a positional (stdin).
  ASSERT_TRUE(ParseArgs({"--", "--name", "-"}, kSpecs, &a, &err));
  EXPECT_EQ(a.positionals, (std::vector<std::string>{"--name", "-"}));
}

TEST(HumanCliArgs, NamesWhatIsWrong) {
  Args a;
  std::string err;
  EXPECT_FALSE(ParseArgs({"--nope"}, kSpecs, &a, &err));
  EXPECT_EQ(err, "unknown option --nope");
  EXPECT_FALSE(ParseArgs({"--name"}, kSpecs, &a, &err));
  EXPECT_EQ(err, "--name needs a value");
  EXPECT_FALSE(ParseArgs({"--name", "a", "--name", "b"}, kSpecs, &a, &err));
  EXPECT_EQ(err, "--name given more than once");
  EXPECT_FALSE(ParseArgs({"--json=yes"}, kSpecs, &a, &err));
  EXPECT_EQ(err, "--json takes no value");
  EXPECT_FALSE(ParseArgs({"-x"}, kSpecs, &a, &err));
  EXPECT_EQ(err, "unknown option -x");
}

TEST(HumanCliArgs, Values) {
  EXPECT_EQ(ParseVar("clinic=Clínica Norte")->second, "Clínica Norte");
  EXPECT_EQ(ParseVar("greeting=a=b")->second, "a=b");
  EXPECT_EQ(ParseVar("empty=")->second, "");
  EXPECT_FALSE(ParseVar("novalue"));
  EXPECT_FALSE(ParseVar("=v"));
  EXPECT_EQ(ParsePositiveInt("42"), 42);
  EXPECT_FALSE(ParsePositiveInt("0"));
  EXPECT_FALSE(ParsePositiveInt("-3"));
  EXPECT_FALSE(ParsePositiveInt("4x"));
  EXPECT_FALSE(ParsePositiveInt("99999999999"));
  EXPECT_TRUE(IsDate("2026-12-04"));
  EXPECT_TRUE(IsDate("2028-02-29"));
  EXPECT_FALSE(IsDate("2026-02-30"));
  EXPECT_FALSE(IsDate("2026-12-4"));
  EXPECT_FALSE(IsDate("04/12/2026"));
  EXPECT_EQ(ParseWindow("08:00-12:30"), std::make_pair(std::string("08:00"), std::string("12:30")));
  EXPECT_FALSE(ParseWindow("08:00"));
  auto ts = ParseTimestamp("2026-12-04T13:00:00Z");
  ASSERT_TRUE(ts);
  EXPECT_EQ(ts->seconds(), 1796389200);
  EXPECT_EQ(ParseTimestamp("2026-12-04T08:00:00-05:00")->seconds(), 1796389200);
  EXPECT_FALSE(ParseTimestamp("mañana"));
}

TEST(HumanCliExitCodes, ByStatusAndFinalState) {
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::OK), 0);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::INVALID_ARGUMENT), 3);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::FAILED_PRECONDITION), 3);  // the contact policy
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::NOT_FOUND), 4);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::UNAUTHENTICATED), 5);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::PERMISSION_DENIED), 5);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::UNAVAILABLE), 6);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::DEADLINE_EXCEEDED), 6);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::RESOURCE_EXHAUSTED), 6);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::ALREADY_EXISTS), 7);
  EXPECT_EQ(ExitCodeForStatus(grpc::StatusCode::INTERNAL), 1);
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
  EXPECT_EQ(StatusCodeName(grpc::StatusCode::FAILED_PRECONDITION), "FAILED_PRECONDITION");

  EXPECT_EQ(ExitCodeForCallStatus("completed"), 0);
  EXPECT_EQ(ExitCodeForCallStatus("failed"), 10);
  EXPECT_EQ(ExitCodeForCallStatus("no_answer"), 11);
  EXPECT_EQ(ExitCodeForCallStatus("busy"), 12);
  EXPECT_EQ(ExitCodeForCallStatus("ended_manually"), 13);
  EXPECT_EQ(ExitCodeForCallStatus("canceled"), 14);
  for (const char* open : {"queued", "dialing", "initiated", "ringing", "in_progress", ""}) {
    EXPECT_FALSE(ExitCodeForCallStatus(open)) << open;
  }
  EXPECT_EQ(ExitCodeForCampaignState("completed"), 0);
  EXPECT_EQ(ExitCodeForCampaignState("canceled"), 20);
  EXPECT_EQ(ExitCodeForCampaignState("expired"), 21);
  for (const char* open : {"draft", "scheduled", "running", "paused", "auto_paused"}) {
    EXPECT_FALSE(ExitCodeForCampaignState(open)) << open;
  }
}

TEST(HumanCliExitCodes, TheTableIsDistinctAndDocsCliMdListsIt) {
  std::set<int> seen;
  for (const auto& e : ExitCodes()) EXPECT_TRUE(seen.insert(e.code).second) << e.code;
  std::ifstream f(OUTCALL_CLI_DOC);
  ASSERT_TRUE(f) << OUTCALL_CLI_DOC;
  std::stringstream doc;
  doc << f.rdbuf();
  for (const auto& e : ExitCodes()) {
    const std::string row = "| " + std::to_string(e.code) + " | " + std::string(e.meaning) + " |";
    EXPECT_NE(doc.str().find(row), std::string::npos) << "docs/cli.md lacks: " << row;
  }
}

TEST(HumanCliTable, WidthsCountCharactersNotBytes) {
  EXPECT_EQ(DisplayWidth("Ana"), 3);
  EXPECT_EQ(DisplayWidth("José Núñez"), 10);              // precomposed: 2 bytes a letter
  EXPECT_EQ(DisplayWidth("Jose\xCC\x81"), 4);             // e + combining acute
  EXPECT_EQ(DisplayWidth("María Peña Ibáñez"), 17);
  EXPECT_EQ(DisplayWidth("\xE6\x9D\xB1\xE4\xBA\xAC"), 4);  // two wide characters
  EXPECT_EQ(DisplayWidth("\xFF" "a"), 2);                 // an invalid byte counts one
  EXPECT_EQ(CellText("a\nb\tc\x1b[31m"), "a b c [31m");
}

TEST(HumanCliTable, AlignsColumnsByDisplayWidth) {
  Table t({"NAME", ">CALLS", "PHONE"});
  t.AddRow({"José Núñez", "3", "+573005550001"});
  t.AddRow({"Ana", "120", "+573005550002"});
  t.AddRow({"María\nPeña", "7"});  // a missing cell is empty; a newline cannot break the row
  EXPECT_EQ(t.Render(),
            "NAME        CALLS  PHONE\n"
            "José Núñez      3  +573005550001\n"
            "Ana           120  +573005550002\n"
            "María Peña      7\n");
}

TEST(HumanCliValues, TimesDurationsCosts) {
  google::protobuf::Timestamp t;
  EXPECT_EQ(FormatTime(t), "-");
  t.set_seconds(1796389200);  // 2026-12-04T13:00:00Z
  EXPECT_EQ(FormatTime(t), "2026-12-04 08:00:00");  // Bogotá, UTC-5
  EXPECT_EQ(FormatDuration(0), "0:00");
  EXPECT_EQ(FormatDuration(37), "0:37");
  EXPECT_EQ(FormatDuration(725), "12:05");
  EXPECT_EQ(FormatDuration(3723), "1:02:03");
  EXPECT_EQ(FormatCost(0.125), "0.12");
  EXPECT_EQ(FormatCost(3), "3.00");
  EXPECT_EQ(IdOrDash(0), "-");
  EXPECT_EQ(IdOrDash(7), "7");
}

TEST(HumanCliRender, CallsTableKeepsPhonesAsReturnedAndShowsTheNextCursor) {
  v1::ListCallsResponse r;
  auto* c = r.add_data();
  c->set_conversation_id("conv_1");
  c->set_status("completed");
  c->set_phone_number("+573005550001");
  c->set_patient_id(7);
  c->set_duration_secs(31);
  c->set_cost(0.05);
  c->mutable_created_at()->set_seconds(1796389200);
  auto* d = r.add_data();
  d->set_call_id("b0e6c1d2");
  d->set_status("dialing");
  d->set_phone_number("+573005550002");
  r.mutable_pagination()->set_page(1);
  r.mutable_pagination()->set_pages(3);
  r.mutable_pagination()->set_total(41);
  r.mutable_pagination()->set_next_cursor("c2");
  EXPECT_EQ(RenderCalls(r),
            "CONVERSATION  STATUS     PHONE          PATIENT  DURATION  COST  CREATED\n"
            "conv_1        completed  +573005550001        7      0:31  0.05  2026-12-04 08:00:00\n"
            "b0e6c1d2      dialing    +573005550002        -      0:00  0.00  -\n"
            "page 1 of 3 (41 calls); next page: --cursor c2\n");
  EXPECT_EQ(RenderCalls(v1::ListCallsResponse()), "no calls\npage 0 of 1 (0 calls)\n");
}

TEST(HumanCliRender, StatsCallUpdatesAndProgress) {
  v1::CallStats s;
  s.set_total_calls(3);
  s.set_completed_calls(2);
  s.set_failed_calls(1);
  s.set_avg_duration(30.6);
  s.set_total_cost(0.1);
  auto* b = s.add_by_status();
  b->set_status("completed");
  b->set_count(2);
  b->set_avg_duration(30.6);
  b->set_total_cost(0.1);
  const std::string text = RenderCallStats(s, "2026-12-01", "");
  EXPECT_NE(text.find("from 2026-12-01 to -\n"), std::string::npos) << text;
  EXPECT_NE(text.find("completed                             2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("average duration (completed): 0:31"), std::string::npos) << text;
  EXPECT_NE(text.find("STATUS     CALLS  AVG DURATION  COST\ncompleted      2          0:31  0.10\n"),
            std::string::npos)
      << text;

  v1::CallUpdate u;
  u.set_conversation_id("conv_1");
  u.set_previous_status("initiated");
  u.set_status("completed");
  u.set_cause("reconciler");
  u.mutable_at()->set_seconds(1796389200);
  EXPECT_EQ(RenderCallUpdate(u), "2026-12-04 08:00:00  conv_1  initiated -> completed  (reconciler)\n");

  v1::CampaignCounters k;
  k.set_total(10);
  k.set_done(4);
  k.set_exhausted(1);
  k.set_in_call(2);
  k.set_pending(3);
  EXPECT_EQ(FinishedRecipients(k), 5);
  EXPECT_EQ(ProgressLine("running", k, 10),
            "[#####-----]   50%  5/10  running  done 4  exhausted 1  live 2  waiting 3");
  k.set_canceled(5);
  k.set_pending(0);
  k.set_in_call(0);
  k.set_done(4);
  k.set_exhausted(1);
  EXPECT_EQ(ProgressLine("canceled", k, 0),
            "100%  10/10  canceled  done 4  exhausted 1  live 0  waiting 0  stopped 5");
  EXPECT_EQ(ProgressLine("draft", v1::CampaignCounters(), 4), "[####]  100%  0/0  draft  done 0  exhausted 0  live 0  waiting 0");
}

}  // namespace
}  // namespace outcall::cli

namespace outcall::ops {
namespace {

TEST(CampaignCsv, FindsTheColumnsByNameAndTheDelimiter) {
  std::string err;
  auto c = ReadCampaignCsvColumns("Teléfono;Paciente;cita;hora;Clínica", &err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->delimiter, ';');
  EXPECT_EQ(c->phone, 0u);
  EXPECT_EQ(c->patient, 1u);
  EXPECT_EQ(c->appointment, 2u);
  ASSERT_EQ(c->variables.size(), 2u);
  EXPECT_EQ(c->variables[1].second, "Clínica");
  EXPECT_FALSE(ReadCampaignCsvColumns("name,clinic", &err));
  EXPECT_EQ(err, "the header needs a phone, patientId or appointmentId column");
  EXPECT_FALSE(ReadCampaignCsvColumns("phone,telefono", &err));
  EXPECT_EQ(err, "the header names more than one phone column");
}

TEST(CampaignCsv, TurnsARecordIntoARecipientOrSaysWhy) {
  std::string err;
  auto c = ReadCampaignCsvColumns("phoneNumber,patientId,patient_name", &err);
  ASSERT_TRUE(c) << err;
  v1::RecipientInput r;
  EXPECT_FALSE(CsvRecordToRecipient({"+57 300 555 0001", "7", "Ana"}, *c, &r));
  EXPECT_EQ(r.phone_number(), "+57 300 555 0001");
  EXPECT_EQ(r.patient_id(), 7);
  EXPECT_EQ(r.variables().fields().at("patient_name").string_value(), "Ana");
  EXPECT_FALSE(CsvRecordToRecipient({"3005550002", "", ""}, *c, &r));
  EXPECT_EQ(r.patient_id(), 0);
  EXPECT_EQ(r.variables().fields().count("patient_name"), 0u);  // empty: absent
  auto bad = CsvRecordToRecipient({"3005550003", "siete", "Ana"}, *c, &r);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->field, "patientId");
  bad = CsvRecordToRecipient({"3005550003"}, *c, &r);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->why, "has 1 fields; the header has 3");
  EXPECT_EQ(RejectedRowMessage(4, "phoneNumber", "'+573005550003' is not a number"),
            RejectedRowMessage(4, "phoneNumber", "'+573005550003' is not a number"));
  EXPECT_EQ(RejectedRowMessage(4, "phoneNumber", "x +573005550003").find("5550003"),
            std::string::npos);
  EXPECT_EQ(RejectedRowMessage(5, "", "has 2 fields"), "line 5: has 2 fields");
}

}  // namespace
}  // namespace outcall::ops
