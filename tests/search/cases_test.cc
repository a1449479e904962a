// Runs the search case files tests/search/*.test (format in tests/search/README.md) against
// an in-memory SQLite store: adding a case needs no C++.

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "core/time.h"
#include "fhir/json/json.h"
#include "search/search.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::search {
namespace {

using fhir::Json;

std::string Decode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::string Trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> out;
  std::istringstream in{std::string(text)};
  std::string word;
  while (in >> word) {
    if (word != "(none)")
      out.push_back(word);
  }
  return out;
}

struct Case {
  std::string file;
  int line = 0;
  std::string query;
  bool strict = false;
  std::optional<std::vector<std::string>> expect;
  bool ordered = false;
  std::optional<std::vector<std::string>> include;
  std::optional<std::string> error;
  std::optional<int64_t> total;
  std::optional<std::vector<std::string>> ignored;
};

class CaseRunner {
 public:
  explicit CaseRunner(std::string file) : file_(std::move(file)) {
    auto store = store::SqliteStore::Open(store::SqliteOptions{});
    EXPECT_TRUE(store.has_value());
    store_ = std::move(*store);
  }

  void AddResource(const std::string& text, int line) {
    auto json = fhir::ParseJson(text);
    ASSERT_TRUE(json.has_value()) << file_ << ":" << line << " bad JSON";
    store::StoredResource resource;
    resource.type = std::string(json->GetStringMember("resourceType"));
    resource.id = std::string(json->GetStringMember("id"));
    resource.method = "PUT";
    resource.last_updated = 1704067200000;  // 2024-01-01
    if (const Json* meta = json->Find("meta")) {
      if (auto at = core::ParseFhirDateTime(meta->GetStringMember("lastUpdated"))) {
        resource.last_updated = at->low;
      }
    }
    std::vector<store::IndexEntry> index = searcher_.Index(*json);
    resource.json = fhir::WriteJson(*json);
    auto status = store_->Write([&](store::WriteTx& tx) -> core::Status {
      MA_ASSIGN_OR_RETURN(auto current, tx.ReadCurrent(resource.type, resource.id));
      resource.version = current ? current->version + 1 : 1;
      return tx.PutVersion(resource, index);
    });
    ASSERT_TRUE(status.has_value()) << file_ << ":" << line << " " << status.error().GetMessage();
  }

  void Run(const Case& c) {
    SCOPED_TRACE(c.file + ":" + std::to_string(c.line) + " " + c.query);
    SearchRequest request;
    size_t question = c.query.find('?');
    std::string path = c.query.substr(0, question);
    if (size_t slash = path.find('/'); slash != std::string::npos) {  // Patient/p1/Observation
      size_t second = path.find('/', slash + 1);
      request.compartment =
          Compartment{path.substr(0, slash), path.substr(slash + 1, second - slash - 1)};
      path = path.substr(second + 1);
    }
    request.type = path;
    request.strict = c.strict;
    request.base_url = "http://example.org/fhir";
    request.now_millis = 1710892800000;  // 2024-03-20T00:00:00Z
    if (question != std::string::npos) {
      std::string query = c.query.substr(question + 1);
      size_t start = 0;
      while (start <= query.size()) {
        size_t amp = query.find('&', start);
        std::string pair = query.substr(start, amp == std::string::npos ? amp : amp - start);
        size_t eq = pair.find('=');
        if (!pair.empty()) {
          request.params.emplace_back(Decode(pair.substr(0, eq)),
                                      eq == std::string::npos ? "" : Decode(pair.substr(eq + 1)));
        }
        if (amp == std::string::npos)
          break;
        start = amp + 1;
      }
    }
    core::Result<SearchPage> result = core::Error::Internal("not run");
    auto status = store_->Read([&](store::ReadTx& tx) -> core::Status {
      result = searcher_.Search(tx, request);
      return {};
    });
    ASSERT_TRUE(status.has_value());
    if (c.error.has_value()) {
      ASSERT_FALSE(result.has_value()) << "expected an error naming " << *c.error;
      EXPECT_EQ(result.error().GetCode(), core::ErrorCode::kBadRequest);
      EXPECT_NE(result.error().GetMessage().find(*c.error), std::string::npos)
          << result.error().GetMessage();
      return;
    }
    ASSERT_TRUE(result.has_value()) << result.error().GetMessage();
    if (c.expect.has_value()) {
      std::vector<std::string> ids;
      for (const auto& m : result->matches) ids.push_back(m.id);
      std::vector<std::string> expected = *c.expect;
      if (!c.ordered) {
        std::sort(ids.begin(), ids.end());
        std::sort(expected.begin(), expected.end());
      }
      EXPECT_EQ(ids, expected);
    }
    if (c.include.has_value()) {
      std::vector<std::string> ids;
      for (const auto& m : result->includes) ids.push_back(m.type + "/" + m.id);
      std::vector<std::string> expected = *c.include;
      std::sort(ids.begin(), ids.end());
      std::sort(expected.begin(), expected.end());
      EXPECT_EQ(ids, expected);
    }
    if (c.ignored.has_value()) {
      EXPECT_EQ(result->ignored, *c.ignored);
    }
    if (c.total.has_value()) {
      ASSERT_TRUE(result->total.has_value());
      EXPECT_EQ(*result->total, *c.total);
    }
  }

 private:
  std::string file_;
  std::unique_ptr<store::SqliteStore> store_;
  Searcher searcher_;
};

std::vector<std::filesystem::path> CaseFiles() {
  std::vector<std::filesystem::path> out;
  std::filesystem::path dir = std::filesystem::path(__FILE__).parent_path();
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".test")
      out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class CaseFileTest : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(CaseFileTest, Passes) {
  std::ifstream in(GetParam());
  std::string name = GetParam().filename().string();
  CaseRunner runner(name);
  std::optional<Case> pending;
  bool strict = false;
  int cases = 0;
  auto flush = [&]() {
    if (pending) {
      runner.Run(*pending);
      ++cases;
    }
    pending.reset();
  };
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    std::string trimmed = Trim(line);
    if (trimmed.empty() || trimmed[0] == '#')
      continue;
    size_t colon = trimmed.find(':');
    ASSERT_NE(colon, std::string::npos) << name << ":" << number << " expected 'key: value'";
    std::string key = trimmed.substr(0, colon);
    std::string value = Trim(std::string_view(trimmed).substr(colon + 1));
    if (key == "resource") {
      flush();
      runner.AddResource(value, number);
    } else if (key == "strict") {
      flush();
      strict = value == "on";
    } else if (key == "search") {
      flush();
      pending = Case{name, number, value, strict};
    } else {
      ASSERT_TRUE(pending.has_value())
          << name << ":" << number << " '" << key << "' before any 'search:'";
      if (key == "expect" || key == "expect-ordered") {
        pending->expect = Words(value);
        pending->ordered = key == "expect-ordered";
      } else if (key == "include") {
        pending->include = Words(value);
      } else if (key == "error") {
        pending->error = value;
      } else if (key == "ignored") {
        pending->ignored = Words(value);
      } else if (key == "total") {
        pending->total = std::stoll(value);
      } else {
        FAIL() << name << ":" << number << " unknown key '" << key << "'";
      }
    }
  }
  flush();
  EXPECT_GT(cases, 0);
  std::cout << name << ": " << cases << " cases\n";
}

INSTANTIATE_TEST_SUITE_P(Files, CaseFileTest, ::testing::ValuesIn(CaseFiles()),
                         [](const auto& param_info) {
                           std::string n = param_info.param.stem().string();
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
}  // namespace medalliance::search
