#include "sim/sm2_signer.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include <stdexcept>
#include <vector>

namespace lantian::sim {

std::unique_ptr<Sm2Signer> Sm2Signer::derive(std::string_view seed, std::string user_id) {
  using Group = std::unique_ptr<EC_GROUP, decltype(&EC_GROUP_free)>;
  using Point = std::unique_ptr<EC_POINT, decltype(&EC_POINT_free)>;
  using Number = std::unique_ptr<BIGNUM, decltype(&BN_free)>;
  using Context = std::unique_ptr<BN_CTX, decltype(&BN_CTX_free)>;
  Group group(EC_GROUP_new_by_curve_name(NID_sm2), EC_GROUP_free);
  Context bn(BN_CTX_new(), BN_CTX_free);
  if (!group || !bn) return nullptr;
  // The private scalar: SHA-256 of the seed, modulo the order, never 0.
  unsigned char digest[32];
  if (EVP_Digest(seed.data(), seed.size(), digest, nullptr, EVP_sha256(), nullptr) != 1)
    return nullptr;
  Number priv(BN_bin2bn(digest, sizeof digest, nullptr), BN_free);
  if (!priv || BN_nnmod(priv.get(), priv.get(), EC_GROUP_get0_order(group.get()), bn.get()) != 1)
    return nullptr;
  if (BN_is_zero(priv.get())) BN_one(priv.get());
  Point pub(EC_POINT_new(group.get()), EC_POINT_free);
  std::array<std::uint8_t, 65> point{};  // 0x04 ‖ X ‖ Y
  if (!pub || EC_POINT_mul(group.get(), pub.get(), priv.get(), nullptr, nullptr, bn.get()) != 1 ||
      EC_POINT_point2oct(group.get(), pub.get(), POINT_CONVERSION_UNCOMPRESSED, point.data(),
                         point.size(), bn.get()) != point.size())
    return nullptr;
  // An EVP_PKEY from the two parts.
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> build(OSSL_PARAM_BLD_new(),
                                                                         OSSL_PARAM_BLD_free);
  if (!build ||
      OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, "SM2", 0) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv.get()) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1)
    return nullptr;
  std::unique_ptr<OSSL_PARAM, decltype(&OSSL_PARAM_free)> params(
      OSSL_PARAM_BLD_to_param(build.get()), OSSL_PARAM_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, "SM2", nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_KEYPAIR, params.get()) != 1)
    return nullptr;
  std::unique_ptr<Sm2Signer> signer(new Sm2Signer());
  signer->key_.reset(key);
  std::copy(point.begin() + 1, point.end(), signer->public_.begin());
  signer->user_id_ = std::move(user_id);
  return signer;
}

protocol::Signature Sm2Signer::sign(protocol::ByteView message) const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> md(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> pctx(
      EVP_PKEY_CTX_new(key_.get(), nullptr), EVP_PKEY_CTX_free);
  if (!md || !pctx ||
      EVP_PKEY_CTX_set1_id(pctx.get(), user_id_.data(), static_cast<int>(user_id_.size())) != 1)
    throw std::runtime_error("SM2: cannot set up signing");
  EVP_MD_CTX_set_pkey_ctx(md.get(), pctx.get());  // md uses it; pctx still frees it
  std::size_t der_size = 0;
  if (EVP_DigestSignInit(md.get(), nullptr, EVP_sm3(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &der_size, message.data(), message.size()) != 1)
    throw std::runtime_error("SM2: cannot sign");
  std::vector<unsigned char> der(der_size);
  if (EVP_DigestSign(md.get(), der.data(), &der_size, message.data(), message.size()) != 1)
    throw std::runtime_error("SM2: cannot sign");
  const unsigned char* p = der.data();
  std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_size)), ECDSA_SIG_free);
  if (!sig) throw std::runtime_error("SM2: unreadable signature");
  std::array<std::uint8_t, 32> r{}, s{};
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), r.data(), 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), s.data(), 32) != 32)
    throw std::runtime_error("SM2: signature part longer than 32 bytes");
  return protocol::Signature(protocol::ByteView(r), protocol::ByteView(s));
}

}  // namespace lantian::sim
