// HMAC-SHA256 and friends: RFC 4231 vectors, streaming, constant-time comparison.
#include "outcall/common/crypto.h"

#include <gtest/gtest.h>

namespace outcall::common {
namespace {

TEST(HmacSha256, Rfc4231Vectors) {
  // Case 1
  EXPECT_EQ(HmacSha256::ComputeHex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Case 2
  EXPECT_EQ(HmacSha256::ComputeHex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Case 6: a key longer than the block size
  EXPECT_EQ(HmacSha256::ComputeHex(std::string(131, '\xaa'),
                                   "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(HmacSha256, StreamingEqualsOneShot) {
  const std::string key = RandomHex(16);
  const std::string body = "1739537297." + std::string(100000, 'z') + "fin";
  HmacSha256 h(key);
  for (size_t i = 0; i < body.size(); i += 4093) h.Update(std::string_view(body).substr(i, 4093));
  EXPECT_EQ(HexEncode(h.Finish()), HmacSha256::ComputeHex(key, body));
}

TEST(HmacSha256, ElevenLabsStyleSignatureChangesWithOneByte) {
  const std::string secret = "wsec_" + RandomHex(8);
  const std::string body = R"({"type":"post_call_transcription","data":{"conversation_id":"c1"}})";
  const std::string sig = HmacSha256::ComputeHex(secret, "1739537297." + body);
  ASSERT_EQ(sig.size(), 64u);
  EXPECT_EQ(sig.find_first_not_of("0123456789abcdef"), std::string::npos);
  std::string flipped = body;
  flipped[10] ^= 1;
  EXPECT_NE(HmacSha256::ComputeHex(secret, "1739537297." + flipped), sig);
  EXPECT_NE(HmacSha256::ComputeHex(secret, "1739537298." + body), sig);
}

TEST(Sha256, KnownVector) {
  EXPECT_EQ(Sha256::Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256::Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(ConstantTimeEquals, ComparesBytes) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
}

TEST(Hex, EncodesAndRandomDiffers) {
  EXPECT_EQ(HexEncode(std::string("\x00\x01\xfe\xff", 4)), "0001feff");
  const std::string a = RandomHex(16), b = RandomHex(16);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace outcall::common
