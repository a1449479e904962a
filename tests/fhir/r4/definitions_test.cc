#include "fhir/r4/definitions.h"

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace medalliance::fhir::r4 {
namespace {

TEST(DefinitionsTest, ResourceTypes) {
  EXPECT_TRUE(IsResourceType("Patient"));
  EXPECT_TRUE(IsResourceType("Bundle"));
  EXPECT_FALSE(IsResourceType("DomainResource"));  // abstract
  EXPECT_FALSE(IsResourceType("HumanName"));
  EXPECT_FALSE(IsResourceType("patient"));
  const std::vector<std::string_view>& names = ResourceTypeNames();
  EXPECT_EQ(names.size(), 146u);  // R4 4.0.1 concrete resource types
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_TRUE(IsA("Patient", "DomainResource"));
  EXPECT_TRUE(IsA("Bundle", "Resource"));
  EXPECT_FALSE(IsA("Bundle", "DomainResource"));
  EXPECT_TRUE(IsPrimitiveType("dateTime"));
  EXPECT_FALSE(IsPrimitiveType("Quantity"));
  EXPECT_EQ(FindType("Age")->base, "Quantity");
}

TEST(DefinitionsTest, ElementsCarryCardinalityAndTypes) {
  const ElementDefinition* status = FindElement("Observation.status");
  ASSERT_NE(status, nullptr);
  EXPECT_EQ(status->min, 1u);
  EXPECT_EQ(status->max, 1);
  EXPECT_EQ(status->types, std::vector<std::string_view>{"code"});
  const ElementDefinition* name = FindElement("Patient.name");
  ASSERT_NE(name, nullptr);
  EXPECT_TRUE(name->IsRepeating());
  EXPECT_EQ(name->MaxText(), "*");
  EXPECT_EQ(FindElement("Patient.id")->types, std::vector<std::string_view>{"id"});
  EXPECT_EQ(FindElement("HumanName.id")->types, std::vector<std::string_view>{"string"});
  EXPECT_TRUE(FindElement("Observation.component")->is_backbone);
  EXPECT_EQ(FindElement("Patient.nope"), nullptr);
  // Paths below a complex type resolve through the type.
  EXPECT_EQ(FindElement("Patient.name.given"), FindElement("HumanName.given"));
  const ElementDefinition* subject = FindElement("Observation.subject");
  EXPECT_NE(std::find(subject->target_types.begin(), subject->target_types.end(), "Patient"),
            subject->target_types.end());
}

TEST(DefinitionsTest, ChoiceTypesResolveByJsonKey) {
  const ChildMatch* match = FindChild("Observation", "valueQuantity");
  ASSERT_NE(match, nullptr);
  EXPECT_EQ(match->element->path, "Observation.value[x]");
  EXPECT_EQ(match->type, "Quantity");
  EXPECT_FALSE(match->is_primitive);
  EXPECT_EQ(match->children, FindType("Quantity")->root);
  const ChildMatch* date_time = FindChild("Observation", "effectiveDateTime");
  ASSERT_NE(date_time, nullptr);
  EXPECT_TRUE(date_time->is_primitive);
  EXPECT_EQ(date_time->primitive, Primitive::kDateTime);
  EXPECT_EQ(FindChild("Observation", "valueMoney"), nullptr);
  EXPECT_EQ(FindChild("Observation", "value[x]"), nullptr);
  EXPECT_NE(FindChild("Observation.component", "valueQuantity"), nullptr);
  EXPECT_NE(FindChild("Extension", "valueCodeableConcept"), nullptr);
}

TEST(DefinitionsTest, ContentReferencesAndResourceSlots) {
  const ElementDefinition* nested = FindElement("Questionnaire.item.item");
  ASSERT_NE(nested, nullptr);
  EXPECT_EQ(nested->content_reference, "#Questionnaire.item");
  EXPECT_EQ(FindChild("Questionnaire.item", "item")->children, FindElement("Questionnaire.item"));
  EXPECT_NE(FindElement("Questionnaire.item.item.linkId"), nullptr);
  EXPECT_TRUE(FindElement("Bundle.entry.resource")->is_resource_slot);
  EXPECT_TRUE(FindElement("Patient.contained")->is_resource_slot);
  EXPECT_TRUE(FindElement("Parameters.parameter.resource")->is_resource_slot);
  EXPECT_FALSE(FindElement("Patient.name")->is_resource_slot);
}

TEST(DefinitionsTest, RequiredBindingsAreExpanded) {
  const ValueSetCodes* gender = RequiredBinding("Patient.gender");
  ASSERT_NE(gender, nullptr);
  EXPECT_EQ(gender->GetUrl(), "http://hl7.org/fhir/ValueSet/administrative-gender");
  EXPECT_EQ(gender->Size(), 4u);
  EXPECT_TRUE(gender->ContainsCode("unknown"));
  EXPECT_TRUE(gender->Contains("http://hl7.org/fhir/administrative-gender", "female"));
  EXPECT_FALSE(gender->ContainsCode("F"));
  EXPECT_TRUE(RequiredBinding("Observation.status")->ContainsCode("final"));
  EXPECT_TRUE(RequiredBinding("HumanName.use")->ContainsCode("official"));
  EXPECT_EQ(RequiredBinding("Observation.code"), nullptr);  // example binding
  // Not expandable from the package: listed, and no codes.
  bool has_mimetypes = false;
  for (const UnexpandedValueSet& skipped : UnexpandedValueSets()) {
    has_mimetypes |= skipped.url == "http://hl7.org/fhir/ValueSet/mimetypes";
  }
  EXPECT_TRUE(has_mimetypes);
  EXPECT_EQ(RequiredBinding("Attachment.contentType"), nullptr);
  EXPECT_EQ(FindElement("Attachment.contentType")->required_value_set,
            "http://hl7.org/fhir/ValueSet/mimetypes");
}

TEST(DefinitionsTest, SearchParamsIncludeTheCommonOnes) {
  const std::vector<const SearchParamDefinition*>& params = SearchParams("Patient");
  auto has = [&](std::string_view code) {
    return std::any_of(params.begin(), params.end(),
                       [&](const SearchParamDefinition* p) { return p->code == code; });
  };
  for (std::string_view code : {"name", "birthdate", "identifier", "_id", "_lastUpdated", "_tag",
                                "_profile", "_security", "_source", "_text"}) {
    EXPECT_TRUE(has(code)) << code;
  }
  EXPECT_FALSE(std::any_of(SearchParams("Bundle").begin(), SearchParams("Bundle").end(),
                           [](const SearchParamDefinition* p) { return p->code == "_text"; }));
  const SearchParamDefinition* birthdate = FindSearchParam("Patient", "birthdate");
  ASSERT_NE(birthdate, nullptr);
  EXPECT_EQ(birthdate->type, SearchParamType::kDate);
  EXPECT_EQ(birthdate->expression, "Patient.birthDate");  // shared expression narrowed to Patient
  const SearchParamDefinition* subject = FindSearchParam("Observation", "subject");
  ASSERT_NE(subject, nullptr);
  EXPECT_EQ(subject->type, SearchParamType::kReference);
  EXPECT_FALSE(subject->target_types.empty());
  const SearchParamDefinition* code_value = FindSearchParam("Observation", "code-value-quantity");
  ASSERT_NE(code_value, nullptr);
  ASSERT_EQ(code_value->components.size(), 2u);
  EXPECT_EQ(code_value->components[0].code, "code");
  EXPECT_EQ(code_value->components[1].code, "value-quantity");
  EXPECT_TRUE(SearchParams("NoSuchType").empty());
  EXPECT_EQ(FindSearchParam("Patient", "nope"), nullptr);
}

TEST(DefinitionsTest, FirstUseIsThreadSafe) {
  std::vector<std::thread> threads;
  std::vector<int> found(4, 0);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&found, i] { found[i] = FindChild("Patient", "gender") != nullptr; });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(found, std::vector<int>(4, 1));
}

}  // namespace
}  // namespace medalliance::fhir::r4
