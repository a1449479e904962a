#include "fhir/r4/definitions.h"

#include <algorithm>
#include <deque>

#include "fhir/r4/internal/tables.h"

namespace medalliance::fhir::r4 {
namespace {

std::vector<std::string_view> SplitOn(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(separator, start);
    if (end == std::string_view::npos)
      end = text.size();
    if (end > start)
      out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

SearchParamType ParseSearchParamType(std::string_view name) {
  if (name == "number")
    return SearchParamType::kNumber;
  if (name == "date")
    return SearchParamType::kDate;
  if (name == "string")
    return SearchParamType::kString;
  if (name == "token")
    return SearchParamType::kToken;
  if (name == "reference")
    return SearchParamType::kReference;
  if (name == "composite")
    return SearchParamType::kComposite;
  if (name == "quantity")
    return SearchParamType::kQuantity;
  if (name == "uri")
    return SearchParamType::kUri;
  return SearchParamType::kSpecial;
}

}  // namespace

Primitive PrimitiveOf(std::string_view type_name) {
  static const std::unordered_map<std::string_view, Primitive> kByName = {
      {"boolean", Primitive::kBoolean},
      {"integer", Primitive::kInteger},
      {"unsignedInt", Primitive::kUnsignedInt},
      {"positiveInt", Primitive::kPositiveInt},
      {"decimal", Primitive::kDecimal},
      {"string", Primitive::kString},
      {"markdown", Primitive::kMarkdown},
      {"code", Primitive::kCode},
      {"id", Primitive::kId},
      {"uri", Primitive::kUri},
      {"url", Primitive::kUrl},
      {"canonical", Primitive::kCanonical},
      {"oid", Primitive::kOid},
      {"uuid", Primitive::kUuid},
      {"base64Binary", Primitive::kBase64Binary},
      {"instant", Primitive::kInstant},
      {"date", Primitive::kDate},
      {"dateTime", Primitive::kDateTime},
      {"time", Primitive::kTime},
      {"xhtml", Primitive::kXhtml},
  };
  auto it = kByName.find(type_name);
  return it == kByName.end() ? Primitive::kNone : it->second;
}

bool ValueSetCodes::Contains(std::string_view system, std::string_view code) const {
  auto it = codes_.find(code);
  if (it == codes_.end())
    return false;
  return std::find(it->second.begin(), it->second.end(), system) != it->second.end();
}

std::string_view ElementDefinition::MaxText() const {
  static const char* const kSmall[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
  if (max < 0)
    return "*";
  if (max < 10)
    return kSmall[max];
  return "n";
}

const ChildMatch* ElementDefinition::FindChild(std::string_view json_key) const {
  auto it = children_by_key_.find(json_key);
  return it == children_by_key_.end() ? nullptr : &it->second;
}

// Builds every table once. Never destroyed (leaked on purpose: no destruction-order issues).
class Definitions {
 public:
  static const Definitions& Get() {
    static const Definitions* const instance = new Definitions();
    return *instance;
  }

  const TypeDefinition* FindType(std::string_view name) const {
    auto it = types_by_name_.find(name);
    return it == types_by_name_.end() ? nullptr : it->second;
  }

  const ElementDefinition* FindExact(std::string_view path) const {
    auto it = elements_by_path_.find(path);
    return it == elements_by_path_.end() ? nullptr : it->second;
  }

  // The element whose Children() apply inside a value of `element` (see ChildMatch::children).
  const ElementDefinition* ChildrenNode(const ElementDefinition* element) const {
    if (!element->children_.empty())
      return element;
    if (!element->content_reference.empty()) {
      return FindExact(element->content_reference.substr(1));
    }
    if (element->types.size() == 1) {
      const TypeDefinition* type = FindType(element->types[0]);
      if (type != nullptr)
        return type->root;
    }
    return nullptr;
  }

  const ElementDefinition* FindElement(std::string_view path) const {
    if (const ElementDefinition* exact = FindExact(path))
      return exact;
    std::vector<std::string_view> segments = SplitOn(path, '.');
    if (segments.empty())
      return nullptr;
    const TypeDefinition* type = FindType(segments[0]);
    if (type == nullptr || type->root == nullptr)
      return nullptr;
    const ElementDefinition* current = type->root;
    for (size_t i = 1; i < segments.size(); ++i) {
      const ElementDefinition* node = ChildrenNode(current);
      if (node == nullptr)
        return nullptr;
      const ElementDefinition* next = nullptr;
      for (const ElementDefinition* child : node->children_) {
        if (child->name == segments[i])
          next = child;
      }
      if (next == nullptr) {
        const ChildMatch* match = node->FindChild(segments[i]);
        if (match != nullptr)
          next = match->element;
      }
      if (next == nullptr)
        return nullptr;
      current = next;
    }
    return current;
  }

  const ValueSetCodes* FindValueSet(std::string_view url) const {
    auto it = value_sets_by_url_.find(url);
    return it == value_sets_by_url_.end() ? nullptr : it->second;
  }

  const std::vector<const SearchParamDefinition*>& SearchParams(std::string_view type) const {
    static const std::vector<const SearchParamDefinition*> kEmpty;
    auto it = params_by_type_.find(type);
    return it == params_by_type_.end() ? kEmpty : it->second;
  }

  std::vector<std::string_view> resource_names_;
  std::vector<UnexpandedValueSet> unexpanded_;

 private:
  Definitions() {
    LoadTypes();
    LoadValueSets();
    LoadElements();
    LoadSearchParams();
  }

  void LoadTypes() {
    types_.resize(internal::kTypeRowCount);
    for (size_t i = 0; i < internal::kTypeRowCount; ++i) {
      const internal::TypeRow& row = internal::kTypeRows[i];
      TypeDefinition& type = types_[i];
      type.name = row.name;
      type.kind = static_cast<TypeKind>(row.kind);
      type.is_abstract = row.is_abstract;
      type.base = row.base;
      types_by_name_.emplace(type.name, &type);
      if (type.kind == TypeKind::kResource && !type.is_abstract) {
        resource_names_.push_back(type.name);
      }
    }
    std::sort(resource_names_.begin(), resource_names_.end());
  }

  void LoadValueSets() {
    for (size_t i = 0; i < internal::kValueSetRowCount; ++i) {
      const internal::ValueSetRow& row = internal::kValueSetRows[i];
      ValueSetCodes& codes = value_sets_.emplace_back();
      codes.url_ = row.url;
      std::string_view system;
      for (std::string_view line : SplitOn(row.codes, '\n')) {
        if (line[0] == '\001') {
          system = line.substr(1);
          codes.systems_.push_back(system);
        } else {
          codes.codes_[line].push_back(system);
          ++codes.size_;
        }
      }
      value_sets_by_url_.emplace(codes.url_, &codes);
    }
    for (size_t i = 0; i < internal::kUnexpandedValueSetRowCount; ++i) {
      unexpanded_.push_back(
          {internal::kUnexpandedValueSetRows[i].url, internal::kUnexpandedValueSetRows[i].reason});
    }
  }

  void LoadElements() {
    for (size_t i = 0; i < internal::kElementRowCount; ++i) {
      const internal::ElementRow& row = internal::kElementRows[i];
      ElementDefinition& element = elements_.emplace_back();
      element.path = row.path;
      size_t dot = element.path.rfind('.');
      element.name = dot == std::string_view::npos ? element.path : element.path.substr(dot + 1);
      element.min = row.min;
      element.max = row.max;
      element.types = SplitOn(row.types, ' ');
      element.target_types = SplitOn(row.targets, ' ');
      element.content_reference = row.content_reference;
      element.is_backbone = (row.flags & internal::kFlagBackbone) != 0;
      element.is_choice = (row.flags & internal::kFlagChoice) != 0;
      element.is_resource_slot = (row.flags & internal::kFlagResourceSlot) != 0;
      element.is_modifier = (row.flags & internal::kFlagModifier) != 0;
      element.is_summary = (row.flags & internal::kFlagSummary) != 0;
      element.required_value_set = row.required_value_set;
      if (!element.required_value_set.empty()) {
        element.required_codes = FindValueSet(element.required_value_set);
      }
      std::string_view type_name = dot == std::string_view::npos
                                       ? element.path
                                       : element.path.substr(0, element.path.find('.'));
      auto type_it = types_by_name_.find(type_name);
      if (type_it != types_by_name_.end()) {
        TypeDefinition* type = type_it->second;
        element.owner = type;
        type->elements.push_back(&element);
        if (dot == std::string_view::npos)
          type->root = &element;
      }
      elements_by_path_.emplace(element.path, &element);
      if (dot != std::string_view::npos) {
        auto parent = elements_by_path_.find(element.path.substr(0, dot));
        if (parent != elements_by_path_.end())
          parent->second->children_.push_back(&element);
      }
    }
    // Child keys need every type root, so they come second.
    for (ElementDefinition& parent : elements_) {
      for (size_t ordinal = 0; ordinal < parent.children_.size(); ++ordinal) {
        const ElementDefinition* child = parent.children_[ordinal];
        if (child->min > 0)
          parent.required_children_.push_back(static_cast<uint16_t>(ordinal));
        if (!child->content_reference.empty()) {
          ChildMatch match;
          match.element = child;
          match.children = FindExact(child->content_reference.substr(1));
          match.ordinal = static_cast<uint16_t>(ordinal);
          parent.children_by_key_.emplace(child->name, match);
          continue;
        }
        for (std::string_view type : child->types) {
          ChildMatch match;
          match.element = child;
          match.type = type;
          match.ordinal = static_cast<uint16_t>(ordinal);
          const TypeDefinition* type_def = FindType(type);
          match.is_primitive = type_def != nullptr && type_def->kind == TypeKind::kPrimitive;
          match.primitive = match.is_primitive ? PrimitiveOf(type) : Primitive::kNone;
          if (child->is_backbone) {
            match.children = child;
          } else if (type_def != nullptr && type_def->kind == TypeKind::kComplex) {
            match.children = type_def->root;
          }
          std::string_view key = child->name;
          if (child->is_choice) {
            std::string& owned = keys_.emplace_back(child->name.substr(0, child->name.size() - 3));
            owned.push_back(
                static_cast<char>(type[0] >= 'a' && type[0] <= 'z' ? type[0] - 32 : type[0]));
            owned.append(type.substr(1));
            key = owned;
          }
          parent.children_by_key_.emplace(key, match);
        }
      }
    }
  }

  void LoadSearchParams() {
    // The R4 rows, then the alliance's own (alliance_search_params.cc).
    params_.resize(internal::kSearchParamRowCount + internal::kAllianceSearchParamRowCount);
    std::unordered_map<std::string_view, std::vector<const SearchParamDefinition*>> own;
    for (size_t i = 0; i < params_.size(); ++i) {
      const internal::SearchParamRow& row =
          i < internal::kSearchParamRowCount
              ? internal::kSearchParamRows[i]
              : internal::kAllianceSearchParamRows[i - internal::kSearchParamRowCount];
      SearchParamDefinition& param = params_[i];
      param.base = row.base;
      param.code = row.code;
      param.type_name = row.type;
      param.type = ParseSearchParamType(param.type_name);
      param.expression = row.expression;
      param.target_types = SplitOn(row.targets, ' ');
      for (std::string_view component : SplitOn(row.components, ';')) {
        size_t eq = component.find('=');
        param.components.push_back({component.substr(0, eq), component.substr(eq + 1)});
      }
      param.url = row.url;
      own[param.base].push_back(&param);
    }
    for (const TypeDefinition& type : types_) {
      if (type.kind != TypeKind::kResource)
        continue;
      std::vector<const SearchParamDefinition*>& list = params_by_type_[type.name];
      for (std::string_view ancestor = type.name; !ancestor.empty();) {
        auto it = own.find(ancestor);
        if (it != own.end())
          list.insert(list.end(), it->second.begin(), it->second.end());
        const TypeDefinition* ancestor_type = FindType(ancestor);
        ancestor = ancestor_type == nullptr ? std::string_view() : ancestor_type->base;
      }
      std::sort(list.begin(), list.end(),
                [](const SearchParamDefinition* a, const SearchParamDefinition* b) {
                  return a->code < b->code;
                });
    }
  }

  std::vector<TypeDefinition> types_;
  std::unordered_map<std::string_view, TypeDefinition*> types_by_name_;
  std::deque<ElementDefinition> elements_;
  std::unordered_map<std::string_view, ElementDefinition*> elements_by_path_;
  std::deque<std::string> keys_;
  std::deque<ValueSetCodes> value_sets_;
  std::unordered_map<std::string_view, const ValueSetCodes*> value_sets_by_url_;
  std::vector<SearchParamDefinition> params_;
  std::unordered_map<std::string_view, std::vector<const SearchParamDefinition*>> params_by_type_;
};

bool IsResourceType(std::string_view name) {
  const TypeDefinition* type = Definitions::Get().FindType(name);
  return type != nullptr && type->kind == TypeKind::kResource && !type->is_abstract;
}

bool IsPrimitiveType(std::string_view name) {
  const TypeDefinition* type = Definitions::Get().FindType(name);
  return type != nullptr && type->kind == TypeKind::kPrimitive;
}

const std::vector<std::string_view>& ResourceTypeNames() {
  return Definitions::Get().resource_names_;
}

const TypeDefinition* FindType(std::string_view name) {
  return Definitions::Get().FindType(name);
}

bool IsA(std::string_view type, std::string_view ancestor) {
  const Definitions& definitions = Definitions::Get();
  for (int depth = 0; depth < 16 && !type.empty(); ++depth) {
    if (type == ancestor)
      return true;
    const TypeDefinition* definition = definitions.FindType(type);
    if (definition == nullptr)
      return false;
    type = definition->base;
  }
  return false;
}

const ElementDefinition* FindElement(std::string_view path) {
  return Definitions::Get().FindElement(path);
}

const ChildMatch* FindChild(std::string_view parent_path, std::string_view json_key) {
  const Definitions& definitions = Definitions::Get();
  const ElementDefinition* parent = definitions.FindElement(parent_path);
  if (parent == nullptr)
    return nullptr;
  const ElementDefinition* node = definitions.ChildrenNode(parent);
  return node == nullptr ? nullptr : node->FindChild(json_key);
}

const ValueSetCodes* RequiredBinding(std::string_view element_path) {
  const ElementDefinition* element = FindElement(element_path);
  return element == nullptr ? nullptr : element->required_codes;
}

const ValueSetCodes* FindValueSet(std::string_view url) {
  return Definitions::Get().FindValueSet(url);
}

std::span<const UnexpandedValueSet> UnexpandedValueSets() {
  return Definitions::Get().unexpanded_;
}

const std::vector<const SearchParamDefinition*>& SearchParams(std::string_view resource_type) {
  return Definitions::Get().SearchParams(resource_type);
}

const SearchParamDefinition* FindSearchParam(std::string_view resource_type,
                                             std::string_view code) {
  for (const SearchParamDefinition* param : SearchParams(resource_type)) {
    if (param->code == code)
      return param;
  }
  return nullptr;
}

}  // namespace medalliance::fhir::r4
