// The access rules (access/) and the read audit (audit/) around the REST interactions: a
// Session per request decides each stored resource; what it denies is left out everywhere and
// answers 404 on a direct read. Cross-member and break-glass reads are committed to the audit log
// before the response leaves.

#include "api/rest/rest_service.h"

namespace medalliance::api::rest {

using fhir::Json;

std::unique_ptr<access::Session> RestService::MakeSession(const FhirRequest& request) const {
  if (config_.policy == nullptr || !request.GetCaller().authenticated)
    return nullptr;
  return std::make_unique<access::Session>(*config_.policy, request.GetCaller());
}

search::VisibilityPredicate RestService::Predicate(access::Session* session) {
  if (session == nullptr)
    return {};
  return [session](store::ReadTx& tx, const store::StoredResource& resource) {
    return session->Visible(tx, resource);
  };
}

core::Status RestService::AuditReads(const FhirRequest& request, const access::Session* session,
                                     std::string_view subtype, const std::string& query) const {
  if (session == nullptr)
    return {};
  core::EpochMillis now = config_.clock->Now();
  if (!session->NewGrants().empty()) {
    core::Status written = store_.Write([&](store::WriteTx& tx) -> core::Status {
      for (const access::BreakGlassGrant& grant : session->NewGrants()) {
        MA_RETURN_IF_ERROR(access::SaveBreakGlass(tx, request.GetCaller(), grant));
        MA_RETURN_IF_ERROR(audit::AppendBreakGlass(tx, request.GetCaller(), grant.patient,
                                                   grant.reason, grant.start, grant.end, now));
      }
      return {};
    });
    (void)written;  // a failure leaves the grant unflagged; the per-read AuditEvents follow
  }
  if (config_.audit == nullptr || session->CrossMemberReads().empty())
    return {};
  std::vector<audit::AuditRecord> records;
  for (const access::Session::Access& read : session->CrossMemberReads()) {
    audit::AuditRecord record;
    record.category = audit::AuditRecord::Category::kRest;
    record.subtype = std::string(subtype);
    record.action = subtype == "operation" ? "E" : "R";
    record.recorded = now;
    record.caller = request.GetCaller();
    record.entities = {read.reference};
    record.patients = read.patients;
    record.owner = read.owner;
    record.rule = std::string(access::RuleName(read.rule));
    record.purpose = read.rule == access::Rule::kBreakGlass ? "ETREAT" : "TREAT";
    record.query = query;
    records.push_back(std::move(record));
  }
  // Another member's data leaves only once its AuditEvents are committed (group commit with
  // the other requests' records); if they cannot be stored, the data is not sent.
  core::Status committed = config_.audit->Commit(std::move(records));
  if (!committed) {
    return core::Error(core::ErrorCode::kUnavailable,
                       "the access could not be audited: " + committed.error().GetMessage());
  }
  return {};
}

void RestService::AuditRefusal(const FhirRequest& request, std::string_view subtype,
                               const std::string& what, const std::string& why) const {
  if (config_.audit == nullptr || !request.GetCaller().authenticated)
    return;
  audit::AuditRecord record;
  record.category = audit::AuditRecord::Category::kSecurity;
  record.subtype = "refusal";
  record.action = "E";
  record.recorded = config_.clock->Now();
  record.outcome = "4";
  record.outcome_description = std::string(subtype) + " refused: " + why;
  record.caller = request.GetCaller();
  if (!what.empty())
    record.entities = {what};
  config_.audit->Record(std::move(record));
}

core::Status RestService::FilterOperationResult(access::Session& session, Json& body) const {
  auto visible = [&](store::ReadTx& tx, const Json& resource) -> core::Result<bool> {
    store::StoredResource stored;
    stored.type = std::string(resource.GetStringMember("resourceType"));
    stored.id = std::string(resource.GetStringMember("id"));
    stored.json = fhir::WriteJson(resource);
    if (stored.type == "OperationOutcome" || stored.type == "Parameters" ||
        stored.type == "Bundle") {
      return true;
    }
    return session.Visible(tx, stored);
  };
  return store_.Read([&](store::ReadTx& tx) -> core::Status {
    std::string_view type = body.GetStringMember("resourceType");
    const char* list = type == "Bundle" ? "entry" : type == "Parameters" ? "parameter" : nullptr;
    if (list == nullptr) {
      MA_ASSIGN_OR_RETURN(bool ok, visible(tx, body));
      if (!ok)
        return core::Error::NotFound("the operation's result is not known");
      return {};
    }
    Json* items = body.Find(list);
    if (items == nullptr || !items->IsArray())
      return {};
    Json::Array kept;
    for (Json& item : items->Items()) {
      const Json* resource = item.Find("resource");
      if (resource != nullptr && resource->IsObject()) {
        MA_ASSIGN_OR_RETURN(bool ok, visible(tx, *resource));
        if (!ok)
          continue;
      }
      kept.push_back(std::move(item));
    }
    items->Items() = std::move(kept);
    if (type == "Bundle" && body.Find("total") != nullptr)
      body.Set("total", Json::MakeNumber(static_cast<int64_t>(items->Size())));
    return {};
  });
}

}  // namespace medalliance::api::rest
