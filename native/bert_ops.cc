// bert_ops.cc: the native math of the BERT kernel, on Float32Arrays in the
// calling (pool worker) thread:
//   linearRows     x · Wᵀ + b with a PyTorch-layout weight ([out, in]) read
//                  in place (a SharedArrayBuffer view: no per-worker copy),
//                  on sgemm.h's blocked kernel, with an optional GELU epilogue
//   attentionRows  multi-head self-attention over sequences packed one after
//                  another (no padding: each sequence attends to itself only)
//   layerNormRows  (x + residual) → LayerNorm, in place
// The TF.js forward pass (src/models/bert/forward.ts) computes the same
// function; test/bert-native.test.ts holds the two together.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "args.h"
#include "exports.h"
#include "sgemm.h"

namespace vecforge {

namespace {

using vecforge_sgemm::kLanes;
using vecforge_sgemm::Vec;
typedef int32_t VecI __attribute__((vector_size(kLanes * sizeof(int32_t))));
// Loads and stores of Vec at any 4-byte alignment.
typedef float VecU __attribute__((vector_size(kLanes * sizeof(float)), aligned(4)));

constexpr int kActNone = 0;
constexpr int kActGeluErf = 1;
constexpr int kActGeluTanh = 2;

// e^z for z ≤ 0, lane-wise (z below −87 gives ~0): Cody–Waite reduction to
// r in [−ln2/2, ln2/2] and a degree-6 Taylor polynomial (relative error
// below 2e-7), then 2^n through the exponent bits. Plain vector arithmetic
// so every lane runs at once; std::exp is scalar.
inline Vec ExpNonPositive(Vec z) {
  const Vec lo = Vec{} - 87.0f;
  z = z < lo ? lo : z;
  // Adding 1.5 · 2^23 rounds to the nearest integer in the low mantissa bits.
  const Vec magic = Vec{} + 12582912.0f;
  const Vec t = z * 1.44269504088896341f + magic;
  const Vec n = t - magic;
  const VecI ni = (VecI)t - (VecI)magic;
  const Vec r = (z - n * 0.693359375f) - n * -2.12194440e-4f;
  Vec p = Vec{} + (1.0f / 720.0f);
  p = p * r + (1.0f / 120.0f);
  p = p * r + (1.0f / 24.0f);
  p = p * r + (1.0f / 6.0f);
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const VecI bits = (ni + 127) << 23;
  return p * (Vec)bits;
}

// GELU with erf: 0.5 x (1 + erf(x / √2)); erf by Abramowitz & Stegun
// 7.1.26 (absolute error below 1.5e-7), the formula TF.js's Erf kernels use.
inline Vec GeluErf(Vec x) {
  const Vec a = (x < 0.0f ? -x : x) * 0.70710678118654752f;
  const Vec t = 1.0f / (1.0f + 0.3275911f * a);
  Vec poly = Vec{} + 1.061405429f;
  poly = poly * t - 1.453152027f;
  poly = poly * t + 1.421413741f;
  poly = poly * t - 0.284496736f;
  poly = poly * t + 0.254829592f;
  poly = poly * t;
  const Vec erfAbs = 1.0f - poly * ExpNonPositive(-(a * a));
  const Vec erf = x < 0.0f ? -erfAbs : erfAbs;
  return 0.5f * x * (1.0f + erf);
}

// GELU, tanh form (gelu_new, gelu_pytorch_tanh): 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))),
// tanh(u) = sign(u) (1 − e^(−2|u|)) / (1 + e^(−2|u|)).
inline Vec GeluTanh(Vec x) {
  const Vec u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
  const Vec au = u < 0.0f ? -u : u;
  const Vec e = ExpNonPositive(-2.0f * au);
  const Vec th = (1.0f - e) / (1.0f + e);
  return 0.5f * x * (1.0f + (u < 0.0f ? -th : th));
}

template <Vec (*Fn)(Vec)>
void MapInPlace(float* data, size_t count) {
  size_t i = 0;
  for (; i + kLanes <= count; i += kLanes) {
    VecU* p = reinterpret_cast<VecU*>(data + i);
    *p = Fn(*p);
  }
  if (i < count) {
    alignas(64) float tail[kLanes] = {};
    std::memcpy(tail, data + i, (count - i) * sizeof(float));
    Vec v;
    std::memcpy(&v, tail, sizeof(Vec));
    v = Fn(v);
    std::memcpy(tail, &v, sizeof(Vec));
    std::memcpy(data + i, tail, (count - i) * sizeof(float));
  }
}

// Shifted scores e^(s − max) in place over count (≥ 1) floats; returns their sum, added in order.
float SoftmaxNumerators(float* s, int count) {
  float max = s[0];
  for (int j = 1; j < count; ++j) max = std::max(max, s[j]);
  for (int j = 0; j < count; ++j) s[j] -= max;
  MapInPlace<ExpNonPositive>(s, static_cast<size_t>(count));
  float sum = 0.0f;
  for (int j = 0; j < count; ++j) sum += s[j];
  return sum;
}

double ArgNumber(const Napi::CallbackInfo& info, size_t i, const char* name, double lo, double hi) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) ThrowType(info.Env(), std::string(name) + " must be a number, got " + Describe(v));
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= lo && d <= hi)) {
    ThrowRange(info.Env(), std::string(name) + " must be in [" + FormatNumber(lo) + ", " + FormatNumber(hi) + "], got " + FormatNumber(d));
  }
  return d;
}

}  // namespace

// linearRows(x, weight, bias, out, activation) -> out
//   out[m × n] = act(x[m × k] · weightᵀ + bias): weight is n × k row-major
//   (PyTorch's Linear layout), n = bias.length, k = weight.length / n,
//   m = x.length / k. activation: 0 none, 1 GELU (erf), 2 GELU (tanh).
//   out must not overlap x.
Napi::Value LinearRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = ArgTyped<float>(info, 0, "x", napi_float32_array);
  auto weight = ArgTyped<float>(info, 1, "weight", napi_float32_array);
  auto bias = ArgTyped<float>(info, 2, "bias", napi_float32_array);
  auto out = ArgTyped<float>(info, 3, "out", napi_float32_array);
  const int act = static_cast<int>(ArgInt(info, 4, "activation", kActNone, kActGeluTanh));
  const size_t n = bias.length;
  if (n == 0 || n > kMaxDims) ThrowRange(env, "bias.length must be 1.." + FormatNumber(kMaxDims) + ", got " + std::to_string(n));
  if (weight.length == 0 || weight.length % n != 0) {
    ThrowRange(env, "weight.length (" + std::to_string(weight.length) + ") must be a positive multiple of bias.length (" + std::to_string(n) + ")");
  }
  const size_t k = weight.length / n;
  if (k > kMaxDims) ThrowRange(env, "weight's input size must be at most " + FormatNumber(kMaxDims) + ", got " + std::to_string(k));
  const size_t m = RowsOf(env, x, k, "x");
  if (out.length != m * n) ThrowRange(env, "out.length (" + std::to_string(out.length) + ") must be rows × bias.length = " + std::to_string(m * n));
  if (m > 0x7fffffffu / std::max<size_t>(n, k)) ThrowRange(env, "x has too many rows: " + std::to_string(m));
  float* dst = const_cast<float*>(out.data);
  if (m == 0) return info[3];
  vecforge_sgemm::BlockedRowsBt(x.data, weight.data, dst, 0, static_cast<int>(m), static_cast<int>(k), static_cast<int>(n));
  for (size_t i = 0; i < m; ++i) {
    float* row = dst + i * n;
    for (size_t j = 0; j < n; ++j) row[j] += bias.data[j];
  }
  if (act == kActGeluErf) MapInPlace<GeluErf>(dst, m * n);
  if (act == kActGeluTanh) MapInPlace<GeluTanh>(dst, m * n);
  return info[3];
}

// attentionRows(q, k, v, lengths, heads, out) -> out
//   Scaled dot-product self-attention, `heads` heads, over sequences packed
//   one after another: rows [o, o + lengths[s]) of q, k, v (each T × h,
//   T = Σ lengths) are sequence s, and attend to that sequence only, so no
//   padding is computed and no mask is needed. out (T × h) receives the
//   context, heads side by side as BERT concatenates them.
Napi::Value AttentionRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto q = ArgTyped<float>(info, 0, "q", napi_float32_array);
  auto k = ArgTyped<float>(info, 1, "k", napi_float32_array);
  auto v = ArgTyped<float>(info, 2, "v", napi_float32_array);
  auto lengths = ArgTyped<int32_t>(info, 3, "lengths", napi_int32_array);
  const int heads = static_cast<int>(ArgInt(info, 4, "heads", 1, 4096));
  auto out = ArgTyped<float>(info, 5, "out", napi_float32_array);
  size_t total = 0;
  int longest = 0;
  for (size_t s = 0; s < lengths.length; ++s) {
    const int32_t len = lengths.data[s];
    if (len < 1 || len > 65536) ThrowRange(env, "lengths[" + std::to_string(s) + "] must be in [1, 65536], got " + std::to_string(len));
    total += static_cast<size_t>(len);
    longest = std::max(longest, static_cast<int>(len));
  }
  if (total == 0) ThrowRange(env, "lengths must name at least one sequence");
  if (q.length == 0 || q.length % total != 0) {
    ThrowRange(env, "q.length (" + std::to_string(q.length) + ") must be a positive multiple of Σ lengths (" + std::to_string(total) + ")");
  }
  const size_t h = q.length / total;
  if (h % static_cast<size_t>(heads) != 0) ThrowRange(env, "hidden size " + std::to_string(h) + " must be a multiple of heads (" + std::to_string(heads) + ")");
  if (k.length != q.length || v.length != q.length || out.length != q.length) {
    ThrowRange(env, "k, v and out must have q's length (" + std::to_string(q.length) + ")");
  }
  const size_t dh = h / static_cast<size_t>(heads);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(dh)));
  float* ctx_all = const_cast<float*>(out.data);
  // Keys of one head transposed (dh × len), so a query's scores are axpys along the keys.
  vecforge_sgemm::AlignedBuffer kt(dh * static_cast<size_t>(longest));
  vecforge_sgemm::AlignedBuffer scores(static_cast<size_t>(longest) + kLanes);
  size_t o = 0;
  for (size_t s = 0; s < lengths.length; ++s) {
    const int len = lengths.data[s];
    for (int hd = 0; hd < heads; ++hd) {
      const size_t col = static_cast<size_t>(hd) * dh;
      for (int j = 0; j < len; ++j) {
        const float* krow = k.data + (o + j) * h + col;
        for (size_t d = 0; d < dh; ++d) kt.data[d * len + j] = krow[d];
      }
      for (int i = 0; i < len; ++i) {
        float* __restrict sc = scores.data;
        std::fill(sc, sc + len, 0.0f);
        const float* qrow = q.data + (o + i) * h + col;
        for (size_t d = 0; d < dh; ++d) {
          const float qd = qrow[d] * scale;
          const float* __restrict kd = kt.data + d * len;
          for (int j = 0; j < len; ++j) sc[j] += qd * kd[j];
        }
        const float inv = 1.0f / SoftmaxNumerators(sc, len);
        float* __restrict ctx = ctx_all + (o + i) * h + col;
        std::fill(ctx, ctx + dh, 0.0f);
        for (int j = 0; j < len; ++j) {
          const float p = sc[j] * inv;
          const float* __restrict vrow = v.data + (o + j) * h + col;
          for (size_t d = 0; d < dh; ++d) ctx[d] += p * vrow[d];
        }
      }
    }
    o += static_cast<size_t>(len);
  }
  return info[5];
}

// layerNormRows(x, residual, gamma, beta, eps) -> x
//   Each row of x (h = gamma.length wide) becomes LayerNorm(x + residual)
//   · gamma + beta, in place; residual may be null. Mean and variance are
//   summed in double.
Napi::Value LayerNormRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto x = ArgTyped<float>(info, 0, "x", napi_float32_array);
  View<float> residual;
  const bool has_residual = !info[1].IsNull() && !info[1].IsUndefined();
  if (has_residual) residual = ArgTyped<float>(info, 1, "residual", napi_float32_array);
  auto gamma = ArgTyped<float>(info, 2, "gamma", napi_float32_array);
  auto beta = ArgTyped<float>(info, 3, "beta", napi_float32_array);
  const double eps = ArgNumber(info, 4, "eps", 0.0, 1.0);
  const size_t h = gamma.length;
  if (h == 0 || h > kMaxDims) ThrowRange(env, "gamma.length must be 1.." + FormatNumber(kMaxDims) + ", got " + std::to_string(h));
  if (beta.length != h) ThrowRange(env, "beta.length (" + std::to_string(beta.length) + ") must equal gamma.length (" + std::to_string(h) + ")");
  const size_t m = RowsOf(env, x, h, "x");
  if (has_residual && residual.length != x.length) {
    ThrowRange(env, "residual.length (" + std::to_string(residual.length) + ") must equal x.length (" + std::to_string(x.length) + ")");
  }
  float* data = const_cast<float*>(x.data);
  for (size_t i = 0; i < m; ++i) {
    float* row = data + i * h;
    if (has_residual) {
      const float* res = residual.data + i * h;
      for (size_t d = 0; d < h; ++d) row[d] += res[d];
    }
    double sum = 0.0;
    for (size_t d = 0; d < h; ++d) sum += row[d];
    const double mean = sum / static_cast<double>(h);
    double sq = 0.0;
    for (size_t d = 0; d < h; ++d) sq += (row[d] - mean) * (row[d] - mean);
    const float inv = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(h) + eps));
    const float mean_f = static_cast<float>(mean);
    for (size_t d = 0; d < h; ++d) row[d] = (row[d] - mean_f) * inv * gamma.data[d] + beta.data[d];
  }
  return info[0];
}

}  // namespace vecforge
