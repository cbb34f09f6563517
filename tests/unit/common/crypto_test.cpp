// Unit tests for outcall/common/crypto.h: HMAC-SHA256, SHA-256, hex, constant-time comparison and
// random tokens.
#include "outcall/common/crypto.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>

namespace outcall::common {
namespace {

using ::testing::MatchesRegex;

std::string Repeat(char c, size_t n) { return std::string(n, c); }

// RFC 4231 section 4.2, test case 1.
TEST(HmacSha256Test, Rfc4231Case1) {
  EXPECT_EQ(HmacSha256::ComputeHex(Repeat('\x0b', 20), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

// Test case 2: a key shorter than the output.
TEST(HmacSha256Test, Rfc4231Case2) {
  EXPECT_EQ(HmacSha256::ComputeHex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// Test case 3: 50 bytes of 0xdd under 20 bytes of 0xaa.
TEST(HmacSha256Test, Rfc4231Case3) {
  EXPECT_EQ(HmacSha256::ComputeHex(Repeat('\xaa', 20), Repeat('\xdd', 50)),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
}

// Test case 6: a key larger than the block size, hashed first.
TEST(HmacSha256Test, Rfc4231Case6) {
  EXPECT_EQ(HmacSha256::ComputeHex(Repeat('\xaa', 131),
                                   "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

// Test case 7: key and data both larger than the block size.
TEST(HmacSha256Test, Rfc4231Case7) {
  EXPECT_EQ(HmacSha256::ComputeHex(
                Repeat('\xaa', 131),
                "This is a test using a larger than block-size key and a larger than block-size "
                "data. The key needs to be hashed before being used by the HMAC algorithm."),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST(HmacSha256Test, EmptyKeyAndEmptyData) {
  EXPECT_EQ(HmacSha256::ComputeHex("", ""),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(HmacSha256Test, ComputeMatchesComputeHex) {
  const Sha256Digest digest = HmacSha256::Compute("Jefe", "what do ya want for nothing?");
  EXPECT_EQ(HexEncode(digest), HmacSha256::ComputeHex("Jefe", "what do ya want for nothing?"));
  EXPECT_EQ(digest[0], 0x5b);
  EXPECT_EQ(digest[31], 0x43);
}

TEST(HmacSha256Test, StreamingInPiecesEqualsOneShot) {
  const std::string key = RandomHex(32);
  std::string body;
  for (int i = 0; i < 1000; ++i) {
    body += "{\"type\":\"post_call_transcription\",\"i\":" + std::to_string(i) + "}\n";
  }
  const std::string one_shot = HmacSha256::ComputeHex(key, body);

  for (size_t piece : {size_t{1}, size_t{7}, size_t{64}, size_t{1000}, body.size()}) {
    SCOPED_TRACE(piece);
    HmacSha256 mac(key);
    for (size_t pos = 0; pos < body.size(); pos += piece) mac.Update(body.substr(pos, piece));
    EXPECT_EQ(HexEncode(mac.Finish()), one_shot);
  }

  // Empty updates change nothing.
  HmacSha256 with_empty(key);
  with_empty.Update("");
  with_empty.Update(body);
  with_empty.Update("");
  EXPECT_EQ(HexEncode(with_empty.Finish()), one_shot);
}

TEST(HmacSha256Test, StreamingRfcCase2InPieces) {
  HmacSha256 mac("Jefe");
  mac.Update("what do ya ");
  mac.Update("want ");
  mac.Update("for nothing?");
  EXPECT_EQ(HexEncode(mac.Finish()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(HmacSha256Test, MoveKeepsState) {
  HmacSha256 mac("Jefe");
  mac.Update("what do ya want ");
  HmacSha256 moved(std::move(mac));
  moved.Update("for nothing?");
  EXPECT_EQ(HexEncode(moved.Finish()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

  HmacSha256 assigned("other key");
  HmacSha256 source("Jefe");
  source.Update("what do ya want for nothing?");
  assigned = std::move(source);
  EXPECT_EQ(HexEncode(assigned.Finish()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

// ElevenLabs signs webhooks as HMAC-SHA256(secret, "<timestamp>.<body>"), hex encoded.
TEST(HmacSha256Test, ElevenLabsStyleSignature) {
  const std::string secret = RandomHex(32);
  const std::string timestamp = "1735689600";
  std::string body = R"({"type":"post_call_transcription","data":{"conversation_id":"conv_01"}})";
  const std::string signature = HmacSha256::ComputeHex(secret, timestamp + "." + body);
  EXPECT_THAT(signature, MatchesRegex("[0-9a-f]{64}"));
  EXPECT_EQ(signature, HmacSha256::ComputeHex(secret, timestamp + "." + body));

  // Flipping a single bit of one body byte changes the signature.
  std::string tampered = body;
  tampered[10] = static_cast<char>(tampered[10] ^ 0x01);
  EXPECT_NE(HmacSha256::ComputeHex(secret, timestamp + "." + tampered), signature);

  // So do another timestamp and another secret.
  EXPECT_NE(HmacSha256::ComputeHex(secret, "1735689601." + body), signature);
  EXPECT_NE(HmacSha256::ComputeHex(RandomHex(32), timestamp + "." + body), signature);
}

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(Sha256::Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256::Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256::Hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, StreamingEqualsOneShot) {
  Sha256 h;
  h.Update("a");
  h.Update("");
  h.Update("bc");
  EXPECT_EQ(HexEncode(h.Finish()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(ConstantTimeEqualsTest, Cases) {
  EXPECT_TRUE(ConstantTimeEquals("abcdef", "abcdef"));
  EXPECT_FALSE(ConstantTimeEquals("abcdef", "abcdeg"));
  EXPECT_FALSE(ConstantTimeEquals("abcdef", "bbcdef"));
  EXPECT_FALSE(ConstantTimeEquals("abcdef", "abcde"));
  EXPECT_FALSE(ConstantTimeEquals("abcde", "abcdef"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_FALSE(ConstantTimeEquals("a", ""));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  // Embedded NUL bytes are compared, not treated as terminators.
  EXPECT_FALSE(ConstantTimeEquals(std::string("ab\0c", 4), std::string("ab\0d", 4)));
  EXPECT_TRUE(ConstantTimeEquals(std::string("ab\0c", 4), std::string("ab\0c", 4)));
  const std::string mac = HmacSha256::ComputeHex("k", "m");
  EXPECT_TRUE(ConstantTimeEquals(mac, HmacSha256::ComputeHex("k", "m")));
  EXPECT_FALSE(ConstantTimeEquals(mac, HmacSha256::ComputeHex("k", "n")));
}

TEST(HexEncodeTest, Bytes) {
  EXPECT_EQ(HexEncode(std::string_view()), "");
  EXPECT_EQ(HexEncode("abc"), "616263");
  EXPECT_EQ(HexEncode(std::string("\x00\x01\x0f\x10\x7f\x80\xfe\xff", 8)), "00010f107f80feff");
}

TEST(HexEncodeTest, Digest) {
  Sha256Digest d{};
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<unsigned char>(i * 8);
  const std::string hex = HexEncode(d);
  EXPECT_EQ(hex.size(), 64u);
  EXPECT_EQ(hex.substr(0, 8), "00081018");
  EXPECT_EQ(hex.substr(56), "e0e8f0f8");
}

TEST(RandomHexTest, LengthAndCharset) {
  EXPECT_EQ(RandomHex(0), "");
  for (size_t n : {size_t{1}, size_t{16}, size_t{32}, size_t{100}}) {
    const std::string r = RandomHex(n);
    EXPECT_EQ(r.size(), 2 * n);
    EXPECT_THAT(r, MatchesRegex("[0-9a-f]*"));
  }
}

TEST(RandomHexTest, CallsDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) seen.insert(RandomHex(16));
  EXPECT_EQ(seen.size(), 50u);
  EXPECT_NE(RandomHex(32), RandomHex(32));
}

TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(common::Base64Encode(""), "");
  EXPECT_EQ(common::Base64Encode("f"), "Zg==");
  EXPECT_EQ(common::Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(common::Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(common::Base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(common::Base64Encode(std::string("\xff\xfb\x18", 3)), "//sY");
  // Longer than one internal slice (3 MiB) still encodes contiguously.
  const std::string big(3 * 1024 * 1024 + 2, 'a');
  const std::string enc = common::Base64Encode(big);
  EXPECT_EQ(enc.size(), 4 * ((big.size() + 2) / 3));
  EXPECT_EQ(enc.substr(enc.size() - 4), "YWE=");
}

}  // namespace
}  // namespace outcall::common
