#include "auth/scopes.h"

#include <gtest/gtest.h>

namespace medalliance::auth {
namespace {

using I = Interaction;

struct Cell {
  const char* scope;
  const char* type;
  Interaction interaction;
  bool allowed;
};

// The scope matrix: v1 and v2 syntax, wildcard and named types, every interaction.
TEST(ScopesTest, MatrixOfSyntaxTypeAndInteraction) {
  const Cell cells[] = {
      // v1 read = read + search
      {"system/*.read", "Observation", I::kRead, true},
      {"system/*.read", "Observation", I::kSearch, true},
      {"system/*.read", "Observation", I::kCreate, false},
      {"system/*.read", "Observation", I::kUpdate, false},
      {"system/*.read", "Observation", I::kDelete, false},
      // v1 write = create + update + delete
      {"system/Patient.write", "Patient", I::kCreate, true},
      {"system/Patient.write", "Patient", I::kUpdate, true},
      {"system/Patient.write", "Patient", I::kDelete, true},
      {"system/Patient.write", "Patient", I::kRead, false},
      {"system/Patient.write", "Observation", I::kCreate, false},
      // v1 *
      {"system/*.*", "Encounter", I::kDelete, true},
      {"system/Encounter.*", "Encounter", I::kSearch, true},
      {"system/Encounter.*", "Patient", I::kSearch, false},
      // v2 subsets
      {"system/Observation.rs", "Observation", I::kRead, true},
      {"system/Observation.rs", "Observation", I::kSearch, true},
      {"system/Observation.rs", "Observation", I::kCreate, false},
      {"system/Observation.rs", "Patient", I::kRead, false},
      {"system/*.cruds", "Patient", I::kCreate, true},
      {"system/*.cruds", "Patient", I::kDelete, true},
      {"system/*.c", "Patient", I::kCreate, true},
      {"system/*.c", "Patient", I::kRead, false},
      {"system/*.r", "Patient", I::kSearch, false},
      {"system/*.s", "Patient", I::kRead, false},
      {"system/*.ud", "Patient", I::kUpdate, true},
      {"system/*.ud", "Patient", I::kDelete, true},
      {"system/*.ud", "Patient", I::kCreate, false},
      {"user/*.rs", "Patient", I::kRead, true},
      // a wildcard request ("*" = every type) needs a wildcard scope
      {"system/Patient.rs", "*", I::kSearch, false},
      {"system/*.rs", "*", I::kSearch, true},
  };
  for (const Cell& cell : cells) {
    ScopeSet scopes({cell.scope});
    EXPECT_EQ(scopes.Allows(cell.type, cell.interaction), cell.allowed)
        << cell.scope << " " << cell.type << " " << InteractionName(cell.interaction);
  }
}

TEST(ScopesTest, RejectsMalformedAndUnsupportedScopes) {
  for (const char* text :
       {"system/*.sr", "system/*.crudsx", "system/*.", "system/observation.rs", "patient/*.rs",
        "launch", "openid", "system/Observation.rs?category=laboratory", "system*.rs",
        "system/*.rr", "admin/*.rs"}) {
    EXPECT_FALSE(ParseScope(text).has_value()) << text;
  }
  EXPECT_TRUE(ScopeSet({"patient/*.rs", "launch"}).empty());
}

TEST(ScopesTest, GrantKeepsWhatIsRegisteredAndNarrowsTheRest) {
  EXPECT_EQ(GrantScopes({"system/Observation.rs"}, {"system/*.read"}),
            std::vector<std::string>{"system/Observation.rs"});
  EXPECT_EQ(GrantScopes({"system/*.cruds"}, {"system/*.rs"}),
            std::vector<std::string>{"system/*.rs"});
  EXPECT_EQ(GrantScopes({"system/*.read"}, {"system/Patient.cruds", "system/Observation.r"}),
            (std::vector<std::string>{"system/Patient.rs", "system/Observation.r"}));
  EXPECT_TRUE(GrantScopes({"system/Patient.c"}, {"system/*.rs"}).empty());
  EXPECT_TRUE(GrantScopes({"user/*.rs"}, {"system/*.rs"}).empty());
  EXPECT_TRUE(GrantScopes({"launch", "system/Patient.rs?x=1"}, {"system/*.*"}).empty());
}

TEST(ScopesTest, SplitsAndDeduplicates) {
  EXPECT_EQ(SplitScopes("  system/*.rs  system/*.rs system/Patient.c "),
            (std::vector<std::string>{"system/*.rs", "system/Patient.c"}));
  EXPECT_EQ(DescribeNeededScope("system", "Observation", I::kSearch),
            "system/Observation.s (v1: system/Observation.read)");
}

}  // namespace
}  // namespace medalliance::auth
