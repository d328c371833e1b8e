#include "security/sm2.hpp"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <vector>

#include "protocol/json.hpp"

namespace lantian::security {
namespace {
template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const noexcept { Free(p); }
};
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using Bn = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

// The DER form OpenSSL verifies, from the raw R and S the frame carries.
std::optional<std::vector<unsigned char>> der_signature(const protocol::Signature& signature) {
  if (!signature.well_formed()) return std::nullopt;
  Bn r(BN_bin2bn(signature.r().data(), static_cast<int>(signature.r().size()), nullptr));
  Bn s(BN_bin2bn(signature.s().data(), static_cast<int>(signature.s().size()), nullptr));
  EcdsaSig sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  (void)r.release();  // owned by sig now
  (void)s.release();
  const int size = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (size <= 0) return std::nullopt;
  std::vector<unsigned char> der(static_cast<std::size_t>(size));
  unsigned char* p = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &p) != size) return std::nullopt;
  return der;
}
}  // namespace

std::optional<Sm2PublicKey> Sm2PublicKey::from_xy(protocol::ByteView xy) {
  if (xy.size() != 64) return std::nullopt;
  std::array<unsigned char, 65> point{0x04};  // uncompressed point
  std::copy(xy.begin(), xy.end(), point.begin() + 1);
  std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>> build(
      OSSL_PARAM_BLD_new());
  if (!build ||
      OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1)
    return std::nullopt;
  std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>> params(
      OSSL_PARAM_BLD_to_param(build.get()));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "SM2", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1)
    return std::nullopt;
  std::shared_ptr<EVP_PKEY> key(raw, EVP_PKEY_free);
  // fromdata accepts any 65 bytes; a point off the curve must not become a key.
  PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return std::nullopt;
  Sm2PublicKey out;
  out.key_ = std::move(key);
  std::copy(xy.begin(), xy.end(), out.xy_.begin());
  return out;
}

std::optional<Sm2PublicKey> Sm2PublicKey::from_hex(std::string_view hex) {
  if (hex.size() != 128) return std::nullopt;
  const auto bytes = protocol::from_hex(hex);
  if (!bytes) return std::nullopt;
  return from_xy(*bytes);
}

bool Sm2PublicKey::verify(protocol::ByteView message, const protocol::Signature& signature,
                          std::string_view user_id) const {
  const auto der = der_signature(signature);
  if (!der || !key_) return false;
  MdCtx md(EVP_MD_CTX_new());
  PkeyCtx pctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key_.get(), nullptr));
  if (!md || !pctx ||
      EVP_PKEY_CTX_set1_id(pctx.get(), user_id.data(), static_cast<int>(user_id.size())) != 1)
    return false;
  EVP_MD_CTX_set_pkey_ctx(md.get(), pctx.get());  // md uses it; pctx still frees it
  if (EVP_DigestVerifyInit(md.get(), nullptr, EVP_sm3(), nullptr, key_.get()) != 1) return false;
  return EVP_DigestVerify(md.get(), der->data(), der->size(), message.data(), message.size()) == 1;
}

}  // namespace lantian::security
