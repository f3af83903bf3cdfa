// sha256.h: SHA-256 from the OpenSSL that Node links and exports.
//
// SHA-256 as Node's own OpenSSL exports it (Node links OpenSSL and exports
// its symbols to addons). The low-level calls: OpenSSL 3's one-shot SHA256()
// looks the algorithm up again on every call, which costs more than hashing
// a short line. The context is opaque here (OpenSSL's SHA256_CTX is 112
// bytes; this reserves more). Weak: a Node build without these symbols
// still loads this addon, and lineDigests then reports them missing.
// Other compilers (MSVC) get no declarations, and both users of SHA-256
// (lineDigests, loadFile) report it missing; the callers fall back to JS.
#pragma once

#include <cstddef>
#include <string>

#if defined(__GNUC__) || defined(__clang__)
extern "C" {
int SHA256_Init(void* ctx) __attribute__((weak));
int SHA256_Update(void* ctx, const void* data, size_t length) __attribute__((weak));
int SHA256_Final(unsigned char* md, void* ctx) __attribute__((weak));
}
#define VECFORGE_SHA256_SYMBOLS 1
#endif

namespace vecforge {

// Whether Node exports SHA256_Init/Update/Final to this addon.
bool HaveSha256();

// A 32-byte digest as 64 lowercase hex digits.
std::string Sha256Hex(const unsigned char* digest);

}  // namespace vecforge
