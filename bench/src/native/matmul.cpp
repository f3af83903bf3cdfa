// matmul.cpp: the native float32 matmul baseline that vecforge's TF.js
// kernels (PCA projection, covariance) are compared against.
//
// Build:
//   g++ -O3 -march=native -pthread -Inative bench/src/native/matmul.cpp -o /tmp/matmul
//   g++ -O3 -march=native -pthread -Inative -DHAVE_OPENBLAS bench/src/native/matmul.cpp -lopenblas -o /tmp/matmul-blas
//
// Usage:
//   matmul M K N reps [threads]
//     C[M×N] = A[M×K] · B[K×N], row-major float32, A and B filled with
//     seeded uniform random values in [-1, 1). One untimed warm-up, then
//     `reps` timed multiplications. threads: default 2. Reads no files.
//
// Output (one JSON line on stdout; errors go to stderr with exit status 2):
//   {"impl":"blocked"|"openblas","m":M,"k":K,"n":N,"reps":R,"threads":T,
//    "seconds":S,"gflops":G,"maxRelError":E,"checksum":X}
//   seconds:     wall time of the `reps` timed multiplications, all together.
//   gflops:      2·M·K·N·reps / seconds / 1e9.
//   maxRelError: the largest |C - reference| / (|A row|·|B column|) over a
//                few entries recomputed in double precision: a correctness
//                check, expected around 1e-7.
//   checksum:    the sum of C, so the work cannot be optimised away.
//
// Without HAVE_OPENBLAS it runs the GotoBLAS-style blocked kernel of
// native/sgemm.h (the one the vecforge_hnsw addon projects PCA rows with): B
// is packed into NR-column panels, A into MR-row panels, and an MR × NR
// register tile is accumulated with GCC vector extensions, which
// -march=native lowers to AVX-512, AVX2 or SSE. The M rows are split across
// the threads.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

// vecforge's native/ is on the include path (-I<repo>/native, set by build.ts).
#include "sgemm.h"

#ifdef HAVE_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

namespace {

using vecforge_sgemm::AlignedBuffer;
using vecforge_sgemm::kMr;

void multiply(const float* a, const float* b, float* c, int m, int k, int n, int threads) {
#ifdef HAVE_OPENBLAS
  (void)threads;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
#else
  if (threads <= 1 || m < 2 * kMr) {
    vecforge_sgemm::BlockedRows(a, b, c, 0, m, k, n);
    return;
  }
  // Row ranges in whole register tiles, so no two threads write the same cache line of C but at the seams.
  const int tiles = (m + kMr - 1) / kMr;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    const int m0 = std::min(m, (tiles * t / threads) * kMr);
    const int m1 = std::min(m, (tiles * (t + 1) / threads) * kMr);
    if (m0 < m1) pool.emplace_back(vecforge_sgemm::BlockedRows, a, b, c, m0, m1, k, n);
  }
  for (auto& worker : pool) worker.join();
#endif
}

int parsePositive(const char* text, const char* name) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < 1 || value > 1'000'000) {
    std::fprintf(stderr, "%s must be an integer in [1, 1000000], got %s\n", name, text);
    std::exit(2);
  }
  return static_cast<int>(value);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5 || argc > 6) {
    std::fprintf(stderr, "usage: %s M K N reps [threads]\n", argv[0]);
    return 2;
  }
  const int m = parsePositive(argv[1], "M");
  const int k = parsePositive(argv[2], "K");
  const int n = parsePositive(argv[3], "N");
  const int reps = parsePositive(argv[4], "reps");
  const int threads = argc == 6 ? parsePositive(argv[5], "threads") : 2;
#ifdef HAVE_OPENBLAS
  openblas_set_num_threads(threads);
  const char* impl = "openblas";
#else
  const char* impl = "blocked";
#endif

  AlignedBuffer a(static_cast<size_t>(m) * k);
  AlignedBuffer b(static_cast<size_t>(k) * n);
  AlignedBuffer c(static_cast<size_t>(m) * n);
  std::mt19937 rng(12345);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (size_t i = 0; i < static_cast<size_t>(m) * k; ++i) a.data[i] = uniform(rng);
  for (size_t i = 0; i < static_cast<size_t>(k) * n; ++i) b.data[i] = uniform(rng);

  multiply(a.data, b.data, c.data, m, k, n, threads);  // warm-up: page faults, thread start, caches
  const auto start = std::chrono::steady_clock::now();
  for (int r = 0; r < reps; ++r) multiply(a.data, b.data, c.data, m, k, n, threads);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  double maxRelError = 0.0;
  std::mt19937 pick(7);
  for (int probe = 0; probe < 64; ++probe) {
    const int i = static_cast<int>(pick() % static_cast<unsigned>(m));
    const int j = static_cast<int>(pick() % static_cast<unsigned>(n));
    double exact = 0.0, rowNorm = 0.0, colNorm = 0.0;
    for (int t = 0; t < k; ++t) {
      const double x = a.data[static_cast<size_t>(i) * k + t];
      const double y = b.data[static_cast<size_t>(t) * n + j];
      exact += x * y;
      rowNorm += x * x;
      colNorm += y * y;
    }
    const double scale = std::sqrt(rowNorm * colNorm);
    const double error = std::fabs(c.data[static_cast<size_t>(i) * n + j] - exact) / (scale > 0 ? scale : 1.0);
    maxRelError = std::max(maxRelError, error);
  }
  double checksum = 0.0;
  for (size_t i = 0; i < static_cast<size_t>(m) * n; ++i) checksum += c.data[i];

  const double gflops = 2.0 * m * k * n * reps / seconds / 1e9;
  std::printf(
      "{\"impl\":\"%s\",\"m\":%d,\"k\":%d,\"n\":%d,\"reps\":%d,\"threads\":%d,\"seconds\":%.6f,\"gflops\":%.3f,"
      "\"maxRelError\":%.3g,\"checksum\":%.6g}\n",
      impl, m, k, n, reps, threads, seconds, gflops, maxRelError, checksum);
  return 0;
}
