#pragma once
// `medalliance audit verify --db FILE [--anchor FILE] [--expect-head [POSITION:]HASH]`:
// recomputes the AuditEvent hash chain and reports any altered, removed, inserted or reordered
// entry; with anchors (the server's --audit-anchor file, a head recorded earlier) also the
// removal of the newest entries. Exit 0 when intact, 1 when not, 2 on error.

#include <string>
#include <vector>

namespace medalliance::cli {

int RunAuditVerify(const std::string& db, const std::string& anchor_file = {},
                   const std::vector<std::string>& expected_heads = {});

}  // namespace medalliance::cli
