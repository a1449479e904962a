// Keyset paging: pages neither skip nor repeat resources while data changes between them;
// previous links walk back; _summary/_elements subset the matches.

#include <algorithm>
#include <set>

#include <gtest/gtest.h>

#include "fhir/json/json.h"
#include "search/search.h"
#include "search/search_test_util.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::search {
namespace {

class PagingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::SqliteStore::Open(store::SqliteOptions{});
    ASSERT_TRUE(store.has_value());
    store_ = std::move(*store);
  }

  void Put(const std::string& id, const std::string& family, const std::string& birth,
           const std::string& identifier = "x") {
    std::string json = R"({"resourceType":"Patient","id":")" + id +
                       R"(","text":{"status":"generated","div":"<div/>"},"name":[{"family":")" +
                       family + R"("}],"birthDate":")" + birth +
                       R"(","identifier":[{"system":"urn:s","value":")" + identifier + R"("}]})";
    auto parsed = fhir::ParseJson(json);
    ASSERT_TRUE(parsed.has_value());
    store::StoredResource resource;
    resource.type = "Patient";
    resource.id = id;
    resource.method = "PUT";
    resource.json = json;
    resource.last_updated = ++clock_;
    auto index = searcher_.Index(*parsed);
    auto status = store_->Write([&](store::WriteTx& tx) -> core::Status {
      MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent("Patient", id));
      resource.version = current ? current->version + 1 : 1;
      return tx.PutVersion(resource, index);
    });
    ASSERT_TRUE(status.has_value());
  }

  SearchPage Search(Params params) {
    return testing::SearchIn(*store_, searcher_, "Patient", std::move(params));
  }

  std::unique_ptr<store::SqliteStore> store_;
  Searcher searcher_;
  int64_t clock_ = 1700000000000;
};

TEST_F(PagingTest, CursorPagesDoNotSkipOrRepeatWhileDataChanges) {
  for (int i = 0; i < 10; ++i) {
    Put("p" + std::to_string(i), "Fam" + std::to_string(i % 3), "19" + std::to_string(70 + i));
  }
  for (std::string sort : {"", "-birthdate", "family,-_lastUpdated"}) {
    std::multiset<std::string> seen;
    Params base = {{"_count", "3"}};
    if (!sort.empty())
      base.emplace_back("_sort", sort);
    SearchPage page = Search(base);
    int pages = 0;
    while (true) {
      for (const auto& match : page.matches) seen.insert(match.id);
      ++pages;
      // Changes between pages: a new resource, an update of one already seen, a delete of none.
      Put("n" + std::to_string(pages) + sort, "Fam9", "2001");
      Put("p0", "Fam0", "1970");
      if (!page.has_more)
        break;
      ASSERT_TRUE(page.next_cursor.has_value());
      Params next = base;
      next.emplace_back("_cursor", *page.next_cursor);
      page = Search(next);
      ASSERT_LT(pages, 20);
    }
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(seen.count("p" + std::to_string(i)), 1u) << "sort " << sort << " p" << i;
    }
    for (const auto& id : seen) EXPECT_EQ(seen.count(id), 1u) << id;
  }
}

// A token system|code set drives the page query in index (id) order: same pages both ways,
// also with other parameters checked per row and with _sort=-_id.
TEST_F(PagingTest, OrderedTokenDriverPagesForwardAndBack) {
  for (int i = 0; i < 9; ++i) {
    Put("p" + std::to_string(i), i % 3 == 0 ? "Other" : "Fam", "1980",
        i == 4 ? "lonely" : "shared");
  }
  for (std::string sort : {"", "-_id"}) {
    Params base = {{"identifier", "urn:s|shared"}, {"family", "fam"}, {"_count", "2"}};
    if (!sort.empty())
      base.emplace_back("_sort", sort);
    std::vector<std::string> ids;
    std::vector<SearchPage> pages = {Search(base)};
    while (pages.back().has_more) {
      Params next = base;
      next.emplace_back("_cursor", *pages.back().next_cursor);
      pages.push_back(Search(next));
      ASSERT_LT(pages.size(), 10u);
    }
    for (const SearchPage& page : pages) {
      for (const auto& match : page.matches) ids.push_back(match.id);
    }
    std::vector<std::string> expected = {"p1", "p2", "p5", "p7", "p8"};
    if (!sort.empty())
      std::reverse(expected.begin(), expected.end());
    EXPECT_EQ(ids, expected) << "sort " << sort;
    ASSERT_EQ(pages.size(), 3u);
    ASSERT_TRUE(pages[2].previous_cursor.has_value());
    Params back = base;
    back.emplace_back("_cursor", *pages[2].previous_cursor);
    SearchPage previous = Search(back);
    ASSERT_EQ(previous.matches.size(), 2u);
    EXPECT_EQ(previous.matches[0].id, expected[2]);
    EXPECT_EQ(previous.matches[1].id, expected[3]);
  }
  Params counted = {{"identifier", "urn:s|shared"}, {"_total", "accurate"}, {"_count", "1"}};
  EXPECT_EQ(Search(counted).total, 8);
}

TEST_F(PagingTest, PreviousCursorWalksBack) {
  for (int i = 0; i < 7; ++i) Put("p" + std::to_string(i), "F", "1980");
  SearchPage first = Search({{"_count", "3"}});
  EXPECT_FALSE(first.previous_cursor.has_value());
  SearchPage second = Search({{"_count", "3"}, {"_cursor", *first.next_cursor}});
  ASSERT_EQ(second.matches.size(), 3u);
  EXPECT_EQ(second.matches[0].id, "p3");
  ASSERT_TRUE(second.previous_cursor.has_value());
  SearchPage back = Search({{"_count", "3"}, {"_cursor", *second.previous_cursor}});
  ASSERT_EQ(back.matches.size(), 3u);
  EXPECT_EQ(back.matches[0].id, "p0");
  EXPECT_EQ(back.matches[2].id, "p2");
  EXPECT_TRUE(back.has_more);
}

TEST_F(PagingTest, MalformedCursorIsBadRequest) {
  SearchRequest request;
  request.type = "Patient";
  request.params = {{"_cursor", "!!"}};
  core::Result<SearchPage> result = core::Error::Internal("x");
  auto status = store_->Read([&](store::ReadTx& tx) -> core::Status {
    result = searcher_.Search(tx, request);
    return {};
  });
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().GetCode(), core::ErrorCode::kBadRequest);
}

TEST_F(PagingTest, SummaryAndElementsSubsetMatches) {
  Put("p1", "Li", "1980-01-01");
  SearchPage summary = Search({{"_summary", "true"}});
  ASSERT_EQ(summary.matches.size(), 1u);
  auto json = fhir::ParseJson(summary.matches[0].json);
  ASSERT_TRUE(json.has_value());
  EXPECT_EQ(json->Find("text"), nullptr);
  EXPECT_NE(json->Find("name"), nullptr);
  EXPECT_NE(summary.matches[0].json.find("SUBSETTED"), std::string::npos);

  SearchPage elements = Search({{"_elements", "birthDate"}});
  json = fhir::ParseJson(elements.matches[0].json);
  EXPECT_EQ(json->Find("name"), nullptr);
  EXPECT_NE(json->Find("birthDate"), nullptr);
  EXPECT_NE(json->Find("id"), nullptr);

  SearchPage text = Search({{"_summary", "text"}});
  json = fhir::ParseJson(text.matches[0].json);
  EXPECT_NE(json->Find("text"), nullptr);
  EXPECT_EQ(json->Find("birthDate"), nullptr);

  SearchPage data = Search({{"_summary", "data"}});
  json = fhir::ParseJson(data.matches[0].json);
  EXPECT_EQ(json->Find("text"), nullptr);
  EXPECT_NE(json->Find("birthDate"), nullptr);
}

}  // namespace
}  // namespace medalliance::search
