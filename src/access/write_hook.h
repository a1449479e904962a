#pragma once
// The access rules on the write path: runs first among the write hooks, for writes made for
// a request. Refuses writes the Policy refuses and stamps the owner label (Policy::CheckWrite).

#include <string>
#include <vector>

#include "access/policy.h"
#include "store/hooks.h"

namespace medalliance::access {

class AccessWriteHook final : public store::WriteHook {
 public:
  explicit AccessWriteHook(const Policy& policy) : policy_(policy) {}
  std::vector<std::string> Types() const override { return {}; }
  bool CallerOnly() const override { return true; }
  core::Status BeforeWrite(store::WriteTx& tx, store::WriteEvent& event) override {
    if (event.caller == nullptr)
      return {};
    return policy_.CheckWrite(tx, *event.caller, event.type, event.resource, event.previous);
  }

 private:
  const Policy& policy_;
};

}  // namespace medalliance::access
