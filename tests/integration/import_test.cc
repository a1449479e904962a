// `medalliance import` on real data: the 45 Synthea patients and NDJSON.

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>

#include "integration/server_util.h"

namespace medalliance::integration {
namespace {

const std::filesystem::path kSynthea = std::filesystem::path(MA_SHARED_DATA_DIR) /
                                       "synthea-r4-smart-generated-sample-data" / "bundles";

std::string Decompress(const std::filesystem::path& path) {
  std::string command = "zstd -dc '" + path.string() + "'";
  FILE* pipe = popen(command.c_str(), "r");
  std::string out;
  std::array<char, 65536> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  pclose(pipe);
  return out;
}

TEST(ImportTest, SyntheaPatientsImportCompletely) {
  // Expected counts come from the files themselves, read here with another JSON library.
  std::map<std::string, int> expected;
  int total = 0;
  for (const auto& file : std::filesystem::directory_iterator(kSynthea)) {
    Json bundle = Json::parse(Decompress(file.path()));
    for (const Json& entry : bundle["entry"]) {
      ++expected[entry["resource"]["resourceType"].get<std::string>()];
      ++total;
    }
  }
  ASSERT_EQ(expected["Patient"], 45);

  TempDir dir;
  std::string output;
  int code = RunProgram({"import", "--db", (dir.Path() / "synthea.db").string(), kSynthea.string()},
                        &output);
  EXPECT_EQ(code, 0) << output;
  EXPECT_NE(output.find("imported " + std::to_string(total) + " resources from 45 files"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("0 files failed"), std::string::npos) << output;

  TestServer server(dir.Path() / "synthea.db");
  HttpClient client("127.0.0.1", server.Port());
  for (const auto& [type, count] : expected) {
    Json result = ParseBody(client.Get("/" + type + "?_total=accurate&_count=0"));
    EXPECT_EQ(result["total"], count) << type;
  }
}

TEST(ImportTest, NdjsonAndSingleResourcesImportAndBadFilesAreNamed) {
  TempDir dir;
  std::filesystem::path data = dir.Path() / "in";
  std::filesystem::create_directories(data);
  {
    std::ofstream ndjson(data / "patients.ndjson");
    for (int i = 0; i < 25; ++i) {
      ndjson << R"({"resourceType":"Patient","id":"nd-)" << i << R"(","gender":"female"})"
             << "\n";
    }
  }
  std::ofstream(data / "single.json") << R"({"resourceType":"Organization","name":"示例医院"})";
  std::ofstream(data / "broken.json") << R"({"resourceType":"Patient",)";
  std::ofstream(data / "invalid.json") << R"({"resourceType":"Patient","gender":"mail"})";
  std::string output;
  int code = RunProgram(
      {"import", "--batch-size", "10", "--db", (dir.Path() / "x.db").string(), data.string()},
      &output);
  EXPECT_EQ(code, 2) << output;  // some files failed
  EXPECT_NE(output.find("broken.json: malformed JSON"), std::string::npos) << output;
  EXPECT_NE(output.find("invalid.json:"), std::string::npos) << output;
  EXPECT_NE(output.find("imported 26 resources from 4 files"), std::string::npos) << output;
  EXPECT_NE(output.find("2 files failed"), std::string::npos) << output;

  TestServer server(dir.Path() / "x.db");
  HttpClient client("127.0.0.1", server.Port());
  EXPECT_EQ(client.Get("/Patient/nd-24").status, 200);
  EXPECT_EQ(ParseBody(client.Get("/Organization?_total=accurate"))["total"], 1);
}

TEST(ImportTest, DemoAllianceLoadsOnFirstStartOnly) {
  TempDir dir;
  std::filesystem::path db = dir.Path() / "demo.db";
  std::string demo_dir = std::string(MA_SOURCE_DIR) + "/data/demo";
  int patients = 0;
  {
    TestServer server(db, {"--demo", "--demo-dir", demo_dir});
    HttpClient client("127.0.0.1", server.Port());
    patients = ParseBody(client.Get("/Patient?_total=accurate&_count=0"))["total"].get<int>();
    EXPECT_GT(patients, 0);
    EXPECT_EQ(client.Get("/Organization/alliance").status, 200);
  }
  TestServer again(db, {"--demo", "--demo-dir", demo_dir});
  HttpClient client("127.0.0.1", again.Port());
  EXPECT_EQ(ParseBody(client.Get("/Patient?_total=accurate&_count=0"))["total"], patients);
}

TEST(ProgramTest, VersionAndHelpOnEverySubcommand) {
  std::string output;
  EXPECT_EQ(RunProgram({"--version"}, &output), 0);
  EXPECT_NE(output.find("medalliance 0.1.0"), std::string::npos) << output;
  for (const char* command : {"serve", "import", "demo", "fhirpath"}) {
    EXPECT_EQ(RunProgram({command, "--help"}, &output), 0) << command;
    EXPECT_NE(output.find("Usage:"), std::string::npos) << command << ": " << output;
  }
  EXPECT_NE(RunProgram({"no-such-command"}, &output), 0);
}

TEST(ReindexTest, RebuildsLostIndexRows) {
  TempDir dir;
  std::filesystem::path db = dir.Path() / "reindex.db";
  std::string output;
  std::string demo_dir = std::string(MA_SOURCE_DIR) + "/data/demo";
  ASSERT_EQ(RunProgram({"import", "--db", db.string(), demo_dir}, &output), 0) << output;
  const std::string query = "/Observation?code=http://loinc.org|2345-7&_total=accurate&_count=0";
  int before = 0;
  {
    TestServer server(db);
    HttpClient client("127.0.0.1", server.Port());
    before = ParseBody(client.Get(query))["total"].get<int>();
  }
  ASSERT_GT(before, 0);
  // Lose every token row, as an index change or damage would.
  std::string command = "sqlite3 '" + db.string() + "' 'DELETE FROM index_token_rows'";
  ASSERT_EQ(std::system(command.c_str()), 0);
  {
    TestServer server(db);
    HttpClient client("127.0.0.1", server.Port());
    EXPECT_EQ(ParseBody(client.Get(query))["total"], 0);
  }
  ASSERT_EQ(RunProgram({"reindex", "--db", db.string(), "--batch-size", "7"}, &output), 0)
      << output;
  // The 91 demo resources plus the Persons the master patient index made for them.
  int reindexed = 0;
  ASSERT_EQ(std::sscanf(output.c_str(), "reindexed %d resources", &reindexed), 1) << output;
  EXPECT_GE(reindexed, 91);
  TestServer server(db);
  HttpClient client("127.0.0.1", server.Port());
  EXPECT_EQ(ParseBody(client.Get(query))["total"], before);
}

TEST(ImportTest, ShowsAProgressBarWithRateAndEtaOnATerminal) {
  // script(1) (bsdutils, essential in Debian) gives the importer a pseudo-terminal.
  TempDir dir;
  std::string demo_dir = std::string(MA_SOURCE_DIR) + "/data/demo";
  std::string command = "script -qec \"'" + std::string(MA_BINARY) + "' import --db '" +
                        (dir.Path() / "tty.db").string() + "' '" + demo_dir + "'\" /dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output.append(buffer.data(), n);
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_NE(output.find("[##############################] 100%"), std::string::npos) << output;
  EXPECT_NE(output.find("resources, "), std::string::npos) << output;
  EXPECT_NE(output.find("/s, ETA"), std::string::npos) << output;
}

}  // namespace
}  // namespace medalliance::integration
