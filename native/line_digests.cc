// line_digests.cc: lineDigests and matchDigests, the native half of a job's
// known lines (hash every line of a read, find each hash among the known ones).
#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "args.h"
#include "exports.h"
#include "sha256.h"

namespace vecforge {

// lineDigests(chunk, from, to, digests, ends) -> lines
// The SHA-256 of every line of chunk[from, to) that ends in a newline (the
// line without its "\n", and without a "\r" before it), into digests (32
// bytes each), with the newline's index into ends. Stops when digests or
// ends is full; bytes after the last newline are left. A job's reader calls
// it once per read instead of once per line.
Napi::Value LineDigests(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HaveSha256()) ThrowRange(env, "lineDigests: this Node build exports no SHA256_Init/Update/Final");
#if defined(VECFORGE_SHA256_SYMBOLS)
  auto chunk = ArgTyped<uint8_t>(info, 0, "chunk", napi_uint8_array);
  const double from = ArgInt(info, 1, "from", 0, static_cast<double>(chunk.length));
  const double to = ArgInt(info, 2, "to", from, static_cast<double>(chunk.length));
  auto digests = ArgTyped<uint8_t>(info, 3, "digests", napi_uint8_array);
  auto ends = ArgTyped<int32_t>(info, 4, "ends", napi_int32_array);
  if (chunk.length > static_cast<size_t>(INT32_MAX)) ThrowRange(env, "chunk must be under 2 GiB, got " + std::to_string(chunk.length) + " bytes");
  const size_t capacity = std::min(digests.length / 32, ends.length);
  unsigned char* out = const_cast<unsigned char*>(digests.data);
  int32_t* end_out = const_cast<int32_t*>(ends.data);
  const unsigned char* bytes = chunk.data;
  size_t start = static_cast<size_t>(from);
  const size_t stop = static_cast<size_t>(to);
  size_t n = 0;
  while (n < capacity && start < stop) {
    const void* hit = std::memchr(bytes + start, '\n', stop - start);
    if (hit == nullptr) break;
    const size_t nl = static_cast<size_t>(static_cast<const unsigned char*>(hit) - bytes);
    const size_t e = nl > start && bytes[nl - 1] == '\r' ? nl - 1 : nl;
    alignas(16) unsigned char ctx[256];
    SHA256_Init(ctx);
    SHA256_Update(ctx, bytes + start, e - start);
    SHA256_Final(out + n * 32, ctx);
    end_out[n] = static_cast<int32_t>(nl);
    ++n;
    start = nl + 1;
  }
  return Napi::Number::New(env, static_cast<double>(n));
#endif
}

// matchDigests(known, cursor, digests, count, positions, table)
// For each of `count` digests (8 int32s each) in order, the place of the
// equal known digest, as the job reader's KnownLines.find does one at a
// time: first at cursor[0] (the next expected place), then from
// cursor[0] - cursor[1] up to, not including, cursor[0] + cursor[2], then
// in `table` (open addressing on a digest's first int32, slots hold
// place + 1, 0 is empty; its length a power of two). Found: positions[i] =
// place, and the next line is expected after it; not found: -1, and the
// expected place moves on by one (most likely a changed line). cursor[0]
// is updated.
Napi::Value MatchDigests(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto known = ArgTyped<int32_t>(info, 0, "known", napi_int32_array);
  auto cursor = ArgTyped<int32_t>(info, 1, "cursor", napi_int32_array);
  auto digests = ArgTyped<int32_t>(info, 2, "digests", napi_int32_array);
  const auto count = static_cast<size_t>(ArgInt(info, 3, "count", 0, static_cast<double>(digests.length / 8)));
  auto positions = ArgTyped<int32_t>(info, 4, "positions", napi_int32_array);
  auto table = ArgTyped<int32_t>(info, 5, "table", napi_int32_array);
  if (table.length == 0 || (table.length & (table.length - 1)) != 0) ThrowRange(env, "table.length must be a power of two, got " + std::to_string(table.length));
  if (known.length % 8 != 0) ThrowRange(env, "known.length must be a multiple of 8, got " + std::to_string(known.length));
  if (cursor.length < 3) ThrowRange(env, "cursor must hold 3 values (next, behind, ahead), got " + std::to_string(cursor.length));
  if (positions.length < count) ThrowRange(env, "positions must hold count (" + std::to_string(count) + ") values, got " + std::to_string(positions.length));
  int32_t* state = const_cast<int32_t*>(cursor.data);
  int32_t* out = const_cast<int32_t*>(positions.data);
  const int64_t n = static_cast<int64_t>(known.length / 8);
  const int64_t behind = state[1];
  const int64_t ahead = state[2];
  if (behind < 0 || ahead < 1) ThrowRange(env, "cursor's window (behind, ahead) must be (>= 0, >= 1)");
  int64_t next = state[0];
  auto same = [&](size_t i, int64_t place) {
    return std::memcmp(digests.data + i * 8, known.data + place * 8, 32) == 0;
  };
  for (size_t i = 0; i < count; ++i) {
    int64_t found = -1;
    if (next >= 0 && next < n && same(i, next)) found = next;
    const int64_t from = std::max<int64_t>(0, next - behind);
    const int64_t to = std::min<int64_t>(n, next + ahead);
    for (int64_t j = from; found < 0 && j < to; ++j) {
      if (same(i, j)) found = j;
    }
    const size_t mask = table.length - 1;
    for (size_t h = static_cast<uint32_t>(digests.data[i * 8]) & mask; found < 0 && table.data[h] != 0; h = (h + 1) & mask) {
      const int64_t place = static_cast<int64_t>(table.data[h]) - 1;
      if (place < n && same(i, place)) found = place;
    }
    if (found < 0) {
      out[i] = -1;
      ++next;
    } else {
      out[i] = static_cast<int32_t>(found);
      next = found + 1;
    }
  }
  state[0] = static_cast<int32_t>(std::min<int64_t>(next, INT32_MAX));
  return env.Undefined();
}

}  // namespace vecforge
