// `medalliance audit verify` on a database written by the server: intact, then with its
// AuditEvent rows edited, deleted and swapped directly in SQLite; and the removal of the newest
// entries with their links, detected against the server's anchor file or an expected head.

#include <filesystem>
#include <fstream>
#include <sstream>
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

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(AuditAnchorTest, DeletingTheNewestEntriesIsDetectedAgainstTheAnchor) {
  TempDir dir;
  std::filesystem::path db = dir.Path() / "anchored.db";
  std::filesystem::path anchor = dir.Path() / "anchor" / "chain.anchor";
  std::filesystem::create_directories(anchor.parent_path());
  {
    TestServer server(
        db, {"--auth", "none", "--audit-anchor", anchor.string(), "--audit-anchor-interval", "1"});
    HttpClient client("127.0.0.1", server.Port());
    for (int i = 0; i < 3; ++i) {
      Json patient = {{"resourceType", "Patient"},
                      {"name", {{{"family", "锚点"}, {"given", {std::to_string(i)}}}}}};
      Response response = client.Send("POST", "/Patient", patient.dump(), FhirJson());
      ASSERT_EQ(response.status, 201) << response.body;
    }
  }  // stopping writes the final head
  std::string lines = ReadText(anchor);
  ASSERT_FALSE(lines.empty());
  size_t last_line = lines.rfind('\n', lines.size() - 2);
  last_line = last_line == std::string::npos ? 0 : last_line + 1;
  EXPECT_EQ(lines.substr(last_line, 2), "3 ") << lines;  // the head, anchored last
  std::string output;
  ASSERT_EQ(
      RunProgram({"audit", "verify", "--db", db.string(), "--anchor", anchor.string()}, &output), 0)
      << output;
  EXPECT_NE(output.find("anchors match"), std::string::npos) << output;
  // The head as verify prints it, for --expect-head.
  size_t at = output.find("head ");
  ASSERT_NE(at, std::string::npos) << output;
  std::string head = output.substr(at + 5, output.find_first_of(";\n", at) - at - 5);
  EXPECT_EQ(head.substr(0, 2), "3:") << head;

  // Truncate the trail: the newest AuditEvent goes together with its chain link.
  Sql(db, "DELETE FROM resources WHERE sequence = " + AtPosition(3) +
              "; DELETE FROM current_resources WHERE type = 'AuditEvent' AND id = (SELECT "
              "resource_id FROM audit_chain WHERE position = 3); DELETE FROM audit_chain WHERE "
              "position = 3;");
  EXPECT_EQ(RunProgram({"audit", "verify", "--db", db.string()}, &output), 0)
      << "without an anchor the shortened chain is self-consistent: " << output;
  EXPECT_EQ(
      RunProgram({"audit", "verify", "--db", db.string(), "--anchor", anchor.string()}, &output), 1)
      << output;
  EXPECT_NE(output.find("TAMPERED position 3: removed from the end of the chain"),
            std::string::npos)
      << output;
  EXPECT_EQ(RunProgram({"audit", "verify", "--db", db.string(), "--expect-head", head}, &output), 1)
      << output;
  EXPECT_NE(output.find("TAMPERED position 3: removed from the end"), std::string::npos) << output;
  // A bare hash must be the hash of some link.
  EXPECT_EQ(RunProgram({"audit", "verify", "--db", db.string(), "--expect-head", head.substr(2)},
                       &output),
            1)
      << output;
  EXPECT_EQ(RunProgram({"audit", "verify", "--db", db.string(), "--expect-head", "3:xyz"}, &output),
            2)
      << output;
}

TEST(AuditAnchorTest, AnEarlierAnchorStillMatchesAGrownChain) {
  TempDir dir;
  std::filesystem::path db = dir.Path() / "grown.db";
  std::string head;
  std::string output;
  for (int run = 0; run < 2; ++run) {
    {
      TestServer server(db);
      HttpClient client("127.0.0.1", server.Port());
      Response response = client.Send("POST", "/Patient",
                                      R"({"resourceType":"Patient","gender":"male"})", FhirJson());
      ASSERT_EQ(response.status, 201) << response.body;
    }
    std::vector<std::string> args = {"audit", "verify", "--db", db.string()};
    if (!head.empty()) {
      args.emplace_back("--expect-head");
      args.push_back(head);
    }
    ASSERT_EQ(RunProgram(args, &output), 0) << output;
    size_t at = output.find("head ");
    head = output.substr(at + 5, output.find_first_of(";\n", at) - at - 5);
  }
  EXPECT_EQ(head.substr(0, 2), "2:") << output;
}

}  // namespace
}  // namespace medalliance::integration
