#pragma once
// A RestService over an in-memory store with the referral hooks and board, a fake clock and a
// small alliance: two cities, members of grades 三级, 二级 and a community health centre.

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "api/rest/rest_service.h"
#include "audit/audit.h"
#include "core/clock.h"
#include "referral/appointment_hook.h"
#include "referral/board_operation.h"
#include "referral/config.h"
#include "referral/escalator.h"
#include "referral/metrics_operation.h"
#include "referral/service_request_hook.h"
#include "referral/task_hook.h"
#include "store/store.h"

namespace medalliance::referral {

using Json = nlohmann::ordered_json;

// 2026-11-26T08:00:00Z
inline constexpr core::EpochMillis kStart = 1'795'680'000'000;

inline constexpr const char* kGreenSystem = "https://fhir.medalliance.cn/CodeSystem/green-channel";
inline constexpr const char* kDirection =
    "https://fhir.medalliance.cn/CodeSystem/referral-direction";

class ReferralTest : public ::testing::Test {
 protected:
  void SetUp() override;

  api::rest::FhirResponse Send(std::string method, std::string url, std::string body = {},
                               std::string content_type = "application/fhir+json",
                               const store::Caller& caller = {}, bool want_outcome = false);
  // Creates or replaces a resource with a fixed id (PUT); fails the test otherwise.
  void Put(const Json& resource);
  std::string Create(const Json& resource);
  Json Read(const std::string& reference);
  std::vector<Json> Search(const std::string& url);
  // The AuditEvents whose entity.what starts with `reference` ("Task/1", "Task/1/_history/2").
  std::vector<Json> AuditsOf(const std::string& reference);

  // A referral ServiceRequest (not yet stored).
  static Json MakeReferral(const std::string& requester, const std::string& performer);
  static Json MakeGreenReferral(const std::string& requester, const std::string& performer,
                                const std::string& condition);
  // Stores the ServiceRequest and its Task (unauthenticated); returns the Task id.
  std::string StartReferral(const Json& service_request);
  // JSON Patch of Task status (plus what the target state needs) as `caller`.
  // With want_outcome the answer is the OperationOutcome (Prefer: return=OperationOutcome).
  api::rest::FhirResponse Move(const std::string& task_id, const std::string& status,
                               const store::Caller& caller = {}, bool want_outcome = false);

  static store::Caller As(const std::string& organization_id);

  core::FakeClock clock_{kStart};
  ReferralConfig config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<ServiceRequestHook> request_hook_;
  std::unique_ptr<TaskHook> task_hook_;
  std::unique_ptr<AppointmentHook> appointment_hook_;
  std::unique_ptr<GreenChannelBoard> board_;
  std::unique_ptr<ReferralMetrics> metrics_;
  // Last of the hooks, as `serve` wires it: every write made for a request is audited.
  std::unique_ptr<audit::AuditWriteHook> audit_hook_;
  std::unique_ptr<api::rest::RestService> service_;
};

}  // namespace medalliance::referral
