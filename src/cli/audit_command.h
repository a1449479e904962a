#pragma once
// `medalliance audit verify --db FILE`: recomputes the AuditEvent hash chain and reports any
// altered, removed, inserted or reordered entry. Exit 0 when intact, 1 when not, 2 on error.

#include <string>

namespace medalliance::cli {

int RunAuditVerify(const std::string& db);

}  // namespace medalliance::cli
