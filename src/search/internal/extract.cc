#include "search/internal/extract.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <optional>
#include <regex>
#include <limits>

#include "core/time.h"
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

bool Skipped(const r4::SearchParamDefinition& def) {
  if (def.expression.empty() || def.type == r4::SearchParamType::kSpecial) return true;
  return def.code == "_id" || def.code == "_lastUpdated";
}

class Sink {
 public:
  Sink(std::string param, std::vector<IndexEntry>& out) : param_(std::move(param)), out_(out) {}

  void Token(std::string_view system, std::string_view code) {
    if (code.empty() && system.empty()) return;
    IndexEntry& entry = Add(IndexKind::kToken, param_);
    entry.system = std::string(system);
    entry.value = std::string(code);
  }
  void TokenAs(std::string_view suffix, std::string_view system, std::string_view code) {
    IndexEntry& entry = Add(IndexKind::kToken, param_ + std::string(suffix));
    entry.system = std::string(system);
    entry.value = std::string(code);
  }
  void String(std::string_view text, std::string_view suffix = {}) {
    if (text.empty()) return;
    if (text.size() > kMaxStringLength) text = text.substr(0, kMaxStringLength);
    std::string folded = FoldText(text);
    std::string param = suffix.empty() ? param_ : param_ + std::string(suffix);
    for (const IndexEntry& existing : out_) {  // names repeat (text, family) more than once
      if (existing.kind == IndexKind::kString && existing.value == folded &&
          existing.param == param) {
        return;
      }
    }
    IndexEntry& entry = Add(IndexKind::kString, param);
    entry.value = std::move(folded);
    entry.raw = std::string(text);
  }
  void Reference(std::string_view value) {
    if (value.empty()) return;
    IndexEntry& entry = Add(IndexKind::kReference, param_);
    entry.value = std::string(value);
  }
  void Date(int64_t low, int64_t high) {
    IndexEntry& entry = Add(IndexKind::kDate, param_);
    entry.low = low;
    entry.high = high;
  }
  void Number(double number, std::string_view raw) {
    IndexEntry& entry = Add(IndexKind::kNumber, param_);
    entry.number = number;
    entry.raw = std::string(raw);
  }
  void Quantity(double number, std::string_view system, std::string_view code,
                std::string_view unit) {
    IndexEntry& entry = Add(IndexKind::kQuantity, param_);
    entry.number = number;
    entry.system = std::string(system);
    entry.value = std::string(code);
    entry.raw = std::string(unit);
  }
  void Uri(std::string_view value) {
    if (value.empty()) return;
    IndexEntry& entry = Add(IndexKind::kUri, param_);
    entry.value = std::string(value);
  }

 private:
  IndexEntry& Add(IndexKind kind, const std::string& param) {
    IndexEntry& entry = out_.emplace_back();
    entry.param = param;
    entry.kind = kind;
    return entry;
  }
  std::string param_;
  std::vector<IndexEntry>& out_;
};

std::optional<double> ParseNumber(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::string copy(text);
  char* end = nullptr;
  double value = std::strtod(copy.c_str(), &end);
  if (end != copy.c_str() + copy.size()) return std::nullopt;
  return value;
}

// The JSON text of a primitive node ("1.50" for numbers, the string itself for strings).
std::optional<std::string> PrimitiveText(const fhirpath::Item& item) {
  if (item.IsNode()) {
    if (item.node == nullptr) return std::nullopt;
    if (item.node->IsString() || item.node->IsNumber()) return item.node->GetString();
    if (item.node->IsBool()) return std::string(item.node->GetBool() ? "true" : "false");
    return std::nullopt;
  }
  return fhirpath::ToStringValue(item);
}

void ForEachString(const Json* node, const std::function<void(std::string_view)>& fn) {
  if (node == nullptr) return;
  if (node->IsString()) {
    fn(node->GetString());
  } else if (node->IsArray()) {
    for (const Json& item : node->Items()) {
      if (item.IsString()) fn(item.GetString());
    }
  }
}

const Json* Member(const fhirpath::Item& item, std::string_view key) {
  if (!item.IsNode() || item.node == nullptr || !item.node->IsObject()) return nullptr;
  return item.node->Find(key);
}

void AddCoding(const Json& coding, Sink& sink) {
  sink.Token(coding.GetStringMember("system"), coding.GetStringMember("code"));
  sink.String(coding.GetStringMember("display"), kTextSuffix);
}

void IndexString(const fhirpath::Item& item, Sink& sink) {
  if (auto text = PrimitiveText(item)) {
    sink.String(*text);
    return;
  }
  if (!item.IsNode() || item.node == nullptr || !item.node->IsObject()) return;
  // HumanName, Address and other complex values: every string part, searched separately.
  for (const auto& [key, value] : item.node->Members()) {
    if (key == "use" || key == "type" || key == "id" || key == "system" || key == "url") continue;
    ForEachString(&value, [&](std::string_view text) { sink.String(text); });
  }
}

void IndexToken(const fhirpath::Item& item, Sink& sink) {
  if (!item.IsNode()) {
    if (item.kind == fhirpath::Item::Kind::kBoolean) {
      sink.Token("", item.boolean ? "true" : "false");
    } else if (auto text = fhirpath::ToStringValue(item)) {
      sink.Token("", *text);
    }
    return;
  }
  if (item.node == nullptr) return;
  const Json& node = *item.node;
  if (!node.IsObject()) {
    if (auto text = PrimitiveText(item)) sink.Token("", *text);
    return;
  }
  std::string_view type = item.type;
  if (const Json* codings = node.Find("coding"); codings != nullptr || type == "CodeableConcept") {
    if (codings != nullptr && codings->IsArray()) {
      for (const Json& coding : codings->Items()) AddCoding(coding, sink);
    }
    sink.String(node.GetStringMember("text"), kTextSuffix);
    return;
  }
  if (type == "Identifier" || (type.empty() && node.Find("value") != nullptr &&
                               node.Find("code") == nullptr)) {
    std::string_view value = node.GetStringMember("value");
    if (type == "ContactPoint") {
      sink.Token(node.GetStringMember("system"), value);
      return;
    }
    sink.Token(node.GetStringMember("system"), value);
    if (const Json* id_type = node.Find("type")) {
      if (const Json* codings = id_type->Find("coding"); codings != nullptr && codings->IsArray()) {
        for (const Json& coding : codings->Items()) {
          std::string code(coding.GetStringMember("code"));
          sink.TokenAs(kOfTypeSuffix, coding.GetStringMember("system"),
                       code + "|" + std::string(value));
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

void IndexReference(const fhirpath::Item& item, Sink& sink) {
  if (auto text = PrimitiveText(item)) {  // canonical, uri
    sink.Reference(*text);
    if (size_t bar = text->find('|'); bar != std::string::npos) {
      sink.Reference(std::string_view(*text).substr(0, bar));
    }
    return;
  }
  const Json* reference = Member(item, "reference");
  if (reference != nullptr && reference->IsString()) {
    sink.Reference(NormaliseReference(reference->GetString()));
  }
  if (const Json* identifier = Member(item, "identifier"); identifier != nullptr) {
    std::string_view value = identifier->GetStringMember("value");
    if (!value.empty()) {
      sink.TokenAs(kIdentifierSuffix, identifier->GetStringMember("system"), value);
    }
  }
}

bool AddDate(std::string_view text, int64_t& low, int64_t& high) {
  core::Result<core::DateRange> range = core::ParseFhirDateTime(text);
  if (!range) return false;
  low = range->low;
  high = range->high;
  return true;
}

void IndexDate(const fhirpath::Item& item, Sink& sink) {
  int64_t low = 0;
  int64_t high = 0;
  if (auto text = PrimitiveText(item)) {
    if (AddDate(*text, low, high)) sink.Date(low, high);
    return;
  }
  if (!item.IsNode() || item.node == nullptr || !item.node->IsObject()) return;
  const Json& node = *item.node;
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
    if (any) sink.Date(start, end);
  };
  if (node.Find("start") != nullptr || node.Find("end") != nullptr) {
    period(node);
    return;
  }
  // Timing: the span of its events and bounds.
  int64_t min_low = std::numeric_limits<int64_t>::max();
  int64_t max_high = std::numeric_limits<int64_t>::min();
  ForEachString(node.Find("event"), [&](std::string_view event) {
    if (AddDate(event, low, high)) {
      min_low = std::min(min_low, low);
      max_high = std::max(max_high, high);
    }
  });
  if (min_low <= max_high) sink.Date(min_low, max_high);
  if (const Json* repeat = node.Find("repeat")) {
    if (const Json* bounds = repeat->Find("boundsPeriod")) period(*bounds);
  }
}

void IndexNumber(const fhirpath::Item& item, Sink& sink) {
  if (auto text = PrimitiveText(item)) {
    if (auto number = ParseNumber(*text)) sink.Number(*number, *text);
    return;
  }
  if (const Json* value = Member(item, "value"); value != nullptr && value->IsNumber()) {
    if (auto number = ParseNumber(value->GetString())) sink.Number(*number, value->GetString());
  }
}

void IndexQuantity(const fhirpath::Item& item, Sink& sink) {
  if (!item.IsNode()) {
    if (item.kind == fhirpath::Item::Kind::kQuantity) {
      sink.Quantity(static_cast<double>(item.quantity.value.value), "http://unitsofmeasure.org",
                    item.quantity.unit, item.quantity.unit);
    } else if (auto text = fhirpath::ToStringValue(item)) {
      if (auto number = ParseNumber(*text)) sink.Quantity(*number, "", "", "");
    }
    return;
  }
  if (item.node == nullptr) return;
  const Json& node = *item.node;
  if (node.IsNumber()) {
    if (auto number = ParseNumber(node.GetString())) sink.Quantity(*number, "", "", "");
    return;
  }
  if (!node.IsObject()) return;
  auto quantity = [&](const Json& q) {
    const Json* value = q.Find("value");
    if (value == nullptr || !value->IsNumber()) return;
    auto number = ParseNumber(value->GetString());
    if (!number) return;
    std::string_view code = q.GetStringMember("code");
    if (code.empty()) code = q.GetStringMember("currency");  // Money
    std::string_view unit = q.GetStringMember("unit");
    sink.Quantity(*number, q.GetStringMember("system"), code, unit);
  };
  if (node.Find("low") != nullptr || node.Find("high") != nullptr) {  // Range
    if (const Json* low = node.Find("low")) quantity(*low);
    if (const Json* high = node.Find("high")) quantity(*high);
    return;
  }
  quantity(node);
}

void IndexUri(const fhirpath::Item& item, Sink& sink) {
  if (auto text = PrimitiveText(item)) sink.Uri(*text);
}

void IndexValue(r4::SearchParamType type, const fhirpath::Item& item, Sink& sink) {
  switch (type) {
    case r4::SearchParamType::kString:
      IndexString(item, sink);
      break;
    case r4::SearchParamType::kToken:
      IndexToken(item, sink);
      break;
    case r4::SearchParamType::kReference:
      IndexReference(item, sink);
      break;
    case r4::SearchParamType::kDate:
      IndexDate(item, sink);
      break;
    case r4::SearchParamType::kNumber:
      IndexNumber(item, sink);
      break;
    case r4::SearchParamType::kQuantity:
      IndexQuantity(item, sink);
      break;
    case r4::SearchParamType::kUri:
      IndexUri(item, sink);
      break;
    case r4::SearchParamType::kComposite:
    case r4::SearchParamType::kSpecial:
      break;
  }
}

}  // namespace

std::string NormaliseReference(std::string_view reference) {
  if (reference.empty() || reference[0] == '#') return {};
  if (size_t history = reference.find("/_history/"); history != std::string_view::npos) {
    reference = reference.substr(0, history);
  }
  return std::string(reference);
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
  }
  options_.resolver = [this](std::string_view reference) -> const Json* {
    std::string normalised = NormaliseReference(reference);
    std::string_view ref = normalised;
    size_t slash = ref.rfind('/');
    if (slash == std::string_view::npos) return nullptr;
    std::string_view head = ref.substr(0, slash);
    size_t previous = head.rfind('/');
    std::string_view type = previous == std::string_view::npos ? head : head.substr(previous + 1);
    auto it = stubs_.find(type);
    return it == stubs_.end() ? nullptr : &it->second;
  };
  std::unordered_map<std::string_view, std::pair<fhirpath::Expression, std::string>> parsed;
  auto parse = [&](std::string_view text) -> const std::pair<fhirpath::Expression, std::string>& {
    auto it = parsed.find(text);
    if (it != parsed.end()) return it->second;
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
  for (std::string_view type : r4::ResourceTypeNames()) {
    std::vector<ParamPlan>& plans = plans_[type];
    for (const r4::SearchParamDefinition* def : r4::SearchParams(type)) {
      if (Skipped(*def)) continue;
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
      if (!simple) plan.roots.clear();
      for (const auto& component : def->components) {
        ParamPlan::Component c;
        c.definition = r4::FindSearchParam(type, component.code);
        const auto& [component_expression, component_error] = parse(component.expression);
        c.expression = component_expression;
        c.parsed = component_error.empty() && c.definition != nullptr;
        plan.components.push_back(std::move(c));
      }
      plans.push_back(std::move(plan));
    }
  }
}

const std::vector<ParamPlan>& Extractor::Plans(std::string_view type) const {
  static const std::vector<ParamPlan> kNone;
  auto it = plans_.find(type);
  return it == plans_.end() ? kNone : it->second;
}

const ParamPlan* Extractor::Find(std::string_view type, std::string_view code) const {
  for (const ParamPlan& plan : Plans(type)) {
    if (plan.definition->code == code) return &plan;
  }
  return nullptr;
}

bool Extractor::IndexParam(const Json& resource, const ParamPlan& plan,
                           std::vector<IndexEntry>& out, std::string* error) const {
  if (!plan.parsed) {
    if (error != nullptr) *error = plan.parse_error;
    return false;
  }
  if (!plan.roots.empty() && resource.IsObject()) {
    bool present = false;
    for (const auto& member : resource.Members()) {
      for (const std::string& root : plan.roots) {
        if (member.first.starts_with(root)) {  // "value" also covers valueQuantity
          present = true;
          break;
        }
      }
      if (present) break;
    }
    if (!present) return true;
  }
  core::Result<fhirpath::Collection> values = fhirpath::Evaluate(plan.expression, resource,
                                                                 options_);
  if (!values) {
    if (error != nullptr) *error = values.error().GetMessage();
    return false;
  }
  const r4::SearchParamDefinition& def = *plan.definition;
  if (def.type != r4::SearchParamType::kComposite) {
    Sink sink(std::string(def.code), out);
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
        if (error != nullptr) *error = parts.error().GetMessage();
        ok = false;
        complete = false;
        break;
      }
      std::string param = std::string(def.code) + kCompositeSeparator + std::to_string(group) +
                          kCompositeSeparator + std::to_string(i);
      size_t before = rows.size();
      Sink sink(param, rows);
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

std::vector<IndexEntry> Extractor::Index(const Json& resource) const {
  std::vector<IndexEntry> out;
  std::string_view type = resource.GetStringMember("resourceType");
  for (const ParamPlan& plan : Plans(type)) IndexParam(resource, plan, out);
  return out;
}

}  // namespace medalliance::search::internal
