// bm25_ops: bm25Search, the exhaustive BM25 walk and top-k selection of the
// lexical index (src/index/lexical/bm25.ts is the caller and the portable
// twin). The index keeps its postings in one Uint32Array arena (label, tf
// pairs, each term's list contiguous); the caller resolves each query's
// terms to (start, length) ranges of the arena and their weights
// idf · (k1 + 1), highest first, and this walks them into a per-label
// score accumulator, then keeps the k best.
//
// Same arithmetic, same order as the JavaScript walk: per posting
// acc += (w · tf) / (tf + norm[label]), terms in the order given, so the
// scores are bit-equal; ties rank by the lower label. Several queries run
// on `threads` native threads (each with its own accumulator), the calling
// thread blocked meanwhile: the lexical index must not change during the
// call, which a synchronous call guarantees.

#include <napi.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "args.h"
#include "exports.h"
#include "parallel_for.h"

namespace vecforge {

namespace {

constexpr double kMaxSearchK = 1048576.0;

struct Scratch {
  std::vector<double> acc;
  std::vector<uint64_t> touched;  // a bit per label
  std::vector<std::pair<double, uint32_t>> heap;
  std::vector<const uint32_t*> cursor;
};

// Labels per block of the walk: 32,768 labels' accumulator and norms (512 KiB) fit in L2.
constexpr size_t kBlockLabels = size_t{1} << 15;

struct Bm25Job {
  View<uint32_t> arena;
  View<uint32_t> lists;    // (start, length) per term, in arena elements
  View<uint32_t> offsets;  // query q's terms are [offsets[q], offsets[q + 1])
  View<double> weights;    // per term
  View<double> norm;       // per label k1 · (1 − b + b · |d| / avgdl); negative for a removed document
  FilterView allowed;
  bool sorted{false};  // every list's labels ascend
  size_t k{0};
  int32_t* outLabels{nullptr};
  double* outScores{nullptr};
  uint32_t* outCounts{nullptr};
};

// Whether (sa, la) ranks above (sb, lb): a higher score, or the same and a lower label.
inline bool Above(double sa, uint32_t la, double sb, uint32_t lb) { return sa > sb || (sa == sb && la < lb); }


void RunQuery(const Bm25Job& job, size_t q, Scratch& s) {
  const size_t slots = job.norm.length;
  if (s.acc.size() < slots) s.acc.assign(slots, 0.0);
  if (s.touched.size() < slots / 64 + 1) s.touched.assign(slots / 64 + 1, 0);
  const uint32_t first = job.offsets.data[q];
  const uint32_t last = job.offsets.data[q + 1];
  double* acc = s.acc.data();
  uint64_t* touched = s.touched.data();
  const double* norm = job.norm.data;
  // A bit per touched label rather than a list: appending to a list would
  // chain every posting to the previous one's accumulator load.
  auto visit = [&](uint32_t label, uint32_t count, double w) {
    const double nl = norm[label];
    // A removed document's norm is negative (or NaN): skipped without another lookup.
    if (!(nl >= 0.0) || (job.allowed.present && !FilterAllows(job.allowed, label))) return;
    const double tf = count;
    acc[label] += (w * tf) / (tf + nl);
    touched[label >> 6] |= uint64_t{1} << (label & 63);
  };
  // The k best: a min-heap whose top is the worst kept. The touched labels
  // of [lo, hi) are offered once complete, their accumulators and bits reset.
  const size_t k = job.k;
  auto& heap = s.heap;
  heap.clear();
  auto worse = [](const std::pair<double, uint32_t>& a, const std::pair<double, uint32_t>& b) { return Above(a.first, a.second, b.first, b.second); };
  auto offer = [&](size_t lo, size_t hi) {
    for (size_t word = lo >> 6; word <= (hi - 1) >> 6; ++word) {
      uint64_t bits = touched[word];
      touched[word] = 0;
      while (bits != 0) {
        const uint32_t label = static_cast<uint32_t>(word * 64 + static_cast<size_t>(__builtin_ctzll(bits)));
        bits &= bits - 1;
        const double score = acc[label];
        acc[label] = 0.0;
        if (heap.size() < k) {
          heap.emplace_back(score, label);
          std::push_heap(heap.begin(), heap.end(), worse);
        } else if (Above(score, label, heap.front().first, heap.front().second)) {
          std::pop_heap(heap.begin(), heap.end(), worse);
          heap.back() = {score, label};
          std::push_heap(heap.begin(), heap.end(), worse);
        }
      }
    }
  };
  auto& cursor = s.cursor;
  cursor.resize(last - first);
  for (uint32_t t = first; t < last; ++t) cursor[t - first] = job.arena.data + job.lists.data[2 * t];
  auto endOf = [&](uint32_t t) { return job.arena.data + job.lists.data[2 * t] + (job.lists.data[2 * t + 1] & ~1u); };
  if (slots == 0) {
    // Nothing to score.
  } else if (!job.sorted) {
    for (uint32_t t = first; t < last; ++t) {
      const double w = job.weights.data[t];
      for (const uint32_t *p = cursor[t - first], *end = endOf(t); p < end; p += 2) {
        if (p[0] < slots) visit(p[0], p[1], w);
      }
    }
    offer(0, slots);
  } else {
    // Labels a block at a time, every term's postings in the block in term
    // order, then the block's documents offered to the top k: a block's
    // accumulator and norms stay in cache. Lists hold ascending labels, so
    // each label still sums its terms in term order, and a block's labels
    // are complete when it ends.
    for (size_t lo = 0; lo < slots; lo += kBlockLabels) {
      const size_t hi = std::min(slots, lo + kBlockLabels);
      bool any = false;
      for (uint32_t t = first; t < last; ++t) {
        const double w = job.weights.data[t];
        const uint32_t* p = cursor[t - first];
        const uint32_t* from = p;
        for (const uint32_t* end = endOf(t); p < end && p[0] < hi; p += 2) visit(p[0], p[1], w);
        any = any || p != from;
        cursor[t - first] = p;
      }
      if (any) offer(lo, hi);
    }
  }
  std::sort(heap.begin(), heap.end(), worse);
  int32_t* labels = job.outLabels + q * k;
  double* scores = job.outScores + q * k;
  for (size_t i = 0; i < heap.size(); ++i) {
    labels[i] = static_cast<int32_t>(heap[i].second);
    scores[i] = heap[i].first;
  }
  job.outCounts[q] = static_cast<uint32_t>(heap.size());
}

}  // namespace

// bm25Search(arena: Uint32Array, lists: Uint32Array, offsets: Uint32Array,
//   queries, weights: Float64Array, norm: Float64Array, allowed: Uint8Array
//   | Uint32Array | undefined, sorted, k, outLabels: Int32Array, outScores:
//   Float64Array, outCounts: Uint32Array, threads)
//   → undefined. Query q < queries has terms [offsets[q], offsets[q + 1]);
// its hits are outLabels/outScores[q·k, q·k + outCounts[q]), best first.
// The arrays may be longer than what the queries use: callers keep them
// between calls (V8 keeps a small typed array on its heap until native code
// asks for its data, which then moves it: microseconds per array per call).
Napi::Value Bm25Search(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 13) ThrowType(env, "bm25Search expects 13 arguments, got " + std::to_string(info.Length()));
  Bm25Job job;
  job.arena = ArgTyped<uint32_t>(info, 0, "arena", napi_uint32_array);
  job.lists = ArgTyped<uint32_t>(info, 1, "lists", napi_uint32_array);
  job.offsets = ArgTyped<uint32_t>(info, 2, "offsets", napi_uint32_array);
  const size_t queries = static_cast<size_t>(ArgInt(info, 3, "queries", 0, kMaxU32 - 1));
  job.weights = ArgTyped<double>(info, 4, "weights", napi_float64_array);
  job.norm = ArgTyped<double>(info, 5, "norm", napi_float64_array);
  job.allowed = ArgFilter(info, 6);
  if (!info[7].IsBoolean()) ThrowType(env, "sorted must be a boolean, got " + Describe(info[7]));
  job.sorted = info[7].As<Napi::Boolean>().Value();
  job.k = static_cast<size_t>(ArgInt(info, 8, "k", 1, kMaxSearchK));
  View<int32_t> outLabels = ArgTyped<int32_t>(info, 9, "outLabels", napi_int32_array);
  View<double> outScores = ArgTyped<double>(info, 10, "outScores", napi_float64_array);
  View<uint32_t> outCounts = ArgTyped<uint32_t>(info, 11, "outCounts", napi_uint32_array);
  const size_t threads = static_cast<size_t>(ArgInt(info, 12, "threads", 1, kMaxThreads));

  if (job.offsets.length < queries + 1) ThrowRange(env, "offsets holds " + std::to_string(job.offsets.length) + " values for " + std::to_string(queries) + " queries (needs queries + 1)");
  for (size_t q = 0; q < queries; ++q) {
    if (job.offsets.data[q] > job.offsets.data[q + 1]) ThrowRange(env, "offsets must not decrease (offsets[" + std::to_string(q) + "])");
  }
  const size_t terms = job.offsets.data[queries];
  if (job.lists.length / 2 < terms) ThrowRange(env, "lists holds " + std::to_string(job.lists.length / 2) + " (start, length) pairs for " + std::to_string(terms) + " terms");
  if (job.weights.length < terms) ThrowRange(env, "weights holds " + std::to_string(job.weights.length) + " values for " + std::to_string(terms) + " terms");
  for (size_t t = 0; t < terms; ++t) {
    const uint64_t start = job.lists.data[2 * t];
    const uint64_t length = job.lists.data[2 * t + 1];
    if (start + length > job.arena.length) ThrowRange(env, "lists[" + std::to_string(t) + "] runs past the arena (" + std::to_string(start) + " + " + std::to_string(length) + " > " + std::to_string(job.arena.length) + ")");
  }
  if (outCounts.length < queries) ThrowRange(env, "outCounts holds " + std::to_string(outCounts.length) + " values for " + std::to_string(queries) + " queries");
  if (outLabels.length / job.k < queries || outScores.length / job.k < queries) ThrowRange(env, "outLabels and outScores must hold queries · k values");
  job.outLabels = const_cast<int32_t*>(outLabels.data);
  job.outScores = const_cast<double*>(outScores.data);
  job.outCounts = const_cast<uint32_t*>(outCounts.data);

  if (threads <= 1 || queries <= 1) {
    // The calling thread keeps its scratch between calls (single searches).
    thread_local Scratch scratch;
    for (size_t q = 0; q < queries; ++q) RunQuery(job, q, scratch);
    return env.Undefined();
  }
  std::vector<Scratch> scratch(std::min(threads, queries));
  ParallelFor(queries, scratch.size(), [&](size_t q, size_t t) { RunQuery(job, q, scratch[t]); });
  return env.Undefined();
}

}  // namespace vecforge
