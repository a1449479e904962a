#pragma once
// AppointmentHook: the receiving side offers a slot for a referral (issue 7).
//
// An Appointment whose basedOn names a referral ServiceRequest is the slot offer of that
// referral. On create (and update-as-create): the referral's Task must be accepted or
// in-progress (kConflict otherwise: a slot is offered after acceptance), the caller must be on
// the receiving side when authenticated (kForbidden), and a Patient participant must be the
// referral's subject (kUnprocessable); without a Patient participant the subject is added
// (status needs-action). Found with Appointment?based-on=ServiceRequest/<id>.
// Other Appointments, updates of an existing one and deletes are let through.

#include <string>
#include <vector>

#include "search/search.h"
#include "store/hooks.h"

namespace medalliance::referral {

class AppointmentHook : public store::WriteHook {
 public:
  std::vector<std::string> Types() const override { return {"Appointment"}; }
  core::Status BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) override;

 private:
  search::Searcher searcher_;
};

}  // namespace medalliance::referral
