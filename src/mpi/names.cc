#include "mpi/names.h"

#include <algorithm>
#include <unordered_map>

#include "mpi/internal/tables.h"
#include "mpi/internal/utf8.h"

namespace medalliance::mpi {
namespace {

using internal::DecodeUtf8;
using internal::IsHan;

struct HanTables {
  std::unordered_map<char32_t, std::vector<std::string>> readings;
  std::unordered_map<char32_t, char32_t> simplified;
};

template <typename Fn>
void ForEachLine(std::string_view text, Fn fn) {
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.front() != '#') {
      fn(line);
    }
    start = end + 1;
  }
}

const HanTables& Tables() {
  static const HanTables* const kTables = [] {
    auto* tables = new HanTables();
    ForEachLine(internal::HanziPinyinTable(), [&](std::string_view line) {
      const size_t tab = line.find('\t');
      if (tab == std::string_view::npos) {
        return;
      }
      std::string syllable(line.substr(0, tab));
      for (char32_t c : DecodeUtf8(line.substr(tab + 1))) {
        tables->readings[c].push_back(syllable);
      }
    });
    ForEachLine(internal::HanziT2sTable(), [&](std::string_view line) {
      std::u32string pair = DecodeUtf8(line);
      if (pair.size() == 2) {
        tables->simplified[pair[0]] = pair[1];
      }
    });
    return tables;
  }();
  return *kTables;
}

bool IsNameSeparator(char32_t c) {
  switch (c) {
    case U' ':
    case U'\t':
    case U'\n':
    case U'\r':
    case 0x3000:  // ideographic space
    case 0x00B7:  // middle dot, as in 阿依古丽·买买提
    case 0x2022:
    case 0x30FB:
    case 0xFF0E:
    case U'-':
    case U'.':
    case U',':
      return true;
    default:
      return false;
  }
}

// Latin letter without tone: 'a'..'z', 'v' for ü, 0 for a non-letter.
char LatinBase(char32_t c) {
  if (c >= U'a' && c <= U'z') {
    return static_cast<char>(c);
  }
  if (c >= U'A' && c <= U'Z') {
    return static_cast<char>(c - U'A' + U'a');
  }
  if (c >= 0xFF21 && c <= 0xFF3A) {  // full-width A-Z
    return static_cast<char>(c - 0xFF21 + U'a');
  }
  if (c >= 0xFF41 && c <= 0xFF5A) {
    return static_cast<char>(c - 0xFF41 + U'a');
  }
  switch (c) {
    case 0x0101:
    case 0x00E1:
    case 0x01CE:
    case 0x00E0:
    case 0x0100:
    case 0x00C1:
    case 0x01CD:
    case 0x00C0:
    case 0x00E2:
    case 0x00C2:
      return 'a';
    case 0x0113:
    case 0x00E9:
    case 0x011B:
    case 0x00E8:
    case 0x0112:
    case 0x00C9:
    case 0x011A:
    case 0x00C8:
    case 0x00EA:
    case 0x00CA:
      return 'e';
    case 0x012B:
    case 0x00ED:
    case 0x01D0:
    case 0x00EC:
    case 0x012A:
    case 0x00CD:
    case 0x01CF:
    case 0x00CC:
      return 'i';
    case 0x014D:
    case 0x00F3:
    case 0x01D2:
    case 0x00F2:
    case 0x014C:
    case 0x00D3:
    case 0x01D1:
    case 0x00D2:
      return 'o';
    case 0x016B:
    case 0x00FA:
    case 0x01D4:
    case 0x00F9:
    case 0x016A:
    case 0x00DA:
    case 0x01D3:
    case 0x00D9:
      return 'u';
    case 0x01D6:
    case 0x01D8:
    case 0x01DA:
    case 0x01DC:
    case 0x00FC:
    case 0x01D5:
    case 0x01D7:
    case 0x01D9:
    case 0x01DB:
    case 0x00DC:
      return 'v';
    default:
      return 0;
  }
}

void AddUnique(std::vector<std::string>& list, std::string value) {
  if (value.empty() || list.size() >= NameKey::kMaxSpellings) {
    return;
  }
  if (std::find(list.begin(), list.end(), value) == list.end()) {
    list.push_back(std::move(value));
  }
}

// Every spelling of a run of Han characters, up to kMaxSpellings; characters without a
// reading contribute themselves.
std::vector<std::string> SpellHan(std::u32string_view characters) {
  std::vector<std::string> spellings{std::string()};
  for (char32_t c : characters) {
    const std::vector<std::string>& readings = PinyinReadings(c);
    std::vector<std::string> next;
    if (readings.empty()) {
      for (std::string& s : spellings) {
        internal::AppendUtf8(c, s);
        next.push_back(std::move(s));
      }
    } else {
      for (const std::string& s : spellings) {
        for (const std::string& r : readings) {
          if (next.size() < NameKey::kMaxSpellings) {
            next.push_back(s + r);
          }
        }
      }
    }
    spellings = std::move(next);
  }
  if (spellings.size() == 1 && spellings[0].empty()) {
    spellings.clear();
  }
  return spellings;
}

void Combine(const std::vector<std::string>& first, const std::vector<std::string>& second,
             std::vector<std::string>& out) {
  if (first.empty()) {
    for (const std::string& s : second) AddUnique(out, s);
    return;
  }
  if (second.empty()) {
    for (const std::string& f : first) AddUnique(out, f);
    return;
  }
  for (const std::string& f : first) {
    for (const std::string& s : second) {
      AddUnique(out, f + s);
    }
  }
}

std::string Join(const std::vector<std::string>& tokens, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) out += tokens[i];
  return out;
}

void AddLatinName(std::string_view family, std::string_view given, std::string_view text,
                  NameKey& key) {
  std::vector<std::string> family_tokens = LatinNameTokens(family);
  std::vector<std::string> given_tokens = LatinNameTokens(given);
  if (!family_tokens.empty() || !given_tokens.empty()) {
    std::string f = Join(family_tokens, 0, family_tokens.size());
    std::string g = Join(given_tokens, 0, given_tokens.size());
    AddUnique(key.spellings, f + g);
    if (!f.empty() && !g.empty()) {
      AddUnique(key.spellings, g + f);
    }
    AddUnique(key.family_spellings, f);
    AddUnique(key.given_spellings, g);
    return;
  }
  std::vector<std::string> tokens = LatinNameTokens(text);
  if (tokens.empty()) {
    return;
  }
  const size_t n = tokens.size();
  AddUnique(key.spellings, Join(tokens, 0, n));
  if (n >= 2) {
    // Chinese order (family first) or Western order (family last).
    AddUnique(key.spellings, tokens[n - 1] + Join(tokens, 0, n - 1));
    AddUnique(key.spellings, Join(tokens, 1, n) + tokens[0]);
    AddUnique(key.family_spellings, tokens[0]);
    AddUnique(key.family_spellings, tokens[n - 1]);
    AddUnique(key.given_spellings, Join(tokens, 1, n));
    AddUnique(key.given_spellings, Join(tokens, 0, n - 1));
  }
}

}  // namespace

std::string FoldHanzi(std::string_view text) {
  const HanTables& tables = Tables();
  std::string out;
  out.reserve(text.size());
  for (char32_t c : DecodeUtf8(text)) {
    if (IsNameSeparator(c)) {
      continue;
    }
    if (c >= 0xFF01 && c <= 0xFF5E) {
      c -= 0xFEE0;
    }
    auto it = tables.simplified.find(c);
    internal::AppendUtf8(it == tables.simplified.end() ? c : it->second, out);
  }
  return out;
}

bool HasHan(std::string_view text) {
  for (char32_t c : DecodeUtf8(text)) {
    if (IsHan(c)) {
      return true;
    }
  }
  return false;
}

const std::vector<std::string>& PinyinReadings(char32_t character) {
  static const std::vector<std::string> kNone;
  const HanTables& tables = Tables();
  auto it = tables.readings.find(character);
  if (it == tables.readings.end()) {
    // A traditional form without its own entry reads like its simplified form.
    auto simplified = tables.simplified.find(character);
    if (simplified == tables.simplified.end()) {
      return kNone;
    }
    it = tables.readings.find(simplified->second);
    return it == tables.readings.end() ? kNone : it->second;
  }
  return it->second;
}

std::vector<std::string> LatinNameTokens(std::string_view text) {
  std::vector<std::string> tokens;
  std::string current;
  auto flush = [&] {
    if (current.empty()) {
      return;
    }
    if (current.rfind("lyu", 0) == 0 || current.rfind("nyu", 0) == 0) {
      current.replace(1, 2, "v");
    }
    tokens.push_back(std::move(current));
    current.clear();
  };
  for (char32_t c : DecodeUtf8(text)) {
    if (char base = LatinBase(c); base != 0) {
      current.push_back(base);
    } else if (c == 0x0308 || c == U':') {  // combining diaeresis, or "u:" for ü
      if (!current.empty() && current.back() == 'u') {
        current.back() = 'v';
      }
    } else if ((c >= 0x0300 && c <= 0x036F) || (c >= U'0' && c <= U'9') || c == U'\'' ||
               c == 0x2019) {
      // combining tone marks, tone numbers and syllable apostrophes (xi'an) add nothing
    } else {
      flush();
    }
  }
  flush();
  return tokens;
}

bool IsCompoundSurname(std::u32string_view two_characters) {
  static constexpr std::u32string_view kCompound[] = {
      U"欧阳", U"司马", U"诸葛", U"上官", U"东方", U"皇甫", U"尉迟", U"公孙", U"慕容",
      U"令狐", U"夏侯", U"长孙", U"宇文", U"司徒", U"司空", U"端木", U"独孤", U"南宫",
      U"西门", U"轩辕", U"呼延", U"澹台", U"公冶", U"太史", U"申屠", U"钟离", U"闻人"};
  return std::find(std::begin(kCompound), std::end(kCompound), two_characters) !=
         std::end(kCompound);
}

void AddHumanName(std::string_view family, std::string_view given, std::string_view text,
                  NameKey& key) {
  if (!HasHan(family) && !HasHan(given) && !HasHan(text)) {
    AddLatinName(family, given, text, key);
    return;
  }
  std::u32string family_chars;
  std::u32string given_chars;
  if (HasHan(family) || HasHan(given)) {
    family_chars = DecodeUtf8(FoldHanzi(family));
    given_chars = DecodeUtf8(FoldHanzi(given));
  } else {
    std::u32string all = DecodeUtf8(FoldHanzi(text));
    size_t split = all.size() >= 3 && IsCompoundSurname(std::u32string_view(all).substr(0, 2))
                       ? 2
                       : std::min<size_t>(1, all.size());
    family_chars = all.substr(0, split);
    given_chars = all.substr(split);
  }
  if (key.hanzi.empty()) {
    key.family_hanzi = internal::EncodeUtf8(family_chars);
    key.given_hanzi = internal::EncodeUtf8(given_chars);
    key.hanzi = key.family_hanzi + key.given_hanzi;
  }
  std::vector<std::string> family_spellings = SpellHan(family_chars);
  std::vector<std::string> given_spellings = SpellHan(given_chars);
  Combine(family_spellings, given_spellings, key.spellings);
  for (std::string& s : family_spellings) AddUnique(key.family_spellings, std::move(s));
  for (std::string& s : given_spellings) AddUnique(key.given_spellings, std::move(s));
}

NameKey MakeNameKey(std::string_view family, std::string_view given, std::string_view text) {
  NameKey key;
  AddHumanName(family, given, text, key);
  return key;
}

bool SpellingsIntersect(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (const std::string& x : a) {
    for (const std::string& y : b) {
      if (x == y) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace medalliance::mpi
