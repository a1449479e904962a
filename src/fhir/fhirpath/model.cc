// ModelInfo over the generated R4 definitions (fhir/r4/definitions.h).

#include "fhir/fhirpath/fhirpath.h"
#include "fhir/r4/definitions.h"

namespace medalliance::fhir::fhirpath {
namespace {

class R4Model final : public ModelInfo {
 public:
  bool FindChild(std::string_view type, const void* definition, std::string_view key,
                 Child* out) const override {
    const r4::ElementDefinition* element = Element(type, definition);
    if (element == nullptr)
      return false;
    const r4::ChildMatch* match = element->FindChild(key);
    if (match == nullptr || match->element == nullptr)
      return false;
    out->type = match->type;
    out->definition = match->children;
    out->is_choice = match->element->is_choice;
    if (out->is_choice) {
      std::string_view name = match->element->name;
      if (name.size() > 3 && name.substr(name.size() - 3) == "[x]") {
        name = name.substr(0, name.size() - 3);
      }
      out->choice_name = name;
    }
    return true;
  }

  bool KnowsChildren(std::string_view type, const void* definition) const override {
    const r4::ElementDefinition* element = Element(type, definition);
    return element != nullptr && !element->Children().empty();
  }

  const void* ResourceDefinition(std::string_view resource_type) const override {
    const r4::TypeDefinition* type = r4::FindType(resource_type);
    return type == nullptr ? nullptr : type->root;
  }

  bool IsA(std::string_view type, std::string_view ancestor) const override {
    if (type == ancestor)
      return true;
    return r4::IsA(type, ancestor);
  }

  bool IsKnownType(std::string_view name) const override { return r4::FindType(name) != nullptr; }

  std::string_view CanonicalTypeName(std::string_view name) const override {
    const r4::TypeDefinition* type = r4::FindType(name);
    return type == nullptr ? std::string_view() : type->name;
  }

 private:
  static const r4::ElementDefinition* Element(std::string_view type, const void* definition) {
    if (definition != nullptr)
      return static_cast<const r4::ElementDefinition*>(definition);
    if (type.empty())
      return nullptr;
    const r4::TypeDefinition* type_definition = r4::FindType(type);
    return type_definition == nullptr ? nullptr : type_definition->root;
  }
};

}  // namespace

const ModelInfo& R4ModelInfo() {
  static const R4Model* model = new R4Model();
  return *model;
}

}  // namespace medalliance::fhir::fhirpath
