// Derived parameters (doc/search.md "Derived parameters"): the planner answers them from
// their sources' rows, so those rows must be exactly what the parameter's own rows were.
// Checked, parameter by parameter, on every official example (with Bundle entries), the
// Synthea bundles and $MA_EXTRACT_EXTRA_DIR (e.g. bench/gen_patients.py output).

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "fhir/json/json.h"
#include "fhir/r4/definitions.h"
#include "search/internal/extract.h"
#include "search/search.h"

namespace medalliance::search {
namespace {

using fhir::Json;
using internal::Extractor;
using internal::ParamPlan;
using store::IndexEntry;
using store::IndexKind;
using Derivation = ParamPlan::Derivation;

std::string ReadFile(const std::filesystem::path& path) {
  if (path.string().ends_with(".zst")) {
    std::string command = "zstd -dc '" + path.string() + "'";
    FILE* pipe = popen(command.c_str(), "r");
    std::string out;
    if (pipe == nullptr)
      return out;
    char buffer[65536];
    size_t n = 0;
    while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
    pclose(pipe);
    return out;
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void Collect(const Json& json, std::vector<Json>& out) {
  if (!json.IsObject())
    return;
  if (json.GetStringMember("resourceType") == "Bundle") {
    if (const Json* entries = json.Find("entry"); entries != nullptr && entries->IsArray()) {
      for (const Json& entry : entries->Items()) {
        if (const Json* resource = entry.Find("resource"))
          Collect(*resource, out);
      }
    }
  }
  out.push_back(json);
}

std::vector<Json> AllResources() {
  std::vector<Json> out;
  std::vector<std::filesystem::path> dirs = {
      std::filesystem::path(MA_SHARED_DATA_DIR) / "fhir-r4-spec-examples" / "resources",
      std::filesystem::path(MA_SHARED_DATA_DIR) / "synthea-r4-smart-generated-sample-data" /
          "bundles"};
  if (const char* extra = std::getenv("MA_EXTRACT_EXTRA_DIR"))
    dirs.emplace_back(extra);
  for (const auto& dir : dirs) {
    if (!std::filesystem::exists(dir))
      continue;
    for (const auto& file : std::filesystem::recursive_directory_iterator(dir)) {
      std::string name = file.path().string();
      if (!name.ends_with(".json") && !name.ends_with(".json.zst"))
        continue;
      auto json = fhir::ParseJson(ReadFile(file.path()));
      if (json)
        Collect(*json, out);
    }
  }
  return out;
}

// The columns the planner and the sort read, keyed by the suffix after the parameter code.
// String rows: only the folded value (token :text rows are matched by substring on it).
using Row = std::tuple<std::string, int, std::string, std::string, int64_t, int64_t, double>;

Row Key(std::string suffix, const IndexEntry& e) {
  if (e.kind == IndexKind::kString)
    return {std::move(suffix), 0, "", e.value, 0, 0, 0};
  return {std::move(suffix),
          static_cast<int>(e.kind),
          e.system,
          e.value + "\x1f" + e.raw,
          e.low,
          e.high,
          e.number};
}

std::set<Row> RowsOf(const Json& resource, const ParamPlan& plan, bool main_only) {
  std::vector<IndexEntry> rows;
  Extractor::Get().IndexParam(resource, plan, rows);
  std::set<Row> out;
  std::string code(plan.definition->code);
  for (const IndexEntry& e : rows) {
    if (main_only && e.param != code)
      continue;
    out.insert(Key(e.param.substr(code.size()), e));
  }
  return out;
}

TEST(DerivedTest, FoundForTheBenchParameters) {
  auto derivation = [](std::string_view type, std::string_view code) {
    const ParamPlan* plan = Extractor::Get().Find(type, code);
    return plan == nullptr ? Derivation::kNone : plan->derivation;
  };
  EXPECT_EQ(derivation("Observation", "combo-code"), Derivation::kUnion);
  EXPECT_EQ(derivation("Observation", "combo-value-quantity"), Derivation::kUnion);
  EXPECT_EQ(derivation("Observation", "patient"), Derivation::kResolveFilter);
  EXPECT_EQ(derivation("Encounter", "patient"), Derivation::kResolveFilter);
  EXPECT_EQ(derivation("Observation", "code-value-quantity"), Derivation::kRootComposite);
  // Grouped composites keep their rows.
  EXPECT_EQ(derivation("Observation", "component-code-value-quantity"), Derivation::kNone);
  EXPECT_EQ(derivation("Observation", "combo-code-value-quantity"), Derivation::kNone);
  // Sources are stored parameters.
  for (std::string_view type : fhir::r4::ResourceTypeNames()) {
    for (const ParamPlan& plan : Extractor::Get().Plans(type)) {
      for (const std::string& source : plan.sources) {
        const ParamPlan* p = Extractor::Get().Find(type, source);
        ASSERT_NE(p, nullptr) << type << "." << plan.definition->code;
        EXPECT_EQ(p->derivation, Derivation::kNone) << type << "." << plan.definition->code;
      }
    }
  }
}

TEST(DerivedTest, RowsEqualTheirSourcesRows) {
  std::vector<Json> resources = AllResources();
  ASSERT_GT(resources.size(), 1000u);
  int checked = 0;
  std::vector<std::string> failures;
  for (const Json& resource : resources) {
    std::string type(resource.GetStringMember("resourceType"));
    for (const ParamPlan& plan : Extractor::Get().Plans(type)) {
      if (plan.derivation == Derivation::kNone)
        continue;
      ++checked;
      std::string what = type + "/" + std::string(resource.GetStringMember("id")) + " " +
                         std::string(plan.definition->code);
      switch (plan.derivation) {
        case Derivation::kUnion: {
          std::set<Row> mine = RowsOf(resource, plan, false);
          std::set<Row> theirs;
          for (const std::string& source : plan.sources) {
            std::set<Row> rows = RowsOf(resource, *Extractor::Get().Find(type, source), false);
            theirs.insert(rows.begin(), rows.end());
          }
          if (mine != theirs)
            failures.push_back(what);
          break;
        }
        case Derivation::kResolveFilter: {
          std::set<Row> mine = RowsOf(resource, plan, true);
          std::set<Row> theirs;
          std::vector<IndexEntry> rows;
          const ParamPlan& source = *Extractor::Get().Find(type, plan.sources[0]);
          Extractor::Get().IndexParam(resource, source, rows);
          for (const IndexEntry& e : rows) {
            if (e.param == plan.sources[0] &&
                internal::ReferenceType(e.value) == plan.resolve_type) {
              theirs.insert(Key("", e));
            }
          }
          if (mine != theirs)
            failures.push_back(what);
          break;
        }
        case Derivation::kRootComposite: {
          std::vector<IndexEntry> rows;
          Extractor::Get().IndexParam(resource, plan, rows);
          std::string code(plan.definition->code);
          bool group = !rows.empty();
          bool any_empty = false;
          for (size_t i = 0; i < plan.sources.size(); ++i) {
            std::set<Row> theirs =
                RowsOf(resource, *Extractor::Get().Find(type, plan.sources[i]), true);
            any_empty = any_empty || theirs.empty();
            std::set<Row> mine;
            std::string param = code + "#0#" + std::to_string(i);
            for (const IndexEntry& e : rows) {
              if (e.param == param)
                mine.insert(Key("", e));
              if (e.param.starts_with(code + "#1#"))
                failures.push_back(what + " second group");
            }
            if (group && mine != theirs)
              failures.push_back(what + " component " + std::to_string(i));
          }
          if (group == any_empty)
            failures.push_back(what + " group");
          break;
        }
        case Derivation::kNone:
          break;
      }
    }
  }
  std::string listed;
  for (size_t i = 0; i < failures.size() && i < 20; ++i) listed += failures[i] + "\n";
  EXPECT_GT(checked, 5000);
  EXPECT_TRUE(failures.empty()) << failures.size() << " of " << checked << ":\n" << listed;
}

// The SQL test of the planner for `resolve() is T` agrees with ReferenceType().
TEST(DerivedTest, SqlReferenceTypeMatchesResolver) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  const char* values[] = {"Patient/1",
                          "Group/1",
                          "http://x.org/fhir/Patient/1",
                          "http://x.org/Patient/a/Group/2",
                          "http://x.org/Group/a/Patient/2",
                          "urn:uuid:1234",
                          "Patient",
                          "patient/1",
                          "Patient/",
                          "/Patient/1",
                          "PatientX/1",
                          "XPatient/1",
                          "a/b/c",
                          "Pätient/1",
                          "Patient/ä"};
  for (const char* value : values) {
    for (std::string type : {"Patient", "Group"}) {
      sqlite3_stmt* stmt = nullptr;
      const char* sql =
          "SELECT (rtrim(?1, replace(?1, '/', '')) = ?2 OR "
          "rtrim(?1, replace(?1, '/', '')) GLOB ?3)";
      ASSERT_EQ(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr), SQLITE_OK);
      std::string slash = type + "/";
      std::string glob = "*/" + type + "/";
      sqlite3_bind_text(stmt, 1, value, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(stmt, 2, slash.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(stmt, 3, glob.c_str(), -1, SQLITE_TRANSIENT);
      ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
      bool sql_says = sqlite3_column_int(stmt, 0) != 0;
      sqlite3_finalize(stmt);
      EXPECT_EQ(sql_says, internal::ReferenceType(value) == type) << value << " " << type;
    }
  }
  sqlite3_close(db);
}

}  // namespace
}  // namespace medalliance::search
