#include "core/base64.h"

#include <gtest/gtest.h>

namespace medalliance::core {
namespace {

TEST(Base64Test, EncodesRfc4648Vectors) {
  const char* expected[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  std::string input = "foobar";
  for (size_t n = 0; n <= input.size(); ++n) {
    EXPECT_EQ(Base64Encode(input.substr(0, n), Base64Alphabet::kStandard, true), expected[n]);
  }
  EXPECT_EQ(Base64Encode("fo", Base64Alphabet::kStandard, false), "Zm8");
  EXPECT_EQ(Base64Encode("\xfb\xff", Base64Alphabet::kStandard, true), "+/8=");
  EXPECT_EQ(Base64Encode("\xfb\xff", Base64Alphabet::kUrl, false), "-_8");
}

TEST(Base64Test, DecodesEitherAlphabetAndRejectsOtherCharacters) {
  EXPECT_EQ(Base64Decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(Base64Decode("Zm9vYmE"), "fooba");
  EXPECT_EQ(Base64Decode("+/8="), "\xfb\xff");
  EXPECT_EQ(Base64Decode("-_8"), "\xfb\xff");
  EXPECT_FALSE(Base64Decode("Zm9v!").has_value());
  EXPECT_FALSE(Base64Decode("Zm9v YmFy").has_value());
  EXPECT_EQ(Base64Decode("Zm9v\nYmFy", /*skip_whitespace=*/true), "foobar");
}

TEST(Base64Test, RoundTripsEveryByte) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  for (Base64Alphabet alphabet : {Base64Alphabet::kStandard, Base64Alphabet::kUrl}) {
    EXPECT_EQ(Base64Decode(Base64Encode(all, alphabet, true)), all);
    EXPECT_EQ(Base64Decode(Base64Encode(all, alphabet, false)), all);
  }
}

}  // namespace
}  // namespace medalliance::core
