#include "registry/internal/parse_cache.h"

#include <mutex>
#include <unordered_map>

namespace medalliance::registry::internal {
namespace {

struct Cache {
  std::mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<const fhir::Json>> entries;
};

Cache& GetCache() {
  static Cache* cache = new Cache();  // never destroyed: used until the process ends
  return *cache;
}

}  // namespace

core::Result<std::shared_ptr<const fhir::Json>> ParseCached(const std::string& json) {
  Cache& cache = GetCache();
  {
    std::lock_guard<std::mutex> lock(cache.mutex);
    auto it = cache.entries.find(json);
    if (it != cache.entries.end())
      return it->second;
  }
  MA_ASSIGN_OR_RETURN(fhir::Json parsed, fhir::ParseJson(json));
  auto shared = std::make_shared<const fhir::Json>(std::move(parsed));
  std::lock_guard<std::mutex> lock(cache.mutex);
  if (cache.entries.size() >= kMaxParsedEntries)
    cache.entries.clear();
  cache.entries.emplace(json, shared);
  return shared;
}

}  // namespace medalliance::registry::internal
