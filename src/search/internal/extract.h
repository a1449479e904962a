#pragma once
// Index extraction: evaluates the FHIRPath expression of every R4 SearchParameter of a
// resource's type and turns the values into store::IndexEntry rows (doc/search.md lists
// what each parameter type stores).
//
// The expressions of a resource type are parsed on the first use of that type; the Extractor is
// otherwise immutable and thread-safe.
//
// Most R4 expressions are plain paths (`Observation.code`, `Observation.effective`), unions of
// them, `.where(resolve() is T)`, `.where(member='literal')`, `(x as T)`, `x.ofType(T)` and
// `x.as(T)`. Those are compiled to a direct walk over the JSON tree (FastExpression) that
// produces the same items, in the same order, as the FHIRPath evaluator; anything else, and
// any input where the walk cannot be sure to match the evaluator (extension-only primitives,
// resources nested in elements, values it cannot compare for a union), is evaluated by
// fhir/fhirpath instead. tests/search/extract_test.cc compares both on every example.

#include <array>
#include <bitset>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fhir/fhirpath/fhirpath.h"
#include "fhir/json/json.h"
#include "fhir/r4/definitions.h"
#include "store/store.h"

namespace medalliance::search::internal {

// Suffixes of derived index rows (stored under "<code><suffix>").
inline constexpr std::string_view kTextSuffix = ":text";       // token display text (string)
inline constexpr std::string_view kOfTypeSuffix = ":of-type";  // identifier type|value (token)
inline constexpr std::string_view kIdentifierSuffix = ":identifier";  // Reference.identifier
// Composite rows: "<code>#<group>#<component>", one group per composite value.
inline constexpr char kCompositeSeparator = '#';

// Search aids: stored rows that no parameter reads as its own, kept only so the planner can
// answer some searches from an index range instead of testing every row (doc/search.md,
// "Search aids"). Extractor::IndexStored() adds them; Extractor::Index() does not.
//
// "<code>:cjk" (index_string): for every folded value of a string parameter that contains a
// CJK character, each suffix starting at a character boundary (the value itself included),
// cut to kCjkSuffixChars characters, and each CJK character of the value alone. A CJK search
// value of at most that many characters is a substring of a value exactly when it is a prefix
// of one of these rows; a single CJK character, exactly when it equals one of them (rows of
// one value, one per resource, listed by id: the planner walks them in id order).
inline constexpr std::string_view kCjkSuffix = ":cjk";
inline constexpr size_t kCjkSuffixChars = 16;
// "<token>$<quantity>" (index_quantity): for a root composite of a token and a quantity
// parameter (Observation `code-value-quantity`: code, value-quantity), one row per pair of
// their rows on the resource: number = the quantity's number, code column (IndexEntry.value)
// = the token's code, system = the token's system, raw = the quantity's unit code. The value
// index (type, param, code, number) then finds "code X with value > n" by one range.
inline constexpr char kPairSeparator = '$';

struct FastExpression;  // extract.cc

struct ParamPlan {
  const fhir::r4::SearchParamDefinition* definition = nullptr;
  fhir::fhirpath::Expression expression;
  bool parsed = false;
  std::string parse_error;  // when !parsed
  struct Component {
    const fhir::r4::SearchParamDefinition* definition = nullptr;  // the component's parameter
    fhir::fhirpath::Expression expression;
    bool parsed = false;
    std::shared_ptr<const FastExpression> fast;  // null: evaluate `expression`
  };
  std::vector<Component> components;  // composite parameters only
  // Top-level elements the expression starts from ("code" for Observation.code); when none
  // of them (nor a choice form such as valueQuantity for "value") is in the resource, the
  // expression is not evaluated. Empty: always evaluate.
  std::vector<std::string> roots;
  // The compiled expression; null when the expression (or, for composites, a component) has a
  // shape the walk does not handle.
  std::shared_ptr<const FastExpression> fast;
  std::vector<uint16_t> root_ids;  // `roots` as indices into the type's root table

  // Derived parameters (doc/search.md, "Derived parameters"): their rows equal rows of other
  // parameters of the same type, so the store need not hold them and the planner reads the
  // sources instead. Set when the type's plans are built, from the R4 expressions.
  enum class Derivation {
    kNone,
    // The expression is a union of other parameters' expressions ("Observation.code |
    // Observation.component.code"): the rows (and :text/:of-type/:identifier rows) are the
    // union of theirs. `sources`: those parameters.
    kUnion,
    // "X.where(resolve() is T)" where `sources[0]` has expression X: the rows of sources[0]
    // whose reference resolves to type T (`resolve_type`). The :identifier rows stay stored.
    kResolveFilter,
    // A composite over the resource itself ("Observation", components code and
    // value.as(Quantity)): one group, whose component i rows are those of `sources[i]`.
    kRootComposite,
  };
  Derivation derivation = Derivation::kNone;
  std::vector<std::string> sources;
  std::string resolve_type;
};

class Extractor {
 public:
  // The process-wide instance (built on first call; thread-safe).
  static const Extractor& Get();

  Extractor(const Extractor&) = delete;
  Extractor& operator=(const Extractor&) = delete;

  // Every index row of `resource` (its resourceType picks the parameters).
  std::vector<store::IndexEntry> Index(const fhir::Json& resource) const;
  // The rows the store keeps: Index() without the rows of derived parameters (they are
  // answered from their sources' rows; see ParamPlan::Derivation).
  std::vector<store::IndexEntry> IndexStored(const fhir::Json& resource) const;
  // The rows of one parameter. Returns false (with `error`) when the expression failed.
  bool IndexParam(const fhir::Json& resource, const ParamPlan& plan,
                  std::vector<store::IndexEntry>& out, std::string* error = nullptr) const;
  // IndexParam with the FHIRPath evaluator only (no compiled walk, no root pre-check), for
  // tests comparing the two.
  bool IndexParamWithEvaluatorForTest(const fhir::Json& resource, const ParamPlan& plan,
                                      std::vector<store::IndexEntry>& out,
                                      std::string* error = nullptr) const;
  // The indexed parameters of a type (excluding those the planner answers from the resource
  // tables: _id, _lastUpdated, and special ones).
  const std::vector<ParamPlan>& Plans(std::string_view type) const;
  const ParamPlan* Find(std::string_view type, std::string_view code) const;

 private:
  // The plans of one resource type, built on first use.
  struct TypePlans {
    std::once_flag once;
    std::vector<ParamPlan> plans;
    // The distinct roots of the plans by first letter (a..z), with their ids: a resource
    // member key selects every root it starts with (as ParamPlan::roots are checked).
    std::array<std::vector<std::pair<std::string_view, uint16_t>>, 26> roots_by_letter;
    // The element names the compiled steps look up (their FastStep::root_slot), and the same
    // by first letter: Index() finds them among the resource's members in one pass.
    std::vector<std::string> slot_names;
    std::array<std::vector<std::pair<std::string_view, uint16_t>>, 26> slots_by_letter;
  };
  static constexpr size_t kMaxRoots = 256;
  using RootSet = std::bitset<kMaxRoots>;

  Extractor();
  const TypePlans* GetTypePlans(std::string_view type) const;
  // Sets ParamPlan::derivation/sources for the parameters of `type`.
  static void FindDerivations(std::string_view type, std::vector<ParamPlan>& plans);
  // Appends the search-aid rows (kCjkSuffix, kPairSeparator) of the rows in `out`.
  static void AddSearchAids(const std::vector<ParamPlan>& plans,
                            std::vector<store::IndexEntry>& out);
  // Index() and IndexStored().
  std::vector<store::IndexEntry> IndexImpl(const fhir::Json& resource, bool stored_only) const;
  void Build(std::string_view type, TypePlans& entry) const;
  // The compiled walk when the plan has one and it is sure of the result, else the evaluator.
  bool Run(const fhir::Json& resource, const ParamPlan& plan, std::vector<store::IndexEntry>& out,
           std::string* error) const;
  // Index()'s one pass over the resource's members for the compiled steps (`scratch`: the
  // walk's per-thread state, private to extract.cc).
  static void FillRootSlots(const fhir::Json& resource, const TypePlans& entry, void* scratch);
  bool Evaluate(const fhir::Json& resource, const ParamPlan& plan,
                std::vector<store::IndexEntry>& out, std::string* error) const;

  std::unordered_map<std::string_view, std::unique_ptr<TypePlans>> types_;
  fhir::fhirpath::EvalOptions options_;
  std::unordered_map<std::string_view, fhir::Json> stubs_;  // resolve() targets by type
};

// Normalises a reference for the index: "Patient/1/_history/2" -> "Patient/1"; absolute URLs
// ending in Type/id keep the URL. Empty for contained ("#x") references.
std::string NormaliseReference(std::string_view reference);

// The type a reference resolves to for `resolve() is T` (the path segment before the id of
// the normalised reference); empty when none.
std::string_view ReferenceType(std::string_view normalised);

}  // namespace medalliance::search::internal
