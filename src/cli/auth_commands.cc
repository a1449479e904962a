#include "cli/auth_commands.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <termios.h>
#include <unistd.h>

#include "auth/jose.h"
#include "auth/password.h"
#include "auth/scopes.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/time.h"
#include "fhir/json/json.h"
#include "store/sql/schema.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::cli {

using fhir::Json;

struct AuthCli::Flags {
  std::string db = "var/medalliance.db";
  // client
  CLI::App* client = nullptr;
  CLI::App* client_add = nullptr;
  CLI::App* client_list = nullptr;
  CLI::App* client_revoke = nullptr;
  CLI::App* client_assertion = nullptr;
  std::string client_id;
  std::string organization;
  std::string jwks_file;
  std::string jwks_json;
  std::string generate_key;
  std::string scope;
  bool break_glass = false;
  std::string key_file;
  std::string audience;
  // user
  CLI::App* user = nullptr;
  CLI::App* user_add = nullptr;
  CLI::App* user_list = nullptr;
  CLI::App* user_disable = nullptr;
  CLI::App* user_enable = nullptr;
  CLI::App* user_passwd = nullptr;
  std::string username;
  std::string role;
  std::string practitioner;
  bool password_stdin = false;
};

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "medalliance: %s\n", message.c_str());
  return 1;
}

core::Result<std::unique_ptr<store::Store>> OpenStore(const std::string& db) {
  store::SqliteOptions options;
  options.path = db;
  MA_ASSIGN_OR_RETURN(auto sqlite, store::SqliteStore::Open(options));
  return std::unique_ptr<store::Store>(std::move(sqlite));
}

core::Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return core::Error::NotFound("cannot read " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// A JWK Set must have at least one public RS384 or ES384 key and no private parts.
core::Status CheckJwks(const std::string& text) {
  MA_ASSIGN_OR_RETURN(Json jwks, fhir::ParseJson(text));
  const Json* keys = jwks.Find("keys");
  if (keys == nullptr || !keys->IsArray() || keys->Size() == 0)
    return core::Error::BadRequest("the JWK Set needs a non-empty \"keys\" array");
  for (const Json& key : keys->Items()) {
    if (key.Find("d") != nullptr)
      return core::Error::BadRequest("the JWK Set holds a private key (\"d\"): give public keys");
    std::string_view kty = key.GetStringMember("kty");
    if (kty != "RSA" && kty != "EC")
      return core::Error::BadRequest("keys must be RSA (RS384) or EC P-384 (ES384)");
  }
  return core::Ok{};
}

// Reads a password: one line from stdin with --password-stdin, else a prompt without echo.
core::Result<std::string> ReadPassword(bool from_stdin) {
  std::string password;
  if (from_stdin || isatty(STDIN_FILENO) == 0) {
    std::getline(std::cin, password);
  } else {
    std::fprintf(stderr, "password: ");
    termios old_mode{};
    tcgetattr(STDIN_FILENO, &old_mode);
    termios quiet = old_mode;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::getline(std::cin, password);
    tcsetattr(STDIN_FILENO, TCSANOW, &old_mode);
    std::fprintf(stderr, "\n");
  }
  while (!password.empty() && (password.back() == '\r' || password.back() == '\n'))
    password.pop_back();
  if (password.empty())
    return core::Error::BadRequest("the password is empty");
  return password;
}

std::string Describe(const auth::ClientRecord& client) {
  return client.client_id + "\t" + client.organization_id + "\t" +
         (client.revoked_at ? "revoked " + core::FormatInstant(*client.revoked_at) : "active") +
         "\t" + auth::JoinScopes(client.scopes) + "\t" + auth::JoinScopes(client.roles);
}

int RunClient(AuthCli::Flags& flags, store::Store& store) {
  auth::AuthStore auth_store(store);
  const core::EpochMillis now = core::SystemClock::Get().Now();
  if (*flags.client_add) {
    auth::ClientRecord client;
    client.client_id = flags.client_id;
    client.organization_id = flags.organization;
    if (!client.organization_id.starts_with("Organization/"))
      return Fail("--organization must be Organization/<id>");
    if (!flags.generate_key.empty()) {
      if (!flags.jwks_file.empty() || !flags.jwks_json.empty())
        return Fail("--generate-key replaces --jwks and --jwks-json");
      auto pair = auth::GenerateKeyPair("ES384", flags.client_id + "-1");
      if (!pair)
        return Fail(pair.error().GetMessage());
      std::ofstream out(flags.generate_key, std::ios::binary | std::ios::trunc);
      out << pair->private_pem;
      out.close();
      if (!out)
        return Fail("cannot write " + flags.generate_key);
      std::error_code ignored;
      std::filesystem::permissions(
          flags.generate_key,
          std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, ignored);
      Json jwks = Json::MakeObject();
      jwks.Set("keys", Json::MakeArray()).PushBack(pair->public_jwk);
      flags.jwks_json = fhir::WriteJson(jwks);
    }
    if (flags.jwks_file.empty() == flags.jwks_json.empty())
      return Fail("give exactly one of --jwks FILE, --jwks-json TEXT and --generate-key FILE");
    std::string text = flags.jwks_json;
    if (!flags.jwks_file.empty()) {
      auto read = ReadFile(flags.jwks_file);
      if (!read)
        return Fail(read.error().GetMessage());
      text = *read;
      client.jwks_path = std::filesystem::absolute(flags.jwks_file).string();
    } else {
      client.jwks = text;
    }
    if (auto checked = CheckJwks(text); !checked)
      return Fail("JWKS: " + checked.error().GetMessage());
    client.scopes = auth::SplitScopes(flags.scope);
    for (const std::string& scope : client.scopes) {
      if (!auth::ParseScope(scope))
        return Fail("unsupported scope '" + scope + "' (system/<Type|*>.<cruds|read|write|*>)");
    }
    if (client.scopes.empty())
      return Fail("--scope is required, e.g. 'system/*.rs'");
    client.roles = {"system"};
    if (flags.break_glass)
      client.roles.emplace_back("break-glass");
    client.created_at = now;
    if (auto added = auth_store.AddClient(client); !added)
      return Fail(added.error().GetMessage());
    std::printf("registered client %s for %s\n", client.client_id.c_str(),
                client.organization_id.c_str());
    return 0;
  }
  if (*flags.client_list) {
    auto clients = auth_store.ListClients();
    if (!clients)
      return Fail(clients.error().GetMessage());
    for (const auth::ClientRecord& client : *clients) std::printf("%s\n", Describe(client).c_str());
    return 0;
  }
  if (*flags.client_revoke) {
    if (auto revoked = auth_store.RevokeClient(flags.client_id, now); !revoked)
      return Fail(revoked.error().GetMessage());
    std::printf("revoked client %s (tokens already issued expire within their lifetime)\n",
                flags.client_id.c_str());
    return 0;
  }
  return Fail("client: choose add, list, revoke or assertion");
}

int RunAssertion(AuthCli::Flags& flags) {
  auto pem = ReadFile(flags.key_file);
  if (!pem)
    return Fail(pem.error().GetMessage());
  auto alg = auth::SigningAlgorithmOf(*pem);
  if (!alg)
    return Fail(alg.error().GetMessage());
  Json header = Json::MakeObject();
  header.Set("alg", Json::MakeString(*alg));
  header.Set("typ", Json::MakeString("JWT"));
  const int64_t now = core::SystemClock::Get().Now() / 1000;
  Json claims = Json::MakeObject();
  claims.Set("iss", Json::MakeString(flags.client_id));
  claims.Set("sub", Json::MakeString(flags.client_id));
  claims.Set("aud", Json::MakeString(flags.audience));
  claims.Set("exp", Json::MakeNumber(now + 240));
  claims.Set("jti", Json::MakeString(core::NewId()));
  auto signed_jws = auth::SignJws(header, claims, *pem);
  if (!signed_jws)
    return Fail(signed_jws.error().GetMessage());
  std::printf("%s\n", signed_jws->c_str());
  return 0;
}

int RunUser(AuthCli::Flags& flags, store::Store& store) {
  auth::AuthStore auth_store(store);
  if (*flags.user_add) {
    if (!auth::IsKnownRole(flags.role)) {
      return Fail(
          "--role must be clinician, referral-coordinator, alliance-admin, data-steward "
          "or researcher");
    }
    if (!flags.organization.starts_with("Organization/"))
      return Fail("--organization must be Organization/<id>");
    auto password = ReadPassword(flags.password_stdin);
    if (!password)
      return Fail(password.error().GetMessage());
    auto hash = auth::HashPassword(*password);
    if (!hash)
      return Fail(hash.error().GetMessage());
    auth::UserRecord user;
    user.username = flags.username;
    user.organization_id = flags.organization;
    user.practitioner_id = flags.practitioner;
    user.role = flags.role;
    user.password_hash = *hash;
    user.break_glass = flags.break_glass;
    user.created_at = core::SystemClock::Get().Now();
    if (auto added = auth_store.AddUser(user); !added)
      return Fail(added.error().GetMessage());
    std::printf("added user %s (%s at %s)\n", user.username.c_str(), user.role.c_str(),
                user.organization_id.c_str());
    return 0;
  }
  if (*flags.user_list) {
    auto users = auth_store.ListUsers();
    if (!users)
      return Fail(users.error().GetMessage());
    for (const auth::UserRecord& user : *users) {
      std::printf("%s\t%s\t%s\t%s%s\n", user.username.c_str(), user.organization_id.c_str(),
                  user.role.c_str(), user.disabled ? "disabled" : "active",
                  user.break_glass ? "\tbreak-glass" : "");
    }
    return 0;
  }
  if (*flags.user_disable || *flags.user_enable) {
    const bool disable = flags.user_disable->parsed();
    if (auto done = auth_store.SetUserDisabled(flags.username, disable); !done)
      return Fail(done.error().GetMessage());
    std::printf("%s user %s\n", disable ? "disabled" : "enabled", flags.username.c_str());
    return 0;
  }
  if (*flags.user_passwd) {
    auto password = ReadPassword(flags.password_stdin);
    if (!password)
      return Fail(password.error().GetMessage());
    auto hash = auth::HashPassword(*password);
    if (!hash)
      return Fail(hash.error().GetMessage());
    if (auto done = auth_store.SetUserPassword(flags.username, *hash); !done)
      return Fail(done.error().GetMessage());
    std::printf("changed the password of %s\n", flags.username.c_str());
    return 0;
  }
  return Fail("user: choose add, list, disable, enable or passwd");
}

}  // namespace

AuthCli::AuthCli(CLI::App& app) : flags_(std::make_unique<Flags>()) {
  Flags& f = *flags_;
  f.client = app.add_subcommand("client", "SMART backend clients: add, list, revoke, assertion");
  f.client->require_subcommand(1);
  f.client_add = f.client->add_subcommand("add", "Register a client of a member");
  f.client_add->add_option("--db", f.db, "SQLite database file");
  f.client_add->add_option("--id", f.client_id, "client_id")->required();
  f.client_add->add_option("--organization", f.organization, "Organization/<member id>")
      ->required();
  f.client_add->add_option("--jwks", f.jwks_file, "JWK Set file (public keys; re-read each time)");
  f.client_add->add_option("--jwks-json", f.jwks_json, "JWK Set as JSON text");
  f.client_add->add_option("--generate-key", f.generate_key,
                           "Make an ES384 key pair: the private key to this file (tests, demo)");
  f.client_add->add_option("--scope", f.scope, "Scopes it may be granted, space-separated")
      ->required();
  f.client_add->add_flag("--break-glass", f.break_glass,
                         "May use the emergency override (X-Break-Glass)");
  f.client_list = f.client->add_subcommand("list", "List clients");
  f.client_list->add_option("--db", f.db, "SQLite database file");
  f.client_revoke = f.client->add_subcommand("revoke", "Revoke a client");
  f.client_revoke->add_option("--db", f.db, "SQLite database file");
  f.client_revoke->add_option("id", f.client_id, "client_id")->required();
  f.client_assertion = f.client->add_subcommand(
      "assertion", "Print a signed client assertion (JWT) for the token endpoint");
  f.client_assertion->add_option("--id", f.client_id, "client_id")->required();
  f.client_assertion->add_option("--key", f.key_file, "PEM private key (RS384 or ES384)")
      ->required();
  f.client_assertion->add_option("--aud", f.audience, "The token endpoint URL")->required();

  f.user = app.add_subcommand("user", "People's accounts: add, list, disable, enable, passwd");
  f.user->require_subcommand(1);
  f.user_add = f.user->add_subcommand("add", "Add a person's account (password from stdin)");
  f.user_add->add_option("--db", f.db, "SQLite database file");
  f.user_add->add_option("--username", f.username, "Login name")->required();
  f.user_add->add_option("--organization", f.organization, "Organization/<member id>")->required();
  f.user_add
      ->add_option("--role", f.role,
                   "clinician, referral-coordinator, alliance-admin, data-steward, "
                   "researcher")
      ->required();
  f.user_add->add_option("--practitioner", f.practitioner, "Practitioner/<id>");
  f.user_add->add_flag("--break-glass", f.break_glass, "May use the emergency override");
  f.user_add->add_flag("--password-stdin", f.password_stdin, "Read the password from stdin");
  f.user_list = f.user->add_subcommand("list", "List accounts");
  f.user_list->add_option("--db", f.db, "SQLite database file");
  f.user_disable = f.user->add_subcommand("disable", "Disable an account");
  f.user_disable->add_option("--db", f.db, "SQLite database file");
  f.user_disable->add_option("username", f.username, "Login name")->required();
  f.user_enable = f.user->add_subcommand("enable", "Enable an account again");
  f.user_enable->add_option("--db", f.db, "SQLite database file");
  f.user_enable->add_option("username", f.username, "Login name")->required();
  f.user_passwd = f.user->add_subcommand("passwd", "Set a new password (from stdin or a prompt)");
  f.user_passwd->add_option("--db", f.db, "SQLite database file");
  f.user_passwd->add_option("username", f.username, "Login name")->required();
  f.user_passwd->add_flag("--password-stdin", f.password_stdin, "Read the password from stdin");
}

AuthCli::~AuthCli() = default;

std::optional<int> AuthCli::Run() {
  Flags& f = *flags_;
  if (!*f.client && !*f.user)
    return std::nullopt;
  if (*f.client && *f.client_assertion)
    return RunAssertion(f);
  auto store = OpenStore(f.db);
  if (!store)
    return Fail(store.error().GetMessage());
  return *f.client ? RunClient(f, **store) : RunUser(f, **store);
}

void LogSecurityEvent(const auth::SecurityEvent& event) {
  Json line = Json::MakeObject();
  line.Set("security", Json::MakeString(std::string(auth::SecurityEventName(event.kind))));
  for (const auto& [key, value] :
       {std::pair<const char*, const std::string*>{"client", &event.client_id},
        {"user", &event.username},
        {"org", &event.organization_id},
        {"remote", &event.remote_address},
        {"scope", &event.scope},
        {"detail", &event.detail}}) {
    if (!value->empty())
      line.Set(key, Json::MakeString(*value));
  }
  spdlog::info("{}", fhir::WriteJson(line));
}

void AuditSecurityEvent(audit::AuditLog& log, const auth::SecurityEvent& event) {
  using Kind = auth::SecurityEvent::Kind;
  audit::AuditRecord record;
  const bool login = event.kind == Kind::kLogin || event.kind == Kind::kLoginRefused;
  record.category =
      login ? audit::AuditRecord::Category::kLogin : audit::AuditRecord::Category::kSecurity;
  record.subtype = std::string(auth::SecurityEventName(event.kind));
  record.action = "E";
  record.recorded = event.time;
  const bool refused = event.kind == Kind::kTokenRefused || event.kind == Kind::kLoginRefused ||
                       event.kind == Kind::kAccessRefused;
  record.outcome = refused ? "4" : "0";
  record.outcome_description = event.detail;
  record.caller.authenticated = !refused;
  record.caller.client_id = event.client_id;
  record.caller.organization_id = event.organization_id;
  if (!event.username.empty())
    record.caller.practitioner_id = event.username;
  if (event.kind == Kind::kBreakGlass)
    record.purpose = "ETREAT";
  record.query = event.scope;
  log.Record(std::move(record));
}

core::Result<std::unique_ptr<auth::TokenService>> MakeTokenService(store::Store& store,
                                                                   int token_lifetime_seconds,
                                                                   auth::SecurityEventSink sink) {
  auth::TokenServiceOptions options;
  options.token_lifetime_seconds = token_lifetime_seconds;
  options.on_event = [sink = std::move(sink)](const auth::SecurityEvent& event) {
    LogSecurityEvent(event);
    if (sink)
      sink(event);
  };
  auto service = std::make_unique<auth::TokenService>(store, std::move(options));
  MA_RETURN_IF_ERROR(service->Init());
  return service;
}

core::Result<std::string> RegisterDemoClients(store::Store& store, const std::string& key_dir,
                                              const std::string& base_url) {
  std::vector<std::string> members;
  MA_RETURN_IF_ERROR(store.Read([&](store::ReadTx& tx) -> core::Status {
    MA_ASSIGN_OR_RETURN(
        auto affiliations,
        tx.QueryResources(store::SqlQuery{
            "SELECT " + std::string(store::sql::kResourceColumns) +
                " FROM current_resources c JOIN resources r ON r.sequence = c.sequence"
                " WHERE c.type = ?1 AND c.deleted = 0",
            {std::string("OrganizationAffiliation")}}));
    for (const store::StoredResource& stored : affiliations) {
      auto json = fhir::ParseJson(stored.json);
      if (!json)
        continue;
      const Json* member = json->Find("participatingOrganization");
      if (member != nullptr && member->GetStringMember("reference").starts_with("Organization/"))
        members.emplace_back(member->GetStringMember("reference"));
    }
    return {};
  }));
  auth::AuthStore auth_store(store);
  std::error_code error;
  std::filesystem::create_directories(key_dir, error);
  if (error)
    return core::Error::Unavailable("cannot create " + key_dir + ": " + error.message());
  std::string howto;
  for (const std::string& member : members) {
    std::string id = member.substr(std::string_view("Organization/").size());
    std::string client_id = "demo-" + id;
    std::string key_path = key_dir + "/" + client_id + ".pem";
    MA_ASSIGN_OR_RETURN(auto existing, auth_store.GetClient(client_id));
    if (existing.has_value() && std::filesystem::exists(key_path))
      continue;
    MA_ASSIGN_OR_RETURN(auth::KeyPair pair, auth::GenerateKeyPair("ES384", client_id + "-1"));
    {
      std::ofstream out(key_path, std::ios::binary | std::ios::trunc);
      out << pair.private_pem;
      if (!out)
        return core::Error::Unavailable("cannot write " + key_path);
    }
    std::filesystem::permissions(
        key_path, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write, error);
    Json jwks = Json::MakeObject();
    jwks.Set("keys", Json::MakeArray()).PushBack(pair.public_jwk);
    if (existing.has_value()) {
      // The key file was lost: replace the registration.
      MA_RETURN_IF_ERROR(store.Write([&](store::WriteTx& tx) -> core::Status {
        MA_ASSIGN_OR_RETURN(int64_t changed,
                            tx.Execute(store::SqlQuery{
                                "DELETE FROM auth_clients WHERE client_id = ?1", {client_id}}));
        (void)changed;
        return {};
      }));
    }
    auth::ClientRecord client;
    client.client_id = client_id;
    client.organization_id = member;
    client.jwks = fhir::WriteJson(jwks);
    client.scopes = {"system/*.cruds"};
    client.roles = {"system", "break-glass"};
    client.created_at = core::SystemClock::Get().Now();
    MA_RETURN_IF_ERROR(auth_store.AddClient(client));
    howto += "  " + client_id + " (" + member + "): key " + key_path + "\n";
  }
  if (howto.empty())
    return howto;
  return "demo clients (scope system/*.cruds):\n" + howto +
         "get a token:  tools/demo/get-token.sh " + "demo-gz-central" + " " + base_url + "\n";
}

}  // namespace medalliance::cli
