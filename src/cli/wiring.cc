#include "cli/wiring.h"

#include <cstdlib>

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

core::Result<store::SqliteOptions> SqliteOptionsFor(const StoreSettings& settings) {
  store::SqliteOptions options;
  options.path = settings.db_path;
  if (settings.synchronous == "normal") {
    options.synchronous = store::SqliteSync::kNormal;
  } else if (settings.synchronous != "full") {
    return core::Error::BadRequest("synchronous must be 'full' or 'normal', not '" +
                                   settings.synchronous + "'");
  }
  if (settings.bulk_load) {
    options.writer_cache_size_kib = 256 * 1024;
    options.wal_autocheckpoint_pages = 8000;
  }
  // A bulk load too: its commit thread bounds the import, and the checkpoint thread runs on
  // the core the reading thread leaves idle (87,937 resources: 5.53 -> 5.18 s, medians of 10).
  options.background_checkpoint = settings.background_checkpoint;
  return options;
}

core::Result<App> BuildApp(const StoreSettings& settings, bool validate, bool smart_on_fhir,
                           const referral::ReferralConfig& referral_config) {
  MA_ASSIGN_OR_RETURN(const store::SqliteOptions options, SqliteOptionsFor(settings));
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
  config.subscription_channels = {"rest-hook", "websocket"};
  access::PolicyOptions policy_options;
  if (const char* consent = std::getenv("MEDALLIANCE_CONSENT_DEFAULT");
      consent != nullptr && std::string_view(consent) == "opt-in") {
    policy_options.consent_default = access::ConsentDefault::kOptIn;
  }
  app.policy = std::make_unique<access::Policy>(policy_options);
  app.access_hook = std::make_unique<access::AccessWriteHook>(*app.policy);
  app.audit_log = std::make_unique<audit::AuditLog>(*app.store, core::SystemClock::Get());
  app.audit_hook = std::make_unique<audit::AuditWriteHook>(core::SystemClock::Get());
  config.policy = app.policy.get();
  config.audit = app.audit_log.get();
  config.hooks.push_back(app.access_hook.get());
  config.smart_on_fhir = smart_on_fhir;
  app.patient_index = std::make_unique<mpi::PatientIndex>();
  app.match_operation = std::make_unique<mpi::MatchOperation>(*app.patient_index);
  // The registry check before the domain hooks: it is cheap and has no effects when it refuses.
  app.member_reference_hook = std::make_unique<registry::MemberReferenceHook>();
  config.hooks.push_back(app.member_reference_hook.get());
  config.operations.push_back(app.match_operation.get());
  if (settings.mpi) {
    MA_RETURN_IF_ERROR(app.patient_index->Load(*app.store));
    app.patient_hook = std::make_unique<mpi::PatientHook>(*app.patient_index);
    config.hooks.push_back(app.patient_hook.get());
  }
  for (mpi::LinkAction action :
       {mpi::LinkAction::kLink, mpi::LinkAction::kUnlink, mpi::LinkAction::kSplit,
        mpi::LinkAction::kMerge, mpi::LinkAction::kUnmerge, mpi::LinkAction::kResolve}) {
    app.mpi_operations.push_back(std::make_unique<mpi::LinkOperation>(action));
  }
  app.mpi_operations.push_back(std::make_unique<mpi::LinkedEverythingOperation>(
      config.default_page_size, config.max_page_size));
  for (const auto& operation : app.mpi_operations) config.operations.push_back(operation.get());
  config.linked_patients = [](store::ReadTx& tx, std::string_view reference) {
    return mpi::LinkedPatients(tx, reference);
  };
  app.members_operation = std::make_unique<registry::MembersOperation>();
  config.operations.push_back(app.members_operation.get());
  app.recognition_catalogue = std::make_unique<recognition::CatalogueCache>();
  app.recognition_engine = std::make_unique<recognition::Engine>(*app.recognition_catalogue);
  app.recognition_mark_hook =
      std::make_unique<recognition::MarkHook>(*app.recognition_engine, recognition::HookOptions{});
  app.recognition_order_hook = std::make_unique<recognition::OrderAlertHook>(
      *app.recognition_engine, recognition::HookOptions{});
  app.recognition_decision_hook = std::make_unique<recognition::DecisionHook>(
      *app.recognition_engine, recognition::HookOptions{});
  app.recognition_qualification_hook = std::make_unique<recognition::QualificationHook>(
      *app.recognition_engine, recognition::HookOptions{});
  app.recognize_operation =
      std::make_unique<recognition::RecognizeOperation>(*app.recognition_engine);
  app.recognition_metrics =
      std::make_unique<recognition::RecognitionMetrics>(*app.recognition_engine);
  config.hooks.push_back(app.recognition_mark_hook.get());
  config.hooks.push_back(app.recognition_order_hook.get());
  config.hooks.push_back(app.recognition_decision_hook.get());
  config.hooks.push_back(app.recognition_qualification_hook.get());
  config.operations.push_back(app.recognize_operation.get());
  config.operations.push_back(app.recognition_metrics.get());
  app.referral_request_hook = std::make_unique<referral::ServiceRequestHook>();
  app.referral_task_hook =
      std::make_unique<referral::TaskHook>(referral::TaskHookOptions{nullptr, referral_config});
  app.referral_appointment_hook = std::make_unique<referral::AppointmentHook>();
  app.green_channel_board = std::make_unique<referral::GreenChannelBoard>();
  app.referral_metrics = std::make_unique<referral::ReferralMetrics>(nullptr, referral_config);
  config.hooks.push_back(app.referral_request_hook.get());
  config.hooks.push_back(app.referral_task_hook.get());
  config.hooks.push_back(app.referral_appointment_hook.get());
  config.operations.push_back(app.green_channel_board.get());
  config.operations.push_back(app.referral_metrics.get());
  app.subscription_cache = std::make_unique<subscription::SubscriptionCache>();
  app.subscription_hook = std::make_unique<subscription::SubscriptionHook>(
      *app.subscription_cache, core::SystemClock::Get());
  config.hooks.push_back(app.subscription_hook.get());
  config.hooks.push_back(app.audit_hook.get());
  app.service = std::make_unique<api::rest::RestService>(*app.store, std::move(config));
  // The escalator writes through the service's write pipeline as the system caller.
  app.escalator =
      std::make_unique<referral::Escalator>(*app.store, app.service->Writer(), referral_config);
  return app;
}

core::Status SeedReferenceData(App& app) {
  search::Searcher searcher;
  MA_ASSIGN_OR_RETURN(int written, recognition::SeedRecognitionData(
                                       *app.store, searcher, core::SystemClock::Get().Now()));
  (void)written;
  return {};
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
