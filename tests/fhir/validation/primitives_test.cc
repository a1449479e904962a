#include "fhir/validation/primitives.h"

#include <string>

#include <gtest/gtest.h>

namespace medalliance::fhir::validation {
namespace {

TEST(PrimitivesTest, Ids) {
  EXPECT_TRUE(IsValidId("a-B.9"));
  EXPECT_TRUE(IsValidId(std::string(64, 'a')));
  EXPECT_FALSE(IsValidId(std::string(65, 'a')));
  EXPECT_FALSE(IsValidId(""));
  EXPECT_FALSE(IsValidId("a_b"));
  EXPECT_FALSE(IsValidId("a b"));
}

TEST(PrimitivesTest, DatesAndTimes) {
  EXPECT_TRUE(IsValidDate("2024"));
  EXPECT_TRUE(IsValidDate("2024-02"));
  EXPECT_TRUE(IsValidDate("2024-02-29"));
  EXPECT_FALSE(IsValidDate("2023-02-29"));
  EXPECT_FALSE(IsValidDate("0000"));
  EXPECT_FALSE(IsValidDate("2024-13"));
  EXPECT_FALSE(IsValidDate("2024-1-01"));
  EXPECT_FALSE(IsValidDate("2024-01-01T00:00:00Z"));
  EXPECT_TRUE(IsValidDateTime("2024-01-01T10:20:30Z"));
  EXPECT_TRUE(IsValidDateTime("2024-01-01T10:20:30.123+14:00"));
  EXPECT_TRUE(IsValidDateTime("2024-01"));
  EXPECT_FALSE(IsValidDateTime("2024-01-01T10:20:30"));  // zone required with a time
  EXPECT_FALSE(IsValidDateTime("2024-01-01T10:20Z"));    // seconds required
  EXPECT_FALSE(IsValidDateTime("2024-01-01T10:20:30+14:30"));
  EXPECT_FALSE(IsValidDateTime("2024-01-01T24:00:00Z"));
  EXPECT_FALSE(IsValidDateTime("2024-01T10:20:30Z"));
  EXPECT_TRUE(IsValidInstant("2024-01-01T10:20:30.5-05:00"));
  EXPECT_FALSE(IsValidInstant("2024-01-01"));
  EXPECT_TRUE(IsValidTime("23:59:60"));
  EXPECT_TRUE(IsValidTime("08:00:00.25"));
  EXPECT_FALSE(IsValidTime("08:00"));
  EXPECT_FALSE(IsValidTime("08:00:00."));
}

TEST(PrimitivesTest, Numbers) {
  EXPECT_TRUE(IsValidInteger("0"));
  EXPECT_TRUE(IsValidInteger("-2147483648"));
  EXPECT_FALSE(IsValidInteger("2147483648"));
  EXPECT_FALSE(IsValidInteger("1.0"));
  EXPECT_FALSE(IsValidInteger("1e2"));
  EXPECT_FALSE(IsValidInteger("01"));
  EXPECT_TRUE(IsValidUnsignedInt("0"));
  EXPECT_FALSE(IsValidUnsignedInt("-1"));
  EXPECT_TRUE(IsValidPositiveInt("1"));
  EXPECT_FALSE(IsValidPositiveInt("0"));
}

TEST(PrimitivesTest, StringsLikeTypes) {
  EXPECT_TRUE(IsValidCode("a b"));
  EXPECT_FALSE(IsValidCode(" a"));
  EXPECT_FALSE(IsValidCode("a  b"));
  EXPECT_FALSE(IsValidCode("a\tb"));
  EXPECT_TRUE(IsValidUri("http://x.org/a?b=c"));
  EXPECT_FALSE(IsValidUri("http://x.org/a b"));
  EXPECT_TRUE(IsValidOid("urn:oid:2.16.840.1.113883"));
  EXPECT_FALSE(IsValidOid("urn:oid:3.1"));
  EXPECT_FALSE(IsValidOid("urn:oid:1.01"));
  EXPECT_TRUE(IsValidUuid("urn:uuid:c757873d-ec9a-4326-a141-556f43239520"));
  EXPECT_FALSE(IsValidUuid("urn:uuid:C757873D-ec9a-4326-a141-556f43239520"));
  EXPECT_TRUE(IsValidBase64("aGVsbG8="));
  EXPECT_TRUE(IsValidBase64("aGVs\nbG8="));
  EXPECT_FALSE(IsValidBase64("aGVsbG8"));
  EXPECT_FALSE(IsValidBase64("%%%2@()()"));
}

TEST(PrimitivesTest, References) {
  EXPECT_TRUE(IsValidReference("Patient/1"));
  EXPECT_TRUE(IsValidReference("Patient/1/_history/3"));
  EXPECT_TRUE(IsValidReference("#"));
  EXPECT_TRUE(IsValidReference("urn:uuid:c757873d-ec9a-4326-a141-556f43239520"));
  EXPECT_TRUE(IsValidReference("https://fhir.medalliance.cn/Patient/1"));
  EXPECT_TRUE(IsValidReference("Patient?identifier=a|b"));
  EXPECT_FALSE(IsValidReference("Foo/1"));
  EXPECT_FALSE(IsValidReference("Patient/1/_history"));
  EXPECT_FALSE(IsValidReference("#a b"));
  EXPECT_FALSE(IsValidReference("1"));
}

}  // namespace
}  // namespace medalliance::fhir::validation
