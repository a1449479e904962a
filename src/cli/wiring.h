#pragma once
// The one place that chooses concrete classes: opens the store and builds the REST service
// with the R4 validator and JSON Patch.

#include <memory>
#include <string>

#include "api/rest/rest_service.h"
#include "core/result.h"
#include "mpi/match_operation.h"
#include "mpi/patient_hook.h"
#include "mpi/patient_index.h"
#include "referral/appointment_hook.h"
#include "referral/board_operation.h"
#include "referral/config.h"
#include "referral/escalator.h"
#include "referral/metrics_operation.h"
#include "referral/service_request_hook.h"
#include "referral/task_hook.h"
#include "store/store.h"

namespace medalliance::cli {

struct StoreSettings {
  std::string db_path = "var/medalliance.db";
  std::string synchronous = "full";  // full | normal
};

struct App {
  std::unique_ptr<store::Store> store;
  // Master patient index (issue 5): the candidate cache, the Patient write hook and
  // Patient/$match. Declared before `service`, which keeps raw pointers to them.
  std::unique_ptr<mpi::PatientIndex> patient_index;
  std::unique_ptr<mpi::PatientHook> patient_hook;
  std::unique_ptr<mpi::MatchOperation> match_operation;
  // Referral and green channel (issue 7): the ServiceRequest and Task hooks, the board and
  // the escalator (ticked by the serve command's timer).
  std::unique_ptr<referral::ServiceRequestHook> referral_request_hook;
  std::unique_ptr<referral::TaskHook> referral_task_hook;
  std::unique_ptr<referral::AppointmentHook> referral_appointment_hook;
  std::unique_ptr<referral::GreenChannelBoard> green_channel_board;
  std::unique_ptr<referral::ReferralMetrics> referral_metrics;
  std::unique_ptr<referral::Escalator> escalator;
  std::unique_ptr<api::rest::RestService> service;
};

core::Result<App> BuildApp(const StoreSettings& settings, bool validate = true,
                           const referral::ReferralConfig& referral_config = {});

// True when the store holds no resources yet.
core::Result<bool> StoreIsEmpty(store::Store& store);

extern const char kVersion[];

}  // namespace medalliance::cli
