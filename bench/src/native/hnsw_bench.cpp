// hnsw_bench: the native hnswlib baseline vecforge's throughput is compared
// against. Built from the SAME hnswlib headers the addon uses (hnswlib-node's
// src/hnswlib) by bench/src/native/build.ts:
//
//   g++ -O3 -march=native -std=c++17 -pthread -I<hnswlib-node>/src \
//       bench/src/native/hnsw_bench.cpp -o bench/dist/native/bin/hnsw_bench
//
// Usage:
//   hnsw_bench <base.fvecs> <queries.fvecs> <groundtruth.ivecs>
//              [M=16] [efConstruction=200] [threads=hardware] [index_out]
//              [--build-only | --search-only]
//
//   base.fvecs, queries.fvecs  Texmex .fvecs: per row an int32 dims, then
//                              dims float32 values (little-endian).
//   groundtruth.ivecs          Texmex .ivecs: per query row an int32 count,
//                              then that many int32 base-row indexes, nearest
//                              first, under cosine distance (>= 10 per row for
//                              recall@10; fewer gives recall@count).
//   M, efConstruction          hnswlib build parameters.
//   threads                    insert threads (ParallelFor over std::thread,
//                              like hnswlib's Python bindings; 0 = hardware).
//   index_out                  where saveIndex writes the graph (default: a
//                              temporary file that is removed afterwards).
//
// Space: cosine. Vectors are normalised, then searched by inner product
// (hnswlib's InnerProductSpace), exactly as hnswlib's Python bindings and the
// vecforge_hnsw addon do; normalisation is inside the timed loops. Base row i
// gets label i.
//
// Output: one JSON object on stdout (progress, if any, goes to stderr):
//   {
//     "tool": "hnsw_bench", "space": "cosine",
//     "base": <rows>, "dims": <d>, "queries": <rows>, "gt_k": <k used>,
//     "M": .., "ef_construction": .., "threads": ..,
//     "build_seconds": <wall seconds of all inserts>,
//     "build_cpu_seconds": <CPU seconds of the build, all threads>,
//     "inserts_per_second": <base / build_seconds>,
//     "index_bytes": <saveIndex file size>,
//     "index_bytes_per_vector": <index_bytes / base>,
//     "sweep": [ { "ef": 10, "recall_at_10": <0..1>,
//                  "queries_per_second": <single thread>,
//                  "mean_latency_us": <per query>,
//                  "search_threads": <threads>,
//                  "parallel_queries_per_second": <the same queries on
//                                                  `threads` threads> },
//                ... ]   // ef in {10,20,40,80,160,320}; [] with --build-only
//   }
// Exit status: 0 on success, 2 on bad arguments or unreadable files.

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <exception>
#include <fstream>
#include <iostream>
#include <mutex>
#include <stdexcept>
#include <string>
#include <cstring>
#include <memory>
#include <thread>
#include <unordered_set>
#include <unistd.h>
#include <vector>

#include "parallel_for.h"

namespace {

struct Matrix {
  size_t rows = 0;
  size_t dims = 0;
  std::vector<float> values;   // .fvecs
  std::vector<int32_t> ints;   // .ivecs
};

// Reads a Texmex .fvecs (is_int = false) or .ivecs (is_int = true) file.
Matrix ReadVecs(const std::string& path, bool is_int) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw std::runtime_error("cannot open " + path);
  const std::streamoff size = in.tellg();
  in.seekg(0);
  Matrix m;
  if (size < 4) throw std::runtime_error(path + ": empty or truncated");
  int32_t d = 0;
  in.read(reinterpret_cast<char*>(&d), 4);
  if (d <= 0 || d > (1 << 20)) throw std::runtime_error(path + ": bad row dimension " + std::to_string(d));
  const std::streamoff row_bytes = 4 + static_cast<std::streamoff>(d) * 4;
  if (size % row_bytes != 0) throw std::runtime_error(path + ": size is not a multiple of the row size");
  m.rows = static_cast<size_t>(size / row_bytes);
  m.dims = static_cast<size_t>(d);
  in.seekg(0);
  if (is_int) m.ints.resize(m.rows * m.dims); else m.values.resize(m.rows * m.dims);
  for (size_t r = 0; r < m.rows; ++r) {
    int32_t rd = 0;
    in.read(reinterpret_cast<char*>(&rd), 4);
    if (rd != d) throw std::runtime_error(path + ": row " + std::to_string(r) + " has dimension " + std::to_string(rd));
    char* dst = is_int ? reinterpret_cast<char*>(m.ints.data() + r * m.dims)
                       : reinterpret_cast<char*>(m.values.data() + r * m.dims);
    in.read(dst, static_cast<std::streamsize>(m.dims * 4));
  }
  if (!in) throw std::runtime_error(path + ": read failed");
  return m;
}

inline void NormalizeInto(const float* src, float* dst, size_t dims) {
  float norm = 0.0f;
  for (size_t j = 0; j < dims; ++j) norm += src[j] * src[j];
  norm = 1.0f / (std::sqrt(norm) + 1e-30f);
  for (size_t j = 0; j < dims; ++j) dst[j] = src[j] * norm;
}

using vecforge::ParallelFor;

size_t ParseSize(const char* text, const char* name) {
  char* end = nullptr;
  long long v = std::strtoll(text, &end, 10);
  if (end == text || *end != '\0' || v < 0) throw std::invalid_argument(std::string(name) + " must be a non-negative integer");
  return static_cast<size_t>(v);
}

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

int main(int argc, char** argv) {
  // --build-only (anywhere): time the build and print it, skip the ef sweep.
  // --search-only (anywhere): load index_out (written by an earlier run on
  // the same base) instead of building, then run the ef sweep.
  bool build_only = false;
  bool search_only = false;
  {
    int out = 1;
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "--build-only") == 0) {
        build_only = true;
      } else if (std::strcmp(argv[i], "--search-only") == 0) {
        search_only = true;
      } else {
        argv[out++] = argv[i];
      }
    }
    argc = out;
  }
  if (argc < 4 || argc > 8) {
    std::cerr << "usage: " << argv[0]
              << " <base.fvecs> <queries.fvecs> <groundtruth.ivecs> [M=16] [efConstruction=200]"
                 " [threads=hardware] [index_out] [--build-only | --search-only]\n";
    return 2;
  }
  Matrix base, queries, gt;
  size_t m = 16, ef_construction = 200, threads = 0;
  std::string index_path;
  bool remove_index = false;
  try {
    base = ReadVecs(argv[1], false);
    queries = ReadVecs(argv[2], false);
    gt = ReadVecs(argv[3], true);
    if (argc > 4) m = ParseSize(argv[4], "M");
    if (argc > 5) ef_construction = ParseSize(argv[5], "efConstruction");
    if (argc > 6) threads = ParseSize(argv[6], "threads");
    if (argc > 7) {
      index_path = argv[7];
    } else {
      index_path = "/tmp/hnsw_bench_" + std::to_string(static_cast<long long>(::getpid())) + ".bin";
      remove_index = true;
    }
    if (queries.dims != base.dims) throw std::runtime_error("queries and base have different dimensions");
    if (gt.rows < queries.rows) throw std::runtime_error("groundtruth has fewer rows than queries");
    if (m < 2) throw std::invalid_argument("M must be >= 2");
    if (ef_construction < 1) throw std::invalid_argument("efConstruction must be >= 1");
  } catch (const std::exception& e) {
    std::cerr << "hnsw_bench: " << e.what() << "\n";
    return 2;
  }
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  const size_t dims = base.dims;
  const size_t n = base.rows;
  const size_t k = std::min<size_t>(10, gt.dims);

  hnswlib::InnerProductSpace space(dims);
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
  size_t build_threads = n <= threads * 4 ? 1 : threads;
  double build_seconds = 0.0;
  double build_cpu_seconds = 0.0;
  if (search_only) {
    if (remove_index) {
      std::cerr << "hnsw_bench: --search-only needs index_out, the graph of an earlier run\n";
      return 2;
    }
    graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(&space, index_path, false, n);
  } else {
    graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(&space, n, m, ef_construction, 100);
    // Build (as in the Python bindings: few rows go single-threaded).
    std::vector<std::vector<float>> scratch(build_threads, std::vector<float>(dims));
    const std::clock_t c0 = std::clock();
    auto t0 = std::chrono::steady_clock::now();
    ParallelFor(n, build_threads, [&](size_t i, size_t t) {
      NormalizeInto(base.values.data() + i * dims, scratch[t].data(), dims);
      graph->addPoint(scratch[t].data(), static_cast<hnswlib::labeltype>(i));
    });
    auto t1 = std::chrono::steady_clock::now();
    const std::clock_t c1 = std::clock();
    build_seconds = Seconds(t0, t1);
    // std::clock is process CPU time summed over all threads (on Linux).
    build_cpu_seconds = static_cast<double>(c1 - c0) / CLOCKS_PER_SEC;
    graph->saveIndex(index_path);
  }
  hnswlib::HierarchicalNSW<float>& index = *graph;

  long long index_bytes = 0;
  {
    std::ifstream f(index_path, std::ios::binary | std::ios::ate);
    index_bytes = f ? static_cast<long long>(f.tellg()) : -1;
  }
  if (remove_index) std::remove(index_path.c_str());

  std::printf("{\"tool\":\"hnsw_bench\",\"space\":\"cosine\",\"base\":%zu,\"dims\":%zu,\"queries\":%zu,\"gt_k\":%zu,",
              n, dims, queries.rows, k);
  std::printf("\"M\":%zu,\"ef_construction\":%zu,\"threads\":%zu,", m, ef_construction, build_threads);
  std::printf("\"build_seconds\":%.6f,\"build_cpu_seconds\":%.6f,\"inserts_per_second\":%.3f,", build_seconds,
              build_cpu_seconds, build_seconds > 0 ? static_cast<double>(n) / build_seconds : 0.0);
  std::printf("\"index_bytes\":%lld,\"index_bytes_per_vector\":%.3f,\"sweep\":[", index_bytes,
              n > 0 ? static_cast<double>(index_bytes) / static_cast<double>(n) : 0.0);

  if (build_only) {
    std::printf("]}\n");
    return 0;
  }
  const size_t efs[] = {10, 20, 40, 80, 160, 320};
  std::vector<float> q(dims);
  bool first = true;
  for (size_t ef : efs) {
    index.setEf(ef);
    size_t hits = 0;
    auto s0 = std::chrono::steady_clock::now();
    std::vector<std::vector<hnswlib::labeltype>> found(queries.rows);
    for (size_t i = 0; i < queries.rows; ++i) {
      NormalizeInto(queries.values.data() + i * dims, q.data(), dims);
      auto result = index.searchKnn(q.data(), k);
      found[i].reserve(result.size());
      while (!result.empty()) {
        found[i].push_back(result.top().second);
        result.pop();
      }
    }
    auto s1 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < queries.rows; ++i) {
      std::unordered_set<hnswlib::labeltype> truth;
      for (size_t j = 0; j < k; ++j) truth.insert(static_cast<hnswlib::labeltype>(gt.ints[i * gt.dims + j]));
      for (auto label : found[i]) hits += truth.count(label);
    }
    const double secs = Seconds(s0, s1);
    // The same queries again on `threads` threads (searchKnn is safe to call
    // concurrently): the hardware's own parallel-search scaling, the
    // baseline for a searchBatch on the pool.
    std::vector<std::vector<float>> qs(threads, std::vector<float>(dims));
    auto p0 = std::chrono::steady_clock::now();
    ParallelFor(queries.rows, threads, [&](size_t i, size_t t) {
      NormalizeInto(queries.values.data() + i * dims, qs[t].data(), dims);
      auto result = index.searchKnn(qs[t].data(), k);
      if (result.size() > k) throw std::runtime_error("searchKnn returned more than k");
    });
    auto p1 = std::chrono::steady_clock::now();
    const double psecs = Seconds(p0, p1);
    const double recall = queries.rows > 0 ? static_cast<double>(hits) / static_cast<double>(queries.rows * k) : 0.0;
    std::printf("%s{\"ef\":%zu,\"recall_at_10\":%.6f,\"queries_per_second\":%.3f,\"mean_latency_us\":%.3f,"
                "\"search_threads\":%zu,\"parallel_queries_per_second\":%.3f}",
                first ? "" : ",", ef, recall, secs > 0 ? static_cast<double>(queries.rows) / secs : 0.0,
                queries.rows > 0 ? secs * 1e6 / static_cast<double>(queries.rows) : 0.0, threads,
                psecs > 0 ? static_cast<double>(queries.rows) / psecs : 0.0);
    first = false;
  }
  std::printf("]}\n");
  return 0;
}
