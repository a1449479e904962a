#include "fhir/validation/validator.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "fhir/r4/definitions.h"
#include "fhir/validation/primitives.h"

namespace medalliance::fhir::validation {
namespace {

using r4::ChildMatch;
using r4::ElementDefinition;
using r4::Primitive;

constexpr std::string_view kStructure = "structure";
constexpr std::string_view kRequired = "required";
constexpr std::string_view kValue = "value";
constexpr std::string_view kCodeInvalid = "code-invalid";
constexpr std::string_view kInvalid = "invalid";
constexpr std::string_view kInvariant = "invariant";

enum class ResourcePlace { kTop, kContained, kNested };

// One step of the FHIRPath location: ".name" or ".name[index]".
struct PathSegment {
  std::string_view name;
  int64_t index = -1;
};

std::string Quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out.push_back('\'');
  out.append(text.substr(0, 200));
  if (text.size() > 200)
    out.append("...");
  out.push_back('\'');
  return out;
}

class Walker {
 public:
  Walker(std::vector<core::Issue>* issues, size_t max_issues)
      : issues_(issues), max_issues_(max_issues) {
    path_.reserve(64);
  }

  void ValidateResourceRoot(const Json& json, ResourcePlace place) {
    if (!json.IsObject()) {
      Report(kStructure, "a resource must be a JSON object");
      return;
    }
    const Json* type_json = json.Find("resourceType");
    if (type_json == nullptr) {
      Report(kRequired, "resourceType is missing");
      return;
    }
    if (!type_json->IsString()) {
      Report(kStructure, "resourceType must be a string");
      return;
    }
    std::string_view type_name = type_json->GetString();
    if (!r4::IsResourceType(type_name)) {
      Report(kInvalid, "unknown resourceType " + Quote(type_name));
      return;
    }
    const r4::TypeDefinition* type = r4::FindType(type_name);
    bool pushed = place == ResourcePlace::kTop;
    if (pushed)
      path_.push_back({type->name, -1});
    ValidateObject(json, type->root, /*is_resource_root=*/true);
    if (place == ResourcePlace::kContained)
      CheckContainedRules(json);
    if (pushed)
      path_.pop_back();
  }

 private:
  bool Full() const { return issues_->size() >= max_issues_; }

  void Report(std::string_view code, std::string message) {
    if (Full())
      return;
    core::Issue& issue = issues_->emplace_back();
    issue.severity = core::Severity::kError;
    issue.code = std::string(code);
    issue.diagnostics = std::move(message);
    issue.expression = Expression();
  }

  // Reports at the current path plus one more segment.
  void ReportAt(std::string_view name, std::string_view code, std::string message) {
    path_.push_back({name, -1});
    Report(code, std::move(message));
    path_.pop_back();
  }

  std::string Expression() const {
    std::string out;
    for (const PathSegment& segment : path_) {
      if (!out.empty())
        out.push_back('.');
      out.append(segment.name);
      if (segment.index >= 0) {
        out.push_back('[');
        out.append(std::to_string(segment.index));
        out.push_back(']');
      }
    }
    return out;
  }

  // Walks the members of an object whose children are `node`'s.
  void ValidateObject(const Json& object, const ElementDefinition* node, bool is_resource_root) {
    const std::vector<const ElementDefinition*>& children = node->Children();
    constexpr size_t kInline = 96;
    const ChildMatch* inline_seen[kInline];
    std::vector<const ChildMatch*> heap_seen;
    const ChildMatch** seen = inline_seen;
    if (children.size() > kInline) {
      heap_seen.assign(children.size(), nullptr);
      seen = heap_seen.data();
    } else {
      std::fill_n(inline_seen, children.size(), nullptr);
    }

    for (const Json::Member& member : object.Members()) {
      if (Full())
        return;
      std::string_view key = member.first;
      if (is_resource_root && key == "resourceType")
        continue;
      bool extension_sibling = !key.empty() && key[0] == '_';
      std::string_view name = extension_sibling ? key.substr(1) : key;
      const ChildMatch* match = node->FindChild(name);
      if (match == nullptr || (extension_sibling && !match->is_primitive)) {
        ReportAt(key, kStructure, "unknown element " + Quote(key));
        continue;
      }
      const ChildMatch*& slot = seen[match->ordinal];
      if (slot != nullptr && slot != match) {
        ReportAt(key, kStructure,
                 "only one type of " + std::string(match->element->name) + " is allowed");
        continue;
      }
      slot = match;
      if (extension_sibling) {
        ValidatePrimitiveExtension(object, member.second, *match, key, name);
      } else {
        ValidateProperty(object, member.second, *match, key);
      }
    }

    for (uint16_t ordinal : node->RequiredChildren()) {
      if (seen[ordinal] != nullptr)
        continue;
      const ElementDefinition* child = children[ordinal];
      ReportAt(child->name, kRequired,
               "missing required element " + Quote(child->name) + " (min " +
                   std::to_string(child->min) + ")");
    }
  }

  void ValidateProperty(const Json& parent, const Json& value, const ChildMatch& match,
                        std::string_view key) {
    const ElementDefinition& element = *match.element;
    path_.push_back({key, -1});
    if (element.IsRepeating()) {
      if (!value.IsArray()) {
        Report(kStructure, "element " + Quote(key) + " repeats (max " +
                               std::string(element.MaxText()) + ") and must be a JSON array");
        ValidateItem(value, match);
      } else if (value.Items().empty()) {
        Report(kStructure, "empty arrays are not allowed");
      } else {
        if (element.max > 0 && value.Items().size() > static_cast<size_t>(element.max)) {
          Report(kStructure, "too many items (max " + std::string(element.MaxText()) + ")");
        }
        const Json* extensions = nullptr;
        size_t index = 0;
        for (const Json& item : value.Items()) {
          path_.back().index = static_cast<int64_t>(index);
          if (item.IsNull() && match.is_primitive) {
            // Allowed only when the `_key` array carries an extension at the same index.
            if (extensions == nullptr)
              extensions = FindExtensionSibling(parent, key);
            if (extensions == nullptr || !extensions->IsArray() ||
                index >= extensions->Items().size() || extensions->Items()[index].IsNull()) {
              Report(kStructure, "null is only allowed when _" + std::string(key) +
                                     " has an extension at the same index");
            }
          } else {
            ValidateItem(item, match);
          }
          ++index;
          if (Full())
            break;
        }
      }
    } else if (value.IsArray()) {
      Report(kStructure, "element " + Quote(key) + " does not repeat and must not be an array");
    } else {
      ValidateItem(value, match);
    }
    path_.pop_back();
  }

  static const Json* FindExtensionSibling(const Json& parent, std::string_view key) {
    for (const Json::Member& member : parent.Members()) {
      const std::string& name = member.first;
      if (name.size() == key.size() + 1 && name[0] == '_' &&
          std::string_view(name).substr(1) == key) {
        return &member.second;
      }
    }
    return nullptr;
  }

  // `_name`: an Element (id, extension) or, for repeating primitives, an array of them
  // aligned with the values, null where a value has none.
  void ValidatePrimitiveExtension(const Json& parent, const Json& value, const ChildMatch& match,
                                  std::string_view key, std::string_view name) {
    const ElementDefinition* element_root = ElementRoot();
    path_.push_back({key, -1});
    if (match.element->IsRepeating()) {
      if (!value.IsArray()) {
        Report(kStructure, Quote(key) + " must be an array aligned with " + Quote(name));
      } else {
        const Json* values = parent.Find(name);
        if (values != nullptr && values->IsArray() &&
            values->Items().size() != value.Items().size()) {
          Report(kStructure, Quote(key) + " must have as many items as " + Quote(name));
        }
        bool any = false;
        size_t index = 0;
        for (const Json& item : value.Items()) {
          path_.back().index = static_cast<int64_t>(index++);
          if (item.IsNull())
            continue;
          any = true;
          ValidateElementObject(item, element_root);
        }
        path_.back().index = -1;
        if (!any)
          Report(kStructure, Quote(key) + " must not hold only nulls");
      }
    } else if (value.IsArray()) {
      Report(kStructure, Quote(key) + " does not repeat and must not be an array");
    } else {
      ValidateElementObject(value, element_root);
    }
    path_.pop_back();
  }

  void ValidateElementObject(const Json& value, const ElementDefinition* node) {
    if (!value.IsObject()) {
      Report(kStructure, "must be a JSON object");
    } else if (value.Members().empty()) {
      Report(kStructure, "empty objects are not allowed");
    } else {
      ValidateObject(value, node, false);
    }
  }

  static const ElementDefinition* ElementRoot() {
    static const ElementDefinition* const kRoot = r4::FindType("Element")->root;
    return kRoot;
  }

  void ValidateItem(const Json& value, const ChildMatch& match) {
    if (value.IsNull()) {
      Report(kStructure, "null is not allowed");
      return;
    }
    if (match.is_primitive) {
      ValidatePrimitive(value, match);
      return;
    }
    if (match.element->is_resource_slot) {
      ValidateResourceRoot(value, match.element->name == "contained" ? ResourcePlace::kContained
                                                                     : ResourcePlace::kNested);
      return;
    }
    if (!value.IsObject()) {
      Report(kStructure, "must be a JSON object (type " +
                             std::string(match.type.empty() ? "BackboneElement" : match.type) +
                             ")");
      return;
    }
    if (value.Members().empty()) {
      Report(kStructure, "empty objects are not allowed");
      return;
    }
    if (match.children == nullptr)
      return;
    ValidateObject(value, match.children, false);
    if (match.type == "Extension") {
      CheckExtension(value);
    } else if (match.type == "Reference") {
      CheckReference(value);
    } else if (match.element->required_codes != nullptr) {
      if (match.type == "Coding") {
        CheckCoding(value, *match.element);
      } else if (match.type == "CodeableConcept") {
        CheckCodeableConcept(value, *match.element);
      }
    }
  }

  void ValidatePrimitive(const Json& value, const ChildMatch& match) {
    Primitive primitive = match.primitive;
    switch (primitive) {
      case Primitive::kBoolean:
        if (!value.IsBool())
          Report(kStructure, "must be a JSON boolean (true or false)");
        return;
      case Primitive::kInteger:
      case Primitive::kUnsignedInt:
      case Primitive::kPositiveInt: {
        if (!value.IsNumber()) {
          Report(kStructure, "must be a JSON number (" + std::string(match.type) + ")");
          return;
        }
        const std::string& text = value.GetString();
        bool ok = primitive == Primitive::kInteger       ? IsValidInteger(text)
                  : primitive == Primitive::kUnsignedInt ? IsValidUnsignedInt(text)
                                                         : IsValidPositiveInt(text);
        if (!ok)
          Report(kValue, "not a valid " + std::string(match.type) + ": " + text);
        return;
      }
      case Primitive::kDecimal:
        if (!value.IsNumber())
          Report(kStructure, "must be a JSON number (decimal)");
        return;
      default:
        break;
    }
    if (!value.IsString()) {
      Report(kStructure, "must be a JSON string (" + std::string(match.type) + ")");
      return;
    }
    const std::string& text = value.GetString();
    if (text.empty()) {
      Report(kValue, "empty strings are not allowed");
      return;
    }
    if (text.size() > kMaxStringBytes) {
      Report(kValue, "string longer than 1 MB");
      return;
    }
    bool ok = true;
    switch (primitive) {
      case Primitive::kId:
        ok = IsValidId(text);
        break;
      case Primitive::kCode:
        ok = IsValidCode(text);
        break;
      case Primitive::kUri:
      case Primitive::kUrl:
      case Primitive::kCanonical:
        ok = IsValidUri(text);
        break;
      case Primitive::kOid:
        ok = IsValidOid(text);
        break;
      case Primitive::kUuid:
        ok = IsValidUuid(text);
        break;
      case Primitive::kBase64Binary:
        ok = IsValidBase64(text);
        break;
      case Primitive::kInstant:
        ok = IsValidInstant(text);
        break;
      case Primitive::kDate:
        ok = IsValidDate(text);
        break;
      case Primitive::kDateTime:
        ok = IsValidDateTime(text);
        break;
      case Primitive::kTime:
        ok = IsValidTime(text);
        break;
      case Primitive::kXhtml:
        ok = std::string_view(text).starts_with("<div");
        break;
      default:
        break;  // string, markdown: any non-empty text
    }
    if (!ok) {
      Report(kValue, "not a valid " + std::string(match.type) + ": " + Quote(text));
      return;
    }
    if (primitive == Primitive::kCode && match.element->required_codes != nullptr &&
        !match.element->required_codes->ContainsCode(text)) {
      Report(kCodeInvalid, "code " + Quote(text) + " is not in the required value set " +
                               std::string(match.element->required_value_set));
    }
  }

  // ext-1: an extension has nested extensions or a value, not both (and not neither).
  void CheckExtension(const Json& extension) {
    bool has_value = false;
    bool has_extensions = false;
    for (const Json::Member& member : extension.Members()) {
      std::string_view key = member.first;
      if (key == "extension") {
        has_extensions = true;
      } else if (key.starts_with("value") || key.starts_with("_value")) {
        has_value = true;
      }
    }
    if (has_value == has_extensions) {
      Report(kInvariant, has_value ? "ext-1: an extension must have either extensions or a "
                                     "value, not both"
                                   : "ext-1: an extension must have either extensions or a value");
    }
  }

  void CheckReference(const Json& reference) {
    const Json* text = reference.Find("reference");
    if (text == nullptr || !text->IsString() || text->GetString().empty())
      return;
    if (!IsValidReference(text->GetString())) {
      ReportAt("reference", kValue,
               "not a valid reference (Type/id, Type/id/_history/v, absolute URL, urn:uuid:, "
               "urn:oid: or #id): " +
                   Quote(text->GetString()));
    }
  }

  // True when the coding is in the required value set; `checkable` false when it has no code.
  static bool CodingInValueSet(const Json& coding, const r4::ValueSetCodes& codes,
                               bool* checkable) {
    *checkable = false;
    if (!coding.IsObject())
      return true;
    const Json* code = coding.Find("code");
    if (code == nullptr || !code->IsString())
      return true;
    *checkable = true;
    const Json* system = coding.Find("system");
    if (system == nullptr || !system->IsString())
      return codes.ContainsCode(code->GetString());
    return codes.Contains(system->GetString(), code->GetString());
  }

  void CheckCoding(const Json& coding, const ElementDefinition& element) {
    bool checkable = false;
    if (!CodingInValueSet(coding, *element.required_codes, &checkable) && checkable) {
      Report(kCodeInvalid, "coding " + Quote(Describe(coding)) +
                               " is not in the required value set " +
                               std::string(element.required_value_set));
    }
  }

  void CheckCodeableConcept(const Json& codeable_concept, const ElementDefinition& element) {
    const Json* codings = codeable_concept.Find("coding");
    if (codings == nullptr || !codings->IsArray())
      return;
    bool any_checkable = false;
    for (const Json& coding : codings->Items()) {
      bool checkable = false;
      if (CodingInValueSet(coding, *element.required_codes, &checkable) && checkable)
        return;
      any_checkable = any_checkable || checkable;
    }
    if (any_checkable) {
      Report(kCodeInvalid, "none of the codings is in the required value set " +
                               std::string(element.required_value_set));
    }
  }

  static std::string Describe(const Json& coding) {
    std::string out(coding.GetStringMember("system"));
    out.push_back('|');
    out.append(coding.GetStringMember("code"));
    return out;
  }

  // dom-2 and dom-4: a contained resource holds no contained resources, no versionId and
  // no lastUpdated.
  void CheckContainedRules(const Json& resource) {
    if (resource.Find("contained") != nullptr) {
      ReportAt("contained", kInvariant,
               "dom-2: a contained resource must not contain nested resources");
    }
    const Json* meta = resource.Find("meta");
    if (meta != nullptr && meta->IsObject() &&
        (meta->Find("versionId") != nullptr || meta->Find("lastUpdated") != nullptr)) {
      ReportAt("meta", kInvariant,
               "dom-4: a contained resource must not have meta.versionId or meta.lastUpdated");
    }
  }

  std::vector<core::Issue>* issues_;
  size_t max_issues_;
  std::vector<PathSegment> path_;
};

}  // namespace

std::vector<core::Issue> CollectIssues(const Json& resource, const ValidationOptions& options) {
  std::vector<core::Issue> issues;
  Walker walker(&issues, std::max<size_t>(options.max_issues, 1));
  walker.ValidateResourceRoot(resource, ResourcePlace::kTop);
  return issues;
}

core::Status ValidateResource(const Json& resource, const ValidationOptions& options) {
  std::vector<core::Issue> issues = CollectIssues(resource, options);
  if (issues.empty())
    return core::Ok{};
  return core::Error(core::ErrorCode::kUnprocessable, std::move(issues));
}

}  // namespace medalliance::fhir::validation
