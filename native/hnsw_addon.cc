// vecforge_hnsw: a thin Node-API binding over the hnswlib headers shipped in
// hnswlib-node (include path resolved by binding.gyp, never copied).
//
// Why it exists: hnswlib-node inserts one point at a time from JS arrays on
// one thread. This addon keeps each graph in native memory, in a
// process-global registry keyed by a numeric handle, so every worker thread
// that loads the addon can insert into and search the SAME graph, reading
// Float32Array / Uint32Array data (SharedArrayBuffer-backed or not) in place.
//
// Concurrency model (per graph, one PhaseLock with three modes):
//   - INSERT phase, shared among inserters: addPoints, addPointsParallel,
//     markDelete, unmarkDelete. hnswlib's addPoint is thread-safe against
//     other addPoint calls (per-element link locks, label locks), as used by
//     hnswlib's Python bindings' ParallelFor.
//   - SEARCH phase, shared among searchers: searchKnn(Async), getVector.
//     Concurrent searches are safe in hnswlib.
//   - EXCLUSIVE: resize (reallocates every buffer) and save (one consistent
//     snapshot).
//   hnswlib's searches are NOT safe while inserts run (they read link lists
//   without locks: nmslib/hnswlib#29, #100, #562), which is why a plain
//   shared_mutex with inserts and searches both "shared" is not enough: the
//   two shared phases exclude each other. The lock is taken per row / per
//   query, not per call, and hands over fairly (a waiting phase gets the next
//   turn), so a long insert batch delays a search by about one insert and a
//   long query batch cannot starve inserters.
//   - The registry holds std::shared_ptr<Graph>; every call copies the
//     pointer before it unlocks the registry, so free(handle) while another
//     thread still uses the graph only drops the registry's reference and the
//     graph dies when the last in-flight call finishes.
//
// Per-query ef (see SearchOne): hnswlib's searchKnn reads the member ef_,
// which a concurrent search on another thread could change under it. Searches
// run hnswlib's own searchKnn (its fast "bare bone" loop when nothing is
// deleted or filtered, about 1.7x the stop-condition path here) under a
// shared lock on ef_; only a change of ef takes the exclusive lock. A search
// that keeps losing the race falls back to searchStopConditionClosest with a
// stop condition (EfStopCondition) that reproduces searchKnn's ef rule and
// reads no shared state. (That path hands back internal ids in place of
// labels; SearchOne maps them through getExternalLabel.)
//
// The module keeps no per-environment state, so it is context-aware: it can be
// loaded by the main thread and by any number of worker_threads at once.

#include <napi.h>

// hnswlib is third-party code compiled with our flags; keep its warnings
// (unused variables, unsigned < 0 checks, GCC's AVX-512 intrinsics) out of
// every `npm ci` log.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <hnswlib/hnswlib.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <condition_variable>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sgemm.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#define VECFORGE_POSIX_FILES 1
#endif

namespace {

constexpr uint32_t kNoLabel = 0xFFFFFFFFu;
constexpr double kMaxU32 = 4294967295.0;
constexpr double kMaxDims = 65536.0;
constexpr double kMaxM = 2048.0;
constexpr double kMaxEf = 1048576.0;
constexpr double kMaxK = 65536.0;
constexpr double kMaxThreads = 1024.0;

enum class SpaceKind { kL2, kIp, kCosine };

const char* SpaceName(SpaceKind kind) {
  switch (kind) {
    case SpaceKind::kL2: return "l2";
    case SpaceKind::kIp: return "ip";
    case SpaceKind::kCosine: return "cosine";
  }
  return "?";
}

// Two shared phases that exclude each other, plus an exclusive mode that
// excludes both (see the concurrency model above). Exclusive requests block
// new shared entries (resize must not starve). When one phase drains while the
// other waits, the waiters at that moment get a quota of entries, and new
// arrivals of the drained phase wait behind them.
class PhaseLock {
 public:
  enum Phase { kSearch = 0, kInsert = 1 };

  void LockShared(Phase g) {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_[g];
    cv_.wait(lock, [&] { return CanEnter(g); });
    --waiting_[g];
    if (waiting_[Other(g)] > 0 && quota_[g] > 0) --quota_[g];
    ++active_[g];
  }

  void UnlockShared(Phase g) {
    std::lock_guard<std::mutex> lock(mu_);
    if (--active_[g] == 0) {
      Phase o = Other(g);
      if (waiting_[o] > 0) {
        quota_[o] = waiting_[o];
        quota_[g] = 0;
      }
      cv_.notify_all();
    }
  }

  void Lock() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_exclusive_;
    cv_.wait(lock, [&] { return !exclusive_ && active_[kSearch] == 0 && active_[kInsert] == 0; });
    --waiting_exclusive_;
    exclusive_ = true;
  }

  void Unlock() {
    std::lock_guard<std::mutex> lock(mu_);
    exclusive_ = false;
    // Both phases may have queued up behind the exclusive holder: searches go first.
    if (waiting_[kSearch] > 0 && waiting_[kInsert] > 0) {
      quota_[kSearch] = waiting_[kSearch];
      quota_[kInsert] = 0;
    }
    cv_.notify_all();
  }

 private:
  static Phase Other(Phase g) { return g == kSearch ? kInsert : kSearch; }
  bool CanEnter(Phase g) const {
    if (exclusive_ || waiting_exclusive_ > 0) return false;
    Phase o = Other(g);
    if (active_[o] > 0) return false;
    if (waiting_[o] == 0) return true;
    return quota_[g] > 0;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  size_t active_[2]{0, 0};
  size_t waiting_[2]{0, 0};
  size_t quota_[2]{0, 0};
  size_t waiting_exclusive_{0};
  bool exclusive_{false};
};

class PhaseGuard {
 public:
  PhaseGuard(PhaseLock& lock, PhaseLock::Phase phase) : lock_(lock), phase_(phase) { lock_.LockShared(phase_); }
  ~PhaseGuard() { lock_.UnlockShared(phase_); }
  PhaseGuard(const PhaseGuard&) = delete;
  PhaseGuard& operator=(const PhaseGuard&) = delete;

 private:
  PhaseLock& lock_;
  PhaseLock::Phase phase_;
};

class ExclusiveGuard {
 public:
  explicit ExclusiveGuard(PhaseLock& lock) : lock_(lock) { lock_.Lock(); }
  ~ExclusiveGuard() { lock_.Unlock(); }
  ExclusiveGuard(const ExclusiveGuard&) = delete;
  ExclusiveGuard& operator=(const ExclusiveGuard&) = delete;

 private:
  PhaseLock& lock_;
};

struct Graph {
  SpaceKind kind{SpaceKind::kL2};
  size_t dims{0};
  bool allowReplaceDeleted{false};
  // Declared before index so that it is destroyed after it: the index keeps
  // raw pointers into the space (distance function parameter).
  std::unique_ptr<hnswlib::SpaceInterface<float>> space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index;
  // Mirrors index->max_elements_ so it can be read without the phase lock.
  std::atomic<size_t> capacity{0};
  PhaseLock phase;
  // Guards hnswlib's ef_ member: searches read it under a shared lock; a
  // search that needs another ef sets it under the exclusive lock.
  std::shared_mutex ef_mutex;
};

// ---------------------------------------------------------------------------
// Transparent huge pages for the level-0 block.
//
// hnswlib keeps every vector and its level-0 links in one malloc'd block
// (data_level0_memory_, ~550 bytes a row: 187 MB for GloVe's 340K words) and
// a search hops through it at random, so with 4 KiB pages nearly every hop
// is a TLB miss. Linux backs a region with 2 MiB pages only when asked
// (transparent_hugepage=madvise, the common default), so we ask:
//   - a new graph: madvise(MADV_HUGEPAGE) on the untouched block, so the
//     pages the build writes are huge from the first fault (no copy);
//   - a loaded graph: hnswlib's loadIndex has already read the file into 4 KiB
//     pages, so the block moves once into a fresh 2 MiB-aligned, advised
//     allocation (one memcpy, ~30 ms per 100 MB). posix_memalign memory is
//     free()- and realloc()-compatible, as hnswlib's destructor and
//     resizeIndex need.
// Elsewhere, or with VECFORGE_HUGEPAGES=0 (for side-by-side benchmarks), the
// block stays as hnswlib allocated it. Purely a speed hint: nothing depends on
// the kernel honouring it.
constexpr size_t kHugePage = size_t{2} << 20;

bool HugePagesWanted() {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  static const bool wanted = [] {
    const char* v = std::getenv("VECFORGE_HUGEPAGES");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return wanted;
#else
  return false;
#endif
}

// Advises the whole pages inside [p, p + bytes); false when nothing was advised.
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

// A new, still untouched graph: advise its block in place.
void HugePagesForNew(hnswlib::HierarchicalNSW<float>& index) {
  if (!HugePagesWanted()) return;
  size_t bytes = index.max_elements_ * index.size_data_per_element_;
  if (bytes >= kHugePage) AdviseHuge(index.data_level0_memory_, bytes);
}

// A loaded graph: move its block into advised memory. Called before the
// graph is registered, so no other thread can see the old pointer. The move
// costs a fresh allocation (and, when free memory is fragmented, the kernel's
// compaction): worth it for a graph that will serve searches, not for a
// short job that applies a few upserts and saves (load's hugePages = false).
void HugePagesForLoaded(hnswlib::HierarchicalNSW<float>& index) {
  if (!HugePagesWanted()) return;
  size_t bytes = index.max_elements_ * index.size_data_per_element_;
  if (bytes < kHugePage) return;
  size_t rounded = (bytes + kHugePage - 1) & ~(kHugePage - 1);
  void* fresh = nullptr;
  if (posix_memalign(&fresh, kHugePage, rounded) != 0) return;  // keep the old block
  if (!AdviseHuge(fresh, rounded)) {
    free(fresh);
    return;
  }
  std::memcpy(fresh, index.data_level0_memory_, index.cur_element_count * index.size_data_per_element_);
  free(index.data_level0_memory_);
  index.data_level0_memory_ = static_cast<char*>(fresh);
}

// Leaked on purpose: static destructors run at process exit while libuv
// threadpool threads may still be inside Execute() holding graphs.
std::mutex& RegistryMutex() {
  static std::mutex* mu = new std::mutex();
  return *mu;
}
std::unordered_map<uint32_t, std::shared_ptr<Graph>>& Registry() {
  static auto* map = new std::unordered_map<uint32_t, std::shared_ptr<Graph>>();
  return *map;
}
uint32_t gNextHandle = 1;  // guarded by RegistryMutex()

uint32_t Register(std::shared_ptr<Graph> graph) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  auto& map = Registry();
  // Handles are never 0 and never reused while open, even after wrap-around.
  for (;;) {
    uint32_t h = gNextHandle++;
    if (gNextHandle == 0 || gNextHandle == kNoLabel) gNextHandle = 1;
    if (h != 0 && map.find(h) == map.end()) {
      map.emplace(h, std::move(graph));
      return h;
    }
  }
}

// ---------------------------------------------------------------------------
// Argument helpers: TypeError for a wrong type, RangeError for a value out of
// range or in conflict, each naming the argument and the allowed range.

std::string FormatNumber(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == std::floor(d) && std::fabs(d) < 1e15) {
    return std::to_string(static_cast<long long>(d));
  }
  std::ostringstream out;
  out.precision(17);
  out << d;
  return out.str();
}

std::string TypedArrayName(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}

std::string Describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsNumber()) return FormatNumber(v.As<Napi::Number>().DoubleValue());
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.size() > 40) s = s.substr(0, 40) + "...";
    return "'" + s + "'";
  }
  if (v.IsTypedArray()) return TypedArrayName(v.As<Napi::TypedArray>().TypedArrayType());
  if (v.IsArrayBuffer()) return "ArrayBuffer";
  if (v.IsArray()) return "Array";
  if (v.IsFunction()) return "function";
  if (v.IsSymbol()) return "symbol";
  if (v.IsBigInt()) return "bigint";
  return "object";
}

[[noreturn]] void ThrowType(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& msg) {
  throw Napi::RangeError::New(env, msg);
}

double ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, double lo, double hi) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) {
    ThrowType(info.Env(), std::string(name) + " must be a number, got " + Describe(v));
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < lo || d > hi) {
    ThrowRange(info.Env(), std::string(name) + " must be an integer in [" + FormatNumber(lo) + ", " +
                               FormatNumber(hi) + "], got " + FormatNumber(d));
  }
  return d;
}

bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* name, bool fallback) {
  Napi::Value v = info[i];
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) {
    ThrowType(info.Env(), std::string(name) + " must be a boolean, got " + Describe(v));
  }
  return v.As<Napi::Boolean>().Value();
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsString()) {
    ThrowType(info.Env(), std::string(name) + " must be a string, got " + Describe(v));
  }
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.empty()) ThrowRange(info.Env(), std::string(name) + " must be a non-empty string");
  if (s.find('\0') != std::string::npos) {
    ThrowRange(info.Env(), std::string(name) + " must not contain NUL characters");
  }
  return s;
}

SpaceKind ArgSpace(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  if (!v.IsString()) {
    ThrowType(info.Env(), "space must be a string ('l2', 'ip' or 'cosine'), got " + Describe(v));
  }
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "l2") return SpaceKind::kL2;
  if (s == "ip") return SpaceKind::kIp;
  if (s == "cosine") return SpaceKind::kCosine;
  ThrowRange(info.Env(), "space must be one of 'l2', 'ip', 'cosine', got " + Describe(v));
}

template <typename T>
struct View {
  const T* data{nullptr};
  size_t length{0};
};

template <typename T>
View<T> ArgTyped(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type type) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    ThrowType(info.Env(), std::string(name) + " must be a " + TypedArrayName(type) + ", got " + Describe(v));
  }
  auto arr = v.As<Napi::TypedArrayOf<T>>();
  return View<T>{arr.Data(), arr.ElementLength()};
}

std::shared_ptr<Graph> ArgGraph(const Napi::CallbackInfo& info, size_t i = 0) {
  double h = ArgInt(info, i, "handle", 1, kMaxU32);
  std::lock_guard<std::mutex> lock(RegistryMutex());
  auto& map = Registry();
  auto it = map.find(static_cast<uint32_t>(h));
  if (it == map.end()) {
    ThrowRange(info.Env(), "handle " + FormatNumber(h) + " is not an open graph (never created, or already freed)");
  }
  return it->second;
}

size_t RowsOf(Napi::Env env, const View<float>& data, size_t dims, const char* name) {
  if (data.length % dims != 0) {
    ThrowRange(env, std::string(name) + ".length (" + std::to_string(data.length) + ") must be a multiple of dims (" +
                        std::to_string(dims) + ")");
  }
  return data.length / dims;
}

// Filter bitset: bit `label` set means the label may be returned. Uint8Array
// bit order is LSB-first within each byte; Uint32Array bit (label & 31) of
// word (label >> 5). Labels past the end of the bitset are excluded.
struct FilterView {
  const uint8_t* bytes{nullptr};
  const uint32_t* words{nullptr};
  size_t bits{0};
  bool present{false};
};

FilterView ArgFilter(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  FilterView f;
  if (v.IsUndefined() || v.IsNull()) return f;
  if (v.IsTypedArray()) {
    auto t = v.As<Napi::TypedArray>().TypedArrayType();
    if (t == napi_uint8_array) {
      auto a = v.As<Napi::Uint8Array>();
      f.bytes = a.Data();
      f.bits = a.ElementLength() * 8;
      f.present = true;
      return f;
    }
    if (t == napi_uint32_array) {
      auto a = v.As<Napi::Uint32Array>();
      f.words = a.Data();
      f.bits = a.ElementLength() * 32;
      f.present = true;
      return f;
    }
  }
  ThrowType(info.Env(), "filter must be a Uint8Array or Uint32Array bitset (or undefined), got " + Describe(v));
}

class BitsetFilter : public hnswlib::BaseFilterFunctor {
 public:
  explicit BitsetFilter(const FilterView& f) : f_(f) {}
  bool operator()(hnswlib::labeltype label) override {
    if (label >= f_.bits) return false;
    if (f_.bytes != nullptr) return ((f_.bytes[label >> 3] >> (label & 7)) & 1u) != 0;
    return ((f_.words[label >> 5] >> (label & 31)) & 1u) != 0;
  }

 private:
  FilterView f_;
};

// Reproduces searchKnn's rule (keep the best max(ef, k) candidates, stop when
// the nearest unexpanded candidate is farther than the worst kept one and the
// list is full) with a per-call ef, then keeps the k closest.
class EfStopCondition : public hnswlib::BaseSearchStopCondition<float> {
 public:
  EfStopCondition(size_t ef, size_t k) : ef_(std::max(ef, k)), k_(k) {}
  void add_point_to_result(hnswlib::labeltype, const void*, float) override { ++size_; }
  void remove_point_from_result(hnswlib::labeltype, const void*, float) override { --size_; }
  bool should_stop_search(float candidate_dist, float lower_bound) override {
    return candidate_dist > lower_bound && size_ == ef_;
  }
  bool should_consider_candidate(float candidate_dist, float lower_bound) override {
    return size_ < ef_ || lower_bound > candidate_dist;
  }
  bool should_remove_extra() override { return size_ > ef_; }
  // The candidates carry internal ids, not labels (see SearchRows).
  void filter_results(std::vector<std::pair<float, hnswlib::labeltype>>& candidates) override {
    if (candidates.size() > k_) candidates.resize(k_);
  }

 private:
  size_t ef_;
  size_t k_;
  size_t size_{0};
};

// Same normalisation as hnswlib's Python bindings (cosine = ip on unit vectors).
inline void NormalizeInto(const float* src, float* dst, size_t dims) {
  float norm = 0.0f;
  for (size_t j = 0; j < dims; ++j) norm += src[j] * src[j];
  norm = 1.0f / (std::sqrt(norm) + 1e-30f);
  for (size_t j = 0; j < dims; ++j) dst[j] = src[j] * norm;
}

// Inserts one row, holding the insert phase for just this row.
inline void InsertRow(Graph& g, const float* row, uint32_t label, bool replace, float* scratch) {
  if (g.kind == SpaceKind::kCosine) {
    NormalizeInto(row, scratch, g.dims);
    row = scratch;
  }
  PhaseGuard guard(g.phase, PhaseLock::kInsert);
  g.index->addPoint(row, label, replace);
}

// Inserts rows [begin, end) of data in the calling thread.
void InsertRows(Graph& g, const float* data, const uint32_t* labels, size_t begin, size_t end, bool replace) {
  std::vector<float> scratch(g.kind == SpaceKind::kCosine ? g.dims : 0);
  for (size_t i = begin; i < end; ++i) InsertRow(g, data + i * g.dims, labels[i], replace, scratch.data());
}

// Like hnswlib's Python ParallelFor: threads pull row indexes from one atomic
// counter; the first exception stops every thread and is rethrown.
template <typename Fn>
void ParallelFor(size_t n, size_t threads, Fn fn) {
  if (threads <= 1 || n <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i, 0);
    return;
  }
  threads = std::min(threads, n);
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mu;
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (;;) {
        size_t i = next.fetch_add(1);
        if (i >= n) break;
        try {
          fn(i, t);
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mu);
          if (!error) error = std::current_exception();
          next.store(n);  // makes every thread stop at its next fetch
          break;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

void InsertParallel(Graph& g, const float* data, const uint32_t* labels, size_t rows, size_t threads, bool replace) {
  if (threads <= 1) {
    InsertRows(g, data, labels, 0, rows, replace);
    return;
  }
  std::vector<std::vector<float>> scratch(threads, std::vector<float>(g.kind == SpaceKind::kCosine ? g.dims : 0));
  ParallelFor(rows, threads,
              [&](size_t i, size_t t) { InsertRow(g, data + i * g.dims, labels[i], replace, scratch[t].data()); });
}

// One query through hnswlib's own searchKnn, whose unfiltered, no-deletion
// path is the fast "bare bone" loop. searchKnn reads the shared member ef_,
// so the common case (ef unchanged) runs under a shared lock and only a
// change of ef takes the exclusive lock; a search with a per-query ef that
// keeps changing falls back to the stop-condition path, which reads no
// shared state. Writes labels and distances closest first; returns how
// many were found.
size_t SearchOne(Graph& g, const float* row, size_t k, size_t ef, hnswlib::BaseFilterFunctor* fp, uint32_t* labels,
                 float* dist) {
  using Result = std::priority_queue<std::pair<float, hnswlib::labeltype>>;
  Result found;
  bool done = false;
  for (int attempt = 0; attempt < 4 && !done; ++attempt) {
    {
      std::shared_lock<std::shared_mutex> lock(g.ef_mutex);
      if (g.index->ef_ == ef) {
        found = g.index->searchKnn(row, k, fp);
        done = true;
      }
    }
    if (!done) {
      std::unique_lock<std::shared_mutex> lock(g.ef_mutex);
      g.index->setEf(ef);
    }
  }
  if (!done) {
    EfStopCondition stop(ef, k);
    auto closest = g.index->searchStopConditionClosest(row, stop, fp);
    size_t n = std::min(closest.size(), k);
    for (size_t j = 0; j < n; ++j) {
      // searchStopConditionClosest returns hnswlib INTERNAL ids in .second.
      labels[j] = static_cast<uint32_t>(g.index->getExternalLabel(static_cast<hnswlib::tableint>(closest[j].second)));
      dist[j] = closest[j].first;
    }
    return n;
  }
  // searchKnn's queue holds the farthest result on top.
  size_t n = found.size();
  for (size_t j = n; j-- > 0;) {
    labels[j] = static_cast<uint32_t>(found.top().second);
    dist[j] = found.top().first;
    found.pop();
  }
  return n;
}

// Searches nq queries; writes k slots per query (unused slots: kNoLabel and
// +Infinity). Takes the search phase per query.
void SearchRows(Graph& g, const float* queries, size_t nq, size_t k, size_t ef, const FilterView& filter,
                uint32_t* out_labels, float* out_dist, uint32_t* out_counts) {
  std::vector<float> scratch(g.kind == SpaceKind::kCosine ? g.dims : 0);
  BitsetFilter functor(filter);
  hnswlib::BaseFilterFunctor* fp = filter.present ? &functor : nullptr;
  for (size_t q = 0; q < nq; ++q) {
    const float* row = queries + q * g.dims;
    if (g.kind == SpaceKind::kCosine) {
      NormalizeInto(row, scratch.data(), g.dims);
      row = scratch.data();
    }
    PhaseGuard guard(g.phase, PhaseLock::kSearch);
    size_t n = SearchOne(g, row, k, ef, fp, out_labels + q * k, out_dist + q * k);
    for (size_t j = n; j < k; ++j) {
      out_labels[q * k + j] = kNoLabel;
      out_dist[q * k + j] = std::numeric_limits<float>::infinity();
    }
    out_counts[q] = static_cast<uint32_t>(n);
  }
}

std::unique_ptr<hnswlib::SpaceInterface<float>> MakeSpace(SpaceKind kind, size_t dims) {
  if (kind == SpaceKind::kL2) return std::make_unique<hnswlib::L2Space>(dims);
  return std::make_unique<hnswlib::InnerProductSpace>(dims);
}

// Wraps an exported function: hnswlib reports failures as std::runtime_error
// (and allocation failures as std::bad_alloc); turn them into JS Errors.
template <Napi::Value (*Fn)(const Napi::CallbackInfo&)>
Napi::Value Guard(const Napi::CallbackInfo& info) {
  try {
    return Fn(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(info.Env(), "hnswlib: out of memory");
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("hnswlib: ") + e.what());
  }
}

// ---------------------------------------------------------------------------
// Exports.

// create(space, dims, maxElements, M, efConstruction, seed, allowReplaceDeleted) -> handle
Napi::Value Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SpaceKind kind = ArgSpace(info, 0);
  auto dims = static_cast<size_t>(ArgInt(info, 1, "dims", 1, kMaxDims));
  auto max_elements = static_cast<size_t>(ArgInt(info, 2, "maxElements", 1, kMaxU32));
  auto m = static_cast<size_t>(ArgInt(info, 3, "M", 2, kMaxM));
  auto ef_construction = static_cast<size_t>(ArgInt(info, 4, "efConstruction", 1, kMaxEf));
  auto seed = static_cast<size_t>(ArgInt(info, 5, "seed", 0, kMaxU32));
  bool allow_replace = ArgBool(info, 6, "allowReplaceDeleted", false);

  auto g = std::make_shared<Graph>();
  g->kind = kind;
  g->dims = dims;
  g->allowReplaceDeleted = allow_replace;
  g->space = MakeSpace(kind, dims);
  g->index = std::make_unique<hnswlib::HierarchicalNSW<float>>(g->space.get(), max_elements, m, ef_construction, seed,
                                                                allow_replace);
  HugePagesForNew(*g->index);
  g->capacity = g->index->max_elements_;
  return Napi::Number::New(env, Register(std::move(g)));
}

// free(handle) -> boolean (false when the handle was not open)
Napi::Value Free(const Napi::CallbackInfo& info) {
  double h = ArgInt(info, 0, "handle", 1, kMaxU32);
  std::shared_ptr<Graph> dropped;
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    auto& map = Registry();
    auto it = map.find(static_cast<uint32_t>(h));
    if (it == map.end()) return Napi::Boolean::New(info.Env(), false);
    dropped = std::move(it->second);
    map.erase(it);
  }
  // The graph itself is destroyed here, outside the registry lock, or later
  // by whichever in-flight call drops the last reference.
  dropped.reset();
  return Napi::Boolean::New(info.Env(), true);
}

struct AddArgs {
  std::shared_ptr<Graph> graph;
  View<float> data;
  View<uint32_t> labels;
  size_t rows{0};
};

AddArgs ParseAdd(const Napi::CallbackInfo& info) {
  AddArgs a;
  a.graph = ArgGraph(info, 0);
  a.data = ArgTyped<float>(info, 1, "data", napi_float32_array);
  a.labels = ArgTyped<uint32_t>(info, 2, "labels", napi_uint32_array);
  a.rows = RowsOf(info.Env(), a.data, a.graph->dims, "data");
  if (a.labels.length != a.rows) {
    ThrowRange(info.Env(), "labels.length (" + std::to_string(a.labels.length) +
                               ") must equal the number of rows in data (" + std::to_string(a.rows) + ")");
  }
  return a;
}

void CheckReplace(Napi::Env env, const Graph& g, bool replace) {
  if (replace && !g.allowReplaceDeleted) {
    ThrowRange(env, "replaceDeleted is true but the graph was created with allowReplaceDeleted = false");
  }
}

// addPoints(handle, data, labels, replaceDeleted?) -> undefined; synchronous.
Napi::Value AddPoints(const Napi::CallbackInfo& info) {
  AddArgs a = ParseAdd(info);
  bool replace = ArgBool(info, 3, "replaceDeleted", false);
  CheckReplace(info.Env(), *a.graph, replace);
  InsertRows(*a.graph, a.data.data, a.labels.data, 0, a.rows, replace);
  return info.Env().Undefined();
}

class AddWorker : public Napi::AsyncWorker {
 public:
  AddWorker(Napi::Env env, AddArgs args, size_t threads, bool replace, Napi::Object data, Napi::Object labels)
      : Napi::AsyncWorker(env, "vecforge.hnsw.addPointsParallel"),
        deferred_(Napi::Promise::Deferred::New(env)),
        args_(std::move(args)),
        threads_(threads),
        replace_(replace),
        data_ref_(Napi::Persistent(data)),
        labels_ref_(Napi::Persistent(labels)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      InsertParallel(*args_.graph, args_.data.data, args_.labels.data, args_.rows, threads_, replace_);
    } catch (const std::exception& e) {
      SetError(std::string("hnswlib: ") + e.what());
    }
  }
  void OnOK() override { deferred_.Resolve(Env().Undefined()); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  AddArgs args_;
  size_t threads_;
  bool replace_;
  // Keep the typed arrays (and so their memory) alive until Execute is done.
  Napi::ObjectReference data_ref_;
  Napi::ObjectReference labels_ref_;
};

// addPointsParallel(handle, data, labels, numThreads, replaceDeleted?) -> Promise<void>
Napi::Value AddPointsParallel(const Napi::CallbackInfo& info) {
  AddArgs a = ParseAdd(info);
  auto threads = static_cast<size_t>(ArgInt(info, 3, "numThreads", 1, kMaxThreads));
  bool replace = ArgBool(info, 4, "replaceDeleted", false);
  CheckReplace(info.Env(), *a.graph, replace);
  auto* worker = new AddWorker(info.Env(), std::move(a), threads, replace, info[1].As<Napi::Object>(),
                               info[2].As<Napi::Object>());
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

struct SearchArgs {
  std::shared_ptr<Graph> graph;
  View<float> queries;
  size_t nq{0};
  size_t k{0};
  size_t ef{0};
  FilterView filter;
};

SearchArgs ParseSearch(const Napi::CallbackInfo& info) {
  SearchArgs s;
  s.graph = ArgGraph(info, 0);
  s.queries = ArgTyped<float>(info, 1, "queries", napi_float32_array);
  s.nq = RowsOf(info.Env(), s.queries, s.graph->dims, "queries");
  s.k = static_cast<size_t>(ArgInt(info, 2, "k", 1, kMaxK));
  s.ef = static_cast<size_t>(ArgInt(info, 3, "ef", 1, kMaxEf));
  s.filter = ArgFilter(info, 4);
  return s;
}

Napi::Object MakeResult(Napi::Env env, Napi::Uint32Array labels, Napi::Float32Array distances,
                        Napi::Uint32Array counts) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("labels", labels);
  out.Set("distances", distances);
  out.Set("counts", counts);
  return out;
}

// searchKnn(handle, queries, k, ef, filter?) -> { labels, distances, counts }
Napi::Value SearchKnn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SearchArgs s = ParseSearch(info);
  auto labels = Napi::Uint32Array::New(env, s.nq * s.k);
  auto distances = Napi::Float32Array::New(env, s.nq * s.k);
  auto counts = Napi::Uint32Array::New(env, s.nq);
  SearchRows(*s.graph, s.queries.data, s.nq, s.k, s.ef, s.filter, labels.Data(), distances.Data(), counts.Data());
  return MakeResult(env, labels, distances, counts);
}

class SearchWorker : public Napi::AsyncWorker {
 public:
  SearchWorker(Napi::Env env, SearchArgs args, Napi::Object queries, Napi::Value filter)
      : Napi::AsyncWorker(env, "vecforge.hnsw.searchKnnAsync"),
        deferred_(Napi::Promise::Deferred::New(env)),
        args_(std::move(args)),
        queries_ref_(Napi::Persistent(queries)),
        labels_(args_.nq * args_.k),
        distances_(args_.nq * args_.k),
        counts_(args_.nq) {
    if (args_.filter.present) filter_ref_ = Napi::Persistent(filter.As<Napi::Object>());
  }

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    try {
      SearchRows(*args_.graph, args_.queries.data, args_.nq, args_.k, args_.ef, args_.filter, labels_.data(),
                 distances_.data(), counts_.data());
    } catch (const std::exception& e) {
      SetError(std::string("hnswlib: ") + e.what());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    auto labels = Napi::Uint32Array::New(env, labels_.size());
    auto distances = Napi::Float32Array::New(env, distances_.size());
    auto counts = Napi::Uint32Array::New(env, counts_.size());
    if (!labels_.empty()) std::memcpy(labels.Data(), labels_.data(), labels_.size() * sizeof(uint32_t));
    if (!distances_.empty()) std::memcpy(distances.Data(), distances_.data(), distances_.size() * sizeof(float));
    if (!counts_.empty()) std::memcpy(counts.Data(), counts_.data(), counts_.size() * sizeof(uint32_t));
    deferred_.Resolve(MakeResult(env, labels, distances, counts));
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  SearchArgs args_;
  Napi::ObjectReference queries_ref_;
  Napi::ObjectReference filter_ref_;
  std::vector<uint32_t> labels_;
  std::vector<float> distances_;
  std::vector<uint32_t> counts_;
};

// searchKnnAsync(handle, queries, k, ef, filter?) -> Promise<{ labels, distances, counts }>
Napi::Value SearchKnnAsync(const Napi::CallbackInfo& info) {
  SearchArgs s = ParseSearch(info);
  auto* worker = new SearchWorker(info.Env(), std::move(s), info[1].As<Napi::Object>(), info[4]);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// resize(handle, newMaxElements) -> undefined
Napi::Value Resize(const Napi::CallbackInfo& info) {
  auto g = ArgGraph(info, 0);
  auto n = static_cast<size_t>(ArgInt(info, 1, "newMaxElements", 1, kMaxU32));
  ExclusiveGuard guard(g->phase);
  size_t count = g->index->cur_element_count;
  if (n < count) {
    ThrowRange(info.Env(), "newMaxElements (" + std::to_string(n) + ") must be >= the current count (" +
                               std::to_string(count) + ")");
  }
  g->index->resizeIndex(n);
  // realloc may have moved the block to memory that was never advised.
  if (HugePagesWanted()) AdviseHuge(g->index->data_level0_memory_, n * g->index->size_data_per_element_);
  g->capacity = g->index->max_elements_;
  return info.Env().Undefined();
}

Napi::Value GetCurrentCount(const Napi::CallbackInfo& info) {
  auto g = ArgGraph(info, 0);
  return Napi::Number::New(info.Env(), static_cast<double>(g->index->cur_element_count.load()));
}

Napi::Value GetMaxElements(const Napi::CallbackInfo& info) {
  auto g = ArgGraph(info, 0);
  return Napi::Number::New(info.Env(), static_cast<double>(g->capacity.load()));
}

Napi::Value GetDeletedCount(const Napi::CallbackInfo& info) {
  auto g = ArgGraph(info, 0);
  return Napi::Number::New(info.Env(), static_cast<double>(g->index->num_deleted_.load()));
}

// getInfo(handle) -> { space, dims, M, efConstruction, maxElements, count, deleted, allowReplaceDeleted }
Napi::Value GetInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto g = ArgGraph(info, 0);
  Napi::Object out = Napi::Object::New(env);
  out.Set("space", SpaceName(g->kind));
  out.Set("dims", static_cast<double>(g->dims));
  out.Set("M", static_cast<double>(g->index->M_));
  out.Set("efConstruction", static_cast<double>(g->index->ef_construction_));
  out.Set("maxElements", static_cast<double>(g->capacity.load()));
  out.Set("count", static_cast<double>(g->index->cur_element_count.load()));
  out.Set("deleted", static_cast<double>(g->index->num_deleted_.load()));
  out.Set("allowReplaceDeleted", g->allowReplaceDeleted);
  return out;
}

Napi::Value MarkDelete(const Napi::CallbackInfo& info) {
  auto g = ArgGraph(info, 0);
  auto label = static_cast<hnswlib::labeltype>(ArgInt(info, 1, "label", 0, kMaxU32));
  PhaseGuard guard(g->phase, PhaseLock::kInsert);
  g->index->markDelete(label);
  return info.Env().Undefined();
}

Napi::Value UnmarkDelete(const Napi::CallbackInfo& info) {
  auto g = ArgGraph(info, 0);
  auto label = static_cast<hnswlib::labeltype>(ArgInt(info, 1, "label", 0, kMaxU32));
  PhaseGuard guard(g->phase, PhaseLock::kInsert);
  g->index->unmarkDelete(label);
  return info.Env().Undefined();
}

// getVector(handle, label) -> Float32Array (cosine graphs store unit vectors)
Napi::Value GetVector(const Napi::CallbackInfo& info) {
  auto g = ArgGraph(info, 0);
  auto label = static_cast<hnswlib::labeltype>(ArgInt(info, 1, "label", 0, kMaxU32));
  std::vector<float> v;
  {
    PhaseGuard guard(g->phase, PhaseLock::kSearch);
    v = g->index->getDataByLabel<float>(label);
  }
  auto out = Napi::Float32Array::New(info.Env(), v.size());
  if (!v.empty()) std::memcpy(out.Data(), v.data(), v.size() * sizeof(float));
  return out;
}

// save(handle, path) -> undefined; hnswlib's own format (readable by hnswlib-node).
Napi::Value Save(const Napi::CallbackInfo& info) {
  auto g = ArgGraph(info, 0);
  std::string path = ArgString(info, 1, "path");
  {
    // hnswlib's saveIndex never checks its stream, so probe the path first.
    std::ofstream probe(path, std::ios::binary | std::ios::trunc);
    if (!probe.is_open()) throw Napi::Error::New(info.Env(), "cannot open '" + path + "' for writing");
  }
  ExclusiveGuard guard(g->phase);
  g->index->saveIndex(path);
  std::ifstream check(path, std::ios::binary | std::ios::ate);
  if (!check.is_open() || check.tellg() <= 0) {
    throw Napi::Error::New(info.Env(), "writing '" + path + "' failed (file missing or empty after save)");
  }
  return info.Env().Undefined();
}

// The arguments after the source that load, loadBuffer and loadFile share:
// (space, dims, maxElements?, allowReplaceDeleted?, hugePages?) at 1..5.
struct LoadArgs {
  SpaceKind kind;
  size_t dims;
  size_t max_elements;  // 0: the file's
  bool allow_replace;
  bool huge_pages;
};

LoadArgs ArgLoad(const Napi::CallbackInfo& info) {
  LoadArgs a{};
  a.kind = ArgSpace(info, 1);
  a.dims = static_cast<size_t>(ArgInt(info, 2, "dims", 1, kMaxDims));
  if (!info[3].IsUndefined()) a.max_elements = static_cast<size_t>(ArgInt(info, 3, "maxElements", 0, kMaxU32));
  a.allow_replace = ArgBool(info, 4, "allowReplaceDeleted", false);
  a.huge_pages = ArgBool(info, 5, "hugePages", true);
  return a;
}

// load(path, space, dims, maxElements?, allowReplaceDeleted?, hugePages?) -> handle
Napi::Value Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "path");
  const LoadArgs args = ArgLoad(info);
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe.is_open()) throw Napi::Error::New(env, "cannot open '" + path + "' for reading");
  }
  auto g = std::make_shared<Graph>();
  g->kind = args.kind;
  g->dims = args.dims;
  g->allowReplaceDeleted = args.allow_replace;
  g->space = MakeSpace(args.kind, args.dims);
  g->index = std::make_unique<hnswlib::HierarchicalNSW<float>>(g->space.get(), path, false, args.max_elements,
                                                                args.allow_replace);
  if (args.huge_pages) HugePagesForLoaded(*g->index);
  g->capacity = g->index->max_elements_;
  // The file stores its vector size but hnswlib trusts the caller's space.
  size_t file_vector_bytes = g->index->label_offset_ - g->index->offsetData_;
  if (file_vector_bytes != args.dims * sizeof(float)) {
    ThrowRange(env, "dims (" + std::to_string(args.dims) + ") does not match the graph file '" + path + "' (" +
                        std::to_string(file_vector_bytes / sizeof(float)) + " dims)");
  }
  return Napi::Number::New(env, Register(std::move(g)));
}

// SHA-256 as Node's own OpenSSL exports it (Node links OpenSSL and exports
// its symbols to addons). The low-level calls: OpenSSL 3's one-shot SHA256()
// looks the algorithm up again on every call, which costs more than hashing
// a short line. The context is opaque here (OpenSSL's SHA256_CTX is 112
// bytes; this reserves more). Weak: a Node build without these symbols
// still loads this addon, and lineDigests then reports them missing.
// Other compilers (MSVC) get no declarations, and both users of SHA-256
// (lineDigests, loadFile) report it missing; the callers fall back to JS.
#if defined(__GNUC__) || defined(__clang__)
extern "C" {
int SHA256_Init(void* ctx) __attribute__((weak));
int SHA256_Update(void* ctx, const void* data, size_t length) __attribute__((weak));
int SHA256_Final(unsigned char* md, void* ctx) __attribute__((weak));
}
#define VECFORGE_SHA256_SYMBOLS 1
bool HaveSha256() { return SHA256_Init != nullptr && SHA256_Update != nullptr && SHA256_Final != nullptr; }
#else
bool HaveSha256() { return false; }
#endif

// Graph loading without hnswlib's loadIndex. loadIndex reads the file
// through an ifstream whose validation pass costs three lseek calls and a
// buffer refill per element (about 400,000 syscalls for 100,000 elements).
// loadBuffer (bytes already in memory) and loadFile (one sequential read
// that also computes the file's SHA-256) fill hnswlib's own public fields
// the way loadIndex does, from the format saveIndex writes, after a pass
// that checks the structure (sizes, levels, neighbour counts and ids), so
// damaged bytes are refused before the graph is registered.
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

[[noreturn]] void ThrowCorrupt(Napi::Env env, const std::string& why) {
  ThrowRange(env, "the graph bytes are not a graph this build can load: " + why);
}

GraphHeader ReadGraphHeader(Napi::Env env, const uint8_t* data, size_t length, size_t dims) {
  ByteReader r{data, length};
  GraphHeader h;
  size_t count = 0;
  bool ok = r.Pod(h.offset_level0) && r.Pod(h.max_elements) && r.Pod(count) && r.Pod(h.size_data_per_element) &&
            r.Pod(h.label_offset) && r.Pod(h.offset_data) && r.Pod(h.max_level) && r.Pod(h.enter_point) &&
            r.Pod(h.max_m) && r.Pod(h.max_m0) && r.Pod(h.m) && r.Pod(h.mult) && r.Pod(h.ef_construction);
  if (!ok) ThrowCorrupt(env, "the header is cut short");
  h.count = count;
  if (h.max_m == 0 || h.max_m > 0xFFFF || h.max_m0 == 0 || h.max_m0 > 0xFFFF) ThrowCorrupt(env, "neighbour counts out of range");
  const size_t links0 = h.max_m0 * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
  if (h.offset_level0 != 0 || h.offset_data != links0) ThrowCorrupt(env, "unexpected level-0 layout");
  if (h.label_offset != h.offset_data + dims * sizeof(float)) {
    ThrowRange(env, "dims (" + std::to_string(dims) + ") does not match the graph (" +
                        std::to_string(h.label_offset >= h.offset_data ? (h.label_offset - h.offset_data) / sizeof(float) : 0) + " dims)");
  }
  if (h.size_data_per_element != h.label_offset + sizeof(hnswlib::labeltype)) ThrowCorrupt(env, "unexpected element size");
  if (h.count > h.max_elements || h.max_elements > kMaxU32) ThrowCorrupt(env, "element count out of range");
  if (h.count > 0 && (h.enter_point >= h.count || h.max_level < 0 || h.max_level > 64)) ThrowCorrupt(env, "entry point or top level out of range");
  if (!(h.mult > 0.0) || !std::isfinite(h.mult)) ThrowCorrupt(env, "level multiplier out of range");
  return h;
}

// Checks a neighbour list (count in the low 16 bits of its first word, then
// ids) against the list's capacity and the element count.
bool ListOk(const uint8_t* list, size_t capacity, size_t count) {
  unsigned short n = 0;
  std::memcpy(&n, list, sizeof(n));
  if (n > capacity) return false;
  for (size_t k = 0; k < n; ++k) {
    hnswlib::tableint id = 0;
    std::memcpy(&id, list + sizeof(hnswlib::linklistsizeint) + k * sizeof(hnswlib::tableint), sizeof(id));
    if (id >= count) return false;
  }
  return true;
}

// Checks the level-0 block (count elements) and the upper levels (exactly
// `tail_length` bytes) of a graph.
void CheckGraphBody(Napi::Env env, const GraphHeader& h, const uint8_t* level0, const uint8_t* tail, size_t tail_length) {
  for (size_t i = 0; i < h.count; ++i) {
    if (!ListOk(level0 + i * h.size_data_per_element, h.max_m0, h.count)) ThrowCorrupt(env, "a level-0 neighbour list is out of range");
  }
  const size_t links = h.max_m * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
  ByteReader r{tail, tail_length};
  for (size_t i = 0; i < h.count; ++i) {
    unsigned int bytes = 0;
    if (!r.Pod(bytes)) ThrowCorrupt(env, "the upper levels are cut short");
    if (bytes % links != 0 || bytes / links > static_cast<size_t>(h.max_level) || tail_length - r.at < bytes) ThrowCorrupt(env, "an upper-level list is out of range");
    for (size_t l = 0; l < bytes / links; ++l) {
      if (!ListOk(tail + r.at + l * links, h.max_m, h.count)) ThrowCorrupt(env, "an upper-level neighbour list is out of range");
    }
    r.at += bytes;
  }
  if (r.at != tail_length) ThrowCorrupt(env, "bytes after the last element");
}

// Level-0 memory for max_elements: 2 MiB-aligned and advised for huge pages when wanted.
char* AllocLevel0(Napi::Env env, size_t bytes, bool huge_pages) {
  void* level0 = nullptr;
  if (huge_pages && HugePagesWanted() && bytes >= kHugePage) {
    const size_t rounded = (bytes + kHugePage - 1) & ~(kHugePage - 1);
    if (posix_memalign(&level0, kHugePage, rounded) == 0) AdviseHuge(level0, rounded);
    else level0 = nullptr;
  }
  if (level0 == nullptr) level0 = std::malloc(bytes == 0 ? 1 : bytes);
  if (level0 == nullptr) throw Napi::Error::New(env, "not enough memory for the graph's level-0 block");
  return static_cast<char*>(level0);
}

// A checked graph into a registered Graph. Takes ownership of `level0` (its
// first count elements filled, room for max_elements).
uint32_t BuildGraph(Napi::Env env, const GraphHeader& h, char* level0, const uint8_t* tail, SpaceKind kind, size_t dims,
                    size_t max_elements, bool allow_replace) {
  std::unique_ptr<char, decltype(&std::free)> owned(level0, &std::free);
  auto g = std::make_shared<Graph>();
  g->kind = kind;
  g->dims = dims;
  g->allowReplaceDeleted = allow_replace;
  g->space = MakeSpace(kind, dims);
  g->index = std::make_unique<hnswlib::HierarchicalNSW<float>>(g->space.get());
  auto& ix = *g->index;
  ix.data_level0_memory_ = owned.release();  // owned (and freed) by the index from here
  ix.allow_replace_deleted_ = allow_replace;
  ix.offsetLevel0_ = h.offset_level0;
  ix.max_elements_ = max_elements;
  ix.size_data_per_element_ = h.size_data_per_element;
  ix.label_offset_ = h.label_offset;
  ix.offsetData_ = h.offset_data;
  ix.maxlevel_ = h.max_level;
  ix.enterpoint_node_ = h.enter_point;
  ix.maxM_ = h.max_m;
  ix.maxM0_ = h.max_m0;
  ix.M_ = h.m;
  ix.mult_ = h.mult;
  ix.ef_construction_ = h.ef_construction;
  ix.data_size_ = g->space->get_data_size();
  ix.fstdistfunc_ = g->space->get_dist_func();
  ix.dist_func_param_ = g->space->get_dist_func_param();
  ix.size_links_per_element_ = ix.maxM_ * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
  ix.size_links_level0_ = ix.maxM0_ * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
  ix.revSize_ = 1.0 / ix.mult_;
  ix.ef_ = 10;
  // Sized first: hnswlib's destructor frees the lists of the first
  // cur_element_count elements whose level is above 0.
  ix.element_levels_ = std::vector<int>(max_elements);
  ix.linkLists_ = static_cast<char**>(std::calloc(max_elements == 0 ? 1 : max_elements, sizeof(void*)));
  if (ix.linkLists_ == nullptr) throw Napi::Error::New(env, "not enough memory for the graph's link lists");
  std::vector<std::mutex>(max_elements).swap(ix.link_list_locks_);
  std::vector<std::mutex>(hnswlib::HierarchicalNSW<float>::MAX_LABEL_OPERATION_LOCKS).swap(ix.label_op_locks_);
  ix.visited_list_pool_.reset(new hnswlib::VisitedListPool(1, max_elements));
  ix.label_lookup_.reserve(h.count);
  size_t at = 0;
  for (size_t i = 0; i < h.count; ++i) {
    unsigned int list_bytes = 0;
    std::memcpy(&list_bytes, tail + at, sizeof(list_bytes));
    at += sizeof(list_bytes);
    if (list_bytes != 0) {
      char* list = static_cast<char*>(std::malloc(list_bytes));
      if (list == nullptr) throw Napi::Error::New(env, "not enough memory for a link list");
      std::memcpy(list, tail + at, list_bytes);
      ix.linkLists_[i] = list;
      ix.element_levels_[i] = static_cast<int>(list_bytes / ix.size_links_per_element_);
      at += list_bytes;
    }
    // Counted as it goes, so that a failure frees exactly the lists made.
    ix.cur_element_count = i + 1;
    ix.label_lookup_[ix.getExternalLabel(static_cast<hnswlib::tableint>(i))] = static_cast<hnswlib::tableint>(i);
  }
  for (size_t i = 0; i < h.count; ++i) {
    if (ix.isMarkedDeleted(static_cast<hnswlib::tableint>(i))) {
      ix.num_deleted_ += 1;
      if (allow_replace) ix.deleted_elements.insert(static_cast<hnswlib::tableint>(i));
    }
  }
  g->capacity = ix.max_elements_;
  return Register(std::move(g));
}

// loadBuffer(bytes, space, dims, maxElements?, allowReplaceDeleted?, hugePages?) -> handle
// The same graph as load() from the file's bytes already in memory.
Napi::Value LoadBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto bytes = ArgTyped<uint8_t>(info, 0, "bytes", napi_uint8_array);
  const LoadArgs args = ArgLoad(info);
  const GraphHeader h = ReadGraphHeader(env, bytes.data, bytes.length, args.dims);
  const size_t level0_bytes = h.count * h.size_data_per_element;
  if ((bytes.length - kGraphHeaderBytes) / h.size_data_per_element < h.count) ThrowCorrupt(env, "the level-0 block is cut short");
  const uint8_t* level0 = bytes.data + kGraphHeaderBytes;
  const uint8_t* tail = level0 + level0_bytes;
  CheckGraphBody(env, h, level0, tail, bytes.length - kGraphHeaderBytes - level0_bytes);
  const size_t max_elements = args.max_elements < h.count ? h.max_elements : args.max_elements;
  char* memory = AllocLevel0(env, max_elements * h.size_data_per_element, args.huge_pages);
  std::memcpy(memory, level0, level0_bytes);
  return Napi::Number::New(env, BuildGraph(env, h, memory, tail, args.kind, args.dims, max_elements, args.allow_replace));
}

#if defined(VECFORGE_SHA256_SYMBOLS) && defined(VECFORGE_POSIX_FILES)
// Reads exactly `length` bytes at the file's current offset into `out`,
// adding them to the SHA-256 context when there is one.
bool ReadFully(int fd, uint8_t* out, size_t length, void* sha) {
  constexpr size_t kStep = size_t{8} << 20;
  size_t done = 0;
  while (done < length) {
    const ssize_t n = ::read(fd, out + done, std::min(kStep, length - done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (sha != nullptr) SHA256_Update(sha, out + done, static_cast<size_t>(n));
    done += static_cast<size_t>(n);
  }
  return true;
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// loadFile(path, space, dims, maxElements?, allowReplaceDeleted?, hugePages?, sha256?)
//   -> { handle, bytes, sha256 }
// One sequential read of a graph file: the level-0 block lands straight in
// the graph's own memory, every byte goes through SHA-256 on the way (with
// Node's OpenSSL), and the graph is checked and built as loadBuffer does.
// When `sha256` (hex) is given and the file's differs, nothing is built:
// handle 0, with the file's size and SHA-256 for the caller's error.
Napi::Value LoadFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HaveSha256()) ThrowRange(env, "loadFile: this Node build exports no SHA256_Init/Update/Final");
  std::string path = ArgString(info, 0, "path");
  const LoadArgs args = ArgLoad(info);
  std::string expect;
  if (!info[6].IsUndefined()) expect = ArgString(info, 6, "sha256");
  FdCloser file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) throw Napi::Error::New(env, "cannot open '" + path + "' for reading");
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) throw Napi::Error::New(env, "cannot stat '" + path + "'");
  const size_t length = static_cast<size_t>(st.st_size);
  alignas(16) unsigned char sha[256];
  SHA256_Init(sha);
  // Header, then level-0 block into the graph's memory, then the upper levels.
  uint8_t head[kGraphHeaderBytes];
  const bool head_ok = length >= kGraphHeaderBytes && ReadFully(file.fd, head, kGraphHeaderBytes, sha);
  GraphHeader h;
  bool shaped = false;
  size_t level0_bytes = 0;
  std::string header_error;
  if (head_ok) {
    try {
      h = ReadGraphHeader(env, head, kGraphHeaderBytes, args.dims);
      level0_bytes = h.count * h.size_data_per_element;
      shaped = (length - kGraphHeaderBytes) / h.size_data_per_element >= h.count;
    } catch (const Napi::Error& e) {
      if (expect.empty()) throw;
      header_error = e.Message();  // with a checksum to compare, a mismatch is reported first
    }
  }
  const size_t max_elements = !shaped ? 0 : (args.max_elements < h.count ? h.max_elements : args.max_elements);
  char* memory = shaped ? AllocLevel0(env, max_elements * h.size_data_per_element, args.huge_pages) : nullptr;
  std::unique_ptr<char, decltype(&std::free)> owned(memory, &std::free);
  std::vector<uint8_t> rest(shaped ? length - kGraphHeaderBytes - level0_bytes : (head_ok ? length - kGraphHeaderBytes : 0));
  bool read_ok = true;
  if (shaped) read_ok = ReadFully(file.fd, reinterpret_cast<uint8_t*>(memory), level0_bytes, sha);
  if (read_ok && !rest.empty()) read_ok = ReadFully(file.fd, rest.data(), rest.size(), sha);
  unsigned char digest[32];
  SHA256_Final(digest, sha);
  static const char* kHex = "0123456789abcdef";
  std::string hex(64, '0');
  for (size_t i = 0; i < 32; ++i) {
    hex[2 * i] = kHex[digest[i] >> 4];
    hex[2 * i + 1] = kHex[digest[i] & 15];
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("bytes", Napi::Number::New(env, static_cast<double>(length)));
  result.Set("sha256", Napi::String::New(env, hex));
  if (!expect.empty() && (hex != expect || !head_ok || !read_ok)) {
    result.Set("handle", Napi::Number::New(env, 0));
    return result;
  }
  if (!head_ok) ThrowCorrupt(env, "the header is cut short");
  if (!header_error.empty()) ThrowRange(env, header_error);
  if (!read_ok) throw Napi::Error::New(env, "reading '" + path + "' failed or ended early");
  if (!shaped) ThrowCorrupt(env, "the level-0 block is cut short");
  CheckGraphBody(env, h, reinterpret_cast<const uint8_t*>(memory), rest.data(), rest.size());
  result.Set("handle", Napi::Number::New(env, BuildGraph(env, h, owned.release(), rest.data(), args.kind, args.dims, max_elements, args.allow_replace)));
  return result;
}
#else
Napi::Value LoadFile(const Napi::CallbackInfo& info) {
  ThrowRange(info.Env(), "loadFile: this build has no SHA-256 or no POSIX file reads");
}
#endif

// lineDigests(chunk, from, to, digests, ends) -> lines
// The SHA-256 of every line of chunk[from, to) that ends in a newline (the
// line without its "\n", and without a "\r" before it), into digests (32
// bytes each), with the newline's index into ends. Stops when digests or
// ends is full; bytes after the last newline are left. A job's reader calls
// it once per read instead of once per line.
Napi::Value LineDigests(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HaveSha256()) ThrowRange(env, "lineDigests: this Node build exports no SHA256_Init/Update/Final");
#if defined(VECFORGE_SHA256_SYMBOLS)
  auto chunk = ArgTyped<uint8_t>(info, 0, "chunk", napi_uint8_array);
  const double from = ArgInt(info, 1, "from", 0, static_cast<double>(chunk.length));
  const double to = ArgInt(info, 2, "to", from, static_cast<double>(chunk.length));
  auto digests = ArgTyped<uint8_t>(info, 3, "digests", napi_uint8_array);
  auto ends = ArgTyped<int32_t>(info, 4, "ends", napi_int32_array);
  if (chunk.length > static_cast<size_t>(INT32_MAX)) ThrowRange(env, "chunk must be under 2 GiB, got " + std::to_string(chunk.length) + " bytes");
  const size_t capacity = std::min(digests.length / 32, ends.length);
  unsigned char* out = const_cast<unsigned char*>(digests.data);
  int32_t* end_out = const_cast<int32_t*>(ends.data);
  const unsigned char* bytes = chunk.data;
  size_t start = static_cast<size_t>(from);
  const size_t stop = static_cast<size_t>(to);
  size_t n = 0;
  while (n < capacity && start < stop) {
    const void* hit = std::memchr(bytes + start, '\n', stop - start);
    if (hit == nullptr) break;
    const size_t nl = static_cast<size_t>(static_cast<const unsigned char*>(hit) - bytes);
    const size_t e = nl > start && bytes[nl - 1] == '\r' ? nl - 1 : nl;
    alignas(16) unsigned char ctx[256];
    SHA256_Init(ctx);
    SHA256_Update(ctx, bytes + start, e - start);
    SHA256_Final(out + n * 32, ctx);
    end_out[n] = static_cast<int32_t>(nl);
    ++n;
    start = nl + 1;
  }
  return Napi::Number::New(env, static_cast<double>(n));
#endif
}

// matchDigests(known, cursor, digests, count, positions, table)
// For each of `count` digests (8 int32s each) in order, the place of the
// equal known digest, as the job reader's KnownLines.find does one at a
// time: first at cursor[0] (the next expected place), then from
// cursor[0] - cursor[1] up to, not including, cursor[0] + cursor[2], then
// in `table` (open addressing on a digest's first int32, slots hold
// place + 1, 0 is empty; its length a power of two). Found: positions[i] =
// place, and the next line is expected after it; not found: -1, and the
// expected place moves on by one (most likely a changed line). cursor[0]
// is updated.
Napi::Value MatchDigests(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto known = ArgTyped<int32_t>(info, 0, "known", napi_int32_array);
  auto cursor = ArgTyped<int32_t>(info, 1, "cursor", napi_int32_array);
  auto digests = ArgTyped<int32_t>(info, 2, "digests", napi_int32_array);
  const auto count = static_cast<size_t>(ArgInt(info, 3, "count", 0, static_cast<double>(digests.length / 8)));
  auto positions = ArgTyped<int32_t>(info, 4, "positions", napi_int32_array);
  auto table = ArgTyped<int32_t>(info, 5, "table", napi_int32_array);
  if (table.length == 0 || (table.length & (table.length - 1)) != 0) ThrowRange(env, "table.length must be a power of two, got " + std::to_string(table.length));
  if (known.length % 8 != 0) ThrowRange(env, "known.length must be a multiple of 8, got " + std::to_string(known.length));
  if (cursor.length < 3) ThrowRange(env, "cursor must hold 3 values (next, behind, ahead), got " + std::to_string(cursor.length));
  if (positions.length < count) ThrowRange(env, "positions must hold count (" + std::to_string(count) + ") values, got " + std::to_string(positions.length));
  int32_t* state = const_cast<int32_t*>(cursor.data);
  int32_t* out = const_cast<int32_t*>(positions.data);
  const int64_t n = static_cast<int64_t>(known.length / 8);
  const int64_t behind = state[1];
  const int64_t ahead = state[2];
  if (behind < 0 || ahead < 1) ThrowRange(env, "cursor's window (behind, ahead) must be (>= 0, >= 1)");
  int64_t next = state[0];
  auto same = [&](size_t i, int64_t place) {
    return std::memcmp(digests.data + i * 8, known.data + place * 8, 32) == 0;
  };
  for (size_t i = 0; i < count; ++i) {
    int64_t found = -1;
    if (next >= 0 && next < n && same(i, next)) found = next;
    const int64_t from = std::max<int64_t>(0, next - behind);
    const int64_t to = std::min<int64_t>(n, next + ahead);
    for (int64_t j = from; found < 0 && j < to; ++j) {
      if (same(i, j)) found = j;
    }
    const size_t mask = table.length - 1;
    for (size_t h = static_cast<uint32_t>(digests.data[i * 8]) & mask; found < 0 && table.data[h] != 0; h = (h + 1) & mask) {
      const int64_t place = static_cast<int64_t>(table.data[h]) - 1;
      if (place < n && same(i, place)) found = place;
    }
    if (found < 0) {
      out[i] = -1;
      ++next;
    } else {
      out[i] = static_cast<int32_t>(found);
      next = found + 1;
    }
  }
  state[0] = static_cast<int32_t>(std::min<int64_t>(next, INT32_MAX));
  return env.Undefined();
}

// openHandles() -> number of graphs in the process-wide registry
Napi::Value OpenHandles(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  return Napi::Number::New(info.Env(), static_cast<double>(Registry().size()));
}

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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("create", Napi::Function::New<Guard<Create>>(env, "create"));
  exports.Set("free", Napi::Function::New<Guard<Free>>(env, "free"));
  exports.Set("addPoints", Napi::Function::New<Guard<AddPoints>>(env, "addPoints"));
  exports.Set("addPointsParallel", Napi::Function::New<Guard<AddPointsParallel>>(env, "addPointsParallel"));
  exports.Set("searchKnn", Napi::Function::New<Guard<SearchKnn>>(env, "searchKnn"));
  exports.Set("searchKnnAsync", Napi::Function::New<Guard<SearchKnnAsync>>(env, "searchKnnAsync"));
  exports.Set("resize", Napi::Function::New<Guard<Resize>>(env, "resize"));
  exports.Set("getCurrentCount", Napi::Function::New<Guard<GetCurrentCount>>(env, "getCurrentCount"));
  exports.Set("getMaxElements", Napi::Function::New<Guard<GetMaxElements>>(env, "getMaxElements"));
  exports.Set("getDeletedCount", Napi::Function::New<Guard<GetDeletedCount>>(env, "getDeletedCount"));
  exports.Set("getInfo", Napi::Function::New<Guard<GetInfo>>(env, "getInfo"));
  exports.Set("markDelete", Napi::Function::New<Guard<MarkDelete>>(env, "markDelete"));
  exports.Set("unmarkDelete", Napi::Function::New<Guard<UnmarkDelete>>(env, "unmarkDelete"));
  exports.Set("getVector", Napi::Function::New<Guard<GetVector>>(env, "getVector"));
  exports.Set("save", Napi::Function::New<Guard<Save>>(env, "save"));
  exports.Set("load", Napi::Function::New<Guard<Load>>(env, "load"));
  exports.Set("loadBuffer", Napi::Function::New<Guard<LoadBuffer>>(env, "loadBuffer"));
  exports.Set("loadFile", Napi::Function::New<Guard<LoadFile>>(env, "loadFile"));
  exports.Set("sha256", Napi::Boolean::New(env, HaveSha256()));
  exports.Set("projectRows", Napi::Function::New<Guard<ProjectRows>>(env, "projectRows"));
  exports.Set("openHandles", Napi::Function::New<Guard<OpenHandles>>(env, "openHandles"));
  exports.Set("lineDigests", Napi::Function::New<Guard<LineDigests>>(env, "lineDigests"));
  exports.Set("matchDigests", Napi::Function::New<Guard<MatchDigests>>(env, "matchDigests"));
  exports.Set("kNoLabel", Napi::Number::New(env, kNoLabel));
  return exports;
}

}  // namespace

NODE_API_MODULE(vecforge_hnsw, Init)
