// The write transaction's buffered index rows (SqliteWriteTx): rows are written in big sorted
// statements at the end of the write fn, and before anything in the transaction reads or
// changes index rows; a write fn that fails leaves none of them.

#include <algorithm>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "store/sqlite/sqlite_store.h"
#include "store/store_test_util.h"

namespace medalliance::store {
namespace {

using testing::MakeDeleteMarker;
using testing::MakeResource;
using testing::TempDir;
using testing::Token;

IndexEntry Reference(std::string param, std::string value) {
  IndexEntry entry;
  entry.param = std::move(param);
  entry.kind = IndexKind::kReference;
  entry.value = std::move(value);
  return entry;
}

IndexEntry Date(std::string param, int64_t low, int64_t high) {
  IndexEntry entry;
  entry.param = std::move(param);
  entry.kind = IndexKind::kDate;
  entry.low = low;
  entry.high = high;
  return entry;
}

IndexEntry Quantity(std::string param, double number, std::string code) {
  IndexEntry entry;
  entry.param = std::move(param);
  entry.kind = IndexKind::kQuantity;
  entry.number = number;
  entry.system = "http://unitsofmeasure.org";
  entry.value = std::move(code);
  entry.raw = entry.value;
  return entry;
}

// Rows of four kinds for an Observation with `status` and `day`.
std::vector<IndexEntry> Rows(const std::string& status, int64_t day) {
  return {Token("status", "http://hl7.org/fhir/observation-status", status),
          Token("code", "http://loinc.org", "2345-7"), Reference("subject", "Patient/p1"),
          Date("date", day * 86'400'000, (day + 1) * 86'400'000), Quantity("value", 5.5, "mmol/L")};
}

class IndexRowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SqliteOptions options;
    options.path = dir_.Path() + "/rows.sqlite";
    auto opened = SqliteStore::Open(options);
    ASSERT_TRUE(opened.has_value()) << opened.error().GetMessage();
    store_ = std::move(opened).value();
  }

  int64_t Count(const std::string& sql) {
    int64_t count = -1;
    core::Status status = store_->Read([&](ReadTx& tx) -> core::Status {
      MA_ASSIGN_OR_RETURN(count, tx.QueryCount({sql, {}}));
      return core::Ok{};
    });
    EXPECT_TRUE(status.has_value()) << status.error().GetMessage();
    return count;
  }

  // Every row of every index table.
  int64_t AllRows() {
    return Count(
        "SELECT (SELECT COUNT(*) FROM index_token_rows) + (SELECT COUNT(*) FROM"
        " index_string_rows) + (SELECT COUNT(*) FROM index_reference_rows) + (SELECT COUNT(*)"
        " FROM index_date_rows) + (SELECT COUNT(*) FROM index_number_rows) + (SELECT COUNT(*)"
        " FROM index_quantity_rows) + (SELECT COUNT(*) FROM index_uri_rows)");
  }

  // Makes every insert of a token row with the value 'boom' fail (as an I/O error would).
  void ArmBoom() {
    ASSERT_TRUE(store_->Write([](WriteTx& tx) -> core::Status {
      MA_RETURN_IF_ERROR(
          tx.Execute({"CREATE TRIGGER boom BEFORE INSERT ON index_token_rows"
                      " WHEN NEW.value = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END",
                      {}}));
      return core::Ok{};
    }));
  }

  TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(IndexRowsTest, RowsWrittenThenSearchedInTheSameTransactionAreFound) {
  int64_t seen_tokens = -1;
  int64_t seen_resources = -1;
  int64_t seen_rows = -1;
  ASSERT_TRUE(store_->Write([&](WriteTx& tx) -> core::Status {
    for (const char* id : {"o1", "o2", "o3"}) {
      StoredResource resource = MakeResource("Observation", id, 1, 1000);
      MA_RETURN_IF_ERROR(tx.PutVersion(resource, Rows("final", 20000)));
    }
    MA_ASSIGN_OR_RETURN(seen_tokens, tx.QueryCount({"SELECT COUNT(*) FROM index_token WHERE"
                                                    " type = 'Observation' AND param = 'status'",
                                                    {}}));
    MA_ASSIGN_OR_RETURN(
        std::vector<StoredResource> found,
        tx.QueryResources({"SELECT r.sequence, r.type, r.id, r.version, r.last_updated,"
                           " r.deleted, r.method, r.json FROM current_resources c JOIN resources"
                           " r ON r.sequence = c.sequence WHERE c.id IN (SELECT id FROM"
                           " index_reference WHERE param = 'subject' AND value = ?1)",
                           {std::string("Patient/p1")}}));
    seen_resources = static_cast<int64_t>(found.size());
    // Rows put after a query are written too.
    StoredResource resource = MakeResource("Observation", "o4", 1, 1000);
    MA_RETURN_IF_ERROR(tx.PutVersion(resource, Rows("final", 20000)));
    MA_ASSIGN_OR_RETURN(std::vector<SqlRow> rows,
                        tx.QueryRows({"SELECT id FROM index_date_rows", {}}));
    seen_rows = static_cast<int64_t>(rows.size());
    return core::Ok{};
  }));
  EXPECT_EQ(seen_tokens, 3);
  EXPECT_EQ(seen_resources, 3);
  EXPECT_EQ(seen_rows, 4);
  EXPECT_EQ(AllRows(), 4 * 5);
}

TEST_F(IndexRowsTest, AStatementOfTheWriteFnSeesTheRowsBeforeIt) {
  int64_t changed = -1;
  ASSERT_TRUE(store_->Write([&](WriteTx& tx) -> core::Status {
    StoredResource resource = MakeResource("Observation", "o1", 1, 1000);
    MA_RETURN_IF_ERROR(tx.PutVersion(resource, Rows("final", 20000)));
    MA_ASSIGN_OR_RETURN(changed, tx.Execute({"DELETE FROM index_token_rows WHERE id = 'o1'", {}}));
    return core::Ok{};
  }));
  EXPECT_EQ(changed, 2);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM index_token_rows"), 0);
  EXPECT_EQ(AllRows(), 3);
}

TEST_F(IndexRowsTest, UpdateThenDeleteInOneTransactionLeavesExactlyTheRightRows) {
  int64_t rows_after_update = -1;
  ASSERT_TRUE(store_->Write([&](WriteTx& tx) -> core::Status {
    // Each change follows the write of the rows it changes directly (no query in between).
    StoredResource v1 = MakeResource("Observation", "o1", 1, 1000);
    MA_RETURN_IF_ERROR(tx.PutVersion(v1, Rows("preliminary", 20000)));
    StoredResource v2 = MakeResource("Observation", "o1", 2, 2000);
    std::vector<IndexEntry> rows = Rows("final", 20001);
    rows.push_back(Reference("performer", "Practitioner/x"));
    MA_RETURN_IF_ERROR(tx.PutVersion(v2, rows));
    StoredResource gone1 = MakeResource("Observation", "gone", 1, 1000);
    MA_RETURN_IF_ERROR(tx.PutVersion(gone1, Rows("final", 20000)));
    StoredResource gone2 = MakeDeleteMarker("Observation", "gone", 2, 2000);
    MA_RETURN_IF_ERROR(tx.PutVersion(gone2, {}));
    StoredResource keep = MakeResource("Observation", "keep", 1, 1000);
    MA_RETURN_IF_ERROR(tx.PutVersion(keep, Rows("final", 20000)));
    // As a reindex does.
    MA_RETURN_IF_ERROR(tx.ReplaceIndex("Observation", "keep", Rows("amended", 20002)));
    MA_ASSIGN_OR_RETURN(rows_after_update,
                        tx.QueryCount({"SELECT COUNT(*) FROM index_token WHERE id = 'o1'"
                                       " AND param = 'status'",
                                       {}}));  // 'final' only
    StoredResource v3 = MakeResource("Observation", "o1", 3, 3000);
    MA_RETURN_IF_ERROR(tx.PutVersion(v3, Rows("corrected", 20003)));
    StoredResource v4 = MakeDeleteMarker("Observation", "o1", 4, 4000);
    MA_RETURN_IF_ERROR(tx.PutVersion(v4, {}));
    StoredResource v5 = MakeResource("Observation", "o1", 5, 5000);
    return tx.PutVersion(v5, Rows("final", 20005));
  }));
  EXPECT_EQ(rows_after_update, 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM index_token_rows WHERE id = 'gone'") +
                Count("SELECT COUNT(*) FROM index_reference_rows WHERE id = 'gone'") +
                Count("SELECT COUNT(*) FROM index_date_rows WHERE id = 'gone'") +
                Count("SELECT COUNT(*) FROM index_quantity_rows WHERE id = 'gone'"),
            0);
  EXPECT_EQ(AllRows(), 10);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM index_token WHERE param = 'status' AND"
                  " (id = 'keep' AND value = 'amended' OR id = 'o1' AND value = 'final')"),
            2);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM index_date WHERE id = 'keep' AND low = 20002 * 86400000"
                  " OR id = 'o1' AND low = 20005 * 86400000"),
            2);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM index_reference WHERE param = 'performer'"), 0);
}

TEST_F(IndexRowsTest, AWriteFnThatFailsAfterPutVersionLeavesNoRows) {
  core::Status failed = store_->Write([&](WriteTx& tx) -> core::Status {
    StoredResource resource = MakeResource("Observation", "o1", 1, 1000);
    MA_RETURN_IF_ERROR(tx.PutVersion(resource, Rows("final", 20000)));
    return core::Error::Unprocessable("refused after writing");
  });
  ASSERT_FALSE(failed.has_value());
  core::Status thrown = store_->Write([&](WriteTx& tx) -> core::Status {
    StoredResource resource = MakeResource("Observation", "o2", 1, 1000);
    MA_RETURN_IF_ERROR(tx.PutVersion(resource, Rows("final", 20000)));
    throw std::runtime_error("bug");
  });
  ASSERT_FALSE(thrown.has_value());
  EXPECT_EQ(AllRows(), 0);
  ASSERT_TRUE(store_->Write([&](WriteTx& tx) -> core::Status {
    StoredResource resource = MakeResource("Observation", "o3", 1, 1000);
    return tx.PutVersion(resource, {Token("status", "s", "final")});
  }));
  EXPECT_EQ(AllRows(), 1);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM index_token_rows WHERE id = 'o3'"), 1);
}

TEST_F(IndexRowsTest, AFailedFlushFailsTheWriteFnEvenWhenItIgnoresTheError) {
  ArmBoom();
  core::Status failed = store_->Write([&](WriteTx& tx) -> core::Status {
    StoredResource first = MakeResource("Observation", "o1", 1, 1000);
    MA_RETURN_IF_ERROR(tx.PutVersion(first, {Token("status", "s", "boom")}));
    // The query's flush fails; the write fn goes on as if nothing happened.
    EXPECT_FALSE(tx.QueryCount({"SELECT COUNT(*) FROM index_token_rows", {}}).has_value());
    StoredResource second = MakeResource("Observation", "o2", 1, 1000);
    (void)tx.PutVersion(second, Rows("final", 20000));
    return core::Ok{};
  });
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM resources"), 0);
  EXPECT_EQ(AllRows(), 0);
  // At the end of the write fn.
  failed = store_->Write([&](WriteTx& tx) -> core::Status {
    StoredResource resource = MakeResource("Observation", "o3", 1, 1000);
    return tx.PutVersion(resource, {Token("a", "s", "fine"), Token("b", "s", "boom")});
  });
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(Count("SELECT COUNT(*) FROM resources"), 0);
  EXPECT_EQ(AllRows(), 0);
}

TEST_F(IndexRowsTest, ManyResourcesInAnyIdOrderAreAllIndexed) {
  // Client ids (PUT) in random order, over two types, more rows than the buffer holds.
  constexpr int kResources = 4000;
  std::vector<std::string> ids;
  for (int i = 0; i < kResources; ++i) ids.push_back("id-" + std::to_string(i * 7919 % 10007));
  std::shuffle(ids.begin(), ids.end(), std::mt19937(7));
  ASSERT_TRUE(store_->Write([&](WriteTx& tx) -> core::Status {
    for (size_t i = 0; i < ids.size(); ++i) {
      const char* type = i % 3 == 0 ? "Condition" : "Observation";
      StoredResource resource = MakeResource(type, ids[i], 1, 1000);
      std::vector<IndexEntry> rows = Rows(ids[i], static_cast<int64_t>(i));
      rows.push_back(Reference("subject", "Patient/" + ids[i]));  // a second subject
      MA_RETURN_IF_ERROR(tx.PutVersion(resource, rows));
    }
    return core::Ok{};
  }));
  EXPECT_EQ(AllRows(), 6 * kResources);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM index_token WHERE param = 'status' AND value = id"),
            kResources);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM index_reference WHERE param = 'subject' AND"
                  " value = 'Patient/' || id"),
            kResources);
  EXPECT_EQ(Count("SELECT COUNT(DISTINCT id) FROM index_date"), kResources);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM index_quantity WHERE type = 'Condition'"),
            (kResources + 2) / 3);
}

TEST_F(IndexRowsTest, IdenticalRowsAreStoredOnce) {
  ASSERT_TRUE(store_->Write([&](WriteTx& tx) -> core::Status {
    StoredResource resource = MakeResource("Observation", "o1", 1, 1000);
    std::vector<IndexEntry> rows = Rows("final", 20000);
    std::vector<IndexEntry> twice = rows;
    twice.insert(twice.end(), rows.begin(), rows.end());
    twice.push_back(Quantity("value", 5.5, "mmol/L"));
    twice.push_back(Quantity("value", 5.5, "mg/dL"));  // another code: another row
    MA_RETURN_IF_ERROR(tx.PutVersion(resource, twice));
    // The same rows again, buffered in the same transaction.
    MA_RETURN_IF_ERROR(tx.ReplaceIndex("Observation", "o1", twice));
    return tx.ReplaceIndex("Observation", "o1", twice);
  }));
  EXPECT_EQ(AllRows(), 6);
  EXPECT_EQ(Count("SELECT COUNT(*) FROM index_quantity WHERE id = 'o1'"), 2);
  // Rows that are stored already (left by a resource removed behind the store's back) are
  // skipped too.
  ASSERT_TRUE(store_->Write([&](WriteTx& tx) -> core::Status {
    MA_RETURN_IF_ERROR(tx.Execute({"DELETE FROM current_resources", {}}));
    MA_RETURN_IF_ERROR(tx.Execute({"DELETE FROM resources", {}}));
    StoredResource resource = MakeResource("Observation", "o1", 1, 1000);
    std::vector<IndexEntry> rows = Rows("final", 20000);
    rows.push_back(Token("extra", "s", "new"));
    return tx.PutVersion(resource, rows);
  }));
  EXPECT_EQ(AllRows(), 7);
}

}  // namespace
}  // namespace medalliance::store
