// Cost of authentication and scope checks per request: SecurityGate::Admit with a valid
// SMART token (cached after its first use, as in the server) for a read and a search, against
// the same request with auth off. Run: build/bench/auth_gate_bench
#include <benchmark/benchmark.h>

#include "api/auth/gate.h"
#include "auth/jose.h"
#include "store/sqlite/sqlite_store.h"

namespace {

using medalliance::fhir::Json;
namespace auth = medalliance::auth;
namespace api = medalliance::api;

struct Fixture {
  Fixture() {
    auto opened = medalliance::store::SqliteStore::Open({});
    store = std::move(opened).value();
    tokens = std::make_unique<auth::TokenService>(*store, auth::TokenServiceOptions{});
    (void)tokens->Init();
    key = *auth::GenerateKeyPair("ES384", "k1");
    auth::ClientRecord client;
    client.client_id = "bench";
    client.organization_id = "Organization/bench";
    Json jwks = Json::MakeObject();
    jwks.Set("keys", Json::MakeArray()).PushBack(key.public_jwk);
    client.jwks = medalliance::fhir::WriteJson(jwks);
    client.scopes = {"system/*.rs"};
    (void)tokens->GetStore().AddClient(client);
    Json header = Json::MakeObject();
    header.Set("alg", Json::MakeString("ES384"));
    Json claims = Json::MakeObject();
    claims.Set("iss", Json::MakeString("bench"));
    claims.Set("sub", Json::MakeString("bench"));
    claims.Set("aud", Json::MakeString("http://x/auth/token"));
    claims.Set("exp", Json::MakeNumber(static_cast<int64_t>(time(nullptr)) + 200));
    claims.Set("jti", Json::MakeString("j1"));
    auth::TokenRequest request;
    request.grant_type = "client_credentials";
    request.client_assertion_type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    request.client_assertion = *auth::SignJws(header, claims, key.private_pem);
    request.scope = "system/*.rs";
    request.token_endpoint = "http://x/auth/token";
    token = tokens->Issue(request).access_token;
  }
  std::unique_ptr<medalliance::store::Store> store;
  std::unique_ptr<auth::TokenService> tokens;
  auth::KeyPair key;
  std::string token;
};

Fixture& Shared() {
  static Fixture fixture;
  return fixture;
}

void Run(benchmark::State& state, bool enabled, std::vector<std::string> segments) {
  Fixture& fixture = Shared();
  api::SecurityOptions options;
  options.enabled = enabled;
  options.tokens = fixture.tokens.get();
  api::SecurityGate gate(options, [](std::string_view type) { return type == "Observation"; });
  medalliance::api::http::Request http_request;
  http_request.remote_address = "127.0.0.1";
  for (auto _ : state) {
    medalliance::api::rest::FhirRequest request;
    request.method = "GET";
    request.segments = segments;
    request.headers.Set("Authorization", "Bearer " + fixture.token);
    auto refusal = gate.Admit(http_request, request);
    if (refusal.has_value())
      state.SkipWithError("refused");
    benchmark::DoNotOptimize(request.caller);
  }
}

void BM_ReadAuthOff(benchmark::State& state) {
  Run(state, false, {"Observation", "1"});
}
void BM_ReadAuthOn(benchmark::State& state) {
  Run(state, true, {"Observation", "1"});
}
void BM_SearchAuthOn(benchmark::State& state) {
  Run(state, true, {"Observation"});
}

// The uncached check: base64url, JSON, HMAC-SHA256 (what the first request of a token pays).
void BM_ValidateUncached(benchmark::State& state) {
  Fixture& fixture = Shared();
  auth::TokenServiceOptions options;
  for (auto _ : state) {
    state.PauseTiming();
    auth::TokenService fresh(*fixture.store, options);
    (void)fresh.Init();
    state.ResumeTiming();
    benchmark::DoNotOptimize(fresh.Validate(fixture.token));
  }
}

BENCHMARK(BM_ReadAuthOff);
BENCHMARK(BM_ReadAuthOn);
BENCHMARK(BM_SearchAuthOn);
BENCHMARK(BM_ValidateUncached);

}  // namespace

BENCHMARK_MAIN();
