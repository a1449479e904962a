// The storage conformance suite: behaviour every Store back end must share, written against
// the Store interface only. Each back end registers a factory at the bottom of this file.

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "store/sql/schema.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "store/store_test_util.h"

namespace medalliance::store {
namespace {

using testing::MakeDeleteMarker;
using testing::MakeResource;
using testing::TempDir;
using testing::Token;

struct StoreFactory {
  std::string name;
  // Opens a fresh, empty store whose files (if any) live under `dir`.
  std::function<core::Result<std::unique_ptr<Store>>(const std::string& dir)> open;
};

void PrintTo(const StoreFactory& factory, std::ostream* out) {
  *out << factory.name;
}

class StoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    auto opened = GetParam().open(dir_.Path());
    ASSERT_TRUE(opened.has_value()) << opened.error().GetMessage();
    store_ = std::move(opened).value();
  }

  // Writes each resource in its own transaction; returns their sequences.
  void Put(StoredResource resource, const std::vector<IndexEntry>& index = {}) {
    core::Status status =
        store_->Write([&](WriteTx& tx) { return tx.PutVersion(resource, index); });
    ASSERT_TRUE(status.has_value()) << status.error().GetMessage();
  }

  std::optional<StoredResource> Current(const std::string& type, const std::string& id) {
    std::optional<StoredResource> found;
    core::Status status = store_->Read([&](ReadTx& tx) -> core::Status {
      MA_ASSIGN_OR_RETURN(found, tx.ReadCurrent(type, id));
      return core::Ok{};
    });
    EXPECT_TRUE(status.has_value()) << status.error().GetMessage();
    return found;
  }

  std::vector<StoredResource> History(const HistoryQuery& query) {
    std::vector<StoredResource> found;
    core::Status status = store_->Read([&](ReadTx& tx) -> core::Status {
      MA_ASSIGN_OR_RETURN(found, tx.History(query));
      return core::Ok{};
    });
    EXPECT_TRUE(status.has_value()) << status.error().GetMessage();
    return found;
  }

  int64_t CountHistory(const HistoryQuery& query) {
    int64_t count = -1;
    core::Status status = store_->Read([&](ReadTx& tx) -> core::Status {
      MA_ASSIGN_OR_RETURN(count, tx.CountHistory(query));
      return core::Ok{};
    });
    EXPECT_TRUE(status.has_value()) << status.error().GetMessage();
    return count;
  }

  // Ids of current, non-deleted `type` resources having an index row in `table` matching
  // `condition` (written with the placeholders ?1 = type, ?2 = param, ?3... = `values`).
  std::vector<std::string> SearchIds(const std::string& type, const std::string& param,
                                     std::string_view table, const std::string& condition,
                                     std::vector<SqlValue> values) {
    std::vector<std::string> ids;
    core::Status status = store_->Read([&](ReadTx& tx) -> core::Status {
      const Dialect& dialect = tx.GetDialect();
      std::string cond = condition;
      for (int n = 9; n >= 1; --n) {  // rewrite "?n" into the dialect's placeholder
        std::string from = "?";       // appended: GCC 12 false -Wrestrict on "?" + to_string
        from += std::to_string(n);
        for (size_t at = cond.find(from); at != std::string::npos; at = cond.find(from, at + 1)) {
          cond.replace(at, from.size(), dialect.Placeholder(n));
        }
      }
      SqlQuery query;
      query.sql = "SELECT " + std::string(sql::kResourceColumns) + " FROM " +
                  std::string(sql::kCurrentTable) + " c JOIN " + std::string(sql::kResourcesTable) +
                  " r ON r.sequence = c.sequence WHERE c.type = " + dialect.Placeholder(1) +
                  " AND c.deleted = 0 AND c.id IN (SELECT x.id FROM " + std::string(table) +
                  " x WHERE x.type = " + dialect.Placeholder(1) +
                  " AND x.param = " + dialect.Placeholder(2) + " AND " + cond + ") ORDER BY r.id";
      query.params = {type, param};
      for (SqlValue& value : values) {
        query.params.push_back(std::move(value));
      }
      MA_ASSIGN_OR_RETURN(std::vector<StoredResource> found, tx.QueryResources(query));
      for (const StoredResource& resource : found) {
        ids.push_back(resource.id);
      }
      return core::Ok{};
    });
    EXPECT_TRUE(status.has_value()) << status.error().GetMessage();
    return ids;
  }

  std::vector<std::string> TokenSearch(const std::string& type, const std::string& param,
                                       const std::string& value) {
    return SearchIds(type, param, sql::kTokenIndexTable, "x.value = ?3", {value});
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreConformanceTest, ReportsAMigratedSchema) {
  EXPECT_GE(store_->SchemaVersion(), 1);
}

TEST_P(StoreConformanceTest, DialectNumbersPlaceholders) {
  ASSERT_TRUE(store_->Read([](ReadTx& tx) -> core::Status {
    EXPECT_FALSE(tx.GetDialect().Name().empty());
    EXPECT_NE(tx.GetDialect().Placeholder(1), tx.GetDialect().Placeholder(2));
    EXPECT_NE(tx.GetDialect().Placeholder(12).find("12"), std::string::npos);
    return core::Ok{};
  }));
}

TEST_P(StoreConformanceTest, ReadsBackACreatedResourceExactly) {
  StoredResource resource = MakeResource("Patient", "p1", 1, 1000, R"({"a": 1.50})", "POST");
  ASSERT_NO_FATAL_FAILURE(Put(resource));
  std::optional<StoredResource> found = Current("Patient", "p1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->json, R"({"a": 1.50})");
  EXPECT_EQ(found->version, 1);
  EXPECT_EQ(found->last_updated, 1000);
  EXPECT_EQ(found->method, "POST");
  EXPECT_FALSE(found->deleted);
  EXPECT_GT(found->sequence, 0);
}

TEST_P(StoreConformanceTest, ReadCurrentOfUnknownResourceIsEmpty) {
  EXPECT_FALSE(Current("Patient", "nobody").has_value());
  ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Patient", "p1", 1, 1000)));
  EXPECT_FALSE(Current("Observation", "p1").has_value());
}

TEST_P(StoreConformanceTest, PutVersionSetsIncreasingSequences) {
  StoredResource first = MakeResource("Patient", "p1", 1, 1000);
  StoredResource second = MakeResource("Patient", "p2", 1, 1000);
  ASSERT_TRUE(store_->Write([&](WriteTx& tx) -> core::Status {
    MA_RETURN_IF_ERROR(tx.PutVersion(first, {}));
    return tx.PutVersion(second, {});
  }));
  EXPECT_GT(first.sequence, 0);
  EXPECT_GT(second.sequence, first.sequence);
  EXPECT_EQ(Current("Patient", "p2")->sequence, second.sequence);
}

TEST_P(StoreConformanceTest, RejectsAVersionThatIsNotCurrentPlusOne) {
  StoredResource skip = MakeResource("Patient", "p1", 2, 1000);
  core::Status status = store_->Write([&](WriteTx& tx) { return tx.PutVersion(skip, {}); });
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kConflict);

  ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Patient", "p1", 1, 1000)));
  StoredResource again = MakeResource("Patient", "p1", 1, 2000);
  status = store_->Write([&](WriteTx& tx) { return tx.PutVersion(again, {}); });
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kConflict);
  EXPECT_EQ(Current("Patient", "p1")->last_updated, 1000);
}

TEST_P(StoreConformanceTest, UpdateBecomesCurrentAndKeepsOldVersions) {
  ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Patient", "p1", 1, 1000, R"({"v":1})")));
  ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Patient", "p1", 2, 2000, R"({"v":2})")));
  EXPECT_EQ(Current("Patient", "p1")->json, R"({"v":2})");
  ASSERT_TRUE(store_->Read([](ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(auto v1, tx.ReadVersion("Patient", "p1", 1));
    EXPECT_TRUE(v1.has_value());
    if (v1) {
      EXPECT_EQ(v1->json, R"({"v":1})");
    }
    MA_ASSIGN_OR_RETURN(auto v3, tx.ReadVersion("Patient", "p1", 3));
    EXPECT_FALSE(v3.has_value());
    return core::Ok{};
  }));
}

TEST_P(StoreConformanceTest, DeleteMarkerIsCurrentWithEmptyJson) {
  ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Patient", "p1", 1, 1000)));
  StoredResource marker = MakeDeleteMarker("Patient", "p1", 2, 2000);
  marker.json = "should not be stored";
  ASSERT_NO_FATAL_FAILURE(Put(marker));
  std::optional<StoredResource> found = Current("Patient", "p1");
  ASSERT_TRUE(found.has_value());
  EXPECT_TRUE(found->deleted);
  EXPECT_TRUE(found->json.empty());
  EXPECT_EQ(found->method, "DELETE");
  EXPECT_EQ(found->version, 2);
  // Re-creation after delete continues the version sequence.
  ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Patient", "p1", 3, 3000)));
  EXPECT_FALSE(Current("Patient", "p1")->deleted);
}

TEST_P(StoreConformanceTest, ErrorFromWriteFunctionRollsBackEverything) {
  core::Status status = store_->Write([&](WriteTx& tx) -> core::Status {
    StoredResource a = MakeResource("Patient", "a", 1, 1000);
    StoredResource b = MakeResource("Patient", "b", 1, 1000);
    MA_RETURN_IF_ERROR(tx.PutVersion(a, {Token("identifier", "s", "A")}));
    MA_RETURN_IF_ERROR(tx.PutVersion(b, {}));
    return core::Error::BadRequest("changed my mind");
  });
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kBadRequest);
  EXPECT_FALSE(Current("Patient", "a").has_value());
  EXPECT_FALSE(Current("Patient", "b").has_value());
  EXPECT_EQ(CountHistory({}), 0);
  EXPECT_TRUE(TokenSearch("Patient", "identifier", "A").empty());
}

TEST_P(StoreConformanceTest, ConflictInsideTransactionRollsBackEarlierWrites) {
  ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Patient", "taken", 1, 1000)));
  core::Status status = store_->Write([&](WriteTx& tx) -> core::Status {
    StoredResource fresh = MakeResource("Patient", "fresh", 1, 2000);
    MA_RETURN_IF_ERROR(tx.PutVersion(fresh, {}));
    StoredResource stale = MakeResource("Patient", "taken", 1, 2000);
    return tx.PutVersion(stale, {});
  });
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kConflict);
  EXPECT_FALSE(Current("Patient", "fresh").has_value());
}

TEST_P(StoreConformanceTest, WriteSeesItsOwnUncommittedWrites) {
  ASSERT_TRUE(store_->Write([&](WriteTx& tx) -> core::Status {
    StoredResource a = MakeResource("Patient", "a", 1, 1000);
    MA_RETURN_IF_ERROR(tx.PutVersion(a, {}));
    MA_ASSIGN_OR_RETURN(auto found, tx.ReadCurrent("Patient", "a"));
    EXPECT_TRUE(found.has_value());
    StoredResource a2 = MakeResource("Patient", "a", 2, 1001);
    return tx.PutVersion(a2, {});
  }));
  EXPECT_EQ(Current("Patient", "a")->version, 2);
}

// What write hooks key their per-transaction caches on (ReadTx::CacheStamp).
TEST_P(StoreConformanceTest, CacheStampMovesWithWritesOfItsTypeOnly) {
  std::optional<uint64_t> first_basic;
  ASSERT_TRUE(store_->Write([&](WriteTx& tx) -> core::Status {
    first_basic = tx.CacheStamp("Basic");
    const std::optional<uint64_t> organization = tx.CacheStamp("Organization");
    if (!first_basic.has_value())
      return core::Ok{};  // a back end may not track writes: callers then read again
    EXPECT_EQ(tx.CacheStamp("Basic"), first_basic);
    StoredResource org = MakeResource("Organization", "o", 1, 1000);
    MA_RETURN_IF_ERROR(tx.PutVersion(org, {}));
    EXPECT_EQ(tx.CacheStamp("Basic"), first_basic);
    const std::optional<uint64_t> after_org = tx.CacheStamp("Organization");
    EXPECT_NE(after_org, organization);
    EXPECT_EQ(tx.CacheStamp("Organization"), after_org);
    StoredResource basic = MakeResource("Basic", "b", 1, 1000);
    MA_RETURN_IF_ERROR(tx.PutVersion(basic, {}));
    EXPECT_NE(tx.CacheStamp("Basic"), first_basic);
    EXPECT_EQ(tx.CacheStamp("Organization"), after_org);
    MA_RETURN_IF_ERROR(tx.ReplaceIndex("Organization", "o", {}));
    EXPECT_NE(tx.CacheStamp("Organization"), after_org);
    return core::Ok{};
  }));
  if (!first_basic.has_value())
    return;
  // Another transaction (a rolled-back one too) never hands out a stamp seen before.
  std::optional<uint64_t> rolled_back;
  core::Status status = store_->Write([&](WriteTx& tx) -> core::Status {
    rolled_back = tx.CacheStamp("Basic");
    EXPECT_NE(rolled_back, first_basic);
    return core::Error::BadRequest("roll back");
  });
  ASSERT_FALSE(status.has_value());
  ASSERT_TRUE(store_->Read([&](ReadTx& tx) -> core::Status {
    EXPECT_NE(tx.CacheStamp("Basic"), first_basic);
    EXPECT_NE(tx.CacheStamp("Basic"), rolled_back);
    return core::Ok{};
  }));
}

class HistoryTest : public StoreConformanceTest {
 protected:
  // p1 v1@1000, o1 v1@2000, p1 v2@3000, p2 v1@4000, p1 delete v3@5000, o1 v2@6000
  void SetUp() override {
    StoreConformanceTest::SetUp();
    ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Patient", "p1", 1, 1000)));
    ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Observation", "o1", 1, 2000)));
    ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Patient", "p1", 2, 3000)));
    ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Patient", "p2", 1, 4000)));
    ASSERT_NO_FATAL_FAILURE(Put(MakeDeleteMarker("Patient", "p1", 3, 5000)));
    ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Observation", "o1", 2, 6000)));
  }

  static std::vector<std::string> Keys(const std::vector<StoredResource>& resources) {
    std::vector<std::string> keys;
    for (const StoredResource& r : resources) {
      keys.push_back(r.type + "/" + r.id + "/" + std::to_string(r.version));
    }
    return keys;
  }
};

TEST_P(HistoryTest, SystemHistoryIsNewestFirst) {
  std::vector<StoredResource> all = History({});
  EXPECT_EQ(Keys(all),
            (std::vector<std::string>{"Observation/o1/2", "Patient/p1/3", "Patient/p2/1",
                                      "Patient/p1/2", "Observation/o1/1", "Patient/p1/1"}));
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end(),
                             [](const auto& a, const auto& b) { return a.sequence > b.sequence; }));
  EXPECT_EQ(CountHistory({}), 6);
}

TEST_P(HistoryTest, TypeAndInstanceHistory) {
  HistoryQuery type_query;
  type_query.type = "Patient";
  EXPECT_EQ(Keys(History(type_query)), (std::vector<std::string>{"Patient/p1/3", "Patient/p2/1",
                                                                 "Patient/p1/2", "Patient/p1/1"}));
  EXPECT_EQ(CountHistory(type_query), 4);
  HistoryQuery instance = type_query;
  instance.id = "p1";
  std::vector<StoredResource> p1 = History(instance);
  EXPECT_EQ(Keys(p1), (std::vector<std::string>{"Patient/p1/3", "Patient/p1/2", "Patient/p1/1"}));
  ASSERT_EQ(p1.size(), 3u);
  EXPECT_TRUE(p1[0].deleted);
  EXPECT_EQ(p1[0].method, "DELETE");
  EXPECT_EQ(CountHistory(instance), 3);
}

TEST_P(HistoryTest, InstanceHistoryWithoutTypeFails) {
  HistoryQuery query;
  query.id = "p1";
  core::Status status = store_->Read([&](ReadTx& tx) -> core::Status {
    auto found = tx.History(query);
    return found.has_value() ? core::Status{} : core::Status{found.error()};
  });
  EXPECT_FALSE(status.has_value());
}

TEST_P(HistoryTest, SinceKeepsVersionsUpdatedAtOrAfter) {
  HistoryQuery query;
  query.since = 4000;
  EXPECT_EQ(Keys(History(query)),
            (std::vector<std::string>{"Observation/o1/2", "Patient/p1/3", "Patient/p2/1"}));
  EXPECT_EQ(CountHistory(query), 3);
}

TEST_P(HistoryTest, AtGivesTheVersionCurrentThenAndSkipsDeleted) {
  HistoryQuery query;
  query.at = 3500;
  EXPECT_EQ(Keys(History(query)), (std::vector<std::string>{"Patient/p1/2", "Observation/o1/1"}));
  EXPECT_EQ(CountHistory(query), 2);
  query.at = 5000;  // p1 deleted at 5000: excluded
  EXPECT_EQ(Keys(History(query)), (std::vector<std::string>{"Patient/p2/1", "Observation/o1/1"}));
  query.at = 999;
  EXPECT_TRUE(History(query).empty());
  query.at = 3000;
  query.type = "Patient";
  EXPECT_EQ(Keys(History(query)), (std::vector<std::string>{"Patient/p1/2"}));
}

TEST_P(HistoryTest, PagesWithCountAndBeforeSequence) {
  HistoryQuery query;
  query.count = 4;
  std::vector<StoredResource> page1 = History(query);
  ASSERT_EQ(page1.size(), 4u);
  query.before_sequence = page1.back().sequence;
  std::vector<StoredResource> page2 = History(query);
  EXPECT_EQ(Keys(page2), (std::vector<std::string>{"Observation/o1/1", "Patient/p1/1"}));
  EXPECT_EQ(CountHistory(query), 6) << "CountHistory ignores paging";
  query.count = 0;
  EXPECT_TRUE(History(query).empty());
}

TEST_P(StoreConformanceTest, TokenIndexFindsCurrentVersionsOnly) {
  ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Patient", "p1", 1, 1000),
                              {Token("identifier", "urn:mrn", "111"), Token("gender", "", "f")}));
  ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Patient", "p2", 1, 1000),
                              {Token("identifier", "urn:mrn", "222"), Token("gender", "", "f")}));
  EXPECT_EQ(TokenSearch("Patient", "identifier", "111"), std::vector<std::string>{"p1"});
  EXPECT_EQ(TokenSearch("Patient", "gender", "f"), (std::vector<std::string>{"p1", "p2"}));
  EXPECT_TRUE(TokenSearch("Observation", "gender", "f").empty());

  // An update replaces the rows.
  ASSERT_NO_FATAL_FAILURE(
      Put(MakeResource("Patient", "p1", 2, 2000), {Token("identifier", "urn:mrn", "333")}));
  EXPECT_TRUE(TokenSearch("Patient", "identifier", "111").empty());
  EXPECT_EQ(TokenSearch("Patient", "identifier", "333"), std::vector<std::string>{"p1"});
  EXPECT_EQ(TokenSearch("Patient", "gender", "f"), std::vector<std::string>{"p2"});

  // A delete marker removes them, even if index rows are passed.
  ASSERT_NO_FATAL_FAILURE(
      Put(MakeDeleteMarker("Patient", "p2", 2, 3000), {Token("identifier", "urn:mrn", "222")}));
  EXPECT_TRUE(TokenSearch("Patient", "identifier", "222").empty());
  EXPECT_TRUE(TokenSearch("Patient", "gender", "f").empty());
}

TEST_P(StoreConformanceTest, EveryIndexKindIsStoredAndQueryable) {
  std::vector<IndexEntry> index(7);
  index[0] = Token("code", "http://loinc.org", "718-7");
  index[1].param = "name";
  index[1].kind = IndexKind::kString;
  index[1].value = "chalmers";
  index[1].raw = "Chalmers";
  index[2].param = "subject";
  index[2].kind = IndexKind::kReference;
  index[2].value = "Patient/p1";
  index[3].param = "date";
  index[3].kind = IndexKind::kDate;
  index[3].low = 1000;
  index[3].high = 2000;
  index[4].param = "probability";
  index[4].kind = IndexKind::kNumber;
  index[4].number = 0.75;
  index[4].raw = "0.750";
  index[5].param = "value-quantity";
  index[5].kind = IndexKind::kQuantity;
  index[5].number = 5.4;
  index[5].system = "http://unitsofmeasure.org";
  index[5].value = "mmol/L";
  index[5].raw = "mmol/l";
  index[6].param = "url";
  index[6].kind = IndexKind::kUri;
  index[6].value = "http://example.org/fhir";
  ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Observation", "o1", 1, 1000), index));
  ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Observation", "o2", 1, 1000), {}));

  const std::vector<std::string> o1 = {"o1"};
  EXPECT_EQ(SearchIds("Observation", "code", sql::kTokenIndexTable,
                      "x.system = ?3 AND x.value = ?4", {"http://loinc.org", "718-7"}),
            o1);
  EXPECT_EQ(SearchIds("Observation", "name", sql::kStringIndexTable,
                      "x.value LIKE ?3 AND x.raw = ?4", {"chal%", "Chalmers"}),
            o1);
  EXPECT_EQ(SearchIds("Observation", "subject", sql::kReferenceIndexTable, "x.value = ?3",
                      {"Patient/p1"}),
            o1);
  EXPECT_EQ(SearchIds("Observation", "date", sql::kDateIndexTable, "x.low <= ?3 AND x.high > ?3",
                      {int64_t{1500}}),
            o1);
  EXPECT_TRUE(SearchIds("Observation", "date", sql::kDateIndexTable, "x.low <= ?3 AND x.high > ?3",
                        {int64_t{2000}})
                  .empty());
  EXPECT_EQ(SearchIds("Observation", "probability", sql::kNumberIndexTable,
                      "x.number > ?3 AND x.raw = ?4", {0.7, "0.750"}),
            o1);
  EXPECT_EQ(SearchIds("Observation", "value-quantity", sql::kQuantityIndexTable,
                      "x.number >= ?3 AND x.system = ?4 AND x.code = ?5 AND x.raw = ?6",
                      {5.0, "http://unitsofmeasure.org", "mmol/L", "mmol/l"}),
            o1);
  EXPECT_EQ(SearchIds("Observation", "url", sql::kUriIndexTable, "x.value = ?3",
                      {"http://example.org/fhir"}),
            o1);
}

TEST_P(StoreConformanceTest, QueryCountReturnsOneInteger) {
  ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Patient", "p1", 1, 1000)));
  ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Patient", "p2", 1, 1000)));
  ASSERT_NO_FATAL_FAILURE(Put(MakeDeleteMarker("Patient", "p2", 2, 1000)));
  ASSERT_TRUE(store_->Read([](ReadTx& tx) -> core::Status {
    SqlQuery query{"SELECT COUNT(*) FROM current_resources c WHERE c.type = " +
                       tx.GetDialect().Placeholder(1) + " AND c.deleted = 0",
                   {std::string("Patient")}};
    MA_ASSIGN_OR_RETURN(int64_t count, tx.QueryCount(query));
    EXPECT_EQ(count, 1);
    return core::Ok{};
  }));
}

TEST_P(StoreConformanceTest, QueryWithWrongColumnsOrBadSqlFails) {
  ASSERT_NO_FATAL_FAILURE(Put(MakeResource("Patient", "p1", 1, 1000)));
  core::Status status = store_->Read([](ReadTx& tx) -> core::Status {
    auto found = tx.QueryResources({"SELECT r.id FROM resources r", {}});
    return found.has_value() ? core::Status{} : core::Status{found.error()};
  });
  ASSERT_FALSE(status.has_value());
  EXPECT_EQ(status.error().GetCode(), core::ErrorCode::kInternal);
  status = store_->Read([](ReadTx& tx) -> core::Status {
    core::Result<int64_t> count = tx.QueryCount({"SELEKT nonsense", {}});
    return count.has_value() ? core::Status{} : core::Status{count.error()};
  });
  EXPECT_FALSE(status.has_value());
}

TEST_P(StoreConformanceTest, ConcurrentWritersAllCommitWithUniqueSequences) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::mutex mutex;
  std::set<int64_t> sequences;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = "t";  // appended piecewise: GCC 12 warns on "t" + to_string (PR105651)
        id += std::to_string(t);
        id += '-';
        id += std::to_string(i);
        StoredResource resource = MakeResource("Patient", id, 1, i);
        core::Status status =
            store_->Write([&](WriteTx& tx) { return tx.PutVersion(resource, {}); });
        if (!status.has_value()) {
          ++failures;
          continue;
        }
        std::lock_guard lock(mutex);
        sequences.insert(resource.sequence);
      }
    });
  }
  // Readers run alongside.
  std::thread reader([&] {
    for (int i = 0; i < 50; ++i) {
      HistoryQuery query;
      query.count = 10;
      if (!store_->Read([&](ReadTx& tx) {
            return tx.History(query).has_value() ? core::Status{}
                                                 : core::Status{core::Error::Internal("history")};
          })) {
        ++failures;
      }
    }
  });
  for (std::thread& thread : threads) {
    thread.join();
  }
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(sequences.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(CountHistory({}), kThreads * kPerThread);
}

std::vector<StoreFactory> Factories() {
  std::vector<StoreFactory> factories;
  factories.push_back(
      {"SqliteMemory", [](const std::string&) -> core::Result<std::unique_ptr<Store>> {
         SqliteOptions options;
         options.path = ":memory:";
         MA_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(options));
         return std::unique_ptr<Store>(std::move(store));
       }});
  factories.push_back(
      {"SqliteFile", [](const std::string& dir) -> core::Result<std::unique_ptr<Store>> {
         SqliteOptions options;
         options.path = dir + "/db/store.sqlite";
         options.synchronous = SqliteSync::kNormal;  // speed; durability is tested elsewhere
         options.reader_pool_size = 2;
         MA_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(options));
         return std::unique_ptr<Store>(std::move(store));
       }});
  // TODO(store): add PostgreSQL when MA_TEST_PG_URL is set.
  return factories;
}

std::string FactoryName(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformanceTest, ::testing::ValuesIn(Factories()),
                         FactoryName);
INSTANTIATE_TEST_SUITE_P(Backends, HistoryTest, ::testing::ValuesIn(Factories()), FactoryName);

}  // namespace
}  // namespace medalliance::store
