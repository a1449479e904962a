#pragma once
// The access rules on the write path: runs first among the write hooks, for writes made for
// a request. Refuses writes the Policy refuses and stamps the owner label (Policy::CheckWrite).
//
// A write a domain module makes for the request (WriteEvent::origin set: the referral's
// Encounter and ServiceRequest status, the MPI's Persons and Tasks) is the server's decision,
// taken by the module on a write this hook already let the caller make: it is not checked
// again and its owner stays what it was (a stored label, or the one OwnerOf() derives from the
// content), so a receiver completing a referral does not take over the sender's
// ServiceRequest.

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
    if (event.caller == nullptr || !event.origin.empty())
      return {};
    return policy_.CheckWrite(tx, *event.caller, event.type, event.resource, event.previous);
  }

 private:
  const Policy& policy_;
};

}  // namespace medalliance::access
