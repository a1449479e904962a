#include "core/result.h"

#include <gtest/gtest.h>

namespace medalliance::core {
namespace {

Result<int> Half(int value) {
  if (value % 2 != 0)
    return Error::Unprocessable("odd", "Value.x");
  return value / 2;
}

Result<int> Quarter(int value) {
  MA_ASSIGN_OR_RETURN(int half, Half(value));
  MA_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(ResultTest, PropagatesErrorsThroughAssignOrReturn) {
  EXPECT_EQ(Quarter(8).value(), 2);
  Result<int> failed = Quarter(6);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().GetCode(), ErrorCode::kUnprocessable);
  EXPECT_EQ(failed.error().GetHttpStatus(), 422);
  EXPECT_EQ(failed.error().GetIssues()[0].expression, "Value.x");
  EXPECT_EQ(failed.error().GetIssues()[0].code, "processing");
}

TEST(ResultTest, ErrorTableMapsCodesToHttpStatus) {
  EXPECT_EQ(HttpStatusOf(ErrorCode::kNotFound), 404);
  EXPECT_EQ(HttpStatusOf(ErrorCode::kGone), 410);
  EXPECT_EQ(HttpStatusOf(ErrorCode::kPreconditionFailed), 412);
  EXPECT_EQ(IssueTypeOf(ErrorCode::kGone), "deleted");
}

TEST(ResultTest, LocationPrefixReplacesResourceType) {
  Error error = Error::Unprocessable("bad", "Patient.name[0]");
  error.WithLocationPrefix("Bundle.entry[2].resource");
  EXPECT_EQ(error.GetIssues()[0].expression, "Bundle.entry[2].resource.name[0]");
}

}  // namespace
}  // namespace medalliance::core
