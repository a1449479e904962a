#pragma once
// Value helpers for the FHIRPath engine (private): decimals, dates/times, quantities and units.

#include <optional>
#include <string>
#include <string_view>

#include "fhir/fhirpath/fhirpath.h"

namespace medalliance::fhir::fhirpath::internal {

// "1.50" -> {1.5, 2}; nullopt when `text` is not a decimal/integer ([+-]digits[.digits]).
std::optional<Decimal> ParseDecimal(std::string_view text);
// Integer text (optionally signed) that fits int64.
std::optional<int64_t> ParseInteger(std::string_view text);
// Text of a decimal: with `scale` digits when known, else the shortest exact-looking form.
std::string FormatDecimal(const Decimal& value);
long double RoundTo(long double value, int digits);

// FHIR/FHIRPath date and time text (without '@').
// Date: YYYY[-MM[-DD]]. DateTime: a date, optionally followed by T[hh[:mm[:ss[.fff]]]][tz]
// (a trailing bare T is allowed when `allow_bare_t`). Time: hh[:mm[:ss[.fff]]].
std::optional<DateTimeValue> ParseDate(std::string_view text);
std::optional<DateTimeValue> ParseDateTime(std::string_view text, bool allow_bare_t = true);
std::optional<DateTimeValue> ParseTime(std::string_view text);
std::string FormatDate(const DateTimeValue& value);
std::string FormatDateTime(const DateTimeValue& value);
std::string FormatTime(const DateTimeValue& value);

// Compares two dates/dateTimes (or two times) per FHIRPath: nullopt when the answer depends on
// precision the values do not share; otherwise <0, 0, >0. Seconds and milliseconds count as
// one precision.
std::optional<int> CompareDateTimes(const DateTimeValue& a, const DateTimeValue& b, bool is_time);

// Adds `amount` of a calendar unit (year, month, week, day, hour, minute, second, millisecond)
// to a date/dateTime/time. False for an unknown unit.
bool AddDuration(DateTimeValue& value, bool is_time, std::string_view unit, int64_t amount);

// Normalises a calendar keyword ("days" -> "day"); empty when `word` is not one.
std::string_view CalendarUnit(std::string_view word);

// A quantity reduced to base units: value * 10^0 in m, g, s, ... with integer exponents.
struct CanonicalQuantity {
  long double value = 0;
  int dims[7] = {0, 0, 0, 0, 0, 0, 0};  // m, g, s, rad, K, mol, cd
  bool operator==(const CanonicalQuantity&) const = delete;
};
// Converts to base units; nullopt for units this engine does not know. Calendar keywords
// week/day/hour/minute/second/millisecond convert like UCUM wk/d/h/min/s/ms; year and month
// do not convert (they are not comparable with UCUM a and mo).
std::optional<CanonicalQuantity> Canonicalize(const Quantity& quantity);
bool SameDimensions(const CanonicalQuantity& a, const CanonicalQuantity& b);
// Builds a quantity with a UCUM unit expression for a canonical value (for * and /).
Quantity FromCanonical(const CanonicalQuantity& value);

}  // namespace medalliance::fhir::fhirpath::internal
