#include "cli/wiring.h"

#include "fhir/patch/fhirpath_patch.h"
#include "fhir/patch/json_patch.h"
#include "fhir/r4/definitions.h"
#include "fhir/validation/validator.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::cli {
namespace {

std::function<core::Status(const fhir::Json&)> ResourceValidator() {
  return [](const fhir::Json& resource) { return fhir::validation::ValidateResource(resource); };
}

}  // namespace

const char kVersion[] = "0.1.0";

core::Result<App> BuildApp(const StoreSettings& settings, bool validate,
                           const referral::ReferralConfig& referral_config) {
  store::SqliteOptions options;
  options.path = settings.db_path;
  if (settings.synchronous == "normal") {
    options.synchronous = store::SqliteSync::kNormal;
  } else if (settings.synchronous != "full") {
    return core::Error::BadRequest("synchronous must be 'full' or 'normal', not '" +
                                   settings.synchronous + "'");
  }
  MA_ASSIGN_OR_RETURN(auto sqlite, store::SqliteStore::Open(options));
  App app;
  app.store = std::move(sqlite);
  api::rest::RestConfig config;
  if (validate) {
    config.validate = ResourceValidator();
  }
  config.apply_json_patch = [](fhir::Json& document, const fhir::Json& patch) {
    return fhir::ApplyJsonPatch(document, patch);
  };
  config.apply_fhirpath_patch = [](fhir::Json& resource, const fhir::Json& parameters) {
    return fhir::ApplyFhirPathPatch(resource, parameters);
  };
  for (std::string_view type : fhir::r4::ResourceTypeNames()) {
    config.resource_types.emplace_back(type);
  }
  config.software_version = kVersion;
  app.patient_index = std::make_unique<mpi::PatientIndex>();
  MA_RETURN_IF_ERROR(app.patient_index->Load(*app.store));
  app.patient_hook = std::make_unique<mpi::PatientHook>(*app.patient_index);
  app.match_operation = std::make_unique<mpi::MatchOperation>(*app.patient_index);
  config.hooks.push_back(app.patient_hook.get());
  config.operations.push_back(app.match_operation.get());
  app.referral_request_hook = std::make_unique<referral::ServiceRequestHook>();
  app.referral_task_hook =
      std::make_unique<referral::TaskHook>(referral::TaskHookOptions{nullptr, referral_config});
  app.referral_appointment_hook = std::make_unique<referral::AppointmentHook>();
  app.green_channel_board = std::make_unique<referral::GreenChannelBoard>();
  app.referral_metrics = std::make_unique<referral::ReferralMetrics>(nullptr, referral_config);
  app.escalator = std::make_unique<referral::Escalator>(*app.store, referral_config);
  config.hooks.push_back(app.referral_request_hook.get());
  config.hooks.push_back(app.referral_task_hook.get());
  config.hooks.push_back(app.referral_appointment_hook.get());
  config.operations.push_back(app.green_channel_board.get());
  config.operations.push_back(app.referral_metrics.get());
  app.service = std::make_unique<api::rest::RestService>(*app.store, std::move(config));
  return app;
}

core::Result<bool> StoreIsEmpty(store::Store& store) {
  bool empty = true;
  MA_RETURN_IF_ERROR(store.Read([&](store::ReadTx& tx) -> core::Status {
    store::HistoryQuery query;
    query.count = 1;
    MA_ASSIGN_OR_RETURN(auto entries, tx.History(query));
    empty = entries.empty();
    return {};
  }));
  return empty;
}

}  // namespace medalliance::cli
