// hnsw_search.cc: searchKnn and searchKnnAsync.
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

#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <queue>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "args.h"
#include "exports.h"
#include "registry.h"

namespace vecforge {

namespace {

class BitsetFilter : public hnswlib::BaseFilterFunctor {
 public:
  explicit BitsetFilter(const FilterView& f) : f_(f) {}
  bool operator()(hnswlib::labeltype label) override {
    return FilterAllows(f_, label);
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

}  // namespace

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

// searchKnnAsync(handle, queries, k, ef, filter?) -> Promise<{ labels, distances, counts }>
Napi::Value SearchKnnAsync(const Napi::CallbackInfo& info) {
  SearchArgs s = ParseSearch(info);
  auto* worker = new SearchWorker(info.Env(), std::move(s), info[1].As<Napi::Object>(), info[4]);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// labelScores(handle, queries, labels, offsets, out) -> out: the distance from
// query q (dims floats at q·dims; normalised first on a cosine graph, as a
// search does) to each label in labels[offsets[q], offsets[q + 1]), written
// at the same positions of out (Float32Array); NaN for a label the graph
// does not hold or has marked deleted. One call scores a whole batch.
Napi::Value LabelScores(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto g = ArgGraph(info, 0);
  auto queries = ArgTyped<float>(info, 1, "queries", napi_float32_array);
  auto labels = ArgTyped<uint32_t>(info, 2, "labels", napi_uint32_array);
  auto offsets = ArgTyped<uint32_t>(info, 3, "offsets", napi_uint32_array);
  if (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    ThrowType(env, "out must be a Float32Array, got " + Describe(info[4]));
  }
  auto out_arr = info[4].As<Napi::Float32Array>();
  size_t nq = RowsOf(env, queries, g->dims, "queries");
  if (offsets.length != nq + 1) ThrowRange(env, "offsets must hold queries + 1 = " + FormatNumber(static_cast<double>(nq + 1)) + " entries, got " + FormatNumber(static_cast<double>(offsets.length)));
  if (offsets.data[0] != 0) ThrowRange(env, "offsets[0] must be 0");
  for (size_t q = 0; q < nq; ++q) {
    if (offsets.data[q + 1] < offsets.data[q]) ThrowRange(env, "offsets must not decrease (at " + FormatNumber(static_cast<double>(q + 1)) + ")");
  }
  size_t total = offsets.data[nq];
  if (total > labels.length) ThrowRange(env, "offsets[queries] = " + FormatNumber(static_cast<double>(total)) + " is past labels (length " + FormatNumber(static_cast<double>(labels.length)) + ")");
  if (out_arr.ElementLength() < total) ThrowRange(env, "out must hold at least " + FormatNumber(static_cast<double>(total)) + " values, got " + FormatNumber(static_cast<double>(out_arr.ElementLength())));
  float* out = out_arr.Data();
  std::vector<float> scratch(g->kind == SpaceKind::kCosine ? g->dims : 0);
  auto& index = *g->index;
  for (size_t q = 0; q < nq; ++q) {
    const float* row = queries.data + q * g->dims;
    if (g->kind == SpaceKind::kCosine) {
      NormalizeInto(row, scratch.data(), g->dims);
      row = scratch.data();
    }
    PhaseGuard guard(g->phase, PhaseLock::kSearch);
    for (size_t t = offsets.data[q]; t < offsets.data[q + 1]; ++t) {
      // The search phase excludes inserts and deletes, the only writers of
      // label_lookup_, so it is read here without hnswlib's per-call mutex.
      auto it = index.label_lookup_.find(labels.data[t]);
      out[t] = it != index.label_lookup_.end() && !index.isMarkedDeleted(it->second)
                   ? index.fstdistfunc_(row, index.getDataByInternalId(it->second), index.dist_func_param_)
                   : std::numeric_limits<float>::quiet_NaN();
    }
  }
  return out_arr;
}

}  // namespace vecforge
