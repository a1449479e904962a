#include "auth/password.h"

#include <argon2.h>

#include "auth/jose.h"

namespace medalliance::auth {

core::Result<std::string> HashPassword(std::string_view password, PasswordCost cost) {
  if (password.empty())
    return core::Error::BadRequest("the password is empty");
  constexpr size_t kSaltBytes = 16;
  constexpr size_t kHashBytes = 32;
  std::string salt = RandomBytes(kSaltBytes);
  size_t length = argon2_encodedlen(cost.time, cost.memory_kib, cost.parallelism, kSaltBytes,
                                    kHashBytes, Argon2_id);
  std::string encoded(length, '\0');
  int rc = argon2id_hash_encoded(cost.time, cost.memory_kib, cost.parallelism, password.data(),
                                 password.size(), salt.data(), salt.size(), kHashBytes,
                                 encoded.data(), encoded.size());
  if (rc != ARGON2_OK)
    return core::Error::Internal(std::string("argon2: ") + argon2_error_message(rc));
  encoded.resize(encoded.find('\0'));
  return encoded;
}

bool VerifyPassword(std::string_view password, const std::string& encoded) {
  if (!encoded.starts_with("$argon2id$"))
    return false;
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

}  // namespace medalliance::auth
