// The `medalliance` program: serve, import, demo. The only place that wires concrete classes.

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include <CLI/CLI.hpp>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include "api/http/server.h"
#include "api/http_adapter.h"
#include "api/subscription_channels.h"
#include "cli/audit_command.h"
#include "cli/auth_commands.h"
#include "cli/escalation_timer.h"
#include "cli/fhirpath_command.h"
#include "cli/import.h"
#include "cli/reindex.h"
#include "cli/wiring.h"
#include "core/config.h"
#include "subscription/dispatcher.h"

namespace medalliance::cli {
namespace {

struct ServeFlags {
  std::string listen;
  std::string db;
  int threads = 0;
  std::string config_file;
  std::string base_url;
  std::string synchronous;
  size_t max_body_bytes = 0;
  bool demo = false;
  std::string demo_dir;
  bool quiet = false;
  // Security (issue 4).
  std::string auth;  // smart (default) | none
  std::string tls_cert;
  std::string tls_key;
  bool allow_insecure_http = false;
  int token_lifetime = 0;
  double rate_limit = -1;
  double rate_burst = -1;
  int max_connections = 0;
  size_t max_header_bytes = 0;
  std::string audit_anchor;  // append the audit chain head to this file
  int audit_anchor_interval = 0;
};

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.starts_with("127.");
}

// Flag > environment > config file > default.
std::string Setting(const core::Config& config, const std::string& flag, std::string_view key,
                    std::string_view fallback) {
  if (!flag.empty())
    return flag;
  return config.GetOr(key, fallback);
}

int Fail(const core::Error& error) {
  std::fprintf(stderr, "medalliance: %s\n", error.GetMessage().c_str());
  return 1;
}

core::Result<core::Config> LoadConfig(const std::string& path) {
  if (path.empty())
    return core::Config();
  return core::Config::LoadFile(path);
}

core::Status LoadDemo(const api::rest::RestService& service, const std::string& dir) {
  std::error_code error;
  if (!std::filesystem::is_directory(dir, error)) {
    return core::Error::NotFound("demo data folder '" + dir + "' not found");
  }
  ImportOptions options;
  ImportStats stats = ImportPaths(service, {dir}, options);
  if (stats.failed_files > 0) {
    return core::Error::Internal("the demo data did not load completely");
  }
  spdlog::info("loaded the demo alliance: {} resources from {}", stats.resources, dir);
  return {};
}

int Serve(const ServeFlags& flags) {
  auto config = LoadConfig(flags.config_file);
  if (!config)
    return Fail(config.error());
  std::string listen = Setting(*config, flags.listen, "listen", "127.0.0.1:8080");
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Fail(core::Error::BadRequest("--listen must be HOST:PORT, not '" + listen + "'"));
  }
  api::http::ServerOptions server_options;
  server_options.host = listen.substr(0, colon);
  try {
    server_options.port = static_cast<uint16_t>(std::stoi(listen.substr(colon + 1)));
    server_options.threads =
        flags.threads > 0
            ? flags.threads
            : std::stoi(config->GetOr(
                  "threads", std::to_string(std::max(2u, std::thread::hardware_concurrency()))));
    std::string max_body = config->GetOr("max-body-bytes", "");
    if (flags.max_body_bytes > 0) {
      server_options.max_body_bytes = flags.max_body_bytes;
    } else if (!max_body.empty()) {
      server_options.max_body_bytes = std::stoull(max_body);
    }
  } catch (const std::exception&) {
    return Fail(core::Error::BadRequest("invalid port, thread count or body limit"));
  }
  server_options.log_requests = !flags.quiet && config->GetOr("log-requests", "true") == "true";

  // Security: on unless --auth none; never off, nor plain HTTP, beyond loopback.
  const std::string auth_mode = Setting(*config, flags.auth, "auth", "smart");
  if (auth_mode != "smart" && auth_mode != "none")
    return Fail(
        core::Error::BadRequest("--auth must be 'smart' or 'none', not '" + auth_mode + "'"));
  const bool loopback = IsLoopback(server_options.host);
  if (auth_mode == "none" && !loopback) {
    return Fail(core::Error::BadRequest(
        "--auth none is refused on the non-loopback address " + server_options.host +
        ": anyone could read every record; listen on 127.0.0.1 or turn authentication on"));
  }
  const std::string tls_cert = Setting(*config, flags.tls_cert, "tls-cert", "");
  const std::string tls_key = Setting(*config, flags.tls_key, "tls-key", "");
  if (tls_cert.empty() != tls_key.empty())
    return Fail(core::Error::BadRequest("--tls-cert and --tls-key go together"));
  const bool allow_insecure =
      flags.allow_insecure_http || config->GetOr("allow-insecure-http", "false") == "true";
  if (tls_cert.empty() && !loopback && !allow_insecure) {
    return Fail(core::Error::BadRequest(
        "plain HTTP is only served on loopback: give --tls-cert and --tls-key, or "
        "--allow-insecure-http behind a TLS-terminating proxy"));
  }
  server_options.tls_cert_file = tls_cert;
  server_options.tls_key_file = tls_key;
  int token_lifetime = 300;
  api::SecurityOptions security_options;
  security_options.enabled = auth_mode == "smart";
  try {
    token_lifetime = flags.token_lifetime > 0 ? flags.token_lifetime
                                              : std::stoi(config->GetOr("token-lifetime", "300"));
    security_options.rate_per_second =
        flags.rate_limit >= 0 ? flags.rate_limit : std::stod(config->GetOr("rate-limit", "0"));
    security_options.rate_burst =
        flags.rate_burst >= 0 ? flags.rate_burst : std::stod(config->GetOr("rate-burst", "0"));
    if (flags.max_connections > 0) {
      server_options.max_connections = flags.max_connections;
    } else if (auto value = config->GetOr("max-connections", ""); !value.empty()) {
      server_options.max_connections = std::stoi(value);
    }
    if (flags.max_header_bytes > 0) {
      server_options.max_header_bytes = flags.max_header_bytes;
    } else if (auto value = config->GetOr("max-header-bytes", ""); !value.empty()) {
      server_options.max_header_bytes = std::stoull(value);
    }
  } catch (const std::exception&) {
    return Fail(core::Error::BadRequest("invalid token lifetime, rate or connection limit"));
  }
  if (token_lifetime < 10 || token_lifetime > 3600)
    return Fail(core::Error::BadRequest("--token-lifetime must be 10..3600 seconds"));
  server_options.error_responder = api::MakeHttpErrorResponse;

  StoreSettings store_settings;
  store_settings.db_path = Setting(*config, flags.db, "db", "var/medalliance.db");
  store_settings.synchronous = Setting(*config, flags.synchronous, "synchronous", "full");
  auto referral_config = referral::ParseReferralConfig(*config);
  if (!referral_config)
    return Fail(referral_config.error());
  // Block the shutdown signals before anything starts a thread (BuildApp's AuditLog does), so
  // that every thread inherits the mask and the signal reaches the sigwait below: a thread
  // started unmasked could take SIGTERM's default action and end the process uncleanly. Other
  // commands keep the default handling: Ctrl-C stops an import (each Bundle is atomic).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  auto app = BuildApp(store_settings, true, security_options.enabled, *referral_config);
  if (!app)
    return Fail(app.error());
  audit::AuditLog& audit_log = *app->audit_log;
  auto on_security_event = [&audit_log](const auth::SecurityEvent& event) {
    AuditSecurityEvent(audit_log, event);
  };
  auto tokens = MakeTokenService(*app->store, token_lifetime, on_security_event);
  if (!tokens)
    return Fail(tokens.error());
  security_options.tokens = tokens->get();
  security_options.on_event = [on_security_event](const auth::SecurityEvent& event) {
    LogSecurityEvent(event);
    on_security_event(event);
  };
  if (!security_options.enabled) {
    spdlog::warn(
        "authentication is OFF (--auth none): every caller may read and write "
        "everything; for local development only");
  }

  bool demo = flags.demo || config->GetOr("demo", "false") == "true";
  if (demo) {
    auto empty = StoreIsEmpty(*app->store);
    if (!empty)
      return Fail(empty.error());
    if (*empty) {
      auto loaded =
          LoadDemo(*app->service, Setting(*config, flags.demo_dir, "demo-dir", "data/demo"));
      if (!loaded)
        return Fail(loaded.error());
    }
  }
  if (auto seeded = SeedReferenceData(*app); !seeded)
    return Fail(seeded.error());

  // The audit chain's head, appended to an operator's anchor file (doc/security.md section 5).
  std::unique_ptr<audit::AnchorWriter> anchor;
  if (std::string anchor_path = Setting(*config, flags.audit_anchor, "audit-anchor", "");
      !anchor_path.empty()) {
    int interval = flags.audit_anchor_interval;
    if (interval <= 0 &&
        std::sscanf(config->GetOr("audit-anchor-interval", "60").c_str(), "%d", &interval) != 1)
      interval = 60;
    if (interval <= 0)
      return Fail(core::Error::BadRequest("--audit-anchor-interval must be at least 1 second"));
    anchor = std::make_unique<audit::AnchorWriter>(*app->store, anchor_path, interval * 1000);
    if (auto written = anchor->WriteNow(); !written)
      return Fail(written.error());
  }

  api::AdapterOptions adapter_options;
  adapter_options.base_url = Setting(*config, flags.base_url, "base-url", "");
  adapter_options.scheme = tls_cert.empty() ? "http" : "https";
  api::SecurityGate gate(security_options, [&service = *app->service](std::string_view type) {
    return service.IsResourceType(type);
  });
  adapter_options.security = &gate;
  // FHIR Subscriptions (issue 7): the channels (rest-hook POST, websocket binds) and the
  // dispatcher of the durable queue; pending notifications of a previous run go out first.
  api::SubscriptionChannels subscription_channels(*app->store, &gate);
  subscription::DispatcherOptions dispatcher_options;
  try {
    dispatcher_options.workers = std::stoi(config->GetOr("subscription-workers", "4"));
    dispatcher_options.initial_backoff_ms =
        std::stoll(config->GetOr("subscription-backoff-ms", "1000"));
    dispatcher_options.max_backoff_ms =
        std::stoll(config->GetOr("subscription-max-backoff-ms", "300000"));
    dispatcher_options.error_after = std::stoi(config->GetOr("subscription-error-after", "5"));
  } catch (const std::exception&) {
    return Fail(core::Error::BadRequest("invalid subscription-* setting"));
  }
  dispatcher_options.enforce_access = security_options.enabled;
  dispatcher_options.policy = app->policy.get();
  dispatcher_options.audit = app->audit_log.get();
  subscription::Dispatcher dispatcher(*app->store, app->service->Writer(), subscription_channels,
                                      core::SystemClock::Get(), *app->subscription_cache,
                                      dispatcher_options);
  app->subscription_hook->SetOnEnqueue([&dispatcher] { dispatcher.Wake(); });
  server_options.websocket = subscription_channels.WebSocketAcceptor();
  api::http::Server server(server_options, api::MakeFhirHandler(*app->service, adapter_options));
  if (auto started = server.Start(); !started)
    return Fail(started.error());
  std::printf("listening on %s:%u\n", server_options.host.c_str(), server.GetPort());
  const std::string public_base = adapter_options.base_url.empty()
                                      ? adapter_options.scheme + "://" + server_options.host + ":" +
                                            std::to_string(server.GetPort())
                                      : adapter_options.base_url;
  if (demo && security_options.enabled) {
    std::filesystem::path key_dir =
        std::filesystem::path(store_settings.db_path).parent_path() / "demo-keys";
    auto howto = RegisterDemoClients(*app->store, key_dir.string(), public_base);
    if (!howto)
      return Fail(howto.error());
    std::printf("%s", howto->c_str());
  }
  dispatcher.SetBaseUrl(public_base);
  dispatcher.Start();
  std::fflush(stdout);
  spdlog::info("medalliance {} serving FHIR R4 on {} (database {}; auth {})", kVersion, public_base,
               store_settings.db_path, auth_mode);
  // Green-channel escalation (issue 7): referral-escalation-interval-ms, 0 turns it off.
  long long escalation_ms = 30000;
  std::string escalation_text = config->GetOr("referral-escalation-interval-ms", "30000");
  if (std::sscanf(escalation_text.c_str(), "%lld", &escalation_ms) != 1 || escalation_ms < 0)
    escalation_ms = 30000;
  EscalationTimer escalation_timer(*app->escalator, core::SystemClock::Get(),
                                   std::chrono::milliseconds(escalation_ms));
  if (escalation_ms > 0)
    escalation_timer.Start();

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  spdlog::info("received signal {}; finishing in-flight requests", signal_number);
  escalation_timer.Stop();
  server.Stop();
  dispatcher.Stop();
  app->subscription_hook->SetOnEnqueue({});
  if (anchor != nullptr) {
    (void)app->audit_log->Flush();
    anchor.reset();  // appends the final head
  }
  spdlog::info("stopped");
  return 0;
}

int RunReindex(const std::string& db, const std::optional<std::string>& type, size_t batch_size) {
  StoreSettings settings;
  settings.db_path = db;
  auto app = BuildApp(settings, false);
  if (!app)
    return Fail(app.error());
  auto start = std::chrono::steady_clock::now();
  auto stats = Reindex(*app->store, search::Searcher(), type, batch_size);
  if (!stats)
    return Fail(stats.error());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("reindexed %lld resources (%lld index rows) in %.2f s\n",
              static_cast<long long>(stats->resources), static_cast<long long>(stats->rows),
              seconds);
  return 0;
}

int Import(const std::string& db, const std::string& synchronous,
           const std::vector<std::string>& paths, size_t batch_size, bool no_validate,
           bool no_mpi = false) {
  StoreSettings settings;
  settings.mpi = !no_mpi;
  settings.db_path = db;
  settings.synchronous = synchronous;
  settings.bulk_load = true;
  auto app = BuildApp(settings, !no_validate);
  if (!app)
    return Fail(app.error());
  ImportOptions options;
  options.batch_size = batch_size;
  options.progress = isatty(STDERR_FILENO) != 0;
  options.sqlite = dynamic_cast<store::SqliteStore*>(app->store.get());
  ImportStats stats = ImportPaths(*app->service, paths, options);
  std::printf(
      "imported %lld resources from %lld files in %.2f s (%.0f resources/s); %lld files "
      "failed\n",
      static_cast<long long>(stats.resources), static_cast<long long>(stats.files), stats.seconds,
      stats.seconds > 0 ? static_cast<double>(stats.resources) / stats.seconds : 0.0,
      static_cast<long long>(stats.failed_files));
  if (stats.deferred_indexes) {
    std::printf("search value indexes deferred and rebuilt in %.2f s (included above)\n",
                stats.rebuild_seconds);
  }
  return stats.failed_files == 0 && !stats.rebuild_failed ? 0 : 2;
}

}  // namespace
}  // namespace medalliance::cli

int main(int argc, char** argv) {
  using namespace medalliance::cli;  // NOLINT(google-build-using-namespace): main only
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("bmi2") ||
      !__builtin_cpu_supports("pclmul")) {
    std::fprintf(stderr, "medalliance: this build needs an x86-64-v3 CPU (AVX2, BMI2, PCLMUL)\n");
    return 1;
  }
  CLI::App app{
      "medalliance — the FHIR R4 exchange server of the Guangzhou–Shenzhen medical alliance"};
  app.set_version_flag("--version", std::string("medalliance ") + kVersion);
  app.require_subcommand(1);

  ServeFlags serve_flags;
  CLI::App* serve = app.add_subcommand("serve", "Start the FHIR server");
  serve->add_option("--listen", serve_flags.listen,
                    "HOST:PORT to listen on (default 127.0.0.1:8080; port 0 picks a free one)");
  serve->add_option("--db", serve_flags.db, "SQLite database file (default var/medalliance.db)");
  serve->add_option("--threads", serve_flags.threads,
                    "HTTP worker threads (default: cores, at least 2)");
  serve->add_option("--config", serve_flags.config_file, "Config file of key = value lines");
  serve->add_option("--base-url", serve_flags.base_url,
                    "Public base URL used in Location and fullUrl");
  serve->add_option("--synchronous", serve_flags.synchronous,
                    "SQLite durability: full (default) or normal");
  serve->add_option("--max-body-bytes", serve_flags.max_body_bytes,
                    "Largest accepted request body (default 16 MiB)");
  serve->add_option("--audit-anchor", serve_flags.audit_anchor,
                    "Append the audit chain head to this file (keep it off the database's disk)");
  serve->add_option("--audit-anchor-interval", serve_flags.audit_anchor_interval,
                    "Seconds between audit chain anchors (default 60)");
  serve->add_flag("--demo", serve_flags.demo, "Load the demo alliance when the database is empty");
  serve->add_option("--demo-dir", serve_flags.demo_dir, "Folder of demo data (default data/demo)");
  serve->add_flag("--quiet", serve_flags.quiet, "No per-request log lines");
  serve->add_option("--auth", serve_flags.auth,
                    "smart (default: SMART Backend Services tokens) or none (loopback only)");
  serve->add_option("--tls-cert", serve_flags.tls_cert, "PEM certificate chain: serve HTTPS");
  serve->add_option("--tls-key", serve_flags.tls_key, "PEM private key of --tls-cert");
  serve->add_flag("--allow-insecure-http", serve_flags.allow_insecure_http,
                  "Serve plain HTTP on a non-loopback address (behind a TLS proxy)");
  serve->add_option("--token-lifetime", serve_flags.token_lifetime,
                    "Access token lifetime in seconds (default 300)");
  serve->add_option("--rate-limit", serve_flags.rate_limit,
                    "Requests per second per client (else per address); 0 = unlimited");
  serve->add_option("--rate-burst", serve_flags.rate_burst,
                    "Requests a client may burst above the rate (default: the rate)");
  serve->add_option("--max-connections", serve_flags.max_connections,
                    "Open connections at most (default 10000)");
  serve->add_option("--max-header-bytes", serve_flags.max_header_bytes,
                    "Largest request head (default 16 KiB)");

  std::string import_db = "var/medalliance.db";
  std::string import_sync = "full";
  std::vector<std::string> import_paths;
  size_t batch_size = 1000;
  bool no_validate = false;
  CLI::App* import = app.add_subcommand(
      "import", "Import FHIR Bundles, resources or NDJSON (files or folders; .zst too)");
  import->add_option("--db", import_db, "SQLite database file");
  import->add_option("--synchronous", import_sync, "SQLite durability: full (default) or normal");
  import->add_option("--batch-size", batch_size, "NDJSON lines per transaction");
  import->add_flag("--no-validate", no_validate, "Skip validation (trusted data only)");
  bool no_mpi = false;
  import->add_flag("--no-mpi", no_mpi,
                   "No master patient index on Patient writes (no identity check, no matching)");
  import->add_option("paths", import_paths, "Files or folders")->required();

  std::string demo_db = "var/medalliance.db";
  std::string demo_dir = "data/demo";
  CLI::App* demo = app.add_subcommand("demo", "Load the demo alliance into the database");
  demo->add_option("--db", demo_db, "SQLite database file");
  demo->add_option("--demo-dir", demo_dir, "Folder of demo data");

  std::string reindex_db = "var/medalliance.db";
  std::string reindex_type;
  size_t reindex_batch = 500;
  CLI::App* reindex = app.add_subcommand(
      "reindex", "Recompute the search index of every resource (after a search change)");
  reindex->add_option("--db", reindex_db, "SQLite database file");
  reindex->add_option("--type", reindex_type, "Only this resource type");
  reindex->add_option("--batch-size", reindex_batch, "Resources per transaction");

  FhirPathFlags fhirpath_flags;
  CLI::App* fhirpath = app.add_subcommand(
      "fhirpath", "Evaluate a FHIRPath expression on a resource (FILE or stdin)");
  fhirpath->add_option("expression", fhirpath_flags.expression, "FHIRPath expression")->required();
  fhirpath->add_option("file", fhirpath_flags.file,
                       "FHIR JSON resource file; stdin when absent or -");
  fhirpath->add_flag("--pretty", fhirpath_flags.pretty, "Indent the JSON output");

  AuthCli auth_cli(app);

  std::string audit_db = "var/medalliance.db";
  CLI::App* audit = app.add_subcommand("audit", "Audit trail tools");
  CLI::App* audit_verify = audit->add_subcommand(
      "verify", "Recompute the AuditEvent hash chain; exit 1 naming each tampered entry");
  audit_verify->add_option("--db", audit_db, "SQLite database file");
  std::string audit_anchor;
  std::vector<std::string> audit_heads;
  audit_verify->add_option("--anchor", audit_anchor,
                           "Anchor file written by serve --audit-anchor: every line must match");
  audit_verify->add_option("--expect-head", audit_heads,
                           "A head recorded earlier ([POSITION:]HASH, as printed when intact)");
  audit->require_subcommand(1);

  CLI11_PARSE(app, argc, argv);
  if (std::optional<int> status = auth_cli.Run())
    return *status;
  if (*audit_verify)
    return RunAuditVerify(audit_db, audit_anchor, audit_heads);
  if (*serve)
    return Serve(serve_flags);
  if (*import)
    return Import(import_db, import_sync, import_paths, batch_size, no_validate, no_mpi);
  if (*demo)
    return Import(demo_db, "full", {demo_dir}, 1000, false);
  if (*fhirpath)
    return RunFhirPath(fhirpath_flags);
  if (*reindex) {
    return RunReindex(
        reindex_db, reindex_type.empty() ? std::nullopt : std::optional<std::string>(reindex_type),
        std::max<size_t>(1, reindex_batch));
  }
  return 0;
}
