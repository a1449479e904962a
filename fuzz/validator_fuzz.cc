// ParseJson + ValidateResource must never crash: the validator returns Ok or kUnprocessable
// with at least one issue, agrees with CollectIssues, and honours max_issues.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fhir/json/json.h"
#include "fhir/validation/validator.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace validation = medalliance::fhir::validation;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto resource = medalliance::fhir::ParseJson(input);
  if (!resource.has_value())
    return 0;

  auto status = validation::ValidateResource(*resource);
  if (!status.has_value()) {
    const auto& error = status.error();
    MA_FUZZ_EXPECT(error.GetCode() == medalliance::core::ErrorCode::kUnprocessable,
                   error.GetMessage());
    MA_FUZZ_EXPECT(!error.GetIssues().empty(), "an error without issues");
    for (const auto& issue : error.GetIssues()) {
      MA_FUZZ_EXPECT(!issue.diagnostics.empty(), issue.expression);
    }
  }
  validation::ValidationOptions options;
  options.max_issues = 3;
  auto issues = validation::CollectIssues(*resource, options);
  MA_FUZZ_EXPECT(issues.size() <= options.max_issues, "more issues than max_issues");
  MA_FUZZ_EXPECT(issues.empty() == status.has_value(),
                 "CollectIssues and ValidateResource disagree");
  return 0;
}
