#include "auth/token_service.h"

#include <filesystem>
#include <random>

#include <gtest/gtest.h>

#include "auth/jose.h"
#include "auth/password.h"
#include "store/sqlite/sqlite_store.h"

namespace medalliance::auth {
namespace {

using fhir::Json;

constexpr char kTokenUrl[] = "https://fhir.example.cn/auth/token";
constexpr core::EpochMillis kStart = 1'800'000'000'000;

Json Jwks(const std::vector<Json>& keys) {
  Json jwks = Json::MakeObject();
  Json& array = jwks.Set("keys", Json::MakeArray());
  for (const Json& key : keys) array.PushBack(key);
  return jwks;
}

class TokenServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::SqliteStore::Open({});
    ASSERT_TRUE(opened.has_value());
    store_ = std::move(*opened);
    Open();
    // RSA key generation is slow: one pair of keys for the whole suite.
    static const KeyPair kEs = *GenerateKeyPair("ES384", "es-1");
    static const KeyPair kRs = *GenerateKeyPair("RS384", "rs-1");
    es_key_ = kEs;
    rs_key_ = kRs;
    Register("gz-his", {es_key_.public_jwk, rs_key_.public_jwk}, {"system/*.rs"});
  }

  void Open() {
    TokenServiceOptions options;
    options.clock = &clock_;
    options.on_event = [this](const SecurityEvent& event) { events_.push_back(event); };
    service_ = std::make_unique<TokenService>(*store_, options);
    ASSERT_TRUE(service_->Init().has_value());
  }

  void Register(const std::string& id, const std::vector<Json>& keys,
                std::vector<std::string> scopes) {
    ClientRecord client;
    client.client_id = id;
    client.organization_id = "Organization/gz-central";
    client.jwks = fhir::WriteJson(Jwks(keys));
    client.scopes = std::move(scopes);
    client.roles = {"system"};
    client.created_at = kStart;
    ASSERT_TRUE(service_->GetStore().AddClient(client).has_value());
  }

  int64_t Now() const { return clock_.Now() / 1000; }

  Json Claims(const std::string& client = "gz-his") {
    Json claims = Json::MakeObject();
    claims.Set("iss", Json::MakeString(client));
    claims.Set("sub", Json::MakeString(client));
    claims.Set("aud", Json::MakeString(kTokenUrl));
    claims.Set("exp", Json::MakeNumber(Now() + 240));
    claims.Set("jti", Json::MakeString("jti-" + std::to_string(++jti_counter_)));
    return claims;
  }

  std::string Sign(const Json& claims, const std::string& alg = "ES384") {
    Json header = Json::MakeObject();
    header.Set("alg", Json::MakeString(alg));
    header.Set("kid", Json::MakeString(alg == "ES384" ? "es-1" : "rs-1"));
    header.Set("typ", Json::MakeString("JWT"));
    auto jws = SignJws(header, claims, alg == "ES384" ? es_key_.private_pem : rs_key_.private_pem);
    EXPECT_TRUE(jws.has_value());
    return jws.has_value() ? *jws : std::string();
  }

  TokenOutcome Ask(const std::string& assertion, const std::string& scope = "system/*.rs") {
    TokenRequest request;
    request.grant_type = "client_credentials";
    request.client_assertion_type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    request.client_assertion = assertion;
    request.scope = scope;
    request.token_endpoint = kTokenUrl;
    return service_->Issue(request);
  }

  void ExpectRefused(const TokenOutcome& outcome, const std::string& error,
                     const std::string& words) {
    EXPECT_TRUE(outcome.access_token.empty());
    EXPECT_EQ(outcome.error, error);
    EXPECT_NE(outcome.error_description.find(words), std::string::npos)
        << outcome.error_description;
    ASSERT_FALSE(events_.empty());
    EXPECT_EQ(events_.back().kind, SecurityEvent::Kind::kTokenRefused);
  }

  core::FakeClock clock_{kStart};
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<TokenService> service_;
  KeyPair es_key_;
  KeyPair rs_key_;
  std::vector<SecurityEvent> events_;
  int jti_counter_ = 0;
};

TEST_F(TokenServiceTest, IssuesAnEs384TokenThatValidatesToTheCaller) {
  TokenOutcome outcome = Ask(Sign(Claims(), "ES384"), "system/Observation.rs system/*.cruds");
  ASSERT_TRUE(outcome.error.empty()) << outcome.error_description;
  EXPECT_EQ(outcome.expires_in, 300);
  EXPECT_EQ(outcome.scope, "system/Observation.rs system/*.rs");
  auto caller = service_->Validate(outcome.access_token);
  ASSERT_TRUE(caller.has_value()) << caller.error().GetMessage();
  EXPECT_TRUE(caller->authenticated);
  EXPECT_EQ(caller->client_id, "gz-his");
  EXPECT_EQ(caller->organization_id, "gz-central");  // the bare member id
  EXPECT_EQ(caller->roles, std::vector<std::string>{"system"});
  EXPECT_EQ(caller->scopes, (std::vector<std::string>{"system/Observation.rs", "system/*.rs"}));
  EXPECT_EQ(events_.back().kind, SecurityEvent::Kind::kTokenIssued);
}

TEST_F(TokenServiceTest, IssuesAnRs384Token) {
  TokenOutcome outcome = Ask(Sign(Claims(), "RS384"));
  ASSERT_TRUE(outcome.error.empty()) << outcome.error_description;
  EXPECT_TRUE(service_->Validate(outcome.access_token).has_value());
}

TEST_F(TokenServiceTest, RefusesAnExpiredAssertion) {
  Json claims = Claims();
  claims.Set("exp", Json::MakeNumber(Now() - 120));
  ExpectRefused(Ask(Sign(claims)), "invalid_client", "expired");
}

TEST_F(TokenServiceTest, RefusesAnAssertionExpiringTooFarAhead) {
  Json claims = Claims();
  claims.Set("exp", Json::MakeNumber(Now() + 3600));
  ExpectRefused(Ask(Sign(claims)), "invalid_client", "seconds ahead");
}

TEST_F(TokenServiceTest, RefusesAnAssertionNotYetValid) {
  Json claims = Claims();
  claims.Set("nbf", Json::MakeNumber(Now() + 200));
  ExpectRefused(Ask(Sign(claims)), "invalid_client", "nbf in the future");
  claims = Claims();
  claims.Set("iat", Json::MakeNumber(Now() + 200));
  ExpectRefused(Ask(Sign(claims)), "invalid_client", "iat in the future");
}

TEST_F(TokenServiceTest, RefusesAnotherAudience) {
  Json claims = Claims();
  claims.Set("aud", Json::MakeString("https://other.example.cn/auth/token"));
  ExpectRefused(Ask(Sign(claims)), "invalid_client", "aud");
}

TEST_F(TokenServiceTest, RefusesABadSignature) {
  std::string assertion = Sign(Claims());
  // Signed by a key the client never registered.
  auto stranger = GenerateKeyPair("ES384", "es-1");
  ASSERT_TRUE(stranger.has_value());
  Json header = Json::MakeObject();
  header.Set("alg", Json::MakeString("ES384"));
  header.Set("kid", Json::MakeString("es-1"));
  auto forged = SignJws(header, Claims(), stranger->private_pem);
  ASSERT_TRUE(forged.has_value());
  ExpectRefused(Ask(*forged), "invalid_client", "signature does not verify");
  // A signature byte flipped.
  char& last = assertion[assertion.size() - 2];
  last = last == 'A' ? 'B' : 'A';
  ExpectRefused(Ask(assertion), "invalid_client", "signature");
}

TEST_F(TokenServiceTest, RefusesAlgNoneAndHmac) {
  for (const char* alg : {"none", "HS256", "RS256"}) {
    Json header = Json::MakeObject();
    header.Set("alg", Json::MakeString(alg));
    std::string unsigned_token = Base64UrlEncode(fhir::WriteJson(header)) + "." +
                                 Base64UrlEncode(fhir::WriteJson(Claims())) + ".";
    ExpectRefused(Ask(unsigned_token), "invalid_client", "alg");
  }
}

TEST_F(TokenServiceTest, RefusesAReplayedJtiAlsoAfterARestart) {
  std::string assertion = Sign(Claims());
  ASSERT_TRUE(Ask(assertion).error.empty());
  ExpectRefused(Ask(assertion), "invalid_client", "jti has been used");
  Open();  // a new service over the same database: the jti is remembered there
  ExpectRefused(Ask(assertion), "invalid_client", "jti has been used");
}

TEST_F(TokenServiceTest, RefusesUnknownAndRevokedClients) {
  ExpectRefused(Ask(Sign(Claims("nobody"))), "invalid_client", "unknown client");
  ASSERT_TRUE(service_->GetStore().RevokeClient("gz-his", kStart).has_value());
  ExpectRefused(Ask(Sign(Claims())), "invalid_client", "revoked");
}

TEST_F(TokenServiceTest, RefusesScopesOutsideTheRegistration) {
  ExpectRefused(Ask(Sign(Claims()), "system/Patient.c"), "invalid_scope", "registered");
  ExpectRefused(Ask(Sign(Claims()), ""), "invalid_scope", "registered");
}

TEST_F(TokenServiceTest, RefusesMismatchedIssuerAndSubject) {
  Json claims = Claims();
  claims.Set("sub", Json::MakeString("someone-else"));
  ExpectRefused(Ask(Sign(claims)), "invalid_client", "iss and sub");
}

TEST_F(TokenServiceTest, AccessTokensExpireAndCannotBeAltered) {
  TokenOutcome outcome = Ask(Sign(Claims()));
  ASSERT_TRUE(outcome.error.empty());
  std::string token = outcome.access_token;
  // Compact (every request carries it): claims and a 128-bit tag, no JWT header.
  EXPECT_LT(token.size(), 160u) << token;
  std::string altered = token;
  altered[altered.find('.') + 3] ^= 1;
  EXPECT_FALSE(service_->Validate(altered).has_value());
  altered = token;
  altered[2] ^= 1;  // in the claims
  EXPECT_FALSE(service_->Validate(altered).has_value());
  EXPECT_FALSE(service_->Validate(token + "x").has_value());
  EXPECT_FALSE(service_->Validate(token + "." + token).has_value());
  EXPECT_FALSE(service_->Validate(token.substr(0, token.find('.') + 1)).has_value());
  // Another token's claims (a later expiry) under this token's tag.
  clock_.Advance(1'000);
  TokenOutcome other = Ask(Sign(Claims()));
  ASSERT_TRUE(other.error.empty());
  ASSERT_NE(other.access_token, token);
  clock_.Advance(-1'000);
  std::string swapped =
      other.access_token.substr(0, other.access_token.find('.')) + token.substr(token.find('.'));
  EXPECT_FALSE(service_->Validate(swapped).has_value());
  EXPECT_FALSE(service_->Validate("not-a-token").has_value());
  clock_.Advance(299'000);
  EXPECT_TRUE(service_->Validate(token).has_value());
  clock_.Advance(2'000);
  auto expired = service_->Validate(token);
  ASSERT_FALSE(expired.has_value());
  EXPECT_EQ(expired.error().GetCode(), core::ErrorCode::kUnauthorized);
}

TEST_F(TokenServiceTest, PeopleLogInWithTheirPasswordAndRole) {
  PasswordCost cheap;
  cheap.memory_kib = 1024;
  cheap.time = 1;
  auto hash = HashPassword("correct horse", cheap);
  ASSERT_TRUE(hash.has_value());
  EXPECT_TRUE(hash->starts_with("$argon2id$"));
  UserRecord user;
  user.username = "li.na";
  user.organization_id = "Organization/sz-heart";
  user.role = "researcher";
  user.password_hash = *hash;
  ASSERT_TRUE(service_->GetStore().AddUser(user).has_value());
  TokenRequest request;
  request.grant_type = "password";
  request.username = "li.na";
  request.password = "correct horse";
  TokenOutcome outcome = service_->Issue(request);
  ASSERT_TRUE(outcome.error.empty()) << outcome.error_description;
  EXPECT_EQ(outcome.scope, "user/*.rs");
  auto caller = service_->Validate(outcome.access_token);
  ASSERT_TRUE(caller.has_value());
  EXPECT_EQ(caller->roles, std::vector<std::string>{"researcher"});
  EXPECT_EQ(events_.back().kind, SecurityEvent::Kind::kLogin);

  request.password = "wrong";
  EXPECT_EQ(service_->Issue(request).error, "invalid_grant");
  EXPECT_EQ(events_.back().kind, SecurityEvent::Kind::kLoginRefused);
  request.password = "correct horse";
  ASSERT_TRUE(service_->GetStore().SetUserDisabled("li.na", true).has_value());
  EXPECT_EQ(service_->Issue(request).error, "invalid_grant");
}

}  // namespace
}  // namespace medalliance::auth
