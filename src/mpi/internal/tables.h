#pragma once
// The data tables embedded from data/mpi/ at build time (see src/mpi/CMakeLists.txt).
// Each returns the whole file's text; lines starting with '#' are comments.

#include <string_view>

namespace medalliance::mpi::internal {

std::string_view HanziPinyinTable();   // `syllable<TAB>characters` per line
std::string_view HanziT2sTable();      // two characters per line: traditional, simplified
std::string_view Gb2260CodesTable();   // one six-digit GB/T 2260 code per line
std::string_view MatchWeightsTable();  // default matcher weights and thresholds

}  // namespace medalliance::mpi::internal
