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
#include "cli/escalation_timer.h"
#include "cli/fhirpath_command.h"
#include "cli/import.h"
#include "cli/reindex.h"
#include "cli/wiring.h"
#include "core/config.h"

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
};

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
  server_options.error_responder = api::MakeHttpErrorResponse;

  StoreSettings store_settings;
  store_settings.db_path = Setting(*config, flags.db, "db", "var/medalliance.db");
  store_settings.synchronous = Setting(*config, flags.synchronous, "synchronous", "full");
  auto referral_config = referral::ParseReferralConfig(*config);
  if (!referral_config)
    return Fail(referral_config.error());
  auto app = BuildApp(store_settings, true, *referral_config);
  if (!app)
    return Fail(app.error());

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

  // Block the shutdown signals before the server starts its threads, so that they all
  // inherit the mask and the signal reaches the sigwait below. Other commands keep the
  // default handling: Ctrl-C stops an import (each Bundle is atomic).
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  api::AdapterOptions adapter_options;
  adapter_options.base_url = Setting(*config, flags.base_url, "base-url", "");
  api::http::Server server(server_options, api::MakeFhirHandler(*app->service, adapter_options));
  if (auto started = server.Start(); !started)
    return Fail(started.error());
  std::printf("listening on %s:%u\n", server_options.host.c_str(), server.GetPort());
  std::fflush(stdout);
  spdlog::info("medalliance {} serving FHIR R4 on http://{}:{} (database {})", kVersion,
               server_options.host, server.GetPort(), store_settings.db_path);
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
           const std::vector<std::string>& paths, size_t batch_size, bool no_validate) {
  StoreSettings settings;
  settings.db_path = db;
  settings.synchronous = synchronous;
  auto app = BuildApp(settings, !no_validate);
  if (!app)
    return Fail(app.error());
  ImportOptions options;
  options.batch_size = batch_size;
  options.progress = isatty(STDERR_FILENO) != 0;
  ImportStats stats = ImportPaths(*app->service, paths, options);
  std::printf(
      "imported %lld resources from %lld files in %.2f s (%.0f resources/s); %lld files "
      "failed\n",
      static_cast<long long>(stats.resources), static_cast<long long>(stats.files), stats.seconds,
      stats.seconds > 0 ? static_cast<double>(stats.resources) / stats.seconds : 0.0,
      static_cast<long long>(stats.failed_files));
  return stats.failed_files == 0 ? 0 : 2;
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
  serve->add_flag("--demo", serve_flags.demo, "Load the demo alliance when the database is empty");
  serve->add_option("--demo-dir", serve_flags.demo_dir, "Folder of demo data (default data/demo)");
  serve->add_flag("--quiet", serve_flags.quiet, "No per-request log lines");

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

  CLI11_PARSE(app, argc, argv);
  if (*serve)
    return Serve(serve_flags);
  if (*import)
    return Import(import_db, import_sync, import_paths, batch_size, no_validate);
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
