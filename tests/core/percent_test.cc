#include "core/percent.h"

#include <gtest/gtest.h>

namespace medalliance::core {
namespace {

TEST(PercentTest, DecodesEscapesIncludingUtf8) {
  EXPECT_EQ(PercentDecode("Patient%2F123"), "Patient/123");
  EXPECT_EQ(PercentDecode("%E5%BC%A0%e4%b8%89"), "张三");
  EXPECT_EQ(PercentDecode("plain"), "plain");
  EXPECT_EQ(PercentDecode(""), "");
}

TEST(PercentTest, PlusIsASpaceOnlyWhenAsked) {
  EXPECT_EQ(PercentDecode("a+b%2Bc", true), "a b+c");
  EXPECT_EQ(PercentDecode("a+b%2Bc", false), "a+b+c");
}

TEST(PercentTest, MalformedEscapesAreRefused) {
  EXPECT_FALSE(PercentDecode("%").has_value());
  EXPECT_FALSE(PercentDecode("abc%4").has_value());
  EXPECT_FALSE(PercentDecode("%zz").has_value());
  EXPECT_FALSE(PercentDecode("%G1", true).has_value());
}

}  // namespace
}  // namespace medalliance::core
