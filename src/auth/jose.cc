#include "auth/jose.h"

#include <memory>
#include <vector>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "core/base64.h"

namespace medalliance::auth {

using core::Error;
using core::ErrorCode;
using fhir::Json;

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct BldFree {
  void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using Bn = std::unique_ptr<BIGNUM, BnFree>;

constexpr size_t kP384Size = 48;

Error Unauthorized(std::string message) {
  return Error(ErrorCode::kUnauthorized, std::move(message));
}

std::string_view MemberText(const Json& object, std::string_view key) {
  const Json* member = object.Find(key);
  return member != nullptr && member->IsString() ? std::string_view(member->GetString())
                                                 : std::string_view();
}

Bn BnFromBase64Url(std::string_view text) {
  std::optional<std::string> bytes = Base64UrlDecode(text);
  if (!bytes || bytes->empty())
    return nullptr;
  return Bn(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes->data()),
                      static_cast<int>(bytes->size()), nullptr));
}

std::string BnToBytes(const BIGNUM* bn, size_t width) {
  std::string out(width == 0 ? static_cast<size_t>(BN_num_bytes(bn)) : width, '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
  return out;
}

core::Result<Pkey> KeyFromParams(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return Error::BadRequest(std::string("the JWK is not a valid ") + type + " public key");
  }
  return Pkey(key);
}

// A public key from one JWK of a set, for `alg`.
core::Result<Pkey> PublicKeyFromJwk(const Json& jwk, std::string_view alg) {
  std::string_view kty = MemberText(jwk, "kty");
  std::unique_ptr<OSSL_PARAM_BLD, BldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld)
    return Error::Internal("OpenSSL: out of memory");
  if (alg == "RS384") {
    if (kty != "RSA")
      return Error::BadRequest("RS384 needs an RSA key");
    Bn n = BnFromBase64Url(MemberText(jwk, "n"));
    Bn e = BnFromBase64Url(MemberText(jwk, "e"));
    if (!n || !e)
      return Error::BadRequest("the RSA JWK lacks a valid n or e");
    if (!OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
        !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get())) {
      return Error::Internal("OpenSSL: cannot build RSA parameters");
    }
    MA_ASSIGN_OR_RETURN(Pkey key, KeyFromParams("RSA", bld.get()));
    if (EVP_PKEY_get_bits(key.get()) < 2048)
      return Error::BadRequest("RSA keys must have at least 2048 bits");
    return key;
  }
  if (alg == "ES384") {
    if (kty != "EC" || MemberText(jwk, "crv") != "P-384")
      return Error::BadRequest("ES384 needs an EC key on P-384");
    std::optional<std::string> x = Base64UrlDecode(MemberText(jwk, "x"));
    std::optional<std::string> y = Base64UrlDecode(MemberText(jwk, "y"));
    if (!x || !y || x->size() != kP384Size || y->size() != kP384Size)
      return Error::BadRequest("the EC JWK lacks a valid x or y");
    std::string point = "\x04" + *x + *y;
    if (!OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "secp384r1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                          point.size())) {
      return Error::Internal("OpenSSL: cannot build EC parameters");
    }
    return KeyFromParams("EC", bld.get());
  }
  return Error::BadRequest("unsupported algorithm '" + std::string(alg) + "'");
}

bool VerifyWithKey(EVP_PKEY* key, std::string_view alg, std::string_view data,
                   std::string_view signature) {
  std::string der;
  if (alg == "ES384") {
    // JWS carries r || s (RFC 7518 §3.4); OpenSSL wants a DER ECDSA-Sig-Value.
    if (signature.size() != 2 * kP384Size)
      return false;
    std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
    const auto* raw = reinterpret_cast<const unsigned char*>(signature.data());
    BIGNUM* r = BN_bin2bn(raw, kP384Size, nullptr);
    BIGNUM* s = BN_bin2bn(raw + kP384Size, kP384Size, nullptr);
    if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return false;
    }
    unsigned char* out = nullptr;
    int length = i2d_ECDSA_SIG(sig.get(), &out);
    if (length <= 0)
      return false;
    der.assign(reinterpret_cast<const char*>(out), static_cast<size_t>(length));
    OPENSSL_free(out);
    signature = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha384(), nullptr, key) != 1)
    return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(), reinterpret_cast<const unsigned char*>(data.data()),
                          data.size()) == 1;
}

core::Result<Pkey> ReadPrivateKey(std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  EVP_PKEY* key = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  if (key == nullptr)
    return Error::BadRequest("not a PEM private key");
  return Pkey(key);
}

}  // namespace

std::string Base64UrlEncode(std::string_view data) {
  return core::Base64Encode(data, core::Base64Alphabet::kUrl, /*pad=*/false);
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  for (char c : text) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_';
    if (!ok)
      return std::nullopt;
  }
  return core::Base64Decode(text);
}

core::Result<Jws> ParseJws(std::string_view compact) {
  size_t first = compact.find('.');
  size_t second = first == std::string_view::npos ? first : compact.find('.', first + 1);
  if (second == std::string_view::npos || compact.find('.', second + 1) != std::string_view::npos)
    return Unauthorized("the token is not a compact JWS (three base64url parts)");
  std::optional<std::string> header = Base64UrlDecode(compact.substr(0, first));
  std::optional<std::string> payload =
      Base64UrlDecode(compact.substr(first + 1, second - first - 1));
  std::optional<std::string> signature = Base64UrlDecode(compact.substr(second + 1));
  if (!header || !payload || !signature)
    return Unauthorized("the token is not valid base64url");
  Jws jws;
  core::Result<Json> parsed_header = fhir::ParseJson(*header);
  core::Result<Json> parsed_payload = fhir::ParseJson(*payload);
  if (!parsed_header || !parsed_payload || !parsed_header->IsObject() ||
      !parsed_payload->IsObject()) {
    return Unauthorized("the token's header or claims are not a JSON object");
  }
  jws.header = std::move(*parsed_header);
  jws.payload = std::move(*parsed_payload);
  jws.signing_input = std::string(compact.substr(0, second));
  jws.signature = std::move(*signature);
  return jws;
}

core::Status VerifyJws(const Jws& jws, const Json& jwks) {
  std::string_view alg = MemberText(jws.header, "alg");
  if (alg != "RS384" && alg != "ES384") {
    return Unauthorized("the assertion's alg '" + std::string(alg) +
                        "' is not accepted (RS384 or ES384)");
  }
  const Json* keys = jwks.Find("keys");
  if (keys == nullptr || !keys->IsArray())
    return Unauthorized("the client's JWK Set has no keys");
  std::string_view kid = MemberText(jws.header, "kid");
  int tried = 0;
  for (const Json& jwk : keys->Items()) {
    if (!jwk.IsObject())
      continue;
    if (!kid.empty() && MemberText(jwk, "kid") != kid)
      continue;
    std::string_view key_alg = MemberText(jwk, "alg");
    if (!key_alg.empty() && key_alg != alg)
      continue;
    core::Result<Pkey> key = PublicKeyFromJwk(jwk, alg);
    if (!key)
      continue;
    ++tried;
    if (VerifyWithKey(key->get(), alg, jws.signing_input, jws.signature))
      return core::Ok{};
  }
  if (tried == 0) {
    return Unauthorized("no key of the client fits the assertion (alg " + std::string(alg) +
                        (kid.empty() ? "" : ", kid " + std::string(kid)) + ")");
  }
  return Unauthorized("the assertion's signature does not verify");
}

core::Result<std::string> SignJws(const Json& header, const Json& payload,
                                  std::string_view private_key_pem) {
  std::string alg(MemberText(header, "alg"));
  if (alg != "RS384" && alg != "ES384")
    return Error::BadRequest("SignJws signs RS384 or ES384, not '" + alg + "'");
  MA_ASSIGN_OR_RETURN(Pkey key, ReadPrivateKey(private_key_pem));
  std::string input =
      Base64UrlEncode(fhir::WriteJson(header)) + "." + Base64UrlEncode(fhir::WriteJson(payload));
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha384(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return Error::BadRequest("the private key cannot sign " + alg);
  }
  std::string signature(length, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &length,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
    return Error::Internal("OpenSSL: signing failed");
  }
  signature.resize(length);
  if (alg == "ES384") {
    const auto* der = reinterpret_cast<const unsigned char*>(signature.data());
    std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(
        d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size())));
    if (!sig)
      return Error::Internal("OpenSSL: bad ECDSA signature");
    signature = BnToBytes(ECDSA_SIG_get0_r(sig.get()), kP384Size) +
                BnToBytes(ECDSA_SIG_get0_s(sig.get()), kP384Size);
  }
  return input + "." + Base64UrlEncode(signature);
}

core::Result<std::string> SigningAlgorithmOf(std::string_view private_key_pem) {
  MA_ASSIGN_OR_RETURN(Pkey key, ReadPrivateKey(private_key_pem));
  switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_RSA:
      return std::string("RS384");
    case EVP_PKEY_EC:
      return std::string("ES384");
    default:
      return Error::BadRequest("the private key is neither RSA nor EC");
  }
}

core::Result<KeyPair> GenerateKeyPair(std::string_view alg, std::string kid) {
  Pkey key;
  if (alg == "RS384") {
    key.reset(EVP_RSA_gen(2048));
  } else if (alg == "ES384") {
    key.reset(EVP_EC_gen("P-384"));
  } else {
    return Error::BadRequest("GenerateKeyPair makes RS384 or ES384 keys");
  }
  if (!key)
    return Error::Internal("OpenSSL: key generation failed");
  KeyPair pair;
  std::unique_ptr<BIO, BioFree> bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return Error::Internal("OpenSSL: cannot write the private key");
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  pair.private_pem.assign(data, static_cast<size_t>(size));

  Json jwk = Json::MakeObject();
  if (alg == "RS384") {
    BIGNUM* n = nullptr;
    BIGNUM* e = nullptr;
    EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E, &e);
    Bn n_owner(n);
    Bn e_owner(e);
    if (!n || !e)
      return Error::Internal("OpenSSL: cannot read the RSA public key");
    jwk.Set("kty", Json::MakeString("RSA"));
    jwk.Set("n", Json::MakeString(Base64UrlEncode(BnToBytes(n, 0))));
    jwk.Set("e", Json::MakeString(Base64UrlEncode(BnToBytes(e, 0))));
  } else {
    BIGNUM* x = nullptr;
    BIGNUM* y = nullptr;
    EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x);
    EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y);
    Bn x_owner(x);
    Bn y_owner(y);
    if (!x || !y)
      return Error::Internal("OpenSSL: cannot read the EC public key");
    jwk.Set("kty", Json::MakeString("EC"));
    jwk.Set("crv", Json::MakeString("P-384"));
    jwk.Set("x", Json::MakeString(Base64UrlEncode(BnToBytes(x, kP384Size))));
    jwk.Set("y", Json::MakeString(Base64UrlEncode(BnToBytes(y, kP384Size))));
  }
  jwk.Set("kid", Json::MakeString(std::move(kid)));
  jwk.Set("alg", Json::MakeString(std::string(alg)));
  jwk.Set("use", Json::MakeString("sig"));
  pair.public_jwk = std::move(jwk);
  return pair;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

bool SecureEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string RandomBytes(size_t count) {
  std::string out(count, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(count)) != 1) {
    // Without randomness no key or salt is safe; this is not a client's fault.
    std::abort();
  }
  return out;
}

}  // namespace medalliance::auth
