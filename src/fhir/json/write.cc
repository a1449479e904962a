// WriteJson: serialises our Json tree, numbers from their source text.
//
// Hand-written rather than RapidJSON's Writer: with RapidJSON's character-at-a-time output
// stream, writing was the largest single cost of importing resources with big narratives
// (callgrind on 8 Synthea bundles: 59M of 447M instructions). This writer copies runs of
// plain bytes at once.

#include <array>
#include <cstdint>
#include <cstring>

#include "fhir/json/json.h"

namespace medalliance::fhir {
namespace {

// The length of the well-formed UTF-8 sequence starting at text[i] (a byte >= 0x80), or 0.
size_t Utf8SequenceLength(std::string_view text, size_t i) {
  auto byte = [&](size_t at) { return static_cast<unsigned char>(text[at]); };
  unsigned char lead = byte(i);
  size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0)
      low = 0xA0;  // no overlong forms
    if (lead == 0xED)
      high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0)
      low = 0x90;
    if (lead == 0xF4)
      high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > text.size())
    return 0;
  if (byte(i + 1) < low || byte(i + 1) > high)
    return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xBF)
      return 0;
  }
  return length;
}

// True when one of the 8 bytes of `word` needs more than copying: a control character, '"',
// '\\' or a byte >= 0x80 (exact: no false positives or negatives for "some byte").
inline bool HasSpecialByte(uint64_t word) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  auto has_zero = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
  uint64_t below_space = (word - kOnes * 0x20) & ~word & kHigh;
  return ((below_space | (word & kHigh) | has_zero(word ^ (kOnes * '"')) |
           has_zero(word ^ (kOnes * '\\'))) != 0);
}

// The bytes written as they are: printable ASCII but '"' and '\\'.
constexpr std::array<bool, 256> kPlain = [] {
  std::array<bool, 256> plain{};
  for (size_t c = 0x20; c < 0x80; ++c) plain[c] = c != '"' && c != '\\';
  return plain;
}();

// The position of the first byte of text[from..] that is not plain, or text.size(). Plain
// bytes are skipped eight at a time (callgrind: a byte at a time, this was most of WriteJson
// on the import's reading thread).
inline size_t SkipPlain(std::string_view text, size_t from) {
  const char* data = text.data();
  const size_t size = text.size();
  while (from + 8 <= size) {
    uint64_t word = 0;
    std::memcpy(&word, data + from, 8);
    if (HasSpecialByte(word))
      break;
    from += 8;
  }
  while (from < size && kPlain[static_cast<unsigned char>(data[from])]) ++from;
  return from;
}

// The JSON string literal of `text`, appended to `out`. Well-formed UTF-8 is written as is;
// a byte that is not part of one (text a client sent in a URL, say) becomes U+FFFD, so that
// everything we write is valid JSON.
void AppendQuoted(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;  // the start of the bytes not yet appended
  for (size_t i = SkipPlain(text, 0); i < text.size(); i = SkipPlain(text, i)) {
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      size_t length = Utf8SequenceLength(text, i);
      if (length > 0) {
        i += length;
        continue;
      }
      out.append(text.data() + run, i - run);
      out.append("\xEF\xBF\xBD");
      run = ++i;
      continue;
    }
    out.append(text.data() + run, i - run);
    run = ++i;
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
    }
  }
  out.append(text.data() + run, text.size() - run);
  out.push_back('"');
}

// A member's key and its ':'. Keys are mostly short names of plain bytes: those go through a
// stack buffer in one append (callgrind: a third of the calls to AppendQuoted were keys).
void AppendKey(const std::string& key, std::string& out, bool pretty) {
  constexpr size_t kShort = 32;
  const size_t size = key.size();
  if (size <= kShort && !pretty) {
    char buffer[kShort + 3];
    buffer[0] = '"';
    size_t i = 0;
    while (i < size && kPlain[static_cast<unsigned char>(key[i])]) {
      buffer[i + 1] = key[i];
      ++i;
    }
    if (i == size) {
      buffer[size + 1] = '"';
      buffer[size + 2] = ':';
      out.append(buffer, size + 3);
      return;
    }
  }
  AppendQuoted(key, out);
  if (pretty) {
    out.append(": ");
  } else {
    out.push_back(':');
  }
}

void Indent(std::string& out, int depth) {
  out.push_back('\n');
  out.append(static_cast<size_t>(depth) * 2, ' ');
}

void Emit(const Json& value, std::string& out, bool pretty, int depth) {
  switch (value.GetKind()) {
    case Json::Kind::kNull:
      out.append("null");
      break;
    case Json::Kind::kBool:
      out.append(value.GetBool() ? "true" : "false");
      break;
    case Json::Kind::kNumber:
      out.append(value.GetString());
      break;
    case Json::Kind::kString:
      AppendQuoted(value.GetString(), out);
      break;
    case Json::Kind::kArray: {
      const Json::Array& items = value.Items();
      out.push_back('[');
      for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0)
          out.push_back(',');
        if (pretty)
          Indent(out, depth + 1);
        Emit(items[i], out, pretty, depth + 1);
      }
      if (pretty && !items.empty())
        Indent(out, depth);
      out.push_back(']');
      break;
    }
    case Json::Kind::kObject: {
      const Json::Object& members = value.Members();
      out.push_back('{');
      for (size_t i = 0; i < members.size(); ++i) {
        if (i > 0)
          out.push_back(',');
        if (pretty)
          Indent(out, depth + 1);
        AppendKey(members[i].first, out, pretty);
        Emit(members[i].second, out, pretty, depth + 1);
      }
      if (pretty && !members.empty())
        Indent(out, depth);
      out.push_back('}');
      break;
    }
  }
}

}  // namespace

void AppendJsonString(std::string_view text, std::string& out) {
  AppendQuoted(text, out);
}

void AppendJson(const Json& value, std::string& out, const WriteOptions& options) {
  Emit(value, out, options.pretty, 0);
}

std::string WriteJson(const Json& value, const WriteOptions& options) {
  std::string out;
  out.reserve(512);  // a resource's text is rarely shorter: skips six regrowths
  AppendJson(value, out, options);
  return out;
}

}  // namespace medalliance::fhir
