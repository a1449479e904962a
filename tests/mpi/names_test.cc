#include "mpi/names.h"

#include <gtest/gtest.h>

namespace medalliance::mpi {
namespace {

TEST(NamesTest, FoldsTraditionalToSimplified) {
  EXPECT_EQ(FoldHanzi("張偉"), "张伟");
  EXPECT_EQ(FoldHanzi("陳 麗華"), "陈丽华");
  EXPECT_EQ(FoldHanzi("歐陽 曉明"), "欧阳晓明");
}

TEST(NamesTest, FoldDropsSeparatorsAndFullWidth) {
  EXPECT_EQ(FoldHanzi("阿依古丽·买买提"), "阿依古丽买买提");
  EXPECT_EQ(FoldHanzi("张　伟"), "张伟");
  EXPECT_EQ(FoldHanzi("ＡＢ"), "AB");
}

TEST(NamesTest, PolyphonicCharactersKeepEveryReading) {
  const std::vector<std::string>& zeng = PinyinReadings(U'曾');
  EXPECT_NE(std::find(zeng.begin(), zeng.end(), "zeng"), zeng.end());
  EXPECT_NE(std::find(zeng.begin(), zeng.end(), "ceng"), zeng.end());
  const std::vector<std::string>& shan = PinyinReadings(U'单');
  EXPECT_NE(std::find(shan.begin(), shan.end(), "shan"), shan.end());
  EXPECT_NE(std::find(shan.begin(), shan.end(), "dan"), shan.end());
}

TEST(NamesTest, TraditionalCharacterReadsLikeSimplified) {
  const std::vector<std::string>& readings = PinyinReadings(U'張');
  ASSERT_FALSE(readings.empty());
  EXPECT_EQ(readings[0], "zhang");
}

TEST(NamesTest, LatinTokensDropTonesAndCase) {
  EXPECT_EQ(LatinNameTokens("ZHĀNG Wěi"), (std::vector<std::string>{"zhang", "wei"}));
  EXPECT_EQ(LatinNameTokens("zhang1 wei3"), (std::vector<std::string>{"zhang", "wei"}));
  EXPECT_EQ(LatinNameTokens("Xi'an"), (std::vector<std::string>{"xian"}));
  EXPECT_EQ(LatinNameTokens("LYU Xiaoming"), (std::vector<std::string>{"lv", "xiaoming"}));
  EXPECT_EQ(LatinNameTokens("Lǚ"), (std::vector<std::string>{"lv"}));
  EXPECT_EQ(LatinNameTokens("lu:"), (std::vector<std::string>{"lv"}));
}

TEST(NamesTest, EverySpellingOfZhangWeiMeets) {
  const NameKey hanzi = MakeNameKey("张", "伟");
  EXPECT_EQ(hanzi.hanzi, "张伟");
  for (const NameKey& other :
       {MakeNameKey("", "", "张伟"), MakeNameKey("張", "偉"), MakeNameKey("ZHANG", "WEI"),
        MakeNameKey("", "", "Zhang Wei"), MakeNameKey("", "", "zhāng wěi"),
        MakeNameKey("", "", "ZHANGWEI"), MakeNameKey("", "", "WEI ZHANG"),
        MakeNameKey("", "", "Wei Zhang")}) {
    EXPECT_TRUE(SpellingsIntersect(hanzi.spellings, other.spellings))
        << (other.spellings.empty() ? "" : other.spellings[0]);
  }
}

TEST(NamesTest, HomophonesShareSpellingsButNotCharacters) {
  const NameKey a = MakeNameKey("张", "伟");
  const NameKey b = MakeNameKey("章", "玮");
  EXPECT_NE(a.hanzi, b.hanzi);
  EXPECT_TRUE(SpellingsIntersect(a.spellings, b.spellings));
}

TEST(NamesTest, DifferentNamesDoNotMeet) {
  EXPECT_FALSE(
      SpellingsIntersect(MakeNameKey("张", "伟").spellings, MakeNameKey("王", "芳").spellings));
}

TEST(NamesTest, TextNameSplitsCompoundSurname) {
  const NameKey key = MakeNameKey("", "", "欧阳晓明");
  EXPECT_EQ(key.family_hanzi, "欧阳");
  EXPECT_EQ(key.given_hanzi, "晓明");
  const NameKey simple = MakeNameKey("", "", "王芳");
  EXPECT_EQ(simple.family_hanzi, "王");
  ASSERT_FALSE(key.spellings.empty());
  EXPECT_TRUE(SpellingsIntersect(key.spellings, {"ouyangxiaoming"}));
}

TEST(NamesTest, PolyphonicSurnameMatchesEitherReading) {
  const NameKey key = MakeNameKey("", "", "曾小华");
  EXPECT_TRUE(SpellingsIntersect(key.spellings, MakeNameKey("ZENG", "XIAOHUA").spellings));
}

}  // namespace
}  // namespace medalliance::mpi
