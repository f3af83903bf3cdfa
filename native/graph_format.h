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

// Reads and checks the header at data (RangeError when dims does not match or a field is out of range).
GraphHeader ReadGraphHeader(Napi::Env env, const uint8_t* data, size_t length, size_t dims);

// Checks the level-0 block (count elements) and the upper levels (exactly
// `tail_length` bytes) of a graph.
void CheckGraphBody(Napi::Env env, const GraphHeader& h, const uint8_t* level0, const uint8_t* tail, size_t tail_length);

// A checked graph into a registered Graph. Takes ownership of `level0` (its
// first count elements filled, room for max_elements).
uint32_t BuildGraph(Napi::Env env, const GraphHeader& h, char* level0, const uint8_t* tail, SpaceKind kind, size_t dims,
                    size_t max_elements, bool allow_replace);

}  // namespace vecforge
