#pragma once
// The recognition engine on the write path (issue 6, doc/recognition.md).
//
// MarkHook (Observation, DiagnosticReport, ImagingStudy; create, update, patch): removes any
// recognition mark the writer sent (a member cannot mark its own results), then adds the mark
// — meta.security {kRecognitionSystem, "HR", "<scope>HR"} — when the result names a catalogue
// item, is final (ImagingStudy: available), is more than a diagnostic conclusion, fits the
// item's specimen and method, and its issuer was qualified for the item at issue time
// (Engine::IntrinsicFindings is empty). A write of this module's own (origin kWriteOrigin:
// re-marking, judged with qualifications not stored yet) keeps the mark it carries. The mark
// is searchable:
// `Observation?_security=https://fhir.medalliance.cn/CodeSystem/recognition|HR`.
//
// OrderAlertHook (ServiceRequest create): when the ordered item (ServiceRequest.code) has a
// reusable prior result for the patient or a linked identity, adds one warning issue naming
// the newest one. The order is not blocked.
//
// The ServiceRequest that got the warning is stored with meta.tag kRecognitionSystem#
// kAlertTag, which the metrics count as a recognition opportunity.
//
// DecisionHook (Task create, update, patch, for Tasks coded kDecisionCode): the physician's
// decision on an item. businessStatus kRecognitionSystem#reused needs `focus` (the reused
// result); #repeated needs a reasonCode of kRepeatReasonSystem, and for "other" its text.
// Otherwise kUnprocessable (422) in Chinese and English. When the Task names its item (input
// kRecognitionSystem#item) and its patient (`for`), the hook records what the engine found
// at authoredOn (else now) for the requester's member, replacing whatever the writer sent:
// input kReusableInput (valueInteger: how many reusable results there were) and, for a
// repeat, one input kRefusedIssuerInput (valueReference: the issuer) per reusable result not
// reused. The metrics (metrics_operation.h) count these.
//
// QualificationHook (Basic create, update, patch, delete of a qualification): re-marks the
// member's published results whose mark the change gives or takes (Remark()), through the
// write pipeline, so that the new versions are indexed, hooked and audited.
//
// All act only inside the write transaction and keep no state but the engine's caches.

#include <string>
#include <vector>

#include "core/clock.h"
#include "recognition/engine.h"
#include "store/hooks.h"

namespace medalliance::recognition {

inline constexpr std::string_view kDecisionCode = "decision";
inline constexpr std::string_view kItemInput = "item";
inline constexpr std::string_view kReusableInput = "reusable-at-decision";
inline constexpr std::string_view kRefusedIssuerInput = "refused-issuer";
inline constexpr std::string_view kAlertTag = "reuse-alert";
inline constexpr std::string_view kRepeatReasonSystem =
    "https://fhir.medalliance.cn/CodeSystem/recognition-repeat-reason";
// The allowed reasons for repeating a test or examination instead of reusing a result.
inline constexpr std::string_view kRepeatReasons[] = {
    "condition-changed",  // 病情变化或结果与临床不符 / condition changed, result does not fit
    "fast-changing",  // 该项目在本病中变化快 / item changes fast in this disease
    "critical-before-major-measure",  // 手术、输血等重大措施前 / critical before a major measure
    "emergency",                      // 急诊、抢救 / emergency or rescue
    "appraisal",  // 司法、伤残等鉴定 / forensic, disability or similar appraisal
    "other",      // 其他（须注明）/ other, written out
};

struct HookOptions {
  const core::Clock* clock = nullptr;  // the system clock when null
  // The mark's display: the scope prefix and "HR" (粤HR for Guangdong).
  std::string mark_display = "粤HR";
};

class MarkHook : public store::WriteHook {
 public:
  // `engine` is not owned and must outlive the hook.
  MarkHook(Engine& engine, HookOptions options) : engine_(engine), options_(std::move(options)) {}
  std::vector<std::string> Types() const override {
    return {"DiagnosticReport", "ImagingStudy", "Observation"};
  }
  core::Status BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) override;

 private:
  Engine& engine_;
  HookOptions options_;
};

class OrderAlertHook : public store::WriteHook {
 public:
  OrderAlertHook(Engine& engine, HookOptions options)
      : engine_(engine), options_(std::move(options)) {}
  std::vector<std::string> Types() const override { return {"ServiceRequest"}; }
  core::Status BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) override;

 private:
  Engine& engine_;
  HookOptions options_;
};

class DecisionHook : public store::WriteHook {
 public:
  DecisionHook(Engine& engine, HookOptions options)
      : engine_(engine), options_(std::move(options)) {}
  std::vector<std::string> Types() const override { return {"Task"}; }
  // Errors: kUnprocessable for a decision without its reason or reused result.
  core::Status BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) override;

 private:
  static core::Status Check(const fhir::Json& task);

  Engine& engine_;
  HookOptions options_;
};

// Re-marking: a qualification recorded, changed or removed after results were published.
class QualificationHook : public store::WriteHook {
 public:
  QualificationHook(Engine& engine, HookOptions options)
      : engine_(engine), options_(std::move(options)) {}
  std::vector<std::string> Types() const override { return {"Basic"}; }
  core::Status BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) override;

 private:
  Engine& engine_;
  HookOptions options_;
};

// Gives or takes the mark of every Observation, DiagnosticReport and ImagingStudy whose
// performer is `member` or one of its direct departments, judged with the qualifications in
// `cache` (the caller overrides the changed Basic's there, as it is not stored yet). Each
// result whose mark changes gets a new version through `event.writer` (the whole write
// pipeline: validation, hooks, index, audit), made by origin kWriteOrigin one level deeper than
// `event` (store::kMaxWriteDepth bounds it; MarkHook keeps the mark such a write carries, and
// nothing it writes is a qualification, so it does not recurse). Returns how many.
// Results naming their issuer only through a PractitionerRole are not found.
// Errors: kInternal when no writer is wired; the writer's and the store's.
core::Result<int> Remark(store::WriteTx& tx, Engine& engine, const std::string& member,
                         OrganizationCache& cache, const HookOptions& options,
                         const store::WriteEvent& event, core::EpochMillis now);

// The origin (store::WriteScope::origin) of the recognition module's own writes.
inline constexpr std::string_view kWriteOrigin = "recognition";

// Adds the mark (display `display`) to meta.security; StripMarks() removes every mark.
void AddMark(fhir::Json& resource, const std::string& display);
void StripMarks(fhir::Json& resource);

// True when the resource carries the recognition mark.
bool HasMark(const fhir::Json& resource);

}  // namespace medalliance::recognition
