#pragma once
// The one place that chooses concrete classes: opens the store and builds the REST service
// with the R4 validator and JSON Patch.

#include <memory>
#include <string>

#include "access/policy.h"
#include "access/write_hook.h"
#include "api/rest/rest_service.h"
#include "audit/audit.h"
#include "core/result.h"
#include "mpi/link_operations.h"
#include "mpi/linked_everything.h"
#include "mpi/match_operation.h"
#include "mpi/patient_hook.h"
#include "mpi/patient_index.h"
#include "recognition/catalogue.h"
#include "recognition/engine.h"
#include "recognition/hooks.h"
#include "recognition/metrics_operation.h"
#include "recognition/recognize_operation.h"
#include "referral/appointment_hook.h"
#include "referral/board_operation.h"
#include "referral/config.h"
#include "referral/escalator.h"
#include "referral/metrics_operation.h"
#include "referral/service_request_hook.h"
#include "referral/task_hook.h"
#include "registry/member_reference_hook.h"
#include "registry/members_operation.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "subscription/hook.h"

namespace medalliance::cli {

struct StoreSettings {
  std::string db_path = "var/medalliance.db";
  std::string synchronous = "full";  // full | normal
  bool bulk_load = false;            // `import`: a larger writer page cache, fewer WAL checkpoints
  // WAL checkpoints in a background thread, off the commit path (SqliteOptions), a bulk load's
  // included.
  bool background_checkpoint = true;
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
  // Alliance registry (issue 5): writes naming a member are checked against it.
  std::unique_ptr<registry::MemberReferenceHook> member_reference_hook;
  std::unique_ptr<registry::MembersOperation> members_operation;
  // Mutual recognition of results (issue 6): catalogue cache, engine, hooks and $recognize.
  std::unique_ptr<recognition::CatalogueCache> recognition_catalogue;
  std::unique_ptr<recognition::Engine> recognition_engine;
  std::unique_ptr<recognition::MarkHook> recognition_mark_hook;
  std::unique_ptr<recognition::OrderAlertHook> recognition_order_hook;
  std::unique_ptr<recognition::DecisionHook> recognition_decision_hook;
  std::unique_ptr<recognition::QualificationHook> recognition_qualification_hook;
  std::unique_ptr<recognition::RecognizeOperation> recognize_operation;
  std::unique_ptr<recognition::RecognitionMetrics> recognition_metrics;
  // Access rules and audit (issue 4): the policy and its write hook (first of the hooks),
  // the buffered audit log and the write-audit hook (last of the hooks).
  std::unique_ptr<access::Policy> policy;
  std::unique_ptr<access::AccessWriteHook> access_hook;
  std::unique_ptr<audit::AuditLog> audit_log;
  std::unique_ptr<audit::AuditWriteHook> audit_hook;
  // Link, unlink, split, merge, unmerge, review resolution; $everything across linked Patients.
  std::vector<std::unique_ptr<store::Operation>> mpi_operations;
  // Referral and green channel (issue 7): the ServiceRequest and Task hooks, the board and
  // the escalator (ticked by the serve command's timer).
  std::unique_ptr<referral::ServiceRequestHook> referral_request_hook;
  std::unique_ptr<referral::TaskHook> referral_task_hook;
  std::unique_ptr<referral::AppointmentHook> referral_appointment_hook;
  std::unique_ptr<referral::GreenChannelBoard> green_channel_board;
  std::unique_ptr<referral::ReferralMetrics> referral_metrics;
  // FHIR Subscriptions (issue 7): the live-subscription cache and the matching hook (after
  // the other hooks, before the audit hook). `serve` adds the dispatcher and its transport.
  std::unique_ptr<subscription::SubscriptionCache> subscription_cache;
  std::unique_ptr<subscription::SubscriptionHook> subscription_hook;
  std::unique_ptr<api::rest::RestService> service;
  // After `service`, whose write pipeline it uses (destroyed first).
  std::unique_ptr<referral::Escalator> escalator;
};

// `smart_on_fhir`: advertise SMART security in the CapabilityStatement (auth is on).
// The SQLite options `settings` ask for. Errors: kBadRequest (an unknown synchronous mode).
core::Result<store::SqliteOptions> SqliteOptionsFor(const StoreSettings& settings);

core::Result<App> BuildApp(const StoreSettings& settings, bool validate = true,
                           bool smart_on_fhir = false,
                           const referral::ReferralConfig& referral_config = {});

// Writes the reference data domain modules need when the store lacks it (the recognition
// catalogue and OperationDefinitions); run by `serve` after the demo check.
core::Status SeedReferenceData(App& app);

// True when the store holds no resources yet.
core::Result<bool> StoreIsEmpty(store::Store& store);

extern const char kVersion[];

}  // namespace medalliance::cli
