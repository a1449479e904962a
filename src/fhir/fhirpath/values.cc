#include "fhir/fhirpath/internal/values.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace medalliance::fhir::fhirpath::internal {
namespace {

using Precision = DateTimeValue::Precision;

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

// Reads exactly `count` digits at text[*pos].
bool ReadDigits(std::string_view text, size_t* pos, size_t count, int* out) {
  if (*pos + count > text.size())
    return false;
  int value = 0;
  for (size_t i = 0; i < count; ++i) {
    char c = text[*pos + i];
    if (!IsDigit(c))
      return false;
    value = value * 10 + (c - '0');
  }
  *pos += count;
  *out = value;
  return true;
}

int DaysInMonth(int year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2) {
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return leap ? 29 : 28;
  }
  return kDays[month - 1];
}

int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int* year, int* month, int* day) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  *year = static_cast<int>(y + (m <= 2 ? 1 : 0));
  *month = static_cast<int>(m);
  *day = static_cast<int>(d);
}

int64_t ToMillis(const DateTimeValue& v) {
  int64_t days = DaysFromCivil(v.year, v.month, v.day);
  return (((days * 24 + v.hour) * 60 + v.minute) * 60 + v.second) * 1000 + v.millisecond;
}

void FromMillis(int64_t millis, DateTimeValue* v) {
  int64_t days = millis >= 0 ? millis / 86400000 : -((-millis + 86399999) / 86400000);
  int64_t rest = millis - days * 86400000;
  CivilFromDays(days, &v->year, &v->month, &v->day);
  v->hour = static_cast<int>(rest / 3600000);
  v->minute = static_cast<int>(rest / 60000 % 60);
  v->second = static_cast<int>(rest / 1000 % 60);
  v->millisecond = static_cast<int>(rest % 1000);
}

bool ParseTimePart(std::string_view text, size_t* pos, DateTimeValue* v) {
  if (!ReadDigits(text, pos, 2, &v->hour) || v->hour > 23)
    return false;
  v->precision = Precision::kHour;
  if (*pos < text.size() && text[*pos] == ':') {
    ++*pos;
    if (!ReadDigits(text, pos, 2, &v->minute) || v->minute > 59)
      return false;
    v->precision = Precision::kMinute;
    if (*pos < text.size() && text[*pos] == ':') {
      ++*pos;
      if (!ReadDigits(text, pos, 2, &v->second) || v->second > 59)
        return false;
      v->precision = Precision::kSecond;
      if (*pos < text.size() && text[*pos] == '.') {
        ++*pos;
        size_t start = *pos;
        int millis = 0;
        int digits = 0;
        while (*pos < text.size() && IsDigit(text[*pos])) {
          if (digits < 3) {
            millis = millis * 10 + (text[*pos] - '0');
            ++digits;
          }
          ++*pos;
        }
        if (*pos == start)
          return false;
        while (digits < 3) {
          millis *= 10;
          ++digits;
        }
        v->millisecond = millis;
        v->precision = Precision::kMillisecond;
      }
    }
  }
  return true;
}

bool ParseTimezone(std::string_view text, size_t* pos, DateTimeValue* v) {
  if (*pos >= text.size())
    return true;
  if (text[*pos] == 'Z') {
    ++*pos;
    v->has_timezone = true;
    v->timezone_minutes = 0;
    return true;
  }
  if (text[*pos] == '+' || text[*pos] == '-') {
    int sign = text[*pos] == '-' ? -1 : 1;
    ++*pos;
    int hours = 0;
    int minutes = 0;
    if (!ReadDigits(text, pos, 2, &hours) || *pos >= text.size() || text[*pos] != ':') {
      return false;
    }
    ++*pos;
    if (!ReadDigits(text, pos, 2, &minutes) || hours > 14 || minutes > 59)
      return false;
    v->has_timezone = true;
    v->timezone_minutes = sign * (hours * 60 + minutes);
    return true;
  }
  return false;
}

bool ParseDatePart(std::string_view text, size_t* pos, DateTimeValue* v) {
  if (!ReadDigits(text, pos, 4, &v->year))
    return false;
  v->precision = Precision::kYear;
  if (*pos < text.size() && text[*pos] == '-') {
    ++*pos;
    if (!ReadDigits(text, pos, 2, &v->month) || v->month < 1 || v->month > 12)
      return false;
    v->precision = Precision::kMonth;
    if (*pos < text.size() && text[*pos] == '-') {
      ++*pos;
      if (!ReadDigits(text, pos, 2, &v->day) || v->day < 1 ||
          v->day > DaysInMonth(v->year, v->month)) {
        return false;
      }
      v->precision = Precision::kDay;
    }
  }
  return true;
}

std::string Pad(int value, int width) {
  char buffer[16];
  std::snprintf(buffer, sizeof(buffer), "%0*d", width, value);
  return buffer;
}

std::string FormatTimeOfDay(const DateTimeValue& v) {
  std::string out = Pad(v.hour, 2);
  if (v.precision >= Precision::kMinute)
    out.append(":").append(Pad(v.minute, 2));
  if (v.precision >= Precision::kSecond)
    out.append(":").append(Pad(v.second, 2));
  if (v.precision >= Precision::kMillisecond)
    out.append(".").append(Pad(v.millisecond, 3));
  return out;
}

// UCUM -------------------------------------------------------------------------------------

struct Atom {
  const char* code;
  long double factor;
  int dims[7];
  bool metric;
};

const Atom kAtoms[] = {
    {"m", 1, {1, 0, 0, 0, 0, 0, 0}, true},
    {"g", 1, {0, 1, 0, 0, 0, 0, 0}, true},
    {"s", 1, {0, 0, 1, 0, 0, 0, 0}, true},
    {"rad", 1, {0, 0, 0, 1, 0, 0, 0}, true},
    {"K", 1, {0, 0, 0, 0, 1, 0, 0}, true},
    {"mol", 6.0221367e23L, {0, 0, 0, 0, 0, 0, 0}, true},
    {"cd", 1, {0, 0, 0, 0, 0, 0, 1}, true},
    {"L", 0.001L, {3, 0, 0, 0, 0, 0, 0}, true},
    {"l", 0.001L, {3, 0, 0, 0, 0, 0, 0}, true},
    {"min", 60, {0, 0, 1, 0, 0, 0, 0}, false},
    {"h", 3600, {0, 0, 1, 0, 0, 0, 0}, false},
    {"d", 86400, {0, 0, 1, 0, 0, 0, 0}, false},
    {"wk", 604800, {0, 0, 1, 0, 0, 0, 0}, false},
    {"mo", 2629800, {0, 0, 1, 0, 0, 0, 0}, false},
    {"a", 31557600, {0, 0, 1, 0, 0, 0, 0}, false},
    {"[in_i]", 0.0254L, {1, 0, 0, 0, 0, 0, 0}, false},
    {"[ft_i]", 0.3048L, {1, 0, 0, 0, 0, 0, 0}, false},
    {"[mi_i]", 1609.344L, {1, 0, 0, 0, 0, 0, 0}, false},
    {"[lb_av]", 453.59237L, {0, 1, 0, 0, 0, 0, 0}, false},
    {"[oz_av]", 28.349523125L, {0, 1, 0, 0, 0, 0, 0}, false},
    {"%", 0.01L, {0, 0, 0, 0, 0, 0, 0}, false},
    {"1", 1, {0, 0, 0, 0, 0, 0, 0}, false},
    {"Cel", 1, {0, 0, 0, 0, 1, 0, 0}, false},
    {"[degF]", 1, {0, 0, 0, 0, 1, 0, 0}, false},
    {"mm[Hg]", 133322.387415L, {-1, 1, -2, 0, 0, 0, 0}, false},
    {"[iU]", 1, {0, 0, 0, 0, 0, 0, 0}, false},
    {"[IU]", 1, {0, 0, 0, 0, 0, 0, 0}, false},
    {"eq", 6.0221367e23L, {0, 0, 0, 0, 0, 0, 0}, true},
    {"Hz", 1, {0, 0, -1, 0, 0, 0, 0}, true},
    {"N", 1000, {1, 1, -2, 0, 0, 0, 0}, true},
    {"Pa", 1000, {-1, 1, -2, 0, 0, 0, 0}, true},
    {"J", 1000, {2, 1, -2, 0, 0, 0, 0}, true},
    {"W", 1000, {2, 1, -3, 0, 0, 0, 0}, true},
};

struct Prefix {
  const char* code;
  long double factor;
};
const Prefix kPrefixes[] = {{"da", 10},   {"k", 1e3L},  {"M", 1e6L},   {"G", 1e9L},
                            {"h", 100},   {"d", 0.1L},  {"c", 0.01L},  {"m", 0.001L},
                            {"u", 1e-6L}, {"n", 1e-9L}, {"p", 1e-12L}, {"f", 1e-15L}};

const Atom* FindAtom(std::string_view code) {
  for (const Atom& atom : kAtoms) {
    if (code == atom.code)
      return &atom;
  }
  return nullptr;
}

// One unit term: [prefix]atom[exponent] or a number or an annotation.
bool ParseTerm(std::string_view term, CanonicalQuantity* out, int sign) {
  // Drop annotations {...}.
  std::string text;
  int depth = 0;
  for (char c : term) {
    if (c == '{') {
      ++depth;
    } else if (c == '}') {
      --depth;
    } else if (depth == 0) {
      text.push_back(c);
    }
  }
  if (text.empty())
    return true;  // pure annotation: unity
  // Split a trailing (signed) exponent, unless the whole term is a number.
  size_t end = text.size();
  while (end > 0 && IsDigit(text[end - 1])) --end;
  if (end > 0 && (text[end - 1] == '-' || text[end - 1] == '+'))
    --end;
  int exponent = 1;
  std::string atom_text = text;
  if (end == 0) {
    // A pure number like "10" (or "1").
    char* stop = nullptr;
    long double factor = std::strtold(text.c_str(), &stop);
    if (stop == nullptr || *stop != '\0')
      return false;
    out->value = sign > 0 ? out->value * factor : out->value / factor;
    return true;
  }
  if (end < text.size() && text[end - 1] != ']') {
    exponent = std::atoi(text.c_str() + end);
    atom_text = text.substr(0, end);
  }
  long double factor = 1;
  const Atom* atom = FindAtom(atom_text);
  if (atom == nullptr) {
    for (const Prefix& prefix : kPrefixes) {
      std::string_view p = prefix.code;
      if (atom_text.size() > p.size() && std::string_view(atom_text).substr(0, p.size()) == p) {
        const Atom* candidate = FindAtom(std::string_view(atom_text).substr(p.size()));
        if (candidate != nullptr && candidate->metric) {
          atom = candidate;
          factor = prefix.factor;
          break;
        }
      }
    }
  }
  if (atom == nullptr)
    return false;
  factor *= atom->factor;
  int power = exponent * sign;
  out->value *= std::pow(factor, static_cast<long double>(power));
  for (int i = 0; i < 7; ++i) out->dims[i] += atom->dims[i] * power;
  return true;
}

}  // namespace

std::optional<Decimal> ParseDecimal(std::string_view text) {
  size_t i = 0;
  if (i < text.size() && (text[i] == '+' || text[i] == '-'))
    ++i;
  size_t digits_start = i;
  while (i < text.size() && IsDigit(text[i])) ++i;
  if (i == digits_start)
    return std::nullopt;
  int scale = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    size_t fraction_start = i;
    while (i < text.size() && IsDigit(text[i])) ++i;
    if (i == fraction_start)
      return std::nullopt;
    scale = static_cast<int>(i - fraction_start);
  }
  if (i != text.size())
    return std::nullopt;
  std::string copy(text);
  return Decimal{std::strtold(copy.c_str(), nullptr), scale};
}

std::optional<int64_t> ParseInteger(std::string_view text) {
  size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    negative = text[i] == '-';
    ++i;
  }
  if (i == text.size() || text.size() - i > 18)
    return std::nullopt;
  int64_t value = 0;
  for (; i < text.size(); ++i) {
    if (!IsDigit(text[i]))
      return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return negative ? -value : value;
}

long double RoundTo(long double value, int digits) {
  long double factor = std::pow(10.0L, static_cast<long double>(digits));
  long double scaled = value * factor;
  long double rounded = std::floor(std::fabs(scaled) + 0.5L + 1e-9L);
  return (scaled < 0 ? -rounded : rounded) / factor;
}

std::string FormatDecimal(const Decimal& value) {
  char buffer[96];
  if (value.scale >= 0 && value.scale <= 30) {
    std::snprintf(buffer, sizeof(buffer), "%.*Lf", value.scale, value.value);
    std::string out = buffer;
    // Keep "-0.0" only for a true negative zero (lowBoundary of a tiny negative value);
    // rounding noise below the printed precision prints unsigned.
    if (out[0] == '-' && out.find_first_not_of("-0.") == std::string::npos && value.value != 0) {
      out.erase(0, 1);
    }
    return out;
  }
  std::snprintf(buffer, sizeof(buffer), "%.15Lf", value.value);
  std::string out = buffer;
  // Trim to 8 decimal places of precision beyond noise, then trailing zeros.
  size_t dot = out.find('.');
  if (dot != std::string::npos) {
    // Round to 14 significant fraction digits to hide binary noise.
    std::snprintf(buffer, sizeof(buffer), "%.14Lf", value.value);
    out = buffer;
    while (!out.empty() && out.back() == '0') out.pop_back();
    if (!out.empty() && out.back() == '.')
      out.pop_back();
  }
  if (out == "-0")
    out = "0";
  return out;
}

std::optional<DateTimeValue> ParseDate(std::string_view text) {
  DateTimeValue v;
  size_t pos = 0;
  if (!ParseDatePart(text, &pos, &v) || pos != text.size())
    return std::nullopt;
  return v;
}

std::optional<DateTimeValue> ParseDateTime(std::string_view text, bool allow_bare_t) {
  DateTimeValue v;
  size_t pos = 0;
  if (!ParseDatePart(text, &pos, &v))
    return std::nullopt;
  if (pos < text.size() && text[pos] == 'T') {
    ++pos;
    if (pos == text.size()) {
      if (!allow_bare_t)
        return std::nullopt;
      return v;
    }
    if (v.precision != Precision::kDay)
      return std::nullopt;
    if (!ParseTimePart(text, &pos, &v))
      return std::nullopt;
    if (!ParseTimezone(text, &pos, &v))
      return std::nullopt;
  }
  if (pos != text.size())
    return std::nullopt;
  return v;
}

std::optional<DateTimeValue> ParseTime(std::string_view text) {
  DateTimeValue v;
  size_t pos = 0;
  if (!ParseTimePart(text, &pos, &v) || pos != text.size())
    return std::nullopt;
  return v;
}

std::string FormatDate(const DateTimeValue& v) {
  std::string out = Pad(v.year, 4);
  if (v.precision >= Precision::kMonth)
    out.append("-").append(Pad(v.month, 2));
  if (v.precision >= Precision::kDay)
    out.append("-").append(Pad(v.day, 2));
  return out;
}

std::string FormatDateTime(const DateTimeValue& v) {
  std::string out = FormatDate(v);
  if (v.precision >= Precision::kHour) {
    out.append("T").append(FormatTimeOfDay(v));
    if (v.has_timezone) {
      if (v.timezone_minutes == 0) {
        out += "Z";
      } else {
        int offset = v.timezone_minutes < 0 ? -v.timezone_minutes : v.timezone_minutes;
        out += v.timezone_minutes < 0 ? "-" : "+";
        out += Pad(offset / 60, 2) + ":" + Pad(offset % 60, 2);
      }
    }
  }
  return out;
}

std::string FormatTime(const DateTimeValue& v) {
  return FormatTimeOfDay(v);
}

std::optional<int> CompareDateTimes(const DateTimeValue& a_in, const DateTimeValue& b_in,
                                    bool is_time) {
  DateTimeValue a = a_in;
  DateTimeValue b = b_in;
  if (!is_time && a.precision >= Precision::kHour && b.precision >= Precision::kHour) {
    if (a.has_timezone != b.has_timezone)
      return std::nullopt;
    if (a.has_timezone) {
      Precision pa = a.precision;
      Precision pb = b.precision;
      FromMillis(ToMillis(a) - int64_t{a.timezone_minutes} * 60000, &a);
      FromMillis(ToMillis(b) - int64_t{b.timezone_minutes} * 60000, &b);
      a.precision = pa;
      b.precision = pb;
    }
  }
  auto level = [](Precision p) {
    return p == Precision::kMillisecond ? static_cast<int>(Precision::kSecond)
                                        : static_cast<int>(p);
  };
  int la = level(a.precision);
  int lb = level(b.precision);
  int common = std::min(la, lb);
  const int first = is_time ? static_cast<int>(Precision::kHour) : 0;
  for (int p = first; p <= common; ++p) {
    int x = 0;
    int y = 0;
    switch (static_cast<Precision>(p)) {
      case Precision::kYear:
        x = a.year;
        y = b.year;
        break;
      case Precision::kMonth:
        x = a.month;
        y = b.month;
        break;
      case Precision::kDay:
        x = a.day;
        y = b.day;
        break;
      case Precision::kHour:
        x = a.hour;
        y = b.hour;
        break;
      case Precision::kMinute:
        x = a.minute;
        y = b.minute;
        break;
      case Precision::kSecond:
        x = a.second * 1000 + a.millisecond;
        y = b.second * 1000 + b.millisecond;
        break;
      case Precision::kMillisecond:
        break;
    }
    if (x != y)
      return x < y ? -1 : 1;
  }
  if (la != lb)
    return std::nullopt;
  return 0;
}

bool AddDuration(DateTimeValue& v, bool is_time, std::string_view unit, int64_t amount) {
  if (unit == "year" || unit == "month") {
    if (is_time)
      return true;
    int64_t months = unit == "year" ? amount * 12 : amount;
    int64_t total = int64_t{v.year} * 12 + (v.month - 1) + months;
    v.year = static_cast<int>(total / 12);
    v.month = static_cast<int>(total % 12) + 1;
    v.day = std::min(v.day, DaysInMonth(v.year, v.month));
    return true;
  }
  int64_t millis = 0;
  if (unit == "week") {
    millis = amount * 7 * 86400000;
  } else if (unit == "day") {
    millis = amount * 86400000;
  } else if (unit == "hour") {
    millis = amount * 3600000;
  } else if (unit == "minute") {
    millis = amount * 60000;
  } else if (unit == "second") {
    millis = amount * 1000;
  } else if (unit == "millisecond") {
    millis = amount;
  } else {
    return false;
  }
  Precision precision = v.precision;
  if (is_time) {
    int64_t day_millis = ((int64_t{v.hour} * 60 + v.minute) * 60 + v.second) * 1000 + v.millisecond;
    day_millis = ((day_millis + millis) % 86400000 + 86400000) % 86400000;
    v.hour = static_cast<int>(day_millis / 3600000);
    v.minute = static_cast<int>(day_millis / 60000 % 60);
    v.second = static_cast<int>(day_millis / 1000 % 60);
    v.millisecond = static_cast<int>(day_millis % 1000);
    return true;
  }
  if (precision <= Precision::kDay && millis % 86400000 != 0) {
    millis = millis / 86400000 * 86400000;  // a date moves by whole days only
  }
  DateTimeValue copy = v;
  if (copy.precision < Precision::kMonth)
    copy.month = 1;
  if (copy.precision < Precision::kDay)
    copy.day = 1;
  FromMillis(ToMillis(copy) + millis, &copy);
  copy.precision = precision;
  v = copy;
  return true;
}

std::string_view CalendarUnit(std::string_view word) {
  static const char* kUnits[] = {"year", "month",  "week",   "day",
                                 "hour", "minute", "second", "millisecond"};
  for (const char* unit : kUnits) {
    std::string_view u = unit;
    if (word == u ||
        (word.size() == u.size() + 1 && word.substr(0, u.size()) == u && word.back() == 's')) {
      return u;
    }
  }
  return {};
}

std::optional<CanonicalQuantity> Canonicalize(const Quantity& quantity) {
  CanonicalQuantity out;
  out.value = quantity.value.value;
  std::string_view unit = quantity.unit;
  if (quantity.calendar) {
    static const std::pair<const char*, const char*> kMap[] = {
        {"week", "wk"},    {"day", "d"},    {"hour", "h"},
        {"minute", "min"}, {"second", "s"}, {"millisecond", "ms"}};
    std::string_view mapped;
    for (const auto& [word, code] : kMap) {
      if (unit == word)
        mapped = code;
    }
    if (mapped.empty())
      return std::nullopt;
    unit = mapped;
  }
  if (unit.empty() || unit == "1")
    return out;
  // Terms separated by '.' (multiply) and '/' (divide); a leading '/' divides unity.
  int sign = 1;
  size_t start = 0;
  for (size_t i = 0; i <= unit.size(); ++i) {
    if (i == unit.size() || unit[i] == '.' || unit[i] == '/') {
      // A '.' inside brackets or braces is part of the atom; none of ours have one.
      std::string_view term = unit.substr(start, i - start);
      if (!term.empty() && !ParseTerm(term, &out, sign))
        return std::nullopt;
      if (i < unit.size() && unit[i] == '/')
        sign = -1;
      start = i + 1;
    }
  }
  return out;
}

bool SameDimensions(const CanonicalQuantity& a, const CanonicalQuantity& b) {
  for (int i = 0; i < 7; ++i) {
    if (a.dims[i] != b.dims[i])
      return false;
  }
  return true;
}

Quantity FromCanonical(const CanonicalQuantity& value) {
  static const char* kBase[] = {"m", "g", "s", "rad", "K", "mol", "cd"};
  Quantity out;
  out.value = Decimal{value.value, -1};
  std::string unit;
  for (int i = 0; i < 7; ++i) {
    if (value.dims[i] == 0)
      continue;
    if (!unit.empty())
      unit += ".";
    unit += kBase[i];
    if (value.dims[i] != 1)
      unit += std::to_string(value.dims[i]);
  }
  out.unit = unit.empty() ? "1" : unit;
  return out;
}

}  // namespace medalliance::fhir::fhirpath::internal
