// ReadFileContents: the importer's (and `fhirpath --file`'s) file reader.

#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <stdlib.h>
#include <zstd.h>

#include "cli/import.h"

namespace medalliance::cli {
namespace {

class ReadFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "ma-read-file-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& bytes) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }

  static std::string Compress(const std::string& text) {
    std::string out(ZSTD_compressBound(text.size()), '\0');
    size_t size = ZSTD_compress(out.data(), out.size(), text.data(), text.size(), 3);
    EXPECT_FALSE(ZSTD_isError(size));
    out.resize(size);
    return out;
  }

  // Bytes of every value, a JSON document over several read sizes.
  static std::string Sample(size_t size) {
    std::string text;
    for (size_t i = 0; text.size() < size; ++i) text.push_back(static_cast<char>(i * 7 % 256));
    text.resize(size);
    return text;
  }

  std::filesystem::path dir_;
};

TEST_F(ReadFileTest, ReadsPlainFilesWhole) {
  for (size_t size : {size_t{1}, size_t{4095}, size_t{65536}, size_t{1000003}}) {
    std::string text = Sample(size);
    auto read = ReadFileContents(Write("plain-" + std::to_string(size) + ".json", text));
    ASSERT_TRUE(read.has_value()) << read.error().GetMessage();
    EXPECT_EQ(*read, text) << size;
  }
}

TEST_F(ReadFileTest, ReadsAnEmptyFileAsEmpty) {
  auto read = ReadFileContents(Write("empty.json", ""));
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(*read, "");
}

TEST_F(ReadFileTest, DecompressesZstdIncludingConcatenatedFrames) {
  std::string text = Sample(300000);
  auto read = ReadFileContents(Write("one.json.zst", Compress(text)));
  ASSERT_TRUE(read.has_value()) << read.error().GetMessage();
  EXPECT_EQ(*read, text);
  read =
      ReadFileContents(Write("two.ndjson.zst", Compress("{\"a\":1}\n") + Compress("{\"b\":2}\n")));
  ASSERT_TRUE(read.has_value()) << read.error().GetMessage();
  EXPECT_EQ(*read, "{\"a\":1}\n{\"b\":2}\n");
}

TEST_F(ReadFileTest, BadZstdIsABadRequest) {
  auto read = ReadFileContents(Write("bad.json.zst", "this is not zstd data"));
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().GetCode(), core::ErrorCode::kBadRequest);
  EXPECT_NE(read.error().GetMessage().find("bad zstd data"), std::string::npos);
}

TEST_F(ReadFileTest, AMissingFileIsNotFound) {
  auto read = ReadFileContents((dir_ / "missing.json").string());
  ASSERT_FALSE(read.has_value());
  EXPECT_EQ(read.error().GetCode(), core::ErrorCode::kNotFound);
  EXPECT_NE(read.error().GetMessage().find("missing.json"), std::string::npos);
}

TEST_F(ReadFileTest, ReadsFilesWithoutAKnownSize) {
  // /proc files report size 0 and are read until their end.
  auto read = ReadFileContents("/proc/self/status");
  ASSERT_TRUE(read.has_value());
  EXPECT_NE(read->find("Name:"), std::string::npos);
  EXPECT_GT(read->size(), 100u);
}

}  // namespace
}  // namespace medalliance::cli
