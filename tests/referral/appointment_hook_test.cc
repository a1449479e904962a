// The receiving side's slot offer: an Appointment basedOn the referral.

#include "referral/appointment_hook.h"

#include "referral/referral_fixture.h"

namespace medalliance::referral {
namespace {

using AppointmentHookTest = ReferralTest;

Json Slot(const std::string& request_reference, const std::string& patient) {
  Json appointment = {
      {"resourceType", "Appointment"},
      {"status", "booked"},
      {"start", "2026-11-27T09:00:00+08:00"},
      {"end", "2026-11-27T09:30:00+08:00"},
      {"basedOn", Json::array({{{"reference", request_reference}}})},
      {"participant", Json::array({{{"actor", {{"reference", "Organization/sz-heart"}}},
                                    {"status", "accepted"}}})}};
  if (!patient.empty())
    appointment["participant"].push_back(
        {{"actor", {{"reference", patient}}}, {"status", "needs-action"}});
  return appointment;
}

TEST_F(AppointmentHookTest, SlotIsOfferedByTheReceiverAfterAcceptance) {
  std::string task_id =
      StartReferral(MakeReferral("PractitionerRole/role-nanshan", "Organization/sz-heart"));
  std::string request = Read("Task/" + task_id)["basedOn"][0]["reference"];
  api::rest::FhirResponse early = Send("POST", "Appointment", Slot(request, "").dump());
  EXPECT_EQ(early.status, 409) << early.body;

  ASSERT_EQ(Move(task_id, "received").status, 200);
  ASSERT_EQ(Move(task_id, "accepted").status, 200);
  EXPECT_EQ(Send("POST", "Appointment", Slot(request, "").dump(), "application/fhir+json",
                 As("sz-nanshan"))
                .status,
            403);
  EXPECT_EQ(Send("POST", "Appointment", Slot(request, "Patient/other").dump()).status, 422);
  api::rest::FhirResponse offered = Send("POST", "Appointment", Slot(request, "").dump(),
                                         "application/fhir+json", As("sz-heart"));
  ASSERT_EQ(offered.status, 201) << offered.body;
  Json appointment = Json::parse(offered.body);
  ASSERT_EQ(appointment["participant"].size(), 2u);
  EXPECT_EQ(appointment["participant"][1]["actor"]["reference"], "Patient/p1");
  EXPECT_EQ(Search("Appointment?based-on=" + request).size(), 1u);
}

TEST_F(AppointmentHookTest, OtherAppointmentsAreLeftAlone) {
  Json appointment = Slot("ServiceRequest/none", "Patient/p1");
  appointment.erase("basedOn");
  EXPECT_EQ(Send("POST", "Appointment", appointment.dump()).status, 201);
}

}  // namespace
}  // namespace medalliance::referral
