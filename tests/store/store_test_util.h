#pragma once
// Helpers shared by the storage tests.

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "store/store.h"

namespace medalliance::store::testing {

// A fresh directory under the test temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "ma_store_XXXXXX";
    char* made = mkdtemp(pattern.data());
    EXPECT_NE(made, nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code error;
    std::filesystem::remove_all(path_, error);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& Path() const { return path_; }

 private:
  std::string path_;
};

inline StoredResource MakeResource(std::string type, std::string id, int64_t version,
                                   core::EpochMillis last_updated, std::string json = {},
                                   std::string method = "PUT") {
  StoredResource resource;
  resource.type = std::move(type);
  resource.id = std::move(id);
  resource.version = version;
  resource.last_updated = last_updated;
  resource.method = std::move(method);
  if (json.empty()) {
    json = R"({"resourceType":")" + resource.type + R"(","id":")" + resource.id +
           R"(","meta":{"versionId":")" + std::to_string(version) + R"("}})";
  }
  resource.json = std::move(json);
  return resource;
}

inline StoredResource MakeDeleteMarker(std::string type, std::string id, int64_t version,
                                       core::EpochMillis last_updated) {
  StoredResource resource =
      MakeResource(std::move(type), std::move(id), version, last_updated, "{}", "DELETE");
  resource.deleted = true;
  resource.json.clear();
  return resource;
}

// A token index row of `param` (system|value).
inline IndexEntry Token(std::string param, std::string system, std::string value) {
  IndexEntry entry;
  entry.param = std::move(param);
  entry.kind = IndexKind::kToken;
  entry.system = std::move(system);
  entry.value = std::move(value);
  return entry;
}

}  // namespace medalliance::store::testing
