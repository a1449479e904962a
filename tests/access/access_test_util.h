#pragma once
// A RestService wired as `medalliance serve` wires it for issue 4 (access policy, its write
// hook, the audit log and write-audit hook, Patient/$match), over an in-memory store and a
// fake clock, plus helpers to call it as a given member.

#include <memory>
#include <string>

#include "access/policy.h"
#include "access/write_hook.h"
#include "api/rest/rest_service.h"
#include "audit/audit.h"
#include "core/clock.h"
#include "fhir/json/json.h"
#include "fhir/patch/json_patch.h"
#include "fhir/r4/definitions.h"
#include "mpi/match_operation.h"
#include "mpi/patient_index.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::access_test {

using api::rest::FhirRequest;
using api::rest::FhirResponse;
using fhir::Json;

inline store::Caller Member(const std::string& organization, const std::string& role) {
  store::Caller caller;
  caller.authenticated = true;
  caller.organization_id = organization;
  caller.client_id = "client-" + organization;
  if (role != "system")
    caller.practitioner_id = "dr-" + organization;
  caller.roles = {role};
  caller.scopes = {"system/*.*"};
  return caller;
}

class World {
 public:
  explicit World(access::ConsentDefault consent = access::ConsentDefault::kOptOut)
      : clock_(1'700'000'000'000), consent_(consent) {
    store_ = store::SqliteStore::Open({}).value();
    Build();
  }

  // A server restart: everything but the store (and the clock) is built anew.
  void Restart() {
    service_.reset();
    audit_log_.reset();
    Build();
  }

 private:
  void Build() {
    access::PolicyOptions options;
    options.consent_default = consent_;
    options.clock = &clock_;
    policy_ = std::make_unique<access::Policy>(options);
    access_hook_ = std::make_unique<access::AccessWriteHook>(*policy_);
    audit_log_ = std::make_unique<audit::AuditLog>(*store_, clock_, 1);
    audit_hook_ = std::make_unique<audit::AuditWriteHook>(clock_);
    match_ = std::make_unique<mpi::MatchOperation>(index_);
    api::rest::RestConfig config;
    config.apply_json_patch = [](Json& document, const Json& patch) {
      return fhir::ApplyJsonPatch(document, patch);
    };
    for (std::string_view type : fhir::r4::ResourceTypeNames()) {
      config.resource_types.emplace_back(type);
    }
    config.clock = &clock_;
    config.policy = policy_.get();
    config.audit = audit_log_.get();
    config.hooks = {access_hook_.get(), audit_hook_.get()};
    config.operations = {match_.get()};
    service_ = std::make_unique<api::rest::RestService>(*store_, std::move(config));
  }

 public:
  // Loads the $match candidate cache from what was written so far.
  void IndexPatients() { (void)index_.Load(*store_); }

  FhirResponse Send(const store::Caller* caller, std::string method, const std::string& url,
                    const std::string& body = {},
                    const std::string& content_type = "application/fhir+json") const {
    FhirRequest request;
    request.method = std::move(method);
    request.base_url = "http://test";
    size_t question = url.find('?');
    api::rest::SplitPath(url.substr(0, question), request.segments);
    if (question != std::string::npos)
      request.params = api::rest::ParseQueryString(url.substr(question + 1));
    request.body = body;
    request.content_type = content_type;
    if (caller != nullptr)
      request.SetCaller(*caller);
    return service_->Handle(request);
  }

  // PUT as `caller` (null: a local tool); fails the test when not 200/201.
  std::string Put(const store::Caller* caller, const std::string& type, const std::string& id,
                  const std::string& json) const {
    FhirResponse response = Send(caller, "PUT", type + "/" + id, json);
    if (response.status != 200 && response.status != 201)
      return "PUT " + type + "/" + id + " -> " + std::to_string(response.status) + " " +
             response.body;
    return {};
  }

  store::SqliteStore& Store() { return *store_; }
  audit::AuditLog& Audit() { return *audit_log_; }
  core::FakeClock& Clock() { return clock_; }
  const access::Policy& GetPolicy() const { return *policy_; }

 private:
  core::FakeClock clock_;
  access::ConsentDefault consent_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<access::Policy> policy_;
  std::unique_ptr<access::AccessWriteHook> access_hook_;
  std::unique_ptr<audit::AuditLog> audit_log_;
  std::unique_ptr<audit::AuditWriteHook> audit_hook_;
  mpi::PatientIndex index_;
  std::unique_ptr<mpi::MatchOperation> match_;
  std::unique_ptr<api::rest::RestService> service_;
};

// True when a Bundle response holds an entry whose resource is type/id.
inline bool BundleHas(const FhirResponse& response, std::string_view type, std::string_view id) {
  if (response.status != 200)
    return false;
  auto parsed = fhir::ParseJson(response.body);
  if (!parsed)
    return false;
  const Json* entries = parsed->Find("entry");
  if (entries == nullptr || !entries->IsArray())
    return false;
  for (const Json& entry : entries->Items()) {
    const Json* resource = entry.Find("resource");
    if (resource != nullptr && resource->GetStringMember("resourceType") == type &&
        resource->GetStringMember("id") == id) {
      return true;
    }
  }
  return false;
}

// Bundle.total, or -1.
inline int64_t BundleTotal(const FhirResponse& response) {
  auto parsed = fhir::ParseJson(response.body);
  if (!parsed || parsed->Find("total") == nullptr)
    return -1;
  int64_t total = -1;
  parsed->Find("total")->GetInt64(&total);
  return total;
}

inline size_t BundleEntries(const FhirResponse& response, std::string_view mode = "match") {
  auto parsed = fhir::ParseJson(response.body);
  if (!parsed || parsed->Find("entry") == nullptr)
    return 0;
  size_t count = 0;
  for (const Json& entry : parsed->Find("entry")->Items()) {
    const Json* search = entry.Find("search");
    if (search == nullptr || search->GetStringMember("mode") == mode)
      ++count;
  }
  return count;
}

}  // namespace medalliance::access_test
