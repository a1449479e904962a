#include "search/internal/extract.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <regex>

#include "core/time.h"
#include "fhir/patch/json_patch.h"
#include "search/internal/text.h"

namespace medalliance::search::internal {

namespace fhirpath = fhir::fhirpath;
namespace r4 = fhir::r4;
using fhir::Json;
using store::IndexEntry;
using store::IndexKind;

namespace {

// Open ends of a Period.
constexpr int64_t kMinMillis = -62135596800000;  // 0001-01-01T00:00:00Z
constexpr int64_t kMaxMillis = 253402300800000;  // 10000-01-01T00:00:00Z
constexpr size_t kMaxStringLength = 512;

// string_view equality, inlined (the walk compares type names that are mostly the same
// static strings).
inline bool Equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         (a.data() == b.data() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

// Strips "/_history/n"; empty for contained references (see NormaliseReference).
std::string_view NormalisedView(std::string_view reference) {
  if (reference.empty() || reference[0] == '#')
    return {};
  if (size_t history = reference.find("/_history/"); history != std::string_view::npos) {
    reference = reference.substr(0, history);
  }
  return reference;
}

bool Skipped(const r4::SearchParamDefinition& def) {
  if (def.expression.empty() || def.type == r4::SearchParamType::kSpecial)
    return true;
  return def.code == "_id" || def.code == "_lastUpdated";
}

class Sink {
 public:
  // Rows are appended to `out`; rows already in `out` belong to other parameters.
  // `companions`: also the :text/:of-type/:identifier rows (composite components have none).
  // `param` must outlive the Sink.
  Sink(std::string_view param, std::vector<IndexEntry>& out, bool companions = true)
      : param_(param), out_(out), start_(out.size()), companions_(companions) {}

  void Token(std::string_view system, std::string_view code) {
    if (code.empty() && system.empty())
      return;
    IndexEntry& entry = Add(IndexKind::kToken, param_);
    entry.system.assign(system);
    entry.value.assign(code);
  }
  void TokenAs(std::string_view suffix, std::string_view system, std::string_view code) {
    if (!companions_)
      return;
    IndexEntry& entry = Add(IndexKind::kToken, Suffixed(suffix));
    entry.system.assign(system);
    entry.value.assign(code);
  }
  void String(std::string_view text, std::string_view suffix = {}) {
    if (text.empty() || (!suffix.empty() && !companions_))
      return;
    if (text.size() > kMaxStringLength)
      text = text.substr(0, kMaxStringLength);
    std::string_view param = suffix.empty() ? param_ : std::string_view(Suffixed(suffix));
    // A token's display-text rows (":text") keep no raw text: :text searches the folded value
    // (:contains), nothing reads their raw, and the raw copy was about a quarter of
    // index_string's bytes in both its B-trees (doc/storage.md, "Shorter ids").
    const bool keep_raw = suffix != kTextSuffix;
    // Names repeat (text, family), and so do display texts: an equal raw text folds to an
    // equal value, so it is skipped before folding.
    for (size_t i = start_; keep_raw && i < out_.size(); ++i) {
      const IndexEntry& existing = out_[i];
      if (existing.kind == IndexKind::kString && Equal(existing.raw, text) &&
          Equal(existing.param, param)) {
        return;
      }
    }
    std::string folded = FoldText(text);
    for (size_t i = start_; i < out_.size(); ++i) {
      const IndexEntry& existing = out_[i];
      if (existing.kind == IndexKind::kString && existing.value == folded &&
          Equal(existing.param, param)) {
        return;
      }
    }
    IndexEntry& entry = Add(IndexKind::kString, param);
    entry.value = std::move(folded);
    if (keep_raw)
      entry.raw.assign(text);
  }
  void Reference(std::string_view value) {
    if (value.empty())
      return;
    IndexEntry& entry = Add(IndexKind::kReference, param_);
    entry.value.assign(value);
  }
  void Date(int64_t low, int64_t high) {
    IndexEntry& entry = Add(IndexKind::kDate, param_);
    entry.low = low;
    entry.high = high;
  }
  void Number(double number, std::string_view raw) {
    IndexEntry& entry = Add(IndexKind::kNumber, param_);
    entry.number = number;
    entry.raw.assign(raw);
  }
  void Quantity(double number, std::string_view system, std::string_view code,
                std::string_view unit) {
    IndexEntry& entry = Add(IndexKind::kQuantity, param_);
    entry.number = number;
    entry.system.assign(system);
    entry.value.assign(code);
    entry.raw.assign(unit);
  }
  void Uri(std::string_view value) {
    if (value.empty())
      return;
    IndexEntry& entry = Add(IndexKind::kUri, param_);
    entry.value.assign(value);
  }

 private:
  const std::string& Suffixed(std::string_view suffix) {
    if (suffixed_.empty() || !Equal(suffix, suffix_)) {
      suffix_ = suffix;
      suffixed_.assign(param_).append(suffix);
    }
    return suffixed_;
  }
  IndexEntry& Add(IndexKind kind, std::string_view param) {
    IndexEntry& entry = out_.emplace_back();
    entry.param.assign(param);
    entry.kind = kind;
    return entry;
  }
  std::string_view param_;
  std::vector<IndexEntry>& out_;
  size_t start_;
  bool companions_;
  std::string_view suffix_;
  std::string suffixed_;
};

std::optional<double> ParseNumber(std::string_view text) {
  if (text.empty())
    return std::nullopt;
  std::string copy(text);
  char* end = nullptr;
  double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size())
    return std::nullopt;
  return value;
}

// A JSON number's text: from_chars gives strtod's (correctly rounded) value for every valid
// JSON number; out-of-range values are left to strtod (which gives inf or 0 for them).
std::optional<double> ParseJsonNumber(const std::string& text) {
  if (text.empty())
    return std::nullopt;
  double parsed = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), parsed);
  if (ec == std::errc() && ptr == text.data() + text.size())
    return parsed;
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size())
    return std::nullopt;
  return value;
}

// The JSON text of a primitive node ("1.50" for numbers, the string itself for strings).
std::optional<std::string_view> NodeText(const Json& node) {
  if (node.IsString() || node.IsNumber())
    return std::string_view(node.GetString());
  if (node.IsBool())
    return std::string_view(node.GetBool() ? "true" : "false");
  return std::nullopt;
}

template <typename Fn>
void ForEachString(const Json* node, const Fn& fn) {
  if (node == nullptr)
    return;
  if (node->IsString()) {
    fn(node->GetString());
  } else if (node->IsArray()) {
    for (const Json& item : node->Items()) {
      if (item.IsString())
        fn(item.GetString());
    }
  }
}

void AddCoding(const Json& coding, Sink& sink) {
  sink.Token(coding.GetStringMember("system"), coding.GetStringMember("code"));
  sink.String(coding.GetStringMember("display"), kTextSuffix);
}

// Index rows of one node value (`type`: its FHIR type, empty when unknown) -------------------

void IndexStringNode(const Json& node, Sink& sink) {
  if (auto text = NodeText(node)) {
    sink.String(*text);
    return;
  }
  if (!node.IsObject())
    return;
  // HumanName, Address and other complex values: every string part, searched separately.
  for (const auto& [key, value] : node.Members()) {
    if (key == "use" || key == "type" || key == "id" || key == "system" || key == "url")
      continue;
    ForEachString(&value, [&](std::string_view text) { sink.String(text); });
  }
}

void IndexTokenNode(const Json& node, std::string_view type, Sink& sink) {
  if (!node.IsObject()) {
    if (auto text = NodeText(node))
      sink.Token("", *text);
    return;
  }
  if (const Json* codings = node.Find("coding"); codings != nullptr || type == "CodeableConcept") {
    if (codings != nullptr && codings->IsArray()) {
      for (const Json& coding : codings->Items()) AddCoding(coding, sink);
    }
    sink.String(node.GetStringMember("text"), kTextSuffix);
    return;
  }
  if (type == "Identifier" ||
      (type.empty() && node.Find("value") != nullptr && node.Find("code") == nullptr)) {
    std::string_view value = node.GetStringMember("value");
    if (type == "ContactPoint") {
      sink.Token(node.GetStringMember("system"), value);
      return;
    }
    sink.Token(node.GetStringMember("system"), value);
    if (const Json* id_type = node.Find("type")) {
      if (const Json* codings = id_type->Find("coding"); codings != nullptr && codings->IsArray()) {
        std::string code;
        for (const Json& coding : codings->Items()) {
          code.assign(coding.GetStringMember("code")).append("|").append(value);
          sink.TokenAs(kOfTypeSuffix, coding.GetStringMember("system"), code);
        }
      }
      sink.String(id_type->GetStringMember("text"), kTextSuffix);
    }
    return;
  }
  if (type == "ContactPoint") {
    sink.Token(node.GetStringMember("system"), node.GetStringMember("value"));
    return;
  }
  // Coding (or an unknown shape with system/code).
  AddCoding(node, sink);
}

void IndexReferenceText(std::string_view text, Sink& sink) {  // canonical, uri
  sink.Reference(text);
  if (size_t bar = text.find('|'); bar != std::string_view::npos) {
    sink.Reference(text.substr(0, bar));
  }
}

void IndexReferenceNode(const Json& node, Sink& sink) {
  if (auto text = NodeText(node)) {
    IndexReferenceText(*text, sink);
    return;
  }
  if (!node.IsObject())
    return;
  const Json* reference = node.Find("reference");
  if (reference != nullptr && reference->IsString()) {
    sink.Reference(NormalisedView(reference->GetString()));
  }
  if (const Json* identifier = node.Find("identifier"); identifier != nullptr) {
    std::string_view value = identifier->GetStringMember("value");
    if (!value.empty()) {
      sink.TokenAs(kIdentifierSuffix, identifier->GetStringMember("system"), value);
    }
  }
}

bool AddDate(std::string_view text, int64_t& low, int64_t& high) {
  core::Result<core::DateRange> range = core::ParseFhirDateTime(text);
  if (!range)
    return false;
  low = range->low;
  high = range->high;
  return true;
}

void IndexDateText(std::string_view text, Sink& sink) {
  int64_t low = 0;
  int64_t high = 0;
  if (AddDate(text, low, high))
    sink.Date(low, high);
}

void IndexDateNode(const Json& node, Sink& sink) {
  if (auto text = NodeText(node)) {
    IndexDateText(*text, sink);
    return;
  }
  if (!node.IsObject())
    return;
  auto period = [&](const Json& p) {
    int64_t start = kMinMillis;
    int64_t end = kMaxMillis;
    int64_t ignored = 0;
    bool any = false;
    if (std::string_view s = p.GetStringMember("start"); !s.empty()) {
      any = AddDate(s, start, ignored) || any;
    }
    if (std::string_view e = p.GetStringMember("end"); !e.empty()) {
      any = AddDate(e, ignored, end) || any;
    }
    if (any)
      sink.Date(start, end);
  };
  if (node.Find("start") != nullptr || node.Find("end") != nullptr) {
    period(node);
    return;
  }
  // Timing: the span of its events and bounds.
  int64_t low = 0;
  int64_t high = 0;
  int64_t min_low = std::numeric_limits<int64_t>::max();
  int64_t max_high = std::numeric_limits<int64_t>::min();
  ForEachString(node.Find("event"), [&](std::string_view event) {
    if (AddDate(event, low, high)) {
      min_low = std::min(min_low, low);
      max_high = std::max(max_high, high);
    }
  });
  if (min_low <= max_high)
    sink.Date(min_low, max_high);
  if (const Json* repeat = node.Find("repeat")) {
    if (const Json* bounds = repeat->Find("boundsPeriod"))
      period(*bounds);
  }
}

void IndexNumberNode(const Json& node, Sink& sink) {
  if (auto text = NodeText(node)) {
    if (auto number = ParseNumber(*text))
      sink.Number(*number, *text);
    return;
  }
  if (!node.IsObject())
    return;
  if (const Json* value = node.Find("value"); value != nullptr && value->IsNumber()) {
    if (auto number = ParseJsonNumber(value->GetString())) {
      sink.Number(*number, value->GetString());
    }
  }
}

void IndexQuantityNode(const Json& node, Sink& sink) {
  if (node.IsNumber()) {
    if (auto number = ParseJsonNumber(node.GetString()))
      sink.Quantity(*number, "", "", "");
    return;
  }
  if (!node.IsObject())
    return;
  auto quantity = [&](const Json& q) {
    const Json* value = q.Find("value");
    if (value == nullptr || !value->IsNumber())
      return;
    auto number = ParseJsonNumber(value->GetString());
    if (!number)
      return;
    std::string_view code = q.GetStringMember("code");
    if (code.empty())
      code = q.GetStringMember("currency");  // Money
    std::string_view unit = q.GetStringMember("unit");
    sink.Quantity(*number, q.GetStringMember("system"), code, unit);
  };
  const Json* low = node.Find("low");
  const Json* high = node.Find("high");
  if (low != nullptr || high != nullptr) {  // Range
    if (low != nullptr)
      quantity(*low);
    if (high != nullptr)
      quantity(*high);
    return;
  }
  quantity(node);
}

void IndexUriNode(const Json& node, Sink& sink) {
  if (auto text = NodeText(node))
    sink.Uri(*text);
}

void IndexNode(r4::SearchParamType param_type, const Json& node, std::string_view type,
               Sink& sink) {
  switch (param_type) {
    case r4::SearchParamType::kString:
      IndexStringNode(node, sink);
      break;
    case r4::SearchParamType::kToken:
      IndexTokenNode(node, type, sink);
      break;
    case r4::SearchParamType::kReference:
      IndexReferenceNode(node, sink);
      break;
    case r4::SearchParamType::kDate:
      IndexDateNode(node, sink);
      break;
    case r4::SearchParamType::kNumber:
      IndexNumberNode(node, sink);
      break;
    case r4::SearchParamType::kQuantity:
      IndexQuantityNode(node, sink);
      break;
    case r4::SearchParamType::kUri:
      IndexUriNode(node, sink);
      break;
    case r4::SearchParamType::kComposite:
    case r4::SearchParamType::kSpecial:
      break;
  }
}

// Index rows of a System value the evaluator computed (a boolean, a string, a quantity).
void IndexSystemValue(r4::SearchParamType param_type, const fhirpath::Item& item, Sink& sink) {
  if (param_type == r4::SearchParamType::kToken && item.kind == fhirpath::Item::Kind::kBoolean) {
    sink.Token("", item.boolean ? "true" : "false");
    return;
  }
  if (param_type == r4::SearchParamType::kQuantity &&
      item.kind == fhirpath::Item::Kind::kQuantity) {
    sink.Quantity(static_cast<double>(item.quantity.value.value), "http://unitsofmeasure.org",
                  item.quantity.unit, item.quantity.unit);
    return;
  }
  std::optional<std::string> text = fhirpath::ToStringValue(item);
  if (!text)
    return;
  switch (param_type) {
    case r4::SearchParamType::kString:
      sink.String(*text);
      break;
    case r4::SearchParamType::kToken:
      sink.Token("", *text);
      break;
    case r4::SearchParamType::kReference:
      IndexReferenceText(*text, sink);
      break;
    case r4::SearchParamType::kDate:
      IndexDateText(*text, sink);
      break;
    case r4::SearchParamType::kNumber:
      if (auto number = ParseNumber(*text))
        sink.Number(*number, *text);
      break;
    case r4::SearchParamType::kQuantity:
      if (auto number = ParseNumber(*text))
        sink.Quantity(*number, "", "", "");
      break;
    case r4::SearchParamType::kUri:
      sink.Uri(*text);
      break;
    case r4::SearchParamType::kComposite:
    case r4::SearchParamType::kSpecial:
      break;
  }
}

void IndexValue(r4::SearchParamType type, const fhirpath::Item& item, Sink& sink) {
  if (!item.IsNode()) {
    IndexSystemValue(type, item, sink);
  } else if (item.node != nullptr) {
    IndexNode(type, *item.node, item.type, sink);
  }
}

// The resource type a reference names ("Patient" for "Patient/1" and for
// "http://x/fhir/Patient/1"): what the resolver's stub for it would be. Empty when none.
std::string_view ReferencedType(std::string_view reference) {
  std::string_view ref = NormalisedView(reference);
  size_t slash = ref.rfind('/');
  if (slash == std::string_view::npos)
    return {};
  std::string_view head = ref.substr(0, slash);
  size_t previous = head.rfind('/');
  std::string_view type = previous == std::string_view::npos ? head : head.substr(previous + 1);
  return r4::IsResourceType(type) ? type : std::string_view();
}

}  // namespace

// The compiled walk ---------------------------------------------------------------------------
//
// A FastExpression is a union of branches; a branch starts at the evaluation focus (the
// resource, or a composite's value for its components) and applies its steps to the whole
// collection in turn, as the evaluator does. Every step mirrors the evaluator's code for the
// same construct (ChildrenNamed, AppendChildren, AsType, resolve(), `=`, `|`); where the
// evaluator would take a path the walk does not reproduce, the walk gives up ("bails") and the
// parameter is evaluated by fhir/fhirpath instead.

struct FastStep {
  enum class Kind : uint8_t {
    kChild,           // .name (also a choice element's typed keys)
    kOfType,          // .ofType(T), and (x as T), which the extractor rewrites to ofType
    kAs,              // .as(T): as ofType, but an error for several items
    kWhereResolveIs,  // .where(resolve() is T)
    kWhereEquals,     // .where(name = 'literal')
  };
  Kind kind = Kind::kChild;
  std::string name;     // kChild, kWhereEquals: the element name
  std::string literal;  // kWhereEquals
  std::string type;     // kOfType, kAs, kWhereResolveIs
  // kChild, kWhereEquals: the model's answer for `name` under the parent type the compiler
  // expects (cached when expected_known); other parents ask the model.
  bool expected_known = false;
  std::string_view expected_type;
  const void* expected_definition = nullptr;
  bool child_known = false;
  fhirpath::ModelInfo::Child child;
  // kChild of a choice element under the expected parent: the model's answer for each typed
  // key ("valueQuantity"), for the keys the element's definition allows.
  std::vector<std::pair<std::string, fhirpath::ModelInfo::Child>> choices;
  // kChild, kWhereEquals: the slot of `name` in the type's table of element names, which
  // Index() fills from the resource's members once (-1: none).
  int root_slot = -1;
};

struct FastBranch {
  std::vector<FastStep> steps;
};

struct FastExpression {
  std::vector<FastBranch> branches;
};

namespace {

const fhirpath::ModelInfo& Model() {
  return fhirpath::R4ModelInfo();
}

// One item of a walk: a JSON node that is not null, with its FHIR type and definition handle
// as the evaluator's Item would carry them.
struct FastNode {
  const Json* node = nullptr;
  std::string_view type;
  const void* definition = nullptr;
};

// What the resource has for one element name (see Extractor::TypePlans::slots_by_letter).
struct RootSlot {
  const Json* value = nullptr;              // "name"
  const Json* extension = nullptr;          // "_name"
  uint8_t choices = 0;                      // keys "nameX..." (X upper case), up to 2
  uint8_t choice_extensions = 0;            // keys "_nameX..."
  const std::string* choice_key = nullptr;  // the first of them
  const Json* choice_member = nullptr;
};

struct WalkScratch {
  // The resource whose members root_slots describes (set by Index()), and the table.
  const Json* root_slots_for = nullptr;
  std::vector<RootSlot> root_slots;
  // Set by Index() for the resource it is indexing: the root item needs no lookups then.
  const Json* root_resource = nullptr;
  // The last resource type's root item fields (they depend on the type name only).
  std::string root_type_name;
  std::string_view root_type;
  const void* root_definition = nullptr;
  std::vector<FastNode> current;
  std::vector<FastNode> next;
  std::vector<FastNode> members;  // where(name = ...)
  std::vector<FastNode> values;   // the expression's result
  std::vector<FastNode> parts;    // a composite component's result
  std::vector<IndexEntry> rows;   // a composite value's rows
};

bool IsQuantityType(std::string_view t) {
  return t == "Quantity" || t == "Age" || t == "Duration" || t == "Distance" || t == "Count" ||
         t == "SimpleQuantity" || t == "MoneyQuantity";
}

bool IsTemporalType(std::string_view t) {
  return t == "date" || t == "dateTime" || t == "instant" || t == "time";
}

bool IsSystemTypeName(std::string_view name) {
  static constexpr std::array<std::string_view, 9> kNames = {
      "Boolean", "Integer", "Decimal", "String", "Date", "DateTime", "Time", "Quantity", "Any"};
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

bool IsUpper(char c) {
  return c >= 'A' && c <= 'Z';
}

enum class Outcome : uint8_t { kNo, kYes, kBail };

// The member `key` of `object` (Find without building "_" + name strings).
const Json* FindUnderscored(const Json& object, std::string_view key) {
  for (const auto& [name, value] : object.Members()) {
    if (name.size() == key.size() + 1 && name[0] == '_' &&
        std::string_view(name).substr(1) == key) {
      return &value;
    }
  }
  return nullptr;
}

// AppendChildren/ChildItem for one value; false to bail.
bool PushChild(const Json* value, const fhirpath::ModelInfo::Child& info,
               std::vector<FastNode>& out) {
  if (value->IsObject()) {
    // A resource inside an element: the evaluator types it by its resourceType.
    for (const auto& [key, member] : value->Members()) {
      if (key.size() == 12 && key[0] == 'r' && std::memcmp(key.data(), "resourceType", 12) == 0 &&
          member.IsString() && !member.GetString().empty()) {
        return false;
      }
    }
  }
  out.push_back(FastNode{value, info.type, info.definition});
  return true;
}

// AppendChildren: array items in order, nulls skipped. Extension-only primitives (a "_name"
// entry without a value) would be items with no node: bail rather than model them.
bool AppendChildren(const Json* value, const Json* extension,
                    const fhirpath::ModelInfo::Child& info, std::vector<FastNode>& out) {
  if (value != nullptr && value->IsNull())
    value = nullptr;
  bool value_array = value != nullptr && value->IsArray();
  bool extension_array = extension != nullptr && extension->IsArray();
  if (value_array || extension_array) {
    if (value != nullptr && !value_array)
      return false;
    size_t count = value_array ? value->Items().size() : 0;
    if (extension_array) {
      const Json::Array& extensions = extension->Items();
      for (size_t i = 0; i < extensions.size(); ++i) {
        if (extensions[i].IsNull())
          continue;
        if (i >= count || value->Items()[i].IsNull())
          return false;
      }
    }
    for (size_t i = 0; i < count; ++i) {
      const Json& item = value->Items()[i];
      if (item.IsNull())
        continue;
      if (!PushChild(&item, info, out))
        return false;
    }
    return true;
  }
  if (value == nullptr)
    return extension == nullptr;
  return PushChild(value, info, out);
}

fhirpath::ModelInfo::Child ChildInfo(const FastNode& parent, const FastStep& step) {
  if (step.expected_known && parent.definition == step.expected_definition &&
      Equal(parent.type, step.expected_type)) {
    return step.child_known ? step.child : fhirpath::ModelInfo::Child{};
  }
  fhirpath::ModelInfo::Child info;
  if (!Model().FindChild(parent.type, parent.definition, step.name, &info)) {
    info = fhirpath::ModelInfo::Child{};
  }
  return info;
}

// A typed key of choice element `name[x]` ("valueQuantity"): appends its items. -1 to bail,
// 0 when the key is not one of the choice's (e.g. "statusReason" for "status").
int ChoiceChildren(const FastNode& parent, const FastStep& step, const std::string& key,
                   const Json& member, const Json* extension, std::vector<FastNode>& out) {
  fhirpath::ModelInfo::Child info;
  bool cached = false;
  if (step.expected_known && parent.definition == step.expected_definition &&
      Equal(parent.type, step.expected_type)) {
    for (const auto& [choice_key, choice_info] : step.choices) {
      if (Equal(choice_key, key)) {
        info = choice_info;
        cached = true;
        break;
      }
    }
  }
  if (!cached) {
    if (!Model().FindChild(parent.type, parent.definition, key, &info)) {
      return -1;  // the evaluator guesses a type from the suffix
    }
    if (!info.is_choice || !Equal(info.choice_name, step.name))
      return 0;
  }
  return AppendChildren(&member, extension, info, out) ? 1 : -1;
}

// ChildrenNamed (non-strict): `name`, or the typed keys of a choice element `name[x]`.
bool Children(const FastNode& parent, const FastStep& step, const WalkScratch& scratch,
              std::vector<FastNode>& out) {
  const Json& object = *parent.node;
  // A primitive has only `extension` and `id` children, which are never compiled.
  if (!object.IsObject())
    return true;
  std::string_view name = step.name;
  const size_t size = name.size();
  const Json* value = nullptr;
  const Json* extension = nullptr;
  bool choice = false;
  if (step.root_slot >= 0 && scratch.root_slots_for == &object) {
    // The resource's own members, looked up once by Index().
    const RootSlot& slot = scratch.root_slots[static_cast<size_t>(step.root_slot)];
    if (slot.value != nullptr || slot.extension != nullptr) {
      return AppendChildren(slot.value, slot.extension, ChildInfo(parent, step), out);
    }
    if (slot.choices == 0)
      return true;
    if (slot.choices == 1) {
      const Json* choice_extension =
          slot.choice_extensions == 0 ? nullptr : FindUnderscored(object, *slot.choice_key);
      return ChoiceChildren(parent, step, *slot.choice_key, *slot.choice_member, choice_extension,
                            out) >= 0;
    }
    choice = true;
  } else {
    const char first = name[0];
    // One pass for `name`, `_name` and `nameType` keys; most keys differ in the first byte.
    for (const auto& [key, member] : object.Members()) {
      const size_t key_size = key.size();
      if (key_size < size)
        continue;
      const char* k = key.data();
      if (k[0] == '_') {
        if (key_size == size + 1 && std::memcmp(k + 1, name.data(), size) == 0) {
          extension = &member;
        }
        continue;
      }
      if (k[0] != first || std::memcmp(k, name.data(), size) != 0)
        continue;
      if (key_size == size) {
        value = &member;
      } else if (IsUpper(k[size])) {
        choice = true;
      }
    }
    if (value != nullptr || extension != nullptr) {
      return AppendChildren(value, extension, ChildInfo(parent, step), out);
    }
  }
  if (!choice)
    return true;
  for (const auto& [key, member] : object.Members()) {
    if (key.size() <= size || key.compare(0, size, name) != 0 || !IsUpper(key[size])) {
      continue;
    }
    if (ChoiceChildren(parent, step, key, member, FindUnderscored(object, key), out) < 0) {
      return false;
    }
  }
  return true;
}

// ModelInfo::IsA, remembered per thread (the walk asks the same few questions again and again).
bool IsA(std::string_view type, std::string_view ancestor) {
  struct Entry {
    std::string type;
    std::string ancestor;
    bool result = false;
  };
  thread_local std::array<Entry, 64> cache;
  // Type names are mostly the model's static strings: their addresses pick the entry, and the
  // entry's copies are compared by content.
  size_t hash = (reinterpret_cast<uintptr_t>(type.data()) >> 3) * 31 +
                (reinterpret_cast<uintptr_t>(ancestor.data()) >> 3) + type.size();
  Entry& entry = cache[hash % cache.size()];
  if (!entry.type.empty() && Equal(entry.type, type) && Equal(entry.ancestor, ancestor)) {
    return entry.result;
  }
  entry.type.assign(type);
  entry.ancestor.assign(ancestor);
  entry.result = Model().IsA(type, ancestor);
  return entry.result;
}

// Matches() for ofType/as (exact) and is (not exact).
Outcome MatchesType(std::string_view type, std::string_view name, bool exact) {
  if (type.empty())
    return Outcome::kBail;  // the evaluator guesses from the JSON
  if (Equal(type, name))
    return Outcome::kYes;
  // Exact for primitives: code is not cast to string.
  if (exact && std::islower(static_cast<unsigned char>(type[0])))
    return Outcome::kNo;
  return IsA(type, name) ? Outcome::kYes : Outcome::kNo;
}

// resolve() is T, with the extractor's resolver (a stub of the referenced type).
Outcome ResolvesTo(const FastNode& item, std::string_view type, const Json& root) {
  const Json& node = *item.node;
  if (!node.IsObject() || IsQuantityType(item.type))
    return Outcome::kBail;
  std::string_view reference = node.GetStringMember("reference");
  if (reference.empty())
    return Outcome::kNo;
  std::string_view target_type;
  if (reference[0] == '#') {
    const Json* target = nullptr;
    if (const Json* contained = root.Find("contained")) {
      if (contained->IsArray()) {
        for (const Json& c : contained->Items()) {
          if (c.GetStringMember("id") == reference.substr(1))
            target = &c;
        }
      }
    }
    if (target == nullptr)
      return Outcome::kNo;
    if (!target->IsObject())
      return Outcome::kBail;
    std::string_view resource_type = target->GetStringMember("resourceType");
    if (resource_type.empty())
      return Outcome::kBail;
    std::string_view canonical = Model().CanonicalTypeName(resource_type);
    target_type = canonical.empty() ? resource_type : canonical;
  } else {
    target_type = ReferencedType(reference);
    if (target_type.empty())
      return Outcome::kNo;
  }
  return MatchesType(target_type, type, false);
}

// where(name = 'literal').
Outcome MemberEquals(const FastNode& item, const FastStep& step, const WalkScratch& scratch,
                     std::vector<FastNode>& members) {
  members.clear();
  if (!Children(item, step, scratch, members))
    return Outcome::kBail;
  if (members.size() != 1)
    return Outcome::kNo;  // {} = x is empty; sizes differ: false
  const FastNode& member = members[0];
  if (!member.node->IsString() || IsTemporalType(member.type))
    return Outcome::kBail;
  return member.node->GetString() == step.literal ? Outcome::kYes : Outcome::kNo;
}

// Whether the evaluator's `|` would take two items as equal (ItemsEqual); kBail when that
// needs its System-value comparison (numbers, dates, quantities in different units).
Outcome UnionEqual(const FastNode& a, const FastNode& b) {
  const Json& x = *a.node;
  const Json& y = *b.node;
  if (x.IsArray() || y.IsArray())
    return Outcome::kBail;
  if (x.IsObject() && y.IsObject()) {
    auto quantity_value = [](const FastNode& n) -> const Json* {
      if (!IsQuantityType(n.type))
        return nullptr;
      const Json* value = n.node->Find("value");
      return value != nullptr && value->IsNumber() ? value : nullptr;
    };
    const Json* qx = quantity_value(a);
    const Json* qy = quantity_value(b);
    if (qx == nullptr && qy == nullptr) {
      return fhir::JsonValuesEqual(x, y) ? Outcome::kYes : Outcome::kNo;
    }
    if ((qx == nullptr) != (qy == nullptr))
      return Outcome::kNo;
    auto unit = [](const Json& q) {
      std::string_view code = q.GetStringMember("code");
      std::string_view text = !code.empty() ? code : q.GetStringMember("unit");
      return text.empty() ? std::string_view("1") : text;
    };
    if (unit(x) != unit(y))
      return Outcome::kBail;
    if (qx->GetString() == qy->GetString())
      return Outcome::kYes;
    long double vx = std::strtold(qx->GetString().c_str(), nullptr);
    long double vy = std::strtold(qy->GetString().c_str(), nullptr);
    long double scale = std::max({1.0L, std::fabs(vx), std::fabs(vy)});
    return std::fabs(vx - vy) > 1e-9L * scale ? Outcome::kNo : Outcome::kBail;
  }
  if (x.IsObject() || y.IsObject())
    return Outcome::kNo;  // a node and a System value
  if (x.IsString() && y.IsString() && !IsTemporalType(a.type) && !IsTemporalType(b.type)) {
    return x.GetString() == y.GetString() ? Outcome::kYes : Outcome::kNo;
  }
  return Outcome::kBail;
}

// Evaluates `expression` with `focus` as the initial focus; false to bail.
bool Walk(const FastExpression& expression, const FastNode& focus, const Json& root,
          WalkScratch& scratch, std::vector<FastNode>& out) {
  out.clear();
  for (const FastBranch& branch : expression.branches) {
    std::vector<FastNode>& current = scratch.current;
    std::vector<FastNode>& next = scratch.next;
    current.clear();
    current.push_back(focus);
    for (const FastStep& step : branch.steps) {
      next.clear();
      switch (step.kind) {
        case FastStep::Kind::kChild:
          for (const FastNode& item : current) {
            if (!Children(item, step, scratch, next))
              return false;
          }
          break;
        case FastStep::Kind::kAs:
          if (current.size() > 1)
            return false;  // an error for the evaluator
          [[fallthrough]];
        case FastStep::Kind::kOfType:
          for (const FastNode& item : current) {
            Outcome match = MatchesType(item.type, step.type, true);
            if (match == Outcome::kBail)
              return false;
            if (match == Outcome::kYes)
              next.push_back(item);
          }
          break;
        case FastStep::Kind::kWhereResolveIs:
          for (const FastNode& item : current) {
            Outcome match = ResolvesTo(item, step.type, root);
            if (match == Outcome::kBail)
              return false;
            if (match == Outcome::kYes)
              next.push_back(item);
          }
          break;
        case FastStep::Kind::kWhereEquals:
          for (const FastNode& item : current) {
            Outcome match = MemberEquals(item, step, scratch, scratch.members);
            if (match == Outcome::kBail)
              return false;
            if (match == Outcome::kYes)
              next.push_back(item);
          }
          break;
      }
      current.swap(next);
      if (current.empty())
        break;
    }
    if (expression.branches.size() == 1) {
      out.swap(current);
      return true;
    }
    // `|`: every item not equal to one before it.
    for (const FastNode& item : current) {
      bool seen = false;
      for (const FastNode& kept : out) {
        Outcome equal = UnionEqual(kept, item);
        if (equal == Outcome::kBail)
          return false;
        if (equal == Outcome::kYes) {
          seen = true;
          break;
        }
      }
      if (!seen)
        out.push_back(item);
    }
  }
  return true;
}

// Compiling -----------------------------------------------------------------------------------

// The type the compiler expects the items to have at a point of a branch.
struct StaticType {
  bool known = false;
  std::string_view type;
  const void* definition = nullptr;
  std::string path;  // the element path ("Observation.component"), when known
};

class FastCompiler {
 public:
  // `resource_type`: the type an absolute expression starts from; `focus`: the focus type.
  FastCompiler(std::string_view text, std::string_view resource_type, StaticType focus,
               bool relative)
      : text_(text), resource_type_(resource_type), focus_(focus), relative_(relative) {}

  std::optional<FastExpression> Compile() {
    FastExpression expression;
    do {
      std::optional<FastBranch> branch = Branch();
      if (!branch)
        return std::nullopt;
      expression.branches.push_back(std::move(*branch));
    } while (Accept('|'));
    Skip();
    if (pos_ != text_.size())
      return std::nullopt;
    return expression;
  }

  StaticType GetResultType() const { return result_; }

 private:
  std::optional<FastBranch> Branch() {
    FastBranch branch;
    StaticType type = focus_;
    Skip();
    if (pos_ < text_.size() && text_[pos_] == '(') {
      // (path as T): the extractor rewrites it to path.ofType(T), written exactly so.
      static const std::regex kAs(R"(^\(([A-Za-z0-9_.]+) as ([A-Za-z]+)\))");
      std::string rest(text_.substr(pos_));
      if (!std::regex_search(rest, kAs))
        return std::nullopt;
      ++pos_;
      if (!Path(branch, type, /*plain=*/true))
        return std::nullopt;
      if (Identifier() != "as")
        return std::nullopt;
      std::string name(Identifier());
      if (!TypeStep(FastStep::Kind::kOfType, name, branch, type))
        return std::nullopt;
      if (!Accept(')'))
        return std::nullopt;
      while (Accept('.')) {
        if (!Step(branch, type, false))
          return std::nullopt;
      }
    } else if (!Path(branch, type, false)) {
      return std::nullopt;
    }
    result_ = type;
    return branch;
  }

  bool Path(FastBranch& branch, StaticType& type, bool plain) {
    size_t before = pos_;
    std::string_view first = Identifier();
    if (first.empty())
      return false;
    if (IsUpper(first[0])) {
      // A leading type name selects the focus: only the resource's own type (or a base).
      if (relative_)
        return false;
      if (first != resource_type_ && first != "Resource" && first != "DomainResource") {
        return false;
      }
    } else {
      pos_ = before;
      if (!Step(branch, type, plain))
        return false;
    }
    while (Accept('.')) {
      if (!Step(branch, type, plain))
        return false;
    }
    return true;
  }

  bool Step(FastBranch& branch, StaticType& type, bool plain) {
    std::string name(Identifier());
    if (name.empty() || IsUpper(name[0]))
      return false;
    if (!Accept('(')) {
      if (name == "extension" || name == "id" || name == "modifierExtension" || name == "as" ||
          name == "is") {
        return false;
      }
      branch.steps.push_back(ChildStep(name, type));
      return true;
    }
    if (plain)
      return false;
    if (name == "ofType" || name == "as") {
      std::string type_name(Identifier());
      if (!Accept(')'))
        return false;
      return TypeStep(name == "as" ? FastStep::Kind::kAs : FastStep::Kind::kOfType, type_name,
                      branch, type);
    }
    if (name != "where")
      return false;
    std::string_view left = Identifier();
    if (left == "resolve") {
      if (!Accept('(') || !Accept(')') || Identifier() != "is")
        return false;
      std::string type_name(Identifier());
      if (!Accept(')') || !KnownType(type_name))
        return false;
      FastStep step;
      step.kind = FastStep::Kind::kWhereResolveIs;
      step.type = type_name;
      branch.steps.push_back(std::move(step));
      return true;
    }
    if (left.empty() || IsUpper(left[0]) || left == "extension" || left == "id")
      return false;
    StaticType member_type = type;  // the where() keeps its focus type
    FastStep step = ChildStep(std::string(left), member_type);
    step.kind = FastStep::Kind::kWhereEquals;
    if (!Accept('='))
      return false;
    std::optional<std::string> literal = StringLiteral();
    if (!literal || !Accept(')'))
      return false;
    step.literal = std::move(*literal);
    branch.steps.push_back(std::move(step));
    return true;
  }

  FastStep ChildStep(std::string name, StaticType& type) {
    FastStep step;
    step.kind = FastStep::Kind::kChild;
    step.name = std::move(name);
    StaticType parent = type;
    type = StaticType{};
    if (parent.known) {
      step.expected_known = true;
      step.expected_type = parent.type;
      step.expected_definition = parent.definition;
      step.child_known = Model().FindChild(parent.type, parent.definition, step.name, &step.child);
      if (!step.child_known)
        step.child = fhirpath::ModelInfo::Child{};
      std::string path = parent.path.empty() ? std::string() : parent.path + "." + step.name;
      if (step.child_known && !step.child.is_choice && !step.child.type.empty()) {
        type = StaticType{true, step.child.type, step.child.definition,
                          step.child.type == "BackboneElement" || step.child.type == "Element"
                              ? path
                              : std::string(step.child.type)};
      }
      if (!step.child_known && !path.empty())
        AddChoices(path, parent, step);
    }
    return step;
  }

  // The typed keys of choice element `path`[x] as the model resolves them under `parent`.
  static void AddChoices(const std::string& path, const StaticType& parent, FastStep& step) {
    const r4::ElementDefinition* element = r4::FindElement(path + "[x]");
    if (element == nullptr || !element->is_choice)
      return;
    for (std::string_view choice_type : element->types) {
      if (choice_type.empty())
        continue;
      std::string key = step.name;
      key += static_cast<char>(std::toupper(static_cast<unsigned char>(choice_type[0])));
      key += choice_type.substr(1);
      fhirpath::ModelInfo::Child info;
      if (Model().FindChild(parent.type, parent.definition, key, &info) && info.is_choice &&
          info.choice_name == step.name) {
        step.choices.emplace_back(std::move(key), info);
      }
    }
  }

  bool TypeStep(FastStep::Kind kind, const std::string& name, FastBranch& branch,
                StaticType& type) {
    if (!KnownType(name))
      return false;
    FastStep step;
    step.kind = kind;
    step.type = name;
    branch.steps.push_back(std::move(step));
    // The items are then (usually) of exactly that type, with its root's children.
    type = StaticType{};
    if (const r4::TypeDefinition* definition = r4::FindType(name)) {
      type = StaticType{true, definition->name, definition->root, std::string(definition->name)};
    }
    return true;
  }

  static bool KnownType(std::string_view name) {
    return IsSystemTypeName(name) || Model().IsKnownType(name);
  }

  void Skip() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n')) ++pos_;
  }
  bool Accept(char c) {
    Skip();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  std::string_view Identifier() {
    Skip();
    size_t start = pos_;
    while (pos_ < text_.size() &&
           (std::isalnum(static_cast<unsigned char>(text_[pos_])) || text_[pos_] == '_')) {
      ++pos_;
    }
    if (start < text_.size() && std::isdigit(static_cast<unsigned char>(text_[start]))) {
      pos_ = start;
      return {};
    }
    return text_.substr(start, pos_ - start);
  }
  std::optional<std::string> StringLiteral() {
    Skip();
    if (pos_ >= text_.size() || text_[pos_] != '\'')
      return std::nullopt;
    size_t end = text_.find('\'', pos_ + 1);
    if (end == std::string_view::npos)
      return std::nullopt;
    std::string_view body = text_.substr(pos_ + 1, end - pos_ - 1);
    if (body.find('\\') != std::string_view::npos)
      return std::nullopt;
    pos_ = end + 1;
    return std::string(body);
  }

  std::string_view text_;
  std::string_view resource_type_;
  StaticType focus_;
  bool relative_;
  size_t pos_ = 0;
  StaticType result_;
};

// ---- Derived parameters ----------------------------------------------------------------

// Top-level operands of a union ("A | (B as T)" -> "A", "(B as T)"), trimmed, outer
// parentheses removed, "X as T" written "X.as(T)". Empty when the text is not understood.
std::vector<std::string> UnionOperands(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  int depth = 0;
  char quote = 0;
  auto flush = [&]() {
    std::string_view op = current;
    while (!op.empty() && op.front() == ' ') op.remove_prefix(1);
    while (!op.empty() && op.back() == ' ') op.remove_suffix(1);
    // Outer parentheses spanning the whole operand.
    while (op.size() >= 2 && op.front() == '(' && op.back() == ')') {
      int d = 0;
      bool spans = true;
      for (size_t i = 0; i < op.size(); ++i) {
        if (op[i] == '(')
          ++d;
        if (op[i] == ')')
          --d;
        if (d == 0 && i + 1 < op.size()) {
          spans = false;
          break;
        }
      }
      if (!spans)
        break;
      op = op.substr(1, op.size() - 2);
    }
    static const std::regex kAs(R"(^([A-Za-z0-9_.]+) as ([A-Za-z]+)$)");
    std::string normal = std::regex_replace(std::string(op), kAs, "$1.as($2)");
    out.push_back(std::move(normal));
    current.clear();
  };
  for (char c : text) {
    if (quote != 0) {
      if (c == quote)
        quote = 0;
    } else if (c == '\'' || c == '"' || c == '`') {
      quote = c;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    } else if (c == '|' && depth == 0) {
      flush();
      continue;
    }
    current.push_back(c);
  }
  if (quote != 0 || depth != 0)
    return {};
  flush();
  for (const std::string& op : out) {
    if (op.empty())
      return {};
  }
  return out;
}

// FHIR types whose items never give rows for a parameter type (structurally: SampledData has
// no value/low/high, so IndexQuantity gives nothing).
bool NeverIndexed(r4::SearchParamType type, std::string_view fhir_type) {
  return type == r4::SearchParamType::kQuantity && fhir_type == "SampledData";
}

}  // namespace

void Extractor::FindDerivations(std::string_view type, std::vector<ParamPlan>& plans) {
  using Derivation = ParamPlan::Derivation;
  std::vector<std::vector<std::string>> operands;
  operands.reserve(plans.size());
  for (const ParamPlan& plan : plans)
    operands.push_back(UnionOperands(plan.definition->expression));
  auto plain = [&](const ParamPlan& p) {
    return p.parsed && p.derivation == Derivation::kNone &&
           p.definition->type != r4::SearchParamType::kComposite;
  };
  // Decisions use only plain (kNone) sources; derived parameters are decided after every
  // source candidate has been looked at, so order does not matter: a parameter that is a
  // source is itself only derived when its own rule holds, checked below.
  std::vector<Derivation> decided(plans.size(), Derivation::kNone);
  std::vector<std::vector<std::string>> sources(plans.size());
  std::vector<std::string> resolve_types(plans.size());
  static const std::regex kResolve(R"(^(.+)\.where\(resolve\(\) is ([A-Za-z]+)\)$)");
  for (size_t i = 0; i < plans.size(); ++i) {
    const ParamPlan& plan = plans[i];
    const r4::SearchParamDefinition& def = *plan.definition;
    if (!plan.parsed || operands[i].empty())
      continue;
    if (def.type == r4::SearchParamType::kComposite) {
      // (3) A composite over the resource itself.
      if (def.expression != type || plan.components.size() < 2)
        continue;
      std::vector<std::string> found;
      for (size_t k = 0; k < plan.components.size(); ++k) {
        const ParamPlan::Component& component = plan.components[k];
        if (!component.parsed || k >= def.components.size())
          break;
        const ParamPlan* source = nullptr;
        for (const ParamPlan& p : plans) {
          if (p.definition == component.definition)
            source = &p;
        }
        if (source == nullptr || !plain(*source) ||
            source->definition->type != component.definition->type) {
          break;
        }
        // The component, evaluated on the resource, must be one operand of the source; the
        // other operands must be the same choice element as types that give no rows.
        std::vector<std::string> mine = UnionOperands(def.components[k].expression);
        if (mine.size() != 1)
          break;
        std::string wanted = std::string(type) + "." + mine[0];
        std::vector<std::string> theirs = UnionOperands(source->definition->expression);
        bool matched = false;
        bool ok = !theirs.empty();
        static const std::regex kAsCall(R"(^(.+)\.as\(([A-Za-z]+)\)$)");
        std::smatch want_as;
        bool wanted_is_as = std::regex_match(wanted, want_as, kAsCall);
        for (const std::string& op : theirs) {
          if (op == wanted) {
            matched = true;
            continue;
          }
          std::smatch other;
          if (wanted_is_as && std::regex_match(op, other, kAsCall) &&
              other[1].str() == want_as[1].str() &&
              NeverIndexed(source->definition->type, other[2].str())) {
            continue;
          }
          ok = false;
        }
        if (!ok || !matched)
          break;
        found.push_back(std::string(source->definition->code));
      }
      if (found.size() == plan.components.size()) {
        decided[i] = Derivation::kRootComposite;
        sources[i] = std::move(found);
      }
      continue;
    }
    // (2) X.where(resolve() is T) where another reference parameter is X.
    std::smatch match;
    std::string expression(def.expression);
    if (def.type == r4::SearchParamType::kReference && operands[i].size() == 1 &&
        std::regex_match(expression, match, kResolve)) {
      for (size_t j = 0; j < plans.size(); ++j) {
        if (j == i || !plain(plans[j]) ||
            plans[j].definition->type != r4::SearchParamType::kReference ||
            plans[j].definition->expression != match[1].str()) {
          continue;
        }
        decided[i] = Derivation::kResolveFilter;
        sources[i] = {std::string(plans[j].definition->code)};
        resolve_types[i] = match[2].str();
        break;
      }
      continue;
    }
    // (0) A string parameter with the same expression as another (`phonetic` and `name` of
    // Patient, Person, Practitioner, RelatedPerson: X.name): the same rows, :cjk search aids
    // included. The smallest code stays stored. (Other types have such pairs too, mostly
    // references, e.g. Coverage `patient` and `beneficiary`; not derived: not measured.)
    bool same = false;
    for (size_t j = 0; j < plans.size() && !same && def.type == r4::SearchParamType::kString; ++j) {
      if (j == i || !plain(plans[j]) || plans[j].definition->type != def.type ||
          plans[j].definition->expression != def.expression ||
          plans[j].definition->code >= def.code) {
        continue;
      }
      decided[i] = Derivation::kUnion;
      sources[i] = {std::string(plans[j].definition->code)};
      same = true;
    }
    if (same)
      continue;
    // (1) A union of whole expressions of other parameters of the same type. Not for string
    // parameters: their rows keep the first raw text of equal folded values (:exact).
    if (operands[i].size() < 2 || def.type == r4::SearchParamType::kString)
      continue;
    std::vector<bool> covered(operands[i].size(), false);
    std::vector<std::string> used;
    for (size_t j = 0; j < plans.size(); ++j) {
      if (j == i || !plain(plans[j]) || plans[j].definition->type != def.type ||
          operands[j].empty() || operands[j].size() >= operands[i].size()) {
        continue;
      }
      std::vector<size_t> at;
      for (const std::string& op : operands[j]) {
        auto it = std::find(operands[i].begin(), operands[i].end(), op);
        if (it == operands[i].end())
          break;
        at.push_back(static_cast<size_t>(it - operands[i].begin()));
      }
      if (at.size() != operands[j].size())
        continue;
      for (size_t k : at) covered[k] = true;
      used.push_back(std::string(plans[j].definition->code));
    }
    if (!used.empty() && std::all_of(covered.begin(), covered.end(), [](bool b) { return b; })) {
      decided[i] = Derivation::kUnion;
      sources[i] = std::move(used);
    }
  }
  // A source must itself stay stored: drop derivations whose sources were derived.
  for (size_t i = 0; i < plans.size(); ++i) {
    if (decided[i] == Derivation::kNone)
      continue;
    bool ok = true;
    for (const std::string& code : sources[i]) {
      for (size_t j = 0; j < plans.size(); ++j) {
        if (plans[j].definition->code == code && decided[j] != Derivation::kNone)
          ok = false;
      }
    }
    if (!ok)
      continue;
    plans[i].derivation = decided[i];
    plans[i].sources = std::move(sources[i]);
    plans[i].resolve_type = std::move(resolve_types[i]);
  }
}

std::string_view ReferenceType(std::string_view normalised) {
  return ReferencedType(normalised);
}

std::vector<IndexEntry> Extractor::IndexStored(const Json& resource) const {
  return IndexImpl(resource, true);
}

std::string NormaliseReference(std::string_view reference) {
  return std::string(NormalisedView(reference));
}

const Extractor& Extractor::Get() {
  static const Extractor* const kInstance = new Extractor();
  return *kInstance;
}

Extractor::Extractor() {
  for (std::string_view type : r4::ResourceTypeNames()) {
    Json stub = Json::MakeObject();
    stub.Set("resourceType", Json::MakeString(std::string(type)));
    stubs_.emplace(type, std::move(stub));
    types_.emplace(type, std::make_unique<TypePlans>());
  }
  options_.resolver = [this](std::string_view reference) -> const Json* {
    std::string_view type = ReferencedType(reference);
    auto it = stubs_.find(type);
    return it == stubs_.end() ? nullptr : &it->second;
  };
}

const Extractor::TypePlans* Extractor::GetTypePlans(std::string_view type) const {
  auto it = types_.find(type);
  if (it == types_.end())
    return nullptr;
  TypePlans& entry = *it->second;
  std::call_once(entry.once, [&] { Build(it->first, entry); });
  return &entry;
}

void Extractor::Build(std::string_view type, TypePlans& entry) const {
  std::unordered_map<std::string_view, std::pair<fhirpath::Expression, std::string>> parsed;
  auto parse = [&](std::string_view text) -> const std::pair<fhirpath::Expression, std::string>& {
    auto it = parsed.find(text);
    if (it != parsed.end())
      return it->second;
    // The R4 expressions apply `as` to collections ("(Medication.ingredient.item as
    // CodeableConcept)"), which FHIRPath N1 makes an error for several items; evaluate them
    // as the item-wise filter they mean.
    static const std::regex kAs(R"(\(([A-Za-z0-9_.]+) as ([A-Za-z]+)\))");
    std::string rewritten = std::regex_replace(std::string(text), kAs, "($1.ofType($2))");
    core::Result<fhirpath::Expression> result = fhirpath::Parse(rewritten);
    std::pair<fhirpath::Expression, std::string> value;
    if (result) {
      value.first = *result;
    } else {
      value.second = result.error().GetMessage();
    }
    return parsed.emplace(text, std::move(value)).first->second;
  };
  const fhirpath::ModelInfo& model = Model();
  std::unordered_map<std::string, int> slots;
  auto assign_slots = [&](FastExpression& expression) {
    for (FastBranch& branch : expression.branches) {
      for (FastStep& step : branch.steps) {
        if (step.kind != FastStep::Kind::kChild && step.kind != FastStep::Kind::kWhereEquals) {
          continue;
        }
        auto [it, added] = slots.emplace(step.name, static_cast<int>(slots.size()));
        if (added)
          entry.slot_names.push_back(step.name);
        step.root_slot = it->second;
      }
    }
  };
  StaticType resource_static{true, type, model.ResourceDefinition(type), std::string(type)};
  std::vector<ParamPlan>& plans = entry.plans;
  for (const r4::SearchParamDefinition* def : r4::SearchParams(type)) {
    if (Skipped(*def))
      continue;
    ParamPlan plan;
    plan.definition = def;
    const auto& [expression, error] = parse(def->expression);
    plan.parsed = error.empty();
    plan.expression = expression;
    plan.parse_error = error;
    static const std::regex kRoot(R"((?:^|[^A-Za-z0-9_.%])([A-Z][A-Za-z]*)\.([a-z][A-Za-z0-9]*))");
    bool simple = def->expression.find('%') == std::string_view::npos;
    std::string text(def->expression);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), kRoot);
         it != std::sregex_iterator() && simple; ++it) {
      std::string root_type = (*it)[1];
      if (root_type != type && root_type != "Resource" && root_type != "DomainResource") {
        continue;  // e.g. "as Quantity" targets; not a root
      }
      plan.roots.push_back((*it)[2]);
    }
    if (!simple)
      plan.roots.clear();
    FastCompiler compiler(def->expression, type, resource_static, false);
    std::optional<FastExpression> fast = compiler.Compile();
    bool all_fast = fast.has_value();
    for (const auto& component : def->components) {
      ParamPlan::Component c;
      c.definition = r4::FindSearchParam(type, component.code);
      const auto& [component_expression, component_error] = parse(component.expression);
      c.expression = component_expression;
      c.parsed = component_error.empty() && c.definition != nullptr;
      if (all_fast && c.parsed) {
        FastCompiler component_compiler(component.expression, type, compiler.GetResultType(), true);
        if (auto compiled = component_compiler.Compile()) {
          assign_slots(*compiled);
          c.fast = std::make_shared<const FastExpression>(std::move(*compiled));
        }
      }
      all_fast = all_fast && c.fast != nullptr;
      plan.components.push_back(std::move(c));
    }
    if (all_fast && plan.parsed) {
      assign_slots(*fast);
      plan.fast = std::make_shared<const FastExpression>(std::move(*fast));
    }
    plans.push_back(std::move(plan));
  }
  for (size_t i = 0; i < entry.slot_names.size(); ++i) {
    const std::string& name = entry.slot_names[i];
    if (name.empty() || name[0] < 'a' || name[0] > 'z')
      continue;  // never: steps are lower case
    entry.slots_by_letter[static_cast<size_t>(name[0] - 'a')].emplace_back(
        name, static_cast<uint16_t>(i));
  }
  // Root ids, once the plans (and their strings) are in place.
  std::unordered_map<std::string_view, uint16_t> ids;
  for (ParamPlan& plan : plans) {
    for (const std::string& root : plan.roots) {
      auto [it, added] = ids.emplace(root, static_cast<uint16_t>(ids.size()));
      if (added && root[0] >= 'a' && root[0] <= 'z') {
        entry.roots_by_letter[static_cast<size_t>(root[0] - 'a')].emplace_back(root, it->second);
      }
      plan.root_ids.push_back(it->second);
    }
    bool usable = std::all_of(plan.roots.begin(), plan.roots.end(), [](const std::string& r) {
      return !r.empty() && r[0] >= 'a' && r[0] <= 'z';
    });
    bool in_range = std::all_of(plan.root_ids.begin(), plan.root_ids.end(),
                                [](uint16_t id) { return id < kMaxRoots; });
    if (!usable || !in_range)
      plan.root_ids.clear();  // not pre-checked by Index()
  }
  FindDerivations(type, plans);
}

const std::vector<ParamPlan>& Extractor::Plans(std::string_view type) const {
  static const std::vector<ParamPlan> kNone;
  const TypePlans* entry = GetTypePlans(type);
  return entry == nullptr ? kNone : entry->plans;
}

const ParamPlan* Extractor::Find(std::string_view type, std::string_view code) const {
  for (const ParamPlan& plan : Plans(type)) {
    if (plan.definition->code == code)
      return &plan;
  }
  return nullptr;
}

namespace {

// The roots check of IndexParam: some member of the resource starts with one of the roots.
bool RootsPresent(const Json& resource, const ParamPlan& plan) {
  if (plan.roots.empty() || !resource.IsObject())
    return true;
  for (const auto& member : resource.Members()) {
    for (const std::string& root : plan.roots) {
      if (member.first.starts_with(root))
        return true;  // "value" also covers valueQuantity
    }
  }
  return false;
}

// The compiled walk of `plan` (which has one); false to bail.
bool WalkParam(const Json& resource, const ParamPlan& plan, std::vector<IndexEntry>& out,
               WalkScratch& scratch) {
  // The evaluator's focus: MakeResourceItem(resource).
  if (scratch.root_resource != &resource) {
    std::string_view type = resource.GetStringMember("resourceType");
    if (type.empty())
      return false;
    if (scratch.root_type.empty() || !Equal(type, scratch.root_type_name)) {
      std::string_view canonical = Model().CanonicalTypeName(type);
      scratch.root_type_name.assign(type);
      scratch.root_type = canonical.empty() ? std::string_view() : canonical;
      scratch.root_definition = Model().ResourceDefinition(type);
    }
  }
  if (scratch.root_type.empty())
    return false;  // not an R4 type: no plans anyway
  FastNode root{&resource, scratch.root_type, scratch.root_definition};
  std::vector<FastNode> values;
  values.swap(scratch.values);
  bool ok = Walk(*plan.fast, root, resource, scratch, values);
  const r4::SearchParamDefinition& def = *plan.definition;
  if (ok && def.type != r4::SearchParamType::kComposite) {
    Sink sink(def.code, out);
    for (const FastNode& item : values) IndexNode(def.type, *item.node, item.type, sink);
  } else if (ok) {
    // As IndexParam: a composite value is indexed only when every component has a value.
    std::vector<IndexEntry>& rows = scratch.rows;
    int group = 0;
    std::string param;
    for (const FastNode& item : values) {
      rows.clear();
      bool complete = true;
      for (size_t i = 0; i < plan.components.size() && complete; ++i) {
        const ParamPlan::Component& component = plan.components[i];
        if (!Walk(*component.fast, item, resource, scratch, scratch.parts)) {
          ok = false;
          break;
        }
        param.assign(def.code).append(1, kCompositeSeparator).append(std::to_string(group));
        param.append(1, kCompositeSeparator).append(std::to_string(i));
        size_t before = rows.size();
        Sink sink(param, rows, /*companions=*/false);
        for (const FastNode& part : scratch.parts) {
          IndexNode(component.definition->type, *part.node, part.type, sink);
        }
        rows.erase(std::remove_if(rows.begin() + static_cast<std::ptrdiff_t>(before), rows.end(),
                                  [&](const IndexEntry& e) { return e.param != param; }),
                   rows.end());
        complete = rows.size() > before;
      }
      if (!ok)
        break;
      if (complete) {
        out.insert(out.end(), std::make_move_iterator(rows.begin()),
                   std::make_move_iterator(rows.end()));
        ++group;
      }
    }
  }
  values.swap(scratch.values);
  return ok;
}

}  // namespace

// What `resource` has for each element name a compiled step of its type looks up: the same
// answers Children() would find scanning its members, for all steps in one pass.
void Extractor::FillRootSlots(const Json& resource, const TypePlans& entry, void* scratch_ptr) {
  WalkScratch& scratch = *static_cast<WalkScratch*>(scratch_ptr);
  scratch.root_slots_for = nullptr;
  if (!resource.IsObject())
    return;
  scratch.root_slots.assign(entry.slot_names.size(), RootSlot{});
  for (const auto& [key, member] : resource.Members()) {
    if (key.size() < 2) {
      if (key.size() == 1 && key[0] >= 'a' && key[0] <= 'z') {
        for (const auto& [name, slot] : entry.slots_by_letter[static_cast<size_t>(key[0] - 'a')]) {
          if (name.size() == 1)
            scratch.root_slots[slot].value = &member;
        }
      }
      continue;
    }
    const bool underscored = key[0] == '_';
    const char* k = key.data() + (underscored ? 1 : 0);
    const size_t k_size = key.size() - (underscored ? 1 : 0);
    if (k[0] < 'a' || k[0] > 'z')
      continue;
    for (const auto& [name, slot] : entry.slots_by_letter[static_cast<size_t>(k[0] - 'a')]) {
      if (k_size < name.size() || std::memcmp(k, name.data(), name.size()) != 0)
        continue;
      RootSlot& root_slot = scratch.root_slots[slot];
      if (k_size == name.size()) {
        (underscored ? root_slot.extension : root_slot.value) = &member;
      } else if (IsUpper(k[name.size()])) {
        if (underscored) {
          if (root_slot.choice_extensions < 2)
            ++root_slot.choice_extensions;
        } else {
          if (root_slot.choices == 0) {
            root_slot.choice_key = &key;
            root_slot.choice_member = &member;
          }
          if (root_slot.choices < 2)
            ++root_slot.choices;
        }
      }
    }
  }
  scratch.root_slots_for = &resource;
}

namespace {

// Fills the root item fields of `scratch` for `resource` and marks them as its.
bool WalkParamRootForIndex(const Json& resource, WalkScratch& scratch) {
  std::string_view type = resource.GetStringMember("resourceType");
  if (type.empty())
    return false;
  if (scratch.root_type.empty() || !Equal(type, scratch.root_type_name)) {
    std::string_view canonical = Model().CanonicalTypeName(type);
    scratch.root_type_name.assign(type);
    scratch.root_type = canonical.empty() ? std::string_view() : canonical;
    scratch.root_definition = Model().ResourceDefinition(type);
  }
  scratch.root_resource = &resource;
  return true;
}

// One WalkScratch per thread, reused across resources (Index runs on many threads).
WalkScratch& ThreadScratch() {
  thread_local WalkScratch scratch;
  return scratch;
}

}  // namespace

bool Extractor::Run(const Json& resource, const ParamPlan& plan, std::vector<IndexEntry>& out,
                    std::string* error) const {
  if (plan.fast != nullptr) {
    size_t before = out.size();
    if (WalkParam(resource, plan, out, ThreadScratch()))
      return true;
    out.resize(before);  // the walk gave up: the evaluator decides
  }
  return Evaluate(resource, plan, out, error);
}

bool Extractor::IndexParam(const Json& resource, const ParamPlan& plan,
                           std::vector<IndexEntry>& out, std::string* error) const {
  if (!plan.parsed) {
    if (error != nullptr)
      *error = plan.parse_error;
    return false;
  }
  if (!RootsPresent(resource, plan))
    return true;
  return Run(resource, plan, out, error);
}

bool Extractor::IndexParamWithEvaluatorForTest(const Json& resource, const ParamPlan& plan,
                                               std::vector<IndexEntry>& out,
                                               std::string* error) const {
  if (!plan.parsed) {
    if (error != nullptr)
      *error = plan.parse_error;
    return false;
  }
  if (!RootsPresent(resource, plan))
    return true;
  return Evaluate(resource, plan, out, error);
}

bool Extractor::Evaluate(const Json& resource, const ParamPlan& plan, std::vector<IndexEntry>& out,
                         std::string* error) const {
  core::Result<fhirpath::Collection> values =
      fhirpath::Evaluate(plan.expression, resource, options_);
  if (!values) {
    if (error != nullptr)
      *error = values.error().GetMessage();
    return false;
  }
  const r4::SearchParamDefinition& def = *plan.definition;
  if (def.type != r4::SearchParamType::kComposite) {
    Sink sink(def.code, out);
    for (const fhirpath::Item& item : *values) IndexValue(def.type, item, sink);
    return true;
  }
  // A composite value is indexed only when every component has a value; component rows
  // carry no :text/:of-type/:identifier companions.
  bool ok = true;
  int group = 0;
  for (const fhirpath::Item& item : *values) {
    std::vector<IndexEntry> rows;
    bool complete = true;
    for (size_t i = 0; i < plan.components.size() && complete; ++i) {
      const ParamPlan::Component& component = plan.components[i];
      if (!component.parsed) {
        complete = false;
        break;
      }
      core::Result<fhirpath::Collection> parts =
          fhirpath::EvaluateOn(component.expression, {item}, resource, options_);
      if (!parts) {
        if (error != nullptr)
          *error = parts.error().GetMessage();
        ok = false;
        complete = false;
        break;
      }
      std::string param = std::string(def.code) + kCompositeSeparator + std::to_string(group) +
                          kCompositeSeparator + std::to_string(i);
      size_t before = rows.size();
      Sink sink(param, rows, /*companions=*/false);
      for (const fhirpath::Item& part : *parts) {
        IndexValue(component.definition->type, part, sink);
      }
      rows.erase(std::remove_if(rows.begin() + static_cast<std::ptrdiff_t>(before), rows.end(),
                                [&](const IndexEntry& e) { return e.param != param; }),
                 rows.end());
      complete = rows.size() > before;
    }
    if (complete) {
      out.insert(out.end(), std::make_move_iterator(rows.begin()),
                 std::make_move_iterator(rows.end()));
      ++group;
    }
  }
  return ok;
}

namespace {

bool IsContinuationByte(char c) {
  return (static_cast<unsigned char>(c) & 0xC0) == 0x80;
}

// "<code>:cjk" rows (extract.h, kCjkSuffix): the suffixes of CJK string values, and each of
// their CJK characters alone.
void AddCjkSuffixes(std::vector<IndexEntry>& out) {
  const size_t rows = out.size();
  for (size_t i = 0; i < rows; ++i) {
    if (out[i].kind != store::IndexKind::kString ||
        out[i].param.find_first_of(":#") != std::string::npos || !HasCjk(out[i].value)) {
      continue;
    }
    const std::string value = out[i].value;
    const std::string param = out[i].param + std::string(kCjkSuffix);
    auto add = [&](std::string_view text) {
      for (size_t k = rows; k < out.size(); ++k) {
        if (out[k].param == param && out[k].value == text)
          return;
      }
      IndexEntry row;
      row.param = param;
      row.kind = store::IndexKind::kString;
      row.value = std::string(text);
      out.push_back(std::move(row));
    };
    for (size_t start = 0; start < value.size(); ++start) {
      if (IsContinuationByte(value[start]))
        continue;
      size_t end = start;
      for (size_t chars = 0; end < value.size() && chars < kCjkSuffixChars; ++chars) {
        ++end;
        while (end < value.size() && IsContinuationByte(value[end])) ++end;
      }
      add(std::string_view(value.data() + start, end - start));
      size_t first = start + 1;  // the end of the suffix's first character
      while (first < end && IsContinuationByte(value[first])) ++first;
      std::string_view character(value.data() + start, first - start);
      if (first < end && HasCjk(character))
        add(character);
    }
  }
}

// "<token>$<quantity>" rows (extract.h, kPairSeparator) of root composites of a token and a
// quantity parameter whose rows are stored.
void AddTokenQuantityPairs(const std::vector<ParamPlan>& plans, std::vector<IndexEntry>& out) {
  for (const ParamPlan& plan : plans) {
    if (plan.derivation != ParamPlan::Derivation::kRootComposite || plan.sources.size() != 2 ||
        plan.components.size() != 2 ||
        plan.components[0].definition->type != r4::SearchParamType::kToken ||
        plan.components[1].definition->type != r4::SearchParamType::kQuantity) {
      continue;
    }
    const size_t rows = out.size();
    std::string param = plan.sources[0] + kPairSeparator + plan.sources[1];
    for (size_t t = 0; t < rows; ++t) {
      if (out[t].kind != store::IndexKind::kToken || out[t].param != plan.sources[0])
        continue;
      for (size_t q = 0; q < rows; ++q) {
        if (out[q].kind != store::IndexKind::kQuantity || out[q].param != plan.sources[1])
          continue;
        IndexEntry row;
        row.param = param;
        row.kind = store::IndexKind::kQuantity;
        row.value = out[t].value;
        row.system = out[t].system;
        row.number = out[q].number;
        row.raw = out[q].value;
        out.push_back(std::move(row));
      }
    }
  }
}

}  // namespace

void Extractor::AddSearchAids(const std::vector<ParamPlan>& plans, std::vector<IndexEntry>& out) {
  AddCjkSuffixes(out);
  AddTokenQuantityPairs(plans, out);
}

std::vector<IndexEntry> Extractor::Index(const Json& resource) const {
  return IndexImpl(resource, false);
}

std::vector<IndexEntry> Extractor::IndexImpl(const Json& resource, bool stored_only) const {
  std::vector<IndexEntry> out;
  std::string_view type = resource.GetStringMember("resourceType");
  const TypePlans* entry = GetTypePlans(type);
  if (entry == nullptr)
    return out;
  // Which roots the resource has, in one pass over its members.
  RootSet present;
  if (resource.IsObject()) {
    for (const auto& member : resource.Members()) {
      const std::string& key = member.first;
      if (key.empty() || key[0] < 'a' || key[0] > 'z')
        continue;
      for (const auto& [root, id] : entry->roots_by_letter[static_cast<size_t>(key[0] - 'a')]) {
        if (std::string_view(key).starts_with(root))
          present.set(id);
      }
    }
  }
  out.reserve(32);
  WalkScratch& scratch = ThreadScratch();
  // The per-resource lookups are valid for this call only (even if it throws).
  struct Reset {
    WalkScratch& scratch;
    ~Reset() {
      scratch.root_resource = nullptr;
      scratch.root_slots_for = nullptr;
    }
  } reset{scratch};
  if (!WalkParamRootForIndex(resource, scratch))
    scratch.root_resource = nullptr;
  FillRootSlots(resource, *entry, &scratch);
  for (const ParamPlan& plan : entry->plans) {
    if (!plan.parsed)
      continue;
    if (!plan.root_ids.empty() && resource.IsObject()) {
      bool any = false;
      for (uint16_t id : plan.root_ids) any = any || present.test(id);
      if (!any)
        continue;
    } else if (plan.root_ids.empty() && !RootsPresent(resource, plan)) {
      continue;
    }
    if (!stored_only || plan.derivation == ParamPlan::Derivation::kNone) {
      Run(resource, plan, out, nullptr);
    } else if (plan.derivation == ParamPlan::Derivation::kResolveFilter) {
      // Only the :identifier rows (Reference.identifier cannot be tied to the source's
      // reference rows).
      size_t before = out.size();
      Run(resource, plan, out, nullptr);
      out.erase(
          std::remove_if(out.begin() + static_cast<std::ptrdiff_t>(before), out.end(),
                         [&](const IndexEntry& e) { return e.param == plan.definition->code; }),
          out.end());
    }  // kUnion, kRootComposite: no rows of their own
  }
  if (stored_only)
    AddSearchAids(entry->plans, out);
  return out;
}

}  // namespace medalliance::search::internal
