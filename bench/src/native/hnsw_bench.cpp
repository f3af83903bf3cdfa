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
//              [--build-only | --search-only] [--huge-pages=0|1]
//   hnsw_bench --evict <file>...
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
//   --huge-pages=1 (default)   transparent huge pages exactly as the addon
//                              asks for them (native/huge_pages.cc): a new
//                              graph's level-0 block is madvise(MADV_HUGEPAGE)d
//                              before it is written; a loaded graph's block is
//                              moved once into 2 MiB-aligned advised memory.
//                              --huge-pages=0 skips both, like the addon under
//                              VECFORGE_HUGEPAGES=0 / openIndex hugePages:false.
//   --reps=N (default 1)       each timed search pass runs the queries N times.
//   --evict <file>...          flushes each file and drops its pages from the
//                              page cache (fdatasync + posix_fadvise DONTNEED;
//                              no root needed), then prints
//                              {"evicted":[{"bytes":..,
//                              "resident_fraction":<mincore after>}]}: the
//                              load-time figures of the index suite start
//                              from a cold cache this way.
//
// Timed regions: the build times only the inserts (ParallelFor over
// addPoint; the graph is allocated before). Each ef of the sweep first runs
// every query once untimed (the warm-up the engine's sweep gets too), then
// the timed pass. --search-only also reports "load_seconds": the load of
// index_out (hnswlib's loadIndex, plus the huge-page move when on).
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
//     "huge_pages": <0|1>, "load_seconds": <--search-only, else 0>,
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
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
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

// The addon's huge-page setup (native/huge_pages.cc), repeated here because
// that file needs Node-API: the same advice on the same block.
constexpr size_t kHugePage = size_t{2} << 20;

bool AdviseHuge(void* p, size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  auto start = (reinterpret_cast<uintptr_t>(p) + 4095) & ~uintptr_t{4095};
  auto end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~uintptr_t{4095};
  if (end <= start) return false;
  return madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE) == 0;
#else
  (void)p;
  (void)bytes;
  return false;
#endif
}

void HugePagesForNew(hnswlib::HierarchicalNSW<float>& index) {
  size_t bytes = index.max_elements_ * index.size_data_per_element_;
  if (bytes >= kHugePage) AdviseHuge(index.data_level0_memory_, bytes);
}

void HugePagesForLoaded(hnswlib::HierarchicalNSW<float>& index) {
  size_t bytes = index.max_elements_ * index.size_data_per_element_;
  if (bytes < kHugePage) return;
  size_t rounded = (bytes + kHugePage - 1) & ~(kHugePage - 1);
  void* fresh = nullptr;
  if (posix_memalign(&fresh, kHugePage, rounded) != 0) return;
  if (!AdviseHuge(fresh, rounded)) {
    free(fresh);
    return;
  }
  std::memcpy(fresh, index.data_level0_memory_, index.cur_element_count * index.size_data_per_element_);
  free(index.data_level0_memory_);
  index.data_level0_memory_ = static_cast<char*>(fresh);
}

// Flushes a file and drops its pages from the page cache; returns the
// fraction of its pages still resident afterwards (mincore), or -1.
double Evict(const std::string& path, long long* bytes) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  struct stat st {};
  ::fstat(fd, &st);
  *bytes = static_cast<long long>(st.st_size);
  ::fdatasync(fd);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  double resident = -1;
  if (st.st_size > 0) {
    void* map = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
    if (map != MAP_FAILED) {
      const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
      const size_t pages = (static_cast<size_t>(st.st_size) + page - 1) / page;
      std::vector<unsigned char> vec(pages);
      if (::mincore(map, static_cast<size_t>(st.st_size), vec.data()) == 0) {
        size_t in = 0;
        for (unsigned char v : vec) in += v & 1;
        resident = static_cast<double>(in) / static_cast<double>(pages);
      }
      ::munmap(map, static_cast<size_t>(st.st_size));
    }
  } else {
    resident = 0;
  }
  ::close(fd);
  return resident;
}

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
  bool huge_pages = true;
  long reps = 1;
  if (argc >= 2 && std::strcmp(argv[1], "--evict") == 0) {
    try {
      std::printf("{\"evicted\":[");
      for (int i = 2; i < argc; ++i) {
        long long bytes = 0;
        const double resident = Evict(argv[i], &bytes);
        std::printf("%s{\"bytes\":%lld,\"resident_fraction\":%.6f}", i == 2 ? "" : ",", bytes, resident);
      }
      std::printf("]}\n");
      return 0;
    } catch (const std::exception& e) {
      std::cerr << "hnsw_bench: " << e.what() << "\n";
      return 2;
    }
  }
  {
    int out = 1;
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "--build-only") == 0) {
        build_only = true;
      } else if (std::strcmp(argv[i], "--search-only") == 0) {
        search_only = true;
      } else if (std::strcmp(argv[i], "--huge-pages=0") == 0) {
        huge_pages = false;
      } else if (std::strcmp(argv[i], "--huge-pages=1") == 0) {
        huge_pages = true;
      } else if (std::strncmp(argv[i], "--reps=", 7) == 0) {
        reps = std::max<long>(1, std::strtol(argv[i] + 7, nullptr, 10));
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
  double load_seconds = 0.0;
  if (search_only) {
    if (remove_index) {
      std::cerr << "hnsw_bench: --search-only needs index_out, the graph of an earlier run\n";
      return 2;
    }
    auto l0 = std::chrono::steady_clock::now();
    graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(&space, index_path, false, n);
    if (huge_pages) HugePagesForLoaded(*graph);
    load_seconds = Seconds(l0, std::chrono::steady_clock::now());
  } else {
    graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(&space, n, m, ef_construction, 100);
    if (huge_pages) HugePagesForNew(*graph);
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
  std::printf("\"index_bytes\":%lld,\"index_bytes_per_vector\":%.3f,\"huge_pages\":%d,\"load_seconds\":%.6f,\"sweep\":[", index_bytes,
              n > 0 ? static_cast<double>(index_bytes) / static_cast<double>(n) : 0.0, huge_pages ? 1 : 0, load_seconds);

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
    // Warm-up: every query once, untimed (the engine's sweep gets the same).
    for (size_t i = 0; i < queries.rows; ++i) {
      NormalizeInto(queries.values.data() + i * dims, q.data(), dims);
      auto warm = index.searchKnn(q.data(), k);
      if (warm.size() > k) throw std::runtime_error("searchKnn returned more than k");
    }
    auto s0 = std::chrono::steady_clock::now();
    std::vector<std::vector<hnswlib::labeltype>> found(queries.rows);
    for (long rep = 0; rep < reps; ++rep)
    for (size_t i = 0; i < queries.rows; ++i) {
      found[i].clear();
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
    for (long rep = 0; rep < reps; ++rep)
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
                first ? "" : ",", ef, recall, secs > 0 ? static_cast<double>(queries.rows * reps) / secs : 0.0,
                queries.rows > 0 ? secs * 1e6 / static_cast<double>(queries.rows * reps) : 0.0, threads,
                psecs > 0 ? static_cast<double>(queries.rows * reps) / psecs : 0.0);
    first = false;
  }
  std::printf("]}\n");
  return 0;
}
