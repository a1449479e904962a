#pragma once
// FHIRPath (N1, with the R4 FHIR type model) over fhir::Json resources.
//
//   MA_ASSIGN_OR_RETURN(fhirpath::Expression expr, fhirpath::Parse("Patient.name.given"));
//   MA_ASSIGN_OR_RETURN(fhirpath::Collection out, fhirpath::Evaluate(expr, patient, {}));
//
// Parse once, evaluate many times: an Expression is immutable and may be shared by threads
// evaluating concurrently (each Evaluate call keeps its own state). Evaluate never modifies the
// resource; items of the result point into it (or into values the result owns), so the
// resource must outlive the Collection.
//
// Types: node items carry their FHIR type ("HumanName", "code", "Patient") from the R4
// definitions (fhir/r4/definitions.h) through a ModelInfo; without a model, types are guessed
// from the JSON shape (choice suffixes such as valueQuantity, resourceType, JSON kinds).
//
// Errors:
//   Parse:    kBadRequest, "FHIRPath syntax error at position N: ..."
//   Evaluate: kUnprocessable for execution errors the specification requires (a singleton
//             expected and several items found, a string function applied to a non-string,
//             incompatible operands of a comparison, an unknown function or type, ...).

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "fhir/json/json.h"

namespace medalliance::fhir::fhirpath {

// A FHIRPath Decimal. `scale` is the number of digits after the decimal point as written
// (1.50 -> 2), or -1 for computed values whose precision is not tracked.
struct Decimal {
  long double value = 0;
  int scale = 0;
};

// Date, DateTime and Time values with their precision (partial dates are kept partial).
struct DateTimeValue {
  enum class Precision : uint8_t { kYear, kMonth, kDay, kHour, kMinute, kSecond, kMillisecond };
  int year = 0;
  int month = 1;
  int day = 1;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int millisecond = 0;
  Precision precision = Precision::kYear;  // for Time values: kHour .. kMillisecond
  bool has_timezone = false;
  int timezone_minutes = 0;  // offset from UTC when has_timezone
};

// A Quantity: a decimal value with a UCUM unit ("mg", "[lb_av]", "1") or a calendar duration
// keyword ("year", "month", "week", "day", "hour", "minute", "second", "millisecond").
struct Quantity {
  Decimal value;
  std::string unit = "1";
  bool calendar = false;
};

// One item of a FHIRPath collection: either a node of the JSON resource (or of a value the
// evaluation made, kept alive by `owner`) or a computed System value.
struct Item {
  enum class Kind : uint8_t {
    kNode,
    kBoolean,
    kInteger,
    kDecimal,
    kString,
    kDate,
    kDateTime,
    kTime,
    kQuantity
  };
  Kind kind = Kind::kNode;
  // kNode: the element's JSON value; null when a primitive has only an id/extension.
  const Json* node = nullptr;
  // kNode primitives: the "_name" sibling object (id, extension); null when absent.
  const Json* extension_node = nullptr;
  // kNode: keeps a node built during evaluation (TypeInfo, resolved values) alive.
  std::shared_ptr<const Json> owner;
  // kNode: FHIR type name ("HumanName", "code", "Patient"); empty when unknown.
  std::string_view type;
  // kNode: the model's handle for the element's definition (opaque; null when unknown).
  const void* definition = nullptr;

  bool boolean = false;
  int64_t integer = 0;
  Decimal decimal;
  std::string string;       // kString
  DateTimeValue date_time;  // kDate, kDateTime, kTime
  Quantity quantity;

  static Item Boolean(bool value);
  static Item Integer(int64_t value);
  static Item MakeDecimal(Decimal value);
  static Item String(std::string value);
  static Item Date(const DateTimeValue& value);
  static Item DateTime(const DateTimeValue& value);
  static Item Time(const DateTimeValue& value);
  static Item MakeQuantity(Quantity value);
  static Item Node(const Json* node, std::string_view type = {});

  bool IsNode() const { return kind == Kind::kNode; }
};

using Collection = std::vector<Item>;

// The FHIR type model the evaluator asks about types and elements. Implementations must be
// thread-safe for concurrent calls; returned string_views must stay valid for the program's
// lifetime (or at least as long as the evaluated resources).
class ModelInfo {
 public:
  virtual ~ModelInfo() = default;

  struct Child {
    std::string_view type;             // "HumanName", "string", "Quantity"; empty if unknown
    const void* definition = nullptr;  // handle passed back as Item::definition
    bool is_choice = false;            // the key is one type of a choice element (value[x])
    std::string_view choice_name;      // "value" for valueQuantity when is_choice
  };
  // Resolves JSON property `key` of a node of `type` whose definition handle is `definition`
  // (either may be empty/null). False when the model does not know the property.
  virtual bool FindChild(std::string_view type, const void* definition, std::string_view key,
                         Child* out) const = 0;
  // True when the model knows the children of nodes of this type/definition, so an unknown
  // property name is an error in strict mode.
  virtual bool KnowsChildren(std::string_view type, const void* definition) const = 0;
  // The definition handle for the root of a resource type ("Patient"); null if unknown.
  virtual const void* ResourceDefinition(std::string_view resource_type) const = 0;
  // True when `type` is `ancestor` or derives from it ("code" is a "string", "Age" a "Quantity").
  virtual bool IsA(std::string_view type, std::string_view ancestor) const = 0;
  // True when `name` names a FHIR type (primitive, complex or resource).
  virtual bool IsKnownType(std::string_view name) const = 0;
  // The canonical static spelling of a known type name (for choice suffixes), or empty.
  virtual std::string_view CanonicalTypeName(std::string_view name) const = 0;
};

// The R4 model backed by fhir/r4/definitions.h. Static; thread-safe.
const ModelInfo& R4ModelInfo();

struct EvalOptions {
  // Null means R4ModelInfo().
  const ModelInfo* model = nullptr;
  // Strict mode: an unknown property of a node whose type the model knows, and a choice
  // property spelled with its type (Observation.valueQuantity), are errors.
  bool strict = false;
  // resolve(): maps a reference string ("Patient/1", "#p1", absolute URL) to a resource owned
  // by the caller that outlives the result; null when unknown. Without it, resolve() finds only
  // contained resources ("#id") and otherwise returns empty.
  std::function<const Json*(std::string_view reference)> resolver;
  // %name external constants (besides %resource, %context, %rootResource, %ucum, %sct,
  // %loinc, %`vs-*`, %`ext-*`).
  std::map<std::string, Collection, std::less<>> variables;
  // trace(name [, projection]) calls this when set.
  std::function<void(std::string_view name, const Collection& values)> trace;
  // now()/today()/timeOfDay(); the system clock when unset.
  std::optional<std::chrono::system_clock::time_point> now;
  // Time zone offset (minutes) for now()/today(); UTC by default.
  int timezone_minutes = 0;
  // %rootResource when the evaluated resource is itself contained; defaults to the resource.
  const Json* root_resource = nullptr;
};

namespace internal {
struct Node;
}  // namespace internal

// A parsed expression. Cheap to copy (shares the immutable syntax tree).
class Expression {
 public:
  Expression() = default;
  const std::string& GetText() const { return text_; }
  const internal::Node* GetRoot() const { return root_.get(); }

 private:
  friend core::Result<Expression> Parse(std::string_view text);
  std::string text_;
  std::shared_ptr<const internal::Node> root_;
};

// Parses a FHIRPath expression. Error kBadRequest with the position of the first syntax error.
core::Result<Expression> Parse(std::string_view text);

// Evaluates `expression` with `resource` as %context, %resource and the initial focus.
core::Result<Collection> Evaluate(const Expression& expression, const Json& resource,
                                  const EvalOptions& options = {});

// Evaluates with an explicit initial focus (e.g. an element inside `resource`).
core::Result<Collection> EvaluateOn(const Expression& expression, const Collection& focus,
                                    const Json& resource, const EvalOptions& options = {});

// Parse + Evaluate, for one-off use.
core::Result<Collection> Evaluate(std::string_view expression, const Json& resource,
                                  const EvalOptions& options = {});

// FHIRPath text of a value: 'Peter', 1.50, @2020-01-01, 4 'mg', true; nodes as JSON text.
std::string ToDisplayString(const Item& item);
// toString() semantics: a System value's string form (no quotes, no @); empty when none.
std::optional<std::string> ToStringValue(const Item& item);
// The item as a System value (a primitive node becomes Boolean/Integer/Decimal/String/Date...;
// a Quantity-typed node becomes a Quantity). Other nodes are returned unchanged.
Item ToSystemValue(const Item& item);
// The collection as a boolean per the spec's singleton evaluation: {} -> nullopt,
// {true}/{false} -> value, any other single item -> true; error for several items.
core::Result<std::optional<bool>> ToBoolean(const Collection& collection);

}  // namespace medalliance::fhir::fhirpath
