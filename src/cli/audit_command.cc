#include "cli/audit_command.h"

#include <cstdio>
#include <filesystem>

#include "audit/audit.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::cli {

int RunAuditVerify(const std::string& db, const std::string& anchor_file,
                   const std::vector<std::string>& expected_heads) {
  if (!std::filesystem::exists(db)) {
    std::fprintf(stderr, "audit verify: %s does not exist\n", db.c_str());
    return 2;
  }
  std::vector<audit::ChainAnchor> anchors;
  if (!anchor_file.empty()) {
    auto read = audit::ReadAnchorFile(anchor_file);
    if (!read) {
      std::fprintf(stderr, "audit verify: %s\n", read.error().GetMessage().c_str());
      return 2;
    }
    anchors = std::move(*read);
  }
  for (const std::string& head : expected_heads) {
    auto anchor = audit::ParseAnchor(head);
    if (!anchor) {
      std::fprintf(stderr, "audit verify: --expect-head: %s\n",
                   anchor.error().GetMessage().c_str());
      return 2;
    }
    anchors.push_back(std::move(*anchor));
  }
  store::SqliteOptions options;
  options.path = db;
  auto opened = store::SqliteStore::Open(options);
  if (!opened) {
    std::fprintf(stderr, "audit verify: %s\n", opened.error().GetMessage().c_str());
    return 2;
  }
  auto report = audit::VerifyChain(**opened, anchors);
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
  std::printf("audit chain ok: %lld link(s), head %lld:%s%s\n",
              static_cast<long long>(report->links), static_cast<long long>(report->head_position),
              report->head.empty() ? "(empty)" : report->head.c_str(),
              anchors.empty() ? "" : "; anchors match");
  return 0;
}

}  // namespace medalliance::cli
