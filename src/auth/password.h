#pragma once
// Password hashing for people's accounts: argon2id (libargon2), memory-hard, with a random
// 16-byte salt, stored as the standard encoded string ($argon2id$v=19$m=...,t=...,p=...$...).
//
// Thread-safety: free functions.

#include <string>
#include <string_view>

#include "core/result.h"

namespace medalliance::auth {

struct PasswordCost {
  uint32_t time = 2;            // iterations
  uint32_t memory_kib = 19456;  // 19 MiB (OWASP's argon2id baseline)
  uint32_t parallelism = 1;
};

// Errors: kBadRequest for an empty password; kInternal when argon2 fails.
core::Result<std::string> HashPassword(std::string_view password, PasswordCost cost = {});
// True when `password` matches `encoded` (parameters are read from `encoded`).
bool VerifyPassword(std::string_view password, const std::string& encoded);

}  // namespace medalliance::auth
