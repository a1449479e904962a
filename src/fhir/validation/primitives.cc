#include "fhir/validation/primitives.h"

#include <cstdint>

#include "fhir/r4/definitions.h"

namespace medalliance::fhir::validation {
namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool IsLowerHex(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f');
}
bool IsIdChar(char c) {
  return IsDigit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' || c == '.';
}

// Reads exactly `count` digits at `pos` into `value`.
bool Digits(std::string_view text, size_t pos, size_t count, int* value) {
  if (pos + count > text.size())
    return false;
  int result = 0;
  for (size_t i = 0; i < count; ++i) {
    char c = text[pos + i];
    if (!IsDigit(c))
      return false;
    result = result * 10 + (c - '0');
  }
  *value = result;
  return true;
}

int DaysInMonth(int year, int month) {
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
    return 29;
  return kDays[month - 1];
}

// Parses a date prefix; `*end` is where it stopped, `*parts` 1..3 components read.
bool ParseDatePrefix(std::string_view text, size_t* end, int* parts) {
  int year = 0;
  int month = 0;
  int day = 0;
  if (!Digits(text, 0, 4, &year) || year == 0)
    return false;
  *parts = 1;
  *end = 4;
  if (text.size() == 4 || text[4] != '-')
    return true;
  if (!Digits(text, 5, 2, &month) || month < 1 || month > 12)
    return false;
  *parts = 2;
  *end = 7;
  if (text.size() == 7 || text[7] != '-')
    return true;
  if (!Digits(text, 8, 2, &day) || day < 1 || day > DaysInMonth(year, month))
    return false;
  *parts = 3;
  *end = 10;
  return true;
}

// hh:mm:ss(.f+)? at `pos`; advances `*pos`.
bool ParseTime(std::string_view text, size_t* pos) {
  int hour = 0;
  int minute = 0;
  int second = 0;
  size_t p = *pos;
  if (!Digits(text, p, 2, &hour) || hour > 23)
    return false;
  if (p + 2 >= text.size() || text[p + 2] != ':')
    return false;
  if (!Digits(text, p + 3, 2, &minute) || minute > 59)
    return false;
  if (p + 5 >= text.size() || text[p + 5] != ':')
    return false;
  if (!Digits(text, p + 6, 2, &second) || second > 60)
    return false;
  p += 8;
  if (p < text.size() && text[p] == '.') {
    ++p;
    size_t start = p;
    while (p < text.size() && IsDigit(text[p])) ++p;
    if (p == start)
      return false;
  }
  *pos = p;
  return true;
}

// Z | (+|-)hh:mm with hh 00-13, or 14:00; must end the text.
bool ParseZone(std::string_view text, size_t pos) {
  if (pos >= text.size())
    return false;
  if (text[pos] == 'Z')
    return pos + 1 == text.size();
  if (text[pos] != '+' && text[pos] != '-')
    return false;
  int hour = 0;
  int minute = 0;
  if (!Digits(text, pos + 1, 2, &hour) || pos + 3 >= text.size() || text[pos + 3] != ':' ||
      !Digits(text, pos + 4, 2, &minute) || pos + 6 != text.size()) {
    return false;
  }
  if (hour == 14)
    return minute == 0;
  return hour <= 13 && minute <= 59;
}

bool ParseInt64(std::string_view text, bool allow_sign, int64_t* value) {
  size_t pos = 0;
  bool negative = false;
  if (allow_sign && !text.empty() && text[0] == '-') {
    negative = true;
    pos = 1;
  }
  if (pos >= text.size())
    return false;
  if (text[pos] == '0' && pos + 1 != text.size())
    return false;  // no leading zeros
  if (text.size() - pos > 11)
    return false;
  int64_t result = 0;
  for (; pos < text.size(); ++pos) {
    if (!IsDigit(text[pos]))
      return false;
    result = result * 10 + (text[pos] - '0');
  }
  *value = negative ? -result : result;
  return true;
}

}  // namespace

bool IsValidId(std::string_view text) {
  if (text.empty() || text.size() > 64)
    return false;
  for (char c : text) {
    if (!IsIdChar(c))
      return false;
  }
  return true;
}

bool IsValidCode(std::string_view text) {
  if (text.empty() || IsSpace(text.front()) || IsSpace(text.back()))
    return false;
  for (size_t i = 1; i < text.size(); ++i) {
    if (IsSpace(text[i]) && IsSpace(text[i - 1]))
      return false;
    if (IsSpace(text[i]) && text[i] != ' ')
      return false;  // one plain space between words
  }
  return true;
}

bool IsValidUri(std::string_view text) {
  if (text.empty())
    return false;
  for (char c : text) {
    if (IsSpace(c))
      return false;
  }
  return true;
}

bool IsValidOid(std::string_view text) {
  constexpr std::string_view kPrefix = "urn:oid:";
  if (text.substr(0, kPrefix.size()) != kPrefix)
    return false;
  std::string_view rest = text.substr(kPrefix.size());
  if (rest.size() < 3 || rest[0] < '0' || rest[0] > '2' || rest[1] != '.')
    return false;
  size_t pos = 1;
  while (pos < rest.size()) {
    if (rest[pos] != '.')
      return false;
    ++pos;
    size_t start = pos;
    while (pos < rest.size() && IsDigit(rest[pos])) ++pos;
    if (pos == start)
      return false;
    if (rest[start] == '0' && pos - start > 1)
      return false;
  }
  return true;
}

bool IsValidUuid(std::string_view text) {
  constexpr std::string_view kPrefix = "urn:uuid:";
  if (text.size() != kPrefix.size() + 36 || text.substr(0, kPrefix.size()) != kPrefix) {
    return false;
  }
  std::string_view rest = text.substr(kPrefix.size());
  for (size_t i = 0; i < rest.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (rest[i] != '-')
        return false;
    } else if (!IsLowerHex(rest[i])) {
      return false;
    }
  }
  return true;
}

bool IsValidBase64(std::string_view text) {
  size_t count = 0;
  for (char c : text) {
    if (IsSpace(c))
      continue;
    bool ok = IsDigit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '+' ||
              c == '/' || c == '=';
    if (!ok)
      return false;
    ++count;
  }
  return count > 0 && count % 4 == 0;
}

bool IsValidDate(std::string_view text) {
  size_t end = 0;
  int parts = 0;
  return ParseDatePrefix(text, &end, &parts) && end == text.size();
}

bool IsValidDateTime(std::string_view text) {
  size_t end = 0;
  int parts = 0;
  if (!ParseDatePrefix(text, &end, &parts))
    return false;
  if (end == text.size())
    return true;
  if (parts != 3 || text[end] != 'T')
    return false;
  size_t pos = end + 1;
  return ParseTime(text, &pos) && ParseZone(text, pos);
}

bool IsValidInstant(std::string_view text) {
  size_t end = 0;
  int parts = 0;
  if (!ParseDatePrefix(text, &end, &parts) || parts != 3)
    return false;
  if (end >= text.size() || text[end] != 'T')
    return false;
  size_t pos = end + 1;
  return ParseTime(text, &pos) && ParseZone(text, pos);
}

bool IsValidTime(std::string_view text) {
  size_t pos = 0;
  return ParseTime(text, &pos) && pos == text.size();
}

bool IsValidInteger(std::string_view text) {
  int64_t value = 0;
  return ParseInt64(text, true, &value) && value >= INT32_MIN && value <= INT32_MAX;
}

bool IsValidUnsignedInt(std::string_view text) {
  int64_t value = 0;
  return ParseInt64(text, false, &value) && value <= INT32_MAX;
}

bool IsValidPositiveInt(std::string_view text) {
  int64_t value = 0;
  return ParseInt64(text, false, &value) && value >= 1 && value <= INT32_MAX;
}

bool IsValidReference(std::string_view text) {
  if (text.empty())
    return false;
  for (char c : text) {
    if (IsSpace(c))
      return false;
  }
  if (text[0] == '#')
    return text.size() == 1 || IsValidId(text.substr(1));
  // urn:uuid: and urn:oid: are absolute URIs; like the HL7 validator we do not require the
  // part after the prefix to be well-formed here (Bundle resolution reports what is unknown).
  // Absolute: a scheme ([A-Za-z][A-Za-z0-9+.-]*) followed by ':' before any '/' or '?'.
  size_t colon = text.find(':');
  size_t slash = text.find_first_of("/?");
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon < slash)) {
    bool scheme_ok =
        colon > 0 && ((text[0] >= 'a' && text[0] <= 'z') || (text[0] >= 'A' && text[0] <= 'Z'));
    for (size_t i = 1; scheme_ok && i < colon; ++i) {
      char c = text[i];
      scheme_ok = IsIdChar(c) || c == '+';
    }
    return scheme_ok && colon + 1 < text.size();
  }
  if (slash == std::string_view::npos)
    return false;
  std::string_view type = text.substr(0, slash);
  if (!r4::IsResourceType(type))
    return false;
  if (text[slash] == '?')
    return true;  // conditional reference (transactions)
  std::string_view rest = text.substr(slash + 1);
  size_t next = rest.find('/');
  if (next == std::string_view::npos)
    return IsValidId(rest);
  if (!IsValidId(rest.substr(0, next)))
    return false;
  rest = rest.substr(next + 1);
  constexpr std::string_view kHistory = "_history/";
  return rest.starts_with(kHistory) && IsValidId(rest.substr(kHistory.size()));
}

}  // namespace medalliance::fhir::validation
