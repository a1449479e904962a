#include "mpi/matcher.h"

#include <gtest/gtest.h>

#include "fhir/json/json.h"
#include "mpi/identifiers.h"
#include "mpi/internal/tables.h"

namespace medalliance::mpi {
namespace {

std::string MakeId(std::string_view first17) {
  return std::string(first17) + ResidentIdCheckCharacter(first17);
}

// A record of 张伟, male, born 1985-06-12, with the given changes applied by the caller.
PatientRecord ZhangWei() {
  PatientRecord record;
  record.reference = "Patient/a";
  record.name = MakeNameKey("张", "伟");
  record.birth_year = 1985;
  record.birth_month = 6;
  record.birth_day = 12;
  record.sex = 'M';
  record.phones = {"13800138000"};
  record.address = NormalizeAddress("广东省深圳市南山区科技园路8号3栋501室");
  return record;
}

void SetId(PatientRecord& record, const std::string& id) {
  record.resident_id = id;
  record.resident_id_valid = HasValidResidentIdChecksum(id);
}

Comparison Grade(const PatientRecord& a, const PatientRecord& b) {
  return Compare(a, b, DefaultMatchConfig());
}

TEST(MatcherTest, EmbeddedWeightsParse) {
  EXPECT_TRUE(ParseMatchConfig(internal::MatchWeightsTable()).has_value());
  const MatchConfig& config = DefaultMatchConfig();
  EXPECT_GT(config.certain_threshold, config.probable_threshold);
  EXPECT_GT(config.probable_threshold, config.possible_threshold);
  EXPECT_GT(config.Weight(Field::kName, Level::kAgree), 0);
  EXPECT_LT(config.Weight(Field::kName, Level::kDisagree), 0);
}

TEST(MatcherTest, BadWeightsFileNamesTheLine) {
  core::Result<MatchConfig> config = ParseMatchConfig("# ok\nweight name agree 2 0.1\n");
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(config.error().GetMessage().find("line 2"), std::string::npos);
  EXPECT_FALSE(ParseMatchConfig("weight nose agree 0.5 0.1").has_value());
  EXPECT_FALSE(ParseMatchConfig("threshold sure 3").has_value());
}

TEST(MatcherTest, EqualValidResidentIdsAreCertain) {
  PatientRecord a = ZhangWei();
  PatientRecord b = ZhangWei();
  SetId(a, MakeId("44030519850612001"));
  SetId(b, a.resident_id);
  b.phones.clear();
  b.address.clear();
  b.name = MakeNameKey("", "", "ZHANG WEI");
  Comparison c = Grade(a, b);
  EXPECT_EQ(c.grade, MatchGrade::kCertain);
  EXPECT_TRUE(c.deterministic);
}

TEST(MatcherTest, EqualResidentIdWithContradictingBirthDateIsOnlyProbable) {
  // A parent's ID number on a child's record.
  PatientRecord a = ZhangWei();
  PatientRecord b = ZhangWei();
  SetId(a, MakeId("44030519850612001"));
  SetId(b, a.resident_id);
  b.birth_year = 2015;
  b.name = MakeNameKey("张", "子涵");
  EXPECT_EQ(Grade(a, b).grade, MatchGrade::kProbable);
  EXPECT_EQ(Grade(a, b).rule, "resident-id-contradicted");
}

TEST(MatcherTest, DifferentValidResidentIdsAreAtMostPossible) {
  PatientRecord a = ZhangWei();
  PatientRecord b = ZhangWei();
  SetId(a, MakeId("44030519850612001"));
  SetId(b, MakeId("44030519850612003"));
  Comparison c = Grade(a, b);
  EXPECT_EQ(c.grade, MatchGrade::kPossible);
}

TEST(MatcherTest, MistypedResidentIdDigitIsANearMiss) {
  PatientRecord a = ZhangWei();
  PatientRecord b = ZhangWei();
  SetId(a, MakeId("44030519850612001"));
  std::string typo = a.resident_id;
  typo[3] = typo[3] == '0' ? '1' : '0';
  SetId(b, typo);
  ASSERT_FALSE(b.resident_id_valid);
  b.phones.clear();
  Comparison c = Grade(a, b);
  EXPECT_EQ(c.Get(Field::kResidentId), Level::kNearMiss);
  EXPECT_EQ(c.grade, MatchGrade::kCertain);
}

TEST(MatcherTest, SameNameBirthDateAndPhoneIsCertain) {
  EXPECT_EQ(Grade(ZhangWei(), ZhangWei()).grade, MatchGrade::kCertain);
}

TEST(MatcherTest, SameNameAndBirthDateAloneIsNotCertain) {
  // Millions share common names: name + birth date without any contact detail goes to review.
  PatientRecord a = ZhangWei();
  PatientRecord b = ZhangWei();
  b.phones.clear();
  b.address.clear();
  EXPECT_EQ(Grade(a, b).grade, MatchGrade::kProbable);
}

TEST(MatcherTest, PinyinRecordOfTheSamePersonIsCertain) {
  for (std::string_view latin : {"ZHANG WEI", "Zhang Wei", "zhāng wěi", "ZHANGWEI", "WEI ZHANG"}) {
    PatientRecord b = ZhangWei();
    b.name = MakeNameKey("", "", latin);
    Comparison c = Grade(ZhangWei(), b);
    EXPECT_EQ(c.Get(Field::kName), Level::kPinyin) << latin;
    EXPECT_EQ(c.grade, MatchGrade::kCertain) << latin;
  }
}

TEST(MatcherTest, TraditionalCharactersAgreeExactly) {
  PatientRecord b = ZhangWei();
  b.name = MakeNameKey("張", "偉");
  EXPECT_EQ(Grade(ZhangWei(), b).Get(Field::kName), Level::kAgree);
}

TEST(MatcherTest, HomophonesAreProbableNotCertain) {
  PatientRecord b = ZhangWei();
  b.name = MakeNameKey("张", "玮");
  Comparison c = Grade(ZhangWei(), b);
  EXPECT_EQ(c.Get(Field::kName), Level::kHomophone);
  EXPECT_EQ(c.grade, MatchGrade::kProbable);
  EXPECT_EQ(c.rule, "homophone");
}

TEST(MatcherTest, TwinsAreNotLinkedAutomatically) {
  PatientRecord a = ZhangWei();
  a.name = MakeNameKey("张", "子涵");
  PatientRecord b = a;
  b.name = MakeNameKey("张", "子轩");
  Comparison c = Grade(a, b);
  EXPECT_EQ(c.Get(Field::kBirthDate), Level::kAgree);
  EXPECT_EQ(c.Get(Field::kPhone), Level::kAgree);
  EXPECT_EQ(c.Get(Field::kAddress), Level::kAgree);
  EXPECT_NE(c.grade, MatchGrade::kCertain);
  EXPECT_NE(c.grade, MatchGrade::kProbable);
}

TEST(MatcherTest, TwinsWithOneLetterApartNamesAreNotLinked) {
  PatientRecord a = ZhangWei();
  a.name = MakeNameKey("张", "明");
  PatientRecord b = a;
  b.name = MakeNameKey("张", "敏");  // ming / min
  Comparison c = Grade(a, b);
  EXPECT_EQ(c.Get(Field::kName), Level::kClose);
  EXPECT_EQ(c.grade, MatchGrade::kPossible);
  EXPECT_EQ(c.rule, "twins");
}

TEST(MatcherTest, SwappedDayAndMonthStillLinksWithContactDetails) {
  PatientRecord b = ZhangWei();
  b.birth_month = 12;
  b.birth_day = 6;
  Comparison c = Grade(ZhangWei(), b);
  EXPECT_EQ(c.Get(Field::kBirthDate), Level::kSwapped);
  EXPECT_EQ(c.grade, MatchGrade::kCertain);
}

TEST(MatcherTest, YearOffByOneIsRecognised) {
  PatientRecord b = ZhangWei();
  b.birth_year = 1986;
  EXPECT_EQ(Grade(ZhangWei(), b).Get(Field::kBirthDate), Level::kYearOff);
}

TEST(MatcherTest, DifferentPeopleAreCertainlyNot) {
  PatientRecord b;
  b.name = MakeNameKey("王", "芳");
  b.birth_year = 1990;
  b.birth_month = 3;
  b.birth_day = 4;
  b.sex = 'F';
  b.phones = {"13912345678"};
  EXPECT_EQ(Grade(ZhangWei(), b).grade, MatchGrade::kCertainlyNot);
}

TEST(MatcherTest, SpouseSharingPhoneAndAddressIsNotLinked) {
  PatientRecord b = ZhangWei();
  b.name = MakeNameKey("李", "芳");
  b.sex = 'F';
  b.birth_year = 1987;
  b.birth_month = 2;
  b.birth_day = 3;
  EXPECT_EQ(Grade(ZhangWei(), b).grade, MatchGrade::kCertainlyNot);
}

TEST(MatcherTest, MissingFieldsWeighNothing) {
  PatientRecord a = ZhangWei();
  PatientRecord b;
  b.name = a.name;
  Comparison c = Grade(a, b);
  EXPECT_EQ(c.Get(Field::kBirthDate), Level::kMissing);
  EXPECT_EQ(c.Get(Field::kPhone), Level::kMissing);
  EXPECT_DOUBLE_EQ(c.score, DefaultMatchConfig().Weight(Field::kName, Level::kAgree));
}

TEST(MatcherTest, MatchingHongKongPermitIsStrongEvidence) {
  PatientRecord a = ZhangWei();
  PatientRecord b = ZhangWei();
  a.documents = {"hkmo|H12345678"};
  b.documents = {"hkmo|H12345678"};
  b.phones.clear();
  b.address.clear();
  b.name = MakeNameKey("張", "偉");
  EXPECT_EQ(Grade(a, b).grade, MatchGrade::kCertain);
}

// ---- index ----------------------------------------------------------------------------------

TEST(MatchIndexTest, FindsEverySpellingThroughBlocking) {
  MatchIndex index;
  PatientRecord stored = ZhangWei();
  stored.phones.clear();
  index.Add(stored);
  PatientRecord other;
  other.name = MakeNameKey("王", "芳");
  other.birth_year = 1970;
  index.Add(other);
  for (std::string_view latin : {"ZHANG WEI", "WEI ZHANG", "zhāng wěi", "ZHANGWEI"}) {
    PatientRecord query;
    query.name = MakeNameKey("", "", latin);
    query.birth_year = 1985;
    query.birth_month = 6;
    query.birth_day = 12;
    std::vector<uint32_t> candidates = index.Candidates(query);
    EXPECT_EQ(candidates, std::vector<uint32_t>{0}) << latin;
  }
}

TEST(MatchIndexTest, YearTypoFoundThroughNameAndMonthDay) {
  MatchIndex index;
  index.Add(ZhangWei());
  PatientRecord query = ZhangWei();
  query.phones.clear();
  query.birth_year = 1958;
  EXPECT_EQ(index.Candidates(query).size(), 1u);
}

TEST(MatchIndexTest, MatchReturnsGradedCandidatesBestFirst) {
  MatchIndex index;
  PatientRecord twin = ZhangWei();
  twin.name = MakeNameKey("张", "敏");
  index.Add(twin);
  index.Add(ZhangWei());
  std::vector<Candidate> found = index.Match(ZhangWei());
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0].record, 1u);
  EXPECT_EQ(found[0].comparison.grade, MatchGrade::kCertain);
  EXPECT_NE(found[1].comparison.grade, MatchGrade::kCertain);
}

TEST(MatchIndexTest, UnrelatedRecordsAreNotCandidates) {
  MatchIndex index;
  PatientRecord other;
  other.name = MakeNameKey("王", "芳");
  other.birth_year = 1990;
  other.birth_month = 1;
  other.birth_day = 2;
  other.phones = {"13912345678"};
  index.Add(other);
  EXPECT_TRUE(index.Candidates(ZhangWei()).empty());
}

// ---- extraction -----------------------------------------------------------------------------

TEST(ExtractRecordTest, ReadsEveryFeature) {
  core::Result<fhir::Json> patient = fhir::ParseJson(R"({"resourceType":"Patient","id":"x1",
    "identifier":[{"system":"https://fhir.medalliance.cn/sid/resident-id","value":"11010519491231002x"},
                  {"system":"https://fhir.medalliance.cn/sid/hkmo-permit","value":"H1234567801"}],
    "name":[{"text":"張偉"},{"family":"ZHANG","given":["WEI"]}],
    "gender":"male","birthDate":"1949-12-31",
    "telecom":[{"system":"phone","value":"+86 138 0013 8000"},{"system":"email","value":"a@b"}],
    "address":[{"text":"广东省 深圳市，南山区"}]})");
  ASSERT_TRUE(patient.has_value());
  PatientRecord record = ExtractRecord(*patient);
  EXPECT_EQ(record.reference, "Patient/x1");
  EXPECT_EQ(record.resident_id, "11010519491231002X");
  EXPECT_TRUE(record.resident_id_valid);
  EXPECT_EQ(record.documents, std::vector<std::string>{"hkmo|H12345678"});
  EXPECT_EQ(record.name.hanzi, "张伟");
  EXPECT_TRUE(SpellingsIntersect(record.name.spellings, {"zhangwei"}));
  EXPECT_EQ(record.sex, 'M');
  EXPECT_EQ(record.birth_year, 1949);
  EXPECT_EQ(record.birth_month, 12);
  EXPECT_EQ(record.birth_day, 31);
  EXPECT_EQ(record.phones, std::vector<std::string>{"13800138000"});
  EXPECT_EQ(record.address, "广东省深圳市南山区");
}

}  // namespace
}  // namespace medalliance::mpi

namespace medalliance::mpi {
namespace {

TEST(MatchIndexTest, BlockingKeysCollideAcrossSpellings) {
  PatientRecord a = ZhangWei();
  PatientRecord b;
  b.name = MakeNameKey("", "", "WEI ZHANG");
  b.birth_year = 1985;
  std::vector<std::string> ka = MatchIndex::BlockingKeyStrings(a);
  std::vector<std::string> kb = MatchIndex::BlockingKeyStrings(b);
  EXPECT_NE(std::find(ka.begin(), ka.end(), "Naeghinwz1985"), ka.end());
  EXPECT_NE(std::find(kb.begin(), kb.end(), "Naeghinwz1985"), kb.end());
  EXPECT_NE(std::find(ka.begin(), ka.end(), "P13800138000"), ka.end());
  EXPECT_NE(std::find(ka.begin(), ka.end(), "B19850612M"), ka.end());
}

}  // namespace
}  // namespace medalliance::mpi

namespace medalliance::mpi {
namespace {

TEST(MatchIndexTest, CandidatesSurviveCompaction) {
  MatchIndex index;
  for (int i = 0; i < 3; ++i) index.Add(ZhangWei());
  index.Compact();
  index.Add(ZhangWei());
  EXPECT_EQ(index.Candidates(ZhangWei()), (std::vector<uint32_t>{0, 1, 2, 3}));
  index.Compact();
  EXPECT_EQ(index.Candidates(ZhangWei()), (std::vector<uint32_t>{0, 1, 2, 3}));
  EXPECT_EQ(index.PostingCount(), 4 * MatchIndex::BlockingKeys(ZhangWei()).size());
}

}  // namespace
}  // namespace medalliance::mpi
