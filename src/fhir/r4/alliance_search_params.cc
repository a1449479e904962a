// The alliance's own SearchParameters, beside the generated R4 ones. Hand-written (not
// generated): adding a parameter is adding one row. definitions.cc merges these rows with the
// R4 rows, so r4::SearchParams()/FindSearchParam() return them, search/ extracts and plans them
// like any R4 parameter, and api/ lists them in the CapabilityStatement.
//
// Each row: {base resource type, code, type, FHIRPath expression (on that base), reference
// targets (space-separated), composite components ("code=expression;..."), canonical URL under
// https://fhir.medalliance.cn/SearchParameter/}. A code must not repeat an R4 code of the base.
// After adding or changing a row, existing databases need `medalliance reindex --type <base>`.

#include <iterator>

#include "fhir/r4/internal/tables.h"

namespace medalliance::fhir::r4::internal {

const SearchParamRow kAllianceSearchParamRows[] = {
    // Hospital grade (医院等级): Organization?grade=level3-a, grade:text=三级甲等 (issue 5).
    {"Organization", "grade", "token",
     "Organization.extension.where(url='https://fhir.medalliance.cn/StructureDefinition/"
     "hospital-grade').value",
     "", "", "https://fhir.medalliance.cn/SearchParameter/Organization-grade"},
    // A referral's sending and receiving member hospital and city, from the referral-route
    // extension the referral module sets (issue 7: searchable by member and city):
    // ServiceRequest?from-city=广州&to-member=Organization/sz-heart.
    {"ServiceRequest", "from-member", "reference",
     "ServiceRequest.extension.where(url='https://fhir.medalliance.cn/StructureDefinition/"
     "referral-route').extension.where(url='from').value",
     "Organization", "", "https://fhir.medalliance.cn/SearchParameter/ServiceRequest-from-member"},
    {"ServiceRequest", "to-member", "reference",
     "ServiceRequest.extension.where(url='https://fhir.medalliance.cn/StructureDefinition/"
     "referral-route').extension.where(url='to').value",
     "Organization", "", "https://fhir.medalliance.cn/SearchParameter/ServiceRequest-to-member"},
    {"ServiceRequest", "from-city", "string",
     "ServiceRequest.extension.where(url='https://fhir.medalliance.cn/StructureDefinition/"
     "referral-route').extension.where(url='from-city').value",
     "", "", "https://fhir.medalliance.cn/SearchParameter/ServiceRequest-from-city"},
    {"ServiceRequest", "to-city", "string",
     "ServiceRequest.extension.where(url='https://fhir.medalliance.cn/StructureDefinition/"
     "referral-route').extension.where(url='to-city').value",
     "", "", "https://fhir.medalliance.cn/SearchParameter/ServiceRequest-to-city"},
};
const size_t kAllianceSearchParamRowCount = std::size(kAllianceSearchParamRows);

}  // namespace medalliance::fhir::r4::internal
