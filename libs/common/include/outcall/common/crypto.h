// Hashing and message authentication: HMAC-SHA256 (one-shot and streaming), SHA-256, hex,
// constant-time comparison, and random tokens. Backed by OpenSSL 3.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace outcall::common {

using Sha256Digest = std::array<unsigned char, 32>;

// Lowercase hex of arbitrary bytes.
std::string HexEncode(std::string_view bytes);
std::string HexEncode(const Sha256Digest& digest);

// Compares two byte strings in time that depends only on their lengths (CRYPTO_memcmp).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// HMAC-SHA256 over data fed in pieces, so large bodies can be authenticated while streaming.
class HmacSha256 {
 public:
  explicit HmacSha256(std::string_view key);
  ~HmacSha256();
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;
  HmacSha256(HmacSha256&&) noexcept;
  HmacSha256& operator=(HmacSha256&&) noexcept;

  void Update(std::string_view data);
  // Returns the MAC; the object must not be updated afterwards.
  Sha256Digest Finish();

  static Sha256Digest Compute(std::string_view key, std::string_view data);
  static std::string ComputeHex(std::string_view key, std::string_view data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// SHA-256, one-shot and streaming.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  Sha256Digest Finish();

  static std::string Hex(std::string_view data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Standard base64 (RFC 4648, with padding).
std::string Base64Encode(std::string_view bytes);

// `n` bytes from the operating system's CSPRNG.
std::string RandomBytes(size_t n);

// `n` bytes from the operating system's CSPRNG, hex encoded (2n characters).
std::string RandomHex(size_t n);

}  // namespace outcall::common
