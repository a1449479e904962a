#pragma once
// The security tables (migration 0002: auth_clients, auth_users, auth_jti, auth_keys) behind
// a typed interface over store::Store. Nothing here is a FHIR resource.
//
// Thread-safety: as store::Store (any thread). Errors: kNotFound for an unknown client or
// user, kConflict when one with that id exists, and the store's own errors.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"
#include "store/store.h"

namespace medalliance::auth {

struct ClientRecord {
  std::string client_id;
  std::string organization_id;      // "Organization/<id>"
  std::string jwks;                 // JWK Set JSON; empty when jwks_path is used
  std::string jwks_path;            // a JWK Set file read at each token request
  std::vector<std::string> scopes;  // what it may be granted
  std::vector<std::string> roles;   // "system", and "break-glass" when allowed
  core::EpochMillis created_at = 0;
  std::optional<core::EpochMillis> revoked_at;
};

struct UserRecord {
  std::string username;
  std::string organization_id;
  std::string practitioner_id;
  std::string role;  // clinician, referral-coordinator, alliance-admin, data-steward, researcher
  std::string password_hash;
  bool break_glass = false;
  bool disabled = false;
  core::EpochMillis created_at = 0;
};

class AuthStore {
 public:
  explicit AuthStore(store::Store& store) : store_(store) {}

  core::Status AddClient(const ClientRecord& client);
  core::Result<std::optional<ClientRecord>> GetClient(const std::string& client_id);
  core::Result<std::vector<ClientRecord>> ListClients();
  core::Status RevokeClient(const std::string& client_id, core::EpochMillis now);

  core::Status AddUser(const UserRecord& user);
  core::Result<std::optional<UserRecord>> GetUser(const std::string& username);
  core::Result<std::vector<UserRecord>> ListUsers();
  core::Status SetUserDisabled(const std::string& username, bool disabled);
  core::Status SetUserPassword(const std::string& username, const std::string& password_hash);

  // Records an assertion id until `expires_at` (epoch seconds) and drops expired ones.
  // True when it was new, false when it was seen before (a replay).
  core::Result<bool> RecordJti(const std::string& client_id, const std::string& jti,
                               int64_t expires_at, int64_t now_seconds);

  // The token-signing key: loaded, or created (random, 32 bytes) and stored at first use.
  struct SigningKey {
    std::string kid;
    std::string secret;  // raw bytes
  };
  core::Result<SigningKey> LoadOrCreateSigningKey(core::EpochMillis now);

 private:
  store::Store& store_;
};

}  // namespace medalliance::auth
