#include "auth/jose.h"

#include <gtest/gtest.h>

namespace medalliance::auth {
namespace {

using fhir::Json;

Json SetOf(const Json& key) {
  Json jwks = Json::MakeObject();
  jwks.Set("keys", Json::MakeArray()).PushBack(key);
  return jwks;
}

std::string SignWith(const KeyPair& pair, const std::string& alg, const std::string& kid) {
  Json header = Json::MakeObject();
  header.Set("alg", Json::MakeString(alg));
  if (!kid.empty())
    header.Set("kid", Json::MakeString(kid));
  Json claims = Json::MakeObject();
  claims.Set("iss", Json::MakeString("c"));
  return SignJws(header, claims, pair.private_pem).value();
}

TEST(JoseTest, Base64UrlIsStrict) {
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_EQ(Base64UrlDecode("-_8"), std::optional<std::string>("\xfb\xff"));
  EXPECT_FALSE(Base64UrlDecode("+/8=").has_value());
}

TEST(JoseTest, Es384SignaturesVerifyOnlyWithTheMatchingKey) {
  KeyPair pair = GenerateKeyPair("ES384", "k1").value();
  EXPECT_EQ(pair.public_jwk.GetStringMember("crv"), "P-384");
  EXPECT_EQ(pair.public_jwk.Find("d"), nullptr);  // no private part in the JWK
  EXPECT_EQ(SigningAlgorithmOf(pair.private_pem).value(), "ES384");
  Jws jws = ParseJws(SignWith(pair, "ES384", "k1")).value();
  EXPECT_EQ(jws.signature.size(), 96u);  // r || s, not DER
  EXPECT_TRUE(VerifyJws(jws, SetOf(pair.public_jwk)).has_value());
  // Another kid selects no key.
  Jws other_kid = ParseJws(SignWith(pair, "ES384", "k2")).value();
  EXPECT_FALSE(VerifyJws(other_kid, SetOf(pair.public_jwk)).has_value());
  // Another key does not verify.
  KeyPair stranger = GenerateKeyPair("ES384", "k1").value();
  EXPECT_FALSE(VerifyJws(jws, SetOf(stranger.public_jwk)).has_value());
}

TEST(JoseTest, RefusesAKeyOfTheWrongTypeForTheAlgorithm) {
  KeyPair ec = GenerateKeyPair("ES384", "k").value();
  KeyPair rsa = GenerateKeyPair("RS384", "k").value();
  Json rsa_key = rsa.public_jwk;
  rsa_key.Erase("alg");
  // An RS384 token checked against an EC key, and the reverse.
  EXPECT_FALSE(
      VerifyJws(ParseJws(SignWith(rsa, "RS384", "k")).value(), SetOf(ec.public_jwk)).has_value());
  EXPECT_TRUE(VerifyJws(ParseJws(SignWith(rsa, "RS384", "k")).value(), SetOf(rsa_key)).has_value());
  EXPECT_FALSE(VerifyJws(ParseJws(SignWith(ec, "ES384", "k")).value(), SetOf(rsa_key)).has_value());
}

TEST(JoseTest, RejectsMalformedTokens) {
  for (const char* token : {"", "a.b", "a.b.c.d", "e30.e30.!!", "bm90anNvbg.e30.AA"}) {
    EXPECT_FALSE(ParseJws(token).has_value()) << token;
  }
  EXPECT_TRUE(ParseJws("e30.e30.").has_value());  // {} . {} . empty signature
}

}  // namespace
}  // namespace medalliance::auth
