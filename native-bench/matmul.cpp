// matmul.cpp: the native float32 matmul baseline that vecforge's TF.js
// kernels (PCA projection, covariance) are compared against.
//
// Build:
//   g++ -O3 -march=native -pthread native-bench/matmul.cpp -o /tmp/matmul
//   g++ -O3 -march=native -pthread -DHAVE_OPENBLAS native-bench/matmul.cpp -lopenblas -o /tmp/matmul-blas
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
// Without HAVE_OPENBLAS it runs a GotoBLAS-style blocked kernel: B is packed
// into NR-column panels, A into MR-row panels, and an MR × NR register tile
// is accumulated with GCC vector extensions, which -march=native lowers to
// AVX-512, AVX2 or SSE. The M rows are split across the threads.

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

#ifdef HAVE_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

namespace {

#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif

typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));
// The same vector type, allowed at any 4-byte alignment, for loads and stores to C.
typedef float VecU __attribute__((vector_size(kLanes * sizeof(float)), aligned(4)));

constexpr int kMr = 6;            // rows of the register tile
constexpr int kNr = 2 * kLanes;   // columns of the register tile: two vectors
constexpr int kKc = 256;          // depth of a packed panel (A and B panels stay in L1/L2)
constexpr int kMc = 120;          // rows of A packed at once (a multiple of kMr)
constexpr int kNc = 1024;         // columns of B packed at once (a multiple of kNr)

struct AlignedBuffer {
  float* data;
  explicit AlignedBuffer(size_t count) {
    size_t bytes = ((count * sizeof(float) + 63) / 64) * 64;
    data = static_cast<float*>(std::aligned_alloc(64, bytes == 0 ? 64 : bytes));
    if (data == nullptr) {
      std::fprintf(stderr, "out of memory\n");
      std::exit(2);
    }
  }
  ~AlignedBuffer() { std::free(data); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
};

#ifndef HAVE_OPENBLAS
// Packs B[pc:pc+kc, jc:jc+nc] into panels of kNr columns, zero-padded: panel p, depth k at p·kc·kNr + k·kNr.
void packB(const float* b, int n, int pc, int kc, int jc, int nc, float* out) {
  for (int jp = 0; jp < nc; jp += kNr) {
    const int width = std::min(kNr, nc - jp);
    float* panel = out + (jp / kNr) * kc * kNr;
    for (int k = 0; k < kc; ++k) {
      const float* row = b + static_cast<size_t>(pc + k) * n + jc + jp;
      float* dst = panel + k * kNr;
      int j = 0;
      for (; j < width; ++j) dst[j] = row[j];
      for (; j < kNr; ++j) dst[j] = 0.0f;
    }
  }
}

// Packs A[ic:ic+mc, pc:pc+kc] into panels of kMr rows, zero-padded: panel p, depth k at p·kc·kMr + k·kMr.
void packA(const float* a, int k_total, int ic, int mc, int pc, int kc, float* out) {
  for (int ip = 0; ip < mc; ip += kMr) {
    const int height = std::min(kMr, mc - ip);
    float* panel = out + (ip / kMr) * kc * kMr;
    for (int i = 0; i < kMr; ++i) {
      if (i < height) {
        const float* row = a + static_cast<size_t>(ic + ip + i) * k_total + pc;
        for (int k = 0; k < kc; ++k) panel[k * kMr + i] = row[k];
      } else {
        for (int k = 0; k < kc; ++k) panel[k * kMr + i] = 0.0f;
      }
    }
  }
}

// C tile (+)= packed A panel · packed B panel, for the top-left rows × cols of the tile.
void microKernel(int kc, const float* ap, const float* bp, float* c, int ldc, int rows, int cols, bool accumulate) {
  Vec acc[kMr][2];
  for (int i = 0; i < kMr; ++i) acc[i][0] = acc[i][1] = Vec{};
  for (int k = 0; k < kc; ++k) {
    const Vec b0 = *reinterpret_cast<const Vec*>(bp + k * kNr);
    const Vec b1 = *reinterpret_cast<const Vec*>(bp + k * kNr + kLanes);
    const float* a = ap + k * kMr;
    for (int i = 0; i < kMr; ++i) {
      const Vec ai = Vec{} + a[i];
      acc[i][0] += ai * b0;
      acc[i][1] += ai * b1;
    }
  }
  if (rows == kMr && cols == kNr) {
    for (int i = 0; i < kMr; ++i) {
      VecU* dst0 = reinterpret_cast<VecU*>(c + static_cast<size_t>(i) * ldc);
      VecU* dst1 = reinterpret_cast<VecU*>(c + static_cast<size_t>(i) * ldc + kLanes);
      if (accumulate) {
        *dst0 += acc[i][0];
        *dst1 += acc[i][1];
      } else {
        *dst0 = acc[i][0];
        *dst1 = acc[i][1];
      }
    }
    return;
  }
  alignas(64) float tile[kMr][kNr];
  for (int i = 0; i < kMr; ++i) {
    std::memcpy(&tile[i][0], &acc[i][0], sizeof(Vec));
    std::memcpy(&tile[i][kLanes], &acc[i][1], sizeof(Vec));
  }
  for (int i = 0; i < rows; ++i) {
    float* dst = c + static_cast<size_t>(i) * ldc;
    for (int j = 0; j < cols; ++j) dst[j] = accumulate ? dst[j] + tile[i][j] : tile[i][j];
  }
}

// C[m0:m1, :] = A[m0:m1, :] · B, single-threaded.
void blockedRows(const float* a, const float* b, float* c, int m0, int m1, int k_total, int n) {
  AlignedBuffer bpack(static_cast<size_t>(kKc) * ((std::min(kNc, n) + kNr - 1) / kNr) * kNr);
  AlignedBuffer apack(static_cast<size_t>(kKc) * kMc);
  for (int jc = 0; jc < n; jc += kNc) {
    const int nc = std::min(kNc, n - jc);
    for (int pc = 0; pc < k_total; pc += kKc) {
      const int kc = std::min(kKc, k_total - pc);
      packB(b, n, pc, kc, jc, nc, bpack.data);
      for (int ic = m0; ic < m1; ic += kMc) {
        const int mc = std::min(kMc, m1 - ic);
        packA(a, k_total, ic, mc, pc, kc, apack.data);
        for (int jr = 0; jr < nc; jr += kNr) {
          const float* bp = bpack.data + (jr / kNr) * kc * kNr;
          for (int ir = 0; ir < mc; ir += kMr) {
            const float* ap = apack.data + (ir / kMr) * kc * kMr;
            float* tile = c + static_cast<size_t>(ic + ir) * n + jc + jr;
            microKernel(kc, ap, bp, tile, n, std::min(kMr, mc - ir), std::min(kNr, nc - jr), pc > 0);
          }
        }
      }
    }
  }
}

#endif  // HAVE_OPENBLAS

void multiply(const float* a, const float* b, float* c, int m, int k, int n, int threads) {
#ifdef HAVE_OPENBLAS
  (void)threads;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
#else
  if (threads <= 1 || m < 2 * kMr) {
    blockedRows(a, b, c, 0, m, k, n);
    return;
  }
  // Row ranges in whole register tiles, so no two threads write the same cache line of C but at the seams.
  const int tiles = (m + kMr - 1) / kMr;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    const int m0 = std::min(m, (tiles * t / threads) * kMr);
    const int m1 = std::min(m, (tiles * (t + 1) / threads) * kMr);
    if (m0 < m1) pool.emplace_back(blockedRows, a, b, c, m0, m1, k, n);
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
