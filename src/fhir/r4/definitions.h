#pragma once
// FHIR R4 (4.0.1) definitions: resource and data types, their elements, required bindings and
// search parameters, generated from the official definitions by tools/r4gen/generate.py.
//
// Everything here is immutable data built once on first use (thread-safe static
// initialisation); every pointer and string_view returned stays valid for the whole program.
// Lookups are hash-map based and allocate nothing.
//
//   r4::IsResourceType("Patient")                      -> true
//   r4::FindElement("Patient.gender")->required_codes  -> administrative-gender codes
//   r4::FindChild("Observation", "valueQuantity")      -> {Observation.value[x], "Quantity"}
//   r4::SearchParams("Patient")                        -> name, birthdate, ..., _id, _tag, ...

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace medalliance::fhir::r4 {

enum class TypeKind : uint8_t { kPrimitive, kComplex, kResource };

struct ElementDefinition;
struct TypeDefinition;
class Definitions;

// The primitive data types, for fast dispatch (kNone: not a primitive).
enum class Primitive : uint8_t {
  kNone,
  kBoolean,
  kInteger,
  kUnsignedInt,
  kPositiveInt,
  kDecimal,
  kString,
  kMarkdown,
  kCode,
  kId,
  kUri,
  kUrl,
  kCanonical,
  kOid,
  kUuid,
  kBase64Binary,
  kInstant,
  kDate,
  kDateTime,
  kTime,
  kXhtml
};
Primitive PrimitiveOf(std::string_view type_name);

// The expanded codes of a required value set.
class ValueSetCodes {
 public:
  std::string_view GetUrl() const { return url_; }
  // True when some system of the value set has `code` (for `code`-typed elements).
  bool ContainsCode(std::string_view code) const { return codes_.contains(code); }
  // True when the value set has exactly (system, code).
  bool Contains(std::string_view system, std::string_view code) const;
  // Every system in the value set.
  const std::vector<std::string_view>& GetSystems() const { return systems_; }
  size_t Size() const { return size_; }

 private:
  friend class Definitions;
  std::string_view url_;
  std::unordered_map<std::string_view, std::vector<std::string_view>> codes_;  // code -> systems
  std::vector<std::string_view> systems_;
  size_t size_ = 0;
};

// A JSON property name resolved against the element that holds it.
struct ChildMatch {
  const ElementDefinition* element = nullptr;  // e.g. Observation.value[x]
  std::string_view type;                       // e.g. "Quantity" (the one type of the key)
  // The element whose children apply inside this property's value: the type's root
  // (e.g. "Quantity"), the backbone element itself, or a contentReference target. Null for
  // primitives and Resource-typed slots.
  const ElementDefinition* children = nullptr;
  uint16_t ordinal = 0;  // index of `element` in its parent's Children()
  bool is_primitive = false;
  Primitive primitive = Primitive::kNone;
};

// One element of a snapshot (StructureDefinition.snapshot.element).
struct ElementDefinition {
  std::string_view path;  // "Observation.value[x]", "Questionnaire.item.item"
  std::string_view name;  // last path segment: "value[x]"
  uint32_t min = 0;
  int32_t max = 1;                             // -1 means "*"
  std::vector<std::string_view> types;         // type codes; empty when content_reference is set
  std::vector<std::string_view> target_types;  // Reference/canonical targets ("Patient", ...)
  std::string_view content_reference;          // "#Questionnaire.item", or empty
  bool is_backbone = false;       // defines its own children (BackboneElement / Element)
  bool is_choice = false;         // path ends in [x]
  bool is_resource_slot = false;  // type Resource (contained, Bundle.entry.resource, ...)
  bool is_modifier = false;
  bool is_summary = false;
  std::string_view required_value_set;            // canonical URL, or empty when not required
  const ValueSetCodes* required_codes = nullptr;  // null when none or not expandable
  const TypeDefinition* owner = nullptr;          // the type whose snapshot holds this

  bool IsRepeating() const { return max != 1 && max != 0; }
  std::string_view MaxText() const;  // "*" or the number, for messages

  // Direct child elements (non-empty for type roots and backbone elements). For an element of
  // a complex type, look at FindChild(..)->children instead.
  const std::vector<const ElementDefinition*>& Children() const { return children_; }
  // Resolves a JSON property name ("valueQuantity", "given") among the children; the `_name`
  // form is not accepted here. Null when unknown.
  const ChildMatch* FindChild(std::string_view json_key) const;
  // Ordinals (into Children()) of the children with min >= 1.
  const std::vector<uint16_t>& RequiredChildren() const { return required_children_; }

 private:
  friend class Definitions;
  std::vector<const ElementDefinition*> children_;
  std::unordered_map<std::string_view, ChildMatch> children_by_key_;
  std::vector<uint16_t> required_children_;
};

struct TypeDefinition {
  std::string_view name;
  TypeKind kind = TypeKind::kComplex;
  bool is_abstract = false;
  std::string_view base;                           // "DomainResource", "Element", "Quantity", ...
  const ElementDefinition* root = nullptr;         // null for primitive types
  std::vector<const ElementDefinition*> elements;  // snapshot order
};

enum class SearchParamType : uint8_t {
  kNumber,
  kDate,
  kString,
  kToken,
  kReference,
  kComposite,
  kQuantity,
  kUri,
  kSpecial
};

struct SearchParamDefinition {
  std::string_view base;  // "Patient", or "Resource"/"DomainResource" for common ones
  std::string_view code;  // "birthdate", "_id"
  SearchParamType type = SearchParamType::kString;
  std::string_view type_name;   // "date"
  std::string_view expression;  // FHIRPath, restricted to this base; may be empty (_content)
  std::vector<std::string_view> target_types;
  struct Component {
    std::string_view code;        // the component parameter's code
    std::string_view expression;  // relative to the composite's result
  };
  std::vector<Component> components;
  std::string_view url;
};

// Types.
bool IsResourceType(std::string_view name);  // concrete (non-abstract) resource types only
bool IsPrimitiveType(std::string_view name);
// Sorted names of the concrete resource types.
const std::vector<std::string_view>& ResourceTypeNames();
const TypeDefinition* FindType(std::string_view name);
// True when `type` is `ancestor` or derives from it ("Patient" is a "DomainResource").
bool IsA(std::string_view type, std::string_view ancestor);

// Elements.
// The element with this exact snapshot path ("Observation.value[x]"). Paths below a
// contentReference ("Questionnaire.item.item.linkId") and below a complex type
// ("Patient.name.given") resolve too.
const ElementDefinition* FindElement(std::string_view path);
// Resolves a JSON property name below `parent_path` (a type name or any element path, as in
// FindElement): FindChild("Observation", "valueQuantity") -> Observation.value[x], Quantity.
const ChildMatch* FindChild(std::string_view parent_path, std::string_view json_key);
// The expanded required value set at `element_path`, or null.
const ValueSetCodes* RequiredBinding(std::string_view element_path);
// The expanded required value set by URL (no version), or null.
const ValueSetCodes* FindValueSet(std::string_view url);
// Required value sets the generator could not expand (bindings to them are not checked).
struct UnexpandedValueSet {
  std::string_view url;
  std::string_view reason;
};
std::span<const UnexpandedValueSet> UnexpandedValueSets();

// Search parameters of a resource type, including those defined on Resource and (for domain
// resources) DomainResource; sorted by code. Empty for unknown types.
const std::vector<const SearchParamDefinition*>& SearchParams(std::string_view resource_type);
const SearchParamDefinition* FindSearchParam(std::string_view resource_type, std::string_view code);

}  // namespace medalliance::fhir::r4
