#pragma once
// Probabilistic record linkage for the master patient index (Fellegi–Sunter).
//
// Compare() puts each field of two PatientRecords into an agreement level and adds the level's
// weight log2(m/u), where m is the level's probability among records of one person and u among
// records of different people (data/mpi/match-weights.txt; see doc/mpi.md for the values and
// how they were set). The sum is classified by thresholds into the $match grades, after rules
// that no weight may override:
//   * equal resident IDs, both with a valid check character, are certain (deterministic),
//     unless name, birth date or sex contradict them (a parent's ID on a child's record):
//     then probable, for review;
//   * different valid resident IDs are never more than possible;
//   * twins: same birth date, same family name, a shared phone or address but a different
//     given name are never more than possible;
//   * a name that agrees only as a homophone (different characters, same pinyin) is never
//     more than probable without an agreeing identity document or a resident ID that agrees
//     or is one keystroke away.
//
// MatchIndex keeps the records and their blocking keys in memory (64-bit hash of key ->
// record numbers, in a sorted posting array); a query scores only the records that share a key, so
// the work per query depends on block sizes, not on the population. Keys (see doc/mpi.md):
//   resident ID; resident ID's region + birth date (first 14 characters, catches a mistyped
//   sequence or check digit); each phone; each identity document; name letters (the sorted
//   letters of a toneless full-name spelling, so order, spaces, tones, homophones and
//   simplified/traditional forms collide) + birth year; name letters + {month, day} unordered
//   (year typos); birth date with {month, day} unordered + sex.
// Blocks larger than kMaxBlockSize are skipped at query time (shared switchboard numbers).
//
// Thread-safety: Compare and Candidates/Match are const and may run concurrently; Add must not
// run concurrently with anything else.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/result.h"
#include "mpi/record.h"

namespace medalliance::mpi {

enum class MatchGrade { kCertain, kProbable, kPossible, kCertainlyNot };
// "certain", "probable", "possible", "certainly-not" (the match-grade extension's codes).
std::string_view ToString(MatchGrade grade);

// Agreement levels; kMissing (one side absent) always weighs 0.
enum class Field { kResidentId, kDocument, kName, kBirthDate, kSex, kPhone, kAddress, kCount };
enum class Level {
  kMissing,
  kAgree,      // all fields: exact agreement (name: same Han characters after folding)
  kDisagree,   // all fields
  kNearMiss,   // resident ID: one differs by a digit or a transposition and fails its check
  kPinyin,     // name: same toneless spelling, one side without Han characters
  kHomophone,  // name: both in Han characters, different characters, same pinyin
  kClose,      // name: same family name and given names one edit apart, or same spelling
               //       with a different family name
  kSwapped,    // birth date: day and month swapped
  kYearOff,    // birth date: same month and day, year one off
  kCount
};
std::string_view ToString(Field field);
std::string_view ToString(Level level);

struct MatchConfig {
  // weights[field][level] = log2(m/u); 0 for kMissing.
  std::array<std::array<double, static_cast<size_t>(Level::kCount)>,
             static_cast<size_t>(Field::kCount)>
      weights{};
  double certain_threshold = 30;
  double probable_threshold = 20;
  double possible_threshold = 10;

  double Weight(Field field, Level level) const {
    return weights[static_cast<size_t>(field)][static_cast<size_t>(level)];
  }
};

// Parses a weights file: lines `weight <field> <level> <m> <u>` and `threshold <grade> <score>`;
// '#' starts a comment. Error kBadRequest naming the line.
core::Result<MatchConfig> ParseMatchConfig(std::string_view text);
// The embedded data/mpi/match-weights.txt.
const MatchConfig& DefaultMatchConfig();

struct Comparison {
  std::array<Level, static_cast<size_t>(Field::kCount)> levels{};
  double score = 0;
  MatchGrade grade = MatchGrade::kCertainlyNot;
  bool deterministic = false;  // decided by equal valid resident IDs
  std::string_view rule;       // the rule that capped or decided the grade, if any

  Level Get(Field field) const { return levels[static_cast<size_t>(field)]; }
};

// Compares two records field by field and grades the pair.
Comparison Compare(const PatientRecord& a, const PatientRecord& b, const MatchConfig& config);

struct Candidate {
  uint32_t record = 0;  // MatchIndex record number
  Comparison comparison;
};

class MatchIndex {
 public:
  static constexpr size_t kMaxBlockSize = 5000;

  explicit MatchIndex(const MatchConfig& config = DefaultMatchConfig()) : config_(config) {}
  MatchIndex(const MatchIndex&) = delete;
  MatchIndex& operator=(const MatchIndex&) = delete;

  // Adds a record; returns its record number (0, 1, 2, ...).
  uint32_t Add(PatientRecord record);
  const PatientRecord& Get(uint32_t record) const { return records_[record]; }
  size_t Size() const { return records_.size(); }

  // Record numbers sharing at least one blocking key with the query (no duplicates).
  std::vector<uint32_t> Candidates(const PatientRecord& query) const;
  // Scores the candidates; returns those graded possible or better, best first.
  std::vector<Candidate> Match(const PatientRecord& query) const;

  // The blocking keys of a record ("N" + sorted name letters + birth year, "P" + phone, ...),
  // sorted and unique; for a persistent index, store each as one IndexEntry row (see
  // doc/mpi.md).
  static std::vector<std::string> BlockingKeyStrings(const PatientRecord& record);
  // The same keys as 64-bit FNV-1a hashes (what the in-memory index stores).
  static std::vector<uint64_t> BlockingKeys(const PatientRecord& record);
  // Number of (key, record) postings, for the benchmark's report.
  size_t PostingCount() const { return frozen_.size() + delta_postings_; }
  // Moves recent postings into the sorted array (Add does it when the recent part grows past
  // 1/8 of the sorted one; call after a bulk load to free the hash map).
  void Compact();

 private:
  struct Posting {
    uint64_t key;
    uint32_t record;
    friend bool operator<(const Posting& a, const Posting& b) {
      return a.key != b.key ? a.key < b.key : a.record < b.record;
    }
  };

  MatchConfig config_;
  std::vector<PatientRecord> records_;
  // Postings live in a sorted array (16 bytes each, binary search) plus a hash map of the
  // records added since the last Compact().
  std::vector<Posting> frozen_;
  std::unordered_map<uint64_t, std::vector<uint32_t>> delta_;
  size_t delta_postings_ = 0;
};

}  // namespace medalliance::mpi
