// Every official R4 example (resources/ and bundles/ of fhir-r4-spec-examples) must validate,
// except the ones listed in doc/validation.md, which break a rule of the specification.

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "fhir/validation/validation_test_util.h"

namespace medalliance::fhir::validation {
namespace {

// file name -> "code@expression" of each expected issue (see doc/validation.md).
const std::map<std::string, std::set<std::string>> kKnownBadExamples = {};

TEST(ExamplesTest, OfficialExamplesValidate) {
  const std::string root = std::string(MA_SHARED_DATA_DIR) + "/fhir-r4-spec-examples/";
  std::vector<std::string> files = testing::ListFiles(root + "resources", ".json");
  std::vector<std::string> bundles = testing::ListFiles(root + "bundles", ".json");
  files.insert(files.end(), bundles.begin(), bundles.end());
  ASSERT_GT(files.size(), 380u);
  std::map<std::string, std::set<std::string>> rejected;
  for (const std::string& path : files) {
    std::vector<core::Issue> issues = testing::ValidateText(testing::ReadDataFile(path));
    if (issues.empty())
      continue;
    std::string name = std::filesystem::path(path).filename().string();
    for (const core::Issue& issue : issues)
      rejected[name].insert(issue.code + "@" + issue.expression);
    if (!kKnownBadExamples.contains(name)) {
      ADD_FAILURE() << name << " rejected:\n" << testing::Describe(issues);
    }
  }
  EXPECT_EQ(rejected, kKnownBadExamples);
}

}  // namespace
}  // namespace medalliance::fhir::validation
