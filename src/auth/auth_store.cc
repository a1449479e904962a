#include "auth/auth_store.h"

#include "auth/jose.h"
#include "auth/scopes.h"

namespace medalliance::auth {

using core::Error;
using store::SqlQuery;
using store::SqlRow;
using store::SqlValue;

namespace {

std::string Text(const SqlValue& value) {
  if (const auto* text = std::get_if<std::string>(&value))
    return *text;
  if (const auto* number = std::get_if<int64_t>(&value))
    return std::to_string(*number);
  return {};
}

core::Status StatusOf(const core::Result<int64_t>& result) {
  if (!result)
    return result.error();
  return core::Ok{};
}

int64_t Int(const SqlValue& value) {
  if (const auto* number = std::get_if<int64_t>(&value))
    return *number;
  return 0;
}

constexpr std::string_view kClientColumns =
    "SELECT client_id, organization_id, jwks, jwks_path, scopes, roles, created_at, revoked_at "
    "FROM auth_clients";

ClientRecord ClientOf(const SqlRow& row) {
  ClientRecord client;
  client.client_id = Text(row[0]);
  client.organization_id = Text(row[1]);
  client.jwks = Text(row[2]);
  client.jwks_path = Text(row[3]);
  client.scopes = SplitScopes(Text(row[4]));
  client.roles = SplitScopes(Text(row[5]));
  client.created_at = Int(row[6]);
  if (!std::holds_alternative<std::monostate>(row[7]))
    client.revoked_at = Int(row[7]);
  return client;
}

constexpr std::string_view kUserColumns =
    "SELECT username, organization_id, practitioner_id, role, password_hash, break_glass, "
    "disabled, created_at FROM auth_users";

UserRecord UserOf(const SqlRow& row) {
  UserRecord user;
  user.username = Text(row[0]);
  user.organization_id = Text(row[1]);
  user.practitioner_id = Text(row[2]);
  user.role = Text(row[3]);
  user.password_hash = Text(row[4]);
  user.break_glass = Int(row[5]) != 0;
  user.disabled = Int(row[6]) != 0;
  user.created_at = Int(row[7]);
  return user;
}

}  // namespace

core::Status AuthStore::AddClient(const ClientRecord& client) {
  return store_.Write([&](store::WriteTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(auto existing,
                        tx.QueryRows(SqlQuery{"SELECT 1 FROM auth_clients WHERE client_id = ?1",
                                              {client.client_id}}));
    if (!existing.empty())
      return Error::Conflict("client '" + client.client_id + "' is already registered");
    return StatusOf(tx.Execute(SqlQuery{
        "INSERT INTO auth_clients (client_id, organization_id, jwks, jwks_path, scopes, roles,"
        " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        {client.client_id, client.organization_id, client.jwks, client.jwks_path,
         JoinScopes(client.scopes), JoinScopes(client.roles), int64_t{client.created_at}}}));
  });
}

core::Result<std::optional<ClientRecord>> AuthStore::GetClient(const std::string& client_id) {
  std::optional<ClientRecord> client;
  MA_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(
        auto rows,
        tx.QueryRows(SqlQuery{std::string(kClientColumns) + " WHERE client_id = ?1", {client_id}}));
    if (!rows.empty())
      client = ClientOf(rows.front());
    return {};
  }));
  return client;
}

core::Result<std::vector<ClientRecord>> AuthStore::ListClients() {
  std::vector<ClientRecord> clients;
  MA_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(
        auto rows, tx.QueryRows(SqlQuery{std::string(kClientColumns) + " ORDER BY client_id", {}}));
    for (const SqlRow& row : rows) clients.push_back(ClientOf(row));
    return {};
  }));
  return clients;
}

core::Status AuthStore::RevokeClient(const std::string& client_id, core::EpochMillis now) {
  return store_.Write([&](store::WriteTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(
        int64_t changed,
        tx.Execute(SqlQuery{"UPDATE auth_clients SET revoked_at = COALESCE(revoked_at, ?2)"
                            " WHERE client_id = ?1",
                            {client_id, int64_t{now}}}));
    if (changed == 0)
      return Error::NotFound("no client '" + client_id + "'");
    return {};
  });
}

core::Status AuthStore::AddUser(const UserRecord& user) {
  return store_.Write([&](store::WriteTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(
        auto existing,
        tx.QueryRows(SqlQuery{"SELECT 1 FROM auth_users WHERE username = ?1", {user.username}}));
    if (!existing.empty())
      return Error::Conflict("user '" + user.username + "' exists");
    return StatusOf(tx.Execute(
        SqlQuery{"INSERT INTO auth_users (username, organization_id, practitioner_id, role,"
                 " password_hash, break_glass, disabled, created_at)"
                 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                 {user.username, user.organization_id, user.practitioner_id, user.role,
                  user.password_hash, int64_t{user.break_glass ? 1 : 0},
                  int64_t{user.disabled ? 1 : 0}, int64_t{user.created_at}}}));
  });
}

core::Result<std::optional<UserRecord>> AuthStore::GetUser(const std::string& username) {
  std::optional<UserRecord> user;
  MA_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(
        auto rows,
        tx.QueryRows(SqlQuery{std::string(kUserColumns) + " WHERE username = ?1", {username}}));
    if (!rows.empty())
      user = UserOf(rows.front());
    return {};
  }));
  return user;
}

core::Result<std::vector<UserRecord>> AuthStore::ListUsers() {
  std::vector<UserRecord> users;
  MA_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(
        auto rows, tx.QueryRows(SqlQuery{std::string(kUserColumns) + " ORDER BY username", {}}));
    for (const SqlRow& row : rows) users.push_back(UserOf(row));
    return {};
  }));
  return users;
}

core::Status AuthStore::SetUserDisabled(const std::string& username, bool disabled) {
  return store_.Write([&](store::WriteTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(
        int64_t changed,
        tx.Execute(SqlQuery{"UPDATE auth_users SET disabled = ?2 WHERE username = ?1",
                            {username, int64_t{disabled ? 1 : 0}}}));
    if (changed == 0)
      return Error::NotFound("no user '" + username + "'");
    return {};
  });
}

core::Status AuthStore::SetUserPassword(const std::string& username,
                                        const std::string& password_hash) {
  return store_.Write([&](store::WriteTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(
        int64_t changed,
        tx.Execute(SqlQuery{"UPDATE auth_users SET password_hash = ?2 WHERE username = ?1",
                            {username, password_hash}}));
    if (changed == 0)
      return Error::NotFound("no user '" + username + "'");
    return {};
  });
}

core::Result<bool> AuthStore::RecordJti(const std::string& client_id, const std::string& jti,
                                        int64_t expires_at, int64_t now_seconds) {
  bool fresh = false;
  core::Status written = store_.Write([&](store::WriteTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(
        int64_t purged,
        tx.Execute(SqlQuery{"DELETE FROM auth_jti WHERE expires_at < ?1", {int64_t{now_seconds}}}));
    (void)purged;
    MA_ASSIGN_OR_RETURN(
        int64_t inserted,
        tx.Execute(SqlQuery{
            "INSERT OR IGNORE INTO auth_jti (client_id, jti, expires_at) VALUES (?1, ?2, ?3)",
            {client_id, jti, int64_t{expires_at}}}));
    fresh = inserted == 1;
    return {};
  });
  if (!written)
    return written.error();
  return fresh;
}

core::Result<AuthStore::SigningKey> AuthStore::LoadOrCreateSigningKey(core::EpochMillis now) {
  SigningKey key;
  MA_RETURN_IF_ERROR(store_.Write([&](store::WriteTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(auto rows, tx.QueryRows(SqlQuery{
                                       "SELECT kid, secret FROM auth_keys WHERE algorithm = 'HS256'"
                                       " ORDER BY created_at DESC LIMIT 1",
                                       {}}));
    if (!rows.empty()) {
      key.kid = Text(rows[0][0]);
      std::optional<std::string> secret = Base64UrlDecode(Text(rows[0][1]));
      if (!secret || secret->size() < 32)
        return Error::Internal("the stored token-signing key is damaged");
      key.secret = std::move(*secret);
      return {};
    }
    key.kid = Base64UrlEncode(RandomBytes(9));
    key.secret = RandomBytes(32);
    return StatusOf(
        tx.Execute(SqlQuery{"INSERT INTO auth_keys (kid, algorithm, secret, created_at)"
                            " VALUES (?1, 'HS256', ?2, ?3)",
                            {key.kid, Base64UrlEncode(key.secret), int64_t{now}}}));
  }));
  return key;
}

}  // namespace medalliance::auth
