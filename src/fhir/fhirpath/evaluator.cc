// FHIRPath evaluation: paths, operators and the function library.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <regex>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>

#include "core/base64.h"
#include "fhir/fhirpath/fhirpath.h"
#include "fhir/fhirpath/internal/ast.h"
#include "fhir/fhirpath/internal/values.h"
#include "fhir/patch/json_patch.h"

namespace medalliance::fhir::fhirpath {

using core::Error;
using core::Result;
using internal::Node;
using Kind = Item::Kind;
using Precision = DateTimeValue::Precision;

Item Item::Boolean(bool value) {
  Item item;
  item.kind = Kind::kBoolean;
  item.boolean = value;
  return item;
}
Item Item::Integer(int64_t value) {
  Item item;
  item.kind = Kind::kInteger;
  item.integer = value;
  return item;
}
Item Item::MakeDecimal(Decimal value) {
  Item item;
  item.kind = Kind::kDecimal;
  item.decimal = value;
  return item;
}
Item Item::String(std::string value) {
  Item item;
  item.kind = Kind::kString;
  item.string = std::move(value);
  return item;
}
Item Item::Date(const DateTimeValue& value) {
  Item item;
  item.kind = Kind::kDate;
  item.date_time = value;
  return item;
}
Item Item::DateTime(const DateTimeValue& value) {
  Item item;
  item.kind = Kind::kDateTime;
  item.date_time = value;
  return item;
}
Item Item::Time(const DateTimeValue& value) {
  Item item;
  item.kind = Kind::kTime;
  item.date_time = value;
  return item;
}
Item Item::MakeQuantity(Quantity value) {
  Item item;
  item.kind = Kind::kQuantity;
  item.quantity = std::move(value);
  return item;
}
Item Item::Node(const Json* node, std::string_view type) {
  Item item;
  item.kind = Kind::kNode;
  item.node = node;
  item.type = type;
  return item;
}

namespace {

Error ExecError(std::string message) {
  return Error::Unprocessable("FHIRPath evaluation error: " + std::move(message));
}

bool IsPrimitiveJson(const Json* node) {
  return node != nullptr && (node->IsBool() || node->IsNumber() || node->IsString());
}

bool IsNumeric(const Item& item) {
  return item.kind == Kind::kInteger || item.kind == Kind::kDecimal;
}
long double NumberOf(const Item& item) {
  return item.kind == Kind::kInteger ? static_cast<long double>(item.integer) : item.decimal.value;
}
int ScaleOf(const Item& item) {
  return item.kind == Kind::kInteger ? 0 : item.decimal.scale;
}

bool NumbersEqual(long double a, long double b) {
  long double scale = std::max({1.0L, std::fabs(a), std::fabs(b)});
  return std::fabs(a - b) <= 1e-16L * scale;
}

std::string_view SystemTypeName(Kind kind) {
  switch (kind) {
    case Kind::kBoolean:
      return "Boolean";
    case Kind::kInteger:
      return "Integer";
    case Kind::kDecimal:
      return "Decimal";
    case Kind::kString:
      return "String";
    case Kind::kDate:
      return "Date";
    case Kind::kDateTime:
      return "DateTime";
    case Kind::kTime:
      return "Time";
    case Kind::kQuantity:
      return "Quantity";
    case Kind::kNode:
      return "";
  }
  return "";
}

bool IsSystemTypeName(std::string_view name) {
  static const char* kNames[] = {"Boolean",  "Integer", "Decimal",  "String", "Date",
                                 "DateTime", "Time",    "Quantity", "Any"};
  for (const char* n : kNames) {
    if (name == n)
      return true;
  }
  return false;
}

// The FHIR type of a node, guessed from JSON when the model gave none.
std::string_view NodeType(const Item& item) {
  if (!item.type.empty())
    return item.type;
  const Json* node = item.node;
  if (node == nullptr)
    return {};
  if (node->IsBool())
    return "boolean";
  if (node->IsString())
    return "string";
  if (node->IsNumber()) {
    return node->GetString().find_first_of(".eE") == std::string::npos ? "integer" : "decimal";
  }
  if (node->IsObject()) {
    const Json* resource_type = node->Find("resourceType");
    if (resource_type != nullptr && resource_type->IsString())
      return resource_type->GetString();
  }
  return {};
}

bool IsIntegerType(std::string_view t) {
  return t == "integer" || t == "positiveInt" || t == "unsignedInt" || t == "integer64";
}
bool IsQuantityType(std::string_view t) {
  return t == "Quantity" || t == "Age" || t == "Duration" || t == "Distance" || t == "Count" ||
         t == "SimpleQuantity" || t == "MoneyQuantity";
}

std::string LowerFirst(std::string_view s) {
  std::string out(s);
  if (!out.empty())
    out[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(out[0])));
  return out;
}

// Fallback type names for choice suffixes when the model does not know the parent.
std::string_view StaticTypeName(std::string_view name) {
  static const char* kNames[] = {"boolean",
                                 "integer",
                                 "string",
                                 "decimal",
                                 "uri",
                                 "url",
                                 "canonical",
                                 "base64Binary",
                                 "instant",
                                 "date",
                                 "dateTime",
                                 "time",
                                 "code",
                                 "oid",
                                 "id",
                                 "markdown",
                                 "unsignedInt",
                                 "positiveInt",
                                 "uuid",
                                 "Address",
                                 "Age",
                                 "Annotation",
                                 "Attachment",
                                 "CodeableConcept",
                                 "Coding",
                                 "ContactPoint",
                                 "Count",
                                 "Distance",
                                 "Duration",
                                 "HumanName",
                                 "Identifier",
                                 "Money",
                                 "Period",
                                 "Quantity",
                                 "Range",
                                 "Ratio",
                                 "Reference",
                                 "SampledData",
                                 "Signature",
                                 "Timing",
                                 "ContactDetail",
                                 "Contributor",
                                 "DataRequirement",
                                 "Expression",
                                 "ParameterDefinition",
                                 "RelatedArtifact",
                                 "TriggerDefinition",
                                 "UsageContext",
                                 "Dosage",
                                 "Meta",
                                 "Extension"};
  for (const char* n : kNames) {
    if (name == n)
      return n;
  }
  return {};
}

}  // namespace

Item ToSystemValue(const Item& item) {
  if (item.kind != Kind::kNode || item.node == nullptr)
    return item;
  const Json& node = *item.node;
  std::string_view type = item.type;
  if (node.IsBool())
    return Item::Boolean(node.GetBool());
  if (node.IsNumber()) {
    const std::string& text = node.GetString();
    bool integral = text.find_first_of(".eE") == std::string::npos;
    if ((IsIntegerType(type) || (type.empty() && integral)) && integral) {
      if (auto value = internal::ParseInteger(text))
        return Item::Integer(*value);
    }
    if (auto value = internal::ParseDecimal(text))
      return Item::MakeDecimal(*value);
    return Item::MakeDecimal(Decimal{std::strtold(text.c_str(), nullptr), -1});
  }
  if (node.IsString()) {
    const std::string& text = node.GetString();
    if (type == "date") {
      if (auto value = internal::ParseDate(text))
        return Item::Date(*value);
    } else if (type == "dateTime" || type == "instant") {
      if (auto value = internal::ParseDateTime(text, false)) {
        return text.size() <= 10 && text.find('T') == std::string::npos ? Item::Date(*value)
                                                                        : Item::DateTime(*value);
      }
    } else if (type == "time") {
      if (auto value = internal::ParseTime(text))
        return Item::Time(*value);
    }
    return Item::String(text);
  }
  if (node.IsObject() && IsQuantityType(type)) {
    const Json* value = node.Find("value");
    if (value == nullptr || !value->IsNumber())
      return item;
    Quantity quantity;
    auto decimal = internal::ParseDecimal(value->GetString());
    quantity.value =
        decimal ? *decimal : Decimal{std::strtold(value->GetString().c_str(), nullptr), -1};
    std::string_view code = node.GetStringMember("code");
    std::string_view unit = node.GetStringMember("unit");
    quantity.unit = std::string(!code.empty() ? code : unit);
    if (quantity.unit.empty())
      quantity.unit = "1";
    return Item::MakeQuantity(std::move(quantity));
  }
  return item;
}

std::optional<std::string> ToStringValue(const Item& raw) {
  Item item = ToSystemValue(raw);
  switch (item.kind) {
    case Kind::kBoolean:
      return std::string(item.boolean ? "true" : "false");
    case Kind::kInteger:
      return std::to_string(item.integer);
    case Kind::kDecimal:
      return internal::FormatDecimal(item.decimal);
    case Kind::kString:
      return item.string;
    case Kind::kDate:
      return internal::FormatDate(item.date_time);
    case Kind::kDateTime:
      return internal::FormatDateTime(item.date_time);
    case Kind::kTime:
      return internal::FormatTime(item.date_time);
    case Kind::kQuantity: {
      std::string out = internal::FormatDecimal(item.quantity.value);
      if (item.quantity.calendar)
        return out + " " + item.quantity.unit;
      return out + " '" + item.quantity.unit + "'";
    }
    case Kind::kNode:
      return std::nullopt;
  }
  return std::nullopt;
}

std::string ToDisplayString(const Item& raw) {
  Item item = ToSystemValue(raw);
  switch (item.kind) {
    case Kind::kString:
      return "'" + item.string + "'";
    case Kind::kDate:
    case Kind::kDateTime:
      return "@" + *ToStringValue(item);
    case Kind::kTime:
      return "@T" + *ToStringValue(item);
    case Kind::kNode:
      return item.node == nullptr ? "null" : WriteJson(*item.node);
    default:
      return *ToStringValue(item);
  }
}

Result<std::optional<bool>> ToBoolean(const Collection& collection) {
  if (collection.empty())
    return std::optional<bool>();
  if (collection.size() > 1) {
    return ExecError("expected a single boolean, found " + std::to_string(collection.size()) +
                     " items");
  }
  Item item = ToSystemValue(collection[0]);
  if (item.kind == Kind::kBoolean)
    return std::optional<bool>(item.boolean);
  return std::optional<bool>(true);
}

namespace {

struct Frame {
  const Item* this_item = nullptr;
  const Collection* this_collection = nullptr;  // [$this] for argument evaluation
  int64_t index = 0;
  const Collection* total = nullptr;
};

std::optional<bool> ItemsEqual(const Item& a_raw, const Item& b_raw);

std::optional<Item> StringToTemporal(const std::string& text, Kind kind) {
  if (kind == Kind::kDate) {
    if (auto value = internal::ParseDate(text))
      return Item::Date(*value);
    if (auto value = internal::ParseDateTime(text, false))
      return Item::DateTime(*value);
  } else if (kind == Kind::kDateTime) {
    if (auto value = internal::ParseDateTime(text, false)) {
      return text.find('T') == std::string::npos ? Item::Date(*value) : Item::DateTime(*value);
    }
  } else if (kind == Kind::kTime) {
    if (auto value = internal::ParseTime(text))
      return Item::Time(*value);
  }
  return std::nullopt;
}

bool IsDateKind(Kind k) {
  return k == Kind::kDate || k == Kind::kDateTime;
}

// Brings a String and a temporal value to the same kind (untyped JSON dates).
void AlignTemporal(Item& a, Item& b) {
  if (a.kind == Kind::kString && (IsDateKind(b.kind) || b.kind == Kind::kTime)) {
    if (auto converted = StringToTemporal(a.string, b.kind))
      a = *converted;
  } else if (b.kind == Kind::kString && (IsDateKind(a.kind) || a.kind == Kind::kTime)) {
    if (auto converted = StringToTemporal(b.string, a.kind))
      b = *converted;
  }
}

std::optional<int> CompareQuantities(const Quantity& a, const Quantity& b) {
  if (a.unit == b.unit && a.calendar == b.calendar) {
    long double x = a.value.value;
    long double y = b.value.value;
    if (NumbersEqual(x, y))
      return 0;
    return x < y ? -1 : 1;
  }
  auto ca = internal::Canonicalize(a);
  auto cb = internal::Canonicalize(b);
  if (!ca || !cb || !internal::SameDimensions(*ca, *cb))
    return std::nullopt;
  if (NumbersEqual(ca->value, cb->value))
    return 0;
  return ca->value < cb->value ? -1 : 1;
}

std::optional<bool> ItemsEqual(const Item& a_raw, const Item& b_raw) {
  Item a = ToSystemValue(a_raw);
  Item b = ToSystemValue(b_raw);
  if (a.kind == Kind::kNode || b.kind == Kind::kNode) {
    if (a.kind != b.kind)
      return false;
    if (a.node == nullptr || b.node == nullptr)
      return a.node == b.node;
    return JsonValuesEqual(*a.node, *b.node);
  }
  AlignTemporal(a, b);
  if (IsNumeric(a) && IsNumeric(b))
    return NumbersEqual(NumberOf(a), NumberOf(b));
  if (IsDateKind(a.kind) && IsDateKind(b.kind)) {
    auto c = internal::CompareDateTimes(a.date_time, b.date_time, false);
    if (!c)
      return std::nullopt;
    return *c == 0;
  }
  if (a.kind != b.kind)
    return false;
  switch (a.kind) {
    case Kind::kBoolean:
      return a.boolean == b.boolean;
    case Kind::kString:
      return a.string == b.string;
    case Kind::kTime: {
      auto c = internal::CompareDateTimes(a.date_time, b.date_time, true);
      if (!c)
        return std::nullopt;
      return *c == 0;
    }
    case Kind::kQuantity: {
      auto c = CompareQuantities(a.quantity, b.quantity);
      if (!c)
        return std::nullopt;
      return *c == 0;
    }
    default:
      return false;
  }
}

std::string NormalizeForEquivalence(const std::string& s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty())
      out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

bool ItemsEquivalent(const Item& a_raw, const Item& b_raw) {
  Item a = ToSystemValue(a_raw);
  Item b = ToSystemValue(b_raw);
  if (a.kind == Kind::kNode || b.kind == Kind::kNode) {
    if (a.kind != b.kind || a.node == nullptr || b.node == nullptr)
      return false;
    return JsonValuesEqual(*a.node, *b.node);
  }
  AlignTemporal(a, b);
  if (IsNumeric(a) && IsNumeric(b)) {
    int sa = ScaleOf(a) < 0 ? 8 : ScaleOf(a);
    int sb = ScaleOf(b) < 0 ? 8 : ScaleOf(b);
    int digits = std::min(sa, sb);
    return NumbersEqual(internal::RoundTo(NumberOf(a), digits),
                        internal::RoundTo(NumberOf(b), digits));
  }
  if (IsDateKind(a.kind) && IsDateKind(b.kind)) {
    auto c = internal::CompareDateTimes(a.date_time, b.date_time, false);
    return c.has_value() && *c == 0;
  }
  if (a.kind != b.kind)
    return false;
  switch (a.kind) {
    case Kind::kBoolean:
      return a.boolean == b.boolean;
    case Kind::kString:
      return NormalizeForEquivalence(a.string) == NormalizeForEquivalence(b.string);
    case Kind::kTime: {
      auto c = internal::CompareDateTimes(a.date_time, b.date_time, true);
      return c.has_value() && *c == 0;
    }
    case Kind::kQuantity: {
      auto ca = internal::Canonicalize(a.quantity);
      auto cb = internal::Canonicalize(b.quantity);
      if (a.quantity.unit == b.quantity.unit && a.quantity.calendar == b.quantity.calendar) {
        ca = internal::CanonicalQuantity{a.quantity.value.value, {}};
        cb = internal::CanonicalQuantity{b.quantity.value.value, {}};
      }
      if (!ca || !cb || !internal::SameDimensions(*ca, *cb))
        return false;
      // Compare in a's unit at the lower precision of the two.
      long double unit_a = a.quantity.value.value == 0 ? 1 : ca->value / a.quantity.value.value;
      long double x = a.quantity.value.value;
      long double y = unit_a == 0 ? 0 : cb->value / unit_a;
      int digits =
          std::min(std::max(a.quantity.value.scale, 0), std::max(b.quantity.value.scale, 0));
      return NumbersEqual(internal::RoundTo(x, digits), internal::RoundTo(y, digits));
    }
    default:
      return false;
  }
}

bool Contains(const Collection& collection, const Item& item) {
  for (const Item& other : collection) {
    auto equal = ItemsEqual(other, item);
    if (equal.has_value() && *equal)
      return true;
  }
  return false;
}

void AppendDistinct(Collection& out, const Item& item) {
  if (!Contains(out, item))
    out.push_back(item);
}

Result<std::optional<int>> CompareItems(const Item& a_raw, const Item& b_raw) {
  Item a = ToSystemValue(a_raw);
  Item b = ToSystemValue(b_raw);
  AlignTemporal(a, b);
  if (IsNumeric(a) && IsNumeric(b)) {
    long double x = NumberOf(a);
    long double y = NumberOf(b);
    if (NumbersEqual(x, y))
      return std::optional<int>(0);
    return std::optional<int>(x < y ? -1 : 1);
  }
  if (a.kind == Kind::kString && b.kind == Kind::kString) {
    int c = a.string.compare(b.string);
    return std::optional<int>(c < 0 ? -1 : c > 0 ? 1 : 0);
  }
  if (IsDateKind(a.kind) && IsDateKind(b.kind)) {
    return internal::CompareDateTimes(a.date_time, b.date_time, false);
  }
  if (a.kind == Kind::kTime && b.kind == Kind::kTime) {
    return internal::CompareDateTimes(a.date_time, b.date_time, true);
  }
  if (a.kind == Kind::kQuantity && b.kind == Kind::kQuantity) {
    auto c = CompareQuantities(a.quantity, b.quantity);
    if (!c && (internal::Canonicalize(a.quantity) && internal::Canonicalize(b.quantity))) {
      return ExecError("cannot compare quantities with units '" + a.quantity.unit + "' and '" +
                       b.quantity.unit + "'");
    }
    return c;
  }
  return ExecError("cannot compare " + ToDisplayString(a_raw) + " with " + ToDisplayString(b_raw));
}

// Converts a string with a regex to ECMAScript where '.' also matches newlines.
std::string SingleLineRegex(const std::string& pattern) {
  std::string out;
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '\\' && i + 1 < pattern.size()) {
      out.push_back(c);
      out.push_back(pattern[++i]);
      continue;
    }
    if (c == '[')
      in_class = true;
    if (c == ']')
      in_class = false;
    if (c == '.' && !in_class) {
      out += "[\\s\\S]";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string_view CalendarFromUcum(std::string_view unit) {
  if (unit == "d")
    return "day";
  if (unit == "wk")
    return "week";
  if (unit == "h")
    return "hour";
  if (unit == "min")
    return "minute";
  if (unit == "s")
    return "second";
  if (unit == "ms")
    return "millisecond";
  return {};
}

class Evaluator {
 public:
  Evaluator(const EvalOptions& options, const Json& resource, const Json& root_resource,
            const Collection& context)
      : options_(options),
        model_(options.model != nullptr ? *options.model : R4ModelInfo()),
        resource_(resource),
        root_resource_(root_resource),
        context_(context) {}

  Item MakeResourceItem(const Json& json) const {
    Item item = Item::Node(&json);
    if (json.IsObject()) {
      std::string_view resource_type = json.GetStringMember("resourceType");
      if (!resource_type.empty()) {
        std::string_view canonical = model_.CanonicalTypeName(resource_type);
        item.type = canonical.empty() ? resource_type : canonical;
        item.definition = model_.ResourceDefinition(resource_type);
      }
    }
    return item;
  }

  Result<Collection> Eval(const Node& node, const Collection& focus, const Frame& frame) {
    switch (node.kind) {
      case Node::Kind::kLiteral:
        return Collection{node.literal};
      case Node::Kind::kEmpty:
        return Collection{};
      case Node::Kind::kThis:
        if (frame.this_item != nullptr)
          return Collection{*frame.this_item};
        return focus;
      case Node::Kind::kIndex:
        return Collection{Item::Integer(frame.index)};
      case Node::Kind::kTotal:
        if (frame.total != nullptr)
          return *frame.total;
        return Collection{};
      case Node::Kind::kVariable:
        return Variable(node);
      case Node::Kind::kMember:
        return Member(node, focus, frame);
      case Node::Kind::kIndexer: {
        MA_ASSIGN_OR_RETURN(Collection input, Eval(*node.children[0], focus, frame));
        MA_ASSIGN_OR_RETURN(Collection index, Eval(*node.children[1], focus, frame));
        if (index.empty())
          return Collection{};
        Item i = ToSystemValue(index[0]);
        if (index.size() != 1 || i.kind != Kind::kInteger) {
          return ExecError("indexer must be a single integer");
        }
        if (i.integer < 0 || static_cast<size_t>(i.integer) >= input.size())
          return Collection{};
        return Collection{input[static_cast<size_t>(i.integer)]};
      }
      case Node::Kind::kUnary: {
        MA_ASSIGN_OR_RETURN(Collection operand, Eval(*node.children[0], focus, frame));
        if (operand.empty())
          return Collection{};
        if (operand.size() > 1)
          return ExecError("unary operator on a collection");
        Item value = ToSystemValue(operand[0]);
        if (node.name == "+") {
          if (!IsNumeric(value) && value.kind != Kind::kQuantity) {
            return ExecError("unary + needs a number");
          }
          return Collection{value};
        }
        if (value.kind == Kind::kInteger)
          return Collection{Item::Integer(-value.integer)};
        if (value.kind == Kind::kDecimal) {
          value.decimal.value = 0.0L - value.decimal.value;  // -(0.0) is 0.0, not -0.0
          return Collection{value};
        }
        if (value.kind == Kind::kQuantity) {
          value.quantity.value.value = -value.quantity.value.value;
          return Collection{value};
        }
        return ExecError("unary - needs a number or quantity");
      }
      case Node::Kind::kBinary:
        return Binary(node, focus, frame);
      case Node::Kind::kTypeOp: {
        MA_ASSIGN_OR_RETURN(Collection input, Eval(*node.children[0], focus, frame));
        if (node.name == "is")
          return IsType(input, node.type_name);
        return AsType(input, node.type_name, false);
      }
      case Node::Kind::kFunction:
        return Function(node, focus, frame);
    }
    return ExecError("unknown node");
  }

 private:
  // Paths -----------------------------------------------------------------------------------

  Result<Collection> Variable(const Node& node) {
    const std::string& name = node.name;
    if (name == "resource")
      return Collection{MakeResourceItem(resource_)};
    if (name == "rootResource")
      return Collection{MakeResourceItem(root_resource_)};
    if (name == "context")
      return context_;
    if (name == "ucum")
      return Collection{Item::String("http://unitsofmeasure.org")};
    if (name == "sct")
      return Collection{Item::String("http://snomed.info/sct")};
    if (name == "loinc")
      return Collection{Item::String("http://loinc.org")};
    auto it = options_.variables.find(name);
    if (it != options_.variables.end())
      return it->second;
    if (name.rfind("vs-", 0) == 0) {
      return Collection{Item::String("http://hl7.org/fhir/ValueSet/" + name.substr(3))};
    }
    if (name.rfind("ext-", 0) == 0) {
      return Collection{Item::String("http://hl7.org/fhir/StructureDefinition/" + name.substr(4))};
    }
    return ExecError("unknown external constant %" + name);
  }

  Item ChildItem(const Json* value, const Json* extension, const ModelInfo::Child& info) const {
    if (value != nullptr && value->IsObject()) {
      std::string_view resource_type = value->GetStringMember("resourceType");
      if (!resource_type.empty())
        return MakeResourceItem(*value);
    }
    Item item = Item::Node(value, info.type);
    item.extension_node = extension;
    item.definition = info.definition;
    return item;
  }

  void AppendChildren(const Json* value, const Json* extension, const ModelInfo::Child& info,
                      const Item& parent, Collection& out) const {
    if (value != nullptr && value->IsNull())
      value = nullptr;
    if ((value != nullptr && value->IsArray()) || (extension != nullptr && extension->IsArray())) {
      size_t count =
          std::max(value != nullptr && value->IsArray() ? value->Items().size() : 0,
                   extension != nullptr && extension->IsArray() ? extension->Items().size() : 0);
      for (size_t i = 0; i < count; ++i) {
        const Json* v = value != nullptr && value->IsArray() && i < value->Items().size()
                            ? &value->Items()[i]
                            : nullptr;
        const Json* e =
            extension != nullptr && extension->IsArray() && i < extension->Items().size()
                ? &extension->Items()[i]
                : nullptr;
        if (v != nullptr && v->IsNull())
          v = nullptr;
        if (e != nullptr && e->IsNull())
          e = nullptr;
        if (v == nullptr && e == nullptr)
          continue;
        Item item = ChildItem(v, e, info);
        item.owner = parent.owner;
        out.push_back(std::move(item));
      }
      return;
    }
    if (value == nullptr && extension == nullptr)
      return;
    Item item = ChildItem(value, extension, info);
    item.owner = parent.owner;
    out.push_back(std::move(item));
  }

  // Children named `name` (a FHIRPath name: "value" finds valueQuantity).
  core::Status ChildrenNamed(const Item& parent, std::string_view name, Collection& out) const {
    if (parent.kind != Kind::kNode)
      return core::Ok{};
    const Json* object = parent.node;
    if (object == nullptr || !object->IsObject()) {
      // A primitive's id and extension live in its "_name" sibling.
      if (parent.extension_node != nullptr && parent.extension_node->IsObject() &&
          (name == "extension" || name == "id")) {
        ModelInfo::Child info;
        info.type = name == "extension" ? "Extension" : "string";
        AppendChildren(parent.extension_node->Find(name), nullptr, info, parent, out);
      }
      return core::Ok{};
    }
    std::string_view parent_type = parent.type;
    const Json* value = object->Find(name);
    std::string underscored = "_" + std::string(name);
    const Json* extension = object->Find(underscored);
    if (value != nullptr || extension != nullptr) {
      ModelInfo::Child info;
      bool known = model_.FindChild(parent_type, parent.definition, name, &info);
      if (known && info.is_choice && options_.strict) {
        return ExecError("choice element '" + std::string(name) + "' must be accessed as '" +
                         std::string(info.choice_name) + "'");
      }
      if (!known && options_.strict && model_.KnowsChildren(parent_type, parent.definition)) {
        return ExecError("unknown element '" + std::string(name) + "' of " +
                         std::string(parent_type));
      }
      AppendChildren(value, extension, info, parent, out);
      return core::Ok{};
    }
    // Choice elements: name + TypeSuffix.
    bool found = false;
    for (const auto& [key, member] : object->Members()) {
      if (key.size() <= name.size() || key.compare(0, name.size(), name) != 0)
        continue;
      char next = key[name.size()];
      if (!std::isupper(static_cast<unsigned char>(next)))
        continue;
      std::string_view suffix = std::string_view(key).substr(name.size());
      ModelInfo::Child info;
      if (model_.FindChild(parent_type, parent.definition, key, &info)) {
        if (!info.is_choice || info.choice_name != name)
          continue;
      } else {
        std::string_view type = StaticTypeName(suffix);
        if (type.empty())
          type = StaticTypeName(LowerFirst(suffix));
        if (type.empty())
          type = model_.CanonicalTypeName(suffix);
        if (type.empty())
          type = model_.CanonicalTypeName(LowerFirst(suffix));
        if (type.empty())
          continue;
        info.type = type;
      }
      const Json* choice_extension = object->Find("_" + key);
      AppendChildren(&member, choice_extension, info, parent, out);
      found = true;
    }
    if (!found && options_.strict && model_.KnowsChildren(parent_type, parent.definition)) {
      ModelInfo::Child info;
      if (!model_.FindChild(parent_type, parent.definition, name, &info)) {
        return ExecError("unknown element '" + std::string(name) + "' of " +
                         std::string(parent_type));
      }
    }
    return core::Ok{};
  }

  Result<Collection> Member(const Node& node, const Collection& focus, const Frame& frame) {
    Collection input;
    if (!node.children.empty()) {
      MA_ASSIGN_OR_RETURN(input, Eval(*node.children[0], focus, frame));
    } else {
      input = focus;
      // A leading type name (Patient.name) selects the focus items of that type.
      if (!node.name.empty() && std::isupper(static_cast<unsigned char>(node.name[0]))) {
        Collection typed;
        bool any_child = false;
        for (const Item& item : input) {
          std::string_view type = NodeType(item);
          if (item.kind == Kind::kNode && !type.empty() && model_.IsA(type, node.name)) {
            typed.push_back(item);
          } else if (item.kind == Kind::kNode && item.node != nullptr && item.node->IsObject() &&
                     item.node->Find(node.name) != nullptr) {
            any_child = true;
          }
        }
        if (!typed.empty() || !any_child) {
          if (typed.empty() && options_.strict) {
            return ExecError("the context is not of type " + node.name);
          }
          return typed;
        }
      }
    }
    Collection out;
    for (const Item& item : input) {
      MA_RETURN_IF_ERROR(ChildrenNamed(item, node.name, out));
    }
    return out;
  }

  void AllChildren(const Item& parent, Collection& out) const {
    if (parent.kind != Kind::kNode || parent.node == nullptr || !parent.node->IsObject())
      return;
    for (const auto& [key, value] : parent.node->Members()) {
      if (key == "resourceType")
        continue;
      if (!key.empty() && key[0] == '_') {
        // Only when there is no value sibling (extension-only primitives).
        if (parent.node->Find(std::string_view(key).substr(1)) != nullptr)
          continue;
        ModelInfo::Child info;
        model_.FindChild(parent.type, parent.definition, std::string_view(key).substr(1), &info);
        AppendChildren(nullptr, &value, info, parent, out);
        continue;
      }
      ModelInfo::Child info;
      if (!model_.FindChild(parent.type, parent.definition, key, &info)) {
        info = ModelInfo::Child{};
      }
      AppendChildren(&value, parent.node->Find("_" + key), info, parent, out);
    }
  }

  // Types ----------------------------------------------------------------------------------

  // Splits "FHIR.Patient" / "System.Integer" / "Patient"; error for unknown types.
  Result<std::pair<std::string, std::string>> SplitType(std::string_view spec) const {
    std::string ns;
    std::string name(spec);
    size_t dot = spec.find('.');
    if (dot != std::string_view::npos) {
      ns = std::string(spec.substr(0, dot));
      name = std::string(spec.substr(dot + 1));
    }
    bool known = (ns != "FHIR" && IsSystemTypeName(name)) ||
                 (ns != "System" && (model_.IsKnownType(name) || !StaticTypeName(name).empty()));
    if (ns == "System" && !known)
      known = true;  // System.Patient: a valid, never-matching type
    if (!known)
      return ExecError("unknown type '" + std::string(spec) + "'");
    return std::make_pair(ns, name);
  }

  bool Matches(const Item& item, const std::string& ns, const std::string& name, bool exact) const {
    if (item.kind != Kind::kNode) {
      if (ns == "FHIR")
        return false;
      return SystemTypeName(item.kind) == name || name == "Any";
    }
    if (ns == "System")
      return false;
    std::string_view type = NodeType(item);
    if (type.empty())
      return false;
    if (type == name)
      return true;
    if (exact) {
      // Exact for primitives (code is not cast to string); complex types may be derived.
      bool primitive = !type.empty() && std::islower(static_cast<unsigned char>(type[0]));
      if (primitive)
        return false;
    }
    return model_.IsA(type, name);
  }

  Result<Collection> IsType(const Collection& input, std::string_view spec) const {
    if (input.empty())
      return Collection{};
    if (input.size() > 1)
      return ExecError("'is' needs a single item");
    MA_ASSIGN_OR_RETURN(auto type, SplitType(spec));
    return Collection{Item::Boolean(Matches(input[0], type.first, type.second, false))};
  }

  Result<Collection> AsType(const Collection& input, std::string_view spec, bool filter) const {
    if (input.empty())
      return Collection{};
    if (!filter && input.size() > 1)
      return ExecError("'as' needs a single item");
    MA_ASSIGN_OR_RETURN(auto type, SplitType(spec));
    Collection out;
    for (const Item& item : input) {
      if (Matches(item, type.first, type.second, true))
        out.push_back(item);
    }
    return out;
  }

  // Operators -------------------------------------------------------------------------------

  Result<Collection> Binary(const Node& node, const Collection& focus, const Frame& frame) {
    const std::string& op = node.name;
    if (op == "and" || op == "or" || op == "xor" || op == "implies") {
      MA_ASSIGN_OR_RETURN(Collection left_c, Eval(*node.children[0], focus, frame));
      MA_ASSIGN_OR_RETURN(std::optional<bool> left, ToBoolean(left_c));
      if (op == "and" && left.has_value() && !*left)
        return Collection{Item::Boolean(false)};
      if (op == "or" && left.has_value() && *left)
        return Collection{Item::Boolean(true)};
      if (op == "implies" && left.has_value() && !*left)
        return Collection{Item::Boolean(true)};
      MA_ASSIGN_OR_RETURN(Collection right_c, Eval(*node.children[1], focus, frame));
      MA_ASSIGN_OR_RETURN(std::optional<bool> right, ToBoolean(right_c));
      if (op == "and") {
        if (right.has_value() && !*right)
          return Collection{Item::Boolean(false)};
        if (left.has_value() && right.has_value())
          return Collection{Item::Boolean(true)};
        return Collection{};
      }
      if (op == "or") {
        if (right.has_value() && *right)
          return Collection{Item::Boolean(true)};
        if (left.has_value() && right.has_value())
          return Collection{Item::Boolean(false)};
        return Collection{};
      }
      if (op == "xor") {
        if (!left.has_value() || !right.has_value())
          return Collection{};
        return Collection{Item::Boolean(*left != *right)};
      }
      // implies, left is true or empty
      if (right.has_value() && *right)
        return Collection{Item::Boolean(true)};
      if (left.has_value() && right.has_value())
        return Collection{Item::Boolean(false)};
      return Collection{};
    }
    MA_ASSIGN_OR_RETURN(Collection left, Eval(*node.children[0], focus, frame));
    MA_ASSIGN_OR_RETURN(Collection right, Eval(*node.children[1], focus, frame));
    if (op == "|") {
      Collection out;
      for (const Item& item : left) AppendDistinct(out, item);
      for (const Item& item : right) AppendDistinct(out, item);
      return out;
    }
    if (op == "=" || op == "!=") {
      if (left.empty() || right.empty())
        return Collection{};
      std::optional<bool> equal = true;
      if (left.size() != right.size()) {
        equal = false;
      } else {
        for (size_t i = 0; i < left.size(); ++i) {
          auto e = ItemsEqual(left[i], right[i]);
          if (e.has_value() && !*e) {
            equal = false;
            break;
          }
          if (!e.has_value())
            equal = std::nullopt;
        }
      }
      if (!equal.has_value())
        return Collection{};
      return Collection{Item::Boolean(op == "=" ? *equal : !*equal)};
    }
    if (op == "~" || op == "!~") {
      bool equivalent = true;
      if (left.size() != right.size()) {
        equivalent = false;
      } else {
        std::vector<bool> used(right.size(), false);
        for (const Item& a : left) {
          bool matched = false;
          for (size_t j = 0; j < right.size(); ++j) {
            if (!used[j] && ItemsEquivalent(a, right[j])) {
              used[j] = true;
              matched = true;
              break;
            }
          }
          if (!matched) {
            equivalent = false;
            break;
          }
        }
      }
      return Collection{Item::Boolean(op == "~" ? equivalent : !equivalent)};
    }
    if (op == "in" || op == "contains") {
      const Collection& element = op == "in" ? left : right;
      const Collection& container = op == "in" ? right : left;
      if (element.empty())
        return Collection{};
      if (element.size() > 1)
        return ExecError("'" + op + "' needs a single item");
      return Collection{Item::Boolean(Contains(container, element[0]))};
    }
    if (op == "&") {
      if (left.size() > 1 || right.size() > 1)
        return ExecError("'&' needs single items");
      std::string out;
      for (const Collection* side : {&left, &right}) {
        if (side->empty())
          continue;
        auto text = ToStringValue((*side)[0]);
        if (!text)
          return ExecError("'&' needs strings");
        out += *text;
      }
      return Collection{Item::String(std::move(out))};
    }
    if (left.empty() || right.empty()) {
      if (left.size() > 1 || right.size() > 1)
        return ExecError("operator on a collection");
      return Collection{};
    }
    if (left.size() > 1 || right.size() > 1) {
      return ExecError("'" + op + "' needs single items");
    }
    if (op == "<" || op == ">" || op == "<=" || op == ">=") {
      MA_ASSIGN_OR_RETURN(std::optional<int> c, CompareItems(left[0], right[0]));
      if (!c.has_value())
        return Collection{};
      bool result = op == "<" ? *c < 0 : op == ">" ? *c > 0 : op == "<=" ? *c <= 0 : *c >= 0;
      return Collection{Item::Boolean(result)};
    }
    return Arithmetic(op, ToSystemValue(left[0]), ToSystemValue(right[0]));
  }

  Result<Collection> DateArithmetic(const std::string& op, Item date, const Quantity& quantity) {
    std::string_view unit = quantity.unit;
    std::string_view calendar = quantity.calendar ? unit : internal::CalendarUnit(unit);
    if (calendar.empty())
      calendar = CalendarFromUcum(unit);
    if (calendar.empty()) {
      return ExecError("cannot add '" + quantity.unit + "' to a date (not a calendar duration)");
    }
    long double value = quantity.value.value;
    int64_t amount = static_cast<int64_t>(std::trunc(value));
    if (op == "-")
      amount = -amount;
    if (!internal::AddDuration(date.date_time, date.kind == Kind::kTime, calendar, amount)) {
      return ExecError("unsupported duration unit");
    }
    return Collection{date};
  }

  Result<Collection> Arithmetic(const std::string& op, const Item& a, const Item& b) {
    if ((IsDateKind(a.kind) || a.kind == Kind::kTime) && b.kind == Kind::kQuantity &&
        (op == "+" || op == "-")) {
      return DateArithmetic(op, a, b.quantity);
    }
    if (IsNumeric(a) && IsNumeric(b)) {
      bool integers = a.kind == Kind::kInteger && b.kind == Kind::kInteger;
      long double x = NumberOf(a);
      long double y = NumberOf(b);
      if (op == "+" || op == "-" || op == "*") {
        if (integers) {
          int64_t r = 0;
          bool overflow = op == "+"   ? __builtin_add_overflow(a.integer, b.integer, &r)
                          : op == "-" ? __builtin_sub_overflow(a.integer, b.integer, &r)
                                      : __builtin_mul_overflow(a.integer, b.integer, &r);
          if (overflow)
            return Collection{};
          return Collection{Item::Integer(r)};
        }
        long double r = op == "+" ? x + y : op == "-" ? x - y : x * y;
        int sa = ScaleOf(a);
        int sb = ScaleOf(b);
        int scale = (sa < 0 || sb < 0) ? -1 : (op == "*" ? sa + sb : std::max(sa, sb));
        return Collection{Item::MakeDecimal(Decimal{r, scale})};
      }
      if (op == "/") {
        if (y == 0)
          return Collection{};
        return Collection{Item::MakeDecimal(Decimal{x / y, -1})};
      }
      if (op == "div") {
        if (y == 0)
          return Collection{};
        if (integers)
          return Collection{Item::Integer(a.integer / b.integer)};
        return Collection{Item::Integer(static_cast<int64_t>(std::trunc(x / y)))};
      }
      if (op == "mod") {
        if (y == 0)
          return Collection{};
        if (integers)
          return Collection{Item::Integer(a.integer % b.integer)};
        long double r = std::fmod(x, y);
        return Collection{Item::MakeDecimal(Decimal{r, std::max(ScaleOf(a), ScaleOf(b))})};
      }
    }
    if (a.kind == Kind::kString && b.kind == Kind::kString && op == "+") {
      return Collection{Item::String(a.string + b.string)};
    }
    if (a.kind == Kind::kQuantity || b.kind == Kind::kQuantity) {
      Quantity qa = a.kind == Kind::kQuantity ? a.quantity : Quantity{};
      Quantity qb = b.kind == Kind::kQuantity ? b.quantity : Quantity{};
      if (a.kind != Kind::kQuantity) {
        if (!IsNumeric(a))
          return ExecError("bad operands for " + op);
        qa.value = Decimal{NumberOf(a), ScaleOf(a)};
      }
      if (b.kind != Kind::kQuantity) {
        if (!IsNumeric(b))
          return ExecError("bad operands for " + op);
        qb.value = Decimal{NumberOf(b), ScaleOf(b)};
      }
      if (op == "+" || op == "-") {
        if (qa.unit == qb.unit && qa.calendar == qb.calendar) {
          Quantity r = qa;
          r.value.value =
              op == "+" ? qa.value.value + qb.value.value : qa.value.value - qb.value.value;
          r.value.scale = std::max(qa.value.scale, qb.value.scale);
          return Collection{Item::MakeQuantity(r)};
        }
        auto ca = internal::Canonicalize(qa);
        auto cb = internal::Canonicalize(qb);
        if (!ca || !cb || !internal::SameDimensions(*ca, *cb))
          return Collection{};
        long double unit_a = qa.value.value == 0 ? 1 : ca->value / qa.value.value;
        Quantity r = qa;
        r.value.value =
            op == "+" ? qa.value.value + cb->value / unit_a : qa.value.value - cb->value / unit_a;
        r.value.scale = -1;
        return Collection{Item::MakeQuantity(r)};
      }
      if (op == "*" || op == "/") {
        auto ca = internal::Canonicalize(qa);
        auto cb = internal::Canonicalize(qb);
        if (!ca || !cb)
          return Collection{};
        if (op == "/" && cb->value == 0)
          return Collection{};
        internal::CanonicalQuantity r;
        r.value = op == "*" ? ca->value * cb->value : ca->value / cb->value;
        for (int i = 0; i < 7; ++i) {
          r.dims[i] = op == "*" ? ca->dims[i] + cb->dims[i] : ca->dims[i] - cb->dims[i];
        }
        return Collection{Item::MakeQuantity(internal::FromCanonical(r))};
      }
    }
    return ExecError("operator " + op + " cannot be applied to " + ToDisplayString(a) + " and " +
                     ToDisplayString(b));
  }

  // Functions -------------------------------------------------------------------------------

  Collection ThisCollection(const Collection& focus, const Frame& frame) const {
    if (frame.this_collection != nullptr)
      return *frame.this_collection;
    return focus;
  }

  // Evaluates argument `i` (1-based into node.children) against [$this].
  Result<Collection> Arg(const Node& node, size_t i, const Collection& focus, const Frame& frame) {
    if (i >= node.children.size())
      return Collection{};
    Collection base = ThisCollection(focus, frame);
    return Eval(*node.children[i], base, frame);
  }

  Result<std::optional<Item>> SingleArg(const Node& node, size_t i, const Collection& focus,
                                        const Frame& frame) {
    MA_ASSIGN_OR_RETURN(Collection value, Arg(node, i, focus, frame));
    if (value.empty())
      return std::optional<Item>();
    if (value.size() > 1) {
      return ExecError(node.name + "() argument must be a single value");
    }
    return std::optional<Item>(ToSystemValue(value[0]));
  }

  Result<std::optional<std::string>> StringArg(const Node& node, size_t i, const Collection& focus,
                                               const Frame& frame) {
    MA_ASSIGN_OR_RETURN(std::optional<Item> value, SingleArg(node, i, focus, frame));
    if (!value)
      return std::optional<std::string>();
    if (value->kind != Kind::kString)
      return ExecError(node.name + "() needs a string argument");
    return std::optional<std::string>(value->string);
  }

  Result<std::optional<int64_t>> IntegerArg(const Node& node, size_t i, const Collection& focus,
                                            const Frame& frame) {
    MA_ASSIGN_OR_RETURN(std::optional<Item> value, SingleArg(node, i, focus, frame));
    if (!value)
      return std::optional<int64_t>();
    if (value->kind != Kind::kInteger)
      return ExecError(node.name + "() needs an integer argument");
    return std::optional<int64_t>(value->integer);
  }

  // Evaluates argument i once per input item with $this/$index set.
  Result<Collection> ForEach(const Node& node, size_t arg, const Item& item, int64_t index,
                             const Collection* total = nullptr) {
    Collection single{item};
    Frame inner;
    inner.this_item = &single[0];
    inner.this_collection = &single;
    inner.index = index;
    inner.total = total;
    return Eval(*node.children[arg], single, inner);
  }

  Result<std::optional<Item>> SingleInput(const Node& node, const Collection& input) {
    if (input.empty())
      return std::optional<Item>();
    if (input.size() > 1) {
      return ExecError(node.name + "() needs a single input item, found " +
                       std::to_string(input.size()));
    }
    return std::optional<Item>(ToSystemValue(input[0]));
  }

  Result<std::optional<std::string>> StringInput(const Node& node, const Collection& input) {
    MA_ASSIGN_OR_RETURN(std::optional<Item> value, SingleInput(node, input));
    if (!value)
      return std::optional<std::string>();
    if (value->kind != Kind::kString)
      return ExecError(node.name + "() needs a string input");
    return std::optional<std::string>(value->string);
  }

  Result<Collection> Function(const Node& node, const Collection& focus, const Frame& frame);
  Result<Collection> StringFunction(const Node& node, const Collection& input,
                                    const Collection& focus, const Frame& frame, bool* handled);
  Result<Collection> MathFunction(const Node& node, const Collection& input,
                                  const Collection& focus, const Frame& frame, bool* handled);
  Result<Collection> ConversionFunction(const Node& node, const Collection& input, bool* handled);
  Result<Collection> Boundary(const Node& node, const Collection& input, const Collection& focus,
                              const Frame& frame);
  DateTimeValue Now() const;

  const EvalOptions& options_;
  const ModelInfo& model_;
  const Json& resource_;
  const Json& root_resource_;
  const Collection& context_;
};

DateTimeValue Evaluator::Now() const {
  auto now = options_.now.value_or(std::chrono::system_clock::now());
  int64_t millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  millis += int64_t{options_.timezone_minutes} * 60000;
  DateTimeValue v;
  v.year = 1970;
  v.precision = Precision::kMillisecond;
  internal::AddDuration(v, false, "millisecond", millis);
  v.precision = Precision::kMillisecond;
  v.has_timezone = true;
  v.timezone_minutes = options_.timezone_minutes;
  return v;
}

std::optional<Item> ConvertToQuantity(const Item& item) {
  if (item.kind == Kind::kQuantity)
    return item;
  if (IsNumeric(item)) {
    Quantity q;
    q.value = Decimal{NumberOf(item), ScaleOf(item)};
    return Item::MakeQuantity(q);
  }
  if (item.kind == Kind::kBoolean) {
    Quantity q;
    q.value = Decimal{item.boolean ? 1.0L : 0.0L, 1};
    return Item::MakeQuantity(q);
  }
  if (item.kind != Kind::kString)
    return std::nullopt;
  const std::string& s = item.string;
  size_t space = s.find(' ');
  std::string number = s.substr(0, space);
  auto decimal = internal::ParseDecimal(number);
  if (!decimal)
    return std::nullopt;
  Quantity q;
  q.value = *decimal;
  if (space == std::string::npos)
    return Item::MakeQuantity(q);
  std::string unit = s.substr(space + 1);
  while (!unit.empty() && unit.front() == ' ') unit.erase(0, 1);
  if (unit.size() >= 2 && unit.front() == '\'' && unit.back() == '\'') {
    q.unit = unit.substr(1, unit.size() - 2);
    return Item::MakeQuantity(q);
  }
  std::string_view calendar = internal::CalendarUnit(unit);
  if (calendar.empty())
    return std::nullopt;
  q.unit = std::string(calendar);
  q.calendar = true;
  return Item::MakeQuantity(q);
}

Result<Collection> Evaluator::ConversionFunction(const Node& node, const Collection& input,
                                                 bool* handled) {
  *handled = true;
  const std::string& name = node.name;
  bool converts = name.rfind("convertsTo", 0) == 0;
  std::string target = converts ? name.substr(10) : name.rfind("to", 0) == 0 ? name.substr(2) : "";
  static const char* kTargets[] = {"Boolean", "Integer",  "Decimal", "String",
                                   "Date",    "DateTime", "Time",    "Quantity"};
  bool known = false;
  for (const char* t : kTargets) known = known || target == t;
  if (!known) {
    *handled = false;
    return Collection{};
  }
  if (input.empty())
    return Collection{};
  if (input.size() > 1)
    return ExecError(name + "() needs a single input item");
  Item item = ToSystemValue(input[0]);
  std::optional<Item> result;
  if (target == "Boolean") {
    if (item.kind == Kind::kBoolean) {
      result = item;
    } else if (item.kind == Kind::kInteger && (item.integer == 0 || item.integer == 1)) {
      result = Item::Boolean(item.integer == 1);
    } else if (item.kind == Kind::kDecimal &&
               (item.decimal.value == 0 || item.decimal.value == 1)) {
      result = Item::Boolean(item.decimal.value == 1);
    } else if (item.kind == Kind::kString) {
      std::string lower = NormalizeForEquivalence(item.string);
      if (lower == "true" || lower == "t" || lower == "yes" || lower == "y" || lower == "1" ||
          lower == "1.0") {
        result = Item::Boolean(true);
      } else if (lower == "false" || lower == "f" || lower == "no" || lower == "n" ||
                 lower == "0" || lower == "0.0") {
        result = Item::Boolean(false);
      }
    }
  } else if (target == "Integer") {
    if (item.kind == Kind::kInteger) {
      result = item;
    } else if (item.kind == Kind::kBoolean) {
      result = Item::Integer(item.boolean ? 1 : 0);
    } else if (item.kind == Kind::kString) {
      if (auto value = internal::ParseInteger(item.string))
        result = Item::Integer(*value);
    }
  } else if (target == "Decimal") {
    if (item.kind == Kind::kDecimal) {
      result = item;
    } else if (item.kind == Kind::kInteger) {
      result = Item::MakeDecimal(Decimal{static_cast<long double>(item.integer), 0});
    } else if (item.kind == Kind::kBoolean) {
      result = Item::MakeDecimal(Decimal{item.boolean ? 1.0L : 0.0L, 1});
    } else if (item.kind == Kind::kString) {
      if (auto value = internal::ParseDecimal(item.string))
        result = Item::MakeDecimal(*value);
    }
  } else if (target == "String") {
    if (auto text = ToStringValue(item))
      result = Item::String(*text);
  } else if (target == "Date") {
    if (item.kind == Kind::kDate) {
      result = item;
    } else if (item.kind == Kind::kDateTime) {
      DateTimeValue v = item.date_time;
      v.precision = std::min(v.precision, Precision::kDay);
      v.has_timezone = false;
      result = Item::Date(v);
    } else if (item.kind == Kind::kString) {
      if (auto v = internal::ParseDate(item.string)) {
        result = Item::Date(*v);
      } else if (auto dt = internal::ParseDateTime(item.string, false)) {
        dt->precision = std::min(dt->precision, Precision::kDay);
        dt->has_timezone = false;
        result = Item::Date(*dt);
      }
    }
  } else if (target == "DateTime") {
    if (item.kind == Kind::kDateTime) {
      result = item;
    } else if (item.kind == Kind::kDate) {
      result = Item::DateTime(item.date_time);
    } else if (item.kind == Kind::kString) {
      if (auto v = internal::ParseDateTime(item.string, false))
        result = Item::DateTime(*v);
    }
  } else if (target == "Time") {
    if (item.kind == Kind::kTime) {
      result = item;
    } else if (item.kind == Kind::kString) {
      std::string_view text = item.string;
      if (!text.empty() && text[0] == 'T')
        text.remove_prefix(1);
      if (auto v = internal::ParseTime(text))
        result = Item::Time(*v);
    }
  } else if (target == "Quantity") {
    result = ConvertToQuantity(item);
  }
  if (converts)
    return Collection{Item::Boolean(result.has_value())};
  if (!result)
    return Collection{};
  return Collection{*result};
}

Result<Collection> Evaluator::StringFunction(const Node& node, const Collection& input,
                                             const Collection& focus, const Frame& frame,
                                             bool* handled) {
  *handled = true;
  const std::string& name = node.name;
  static const char* kNames[] = {"startsWith",     "endsWith", "contains", "indexOf", "substring",
                                 "upper",          "lower",    "replace",  "matches", "matchesFull",
                                 "replaceMatches", "length",   "toChars",  "split",   "trim",
                                 "encode",         "decode",   "escape",   "unescape"};
  bool known = false;
  for (const char* n : kNames) known = known || name == n;
  if (!known) {
    *handled = false;
    return Collection{};
  }
  MA_ASSIGN_OR_RETURN(std::optional<std::string> text, StringInput(node, input));
  if (!text)
    return Collection{};
  const std::string& s = *text;
  if (name == "upper" || name == "lower") {
    std::string out = s;
    for (char& c : out) {
      c = static_cast<char>(name == "upper" ? std::toupper(static_cast<unsigned char>(c))
                                            : std::tolower(static_cast<unsigned char>(c)));
    }
    return Collection{Item::String(out)};
  }
  if (name == "length")
    return Collection{Item::Integer(static_cast<int64_t>(s.size()))};
  if (name == "trim") {
    size_t begin = s.find_first_not_of(" \t\r\n");
    if (begin == std::string::npos)
      return Collection{Item::String("")};
    size_t end = s.find_last_not_of(" \t\r\n");
    return Collection{Item::String(s.substr(begin, end - begin + 1))};
  }
  if (name == "toChars") {
    Collection out;
    for (char c : s) out.push_back(Item::String(std::string(1, c)));
    return out;
  }
  if (name == "substring") {
    MA_ASSIGN_OR_RETURN(std::optional<int64_t> start, IntegerArg(node, 1, focus, frame));
    if (!start || *start < 0 || *start >= static_cast<int64_t>(s.size()))
      return Collection{};
    if (node.children.size() > 2) {
      MA_ASSIGN_OR_RETURN(std::optional<int64_t> length, IntegerArg(node, 2, focus, frame));
      if (!length)
        return Collection{Item::String(s.substr(static_cast<size_t>(*start)))};
      if (*length < 0)
        return Collection{Item::String("")};
      return Collection{
          Item::String(s.substr(static_cast<size_t>(*start), static_cast<size_t>(*length)))};
    }
    return Collection{Item::String(s.substr(static_cast<size_t>(*start)))};
  }
  MA_ASSIGN_OR_RETURN(std::optional<std::string> arg, StringArg(node, 1, focus, frame));
  if (!arg)
    return Collection{};
  const std::string& a = *arg;
  if (name == "startsWith")
    return Collection{Item::Boolean(s.rfind(a, 0) == 0)};
  if (name == "endsWith") {
    return Collection{
        Item::Boolean(s.size() >= a.size() && s.compare(s.size() - a.size(), a.size(), a) == 0)};
  }
  if (name == "contains")
    return Collection{Item::Boolean(s.find(a) != std::string::npos)};
  if (name == "indexOf") {
    size_t pos = s.find(a);
    return Collection{Item::Integer(pos == std::string::npos ? -1 : static_cast<int64_t>(pos))};
  }
  if (name == "split") {
    Collection out;
    if (a.empty()) {
      for (char c : s) out.push_back(Item::String(std::string(1, c)));
      return out;
    }
    size_t start = 0;
    while (true) {
      size_t pos = s.find(a, start);
      if (pos == std::string::npos) {
        out.push_back(Item::String(s.substr(start)));
        break;
      }
      out.push_back(Item::String(s.substr(start, pos - start)));
      start = pos + a.size();
    }
    return out;
  }
  if (name == "matches" || name == "matchesFull") {
    try {
      std::regex re(SingleLineRegex(a), std::regex::ECMAScript);
      bool result = name == "matches" ? std::regex_search(s, re) : std::regex_match(s, re);
      return Collection{Item::Boolean(result)};
    } catch (const std::regex_error&) {
      return ExecError("invalid regular expression '" + a + "'");
    }
  }
  if (name == "encode" || name == "decode") {
    if (name == "encode") {
      if (a == "base64" || a == "urlbase64")
        return Collection{Item::String(core::Base64Encode(
            s, a == "urlbase64" ? core::Base64Alphabet::kUrl : core::Base64Alphabet::kStandard,
            /*pad=*/true))};
      if (a == "hex") {
        static const char* kHex = "0123456789abcdef";
        std::string out;
        for (char c : s) {
          out += kHex[(static_cast<uint8_t>(c) >> 4) & 15];
          out += kHex[static_cast<uint8_t>(c) & 15];
        }
        return Collection{Item::String(out)};
      }
      return Collection{};
    }
    if (a == "base64" || a == "urlbase64") {
      auto out = core::Base64Decode(s);
      if (!out)
        return Collection{};
      return Collection{Item::String(*out)};
    }
    if (a == "hex") {
      if (s.size() % 2 != 0)
        return Collection{};
      std::string out;
      for (size_t i = 0; i < s.size(); i += 2) {
        out.push_back(static_cast<char>(std::stoi(s.substr(i, 2), nullptr, 16)));
      }
      return Collection{Item::String(out)};
    }
    return Collection{};
  }
  if (name == "escape" || name == "unescape") {
    static const std::pair<const char*, const char*> kHtml[] = {
        {"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"}};
    static const std::pair<const char*, const char*> kJson[] = {
        {"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}, {"\r", "\\r"}, {"\t", "\\t"}};
    bool html = a == "html";
    if (!html && a != "json")
      return Collection{};
    std::string out;
    if (name == "escape") {
      for (char c : s) {
        bool replaced = false;
        for (const auto& [from, to] : (html ? std::span(kHtml) : std::span(kJson))) {
          if (c == from[0]) {
            out += to;
            replaced = true;
            break;
          }
        }
        if (!replaced)
          out.push_back(c);
      }
    } else {
      for (size_t i = 0; i < s.size();) {
        bool replaced = false;
        for (const auto& [from, to] : (html ? std::span(kHtml) : std::span(kJson))) {
          std::string_view t = to;
          if (s.compare(i, t.size(), t) == 0) {
            out += from;
            i += t.size();
            replaced = true;
            break;
          }
        }
        if (!replaced)
          out.push_back(s[i++]);
      }
    }
    return Collection{Item::String(out)};
  }
  // replace / replaceMatches: two arguments.
  MA_ASSIGN_OR_RETURN(std::optional<std::string> with, StringArg(node, 2, focus, frame));
  if (!with)
    return Collection{};
  if (name == "replace") {
    std::string out;
    if (a.empty()) {
      out = *with;
      for (char c : s) {
        out.push_back(c);
        out += *with;
      }
      return Collection{Item::String(out)};
    }
    size_t start = 0;
    while (true) {
      size_t pos = s.find(a, start);
      if (pos == std::string::npos) {
        out += s.substr(start);
        break;
      }
      out += s.substr(start, pos - start) + *with;
      start = pos + a.size();
    }
    return Collection{Item::String(out)};
  }
  // replaceMatches
  if (a.empty())
    return Collection{Item::String(s)};
  try {
    std::regex re(SingleLineRegex(a), std::regex::ECMAScript);
    return Collection{Item::String(std::regex_replace(s, re, *with))};
  } catch (const std::regex_error&) {
    return ExecError("invalid regular expression '" + a + "'");
  }
}

Result<Collection> Evaluator::MathFunction(const Node& node, const Collection& input,
                                           const Collection& focus, const Frame& frame,
                                           bool* handled) {
  *handled = true;
  const std::string& name = node.name;
  static const char* kNames[] = {"abs", "ceiling", "exp",   "floor", "ln",
                                 "log", "power",   "round", "sqrt",  "truncate"};
  bool known = false;
  for (const char* n : kNames) known = known || name == n;
  if (!known) {
    *handled = false;
    return Collection{};
  }
  MA_ASSIGN_OR_RETURN(std::optional<Item> value, SingleInput(node, input));
  if (!value)
    return Collection{};
  if (name == "abs" && value->kind == Kind::kQuantity) {
    value->quantity.value.value = std::fabs(value->quantity.value.value);
    return Collection{*value};
  }
  if (!IsNumeric(*value))
    return ExecError(name + "() needs a number");
  long double x = NumberOf(*value);
  if (name == "abs") {
    if (value->kind == Kind::kInteger)
      return Collection{Item::Integer(std::llabs(value->integer))};
    return Collection{Item::MakeDecimal(Decimal{std::fabs(x), value->decimal.scale})};
  }
  if (name == "ceiling")
    return Collection{Item::Integer(static_cast<int64_t>(std::ceil(x)))};
  if (name == "floor")
    return Collection{Item::Integer(static_cast<int64_t>(std::floor(x)))};
  if (name == "truncate")
    return Collection{Item::Integer(static_cast<int64_t>(std::trunc(x)))};
  if (name == "exp")
    return Collection{Item::MakeDecimal(Decimal{std::exp(x), -1})};
  if (name == "ln") {
    if (x <= 0)
      return Collection{};
    return Collection{Item::MakeDecimal(Decimal{std::log(x), -1})};
  }
  if (name == "sqrt") {
    if (x < 0)
      return Collection{};
    return Collection{Item::MakeDecimal(Decimal{std::sqrt(x), -1})};
  }
  if (name == "round") {
    int64_t digits = 0;
    if (node.children.size() > 1) {
      MA_ASSIGN_OR_RETURN(std::optional<int64_t> d, IntegerArg(node, 1, focus, frame));
      if (!d)
        return Collection{};
      if (*d < 0)
        return ExecError("round() precision must be >= 0");
      digits = *d;
    }
    return Collection{Item::MakeDecimal(
        Decimal{internal::RoundTo(x, static_cast<int>(digits)), static_cast<int>(digits)})};
  }
  MA_ASSIGN_OR_RETURN(std::optional<Item> arg, SingleArg(node, 1, focus, frame));
  if (!arg)
    return Collection{};
  if (!IsNumeric(*arg))
    return ExecError(name + "() needs a numeric argument");
  long double y = NumberOf(*arg);
  if (name == "log") {
    if (x <= 0 || y <= 0 || y == 1)
      return Collection{};
    return Collection{Item::MakeDecimal(Decimal{std::log(x) / std::log(y), -1})};
  }
  // power
  long double r = std::pow(x, y);
  if (std::isnan(r) || std::isinf(r))
    return Collection{};
  if (value->kind == Kind::kInteger && arg->kind == Kind::kInteger && arg->integer >= 0) {
    return Collection{Item::Integer(static_cast<int64_t>(std::llround(r)))};
  }
  return Collection{Item::MakeDecimal(Decimal{r, -1})};
}

int DatePrecisionDigits(Precision p, bool is_time) {
  if (is_time) {
    switch (p) {
      case Precision::kHour:
        return 2;
      case Precision::kMinute:
        return 4;
      case Precision::kSecond:
        return 6;
      default:
        return 9;
    }
  }
  switch (p) {
    case Precision::kYear:
      return 4;
    case Precision::kMonth:
      return 6;
    case Precision::kDay:
      return 8;
    case Precision::kHour:
      return 10;
    case Precision::kMinute:
      return 12;
    case Precision::kSecond:
      return 14;
    default:
      return 17;
  }
}

std::optional<Precision> PrecisionFromDigits(int64_t digits, bool is_time) {
  for (int p = 0; p <= static_cast<int>(Precision::kMillisecond); ++p) {
    auto precision = static_cast<Precision>(p);
    if (is_time && precision < Precision::kHour)
      continue;
    if (DatePrecisionDigits(precision, is_time) == digits)
      return precision;
  }
  return std::nullopt;
}

Result<Collection> Evaluator::Boundary(const Node& node, const Collection& input,
                                       const Collection& focus, const Frame& frame) {
  bool low = node.name == "lowBoundary";
  MA_ASSIGN_OR_RETURN(std::optional<Item> value, SingleInput(node, input));
  if (!value)
    return Collection{};
  std::optional<int64_t> digits;
  if (node.children.size() > 1) {
    MA_ASSIGN_OR_RETURN(digits, IntegerArg(node, 1, focus, frame));
  }
  if (IsNumeric(*value) || value->kind == Kind::kQuantity) {
    Decimal d = value->kind == Kind::kQuantity ? value->quantity.value
                                               : Decimal{NumberOf(*value), ScaleOf(*value)};
    int64_t precision = digits.value_or(8);
    if (precision < 0 || precision > 31)
      return Collection{};
    int scale = std::max(d.scale, 0);
    long double half = 0.5L * std::pow(10.0L, static_cast<long double>(-scale));
    long double bound = low ? d.value - half : d.value + half;
    long double factor = std::pow(10.0L, static_cast<long double>(precision));
    long double scaled = bound * factor;
    long double nearest = std::round(scaled);
    if (std::fabs(scaled - nearest) < 1e-9L) {
      scaled = nearest;
    } else if (std::fabs(scaled) < 1) {
      // A boundary closer to zero than the requested precision is zero (signed like the value).
      scaled = std::copysign(0.0L, d.value);
    } else {
      scaled = low ? std::floor(scaled) : std::ceil(scaled);
    }
    Decimal out{scaled / factor, static_cast<int>(precision)};
    if (value->kind == Kind::kQuantity) {
      Item q = *value;
      q.quantity.value = out;
      return Collection{q};
    }
    return Collection{Item::MakeDecimal(out)};
  }
  if (IsDateKind(value->kind) || value->kind == Kind::kTime) {
    bool is_time = value->kind == Kind::kTime;
    int64_t want = digits.value_or(is_time ? 9 : 17);
    auto precision = PrecisionFromDigits(want, is_time);
    if (!precision)
      return Collection{};
    DateTimeValue v = value->date_time;
    Precision have = v.precision;
    if (have < Precision::kMonth)
      v.month = low ? 1 : 12;
    if (have < Precision::kDay) {
      v.day = 1;
      if (!low) {
        DateTimeValue probe = v;
        probe.day = 1;
        internal::AddDuration(probe, false, "month", 1);
        internal::AddDuration(probe, false, "day", -1);
        v.day = probe.day;
      }
    }
    if (have < Precision::kHour)
      v.hour = low ? 0 : 23;
    if (have < Precision::kMinute)
      v.minute = low ? 0 : 59;
    if (have < Precision::kSecond)
      v.second = low ? 0 : 59;
    if (have < Precision::kMillisecond)
      v.millisecond = low ? 0 : 999;
    v.precision = *precision;
    Kind kind = value->kind;
    if (!is_time && *precision >= Precision::kHour) {
      kind = Kind::kDateTime;
      if (!v.has_timezone) {
        v.has_timezone = true;
        v.timezone_minutes = low ? 14 * 60 : -12 * 60;
      }
    } else if (!is_time) {
      kind = *precision <= Precision::kDay && value->kind == Kind::kDate ? Kind::kDate : kind;
      v.has_timezone = false;
    }
    Item out = *value;
    out.kind = kind;
    out.date_time = v;
    return Collection{out};
  }
  return ExecError(node.name + "() needs a decimal, quantity, date or time");
}

Result<Collection> Evaluator::Function(const Node& node, const Collection& focus,
                                       const Frame& frame) {
  Collection input;
  if (node.children[0]) {
    MA_ASSIGN_OR_RETURN(input, Eval(*node.children[0], focus, frame));
  } else {
    input = focus;
  }
  const std::string& name = node.name;
  size_t arg_count = node.children.size() - 1;

  // Existence.
  if (name == "empty")
    return Collection{Item::Boolean(input.empty())};
  if (name == "exists" || name == "where" || name == "all" || name == "select" ||
      name == "repeat") {
    if (name == "exists" && arg_count == 0)
      return Collection{Item::Boolean(!input.empty())};
    if (arg_count < 1)
      return ExecError(name + "() needs an argument");
    Collection out;
    if (name == "repeat") {
      Collection pending = input;
      while (!pending.empty()) {
        Collection next;
        for (size_t i = 0; i < pending.size(); ++i) {
          MA_ASSIGN_OR_RETURN(Collection r, ForEach(node, 1, pending[i], static_cast<int64_t>(i)));
          for (Item& item : r) {
            bool seen = false;
            for (const Item& existing : out) {
              if (item.kind == Kind::kNode && existing.kind == Kind::kNode) {
                if (item.node == existing.node && item.node != nullptr)
                  seen = true;
              } else {
                auto e = ItemsEqual(existing, item);
                if (e.has_value() && *e)
                  seen = true;
              }
              if (seen)
                break;
            }
            if (!seen) {
              out.push_back(item);
              next.push_back(std::move(item));
            }
          }
        }
        pending = std::move(next);
      }
      return out;
    }
    for (size_t i = 0; i < input.size(); ++i) {
      MA_ASSIGN_OR_RETURN(Collection r, ForEach(node, 1, input[i], static_cast<int64_t>(i)));
      if (name == "select") {
        for (Item& item : r) out.push_back(std::move(item));
        continue;
      }
      MA_ASSIGN_OR_RETURN(std::optional<bool> b, ToBoolean(r));
      bool value = b.value_or(false);
      if (name == "where" && value)
        out.push_back(input[i]);
      if (name == "exists" && value)
        return Collection{Item::Boolean(true)};
      if (name == "all" && !value)
        return Collection{Item::Boolean(false)};
    }
    if (name == "exists")
      return Collection{Item::Boolean(false)};
    if (name == "all")
      return Collection{Item::Boolean(true)};
    return out;
  }
  if (name == "allTrue" || name == "anyTrue" || name == "allFalse" || name == "anyFalse") {
    bool want = name == "allTrue" || name == "anyTrue";
    bool all = name.rfind("all", 0) == 0;
    for (const Item& raw : input) {
      Item item = ToSystemValue(raw);
      if (item.kind != Kind::kBoolean)
        return ExecError(name + "() needs booleans");
      if (all && item.boolean != want)
        return Collection{Item::Boolean(false)};
      if (!all && item.boolean == want)
        return Collection{Item::Boolean(true)};
    }
    return Collection{Item::Boolean(all)};
  }
  if (name == "count")
    return Collection{Item::Integer(static_cast<int64_t>(input.size()))};
  if (name == "distinct") {
    Collection out;
    for (const Item& item : input) AppendDistinct(out, item);
    return out;
  }
  if (name == "isDistinct") {
    Collection out;
    for (const Item& item : input) AppendDistinct(out, item);
    return Collection{Item::Boolean(out.size() == input.size())};
  }
  if (name == "subsetOf" || name == "supersetOf") {
    MA_ASSIGN_OR_RETURN(Collection other, Arg(node, 1, focus, frame));
    const Collection& small = name == "subsetOf" ? input : other;
    const Collection& big = name == "subsetOf" ? other : input;
    for (const Item& item : small) {
      if (!Contains(big, item))
        return Collection{Item::Boolean(false)};
    }
    return Collection{Item::Boolean(true)};
  }
  // Subsetting.
  if (name == "single") {
    if (input.size() > 1)
      return ExecError("single() on " + std::to_string(input.size()) + " items");
    return input;
  }
  if (name == "first")
    return input.empty() ? Collection{} : Collection{input.front()};
  if (name == "last")
    return input.empty() ? Collection{} : Collection{input.back()};
  if (name == "tail") {
    return input.size() <= 1 ? Collection{} : Collection(input.begin() + 1, input.end());
  }
  if (name == "skip" || name == "take") {
    MA_ASSIGN_OR_RETURN(std::optional<int64_t> n, IntegerArg(node, 1, focus, frame));
    if (!n)
      return Collection{};
    int64_t count = std::clamp<int64_t>(*n, 0, static_cast<int64_t>(input.size()));
    if (name == "skip")
      return Collection(input.begin() + count, input.end());
    return Collection(input.begin(), input.begin() + count);
  }
  if (name == "intersect" || name == "exclude" || name == "union" || name == "combine") {
    MA_ASSIGN_OR_RETURN(Collection other, Arg(node, 1, focus, frame));
    Collection out;
    if (name == "combine") {
      out = input;
      out.insert(out.end(), other.begin(), other.end());
      return out;
    }
    if (name == "union") {
      for (const Item& item : input) AppendDistinct(out, item);
      for (const Item& item : other) AppendDistinct(out, item);
      return out;
    }
    for (const Item& item : input) {
      bool in_other = Contains(other, item);
      if (name == "intersect" && in_other)
        AppendDistinct(out, item);
      if (name == "exclude" && !in_other)
        out.push_back(item);
    }
    return out;
  }
  if (name == "iif") {
    if (arg_count < 2 || arg_count > 3)
      return ExecError("iif() needs 2 or 3 arguments");
    if (input.size() > 1)
      return ExecError("iif() on a collection");
    Collection base = input.size() == 1 ? input : ThisCollection(focus, frame);
    Frame inner = frame;
    if (input.size() == 1) {
      inner.this_item = &base[0];
      inner.this_collection = &base;
    }
    MA_ASSIGN_OR_RETURN(Collection criterion, Eval(*node.children[1], base, inner));
    if (criterion.size() > 1)
      return ExecError("iif() criterion is not a single boolean");
    bool value = false;
    if (criterion.size() == 1) {
      Item c = ToSystemValue(criterion[0]);
      if (c.kind != Kind::kBoolean)
        return ExecError("iif() criterion is not a boolean");
      value = c.boolean;
    }
    if (value)
      return Eval(*node.children[2], base, inner);
    if (arg_count == 3)
      return Eval(*node.children[3], base, inner);
    return Collection{};
  }
  if (name == "not") {
    MA_ASSIGN_OR_RETURN(std::optional<bool> b, ToBoolean(input));
    if (!b)
      return Collection{};
    return Collection{Item::Boolean(!*b)};
  }
  if (name == "ofType" || name == "is" || name == "as") {
    if (arg_count != 1)
      return ExecError(name + "() needs a type argument");
    const Node& arg = *node.children[1];
    std::string type;
    if (arg.kind == Node::Kind::kMember) {
      type = arg.name;
      if (!arg.children.empty() && arg.children[0]->kind == Node::Kind::kMember &&
          arg.children[0]->children.empty()) {
        type = arg.children[0]->name + "." + arg.name;
      }
    } else {
      return ExecError(name + "() needs a type name");
    }
    if (name == "is")
      return IsType(input, type);
    return AsType(input, type, name == "ofType");
  }
  if (name == "trace") {
    if (options_.trace) {
      MA_ASSIGN_OR_RETURN(std::optional<std::string> label, StringArg(node, 1, focus, frame));
      if (arg_count > 1) {
        Collection projected;
        for (size_t i = 0; i < input.size(); ++i) {
          MA_ASSIGN_OR_RETURN(Collection r, ForEach(node, 2, input[i], static_cast<int64_t>(i)));
          projected.insert(projected.end(), r.begin(), r.end());
        }
        options_.trace(label.value_or(""), projected);
      } else {
        options_.trace(label.value_or(""), input);
      }
    }
    return input;
  }
  if (name == "children" || name == "descendants") {
    Collection out;
    for (const Item& item : input) AllChildren(item, out);
    if (name == "children")
      return out;
    Collection all;
    Collection level = std::move(out);
    while (!level.empty()) {
      Collection next;
      for (const Item& item : level) AllChildren(item, next);
      all.insert(all.end(), level.begin(), level.end());
      level = std::move(next);
    }
    return all;
  }
  if (name == "extension") {
    MA_ASSIGN_OR_RETURN(std::optional<std::string> url, StringArg(node, 1, focus, frame));
    Collection out;
    for (const Item& item : input) {
      Collection extensions;
      MA_RETURN_IF_ERROR(ChildrenNamed(item, "extension", extensions));
      for (Item& extension : extensions) {
        if (extension.node != nullptr && url && extension.node->GetStringMember("url") == *url) {
          out.push_back(std::move(extension));
        }
      }
    }
    return out;
  }
  if (name == "hasValue") {
    return Collection{Item::Boolean(input.size() == 1 && input[0].kind == Kind::kNode &&
                                    IsPrimitiveJson(input[0].node))};
  }
  if (name == "getValue") {
    if (input.size() != 1 || input[0].kind != Kind::kNode || !IsPrimitiveJson(input[0].node)) {
      return Collection{};
    }
    return Collection{ToSystemValue(input[0])};
  }
  if (name == "resolve") {
    Collection out;
    for (const Item& raw : input) {
      std::string reference;
      Item item = ToSystemValue(raw);
      if (item.kind == Kind::kString) {
        reference = item.string;
      } else if (item.kind == Kind::kNode && item.node != nullptr && item.node->IsObject()) {
        reference = std::string(item.node->GetStringMember("reference"));
      }
      if (reference.empty())
        continue;
      const Json* target = nullptr;
      if (reference[0] == '#') {
        if (const Json* contained = root_resource_.Find("contained")) {
          if (contained->IsArray()) {
            for (const Json& c : contained->Items()) {
              if (c.GetStringMember("id") == std::string_view(reference).substr(1))
                target = &c;
            }
          }
        }
      } else if (options_.resolver) {
        target = options_.resolver(reference);
      }
      if (target != nullptr)
        out.push_back(MakeResourceItem(*target));
    }
    return out;
  }
  if (name == "type") {
    Collection out;
    for (const Item& item : input) {
      auto info = std::make_shared<Json>(Json::MakeObject());
      if (item.kind == Kind::kNode) {
        info->Set("namespace", Json::MakeString("FHIR"));
        info->Set("name", Json::MakeString(std::string(NodeType(item))));
      } else {
        info->Set("namespace", Json::MakeString("System"));
        info->Set("name", Json::MakeString(std::string(SystemTypeName(item.kind))));
      }
      Item type_item = Item::Node(info.get(), "SimpleTypeInfo");
      type_item.owner = info;
      out.push_back(std::move(type_item));
    }
    return out;
  }
  if (name == "conformsTo") {
    MA_ASSIGN_OR_RETURN(std::optional<std::string> url, StringArg(node, 1, focus, frame));
    if (!url)
      return Collection{};
    static constexpr std::string_view kPrefix = "http://hl7.org/fhir/StructureDefinition/";
    if (url->rfind(kPrefix, 0) != 0)
      return ExecError("unknown profile " + *url);
    std::string type = url->substr(kPrefix.size());
    if (!model_.IsKnownType(type))
      return ExecError("unknown profile " + *url);
    if (input.size() != 1)
      return Collection{};
    std::string_view actual = NodeType(input[0]);
    return Collection{Item::Boolean(!actual.empty() && model_.IsA(actual, type))};
  }
  if (name == "today" || name == "now" || name == "timeOfDay") {
    DateTimeValue v = Now();
    if (name == "now")
      return Collection{Item::DateTime(v)};
    if (name == "today") {
      v.precision = Precision::kDay;
      v.has_timezone = false;
      return Collection{Item::Date(v)};
    }
    v.has_timezone = false;
    return Collection{Item::Time(v)};
  }
  if (name == "aggregate") {
    if (arg_count < 1)
      return ExecError("aggregate() needs an aggregator");
    Collection total;
    if (arg_count > 1) {
      MA_ASSIGN_OR_RETURN(total, Arg(node, 2, focus, frame));
    }
    for (size_t i = 0; i < input.size(); ++i) {
      Collection current = total;
      MA_ASSIGN_OR_RETURN(total, ForEach(node, 1, input[i], static_cast<int64_t>(i), &current));
    }
    return total;
  }
  if (name == "join") {
    std::string separator;
    if (arg_count > 0) {
      MA_ASSIGN_OR_RETURN(std::optional<std::string> s, StringArg(node, 1, focus, frame));
      separator = s.value_or("");
    }
    std::string out;
    for (size_t i = 0; i < input.size(); ++i) {
      auto text = ToStringValue(input[i]);
      if (!text)
        return ExecError("join() needs strings");
      if (i > 0)
        out += separator;
      out += *text;
    }
    return Collection{Item::String(out)};
  }
  if (name == "sort") {
    struct Keyed {
      Item item;
      std::vector<Collection> keys;
    };
    std::vector<Keyed> rows;
    std::vector<bool> descending;
    std::vector<const Node*> key_nodes;
    for (size_t a = 1; a < node.children.size(); ++a) {
      const Node* key = node.children[a].get();
      bool desc = false;
      if (key->kind == Node::Kind::kUnary && key->name == "-") {
        desc = true;
        key = key->children[0].get();
      }
      descending.push_back(desc);
      key_nodes.push_back(key);
    }
    for (size_t i = 0; i < input.size(); ++i) {
      Keyed row{input[i], {}};
      Collection single{input[i]};
      Frame inner;
      inner.this_item = &single[0];
      inner.this_collection = &single;
      inner.index = static_cast<int64_t>(i);
      for (const Node* key : key_nodes) {
        MA_ASSIGN_OR_RETURN(Collection k, Eval(*key, single, inner));
        row.keys.push_back(std::move(k));
      }
      rows.push_back(std::move(row));
    }
    std::string error;
    auto compare = [&](const Collection& x, const Collection& y) -> int {
      // Empty keys sort after every value (so they come first in descending order).
      if (x.empty() || y.empty())
        return x.empty() == y.empty() ? 0 : (x.empty() ? 1 : -1);
      auto c = CompareItems(x[0], y[0]);
      if (!c) {
        error = c.error().GetMessage();
        return 0;
      }
      return c->value_or(0);
    };
    std::stable_sort(rows.begin(), rows.end(), [&](const Keyed& x, const Keyed& y) {
      if (key_nodes.empty())
        return compare(Collection{x.item}, Collection{y.item}) < 0;
      for (size_t k = 0; k < key_nodes.size(); ++k) {
        int c = compare(x.keys[k], y.keys[k]);
        if (c != 0)
          return descending[k] ? c > 0 : c < 0;
      }
      return false;
    });
    if (!error.empty())
      return Error::Unprocessable(error);
    Collection out;
    for (Keyed& row : rows) out.push_back(std::move(row.item));
    return out;
  }
  if (name == "lowBoundary" || name == "highBoundary")
    return Boundary(node, input, focus, frame);
  if (name == "precision") {
    MA_ASSIGN_OR_RETURN(std::optional<Item> value, SingleInput(node, input));
    if (!value)
      return Collection{};
    if (value->kind == Kind::kDecimal) {
      return Collection{Item::Integer(std::max(value->decimal.scale, 0))};
    }
    if (value->kind == Kind::kInteger)
      return Collection{Item::Integer(0)};
    if (IsDateKind(value->kind) || value->kind == Kind::kTime) {
      return Collection{Item::Integer(
          DatePrecisionDigits(value->date_time.precision, value->kind == Kind::kTime))};
    }
    return ExecError("precision() needs a decimal, date or time");
  }
  if (name == "comparable") {
    MA_ASSIGN_OR_RETURN(std::optional<Item> value, SingleInput(node, input));
    MA_ASSIGN_OR_RETURN(std::optional<Item> other, SingleArg(node, 1, focus, frame));
    if (!value || !other)
      return Collection{};
    if (value->kind != Kind::kQuantity || other->kind != Kind::kQuantity) {
      return ExecError("comparable() needs quantities");
    }
    auto a = internal::Canonicalize(value->quantity);
    auto b = internal::Canonicalize(other->quantity);
    return Collection{Item::Boolean(a && b && internal::SameDimensions(*a, *b))};
  }
  bool handled = false;
  MA_ASSIGN_OR_RETURN(Collection converted, ConversionFunction(node, input, &handled));
  if (handled)
    return converted;
  MA_ASSIGN_OR_RETURN(Collection text, StringFunction(node, input, focus, frame, &handled));
  if (handled)
    return text;
  MA_ASSIGN_OR_RETURN(Collection math, MathFunction(node, input, focus, frame, &handled));
  if (handled)
    return math;
  return ExecError("unknown function " + name + "()");
}

}  // namespace

core::Result<Collection> EvaluateOn(const Expression& expression, const Collection& focus,
                                    const Json& resource, const EvalOptions& options) {
  if (expression.GetRoot() == nullptr)
    return Error::BadRequest("empty FHIRPath expression");
  const Json& root = options.root_resource != nullptr ? *options.root_resource : resource;
  Evaluator evaluator(options, resource, root, focus);
  Frame frame;
  if (focus.size() == 1)
    frame.this_item = &focus[0];
  frame.this_collection = &focus;
  return evaluator.Eval(*expression.GetRoot(), focus, frame);
}

core::Result<Collection> Evaluate(const Expression& expression, const Json& resource,
                                  const EvalOptions& options) {
  const ModelInfo& model = options.model != nullptr ? *options.model : R4ModelInfo();
  Item item = Item::Node(&resource);
  if (resource.IsObject()) {
    std::string_view resource_type = resource.GetStringMember("resourceType");
    if (!resource_type.empty()) {
      std::string_view canonical = model.CanonicalTypeName(resource_type);
      item.type = canonical.empty() ? resource_type : canonical;
      item.definition = model.ResourceDefinition(resource_type);
    }
  }
  Collection focus{item};
  return EvaluateOn(expression, focus, resource, options);
}

core::Result<Collection> Evaluate(std::string_view expression, const Json& resource,
                                  const EvalOptions& options) {
  MA_ASSIGN_OR_RETURN(Expression parsed, Parse(expression));
  return Evaluate(parsed, resource, options);
}

}  // namespace medalliance::fhir::fhirpath
