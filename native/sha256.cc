// sha256.cc: see sha256.h.
#include "sha256.h"

namespace vecforge {

#if defined(VECFORGE_SHA256_SYMBOLS)
bool HaveSha256() { return SHA256_Init != nullptr && SHA256_Update != nullptr && SHA256_Final != nullptr; }
#else
bool HaveSha256() { return false; }
#endif

std::string Sha256Hex(const unsigned char* digest) {
  static const char* kHex = "0123456789abcdef";
  std::string hex(64, '0');
  for (size_t i = 0; i < 32; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 15];
  }
  return hex;
}

}  // namespace vecforge
