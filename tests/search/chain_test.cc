// Chains resolve their targets first (a literal list of references) when few targets match
// and fall back to the nested statement when many do: both forms must find the same
// resources, relative and absolute (this server's base) references alike.

#include <set>
#include <string>

#include <gtest/gtest.h>

#include "fhir/json/json.h"
#include "search/search.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::search {
namespace {

constexpr char kBase[] = "http://example.org/fhir";

class ChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::SqliteStore::Open(store::SqliteOptions{});
    ASSERT_TRUE(store.has_value());
    store_ = std::move(*store);
  }

  void Put(const std::string& type, const std::string& id, const std::string& json) {
    auto parsed = fhir::ParseJson(json);
    ASSERT_TRUE(parsed.has_value()) << json;
    store::StoredResource resource;
    resource.type = type;
    resource.id = id;
    resource.method = "PUT";
    resource.json = json;
    resource.version = 1;
    resource.last_updated = ++clock_;
    auto index = searcher_.Index(*parsed);
    auto status = store_->Write(
        [&](store::WriteTx& tx) -> core::Status { return tx.PutVersion(resource, index); });
    ASSERT_TRUE(status.has_value());
  }

  // Patient p<i> (family `family`, identifier M<i>) and Observation o<i> about it; every
  // seventh Observation refers to its patient with this server's absolute URL, and x<i> to
  // the same patient on another server.
  void PutPatients(int from, int to, const std::string& family) {
    for (int i = from; i < to; ++i) {
      std::string n = std::to_string(i);
      Put("Patient", "p" + n,
          R"({"resourceType":"Patient","id":"p)" + n + R"(","name":[{"family":")" + family +
              R"("}],"identifier":[{"system":"urn:s","value":"M)" + n + R"("}]})");
      std::string reference = (i % 7 == 0 ? std::string(kBase) + "/" : "") + "Patient/p" + n;
      Put("Observation", "o" + n,
          R"({"resourceType":"Observation","id":"o)" + n +
              R"(","status":"final","code":{"text":"t"},"subject":{"reference":")" + reference +
              R"("}})");
      if (i % 11 == 0) {
        Put("Observation", "x" + n,
            R"({"resourceType":"Observation","id":"x)" + n +
                R"(","status":"final","code":{"text":"t"},"subject":{"reference":"http://other.org/Patient/p)" +
                n + R"("}})");
      }
    }
  }

  std::set<std::string> Ids(Params params) {
    params.emplace_back("_count", "1000");
    SearchRequest request;
    request.type = "Observation";
    request.params = std::move(params);
    request.base_url = kBase;
    std::set<std::string> ids;
    auto status = store_->Read([&](store::ReadTx& tx) -> core::Status {
      MA_ASSIGN_OR_RETURN(SearchPage page, searcher_.Search(tx, request));
      for (const auto& match : page.matches) ids.insert(match.id);
      return {};
    });
    EXPECT_TRUE(status.has_value()) << status.error().GetMessage();
    return ids;
  }

  static std::set<std::string> Observations(int from, int to) {
    std::set<std::string> out;
    for (int i = from; i < to; ++i) out.insert("o" + std::to_string(i));
    return out;
  }

  std::unique_ptr<store::SqliteStore> store_;
  Searcher searcher_;
  int64_t clock_ = 1700000000000;
};

TEST_F(ChainTest, FewAndManyTargetsFindTheSameResources) {
  PutPatients(0, 30, "Li");      // 30 targets: resolved to a list
  PutPatients(30, 190, "Wang");  // 160 targets: the nested statement
  EXPECT_EQ(Ids({{"subject.name", "li"}}), Observations(0, 30));
  EXPECT_EQ(Ids({{"subject.name", "wang"}}), Observations(30, 190));
  EXPECT_EQ(Ids({{"subject:Patient.name", "li,wang"}}), Observations(0, 190));
  EXPECT_EQ(Ids({{"subject.identifier", "urn:s|M77"}}), Observations(77, 78));
  EXPECT_EQ(Ids({{"subject.identifier", "urn:s|M70"}}), Observations(70, 71));  // absolute
  EXPECT_EQ(Ids({{"subject.identifier", "urn:s|nobody"}}), std::set<std::string>());
  EXPECT_EQ(Ids({{"subject.identifier", "urn:s|M3"}, {"subject.name", "wang"}}),
            std::set<std::string>());
}

}  // namespace
}  // namespace medalliance::search
