#include "core/ids.h"

#include <chrono>
#include <set>
#include <thread>
#include <vector>

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

// Within one millisecond too, and from several threads: every id is greater than every id
// made before it (the B-trees keyed by id append at their end).
TEST(IdsTest, NewIdsIncreaseStrictlyAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kIds = 20000;  // several thousand per millisecond: the counter runs over
  std::vector<std::vector<std::string>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&made, t] {
      for (int i = 0; i < kIds; ++i) made[static_cast<size_t>(t)].push_back(NewId());
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::set<std::string> all;
  for (const std::vector<std::string>& ids : made) {
    for (size_t i = 1; i < ids.size(); ++i) ASSERT_LT(ids[i - 1], ids[i]) << i;
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kIds));
  for (const std::string& id : all) {
    ASSERT_EQ(id[14], '7') << id;                                          // version
    ASSERT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // variant
  }
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
