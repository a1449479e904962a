#pragma once
// JSON Web Signatures and Keys (RFC 7515, 7517, 7518) for SMART Backend Services, over
// OpenSSL 3: base64url, parsing compact JWS, verifying RS384/ES384 assertions against a
// client's JWK Set, signing (for tests, the demo and `medalliance client assertion`), key
// generation, and HMAC-SHA256 for the server's own access tokens. No HTTP here.
//
// Thread-safety: free functions, safe to call concurrently.
// Errors: kUnauthorized for a malformed token or a signature that does not verify;
// kBadRequest for a malformed key or key set; kInternal when OpenSSL fails unexpectedly.

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "fhir/json/json.h"

namespace medalliance::auth {

std::string Base64UrlEncode(std::string_view data);
// Strict: the URL alphabet without padding; nullopt otherwise.
std::optional<std::string> Base64UrlDecode(std::string_view text);

// A compact JWS split and decoded. Nothing is verified yet.
struct Jws {
  fhir::Json header;
  fhir::Json payload;
  std::string signing_input;  // "<header>.<payload>" as received
  std::string signature;      // raw bytes
};
core::Result<Jws> ParseJws(std::string_view compact);

// Verifies `jws` with the keys of `jwks` ({"keys":[...]}) that fit its header: alg RS384 with
// an RSA key of at least 2048 bits, or ES384 with an EC P-384 key; a header kid selects keys
// with that kid. Every other alg (none, HS*, RS256, ...) is refused.
core::Status VerifyJws(const Jws& jws, const fhir::Json& jwks);

// Signs header.payload with a PEM private key; header.alg says how (RS384 or ES384).
core::Result<std::string> SignJws(const fhir::Json& header, const fhir::Json& payload,
                                  std::string_view private_key_pem);

// "RS384" for an RSA private key, "ES384" for an EC P-384 one; kBadRequest otherwise.
core::Result<std::string> SigningAlgorithmOf(std::string_view private_key_pem);

// A fresh key pair for `alg` (RS384: RSA 2048; ES384: P-384): the private key as PEM and the
// public key as a JWK with kid, alg and use "sig".
struct KeyPair {
  std::string private_pem;
  fhir::Json public_jwk;
};
core::Result<KeyPair> GenerateKeyPair(std::string_view alg, std::string kid);

std::string HmacSha256(std::string_view key, std::string_view data);
// Constant-time comparison.
bool SecureEquals(std::string_view a, std::string_view b);
// Cryptographically random bytes.
std::string RandomBytes(size_t count);

}  // namespace medalliance::auth
