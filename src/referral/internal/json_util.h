#pragma once
// Small JSON helpers shared by the referral module's files. Not for use outside referral/.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "fhir/json/json.h"
#include "search/search.h"
#include "store/hooks.h"
#include "store/store.h"

namespace medalliance::referral::internal {

fhir::Json Str(std::string_view text);
fhir::Json Reference(std::string_view reference);
fhir::Json Coding(std::string_view system, std::string_view code, std::string_view display = {});
// A sub-extension {url, <value_key>: value}.
fhir::Json SubExtension(std::string_view url, std::string_view value_key, fhir::Json value);

// True when a CodeableConcept (or an array of them) holds a coding system|code.
bool HasCoding(const fhir::Json* concepts, std::string_view system, std::string_view code);
// The codes of `system` in a CodeableConcept or an array of them.
std::vector<std::string> CodesOf(const fhir::Json* concepts, std::string_view system);

// member.reference, or empty.
std::string_view ReferenceOf(const fhir::Json* reference);
// "Type/id" split; empty parts when the reference is not relative.
bool SplitReference(std::string_view reference, std::string_view* type, std::string_view* id);

// Removes every extension with `url` from resource.extension.
void EraseExtensions(fhir::Json& resource, std::string_view url);
// The extensions with `url`.
std::vector<const fhir::Json*> FindExtensions(const fhir::Json& resource, std::string_view url);
// A sub-extension of a complex extension.
const fhir::Json* FindSubExtension(const fhir::Json& extension, std::string_view url);
fhir::Json& AddExtension(fhir::Json& resource, fhir::Json extension);

// A FHIR dateTime as epoch millis (Asia/Shanghai when no zone is given); nullopt if absent
// or malformed.
std::optional<core::EpochMillis> ParseTime(std::string_view text);

// Reads and parses the current version; nullopt when absent or deleted.
core::Result<std::optional<fhir::Json>> ReadJson(store::ReadTx& tx, std::string_view type,
                                                 std::string_view id);
core::Result<std::optional<fhir::Json>> ReadReference(store::ReadTx& tx,
                                                      std::string_view reference);

// Writes of the module through the whole write pipeline (validation, hooks, index, audit):
// a new resource (its id returned) or a new version of `resource` (its id). kInternal when
// no writer is wired.
core::Result<std::string> CreateResource(store::WriteTx& tx, const store::ResourceWriter* writer,
                                         fhir::Json& resource, const store::WriteScope& scope);
core::Status UpdateResource(store::WriteTx& tx, const store::ResourceWriter* writer,
                            fhir::Json& resource, const store::WriteScope& scope);

// Runs a search and parses the matches.
core::Result<std::vector<fhir::Json>> SearchJson(store::ReadTx& tx,
                                                 const search::Searcher& searcher, std::string type,
                                                 search::Params params);

}  // namespace medalliance::referral::internal
