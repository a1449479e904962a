// Search over the Synthea sample (six patients' transaction Bundles), with every expected
// result computed independently from the raw JSON with nlohmann::json, never from our index.

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iomanip>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "fhir/json/json.h"
#include "search/search.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::search {
namespace {

using nlohmann::json;

std::string Decompress(const std::filesystem::path& path) {
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

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

class SyntheaSearchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto store = store::SqliteStore::Open(store::SqliteOptions{});
    ASSERT_TRUE(store.has_value());
    store_ = std::move(*store).release();
    std::filesystem::path dir = std::filesystem::path(MA_SHARED_DATA_DIR) /
                                "synthea-r4-smart-generated-sample-data" / "bundles";
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.path().string().ends_with(".json.zst"))
        files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    files.resize(std::min<size_t>(files.size(), 6));
    Searcher searcher;
    for (const auto& file : files) {
      json bundle = json::parse(Decompress(file));
      std::map<std::string, std::string> urls;  // urn:uuid:x -> Type/id
      for (const json& entry : bundle["entry"]) {
        urls[entry["fullUrl"]] = entry["resource"]["resourceType"].get<std::string>() + "/" +
                                 entry["resource"]["id"].get<std::string>();
      }
      std::string text = bundle.dump();
      for (const auto& [from, to] : urls) {  // resolve transaction references
        for (size_t at = text.find('"' + from + '"'); at != std::string::npos;
             at = text.find('"' + from + '"', at)) {
          text.replace(at + 1, from.size(), to);
        }
      }
      bundle = json::parse(text);
      auto status = store_->Write([&](store::WriteTx& tx) -> core::Status {
        for (const json& entry : bundle["entry"]) {
          const json& r = entry["resource"];
          resources_.push_back(r);
          auto parsed = fhir::ParseJson(r.dump());
          if (!parsed)
            return parsed.error();
          store::StoredResource stored;
          stored.type = r["resourceType"];
          stored.id = r["id"];
          stored.version = 1;
          stored.method = "POST";
          stored.last_updated = 1700000000000;
          stored.json = r.dump();
          MA_RETURN_IF_ERROR(tx.PutVersion(stored, searcher.Index(*parsed)));
        }
        return {};
      });
      ASSERT_TRUE(status.has_value()) << status.error().GetMessage();
    }
  }
  static void TearDownTestSuite() {
    delete store_;
    store_ = nullptr;
    resources_.clear();
  }

  static std::vector<json> OfType(const std::string& type) {
    std::vector<json> out;
    for (const json& r : resources_) {
      if (r["resourceType"] == type)
        out.push_back(r);
    }
    return out;
  }

  std::vector<std::string> Ids(const std::string& type, Params params, SearchPage* out = nullptr) {
    SearchRequest request;
    request.type = type;
    request.params = std::move(params);
    request.max_count = 100000;
    request.default_count = 100000;
    SearchPage page;
    auto status = store_->Read([&](store::ReadTx& tx) -> core::Status {
      MA_ASSIGN_OR_RETURN(page, searcher_.Search(tx, request));
      return {};
    });
    EXPECT_TRUE(status.has_value()) << status.error().GetMessage();
    std::vector<std::string> ids;
    for (const auto& m : page.matches) ids.push_back(m.id);
    if (out != nullptr)
      *out = page;
    return ids;
  }

  static std::vector<std::string> Sorted(std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  static store::SqliteStore* store_;
  static std::vector<json> resources_;
  Searcher searcher_;
};

store::SqliteStore* SyntheaSearchTest::store_ = nullptr;
std::vector<json> SyntheaSearchTest::resources_;

// "2015-03-01T10:00:00-05:00" -> epoch seconds (the data's instants all carry an offset).
int64_t Epoch(const std::string& text) {
  std::tm tm = {};
  tm.tm_year = std::stoi(text.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(text.substr(5, 2)) - 1;
  tm.tm_mday = std::stoi(text.substr(8, 2));
  int64_t seconds = 0;
  if (text.size() >= 19) {
    tm.tm_hour = std::stoi(text.substr(11, 2));
    tm.tm_min = std::stoi(text.substr(14, 2));
    tm.tm_sec = std::stoi(text.substr(17, 2));
  }
  seconds = timegm(&tm);
  if (text.size() >= 25) {
    int offset = std::stoi(text.substr(20, 2)) * 3600 + std::stoi(text.substr(23, 2)) * 60;
    seconds += text[19] == '-' ? offset : -offset;
  }
  return seconds;
}

bool HasCoding(const json& codeable, const std::string& system, const std::string& code) {
  if (!codeable.contains("coding"))
    return false;
  for (const json& c : codeable["coding"]) {
    if (c.value("system", "") == system && c.value("code", "") == code)
      return true;
  }
  return false;
}

TEST_F(SyntheaSearchTest, ObservationsByPatientAndCode) {
  std::vector<json> patients = OfType("Patient");
  ASSERT_FALSE(patients.empty());
  int checked = 0;
  for (const json& patient : patients) {
    std::string ref = "Patient/" + patient["id"].get<std::string>();
    std::map<std::string, std::vector<std::string>> by_code;
    for (const json& o : OfType("Observation")) {
      if (o["subject"]["reference"] != ref)
        continue;
      for (const json& c : o["code"]["coding"]) {
        if (c.value("system", "") == "http://loinc.org") {
          by_code[c["code"]].push_back(o["id"]);
        }
      }
    }
    for (const auto& [code, expected] : by_code) {
      EXPECT_EQ(
          Sorted(Ids("Observation", {{"patient", ref}, {"code", "http://loinc.org|" + code}})),
          Sorted(expected))
          << ref << " " << code;
      if (++checked > 60)
        return;
    }
  }
  EXPECT_GT(checked, 10);
}

TEST_F(SyntheaSearchTest, PatientsByFamilyPrefixAndGender) {
  for (const json& patient : OfType("Patient")) {
    std::string family = patient["name"][0]["family"];
    std::string prefix = Lower(family.substr(0, 3));
    std::vector<std::string> expected;
    for (const json& p : OfType("Patient")) {
      for (const json& n : p["name"]) {
        if (Lower(n.value("family", "")).starts_with(prefix)) {
          expected.push_back(p["id"]);
          break;
        }
      }
    }
    EXPECT_EQ(Sorted(Ids("Patient", {{"family", prefix}})), Sorted(expected)) << prefix;
    std::string gender = patient["gender"];
    std::vector<std::string> same_gender;
    for (const json& p : OfType("Patient")) {
      if (p["gender"] == gender)
        same_gender.push_back(p["id"]);
    }
    EXPECT_EQ(Sorted(Ids("Patient", {{"gender", gender}})), Sorted(same_gender));
  }
}

TEST_F(SyntheaSearchTest, EncountersByDateRangeAndSortDescending) {
  // Encounter.period.start/end are instants with offsets; compare by parsing in SQL-free code:
  // ISO strings with the same offset sort like their instants, which holds in this data.
  const int64_t y2015 = 1420070400;  // 2015-01-01T00:00:00Z
  const int64_t y2016 = 1451606400;
  std::vector<std::string> within;
  std::vector<std::string> overlap;
  for (const json& e : OfType("Encounter")) {
    int64_t start = Epoch(e["period"]["start"]);
    int64_t end = e["period"].contains("end") ? Epoch(e["period"]["end"]) : start;
    if (start >= y2015 && end < y2016)
      within.push_back(e["id"]);  // end is second precision
    if (end >= y2015 && start < y2016)
      overlap.push_back(e["id"]);
  }
  EXPECT_FALSE(within.empty());
  EXPECT_EQ(Sorted(Ids("Encounter",
                       {{"date", "ge2015-01-01T00:00:00Z"}, {"date", "lt2016-01-01T00:00:00Z"}})),
            Sorted(overlap));
  EXPECT_EQ(Sorted(Ids("Encounter", {{"date", "2015"}})), Sorted(within));
  std::string patient = OfType("Patient")[0]["id"];
  std::vector<std::pair<std::string, std::string>> own;
  for (const json& e : OfType("Encounter")) {
    if (e["subject"]["reference"] == "Patient/" + patient) {
      own.emplace_back(std::to_string(Epoch(e["period"]["start"]) + 10000000000), e["id"]);
    }
  }
  std::sort(own.begin(), own.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::string> expected;
  for (const auto& [start, id] : own) expected.push_back(id);
  EXPECT_EQ(Ids("Encounter", {{"patient", patient}, {"_sort", "-date"}}), expected);
}

// Derived parameters (combo-code, combo-value-quantity, code-value-quantity, patient) are
// answered from their sources' rows; the answers follow the R4 definitions on the raw data.
TEST_F(SyntheaSearchTest, DerivedParametersFollowTheirDefinitions) {
  std::map<std::string, std::set<std::string>> combo;                         // loinc code -> ids
  std::map<std::string, std::vector<std::pair<double, std::string>>> valued;  // code -> (value, id)
  std::set<std::string> over_100;  // value or component value > 100
  for (const json& o : OfType("Observation")) {
    std::string id = o["id"];
    auto codes = [&](const json& codeable, bool own) {
      if (!codeable.contains("coding"))
        return;
      for (const json& c : codeable["coding"]) {
        if (c.value("system", "") != "http://loinc.org")
          continue;
        combo[c["code"]].insert(id);
        if (own && o.contains("valueQuantity") && o["valueQuantity"].contains("value")) {
          valued[c["code"]].emplace_back(o["valueQuantity"]["value"].get<double>(), id);
        }
      }
    };
    codes(o["code"], true);
    if (o.contains("valueQuantity") && o["valueQuantity"].value("value", 0.0) > 100) {
      over_100.insert(id);
    }
    if (o.contains("component")) {
      for (const json& component : o["component"]) {
        codes(component["code"], false);
        if (component.contains("valueQuantity") &&
            component["valueQuantity"].value("value", 0.0) > 100) {
          over_100.insert(id);
        }
      }
    }
  }
  int checked = 0;
  for (const auto& [code, ids] : combo) {
    EXPECT_EQ(Sorted(Ids("Observation", {{"combo-code", "http://loinc.org|" + code}})),
              std::vector<std::string>(ids.begin(), ids.end()))
        << code;
    if (++checked > 40)
      break;
  }
  EXPECT_EQ(Sorted(Ids("Observation", {{"combo-value-quantity", "gt100"}})),
            std::vector<std::string>(over_100.begin(), over_100.end()));
  checked = 0;
  for (auto& [code, values] : valued) {
    std::sort(values.begin(), values.end());
    double middle = values[values.size() / 2].first;
    std::vector<std::string> expected;
    for (const auto& [value, id] : values) {
      if (value > middle)
        expected.push_back(id);
    }
    std::ostringstream number;
    number << std::setprecision(17) << middle;
    EXPECT_EQ(Sorted(Ids("Observation", {{"code-value-quantity",
                                          "http://loinc.org|" + code + "$gt" + number.str()}})),
              Sorted(expected))
        << code;
    if (++checked > 30)
      break;
  }
  EXPECT_GT(checked, 5);
  for (const json& patient : OfType("Patient")) {
    std::string ref = "Patient/" + patient["id"].get<std::string>();
    std::vector<std::string> encounters;
    for (const json& e : OfType("Encounter")) {
      if (e["subject"]["reference"] == ref)
        encounters.push_back(e["id"]);
    }
    EXPECT_EQ(Sorted(Ids("Encounter", {{"patient", ref}})), Sorted(encounters));
    SearchPage page;
    Ids("Patient", {{"_id", patient["id"]}, {"_revinclude", "Encounter:patient"}}, &page);
    std::vector<std::string> included;
    for (const auto& r : page.includes) included.push_back(r.id);
    EXPECT_EQ(Sorted(included), Sorted(encounters)) << ref;
  }
}

TEST_F(SyntheaSearchTest, ChainsIncludesAndQuantities) {
  const json patient = OfType("Patient")[0];
  std::string id = patient["id"];
  std::string system;
  std::string value;
  for (const json& identifier : patient["identifier"]) {
    if (identifier.contains("system") && identifier.contains("value")) {
      system = identifier["system"];
      value = identifier["value"];
      break;
    }
  }
  std::vector<std::string> expected;
  for (const json& o : OfType("Observation")) {
    if (o["subject"]["reference"] == "Patient/" + id)
      expected.push_back(o["id"]);
  }
  EXPECT_EQ(Sorted(Ids("Observation", {{"subject.identifier", system + "|" + value}})),
            Sorted(expected));

  SearchPage page;
  std::vector<std::string> reports =
      Ids("DiagnosticReport",
          {{"subject", "Patient/" + id}, {"_include", "DiagnosticReport:result"}}, &page);
  std::set<std::string> results;
  std::vector<std::string> expected_reports;
  for (const json& d : OfType("DiagnosticReport")) {
    if (d["subject"]["reference"] != "Patient/" + id)
      continue;
    expected_reports.push_back(d["id"]);
    if (d.contains("result")) {
      for (const json& r : d["result"]) results.insert(r["reference"]);
    }
  }
  EXPECT_EQ(Sorted(reports), Sorted(expected_reports));
  std::set<std::string> included;
  for (const auto& r : page.includes) included.insert(r.type + "/" + r.id);
  EXPECT_EQ(included, results);

  // Quantities: body weight above 70 kg (LOINC 29463-7).
  std::vector<std::string> heavy;
  for (const json& o : OfType("Observation")) {
    if (HasCoding(o["code"], "http://loinc.org", "29463-7") && o.contains("valueQuantity") &&
        o["valueQuantity"]["value"].get<double>() > 70) {
      heavy.push_back(o["id"]);
    }
  }
  EXPECT_EQ(Sorted(Ids("Observation",
                       {{"code", "http://loinc.org|29463-7"}, {"value-quantity", "gt70"}})),
            Sorted(heavy));
}

}  // namespace
}  // namespace medalliance::search
