#pragma once
// Code systems, codes and extension URLs of the referral module (all under the project's
// canonical base https://fhir.medalliance.cn; listed in src/referral/README.md).

#include <optional>
#include <string_view>

namespace medalliance::referral {

// ServiceRequest.category of every referral: SNOMED CT 3457005 "Patient referral".
inline constexpr std::string_view kSnomedSystem = "http://snomed.info/sct";
inline constexpr std::string_view kReferralCategoryCode = "3457005";

// ServiceRequest.category: the direction, set by ServiceRequestHook from the two members'
// grades and cities: "up", "down" or "lateral", plus "across-city" when the cities differ.
inline constexpr std::string_view kDirectionSystem =
    "https://fhir.medalliance.cn/CodeSystem/referral-direction";

// Task.code of a referral Task ("referral", and "green-channel" for a green-channel one);
// PractitionerRole.code of a member's duty coordinator ("duty-coordinator").
// WriteEvent::origin / WriteScope::origin of the writes this module makes itself (the
// Encounter on arrival, the ServiceRequest following its Task, the escalator's steps).
inline constexpr std::string_view kWriteOrigin = "referral";
inline constexpr std::string_view kReferralSystem =
    "https://fhir.medalliance.cn/CodeSystem/referral";
inline constexpr std::string_view kReferralTaskCode = "referral";
inline constexpr std::string_view kGreenChannelTaskCode = "green-channel";
inline constexpr std::string_view kCoordinatorRoleCode = "duty-coordinator";

// ServiceRequest.category of a green-channel referral: "green-channel" and the condition
// (stroke, chest-pain, heart-failure, cardiac-emergency, tumour-fast-track). HealthcareService
// .type with these codes says which member offers which green channel.
inline constexpr std::string_view kGreenChannelSystem =
    "https://fhir.medalliance.cn/CodeSystem/green-channel";
inline constexpr std::string_view kGreenChannelCode = "green-channel";

// Organization.extension: the member's grade (valueString "三级甲等", "二级", "社区卫生服务中心"
// or valueCoding); the registry owns it.
inline constexpr std::string_view kGradeExtension =
    "https://fhir.medalliance.cn/StructureDefinition/hospital-grade";

// ServiceRequest.extension, complex, set by the hook on every referral: the sending and the
// receiving member hospital and their cities (sub-extensions from, from-city, to, to-city), so
// that referrals are searchable by member and city (from-member, to-member, from-city, to-city).
inline constexpr std::string_view kRouteExtension =
    "https://fhir.medalliance.cn/StructureDefinition/referral-route";

// Task.extension, complex: one per status change (from, to, at, by, reason). Server-managed.
inline constexpr std::string_view kTransitionExtension =
    "https://fhir.medalliance.cn/StructureDefinition/referral-transition";
// Task.extension, complex: one per escalation step (level, at, action, target). Server-managed.
inline constexpr std::string_view kEscalationExtension =
    "https://fhir.medalliance.cn/StructureDefinition/referral-escalation";
// Task.extension, complex: a derived green-channel interval (metric, minutes, target, met).
inline constexpr std::string_view kMetricExtension =
    "https://fhir.medalliance.cn/StructureDefinition/green-channel-metric";
// Task.extension valueDateTime, one URL per time point: kTimePointPrefix + point name.
inline constexpr std::string_view kTimePointPrefix =
    "https://fhir.medalliance.cn/StructureDefinition/green-channel-time-";

enum class Condition { kStroke, kChestPain, kHeartFailure, kCardiacEmergency, kTumourFastTrack };
inline constexpr Condition kAllConditions[] = {
    Condition::kStroke, Condition::kChestPain, Condition::kHeartFailure,
    Condition::kCardiacEmergency, Condition::kTumourFastTrack};

std::string_view ToCode(Condition condition);
std::string_view DisplayOf(Condition condition);  // 中文 / English
std::optional<Condition> ParseCondition(std::string_view code);

enum class Direction { kUp, kDown, kLateral };
std::string_view ToCode(Direction direction);
std::string_view DisplayOf(Direction direction);

}  // namespace medalliance::referral
