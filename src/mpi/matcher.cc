#include "mpi/matcher.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "mpi/internal/tables.h"

namespace medalliance::mpi {
namespace {

constexpr std::string_view kFieldNames[] = {"resident-id", "document", "name",   "birth-date",
                                            "sex",         "phone",    "address"};
constexpr std::string_view kLevelNames[] = {"missing",   "agree", "disagree", "near-miss", "pinyin",
                                            "homophone", "close", "swapped",  "year-off"};

// True when a and b differ by at most one substitution, insertion, deletion or adjacent
// transposition.
bool WithinOneEdit(std::string_view a, std::string_view b) {
  if (a.size() > b.size())
    std::swap(a, b);
  if (b.size() - a.size() > 1)
    return false;
  size_t prefix = 0;
  while (prefix < a.size() && a[prefix] == b[prefix]) ++prefix;
  if (prefix == a.size())
    return true;
  if (a.size() == b.size()) {
    if (a.substr(prefix + 1) == b.substr(prefix + 1))
      return true;  // substitution
    return prefix + 1 < a.size() && a[prefix] == b[prefix + 1] && a[prefix + 1] == b[prefix] &&
           a.substr(prefix + 2) == b.substr(prefix + 2);  // transposition
  }
  return a.substr(prefix) == b.substr(prefix + 1);  // insertion into a
}

bool AnyWithinOneEdit(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  for (const std::string& x : a) {
    for (const std::string& y : b) {
      if (WithinOneEdit(x, y))
        return true;
    }
  }
  return false;
}

bool ShareAny(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  return SpellingsIntersect(a, b);
}

Level CompareResidentId(const PatientRecord& a, const PatientRecord& b) {
  if (a.resident_id.empty() || b.resident_id.empty())
    return Level::kMissing;
  if (a.resident_id == b.resident_id)
    return Level::kAgree;
  if ((!a.resident_id_valid || !b.resident_id_valid) && a.resident_id.size() == 18 &&
      b.resident_id.size() == 18 && WithinOneEdit(a.resident_id, b.resident_id)) {
    return Level::kNearMiss;
  }
  return Level::kDisagree;
}

Level CompareDocuments(const PatientRecord& a, const PatientRecord& b) {
  if (a.documents.empty() || b.documents.empty())
    return Level::kMissing;
  if (ShareAny(a.documents, b.documents))
    return Level::kAgree;
  for (const std::string& x : a.documents) {
    for (const std::string& y : b.documents) {
      if (x.substr(0, x.find('|')) == y.substr(0, y.find('|')))
        return Level::kDisagree;
    }
  }
  return Level::kMissing;
}

bool SameFamily(const NameKey& a, const NameKey& b) {
  if (!a.family_hanzi.empty() && a.family_hanzi == b.family_hanzi)
    return true;
  return ShareAny(a.family_spellings, b.family_spellings);
}

Level CompareNames(const NameKey& a, const NameKey& b, bool* same_family) {
  *same_family = false;
  if (a.IsEmpty() || b.IsEmpty())
    return Level::kMissing;
  *same_family = SameFamily(a, b);
  if (!a.hanzi.empty() && a.hanzi == b.hanzi)
    return Level::kAgree;
  if (ShareAny(a.spellings, b.spellings)) {
    return !a.hanzi.empty() && !b.hanzi.empty() ? Level::kHomophone : Level::kPinyin;
  }
  if (*same_family && AnyWithinOneEdit(a.given_spellings, b.given_spellings)) {
    return Level::kClose;
  }
  if (!*same_family && ShareAny(a.given_spellings, b.given_spellings) &&
      AnyWithinOneEdit(a.family_spellings, b.family_spellings)) {
    return Level::kClose;
  }
  if (a.hanzi.empty() || b.hanzi.empty()) {
    // A typo in a romanised name (ZHANG WIE).
    if (AnyWithinOneEdit(a.spellings, b.spellings))
      return Level::kClose;
  }
  return Level::kDisagree;
}

Level CompareBirthDates(const PatientRecord& a, const PatientRecord& b) {
  if (a.birth_year == 0 || b.birth_year == 0)
    return Level::kMissing;
  if (a.birth_month == 0 || b.birth_month == 0 || a.birth_day == 0 || b.birth_day == 0) {
    return a.birth_year == b.birth_year ? Level::kMissing : Level::kDisagree;
  }
  const bool same_month_day = a.birth_month == b.birth_month && a.birth_day == b.birth_day;
  if (a.birth_year == b.birth_year && same_month_day)
    return Level::kAgree;
  if (a.birth_year == b.birth_year && a.birth_month == b.birth_day &&
      a.birth_day == b.birth_month) {
    return Level::kSwapped;
  }
  if (same_month_day && std::abs(a.birth_year - b.birth_year) == 1)
    return Level::kYearOff;
  return Level::kDisagree;
}

template <typename T>
Level CompareValues(const T& a, const T& b, bool present) {
  if (!present)
    return Level::kMissing;
  return a == b ? Level::kAgree : Level::kDisagree;
}

void Cap(Comparison& comparison, MatchGrade at_best, std::string_view rule) {
  if (static_cast<int>(comparison.grade) < static_cast<int>(at_best)) {
    comparison.grade = at_best;
    comparison.rule = rule;
  }
}

uint64_t Fnv1a(std::string_view text) {
  uint64_t hash = 1469598103934665603ULL;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

std::string TwoDigits(int value) {
  std::string out(2, '0');
  out[0] = static_cast<char>('0' + (value / 10) % 10);
  out[1] = static_cast<char>('0' + value % 10);
  return out;
}

}  // namespace

std::string_view ToString(MatchGrade grade) {
  switch (grade) {
    case MatchGrade::kCertain:
      return "certain";
    case MatchGrade::kProbable:
      return "probable";
    case MatchGrade::kPossible:
      return "possible";
    case MatchGrade::kCertainlyNot:
      return "certainly-not";
  }
  return "certainly-not";
}

std::string_view ToString(Field field) {
  return kFieldNames[static_cast<size_t>(field)];
}
std::string_view ToString(Level level) {
  return kLevelNames[static_cast<size_t>(level)];
}

core::Result<MatchConfig> ParseMatchConfig(std::string_view text) {
  MatchConfig config;
  size_t start = 0;
  int line_number = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos)
      end = text.size();
    std::string line(text.substr(start, end - start));
    start = end + 1;
    ++line_number;
    if (size_t hash = line.find('#'); hash != std::string::npos)
      line.resize(hash);
    std::vector<std::string> words;
    size_t pos = 0;
    while (pos < line.size()) {
      while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
      size_t word_end = pos;
      while (word_end < line.size() && line[word_end] != ' ' && line[word_end] != '\t') ++word_end;
      if (word_end > pos)
        words.push_back(line.substr(pos, word_end - pos));
      pos = word_end;
    }
    if (words.empty()) {
      if (end == text.size())
        break;
      continue;
    }
    auto bad = [&](std::string_view why) {
      return core::Error::BadRequest("match weights line " + std::to_string(line_number) + ": " +
                                     std::string(why));
    };
    auto number = [](const std::string& word, double* out) {
      char* parse_end = nullptr;
      *out = std::strtod(word.c_str(), &parse_end);
      return parse_end != word.c_str() && *parse_end == '\0';
    };
    if (words[0] == "weight" && words.size() == 5) {
      auto field = std::find(std::begin(kFieldNames), std::end(kFieldNames), words[1]);
      auto level = std::find(std::begin(kLevelNames), std::end(kLevelNames), words[2]);
      double m = 0;
      double u = 0;
      if (field == std::end(kFieldNames) || level == std::end(kLevelNames) ||
          level == std::begin(kLevelNames)) {
        return bad("unknown field or level");
      }
      if (!number(words[3], &m) || !number(words[4], &u) || m <= 0 || u <= 0 || m > 1 || u > 1) {
        return bad("m and u must be probabilities in (0, 1]");
      }
      config.weights[static_cast<size_t>(field - std::begin(kFieldNames))]
                    [static_cast<size_t>(level - std::begin(kLevelNames))] = std::log2(m / u);
    } else if (words[0] == "threshold" && words.size() == 3) {
      double value = 0;
      if (!number(words[2], &value))
        return bad("threshold must be a number");
      if (words[1] == "certain") {
        config.certain_threshold = value;
      } else if (words[1] == "probable") {
        config.probable_threshold = value;
      } else if (words[1] == "possible") {
        config.possible_threshold = value;
      } else {
        return bad("unknown grade");
      }
    } else {
      return bad("expected `weight FIELD LEVEL M U` or `threshold GRADE SCORE`");
    }
    if (end == text.size())
      break;
  }
  return config;
}

const MatchConfig& DefaultMatchConfig() {
  static const MatchConfig* const kConfig = [] {
    core::Result<MatchConfig> parsed = ParseMatchConfig(internal::MatchWeightsTable());
    if (!parsed.has_value())
      std::abort();  // the embedded file is tested
    return new MatchConfig(std::move(parsed).value());
  }();
  return *kConfig;
}

Comparison Compare(const PatientRecord& a, const PatientRecord& b, const MatchConfig& config) {
  Comparison result;
  auto set = [&](Field field, Level level) { result.levels[static_cast<size_t>(field)] = level; };
  bool same_family = false;
  set(Field::kResidentId, CompareResidentId(a, b));
  set(Field::kDocument, CompareDocuments(a, b));
  set(Field::kName, CompareNames(a.name, b.name, &same_family));
  set(Field::kBirthDate, CompareBirthDates(a, b));
  set(Field::kSex, CompareValues(a.sex, b.sex, a.sex != 0 && b.sex != 0));
  const bool phones = !a.phones.empty() && !b.phones.empty();
  set(Field::kPhone, !phones ? Level::kMissing
                             : (ShareAny(a.phones, b.phones) ? Level::kAgree : Level::kDisagree));
  set(Field::kAddress,
      CompareValues(a.address, b.address, !a.address.empty() && !b.address.empty()));

  for (size_t f = 0; f < static_cast<size_t>(Field::kCount); ++f) {
    result.score += config.Weight(static_cast<Field>(f), result.levels[f]);
  }
  if (result.score >= config.certain_threshold) {
    result.grade = MatchGrade::kCertain;
  } else if (result.score >= config.probable_threshold) {
    result.grade = MatchGrade::kProbable;
  } else if (result.score >= config.possible_threshold) {
    result.grade = MatchGrade::kPossible;
  }

  const Level name = result.Get(Field::kName);
  const Level birth = result.Get(Field::kBirthDate);
  const Level id = result.Get(Field::kResidentId);
  const bool both_valid_ids = a.resident_id_valid && b.resident_id_valid;
  if (both_valid_ids && id == Level::kAgree) {
    result.deterministic = true;
    const bool contradicted = name == Level::kDisagree || birth == Level::kDisagree ||
                              result.Get(Field::kSex) == Level::kDisagree;
    result.grade = contradicted ? MatchGrade::kProbable : MatchGrade::kCertain;
    result.rule = contradicted ? "resident-id-contradicted" : "resident-id";
    return result;
  }
  if (both_valid_ids && id == Level::kDisagree) {
    Cap(result, MatchGrade::kPossible, "different-resident-ids");
  }
  const bool shares_household =
      result.Get(Field::kPhone) == Level::kAgree || result.Get(Field::kAddress) == Level::kAgree;
  const bool given_differs = name == Level::kDisagree || name == Level::kClose;
  if (birth == Level::kAgree && shares_household && same_family && given_differs) {
    Cap(result, MatchGrade::kPossible, "twins");
  }
  if (name == Level::kHomophone && result.Get(Field::kDocument) != Level::kAgree &&
      id != Level::kAgree && id != Level::kNearMiss) {
    Cap(result, MatchGrade::kProbable, "homophone");
  }
  return result;
}

std::vector<std::string> MatchIndex::BlockingKeyStrings(const PatientRecord& record) {
  std::vector<std::string> keys;
  if (record.resident_id.size() == 18) {
    keys.push_back("I" + record.resident_id);
    keys.push_back("R" + record.resident_id.substr(0, 14));
  }
  for (const std::string& phone : record.phones) keys.push_back("P" + phone);
  for (const std::string& document : record.documents) keys.push_back("D" + document);
  const bool full_date = record.birth_year != 0 && record.birth_month != 0 && record.birth_day != 0;
  const std::string month_day = full_date
                                    ? TwoDigits(std::min(record.birth_month, record.birth_day)) +
                                          TwoDigits(std::max(record.birth_month, record.birth_day))
                                    : std::string();
  for (const std::string& spelling : record.name.spellings) {
    bool ascii = true;
    for (char c : spelling) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (!ascii)
      continue;
    std::string letters = spelling;
    std::sort(letters.begin(), letters.end());
    if (record.birth_year != 0)
      keys.push_back("N" + letters + std::to_string(record.birth_year));
    if (full_date)
      keys.push_back("M" + letters + month_day);
  }
  if (full_date) {
    keys.push_back("B" + std::to_string(record.birth_year) + month_day +
                   (record.sex != 0 ? std::string(1, record.sex) : std::string()));
  }
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

std::vector<uint64_t> MatchIndex::BlockingKeys(const PatientRecord& record) {
  std::vector<std::string> keys = BlockingKeyStrings(record);
  std::vector<uint64_t> hashes;
  hashes.reserve(keys.size());
  for (const std::string& key : keys) hashes.push_back(Fnv1a(key));
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  return hashes;
}

uint32_t MatchIndex::Add(PatientRecord record) {
  const auto number = static_cast<uint32_t>(records_.size());
  for (uint64_t key : BlockingKeys(record)) {
    delta_[key].push_back(number);
    ++delta_postings_;
  }
  records_.push_back(std::move(record));
  if (delta_postings_ > std::max<size_t>(1 << 16, frozen_.size() / 8)) {
    Compact();
  }
  return number;
}

void MatchIndex::Compact() {
  if (delta_postings_ == 0)
    return;
  const size_t old_size = frozen_.size();
  frozen_.reserve(old_size + delta_postings_);
  for (const auto& [key, numbers] : delta_) {
    for (uint32_t number : numbers) frozen_.push_back(Posting{key, number});
  }
  std::sort(frozen_.begin() + static_cast<std::ptrdiff_t>(old_size), frozen_.end());
  std::inplace_merge(frozen_.begin(), frozen_.begin() + static_cast<std::ptrdiff_t>(old_size),
                     frozen_.end());
  delta_.clear();
  delta_ = {};
  delta_postings_ = 0;
}

std::vector<uint32_t> MatchIndex::Candidates(const PatientRecord& query) const {
  std::vector<uint32_t> out;
  for (uint64_t key : BlockingKeys(query)) {
    auto first = std::lower_bound(frozen_.begin(), frozen_.end(), Posting{key, 0});
    auto last = first;
    while (last != frozen_.end() && last->key == key) ++last;
    auto recent = delta_.find(key);
    const size_t size =
        static_cast<size_t>(last - first) + (recent == delta_.end() ? 0 : recent->second.size());
    if (size == 0 || size > kMaxBlockSize)
      continue;
    for (auto it = first; it != last; ++it) out.push_back(it->record);
    if (recent != delta_.end())
      out.insert(out.end(), recent->second.begin(), recent->second.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<Candidate> MatchIndex::Match(const PatientRecord& query) const {
  std::vector<Candidate> out;
  for (uint32_t number : Candidates(query)) {
    Comparison comparison = Compare(query, records_[number], config_);
    if (comparison.grade != MatchGrade::kCertainlyNot) {
      out.push_back(Candidate{number, std::move(comparison)});
    }
  }
  std::sort(out.begin(), out.end(), [](const Candidate& x, const Candidate& y) {
    if (x.comparison.grade != y.comparison.grade) {
      return static_cast<int>(x.comparison.grade) < static_cast<int>(y.comparison.grade);
    }
    return x.comparison.score > y.comparison.score;
  });
  return out;
}

}  // namespace medalliance::mpi
