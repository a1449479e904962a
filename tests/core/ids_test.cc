#include "core/ids.h"

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
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
    EXPECT_EQ(id.size(), 16u);
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
}

TEST(IdsTest, NewIdsSortByCreationTime) {
  std::string first = NewId();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  std::string second = NewId();
  EXPECT_LT(first, second);
  EXPECT_EQ(NewUuid()[14], '4');  // version nibble
}

// The alphabet is in ASCII order, so the text order of ids is the order of their bits, and
// today's ids sort after every UUID v7 id made before them (those start with a digit).
TEST(IdsTest, NewIdsCarryTheMillisecondAndSortAfterUuidIds) {
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::string id = NewId();
  const auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  static constexpr std::string_view kAlphabet =
      "-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  int64_t millis = 0;
  for (size_t i = 0; i < 7; ++i) millis = millis << 6 | static_cast<int64_t>(kAlphabet.find(id[i]));
  EXPECT_GE(millis, before) << id;  // the first 42 bits are the millisecond
  EXPECT_LE(millis, after) << id;
  // Every UUID v7 made before the year 2527 starts with "0".
  EXPECT_GT(id, "0fffffff-ffff-7fff-bfff-ffffffffffff");
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
  for (const std::string& id : all) ASSERT_TRUE(IsValidId(id)) << id;
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
