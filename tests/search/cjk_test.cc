// Chinese (CJK) string searches through the "<code>:cjk" search-aid rows: a single character
// walks its own rows in id order (IdSet::ordered_table), longer values read a suffix range.
// Results are compared with an independent evaluation (MatchCriteria over the resource's
// parameter rows, substring matching in C++), page by page, both ways; migration 0007 adds the
// character rows to a database written before them, exactly as the extractor writes them.

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "fhir/json/json.h"
#include "search/internal/extract.h"
#include "search/match.h"
#include "search/search.h"
#include "search/search_test_util.h"
#include "store/sqlite/old_schema_util.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::search {
namespace {

using store::IndexEntry;

size_t Characters(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

store::StoredResource Resource(const std::string& id, const std::string& json) {
  store::StoredResource resource;
  resource.type = "Patient";
  resource.id = id;
  resource.method = "PUT";
  resource.json = json;
  resource.last_updated = 1700000000000;
  return resource;
}

void Put(store::Store& store, store::StoredResource resource,
         const std::vector<IndexEntry>& index) {
  auto status = store.Write([&](store::WriteTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent(resource.type, resource.id));
    resource.version = current ? current->version + 1 : 1;
    return tx.PutVersion(resource, index);
  });
  ASSERT_TRUE(status.has_value()) << status.error().GetMessage();
}

class CjkSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = store::SqliteStore::Open(store::SqliteOptions{});
    ASSERT_TRUE(store.has_value());
    store_ = std::move(*store);
  }

  void PutPatient(const std::string& id, const std::string& json) {
    auto parsed = fhir::ParseJson(json);
    ASSERT_TRUE(parsed.has_value()) << json;
    Put(*store_, Resource(id, json), searcher_.Index(*parsed));
    rows_[id] = IndexForMatch(*parsed);
  }

  void Delete(const std::string& id) {
    store::StoredResource resource = Resource(id, "");
    resource.deleted = true;
    resource.method = "DELETE";
    Put(*store_, resource, {});
    rows_.erase(id);
  }

  SearchPage Search(Params params) {
    return testing::SearchIn(*store_, searcher_, "Patient", std::move(params));
  }

  // The ids MatchCriteria accepts, in id order.
  std::vector<std::string> Expected(const std::string& query) {
    auto criteria = MatchCriteria::Parse("Patient?" + query);
    EXPECT_TRUE(criteria.has_value()) << query;
    std::vector<std::string> out;
    for (const auto& [id, rows] : rows_) {
      if (criteria && criteria->Matches(id, rows))
        out.push_back(id);
    }
    return out;
  }

  // Every page of `params` followed by next links, then back from the last page by previous
  // links: both walks must give `expected` (in id order, or reversed for _sort=-_id).
  void CheckPages(const Params& params, std::vector<std::string> expected, bool descending) {
    std::string what;
    for (const auto& [name, value] : params) what += name + "=" + value + "&";
    if (descending)
      std::reverse(expected.begin(), expected.end());
    std::vector<SearchPage> pages = {Search(params)};
    while (pages.back().has_more) {
      ASSERT_TRUE(pages.back().next_cursor.has_value()) << what;
      Params next = params;
      next.emplace_back("_cursor", *pages.back().next_cursor);
      pages.push_back(Search(next));
      ASSERT_LT(pages.size(), 200u) << what;
    }
    std::vector<std::string> forward;
    for (const SearchPage& page : pages) {
      for (const auto& match : page.matches) forward.push_back(match.id);
    }
    EXPECT_EQ(forward, expected) << what;
    if (pages.size() == 1) {
      if (pages[0].total.has_value()) {
        EXPECT_EQ(*pages[0].total, static_cast<int64_t>(expected.size())) << what;
      }
      return;
    }
    std::vector<std::string> backward;
    for (const auto& match : pages.back().matches) backward.push_back(match.id);
    std::optional<std::string> previous = pages.back().previous_cursor;
    while (previous.has_value()) {
      Params back = params;
      back.emplace_back("_cursor", *previous);
      SearchPage page = Search(back);
      std::vector<std::string> ids;
      for (const auto& match : page.matches) ids.push_back(match.id);
      backward.insert(backward.begin(), ids.begin(), ids.end());
      previous = page.previous_cursor;
      ASSERT_LT(backward.size(), expected.size() + 200) << what;
    }
    EXPECT_EQ(backward, expected) << what << " (backward)";
  }

  std::unique_ptr<store::SqliteStore> store_;
  Searcher searcher_;
  std::map<std::string, std::vector<IndexEntry>> rows_;  // current resources' parameter rows
};

// Random names over a small alphabet (so each character is on many patients, anywhere in a
// value), some with ASCII, Hangul, kana or a CJK Extension B character; then updates and
// deletes, so stale character rows would show.
TEST_F(CjkSearchTest, SingleCharactersAndLongerValuesMatchAnIndependentEvaluation) {
  const std::vector<std::string> alphabet = {"王", "李", "张", "梁", "强", "婷",
                                             "明", "國", "한", "の", "𠀀", "A"};
  std::mt19937 random(11);
  auto pick = [&](int chars) {
    std::string out;
    for (int i = 0; i < chars; ++i) out += alphabet[random() % alphabet.size()];
    return out;
  };
  auto patient = [&](const std::string& id) {
    std::string family = pick(1 + static_cast<int>(random() % 2));
    std::string given = pick(1 + static_cast<int>(random() % 3));
    std::string text = random() % 4 == 0 ? "Mr " + family + " " + given : family + given;
    std::string gender = random() % 2 == 0 ? "male" : "female";
    return R"({"resourceType":"Patient","id":")" + id + R"(","gender":")" + gender +
           R"(","name":[{"text":")" + text + R"(","family":")" + family + R"(","given":[")" +
           given + R"("]}],"address":[{"city":")" + pick(2) + R"(市"}]})";
  };
  std::vector<std::string> ids;
  for (int i = 0; i < 160; ++i) {
    char id[16];
    std::snprintf(id, sizeof(id), "p%03d", static_cast<int>(random() % 1000));
    if (std::find(ids.begin(), ids.end(), id) != ids.end())
      continue;
    ids.push_back(id);
    PutPatient(id, patient(id));
  }
  for (size_t i = 0; i < ids.size(); i += 7) PutPatient(ids[i], patient(ids[i]));
  for (size_t i = 3; i < ids.size(); i += 11) Delete(ids[i]);

  std::vector<std::string> values = alphabet;
  values.insert(values.end(), {"王李", "强婷", "Mr 王", "市", "梁,王", "张強", "國한", "Ａ"});
  size_t nonempty = 0;
  for (const std::string& value : values) {
    for (std::string param :
         {"name", "family", "given", "name:contains", "address", "phonetic", "phonetic:exact"}) {
      std::string query = param + "=" + value;
      std::vector<std::string> expected = Expected(query);
      nonempty += expected.empty() ? 0 : 1;
      CheckPages({{param, value}, {"_count", "7"}}, expected, false);
      CheckPages({{param, value}, {"_count", "5"}, {"_sort", "-_id"}}, expected, true);
      // Another parameter tested on each walked row.
      CheckPages({{param, value}, {"gender", "male"}, {"_count", "4"}},
                 Expected(query + "&gender=male"), false);
      SearchPage counted = Search({{param, value}, {"_total", "accurate"}, {"_count", "1"}});
      EXPECT_EQ(counted.total, static_cast<int64_t>(expected.size())) << query;
    }
  }
  EXPECT_GT(nonempty, values.size() * 3) << "the searches should mostly find something";
}

// A database written before migration 0007 has the suffix rows but not the character rows:
// the migration adds exactly the rows the extractor now writes.
TEST(CjkMigrationTest, AddsTheCharacterRowsTheExtractorWrites) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("ma-cjk-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
       std::to_string(reinterpret_cast<uintptr_t>(&dir) & 0xffff));
  std::filesystem::remove_all(dir);
  store::SqliteOptions options;
  options.path = (dir / "old.db").string();
  const std::vector<std::string> resources = {
      R"({"resourceType":"Patient","id":"a","name":[{"text":"欧阳建国","family":"欧阳","given":["建国"]}]})",
      R"({"resourceType":"Patient","id":"b","name":[{"text":"Zhāng 张伟 Wei","family":"Zhāng"}],"address":[{"line":["天河路 385号"],"city":"广州市"}]})",
      R"({"resourceType":"Patient","id":"c","name":[{"family":"김","given":["민준"]},{"text":"やまだ𠀀太郎"}]})",
      R"({"resourceType":"Patient","id":"d","name":[{"family":"王"}],"address":[{"line":["一二三四五六七八九十一二三四五六七八九十路"]}]})"};
  std::set<std::tuple<std::string, std::string, std::string>> written;  // id, param, value
  {
    // A database at schema 6, its string rows as a binary before 0007 wrote them.
    std::filesystem::create_directories(dir);
    sqlite3* db = store::testing::CreateDatabaseAt(options.path, 6);
    sqlite3_stmt* insert = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db,
                                 "INSERT OR IGNORE INTO index_string (type, id, param, value, raw)"
                                 " VALUES ('Patient', ?1, ?2, ?3, ?4)",
                                 -1, &insert, nullptr),
              SQLITE_OK);
    for (const std::string& text : resources) {
      auto json = fhir::ParseJson(text);
      ASSERT_TRUE(json.has_value());
      std::string id(json->GetStringMember("id"));
      std::vector<IndexEntry> rows = internal::Extractor::Get().IndexStored(*json);
      // The rows of a binary before 0007: the suffixes, not the characters alone (a
      // one-character row is then only the last character of a value, or the whole value).
      std::set<std::pair<std::string, std::string>> lasts;
      for (const IndexEntry& row : rows) {
        if (row.kind != store::IndexKind::kString || row.param.find(':') != std::string::npos)
          continue;
        size_t last = row.value.size();
        while (last > 0 && (static_cast<unsigned char>(row.value[last - 1]) & 0xC0) == 0x80) {
          --last;
        }
        if (last > 0)
          lasts.emplace(row.param + ":cjk", row.value.substr(last - 1));
      }
      std::vector<IndexEntry> old;
      size_t characters = 0;
      for (const IndexEntry& row : rows) {
        if (row.param.ends_with(":cjk")) {
          written.emplace(id, row.param, row.value);
          bool one = Characters(row.value) == 1;
          if (one && !lasts.contains({row.param, row.value})) {
            ++characters;
            continue;
          }
        }
        old.push_back(row);
      }
      EXPECT_GT(characters, 0u) << id;
      for (const IndexEntry& row : old) {
        if (row.kind != store::IndexKind::kString)
          continue;
        sqlite3_bind_text(insert, 1, id.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(insert, 2, row.param.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(insert, 3, row.value.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(insert, 4, row.raw.c_str(), -1, SQLITE_TRANSIENT);
        EXPECT_EQ(sqlite3_step(insert), SQLITE_DONE);
        sqlite3_reset(insert);
      }
    }
    sqlite3_finalize(insert);
    sqlite3_close(db);
  }
  auto store = store::SqliteStore::Open(options);
  ASSERT_TRUE(store.has_value());
  std::set<std::tuple<std::string, std::string, std::string>> migrated;
  auto status = (*store)->Read([&](store::ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(auto rows, tx.QueryRows({"SELECT id, param, value FROM index_string "
                                                 "WHERE param LIKE '%:cjk'",
                                                 {}}));
    for (const store::SqlRow& row : rows) {
      migrated.emplace(std::get<std::string>(row[0]), std::get<std::string>(row[1]),
                       std::get<std::string>(row[2]));
    }
    return {};
  });
  ASSERT_TRUE(status.has_value()) << status.error().GetMessage();
  EXPECT_EQ(migrated, written);
  store->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace medalliance::search
