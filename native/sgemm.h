// sgemm.h: one single-threaded, blocked float32 matmul, C = A · B (all
// row-major), shared by the vecforge_hnsw addon (PCA projection inside the
// pool workers) and by bench/src/native/matmul.cpp (the native baseline it is
// measured against), so the two can never drift apart.
//
// GotoBLAS-style: B is packed into kNr-column panels, A into kMr-row panels,
// and a kMr × kNr register tile is accumulated with GCC vector extensions,
// which -march=native lowers to AVX-512, AVX2 or SSE (plain SSE2 on a
// portable build). Packing buffers are allocated per call.

#ifndef VECFORGE_NATIVE_SGEMM_H_
#define VECFORGE_NATIVE_SGEMM_H_

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

namespace vecforge_sgemm {

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

// A 64-byte aligned float buffer; throws std::bad_alloc when memory runs out.
struct AlignedBuffer {
  float* data;
  explicit AlignedBuffer(size_t count) {
    size_t bytes = ((count * sizeof(float) + 63) / 64) * 64;
    data = static_cast<float*>(std::aligned_alloc(64, bytes == 0 ? 64 : bytes));
    if (data == nullptr) throw std::bad_alloc();
  }
  ~AlignedBuffer() { std::free(data); }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
};

// Packs B[pc:pc+kc, jc:jc+nc] into panels of kNr columns, zero-padded: panel p, depth k at p·kc·kNr + k·kNr.
inline void PackB(const float* b, size_t ldb, int pc, int kc, int jc, int nc, float* out) {
  for (int jp = 0; jp < nc; jp += kNr) {
    const int width = std::min(kNr, nc - jp);
    float* panel = out + static_cast<size_t>(jp / kNr) * kc * kNr;
    for (int k = 0; k < kc; ++k) {
      const float* row = b + static_cast<size_t>(pc + k) * ldb + jc + jp;
      float* dst = panel + k * kNr;
      int j = 0;
      for (; j < width; ++j) dst[j] = row[j];
      for (; j < kNr; ++j) dst[j] = 0.0f;
    }
  }
}

// The same panels from a transposed B: Bt is n × k row-major (B = Btᵀ), so
// B[k][j] = Bt[j·ldbt + k]. This reads each weight row along k, which is how
// PyTorch-layout linear weights ([out, in]) lie in memory.
inline void PackBT(const float* bt, size_t ldbt, int pc, int kc, int jc, int nc, float* out) {
  for (int jp = 0; jp < nc; jp += kNr) {
    const int width = std::min(kNr, nc - jp);
    float* panel = out + static_cast<size_t>(jp / kNr) * kc * kNr;
    int j = 0;
    for (; j < width; ++j) {
      const float* row = bt + static_cast<size_t>(jc + jp + j) * ldbt + pc;
      for (int k = 0; k < kc; ++k) panel[k * kNr + j] = row[k];
    }
    for (; j < kNr; ++j) {
      for (int k = 0; k < kc; ++k) panel[k * kNr + j] = 0.0f;
    }
  }
}

// Packs A[ic:ic+mc, pc:pc+kc] into panels of kMr rows, zero-padded: panel p, depth k at p·kc·kMr + k·kMr.
inline void PackA(const float* a, size_t lda, int ic, int mc, int pc, int kc, float* out) {
  for (int ip = 0; ip < mc; ip += kMr) {
    const int height = std::min(kMr, mc - ip);
    float* panel = out + static_cast<size_t>(ip / kMr) * kc * kMr;
    for (int i = 0; i < kMr; ++i) {
      if (i < height) {
        const float* row = a + static_cast<size_t>(ic + ip + i) * lda + pc;
        for (int k = 0; k < kc; ++k) panel[k * kMr + i] = row[k];
      } else {
        for (int k = 0; k < kc; ++k) panel[k * kMr + i] = 0.0f;
      }
    }
  }
}

// C tile (+)= packed A panel · packed B panel, for the top-left rows × cols of the tile.
inline void MicroKernel(int kc, const float* ap, const float* bp, float* c, size_t ldc, int rows, int cols,
                        bool accumulate) {
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

// C[m0:m1, 0:n] = A[m0:m1, 0:k] · B[0:k, 0:n] in the calling thread; A is
// m × k (row stride k), C has row stride n. B is k × n (row stride n), or,
// with b_transposed, b holds Bᵀ: n × k, row stride k.
inline void BlockedRowsAny(const float* a, const float* b, float* c, int m0, int m1, int k_total, int n,
                           bool b_transposed) {
  if (m0 >= m1 || n <= 0) return;
  if (k_total <= 0) {
    for (int i = m0; i < m1; ++i) std::memset(c + static_cast<size_t>(i) * n, 0, sizeof(float) * n);
    return;
  }
  AlignedBuffer bpack(static_cast<size_t>(kKc) * ((std::min(kNc, n) + kNr - 1) / kNr) * kNr);
  AlignedBuffer apack(static_cast<size_t>(kKc) * kMc);
  for (int jc = 0; jc < n; jc += kNc) {
    const int nc = std::min(kNc, n - jc);
    for (int pc = 0; pc < k_total; pc += kKc) {
      const int kc = std::min(kKc, k_total - pc);
      if (b_transposed) {
        PackBT(b, k_total, pc, kc, jc, nc, bpack.data);
      } else {
        PackB(b, n, pc, kc, jc, nc, bpack.data);
      }
      for (int ic = m0; ic < m1; ic += kMc) {
        const int mc = std::min(kMc, m1 - ic);
        PackA(a, k_total, ic, mc, pc, kc, apack.data);
        for (int jr = 0; jr < nc; jr += kNr) {
          const float* bp = bpack.data + static_cast<size_t>(jr / kNr) * kc * kNr;
          for (int ir = 0; ir < mc; ir += kMr) {
            const float* ap = apack.data + static_cast<size_t>(ir / kMr) * kc * kMr;
            float* tile = c + static_cast<size_t>(ic + ir) * n + jc + jr;
            MicroKernel(kc, ap, bp, tile, n, std::min(kMr, mc - ir), std::min(kNr, nc - jr), pc > 0);
          }
        }
      }
    }
  }
}

// C[m0:m1, 0:n] = A[m0:m1, 0:k] · B[0:k, 0:n], B row-major k × n.
inline void BlockedRows(const float* a, const float* b, float* c, int m0, int m1, int k_total, int n) {
  BlockedRowsAny(a, b, c, m0, m1, k_total, n, false);
}

// C[m0:m1, 0:n] = A[m0:m1, 0:k] · Btᵀ, Bt row-major n × k (a PyTorch linear weight).
inline void BlockedRowsBt(const float* a, const float* bt, float* c, int m0, int m1, int k_total, int n) {
  BlockedRowsAny(a, bt, c, m0, m1, k_total, n, true);
}

}  // namespace vecforge_sgemm

#endif  // VECFORGE_NATIVE_SGEMM_H_
