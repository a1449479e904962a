#pragma once
// FHIR date, dateTime and instant text <-> milliseconds since the epoch (UTC).

#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/result.h"

namespace medalliance::core {

// "2026-11-26T13:35:42.123Z" (always UTC, always milliseconds): the form of meta.lastUpdated.
std::string FormatInstant(EpochMillis millis);
// RFC 7231 IMF-fixdate for Last-Modified: "Thu, 26 Nov 2026 13:35:42 GMT".
std::string FormatHttpDate(EpochMillis millis);
// Parses an IMF-fixdate; error kBadRequest.
Result<EpochMillis> ParseHttpDate(std::string_view text);

enum class DatePrecision { kYear, kMonth, kDay, kMinute, kSecond, kMillis };

// A parsed FHIR date/dateTime/instant as the half-open range of instants it covers:
// "2024" covers [2024-01-01T00:00Z, 2025-01-01T00:00Z). A date without a time zone is read
// as UTC unless `default_offset_minutes` says otherwise (Asia/Shanghai is +480).
struct DateRange {
  EpochMillis low = 0;
  EpochMillis high = 0;  // exclusive
  DatePrecision precision = DatePrecision::kMillis;
};

// Accepts YYYY, YYYY-MM, YYYY-MM-DD, YYYY-MM-DDThh:mm[:ss[.fff]](Z|+hh:mm|-hh:mm).
// Error kBadRequest naming the text.
Result<DateRange> ParseFhirDateTime(std::string_view text, int default_offset_minutes = 0);

}  // namespace medalliance::core
