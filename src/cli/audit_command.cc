#include "cli/audit_command.h"

#include <cstdio>
#include <filesystem>

#include "audit/audit.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::cli {

int RunAuditVerify(const std::string& db) {
  if (!std::filesystem::exists(db)) {
    std::fprintf(stderr, "audit verify: %s does not exist\n", db.c_str());
    return 2;
  }
  store::SqliteOptions options;
  options.path = db;
  auto opened = store::SqliteStore::Open(options);
  if (!opened) {
    std::fprintf(stderr, "audit verify: %s\n", opened.error().GetMessage().c_str());
    return 2;
  }
  auto report = audit::VerifyChain(**opened);
  if (!report) {
    std::fprintf(stderr, "audit verify: %s\n", report.error().GetMessage().c_str());
    return 2;
  }
  for (const std::string& problem : report->problems) {
    std::printf("TAMPERED %s\n", problem.c_str());
  }
  if (!report->ok()) {
    std::printf("audit chain BROKEN: %zu problem(s) in %lld link(s)\n", report->problems.size(),
                static_cast<long long>(report->links));
    return 1;
  }
  std::printf("audit chain ok: %lld link(s), head %s\n", static_cast<long long>(report->links),
              report->head.empty() ? "(empty)" : report->head.c_str());
  return 0;
}

}  // namespace medalliance::cli
