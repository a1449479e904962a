// `medalliance audit verify` on a database written by the server: intact, then with its
// AuditEvent rows edited, deleted and swapped directly in SQLite.

#include <filesystem>
#include <string>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "integration/server_util.h"

namespace medalliance::integration {
namespace {

void Sql(const std::filesystem::path& db, const std::string& sql) {
  sqlite3* handle = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &handle), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(handle, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(handle);
}

std::string AtPosition(int position) {
  return "(SELECT sequence FROM audit_chain WHERE position = " + std::to_string(position) + ")";
}

class AuditVerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    written_ = dir_.Path() / "written.db";
    {
      TestServer server(written_);
      HttpClient client("127.0.0.1", server.Port());
      for (int i = 0; i < 4; ++i) {
        Json patient = {{"resourceType", "Patient"},
                        {"name", {{{"family", "审计"}, {"given", {std::to_string(i)}}}}}};
        Response response = client.Send("POST", "/Patient", patient.dump(), FhirJson());
        ASSERT_EQ(response.status, 201) << response.body;
      }
      Response refused = client.Send("DELETE", "/AuditEvent/anything");
      EXPECT_EQ(refused.status, 405) << refused.body;
    }
    Sql(written_, "PRAGMA wal_checkpoint(TRUNCATE)");
  }

  // A copy of the written database to tamper with.
  std::filesystem::path Copy(const std::string& name) {
    std::filesystem::path copy = dir_.Path() / (name + ".db");
    std::filesystem::copy_file(written_, copy);
    return copy;
  }

  int Verify(const std::filesystem::path& db, std::string* output) {
    return RunProgram({"audit", "verify", "--db", db.string()}, output);
  }

  TempDir dir_;
  std::filesystem::path written_;
};

TEST_F(AuditVerifyTest, TheServersChainVerifies) {
  std::string output;
  EXPECT_EQ(Verify(written_, &output), 0) << output;
  EXPECT_NE(output.find("audit chain ok: 4 link(s)"), std::string::npos) << output;
}

TEST_F(AuditVerifyTest, AnEditedRowIsDetectedAndNamed) {
  std::filesystem::path db = Copy("edited");
  Sql(db,
      "UPDATE resources SET json = replace(json, '\"action\":\"C\"', '\"action\":\"R\"') "
      "WHERE sequence = " +
          AtPosition(2));
  std::string output;
  EXPECT_EQ(Verify(db, &output), 1) << output;
  EXPECT_NE(output.find("position 2 "), std::string::npos) << output;
}

TEST_F(AuditVerifyTest, ADeletedRowIsDetectedAndNamed) {
  std::filesystem::path db = Copy("deleted");
  Sql(db, "DELETE FROM resources WHERE sequence = " + AtPosition(3));
  std::string output;
  EXPECT_EQ(Verify(db, &output), 1) << output;
  EXPECT_NE(output.find("position 3 "), std::string::npos) << output;
  Sql(db, "DELETE FROM audit_chain WHERE position = 3");
  EXPECT_EQ(Verify(db, &output), 1) << output;
  EXPECT_NE(output.find("position 3: removed"), std::string::npos) << output;
}

TEST_F(AuditVerifyTest, SwappedRowsAreDetected) {
  std::filesystem::path db = Copy("swapped");
  std::string pair = "(" + AtPosition(1) + ", " + AtPosition(2) + ")";
  Sql(db, "CREATE TABLE swap AS SELECT sequence, json FROM resources WHERE sequence IN " + pair +
              "; UPDATE resources SET json = (SELECT s.json FROM swap s WHERE s.sequence != "
              "resources.sequence) WHERE sequence IN " +
              pair + "; DROP TABLE swap;");
  std::string output;
  EXPECT_EQ(Verify(db, &output), 1) << output;
  EXPECT_NE(output.find("position 1 "), std::string::npos) << output;
  EXPECT_NE(output.find("position 2 "), std::string::npos) << output;
}

TEST_F(AuditVerifyTest, ReorderedChainLinksAreDetected) {
  std::filesystem::path db = Copy("reordered");
  Sql(db,
      "UPDATE audit_chain SET position = -1 WHERE position = 1;"
      "UPDATE audit_chain SET position = 1 WHERE position = 2;"
      "UPDATE audit_chain SET position = 2 WHERE position = -1;");
  std::string output;
  EXPECT_EQ(Verify(db, &output), 1) << output;
  EXPECT_NE(output.find("position 1 "), std::string::npos) << output;
}

}  // namespace
}  // namespace medalliance::integration
