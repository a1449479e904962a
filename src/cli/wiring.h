#pragma once
// The one place that chooses concrete classes: opens the store and builds the REST service
// with the R4 validator and JSON Patch.

#include <memory>
#include <string>

#include "api/rest/rest_service.h"
#include "core/result.h"
#include "mpi/link_operations.h"
#include "mpi/linked_everything.h"
#include "mpi/match_operation.h"
#include "mpi/patient_hook.h"
#include "mpi/patient_index.h"
#include "store/store.h"

namespace medalliance::cli {

struct StoreSettings {
  std::string db_path = "var/medalliance.db";
  std::string synchronous = "full";  // full | normal
  // The master patient index on the write path (PatientHook). Off: Patient writes are not
  // validated for identity nor matched (`medalliance import --no-mpi`, bench/mpi).
  bool mpi = true;
};

struct App {
  std::unique_ptr<store::Store> store;
  // Master patient index (issue 5): the candidate cache, the Patient write hook and
  // Patient/$match. Declared before `service`, which keeps raw pointers to them.
  std::unique_ptr<mpi::PatientIndex> patient_index;
  std::unique_ptr<mpi::PatientHook> patient_hook;
  std::unique_ptr<mpi::MatchOperation> match_operation;
  // Link, unlink, split, merge, unmerge, review resolution; $everything across linked Patients.
  std::vector<std::unique_ptr<store::Operation>> mpi_operations;
  std::unique_ptr<api::rest::RestService> service;
};

core::Result<App> BuildApp(const StoreSettings& settings, bool validate = true);

// True when the store holds no resources yet.
core::Result<bool> StoreIsEmpty(store::Store& store);

extern const char kVersion[];

}  // namespace medalliance::cli
