#pragma once
// Chinese name normalisation for the master patient index.
//
// Names reach the alliance in Han characters (simplified or traditional), in pinyin with or
// without tone marks and spaces, and in either name order. NameKey reduces one person's
// HumanNames to forms that compare across those spellings:
//   张伟, 張偉, ZHANG WEI, Zhang Wei, zhāng wěi, ZHANGWEI, WEI ZHANG  ->  spelling "zhangwei".
// Tables: Unihan 15.0 readings and simplified variants (data/mpi/, tools/mpi/gen_tables.py).
// Polyphonic characters keep every reading (曾 -> zeng, ceng), so a key has several spellings.
//
// All functions are pure and thread-safe; the tables are parsed once on first use.

#include <string>
#include <string_view>
#include <vector>

namespace medalliance::mpi {

// Traditional -> simplified, full-width ASCII -> ASCII; drops whitespace and name separators
// (· • ・ - . ,). Characters without a mapping are kept.
std::string FoldHanzi(std::string_view text);

// True when the text holds at least one Han character.
bool HasHan(std::string_view text);

// Toneless pinyin readings ("zhang") of one Han character, ü written v; empty for others.
const std::vector<std::string>& PinyinReadings(char32_t character);

// Lower-case toneless Latin tokens of a romanised name: "ZHĀNG Wěi" -> {zhang, wei}.
// Tone marks and tone numbers are dropped, ü/u:/yu after l or n become v ("LYU" -> "lv").
std::vector<std::string> LatinNameTokens(std::string_view text);

// Common two-character (compound) surnames: 欧阳, 司马, 诸葛, ...
bool IsCompoundSurname(std::u32string_view two_characters);

struct NameKey {
  static constexpr size_t kMaxSpellings = 16;

  std::string hanzi;         // folded full name (family then given) in Han characters, or empty
  std::string family_hanzi;  // folded family name, or empty
  std::string given_hanzi;   // folded given name(s), or empty
  // Toneless full-name spellings without spaces, family first; every reading combination up
  // to kMaxSpellings. Latin names add the swapped order, since their order is unreliable.
  std::vector<std::string> spellings;
  // Toneless spellings of the family name (empty for a one-token Latin name).
  std::vector<std::string> family_spellings;
  // Toneless spellings of the given name(s).
  std::vector<std::string> given_spellings;

  bool IsEmpty() const { return hanzi.empty() && spellings.empty(); }
};

// Adds one HumanName (family, given names joined, and/or text) to a key. A name in Han
// characters sets the hanzi fields (the first one wins); every name adds its spellings.
void AddHumanName(std::string_view family, std::string_view given, std::string_view text,
                  NameKey& key);

// Shorthand for a key of one name.
NameKey MakeNameKey(std::string_view family, std::string_view given, std::string_view text = {});

// True when some spelling of a equals some spelling of b.
bool SpellingsIntersect(const std::vector<std::string>& a, const std::vector<std::string>& b);

}  // namespace medalliance::mpi
