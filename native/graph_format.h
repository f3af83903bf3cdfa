// graph_format.h: the graph file hnswlib's saveIndex writes, parsed and
// checked without hnswlib's loadIndex.
//
// Graph loading without hnswlib's loadIndex. loadIndex reads the file
// through an ifstream whose validation pass costs three lseek calls and a
// buffer refill per element (about 400,000 syscalls for 100,000 elements).
// loadBuffer (bytes already in memory) and loadFile (one sequential read
// that also computes the file's SHA-256) fill hnswlib's own public fields
// the way loadIndex does, from the format saveIndex writes, after a pass
// that checks the structure (sizes, levels, neighbour counts and ids), so
// damaged bytes are refused before the graph is registered.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "hnswlib_include.h"
#include "args.h"

namespace vecforge {

struct ByteReader {
  const uint8_t* data;
  size_t length;
  size_t at{0};
  template <typename T>
  bool Pod(T& out) {
    if (length - at < sizeof(T)) return false;
    std::memcpy(&out, data + at, sizeof(T));
    at += sizeof(T);
    return true;
  }
};

struct GraphHeader {
  size_t offset_level0{0}, max_elements{0}, count{0}, size_data_per_element{0}, label_offset{0}, offset_data{0};
  int max_level{0};
  hnswlib::tableint enter_point{0};
  size_t max_m{0}, max_m0{0}, m{0};
  double mult{0.0};
  size_t ef_construction{0};
};

// Bytes of the header saveIndex writes.
constexpr size_t kGraphHeaderBytes = 6 * sizeof(size_t) + sizeof(int) + sizeof(hnswlib::tableint) + 3 * sizeof(size_t) + sizeof(double) + sizeof(size_t);

// RangeError: "the graph bytes are not a graph this build can load: <why>".
[[noreturn]] void ThrowCorrupt(Napi::Env env, const std::string& why);

// Reads and checks the header at data (RangeError when dims does not match
// or a field is out of range or inconsistent with another). `what` names the
// graph in the dims message ("the graph", "the graph file '<path>'").
//
// Every field is checked on its own and against the others, because the
// search and insert code of hnswlib trusts all of them:
//   - M in [2, 2048] (the range create() accepts), maxM == M and
//     maxM0 == 2 M (what hnswlib's constructor sets; the link-list sizes
//     size_links_per_element = maxM*4+4 and size_links_level0 = maxM0*4+4
//     are derived from them, and offsetData must equal the latter);
//   - efConstruction in [1, 1048576] (create()'s range);
//   - mult == 1/ln(M) within a relative 1e-6: hnswlib derives it from M and
//     nothing sets it otherwise, so any other value is damage. Bounded so,
//     getRandomLevel (-ln(u) * mult, u >= 2^-1074) stays below 745/ln 2 < 1075
//     levels; an unbounded mult makes inserts allocate without bound;
//   - an empty graph has entry point -1 and max level -1; a non-empty one an
//     entry point below count and a max level in [0, 64];
//   - count <= maxElements <= 2^32 - 1.
GraphHeader ReadGraphHeader(Napi::Env env, const uint8_t* data, size_t length, size_t dims,
                            const std::string& what = "the graph");

// Checks the level-0 block (count elements) and the upper levels (exactly
// `tail_length` bytes) of a graph: every neighbour list's size and ids, each
// element's level (at most the max level), each upper-level neighbour's own
// level (a level-l list names only nodes of level >= l), the entry point's
// level (== the max level), and the labels (below 2^32, no label on two live
// elements).
void CheckGraphBody(Napi::Env env, const GraphHeader& h, const uint8_t* level0, const uint8_t* tail, size_t tail_length);

// The capacity a checked graph is loaded with: `wanted` (the caller's, or
// the file's when the caller's is below count), at least count, capped at
// count + max(count, 64 MiB of elements). Neither the file's maxElements nor
// a manifest's capacity can so make a load allocate more than about twice
// the file's level-0 block plus 64 MiB (with the per-element locks, levels
// and visited lists in proportion); a graph grows on demand (resize) beyond.
size_t LoadCapacity(const GraphHeader& h, size_t wanted);

// A checked graph into a registered Graph. Takes ownership of `level0` (its
// first count elements filled, room for max_elements).
uint32_t BuildGraph(Napi::Env env, const GraphHeader& h, char* level0, const uint8_t* tail, SpaceKind kind, size_t dims,
                    size_t max_elements, bool allow_replace);

}  // namespace vecforge
