// project_rows.cc: projectRows, the PCA projection on sgemm.h's kernel.
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>

#include "args.h"
#include "exports.h"
#include "sgemm.h"

namespace vecforge {

// projectRows(rows, mean, weights, out, normalize) -> out
//   out[n × outDims] = (rows[n × inDims] − mean) · weights[inDims × outDims],
//   then, when normalize is true, every out row scaled to unit L2 norm (an
//   all-zero row stays zero, so the mean itself projects to exact zeros).
//   PCA projection in the calling (pool worker) thread, on the blocked kernel
//   of sgemm.h, centring a block of rows at a time into scratch. Dims follow
//   from the lengths: inDims = mean.length, outDims = weights.length / inDims.
//   out must not overlap rows.
Napi::Value ProjectRows(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto rows = ArgTyped<float>(info, 0, "rows", napi_float32_array);
  auto mean = ArgTyped<float>(info, 1, "mean", napi_float32_array);
  auto weights = ArgTyped<float>(info, 2, "weights", napi_float32_array);
  auto out = ArgTyped<float>(info, 3, "out", napi_float32_array);
  bool normalize = ArgBool(info, 4, "normalize", true);
  const size_t in_dims = mean.length;
  if (in_dims == 0 || in_dims > kMaxDims) ThrowRange(env, "mean.length must be 1.." + FormatNumber(kMaxDims) + ", got " + std::to_string(in_dims));
  if (weights.length == 0 || weights.length % in_dims != 0) {
    ThrowRange(env, "weights.length (" + std::to_string(weights.length) + ") must be a positive multiple of inDims (" +
                        std::to_string(in_dims) + ")");
  }
  const size_t out_dims = weights.length / in_dims;
  const size_t n = RowsOf(env, rows, in_dims, "rows");
  if (out.length != n * out_dims) {
    ThrowRange(env, "out.length (" + std::to_string(out.length) + ") must be rows × outDims = " +
                        std::to_string(n * out_dims));
  }
  float* dst = const_cast<float*>(out.data);
  constexpr size_t kBlockRows = 1020;  // a multiple of the kernel's row tile
  vecforge_sgemm::AlignedBuffer centred(std::min(n, kBlockRows) * in_dims);
  for (size_t start = 0; start < n; start += kBlockRows) {
    const size_t count = std::min(kBlockRows, n - start);
    const float* src = rows.data + start * in_dims;
    for (size_t i = 0; i < count; ++i) {
      for (size_t d = 0; d < in_dims; ++d) centred.data[i * in_dims + d] = src[i * in_dims + d] - mean.data[d];
    }
    vecforge_sgemm::BlockedRows(centred.data, weights.data, dst + start * out_dims, 0, static_cast<int>(count),
                                static_cast<int>(in_dims), static_cast<int>(out_dims));
  }
  if (normalize) {
    for (size_t i = 0; i < n; ++i) {
      float* row = dst + i * out_dims;
      double sum = 0.0;
      for (size_t j = 0; j < out_dims; ++j) sum += static_cast<double>(row[j]) * row[j];
      if (sum > 0.0) {
        const float scale = static_cast<float>(1.0 / std::sqrt(sum));
        for (size_t j = 0; j < out_dims; ++j) row[j] *= scale;
      }
    }
  }
  return info[3];
}

}  // namespace vecforge
