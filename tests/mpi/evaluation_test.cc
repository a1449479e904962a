// Precision, recall and F1 of automatic linking (grade certain) on a generated population.
//
// The population comes from tools/mpi/gen_population.py (python3, standard library). Weights
// and thresholds were set with the TRAINING population (--seed 1); this test evaluates on
// --seed 2, which was not used for tuning. MA_MPI_EVAL_SEED and MA_MPI_EVAL_RECORDS override
// the seed and size (for training runs: MA_MPI_EVAL_SEED=1).

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <string>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "fhir/json/json.h"
#include "mpi/matcher.h"
#include "mpi/record.h"

namespace medalliance::mpi {
namespace {

struct UnionFind {
  std::vector<uint32_t> parent;
  explicit UnionFind(size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0u); }
  uint32_t Find(uint32_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void Join(uint32_t a, uint32_t b) { parent[Find(a)] = Find(b); }
};

uint64_t PairsWithin(const std::map<uint32_t, uint64_t>& sizes) {
  uint64_t pairs = 0;
  for (const auto& [_, n] : sizes) pairs += n * (n - 1) / 2;
  return pairs;
}

TEST(EvaluationTest, AutomaticLinkingOnGeneratedPopulation) {
  const char* seed_env = std::getenv("MA_MPI_EVAL_SEED");
  const char* records_env = std::getenv("MA_MPI_EVAL_RECORDS");
  const std::string seed = seed_env != nullptr ? seed_env : "2";
  const std::string records = records_env != nullptr ? records_env : "20000";
  const std::filesystem::path dir = std::filesystem::temp_directory_path() /
                                    ("ma-mpi-eval-" + std::to_string(::getpid()) + "-" + seed);
  if (std::system("python3 --version > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "python3 is needed to generate the population";
  }
  const std::string command = "python3 " MA_SOURCE_DIR "/tools/mpi/gen_population.py --records " +
                              records + " --seed " + seed + " --out " + dir.string();
  ASSERT_EQ(std::system(command.c_str()), 0) << command;

  std::vector<PatientRecord> population;
  std::vector<std::string> person_of;
  {
    std::ifstream patients(dir / "patients.ndjson");
    std::string line;
    while (std::getline(patients, line)) {
      core::Result<fhir::Json> json = fhir::ParseJson(line);
      ASSERT_TRUE(json.has_value()) << line;
      population.push_back(ExtractRecord(*json));
    }
    std::ifstream truth(dir / "truth.tsv");
    std::unordered_map<std::string, std::string> person_by_reference;
    while (std::getline(truth, line)) {
      const size_t tab = line.find('\t');
      person_by_reference["Patient/" + line.substr(0, tab)] = line.substr(tab + 1);
    }
    for (const PatientRecord& record : population)
      person_of.push_back(person_by_reference.at(record.reference));
  }
  std::filesystem::remove_all(dir);
  ASSERT_EQ(population.size(), static_cast<size_t>(std::stoul(records)));

  MatchIndex index;
  UnionFind linked(population.size());
  size_t review_items = 0;
  size_t review_true = 0;
  size_t wrong_links = 0;
  std::map<std::string, size_t> wrong_by_rule;
  for (uint32_t i = 0; i < population.size(); ++i) {
    for (const Candidate& candidate : index.Match(population[i])) {
      if (candidate.comparison.grade == MatchGrade::kCertain) {
        linked.Join(i, candidate.record);
        if (person_of[i] != person_of[candidate.record]) {
          ++wrong_links;
          ++wrong_by_rule[std::string(candidate.comparison.rule)];
        }
      } else if (candidate.comparison.grade == MatchGrade::kProbable) {
        ++review_items;
        review_true += person_of[i] == person_of[candidate.record] ? 1 : 0;
      }
    }
    EXPECT_EQ(index.Add(population[i]), i);
  }

  // Pairwise over clusters: a link joins whole clusters, so a wrong link costs every pair.
  std::map<uint32_t, uint64_t> predicted_sizes;
  std::map<std::pair<std::string, uint32_t>, uint64_t> both_sizes;
  std::map<std::string, uint64_t> truth_sizes;
  for (uint32_t i = 0; i < population.size(); ++i) {
    ++predicted_sizes[linked.Find(i)];
    ++both_sizes[{person_of[i], linked.Find(i)}];
    ++truth_sizes[person_of[i]];
  }
  uint64_t true_pairs = 0;
  for (const auto& [_, n] : truth_sizes) true_pairs += n * (n - 1) / 2;
  uint64_t correct_pairs = 0;
  for (const auto& [_, n] : both_sizes) correct_pairs += n * (n - 1) / 2;
  const uint64_t predicted_pairs = PairsWithin(predicted_sizes);
  const double precision = predicted_pairs == 0 ? 1.0
                                                : static_cast<double>(correct_pairs) /
                                                      static_cast<double>(predicted_pairs);
  const double recall = static_cast<double>(correct_pairs) / static_cast<double>(true_pairs);
  const double f1 = 2 * precision * recall / (precision + recall);
  std::printf(
      "mpi evaluation: seed %s, %zu records, %llu true pairs, %llu linked pairs, %llu correct\n"
      "  precision %.5f  recall %.5f  F1 %.5f  wrong certain links %zu\n"
      "  probable (review) items %zu, of which same person %zu\n",
      seed.c_str(), population.size(), static_cast<unsigned long long>(true_pairs),
      static_cast<unsigned long long>(predicted_pairs),
      static_cast<unsigned long long>(correct_pairs), precision, recall, f1, wrong_links,
      review_items, review_true);
  if (std::getenv("MA_MPI_EVAL_DEBUG") != nullptr) {
    // Training diagnostics: the agreement patterns of true pairs that were not linked.
    std::map<std::string, size_t> missed;
    std::unordered_map<std::string, std::vector<uint32_t>> members;
    for (uint32_t i = 0; i < population.size(); ++i) members[person_of[i]].push_back(i);
    for (const auto& [_, list] : members) {
      for (size_t x = 0; x < list.size(); ++x) {
        for (size_t y = x + 1; y < list.size(); ++y) {
          if (linked.Find(list[x]) == linked.Find(list[y]))
            continue;
          Comparison c = Compare(population[list[x]], population[list[y]], DefaultMatchConfig());
          std::string pattern;
          for (size_t f = 0; f < static_cast<size_t>(Field::kCount); ++f) {
            pattern += std::string(ToString(static_cast<Field>(f))) + "=" +
                       std::string(ToString(c.levels[f])) + " ";
          }
          pattern += std::string(ToString(c.grade)) + " " + std::string(c.rule) + " " +
                     std::to_string(static_cast<int>(c.score));
          ++missed[pattern];
        }
      }
    }
    for (const auto& [pattern, count] : missed)
      std::printf("  missed %4zu  %s\n", count, pattern.c_str());
  }
  for (const auto& [rule, count] : wrong_by_rule) {
    std::printf("  wrong links by rule '%s': %zu\n", rule.c_str(), count);
  }
  EXPECT_GE(precision, 0.999);
  EXPECT_GE(recall, 0.98);
}

}  // namespace
}  // namespace medalliance::mpi
