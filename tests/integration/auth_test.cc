// Security over HTTP: SMART Backend Services tokens (ES384, RS384), 401/403, public
// endpoints, revocation, replay, break-glass, people's login, the rate limit, and the refusal
// to run without authentication beyond loopback.

#include <chrono>
#include <cstdio>
#include <thread>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "auth/jose.h"
#include "integration/server_util.h"

namespace medalliance::integration {
namespace {

const auth::KeyPair& EsKey() {
  static const auth::KeyPair kKey = *auth::GenerateKeyPair("ES384", "es-key");
  return kKey;
}
const auth::KeyPair& RsKey() {
  static const auth::KeyPair kKey = *auth::GenerateKeyPair("RS384", "rs-key");
  return kKey;
}

std::string JwksOf(const auth::KeyPair& key) {
  fhir::Json jwks = fhir::Json::MakeObject();
  jwks.Set("keys", fhir::Json::MakeArray()).PushBack(key.public_jwk);
  return fhir::WriteJson(jwks);
}

std::string UrlEncode(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buffer[4];
      std::snprintf(buffer, sizeof(buffer), "%%%02X", c);
      out += buffer;
    }
  }
  return out;
}

// Runs a shell command line; returns the exit code and the output.
int RunShell(const std::string& command, std::string* output) {
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr)
    return -1;
  char buffer[4096];
  size_t n = 0;
  output->clear();
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) output->append(buffer, n);
  int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// HttpClient sends "Host: localhost", so the server's base URL is http://localhost.
constexpr char kTokenUrl[] = "http://localhost/auth/token";

class AuthServerTest : public ::testing::Test {
 protected:
  std::filesystem::path Db() const { return dir_.Path() / "auth.db"; }

  void AddClient(const std::string& id, const auth::KeyPair& key, const std::string& scope,
                 bool break_glass = false,
                 const std::string& organization = "Organization/gz-central") {
    std::vector<std::string> args = {"client",      "add",       "--db",           Db().string(),
                                     "--id",        id,          "--organization", organization,
                                     "--jwks-json", JwksOf(key), "--scope",        scope};
    if (break_glass)
      args.emplace_back("--break-glass");
    std::string output;
    ASSERT_EQ(RunProgram(args, &output), 0) << output;
  }

  void Start(std::vector<std::string> extra = {"--auth", "smart"}) {
    server_ = std::make_unique<TestServer>(Db(), std::move(extra));
    client_ = std::make_unique<HttpClient>("127.0.0.1", server_->Port());
  }

  std::string Assertion(const std::string& client_id, const auth::KeyPair& key,
                        const std::string& alg) {
    fhir::Json header = fhir::Json::MakeObject();
    header.Set("alg", fhir::Json::MakeString(alg));
    header.Set("kid", fhir::Json::MakeString(std::string(key.public_jwk.GetStringMember("kid"))));
    fhir::Json claims = fhir::Json::MakeObject();
    claims.Set("iss", fhir::Json::MakeString(client_id));
    claims.Set("sub", fhir::Json::MakeString(client_id));
    claims.Set("aud", fhir::Json::MakeString(kTokenUrl));
    claims.Set("exp", fhir::Json::MakeNumber(static_cast<int64_t>(time(nullptr)) + 200));
    claims.Set("jti", fhir::Json::MakeString("jti-" + std::to_string(++jti_)));
    auto jws = auth::SignJws(header, claims, key.private_pem);
    EXPECT_TRUE(jws.has_value());
    return jws.has_value() ? *jws : "";
  }

  Response AskToken(const std::string& assertion, const std::string& scope) {
    std::string form = "grant_type=client_credentials&client_assertion_type=" +
                       UrlEncode("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") +
                       "&client_assertion=" + UrlEncode(assertion) + "&scope=" + UrlEncode(scope);
    return client_->Send("POST", "/auth/token", form,
                         {{"Content-Type", "application/x-www-form-urlencoded"}});
  }

  std::string Token(const std::string& client_id, const auth::KeyPair& key, const std::string& alg,
                    const std::string& scope) {
    Response response = AskToken(Assertion(client_id, key, alg), scope);
    EXPECT_EQ(response.status, 200) << response.body;
    return ParseBody(response).value("access_token", "");
  }

  static Headers Bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}, {"Content-Type", "application/fhir+json"}};
  }

  TempDir dir_;
  std::unique_ptr<TestServer> server_;
  std::unique_ptr<HttpClient> client_;
  int jti_ = 0;
};

TEST_F(AuthServerTest, Es384ClientReadsAndWritesWithinItsScopes) {
  AddClient("gz-his", EsKey(), "system/*.cruds");
  Start();
  Response anonymous = client_->Get("/Patient");
  EXPECT_EQ(anonymous.status, 401);
  EXPECT_EQ(anonymous.headers.Get("WWW-Authenticate"), "Bearer realm=\"medalliance\"");
  EXPECT_EQ(ParseBody(anonymous)["resourceType"], "OperationOutcome");

  std::string token =
      Token("gz-his", EsKey(), "ES384", "system/Patient.cruds system/Observation.rs");
  ASSERT_FALSE(token.empty());
  Response created = client_->Send(
      "POST", "/Patient", R"({"resourceType":"Patient","gender":"female"})", Bearer(token));
  ASSERT_EQ(created.status, 201) << created.body;
  std::string id = ParseBody(created)["id"];
  EXPECT_EQ(client_->Get("/Patient/" + id, Bearer(token)).status, 200);
  EXPECT_EQ(client_->Get("/Observation?subject=Patient/" + id, Bearer(token)).status, 200);

  Response narrow = client_->Get("/Encounter", Bearer(token));
  EXPECT_EQ(narrow.status, 403);
  EXPECT_NE(narrow.body.find("system/Encounter.s"), std::string::npos) << narrow.body;
  EXPECT_NE(narrow.headers.Get("WWW-Authenticate").find("insufficient_scope"), std::string::npos);
  Response observation_write = client_->Send(
      "POST", "/Observation",
      R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})", Bearer(token));
  EXPECT_EQ(observation_write.status, 403);
  EXPECT_NE(observation_write.body.find("system/Observation.c"), std::string::npos);
  Response include = client_->Get("/Patient?_revinclude=Encounter:subject", Bearer(token));
  EXPECT_EQ(include.status, 403) << include.body;

  // Refusals are security events in the log (stdout), for the audit trail.
  bool logged = false;
  for (int i = 0; i < 40 && !logged; ++i) {
    logged =
        server_->Process().GetOutput().find(R"("security":"access-refused")") != std::string::npos;
    if (!logged)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(logged) << server_->Process().GetOutput();
  EXPECT_NE(server_->Process().GetOutput().find(R"("security":"token-issued")"), std::string::npos);

  Response forged = client_->Get("/Patient", Bearer(token + "x"));
  EXPECT_EQ(forged.status, 401);
  EXPECT_NE(forged.headers.Get("WWW-Authenticate").find("error=\"invalid_token\""),
            std::string::npos);
}

// The token's member reaches the access rules: another member's record is invisible until the
// reader treats the patient, and invisible again once the patient opts out.
TEST_F(AuthServerTest, TokensMemberDecidesWhatItMaySeeOfAnotherMembersPatient) {
  AddClient("gz-his", EsKey(), "system/*.cruds", false, "Organization/gz-central");
  AddClient("sz-his", RsKey(), "system/*.cruds", false, "Organization/sz-heart");
  Start();
  std::string gz = Token("gz-his", EsKey(), "ES384", "system/*.cruds");
  std::string sz = Token("sz-his", RsKey(), "RS384", "system/*.cruds");
  ASSERT_FALSE(gz.empty());
  ASSERT_FALSE(sz.empty());

  Response patient = client_->Send("POST", "/Patient",
                                   R"({"resourceType":"Patient","gender":"male"})", Bearer(gz));
  ASSERT_EQ(patient.status, 201) << patient.body;
  std::string patient_id = ParseBody(patient)["id"];
  Response observation = client_->Send(
      "POST", "/Observation",
      R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"2345-7"}]},"subject":{"reference":"Patient/)" +
          patient_id + R"("},"valueQuantity":{"value":5.6,"unit":"mmol/L"}})",
      Bearer(gz));
  ASSERT_EQ(observation.status, 201) << observation.body;
  std::string observation_path = "/Observation/" + std::string(ParseBody(observation)["id"]);
  std::string search_path = "/Observation?subject=Patient/" + patient_id + "&_total=accurate";

  // No relationship: as if it did not exist.
  EXPECT_EQ(client_->Get(observation_path, Bearer(gz)).status, 200);
  EXPECT_EQ(client_->Get(observation_path, Bearer(sz)).status, 404);
  EXPECT_EQ(ParseBody(client_->Get(search_path, Bearer(sz)))["total"], 0);

  // An encounter of the patient at the reader opens the record to it.
  Response encounter = client_->Send(
      "POST", "/Encounter",
      R"({"resourceType":"Encounter","status":"in-progress","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"EMER"},"subject":{"reference":"Patient/)" +
          patient_id + R"("},"serviceProvider":{"reference":"Organization/sz-heart"}})",
      Bearer(sz));
  ASSERT_EQ(encounter.status, 201) << encounter.body;
  EXPECT_EQ(client_->Get(observation_path, Bearer(sz)).status, 200);
  EXPECT_EQ(ParseBody(client_->Get(search_path, Bearer(sz)))["total"], 1);
  // Reading is not writing: the record stays the issuer's.
  Response overwrite =
      client_->Send("PUT", observation_path,
                    R"({"resourceType":"Observation","id":")" + observation_path.substr(13) +
                        R"(","status":"cancelled","code":{"text":"x"}})",
                    Bearer(sz));
  EXPECT_EQ(overwrite.status, 403) << overwrite.body;

  // The patient opts out of alliance sharing.
  Response consent = client_->Send(
      "POST", "/Consent",
      R"({"resourceType":"Consent","status":"active","scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},"category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],"patient":{"reference":"Patient/)" +
          patient_id +
          R"("},"policyRule":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"OPTOUT"}]},"provision":{"type":"deny"}})",
      Bearer(gz));
  ASSERT_EQ(consent.status, 201) << consent.body;
  EXPECT_EQ(client_->Get(observation_path, Bearer(sz)).status, 404);
  EXPECT_EQ(ParseBody(client_->Get(search_path, Bearer(sz)))["total"], 0);
  EXPECT_EQ(client_->Get(observation_path, Bearer(gz)).status, 200);
}

TEST_F(AuthServerTest, PublicEndpointsNeedNoToken) {
  AddClient("gz-his", EsKey(), "system/*.rs");
  Start();
  Response metadata = client_->Get("/metadata");
  ASSERT_EQ(metadata.status, 200);
  Json security = ParseBody(metadata)["rest"][0]["security"];
  EXPECT_EQ(security["service"][0]["coding"][0]["code"], "SMART-on-FHIR");
  EXPECT_EQ(security["extension"][0]["extension"][0]["valueUri"], kTokenUrl);
  Response config = client_->Get("/.well-known/smart-configuration");
  ASSERT_EQ(config.status, 200);
  Json smart = ParseBody(config);
  EXPECT_EQ(smart["token_endpoint"], kTokenUrl);
  EXPECT_EQ(smart["token_endpoint_auth_methods_supported"][0], "private_key_jwt");
  EXPECT_EQ(smart["token_endpoint_auth_signing_alg_values_supported"],
            Json::parse(R"(["RS384","ES384"])"));
  EXPECT_EQ(smart["capabilities"][0], "client-confidential-asymmetric");
  EXPECT_EQ(client_->Get("/healthz").status, 200);
}

TEST_F(AuthServerTest, Rs384ClientIsRefusedOnceRevokedAndReplaysAreRefused) {
  AddClient("sz-lis", RsKey(), "system/*.read");
  Start();
  std::string assertion = Assertion("sz-lis", RsKey(), "RS384");
  Response first = AskToken(assertion, "system/*.read");
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(ParseBody(first)["token_type"], "bearer");
  EXPECT_EQ(ParseBody(first)["scope"], "system/*.read");
  EXPECT_EQ(first.headers.Get("Cache-Control"), "no-store");
  std::string token = ParseBody(first)["access_token"];
  EXPECT_EQ(client_->Get("/Patient", Bearer(token)).status, 200);

  Response replay = AskToken(assertion, "system/*.read");
  EXPECT_EQ(replay.status, 401);
  EXPECT_EQ(ParseBody(replay)["error"], "invalid_client");

  Response wide = AskToken(Assertion("sz-lis", RsKey(), "RS384"), "system/*.write");
  EXPECT_EQ(wide.status, 400);
  EXPECT_EQ(ParseBody(wide)["error"], "invalid_scope");

  std::string output;
  ASSERT_EQ(RunProgram({"client", "revoke", "--db", Db().string(), "sz-lis"}, &output), 0)
      << output;
  Response revoked = AskToken(Assertion("sz-lis", RsKey(), "RS384"), "system/*.read");
  EXPECT_EQ(revoked.status, 401);
  EXPECT_NE(ParseBody(revoked)["error_description"].get<std::string>().find("revoked"),
            std::string::npos);
  ASSERT_EQ(RunProgram({"client", "list", "--db", Db().string()}, &output), 0);
  EXPECT_NE(output.find("sz-lis\tOrganization/gz-central\trevoked"), std::string::npos) << output;
}

TEST_F(AuthServerTest, BreakGlassNeedsThePermission) {
  AddClient("plain", EsKey(), "system/*.rs");
  AddClient("emergency", RsKey(), "system/*.rs", /*break_glass=*/true);
  Start();
  Headers plain = Bearer(Token("plain", EsKey(), "ES384", "system/*.rs"));
  plain.Add("X-Break-Glass", "stroke patient unconscious");
  Response refused = client_->Get("/Patient", plain);
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("break-glass"), std::string::npos);
  Headers allowed = Bearer(Token("emergency", RsKey(), "RS384", "system/*.rs"));
  allowed.Add("X-Break-Glass", "stroke patient unconscious");
  EXPECT_EQ(client_->Get("/Patient", allowed).status, 200);
  Headers empty = Bearer(Token("emergency", RsKey(), "RS384", "system/*.rs"));
  empty.Add("X-Break-Glass", " ");
  EXPECT_EQ(client_->Get("/Patient", empty).status, 400);
}

// A break-glass grant outlives a server restart: the read after the restart is still covered
// (one review Task for the data steward, not two).
TEST_F(AuthServerTest, BreakGlassGrantSurvivesARestart) {
  AddClient("gz-his", EsKey(), "system/*.cruds", false, "Organization/gz-central");
  AddClient("sz-er", RsKey(), "system/*.cruds", /*break_glass=*/true, "Organization/sz-heart");
  Start();
  std::string gz = Token("gz-his", EsKey(), "ES384", "system/*.cruds");
  std::string sz = Token("sz-er", RsKey(), "RS384", "system/*.cruds");
  Response patient = client_->Send("POST", "/Patient",
                                   R"({"resourceType":"Patient","gender":"female"})", Bearer(gz));
  ASSERT_EQ(patient.status, 201) << patient.body;
  std::string path = "/Patient/" + std::string(ParseBody(patient)["id"]);
  const std::string tasks =
      "/Task?code=https://fhir.medalliance.cn/CodeSystem/task-code%7Cbreak-glass-review"
      "&_summary=count";
  Headers emergency = Bearer(sz);
  emergency.Add("X-Break-Glass", "unconscious, no relatives reachable");
  EXPECT_EQ(client_->Get(path, Bearer(sz)).status, 404);
  EXPECT_EQ(client_->Get(path, emergency).status, 200);
  EXPECT_EQ(ParseBody(client_->Get(tasks, Bearer(sz)))["total"], 1);

  client_.reset();
  server_.reset();
  Start();
  EXPECT_EQ(client_->Get(path, Bearer(sz)).status, 404);
  EXPECT_EQ(client_->Get(path, emergency).status, 200);
  EXPECT_EQ(ParseBody(client_->Get(tasks, Bearer(sz)))["total"], 1);
}

TEST_F(AuthServerTest, PeopleLogInWithAPasswordFromStdin) {
  std::string output;
  ASSERT_EQ(RunShell("printf 's3cret-pass\\n' | '" + std::string(MA_BINARY) + "' user add --db '" +
                         Db().string() +
                         "' --username wang.fang --organization Organization/gz-central"
                         " --role clinician --password-stdin",
                     &output),
            0)
      << output;
  EXPECT_EQ(output.find("s3cret"), std::string::npos);
  Start();
  Response login = client_->Send("POST", "/auth/login", "username=wang.fang&password=s3cret-pass",
                                 {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(login.status, 200) << login.body;
  EXPECT_EQ(ParseBody(login)["scope"], "user/*.cruds");
  std::string token = ParseBody(login)["access_token"];
  EXPECT_EQ(client_->Get("/Patient", Bearer(token)).status, 200);
  Response wrong = client_->Send("POST", "/auth/login", "username=wang.fang&password=nope",
                                 {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(wrong.status, 400);
  EXPECT_EQ(ParseBody(wrong)["error"], "invalid_grant");
}

TEST_F(AuthServerTest, RateLimitAnswers429WithRetryAfter) {
  Start({"--rate-limit", "1", "--rate-burst", "3"});  // auth none (the harness default)
  int refused = 0;
  for (int i = 0; i < 6; ++i) {
    Response response = client_->Get("/metadata");
    if (response.status == 429) {
      ++refused;
      EXPECT_EQ(response.headers.Get("Retry-After"), "1");
      EXPECT_EQ(ParseBody(response)["issue"][0]["code"], "throttled");
    } else {
      EXPECT_EQ(response.status, 200);
    }
  }
  EXPECT_GE(refused, 2);
}

TEST_F(AuthServerTest, AuthNoneAndPlainHttpAreRefusedBeyondLoopback) {
  std::string output;
  EXPECT_NE(RunProgram({"serve", "--listen", "0.0.0.0:0", "--db", Db().string(), "--auth", "none",
                        "--quiet"},
                       &output),
            0);
  EXPECT_NE(output.find("--auth none is refused"), std::string::npos) << output;
  EXPECT_NE(
      RunProgram({"serve", "--listen", "0.0.0.0:0", "--db", Db().string(), "--quiet"}, &output), 0);
  EXPECT_NE(output.find("plain HTTP is only served on loopback"), std::string::npos) << output;
}

TEST_F(AuthServerTest, AuthNoneWarnsAtStart) {
  Start({"--auth", "none"});
  EXPECT_EQ(client_->Get("/Patient").status, 200);
  // The warning goes to the log (stdout).
  EXPECT_NE(server_->Process().GetOutput().find("authentication is OFF"), std::string::npos);
}

}  // namespace
}  // namespace medalliance::integration

namespace medalliance::integration {
namespace {

// TLS round trip: a certificate made now (never committed), curl verifying it.
TEST(TlsTest, ServesHttpsWithTheConfiguredCertificate) {
  TempDir dir;
  std::string cert = (dir.Path() / "cert.pem").string();
  std::string key = (dir.Path() / "key.pem").string();
  std::string output;
  ASSERT_EQ(RunShell("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
                     " -keyout '" +
                         key + "' -out '" + cert +
                         "' -days 1 -subj /CN=localhost"
                         " -addext subjectAltName=DNS:localhost,IP:127.0.0.1",
                     &output),
            0)
      << output;
  TestServer server(dir.Path() / "tls.db", {"--tls-cert", cert, "--tls-key", key});
  std::string port = std::to_string(server.Port());
  ASSERT_EQ(RunShell("curl -sS --max-time 10 --cacert '" + cert + "' --resolve localhost:" + port +
                         ":127.0.0.1 https://localhost:" + port + "/metadata",
                     &output),
            0)
      << output;
  EXPECT_NE(output.find("\"CapabilityStatement\""), std::string::npos) << output.substr(0, 300);
  // The base URL of an HTTPS server is https.
  EXPECT_NE(output.find("https://localhost:" + port), std::string::npos);
  // Plain HTTP to the TLS port gets no FHIR answer.
  HttpClient plain("127.0.0.1", server.Port(), {std::chrono::milliseconds(3000)});
  EXPECT_NE(plain.Get("/metadata").status, 200);
}

TEST(TlsTest, RefusesAMissingCertificate) {
  TempDir dir;
  std::string output;
  EXPECT_NE(RunProgram({"serve", "--listen", "127.0.0.1:0", "--db", (dir.Path() / "x.db").string(),
                        "--tls-cert", (dir.Path() / "none.pem").string(), "--tls-key",
                        (dir.Path() / "none.key").string(), "--auth", "none"},
                       &output),
            0);
  EXPECT_NE(output.find("TLS certificate"), std::string::npos) << output;
}

}  // namespace
}  // namespace medalliance::integration
