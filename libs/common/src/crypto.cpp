#include "outcall/common/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>

#include <stdexcept>

namespace outcall::common {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

[[noreturn]] void Fail(const char* what) { throw std::runtime_error(what); }

}  // namespace

std::string HexEncode(std::string_view bytes) {
  std::string out;
  out.resize(bytes.size() * 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    out[2 * i] = kHexDigits[b >> 4];
    out[2 * i + 1] = kHexDigits[b & 0x0f];
  }
  return out;
}

std::string HexEncode(const Sha256Digest& digest) {
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

struct HmacSha256::Impl {
  EVP_MAC* mac = nullptr;
  EVP_MAC_CTX* ctx = nullptr;
  ~Impl() {
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
  }
};

HmacSha256::HmacSha256(std::string_view key) : impl_(std::make_unique<Impl>()) {
  impl_->mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (impl_->mac == nullptr) Fail("EVP_MAC_fetch(HMAC) failed");
  impl_->ctx = EVP_MAC_CTX_new(impl_->mac);
  if (impl_->ctx == nullptr) Fail("EVP_MAC_CTX_new failed");
  char digest_name[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest_name, 0),
                         OSSL_PARAM_construct_end()};
  // An empty key is legal for HMAC; OpenSSL wants a non-null pointer.
  static const unsigned char kEmpty = 0;
  const auto* key_ptr =
      key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data());
  if (EVP_MAC_init(impl_->ctx, key_ptr, key.size(), params) != 1) Fail("EVP_MAC_init failed");
}

HmacSha256::~HmacSha256() = default;
HmacSha256::HmacSha256(HmacSha256&&) noexcept = default;
HmacSha256& HmacSha256::operator=(HmacSha256&&) noexcept = default;

void HmacSha256::Update(std::string_view data) {
  if (data.empty()) return;
  if (EVP_MAC_update(impl_->ctx, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    Fail("EVP_MAC_update failed");
  }
}

Sha256Digest HmacSha256::Finish() {
  Sha256Digest out{};
  size_t len = 0;
  if (EVP_MAC_final(impl_->ctx, out.data(), &len, out.size()) != 1 || len != out.size()) {
    Fail("EVP_MAC_final failed");
  }
  return out;
}

Sha256Digest HmacSha256::Compute(std::string_view key, std::string_view data) {
  HmacSha256 h(key);
  h.Update(data);
  return h.Finish();
}

std::string HmacSha256::ComputeHex(std::string_view key, std::string_view data) {
  return HexEncode(Compute(key, data));
}

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) {
    Fail("EVP_DigestInit_ex(sha256) failed");
  }
}

Sha256::~Sha256() = default;

void Sha256::Update(std::string_view data) {
  if (EVP_DigestUpdate(impl_->ctx, data.data(), data.size()) != 1) Fail("EVP_DigestUpdate failed");
}

Sha256Digest Sha256::Finish() {
  Sha256Digest out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx, out.data(), &len) != 1 || len != out.size()) {
    Fail("EVP_DigestFinal_ex failed");
  }
  return out;
}

std::string Sha256::Hex(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return HexEncode(h.Finish());
}

std::string Base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  // EVP_EncodeBlock takes an int length: encode in slices that are multiples of 3 bytes.
  constexpr size_t kSlice = 3 * 1024 * 1024;
  size_t in = 0, written = 0;
  while (in < bytes.size()) {
    const size_t n = std::min(kSlice, bytes.size() - in);
    written += static_cast<size_t>(
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data() + written),
                        reinterpret_cast<const unsigned char*>(bytes.data() + in),
                        static_cast<int>(n)));
    in += n;
  }
  out.resize(written);
  return out;
}

std::string RandomBytes(size_t n) {
  std::string bytes(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n)) != 1) {
    Fail("RAND_bytes failed");
  }
  return bytes;
}

std::string RandomHex(size_t n) { return HexEncode(RandomBytes(n)); }

}  // namespace outcall::common
