#include "core/time.h"

#include <array>
#include <cstdio>
#include <cstring>

namespace medalliance::core {
namespace {

// Days since 1970-01-01 for a proleptic Gregorian date (H. Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t year;
  unsigned month;
  unsigned day;
};

Civil CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {y + (m <= 2), m, d};
}

bool IsLeap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned DaysInMonth(int64_t y, unsigned m) {
  static constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30,
                                                     31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

constexpr int64_t kMsPerMinute = 60'000;
constexpr int64_t kMsPerDay = 86'400'000;

bool ReadDigits(std::string_view text, size_t pos, size_t count, int64_t* out) {
  if (pos + count > text.size())
    return false;
  int64_t value = 0;
  for (size_t i = 0; i < count; ++i) {
    char c = text[pos + i];
    if (c < '0' || c > '9')
      return false;
    value = value * 10 + (c - '0');
  }
  *out = value;
  return true;
}

static constexpr std::array<const char*, 7> kWeekdays = {"Thu", "Fri", "Sat", "Sun",
                                                         "Mon", "Tue", "Wed"};
static constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

}  // namespace

std::string FormatInstant(EpochMillis millis) {
  int64_t days = FloorDiv(millis, kMsPerDay);
  int64_t rest = millis - days * kMsPerDay;
  Civil civil = CivilFromDays(days);
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(civil.year), civil.month, civil.day,
                static_cast<long long>(rest / 3'600'000),
                static_cast<long long>(rest / 60'000 % 60),
                static_cast<long long>(rest / 1000 % 60), static_cast<long long>(rest % 1000));
  return buffer;
}

std::string FormatHttpDate(EpochMillis millis) {
  int64_t days = FloorDiv(millis, kMsPerDay);
  int64_t rest = millis - days * kMsPerDay;
  Civil civil = CivilFromDays(days);
  int64_t weekday = ((days % 7) + 7) % 7;
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%s, %02u %s %04lld %02lld:%02lld:%02lld GMT",
                kWeekdays[static_cast<size_t>(weekday)], civil.day, kMonths[civil.month - 1],
                static_cast<long long>(civil.year), static_cast<long long>(rest / 3'600'000),
                static_cast<long long>(rest / 60'000 % 60),
                static_cast<long long>(rest / 1000 % 60));
  return buffer;
}

Result<EpochMillis> ParseHttpDate(std::string_view text) {
  // "Thu, 26 Nov 2026 13:35:42 GMT"
  auto bad = [&] { return Error::BadRequest("invalid HTTP date '" + std::string(text) + "'"); };
  if (text.size() != 29 || text.substr(25) != " GMT")
    return bad();
  int64_t day = 0;
  int64_t year = 0;
  int64_t hour = 0;
  int64_t minute = 0;
  int64_t second = 0;
  if (!ReadDigits(text, 5, 2, &day) || !ReadDigits(text, 12, 4, &year) ||
      !ReadDigits(text, 17, 2, &hour) || !ReadDigits(text, 20, 2, &minute) ||
      !ReadDigits(text, 23, 2, &second)) {
    return bad();
  }
  std::string_view month_name = text.substr(8, 3);
  unsigned month = 0;
  for (unsigned i = 0; i < 12; ++i) {
    if (month_name == kMonths[i])
      month = i + 1;
  }
  if (month == 0 || day < 1 || day > DaysInMonth(year, month) || hour > 23 || minute > 59 ||
      second > 60 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':') {
    return bad();
  }
  int64_t days = DaysFromCivil(year, month, static_cast<unsigned>(day));
  if (text.substr(0, 3) != kWeekdays[static_cast<size_t>(((days % 7) + 7) % 7)])
    return bad();
  return days * kMsPerDay + hour * 3'600'000 + minute * kMsPerMinute + second * 1000;
}

Result<DateRange> ParseFhirDateTime(std::string_view text, int default_offset_minutes) {
  auto bad = [&] {
    return Error::BadRequest("invalid date/time '" + std::string(text) +
                             "': expected YYYY, YYYY-MM, YYYY-MM-DD or "
                             "YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm)");
  };
  int64_t year = 0;
  int64_t month = 1;
  int64_t day = 1;
  int64_t hour = 0;
  int64_t minute = 0;
  int64_t second = 0;
  int64_t millis = 0;
  DateRange range;
  if (!ReadDigits(text, 0, 4, &year))
    return bad();
  size_t pos = 4;
  range.precision = DatePrecision::kYear;
  if (pos < text.size()) {
    if (text[pos] != '-' || !ReadDigits(text, pos + 1, 2, &month) || month < 1 || month > 12) {
      return bad();
    }
    pos += 3;
    range.precision = DatePrecision::kMonth;
  }
  if (pos < text.size()) {
    if (text[pos] != '-' || !ReadDigits(text, pos + 1, 2, &day) || day < 1 ||
        day > DaysInMonth(year, static_cast<unsigned>(month))) {
      return bad();
    }
    pos += 3;
    range.precision = DatePrecision::kDay;
  }
  bool has_time = false;
  int64_t offset_minutes = default_offset_minutes;
  if (pos < text.size()) {
    if (text[pos] != 'T' || !ReadDigits(text, pos + 1, 2, &hour) || text.size() < pos + 6 ||
        text[pos + 3] != ':' || !ReadDigits(text, pos + 4, 2, &minute) || hour > 23 ||
        minute > 59) {
      return bad();
    }
    has_time = true;
    pos += 6;
    range.precision = DatePrecision::kMinute;
    if (pos < text.size() && text[pos] == ':') {
      if (!ReadDigits(text, pos + 1, 2, &second) || second > 60)
        return bad();
      pos += 3;
      range.precision = DatePrecision::kSecond;
      if (pos < text.size() && text[pos] == '.') {
        ++pos;
        size_t start = pos;
        int64_t fraction = 0;
        int digits = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
          if (digits < 3) {
            fraction = fraction * 10 + (text[pos] - '0');
            ++digits;
          }
          ++pos;
        }
        if (pos == start)
          return bad();
        while (digits < 3) {
          fraction *= 10;
          ++digits;
        }
        millis = fraction;
        range.precision = DatePrecision::kMillis;
      }
    }
    if (pos >= text.size())
      return bad();  // a time needs a zone
    if (text[pos] == 'Z') {
      offset_minutes = 0;
      ++pos;
    } else if (text[pos] == '+' || text[pos] == '-') {
      int64_t oh = 0;
      int64_t om = 0;
      if (!ReadDigits(text, pos + 1, 2, &oh) || text.size() < pos + 6 || text[pos + 3] != ':' ||
          !ReadDigits(text, pos + 4, 2, &om) || oh > 14 || om > 59) {
        return bad();
      }
      offset_minutes = (oh * 60 + om) * (text[pos] == '-' ? -1 : 1);
      pos += 6;
    } else {
      return bad();
    }
  }
  if (pos != text.size())
    return bad();
  (void)has_time;
  int64_t base =
      DaysFromCivil(year, static_cast<unsigned>(month), static_cast<unsigned>(day)) * kMsPerDay +
      hour * 3'600'000 + minute * kMsPerMinute + second * 1000 + millis -
      offset_minutes * kMsPerMinute;
  range.low = base;
  switch (range.precision) {
    case DatePrecision::kYear:
      range.high = base + (DaysFromCivil(year + 1, 1, 1) - DaysFromCivil(year, 1, 1)) * kMsPerDay;
      break;
    case DatePrecision::kMonth:
      range.high = base + DaysInMonth(year, static_cast<unsigned>(month)) * kMsPerDay;
      break;
    case DatePrecision::kDay:
      range.high = base + kMsPerDay;
      break;
    case DatePrecision::kMinute:
      range.high = base + kMsPerMinute;
      break;
    case DatePrecision::kSecond:
      range.high = base + 1000;
      break;
    case DatePrecision::kMillis:
      range.high = base + 1;
      break;
  }
  return range;
}

}  // namespace medalliance::core
