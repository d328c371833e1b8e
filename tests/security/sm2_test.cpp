// SM2/SM3 verification of terminal signatures: valid signatures verify, and everything that must
// not verify does not (another message, another user ID, another key, a bent signature), and keys
// that are not points of the curve are refused.

#include <gtest/gtest.h>

#include "protocol/json.hpp"
#include "security/sm2.hpp"
#include "sim/sm2_signer.hpp"

namespace lantian::security {
namespace {

protocol::Bytes bytes_of(std::string_view text) {
  return {text.begin(), text.end()};
}

class Sm2Test : public ::testing::Test {
 protected:
  Sm2Test()
      : signer_(sim::Sm2Signer::derive("LFWD2ZPZ9BA158472", std::string(default_sm2_user_id))),
        key_(Sm2PublicKey::from_xy(signer_->public_key())) {}
  std::unique_ptr<sim::Sm2Signer> signer_;
  std::optional<Sm2PublicKey> key_;
  const protocol::Bytes message_ = bytes_of("the data unit of a report");
};

TEST_F(Sm2Test, AValidSignatureVerifies) {
  ASSERT_TRUE(signer_ && key_);
  const auto signature = signer_->sign(message_);
  EXPECT_TRUE(key_->verify(message_, signature, default_sm2_user_id));
  EXPECT_EQ(key_->xy(), signer_->public_key());
}

TEST_F(Sm2Test, AnythingChangedFailsToVerify) {
  ASSERT_TRUE(signer_ && key_);
  const auto signature = signer_->sign(message_);
  auto altered = message_;
  altered.back() ^= 0x01;
  EXPECT_FALSE(key_->verify(altered, signature, default_sm2_user_id));
  EXPECT_FALSE(key_->verify(message_, signature, "CHIP000000000001"));  // another user ID
  const auto other = sim::Sm2Signer::derive("LZZJ5ACA5AF110265", std::string(default_sm2_user_id));
  ASSERT_TRUE(other);
  EXPECT_FALSE(key_->verify(message_, other->sign(message_), default_sm2_user_id));
  auto r = protocol::Bytes(signature.r().begin(), signature.r().end());
  r[5] ^= 0x40;
  EXPECT_FALSE(key_->verify(message_, protocol::Signature(r, signature.s()), default_sm2_user_id));
  // Malformed signatures are a plain "no": empty parts, a part above the group order.
  EXPECT_FALSE(key_->verify(message_, protocol::Signature(), default_sm2_user_id));
  const protocol::Bytes huge(32, 0xFF);
  EXPECT_FALSE(key_->verify(message_, protocol::Signature(huge, huge), default_sm2_user_id));
}

TEST_F(Sm2Test, KeysMustBePointsOfTheCurve) {
  ASSERT_TRUE(signer_);
  const std::string hex = protocol::to_hex(signer_->public_key());
  ASSERT_EQ(hex.size(), 128u);
  const auto parsed = Sm2PublicKey::from_hex(hex);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->xy(), signer_->public_key());
  auto off_curve = signer_->public_key();
  off_curve[63] ^= 0x01;  // y changed: no longer on the curve
  EXPECT_FALSE(Sm2PublicKey::from_xy(off_curve));
  EXPECT_FALSE(Sm2PublicKey::from_hex(hex.substr(2)));         // too short
  EXPECT_FALSE(Sm2PublicKey::from_hex(hex.substr(2) + "zz"));  // not hex
  EXPECT_FALSE(Sm2PublicKey::from_xy(protocol::Bytes(64, 0)));
}

}  // namespace
}  // namespace lantian::security
