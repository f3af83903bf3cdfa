// hnsw_ops.cc: create, free, inserts (addPoints, addPointsParallel), resize,
// counts, getInfo, markDelete / unmarkDelete and getVector.
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "args.h"
#include "parallel_for.h"
#include "exports.h"
#include "huge_pages.h"
#include "registry.h"

namespace vecforge {

namespace {

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

void InsertParallel(Graph& g, const float* data, const uint32_t* labels, size_t rows, size_t threads, bool replace) {
  if (threads <= 1) {
    InsertRows(g, data, labels, 0, rows, replace);
    return;
  }
  std::vector<std::vector<float>> scratch(threads, std::vector<float>(g.kind == SpaceKind::kCosine ? g.dims : 0));
  vecforge::ParallelFor(rows, threads,
              [&](size_t i, size_t t) { InsertRow(g, data + i * g.dims, labels[i], replace, scratch[t].data()); });
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

}  // namespace

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

// addPoints(handle, data, labels, replaceDeleted?) -> undefined; synchronous.
Napi::Value AddPoints(const Napi::CallbackInfo& info) {
  AddArgs a = ParseAdd(info);
  bool replace = ArgBool(info, 3, "replaceDeleted", false);
  CheckReplace(info.Env(), *a.graph, replace);
  InsertRows(*a.graph, a.data.data, a.labels.data, 0, a.rows, replace);
  return info.Env().Undefined();
}

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

}  // namespace vecforge
