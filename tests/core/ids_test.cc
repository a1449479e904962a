#include "core/ids.h"

#include <chrono>
#include <set>
#include <thread>

#include <gtest/gtest.h>

namespace medalliance::core {
namespace {

TEST(IdsTest, NewIdsAreValidAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewId();
    EXPECT_TRUE(IsValidId(id)) << id;
    EXPECT_EQ(id.size(), 36u);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(IdsTest, NewIdsSortByCreationTime) {
  std::string first = NewId();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::string second = NewId();
  EXPECT_LT(first, second);
  EXPECT_EQ(first[14], '7');  // version nibble
  EXPECT_EQ(NewUuid()[14], '4');
}

TEST(IdsTest, ValidatesFhirIdSyntax) {
  EXPECT_TRUE(IsValidId("example-1.2"));
  EXPECT_FALSE(IsValidId(""));
  EXPECT_FALSE(IsValidId("has space"));
  EXPECT_FALSE(IsValidId("under_score"));
  EXPECT_FALSE(IsValidId(std::string(65, 'a')));
}

}  // namespace
}  // namespace medalliance::core
