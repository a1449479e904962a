#pragma once
// `medalliance client add|list|revoke|assertion` and `medalliance user add|list|disable|passwd`:
// the registry of SMART backend clients and of people's accounts (tables of migration 0002),
// plus the pieces `serve` needs: the token service with its security-event log, and the demo
// clients `serve --demo` registers.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/audit.h"
#include "auth/token_service.h"
#include "core/result.h"
#include "store/store.h"

namespace CLI {
class App;
}  // namespace CLI

namespace medalliance::cli {

// Registers the `client` and `user` subcommands on `app`; Run() executes the one chosen
// (nullopt when neither was). `app` must outlive this object.
class AuthCli {
 public:
  explicit AuthCli(CLI::App& app);
  ~AuthCli();
  AuthCli(const AuthCli&) = delete;
  AuthCli& operator=(const AuthCli&) = delete;
  std::optional<int> Run();

  struct Flags;  // defined in the .cc

 private:
  std::unique_ptr<Flags> flags_;
};

// Logs a security event as one JSON line (spdlog info); the audit module will record them.
void LogSecurityEvent(const auth::SecurityEvent& event);
// Records a security event (token, login, refusal, break-glass) in the audit trail.
void AuditSecurityEvent(audit::AuditLog& log, const auth::SecurityEvent& event);

// The token service over `store`, with security events logged (spdlog) and passed to `sink`.
core::Result<std::unique_ptr<auth::TokenService>> MakeTokenService(
    store::Store& store, int token_lifetime_seconds, auth::SecurityEventSink sink = {});

// Registers one demo client per member Organization (those with an identifier under
// https://fhir.medalliance.cn/sid/ or none partOf), with an ES384 key whose private half is
// written to `key_dir` (never to git). Returns a how-to text to print; empty when nothing new.
core::Result<std::string> RegisterDemoClients(store::Store& store, const std::string& key_dir,
                                              const std::string& base_url);

}  // namespace medalliance::cli
