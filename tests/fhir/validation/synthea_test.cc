// The 45 Synthea patient Bundles (transaction Bundles of 150 KB - 1.3 MB) validate, and a
// timing loop prints the validation cost per resource (printed, not asserted).

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fhir/json/json.h"
#include "fhir/validation/validation_test_util.h"
#include "fhir/validation/validator.h"

namespace medalliance::fhir::validation {
namespace {

class SyntheaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string dir =
        std::string(MA_SHARED_DATA_DIR) + "/synthea-r4-smart-generated-sample-data/bundles";
    for (const std::string& path : testing::ListFiles(dir, ".json.zst")) {
      core::Result<Json> json = ParseJson(testing::ReadDataFile(path));
      ASSERT_TRUE(json.has_value()) << path;
      names_->push_back(std::filesystem::path(path).filename().string());
      bundles_->push_back(std::move(json).value());
    }
  }
  static inline std::vector<std::string>* names_ = new std::vector<std::string>();
  static inline std::vector<Json>* bundles_ = new std::vector<Json>();
};

TEST_F(SyntheaTest, EveryBundleAndEntryValidates) {
  ASSERT_EQ(bundles_->size(), 45u);
  size_t entries = 0;
  for (size_t i = 0; i < bundles_->size(); ++i) {
    const Json& bundle = (*bundles_)[i];
    std::vector<core::Issue> issues = CollectIssues(bundle);
    EXPECT_TRUE(issues.empty()) << (*names_)[i] << ":\n" << testing::Describe(issues);
    // Each entry's resource on its own, as an import would see it.
    for (const Json& entry : bundle.Find("entry")->Items()) {
      ++entries;
      std::vector<core::Issue> own = CollectIssues(*entry.Find("resource"));
      EXPECT_TRUE(own.empty()) << (*names_)[i] << ":\n" << testing::Describe(own);
    }
  }
  EXPECT_EQ(entries, 9955u);  // SOURCE.md counts
}

TEST_F(SyntheaTest, PrintsValidationCostPerResource) {
  std::vector<const Json*> resources;
  for (const Json& bundle : *bundles_) {
    for (const Json& entry : bundle.Find("entry")->Items())
      resources.push_back(entry.Find("resource"));
  }
  size_t bytes = 0;
  for (const Json* resource : resources) bytes += WriteJson(*resource).size();
  constexpr int kRounds = 5;
  size_t failures = 0;
  auto start = std::chrono::steady_clock::now();
  for (int round = 0; round < kRounds; ++round) {
    for (const Json* resource : resources)
      failures += ValidateResource(*resource).has_value() ? 0 : 1;
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double per_resource_us = seconds * 1e6 / static_cast<double>(resources.size() * kRounds);
  std::printf(
      "validation: %zu resources, mean %.0f bytes, %.2f us/resource (%.0f resources/s "
      "on one core)\n",
      resources.size(), static_cast<double>(bytes) / static_cast<double>(resources.size()),
      per_resource_us, 1e6 / per_resource_us);
  EXPECT_EQ(failures, 0u);
}

}  // namespace
}  // namespace medalliance::fhir::validation
