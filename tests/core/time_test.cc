#include "core/time.h"

#include <gtest/gtest.h>

namespace medalliance::core {
namespace {

TEST(TimeTest, FormatsInstantInUtcWithMillis) {
  EXPECT_EQ(FormatInstant(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatInstant(1795700142123), "2026-11-26T13:35:42.123Z");
}

TEST(TimeTest, HttpDateRoundTrips) {
  EXPECT_EQ(FormatHttpDate(1795700142000), "Thu, 26 Nov 2026 13:35:42 GMT");
  EXPECT_EQ(ParseHttpDate("Thu, 26 Nov 2026 13:35:42 GMT").value(), 1795700142000);
  EXPECT_FALSE(ParseHttpDate("yesterday").has_value());
  // Found by datetime_fuzz review: impossible times and wrong weekdays were accepted.
  EXPECT_FALSE(ParseHttpDate("Xyz, 26 Nov 2026 99:99:99 GMT").has_value());
  EXPECT_FALSE(ParseHttpDate("Fri, 26 Nov 2026 13:35:42 GMT").has_value());
}

TEST(TimeTest, PartialDatesCoverTheirWholeRange) {
  DateRange year = ParseFhirDateTime("2024").value();
  EXPECT_EQ(FormatInstant(year.low), "2024-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatInstant(year.high), "2025-01-01T00:00:00.000Z");
  DateRange month = ParseFhirDateTime("2024-02").value();
  EXPECT_EQ(FormatInstant(month.high), "2024-03-01T00:00:00.000Z");
  DateRange day = ParseFhirDateTime("2024-02-29", 480).value();
  EXPECT_EQ(FormatInstant(day.low), "2024-02-28T16:00:00.000Z");
}

TEST(TimeTest, DateTimeWithOffset) {
  DateRange range = ParseFhirDateTime("2026-11-26T21:35:42.5+08:00").value();
  EXPECT_EQ(FormatInstant(range.low), "2026-11-26T13:35:42.500Z");
  EXPECT_EQ(range.high - range.low, 1);
}

TEST(TimeTest, RejectsMalformedDates) {
  for (const char* text : {"20", "2024-13", "2023-02-29", "2024-01-01T10:00", "2024-01-01T25:00Z",
                           "2024-01-01 10:00Z", "2024-01-01T10:00:00.Z", "abcd"}) {
    EXPECT_FALSE(ParseFhirDateTime(text).has_value()) << text;
  }
}

}  // namespace
}  // namespace medalliance::core
