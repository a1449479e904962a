// `medalliance fhirpath EXPRESSION [FILE]` on the spec's Patient example.

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "integration/server_util.h"

namespace medalliance::integration {
namespace {

const std::string kPatient = (std::filesystem::path(MA_SHARED_DATA_DIR) / "fhir-r4-spec-examples" /
                              "resources" / "Patient-example.json")
                                 .string();

std::string ShellQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

struct ProgramRun {
  int exit_code = -1;
  std::string stdout_text;
  std::string stderr_text;
};

// Runs `medalliance fhirpath ARGS [< stdin_file]`, capturing stdout and stderr apart.
ProgramRun RunFhirPath(const std::vector<std::string>& args, const std::string& stdin_file = "") {
  TempDir dir;
  std::filesystem::path err = dir.Path() / "stderr";
  std::string command = std::string(MA_BINARY) + " fhirpath";
  for (const std::string& arg : args) {
    command += ' ';
    command += ShellQuote(arg);
  }
  if (!stdin_file.empty()) {
    command += " < ";
    command += ShellQuote(stdin_file);
  }
  command += " 2> ";
  command += ShellQuote(err.string());
  ProgramRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr)
    return run;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    run.stdout_text.append(buffer.data(), n);
  }
  int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  FILE* err_file = std::fopen(err.c_str(), "r");
  if (err_file != nullptr) {
    while ((n = fread(buffer.data(), 1, buffer.size(), err_file)) > 0) {
      run.stderr_text.append(buffer.data(), n);
    }
    std::fclose(err_file);
  }
  return run;
}

Json Output(const ProgramRun& run) {
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  return Json::parse(run.stdout_text, nullptr, /*allow_exceptions=*/false);
}

TEST(FhirPathCliTest, PrintsStringsAsJsonArray) {
  ProgramRun run = RunFhirPath({"Patient.name.where(use = 'official').given", kPatient});
  EXPECT_EQ(run.stdout_text, "[\"Peter\",\"James\"]\n");
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
}

TEST(FhirPathCliTest, PrintsNodesAsTheirJson) {
  Json out = Output(RunFhirPath({"Patient.name.first()", kPatient}));
  ASSERT_TRUE(out.is_array());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]["family"], "Chalmers");
  EXPECT_EQ(out[0]["given"], Json::array({"Peter", "James"}));
}

TEST(FhirPathCliTest, PrintsSystemValues) {
  // Decimals keep their text (1.50), so compare the text rather than a parsed value.
  ProgramRun run = RunFhirPath(
      {"Patient.active | Patient.name.count() | Patient.birthDate | (5 'mg') | 1.50", kPatient});
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_EQ(run.stdout_text, "[true,3,\"1974-12-25\",\"5 'mg'\",1.50]\n");
}

TEST(FhirPathCliTest, EmptyResultIsEmptyArray) {
  ProgramRun run = RunFhirPath({"Patient.maritalStatus", kPatient});
  EXPECT_EQ(run.exit_code, 0);
  EXPECT_EQ(run.stdout_text, "[]\n");
}

TEST(FhirPathCliTest, ReadsStandardInput) {
  ProgramRun dash = RunFhirPath({"Patient.gender", "-"}, kPatient);
  EXPECT_EQ(dash.exit_code, 0) << dash.stderr_text;
  EXPECT_EQ(dash.stdout_text, "[\"male\"]\n");
  ProgramRun absent = RunFhirPath({"Patient.gender"}, kPatient);
  EXPECT_EQ(absent.stdout_text, "[\"male\"]\n");
}

TEST(FhirPathCliTest, PrettyIndents) {
  ProgramRun run = RunFhirPath({"--pretty", "Patient.name.first()", kPatient});
  EXPECT_EQ(run.exit_code, 0) << run.stderr_text;
  EXPECT_NE(run.stdout_text.find("\n  "), std::string::npos) << run.stdout_text;
  EXPECT_TRUE(Json::accept(run.stdout_text));
}

TEST(FhirPathCliTest, SyntaxErrorExitsOne) {
  ProgramRun run = RunFhirPath({"Patient.name.where(", kPatient});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.stdout_text, "");
  EXPECT_NE(run.stderr_text.find("syntax error"), std::string::npos) << run.stderr_text;
}

TEST(FhirPathCliTest, EvaluationErrorExitsOne) {
  ProgramRun run = RunFhirPath({"Patient.name.given.single()", kPatient});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.stderr_text.find("medalliance fhirpath:"), std::string::npos) << run.stderr_text;
}

TEST(FhirPathCliTest, BadInputExitsOne) {
  TempDir dir;
  std::filesystem::path bad = dir.Path() / "bad.json";
  FILE* file = std::fopen(bad.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fputs("{\"resourceType\": ", file);
  std::fclose(file);
  ProgramRun run = RunFhirPath({"Patient.id", bad.string()});
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_NE(run.stderr_text.find("not JSON"), std::string::npos) << run.stderr_text;

  ProgramRun missing = RunFhirPath({"Patient.id", (dir.Path() / "absent.json").string()});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.stderr_text.find("cannot read"), std::string::npos) << missing.stderr_text;
}

}  // namespace
}  // namespace medalliance::integration
