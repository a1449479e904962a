#include "fhir/patch/fhirpath_patch.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fhir/fhirpath/fhirpath.h"
#include "fhir/r4/definitions.h"

namespace medalliance::fhir {
namespace {

using core::Error;
using core::Result;
using core::Status;

constexpr size_t kNoIndex = static_cast<size_t>(-1);

enum class OpType : uint8_t { kAdd, kInsert, kDelete, kReplace, kMove };

struct Operation {
  size_t number = 0;  // position among the operations, for messages
  OpType type = OpType::kAdd;
  std::string type_name;
  std::string path;
  std::string name;
  const Json* value = nullptr;  // the `value` part
  std::optional<int64_t> index;
  std::optional<int64_t> source;
  std::optional<int64_t> destination;

  std::string Prefix() const {
    std::string out = "FHIRPath Patch operation " + std::to_string(number);
    if (!type_name.empty())
      out += " (" + type_name + ")";
    return out + ": ";
  }
  std::string Location() const { return "Parameters.parameter[" + std::to_string(number) + "]"; }
  Error BadRequest(const std::string& message) const {
    return Error::BadRequest(Prefix() + message, Location());
  }
  Error Unprocessable(const std::string& message) const {
    return Error::Unprocessable(Prefix() + message, Location());
  }
};

// A value to write: the element's JSON and, for a primitive, its `_name` object.
struct Value {
  Json json;
  Json extension;    // null when none
  std::string type;  // "Date", "HumanName" from value[x]; empty when built from parts
};

// The single `value[x]` member of a Parameters part (key returned in *key), or nullptr.
const Json* FindValueMember(const Json& part, std::string* key) {
  const Json* found = nullptr;
  for (const auto& [name, value] : part.Members()) {
    if (name.size() > 5 && name.starts_with("value")) {
      if (found != nullptr)
        return nullptr;  // several value[x]: malformed
      found = &value;
      *key = name;
    }
  }
  return found;
}

Result<std::string> StringPart(const Operation& op, const Json& part, std::string_view name) {
  std::string key;
  const Json* value = FindValueMember(part, &key);
  if (value == nullptr || !value->IsString() || value->GetString().empty()) {
    return op.BadRequest("part '" + std::string(name) + "' needs one non-empty string value[x]");
  }
  return value->GetString();
}

Result<int64_t> IntegerPart(const Operation& op, const Json& part, std::string_view name) {
  std::string key;
  const Json* value = FindValueMember(part, &key);
  int64_t out = 0;
  if (value == nullptr || !value->IsNumber() || !value->GetInt64(&out) ||
      (key != "valueInteger" && key != "valueUnsignedInt" && key != "valuePositiveInt")) {
    return op.BadRequest("part '" + std::string(name) + "' needs a valueInteger");
  }
  return out;
}

Result<Operation> ParseOperation(const Json& parameter, size_t number) {
  Operation op;
  op.number = number;
  if (!parameter.IsObject())
    return op.BadRequest("the parameter is not an object");
  if (parameter.GetStringMember("name") != "operation") {
    return op.BadRequest("parameter name is '" + std::string(parameter.GetStringMember("name")) +
                         "', expected 'operation'");
  }
  const Json* parts = parameter.Find("part");
  if (parts == nullptr || !parts->IsArray())
    return op.BadRequest("the operation has no parts");
  std::vector<std::string> seen;
  for (const Json& part : parts->Items()) {
    if (!part.IsObject() || !part.Find("name") || !part.Find("name")->IsString()) {
      return op.BadRequest("a part has no name");
    }
    std::string name(part.GetStringMember("name"));
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      return op.BadRequest("part '" + name + "' appears more than once");
    }
    seen.push_back(name);
    if (name == "type") {
      MA_ASSIGN_OR_RETURN(op.type_name, StringPart(op, part, name));
    } else if (name == "path") {
      MA_ASSIGN_OR_RETURN(op.path, StringPart(op, part, name));
    } else if (name == "name") {
      MA_ASSIGN_OR_RETURN(op.name, StringPart(op, part, name));
    } else if (name == "value") {
      op.value = &part;
    } else if (name == "index") {
      MA_ASSIGN_OR_RETURN(op.index, IntegerPart(op, part, name));
    } else if (name == "source") {
      MA_ASSIGN_OR_RETURN(op.source, IntegerPart(op, part, name));
    } else if (name == "destination") {
      MA_ASSIGN_OR_RETURN(op.destination, IntegerPart(op, part, name));
    } else {
      return op.BadRequest("unknown part '" + name + "'");
    }
  }
  if (op.type_name.empty())
    return op.BadRequest("the operation has no 'type' part");
  if (op.type_name == "add") {
    op.type = OpType::kAdd;
  } else if (op.type_name == "insert") {
    op.type = OpType::kInsert;
  } else if (op.type_name == "delete") {
    op.type = OpType::kDelete;
  } else if (op.type_name == "replace") {
    op.type = OpType::kReplace;
  } else if (op.type_name == "move") {
    op.type = OpType::kMove;
  } else {
    std::string type = std::move(op.type_name);
    op.type_name.clear();
    return op.BadRequest("unknown operation type '" + type +
                         "' (add, insert, delete, replace or move)");
  }
  auto require = [&op](bool present, std::string_view part) -> Status {
    if (present)
      return {};
    return op.BadRequest("the '" + std::string(part) + "' part is required");
  };
  MA_RETURN_IF_ERROR(require(!op.path.empty(), "path"));
  switch (op.type) {
    case OpType::kAdd:
      MA_RETURN_IF_ERROR(require(!op.name.empty(), "name"));
      MA_RETURN_IF_ERROR(require(op.value != nullptr, "value"));
      break;
    case OpType::kInsert:
      MA_RETURN_IF_ERROR(require(op.index.has_value(), "index"));
      MA_RETURN_IF_ERROR(require(op.value != nullptr, "value"));
      break;
    case OpType::kDelete:
      break;
    case OpType::kReplace:
      MA_RETURN_IF_ERROR(require(op.value != nullptr, "value"));
      break;
    case OpType::kMove:
      MA_RETURN_IF_ERROR(require(op.source.has_value(), "source"));
      MA_RETURN_IF_ERROR(require(op.destination.has_value(), "destination"));
      break;
  }
  return op;
}

Result<std::vector<Operation>> ParseOperations(const Json& parameters) {
  if (!parameters.IsObject() || parameters.GetStringMember("resourceType") != "Parameters") {
    return Error::BadRequest("a FHIRPath Patch body must be a Parameters resource");
  }
  std::vector<Operation> out;
  const Json* list = parameters.Find("parameter");
  if (list == nullptr)
    return out;
  if (!list->IsArray())
    return Error::BadRequest("Parameters.parameter must be an array");
  for (size_t i = 0; i < list->Size(); ++i) {
    MA_ASSIGN_OR_RETURN(Operation op, ParseOperation(list->Items()[i], i));
    out.push_back(std::move(op));
  }
  return out;
}

// --- The model: which children repeat, which are choice elements. ---

struct ChildInfo {
  bool known = false;
  bool repeats = false;
  bool choice_base = false;   // `name` is a choice element's base name ("deceased")
  std::string children_path;  // the path naming the child's own children; empty if unknown
};

// Resolves `name` below the element whose children are named by `children_path`.
ChildInfo ResolveChild(std::string_view children_path, std::string_view name) {
  ChildInfo info;
  if (children_path.empty())
    return info;
  if (const r4::ChildMatch* match = r4::FindChild(children_path, name)) {
    info.known = true;
    info.repeats = match->element->IsRepeating();
    if (match->children != nullptr)
      info.children_path = match->children->path;
    return info;
  }
  std::string choice = std::string(children_path) + "." + std::string(name) + "[x]";
  if (const r4::ElementDefinition* element = r4::FindElement(choice);
      element != nullptr && element->is_choice) {
    info.known = true;
    info.repeats = element->IsRepeating();
    info.choice_base = true;
  }
  return info;
}

// The path naming the children of `value`, held under `key` by a node whose children are
// named by `parent_path`.
std::string ChildrenPath(std::string_view parent_path, std::string_view key, const Json& value) {
  if (parent_path.empty())
    return {};
  const r4::ChildMatch* match = r4::FindChild(parent_path, key);
  if (match == nullptr)
    return {};
  if (match->children != nullptr)
    return std::string(match->children->path);
  if (match->element->is_resource_slot && value.IsObject()) {
    return std::string(value.GetStringMember("resourceType"));
  }
  return {};
}

// --- Values ---

Result<Value> BuildValue(const Operation& op, const Json& part, const std::string& children_path);

// Builds an element from nested parts: each part names a child and carries its value.
Result<Json> BuildFromParts(const Operation& op, const Json& parts,
                            const std::string& children_path) {
  if (!parts.IsArray())
    return op.BadRequest("'part' must be an array");
  Json out = Json::MakeObject();
  for (const Json& part : parts.Items()) {
    std::string_view name = part.IsObject() ? part.GetStringMember("name") : std::string_view();
    if (name.empty())
      return op.BadRequest("a part of the value has no name");
    ChildInfo child = ResolveChild(children_path, name);
    if (!children_path.empty() && !child.known) {
      return op.Unprocessable("unknown element '" + std::string(name) + "' in " + children_path);
    }
    MA_ASSIGN_OR_RETURN(Value value, BuildValue(op, part, child.children_path));
    std::string key(name);
    if (child.choice_base) {
      if (value.type.empty()) {
        return op.BadRequest("choice element '" + key + "' needs a typed value[x]");
      }
      key += value.type;
    }
    Json* existing = out.Find(key);
    bool repeats = child.known ? child.repeats : existing != nullptr;
    if (repeats) {
      if (existing == nullptr)
        existing = &out.Set(key, Json::MakeArray());
      if (!existing->IsArray()) {
        Json first = std::move(*existing);
        *existing = Json::MakeArray();
        existing->PushBack(std::move(first));
      }
      size_t position = existing->Size();
      existing->PushBack(std::move(value.json));
      if (!value.extension.IsNull()) {
        Json& extensions = out.Find("_" + key) != nullptr ? *out.Find("_" + key)
                                                          : out.Set("_" + key, Json::MakeArray());
        while (extensions.Size() < position) extensions.PushBack(Json());
        extensions.PushBack(std::move(value.extension));
      }
    } else {
      if (existing != nullptr) {
        return op.BadRequest("element '" + key + "' is given twice but does not repeat");
      }
      if (!value.json.IsNull())
        out.Set(key, std::move(value.json));
      if (!value.extension.IsNull())
        out.Set("_" + key, std::move(value.extension));
    }
  }
  return out;
}

Result<Value> BuildValue(const Operation& op, const Json& part, const std::string& children_path) {
  std::string key;
  const Json* value = FindValueMember(part, &key);
  const Json* resource = part.Find("resource");
  const Json* parts = part.Find("part");
  std::string extension_key;
  for (const auto& [name, member] : part.Members()) {
    if (name.size() > 6 && name.starts_with("_value"))
      extension_key = name;
  }
  int kinds = (value != nullptr || !extension_key.empty() ? 1 : 0) + (resource != nullptr ? 1 : 0) +
              (parts != nullptr ? 1 : 0);
  if (kinds != 1) {
    return op.BadRequest("a value needs exactly one of value[x], resource or part");
  }
  Value out;
  if (value != nullptr || !extension_key.empty()) {
    if (value == nullptr)
      key = extension_key.substr(1);
    if (!extension_key.empty() && extension_key != "_" + key) {
      return op.BadRequest("a value has '" + extension_key + "' but its value is '" + key + "'");
    }
    if (value != nullptr)
      out.json = *value;
    if (!extension_key.empty())
      out.extension = *part.Find(extension_key);
    out.type = key.substr(5);
    return out;
  }
  if (resource != nullptr) {
    if (!resource->IsObject() || resource->GetStringMember("resourceType").empty()) {
      return op.BadRequest("a resource value needs a resourceType");
    }
    out.json = *resource;
    out.type = resource->GetStringMember("resourceType");
    return out;
  }
  MA_ASSIGN_OR_RETURN(out.json, BuildFromParts(op, *parts, children_path));
  return out;
}

// --- Where the items of a path sit in the resource ---

struct Location {
  Json* self = nullptr;
  Json* object = nullptr;         // the object holding the member; null for the root
  std::string key;                // the member's name, without the `_` of a primitive's extension
  size_t index = kNoIndex;        // position in the member's array
  bool extension_object = false;  // `self` is the `_key` object of a primitive
  std::string children_path;      // names the node's children; empty when unknown
};

using LocationMap = std::unordered_map<const Json*, Location>;

void IndexNode(Json& node, const std::string& children_path, LocationMap& map) {
  if (!node.IsObject())
    return;
  for (auto& [member_key, value] : node.Members()) {
    bool extension = member_key.starts_with("_");
    std::string key = extension ? member_key.substr(1) : member_key;
    auto visit = [&](Json& element, size_t index) {
      Location location;
      location.self = &element;
      location.object = &node;
      location.key = key;
      location.index = index;
      location.extension_object = extension;
      location.children_path =
          extension ? std::string("Element") : ChildrenPath(children_path, key, element);
      IndexNode(element, location.children_path, map);
      map.emplace(&element, std::move(location));
    };
    if (value.IsArray()) {
      for (size_t i = 0; i < value.Size(); ++i) visit(value.Items()[i], i);
    } else {
      visit(value, kNoIndex);
    }
  }
}

LocationMap IndexResource(Json& resource) {
  LocationMap map;
  Location root;
  root.self = &resource;
  root.children_path = resource.GetStringMember("resourceType");
  IndexNode(resource, root.children_path, map);
  map.emplace(&resource, std::move(root));
  return map;
}

Result<Location> Locate(const Operation& op, const fhirpath::Item& item, const LocationMap& map) {
  if (!item.IsNode()) {
    return op.Unprocessable("path '" + op.path + "' matches a computed value, not an element");
  }
  const Json* node = item.node != nullptr ? item.node : item.extension_node;
  auto found = map.find(node);
  if (node == nullptr || found == map.end()) {
    return op.Unprocessable("path '" + op.path + "' matches a value outside the resource");
  }
  Location location = found->second;
  if (item.node == nullptr) {
    location.extension_object = false;  // an element that has only id/extension
    location.self = nullptr;
  }
  return location;
}

// Locates the items of a path that must be elements of one list (one JSON array).
Result<std::vector<Location>> LocateList(const Operation& op, const fhirpath::Collection& items,
                                         const LocationMap& map) {
  if (items.empty())
    return op.Unprocessable("no list found at '" + op.path + "'");
  std::vector<Location> out;
  for (const fhirpath::Item& item : items) {
    MA_ASSIGN_OR_RETURN(Location location, Locate(op, item, map));
    if (location.object == nullptr || location.index == kNoIndex || location.extension_object) {
      return op.Unprocessable("path '" + op.path + "' does not match a list");
    }
    if (!out.empty() && (location.object != out[0].object || location.key != out[0].key)) {
      return op.Unprocessable("path '" + op.path + "' matches elements of several lists");
    }
    out.push_back(std::move(location));
  }
  return out;
}

// --- Editing, keeping `_key` arrays aligned with primitive lists ---

bool AllNull(const Json& array) {
  return std::all_of(array.Items().begin(), array.Items().end(),
                     [](const Json& item) { return item.IsNull(); });
}

// Sets `key` next to `after` (or at the end when `after` is absent).
Json& SetAfter(Json& object, std::string_view after, std::string_view key, Json value) {
  if (object.Find(key) != nullptr)
    return object.Set(key, std::move(value));
  const Json::Object& members = object.Members();
  for (size_t i = 0; i < members.size(); ++i) {
    if (members[i].first == after)
      return object.SetAt(i + 1, key, std::move(value));
  }
  return object.Set(key, std::move(value));
}

// Removes empty arrays and all-null `_key` arrays left by an edit of `key`.
void TidyMember(Json& object, const std::string& key) {
  const std::string extension_key = "_" + key;
  Json* extensions = object.Find(extension_key);
  if (extensions != nullptr && extensions->IsArray() && AllNull(*extensions)) {
    object.Erase(extension_key);
  }
  Json* values = object.Find(key);
  if (values != nullptr && values->IsArray() && values->Size() == 0)
    object.Erase(key);
}

void EraseElement(Json& object, const std::string& key, size_t index) {
  const std::string extension_key = "_" + key;
  if (index == kNoIndex) {
    object.Erase(key);
    object.Erase(extension_key);
    return;
  }
  for (const std::string* member : {&key, &extension_key}) {
    Json* array = object.Find(*member);
    if (array != nullptr && array->IsArray() && index < array->Size()) {
      array->Items().erase(array->Items().begin() + static_cast<std::ptrdiff_t>(index));
    }
  }
  TidyMember(object, key);
}

void InsertElement(Json& object, const std::string& key, size_t index, Value value) {
  Json* values = object.Find(key);
  if (values == nullptr || !values->IsArray())
    values = &object.Set(key, Json::MakeArray());
  size_t size_before = values->Size();
  values->Items().insert(values->Items().begin() + static_cast<std::ptrdiff_t>(index),
                         std::move(value.json));
  const std::string extension_key = "_" + key;
  Json* extensions = object.Find(extension_key);
  if ((extensions == nullptr || !extensions->IsArray()) && value.extension.IsNull())
    return;
  if (extensions == nullptr || !extensions->IsArray()) {
    extensions = &SetAfter(object, key, extension_key, Json::MakeArray());
  }
  while (extensions->Size() < size_before) extensions->PushBack(Json());
  extensions->Items().insert(extensions->Items().begin() + static_cast<std::ptrdiff_t>(index),
                             std::move(value.extension));
  TidyMember(object, key);
}

// Writes a single (non-list) element, replacing any value and `_key` it had.
void SetElement(Json& object, const std::string& key, Value value) {
  if (value.json.IsNull()) {
    object.Erase(key);
  } else {
    object.Set(key, std::move(value.json));
  }
  if (value.extension.IsNull()) {
    object.Erase("_" + key);
  } else {
    SetAfter(object, key, "_" + key, std::move(value.extension));
  }
}

// Deletes objects emptied by an edit inside `object`, walking up towards the root: FHIR JSON
// has no empty objects.
void RemoveEmptyAncestors(Json* object, const LocationMap& map) {
  while (object != nullptr && object->IsObject() && object->Size() == 0) {
    auto found = map.find(object);
    if (found == map.end() || found->second.object == nullptr)
      return;
    const Location& location = found->second;
    Json& parent = *location.object;
    if (location.extension_object) {
      const std::string extension_key = "_" + location.key;
      if (location.index == kNoIndex) {
        parent.Erase(extension_key);
        return;
      }
      Json* values = parent.Find(location.key);
      if (values == nullptr || !values->IsArray() || location.index >= values->Size() ||
          values->Items()[location.index].IsNull()) {
        EraseElement(parent, location.key, location.index);
      } else {
        parent.Find(extension_key)->Items()[location.index] = Json();
        TidyMember(parent, location.key);
      }
      return;
    }
    EraseElement(parent, location.key, location.index);
    object = &parent;
  }
}

// The `_key` object of a primitive element, created when absent.
Json& ExtensionObjectOf(const Location& location) {
  Json& object = *location.object;
  const std::string extension_key = "_" + location.key;
  Json* extensions = object.Find(extension_key);
  if (location.index == kNoIndex) {
    if (extensions == nullptr || !extensions->IsObject()) {
      extensions = &SetAfter(object, location.key, extension_key, Json::MakeObject());
    }
    return *extensions;
  }
  if (extensions == nullptr || !extensions->IsArray()) {
    extensions = &SetAfter(object, location.key, extension_key, Json::MakeArray());
  }
  const Json* values = object.Find(location.key);
  size_t size = values != nullptr && values->IsArray() ? values->Size() : location.index + 1;
  while (extensions->Size() < std::max(size, location.index + 1)) extensions->PushBack(Json());
  Json& slot = extensions->Items()[location.index];
  if (!slot.IsObject())
    slot = Json::MakeObject();
  return slot;
}

// --- Operations ---

Status Add(const Operation& op, const fhirpath::Collection& items, const LocationMap& map) {
  if (items.empty())
    return op.Unprocessable("no content found at '" + op.path + "' when adding");
  if (items.size() > 1) {
    return op.Unprocessable("path '" + op.path + "' matches " + std::to_string(items.size()) +
                            " elements; add needs exactly one");
  }
  MA_ASSIGN_OR_RETURN(Location location, Locate(op, items[0], map));
  Json* target = location.self;
  std::string children_path = location.children_path;
  if (target == nullptr || !target->IsObject()) {
    if (location.object == nullptr)
      return op.Unprocessable("cannot add to a non-object");
    target = &ExtensionObjectOf(location);  // a primitive: its id and extensions
    children_path = "Element";
  }
  ChildInfo child = ResolveChild(children_path, op.name);
  if (!children_path.empty() && !child.known) {
    return op.Unprocessable("unknown element '" + op.name + "' in " + children_path);
  }
  MA_ASSIGN_OR_RETURN(Value value, BuildValue(op, *op.value, child.children_path));
  std::string key = op.name;
  if (child.choice_base) {
    if (value.type.empty()) {
      return op.BadRequest("choice element '" + key + "' needs a typed value[x]");
    }
    std::string choice_name = key + "[x]";
    for (const auto& [member, member_value] : target->Members()) {
      const r4::ChildMatch* match = r4::FindChild(children_path, member);
      if (match != nullptr && match->element->name == choice_name) {
        return op.Unprocessable("element '" + member + "' is already present; use replace");
      }
    }
    key += value.type;
  }
  Json* existing = target->Find(key);
  bool repeats = child.known ? child.repeats : existing != nullptr && existing->IsArray();
  if (repeats) {
    if (existing != nullptr && !existing->IsArray()) {
      return op.Unprocessable("element '" + key + "' is not a list");
    }
    size_t size = existing == nullptr ? 0 : existing->Size();
    InsertElement(*target, key, size, std::move(value));
    return {};
  }
  if (existing != nullptr || target->Find("_" + key) != nullptr) {
    return op.Unprocessable("element '" + key + "' is already present; use replace");
  }
  SetElement(*target, key, std::move(value));
  return {};
}

Status Insert(const Operation& op, const fhirpath::Collection& items, const LocationMap& map) {
  MA_ASSIGN_OR_RETURN(std::vector<Location> list, LocateList(op, items, map));
  Json& object = *list[0].object;
  size_t size = object.Find(list[0].key)->Size();
  if (*op.index < 0 || static_cast<uint64_t>(*op.index) > size) {
    return op.Unprocessable("index " + std::to_string(*op.index) + " is outside 0.." +
                            std::to_string(size));
  }
  MA_ASSIGN_OR_RETURN(Value value, BuildValue(op, *op.value, list[0].children_path));
  InsertElement(object, list[0].key, static_cast<size_t>(*op.index), std::move(value));
  return {};
}

Status Delete(const Operation& op, const fhirpath::Collection& items, const LocationMap& map) {
  if (items.empty())
    return {};  // nothing to delete
  if (items.size() > 1) {
    return op.Unprocessable("path '" + op.path + "' matches " + std::to_string(items.size()) +
                            " elements; delete needs at most one");
  }
  MA_ASSIGN_OR_RETURN(Location location, Locate(op, items[0], map));
  if (location.object == nullptr)
    return op.Unprocessable("cannot delete the resource itself");
  if (location.extension_object) {
    return op.Unprocessable("path '" + op.path + "' matches the id/extensions of a primitive");
  }
  EraseElement(*location.object, location.key, location.index);
  RemoveEmptyAncestors(location.object, map);
  return {};
}

Status Replace(const Operation& op, const fhirpath::Collection& items, const LocationMap& map) {
  if (items.empty())
    return op.Unprocessable("no element found at '" + op.path + "' to replace");
  if (items.size() > 1) {
    return op.Unprocessable("path '" + op.path + "' matches " + std::to_string(items.size()) +
                            " elements; replace needs exactly one");
  }
  MA_ASSIGN_OR_RETURN(Location location, Locate(op, items[0], map));
  if (location.object == nullptr)
    return op.Unprocessable("cannot replace the resource itself");
  if (location.extension_object) {
    return op.Unprocessable("path '" + op.path + "' matches the id/extensions of a primitive");
  }
  MA_ASSIGN_OR_RETURN(Value value, BuildValue(op, *op.value, location.children_path));
  Json& object = *location.object;
  if (location.index != kNoIndex) {
    Json* values = object.Find(location.key);
    values->Items()[location.index] = std::move(value.json);
    Json* extensions = object.Find("_" + location.key);
    if (extensions != nullptr && extensions->IsArray() && location.index < extensions->Size()) {
      extensions->Items()[location.index] = std::move(value.extension);
      TidyMember(object, location.key);
    } else if (!value.extension.IsNull()) {
      ExtensionObjectOf(location) = std::move(value.extension);
    }
    return {};
  }
  // A choice element takes the name of the new value's type.
  std::string key = location.key;
  auto parent = map.find(&object);
  if (!value.type.empty() && parent != map.end() && !parent->second.children_path.empty()) {
    const r4::ChildMatch* match = r4::FindChild(parent->second.children_path, key);
    if (match != nullptr && match->element->is_choice && match->type != value.type) {
      std::string_view base = match->element->name;
      base.remove_suffix(3);  // "[x]"
      key = std::string(base) + value.type;
      if (r4::FindChild(parent->second.children_path, key) == nullptr) {
        return op.Unprocessable("element '" + std::string(match->element->name) +
                                "' does not allow type " + value.type);
      }
      const Json::Object& members = object.Members();
      size_t position = 0;
      while (position < members.size() && members[position].first != location.key) ++position;
      object.Erase(location.key);
      object.Erase("_" + location.key);
      if (!value.json.IsNull())
        object.SetAt(position, key, Json());
    }
  }
  SetElement(object, key, std::move(value));
  return {};
}

Status Move(const Operation& op, const fhirpath::Collection& items, const LocationMap& map) {
  MA_ASSIGN_OR_RETURN(std::vector<Location> list, LocateList(op, items, map));
  Json& object = *list[0].object;
  const std::string& key = list[0].key;
  size_t size = object.Find(key)->Size();
  for (int64_t position : {*op.source, *op.destination}) {
    if (position < 0 || static_cast<uint64_t>(position) >= size) {
      return op.Unprocessable("index " + std::to_string(position) + " is outside 0.." +
                              std::to_string(size - 1));
    }
  }
  auto source = static_cast<size_t>(*op.source);
  auto destination = static_cast<size_t>(*op.destination);
  // Moves in place (the list never becomes empty), with the `_key` array alongside.
  for (const std::string& member : {key, "_" + key}) {
    Json* array = object.Find(member);
    if (array == nullptr || !array->IsArray())
      continue;
    while (array->Size() < size) array->PushBack(Json());
    Json::Array& elements = array->Items();
    Json element = std::move(elements[source]);
    elements.erase(elements.begin() + static_cast<std::ptrdiff_t>(source));
    elements.insert(elements.begin() + static_cast<std::ptrdiff_t>(destination),
                    std::move(element));
  }
  return {};
}

Status Apply(const Operation& op, Json& resource) {
  auto expression = fhirpath::Parse(op.path);
  if (!expression)
    return op.BadRequest("path: " + expression.error().GetMessage());
  auto items = fhirpath::Evaluate(*expression, resource);
  if (!items)
    return op.Unprocessable("path '" + op.path + "': " + items.error().GetMessage());
  LocationMap map = IndexResource(resource);
  switch (op.type) {
    case OpType::kAdd:
      return Add(op, *items, map);
    case OpType::kInsert:
      return Insert(op, *items, map);
    case OpType::kDelete:
      return Delete(op, *items, map);
    case OpType::kReplace:
      return Replace(op, *items, map);
    case OpType::kMove:
      return Move(op, *items, map);
  }
  return {};
}

}  // namespace

Status ApplyFhirPathPatch(Json& resource, const Json& parameters) {
  MA_ASSIGN_OR_RETURN(std::vector<Operation> operations, ParseOperations(parameters));
  if (!resource.IsObject() || resource.GetStringMember("resourceType").empty()) {
    return Error::BadRequest("FHIRPath Patch applies to a resource (an object with resourceType)");
  }
  Json copy = resource;
  for (const Operation& op : operations) MA_RETURN_IF_ERROR(Apply(op, copy));
  resource = std::move(copy);
  return {};
}

}  // namespace medalliance::fhir
