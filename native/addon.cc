// vecforge_hnsw: a thin Node-API binding over the hnswlib headers shipped in
// hnswlib-node (include path resolved by binding.gyp, never copied).
//
// Why it exists: hnswlib-node inserts one point at a time from JS arrays on
// one thread. This addon keeps each graph in native memory, in a
// process-global registry keyed by a numeric handle, so every worker thread
// that loads the addon can insert into and search the SAME graph, reading
// Float32Array / Uint32Array data (SharedArrayBuffer-backed or not) in place.
//
// One binding, one .node (build/Release/vecforge_hnsw.node), several
// translation units, one per responsibility:
//   args            argument parsing (TypeError / RangeError naming the argument)
//   registry        graphs and the process-wide handle registry (openHandles)
//   phase_lock.h    the per-graph lock of the concurrency model
//   huge_pages      transparent huge pages for the level-0 block
//   hnsw_ops        create, free, inserts, resize, counts, info, deletes, getVector
//   hnsw_search     searchKnn, searchKnnAsync, labelScores
//   graph_io        save, load, loadBuffer, loadFile
//   graph_format    the graph-file parser and validator behind load / loadBuffer / loadFile
//   sha256          SHA-256 from Node's OpenSSL (weak symbols)
//   line_digests    lineDigests, matchDigests (a job's known lines)
//   project_rows    projectRows (PCA projection on sgemm.h)
//   bert_ops        linearRows, attentionRows, layerNormRows (the BERT kernel's native math)
//   file_lock       lockFile (flock: a job lock the kernel releases at death)
//   bm25_ops        bm25Search (the lexical index's BM25 walk and top k)
// This file registers the exports. The concurrency model (which calls may
// run at once on one graph) is described in phase_lock.h.
//
// The module keeps no per-environment state, so it is context-aware: it can be
// loaded by the main thread and by any number of worker_threads at once.

#include <napi.h>

#include <exception>
#include <new>
#include <string>

#include "args.h"
#include "exports.h"
#include "sha256.h"

namespace {

using namespace vecforge;

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

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("create", Napi::Function::New<Guard<Create>>(env, "create"));
  exports.Set("free", Napi::Function::New<Guard<Free>>(env, "free"));
  exports.Set("addPoints", Napi::Function::New<Guard<AddPoints>>(env, "addPoints"));
  exports.Set("addPointsParallel", Napi::Function::New<Guard<AddPointsParallel>>(env, "addPointsParallel"));
  exports.Set("searchKnn", Napi::Function::New<Guard<SearchKnn>>(env, "searchKnn"));
  exports.Set("searchKnnAsync", Napi::Function::New<Guard<SearchKnnAsync>>(env, "searchKnnAsync"));
  exports.Set("labelScores", Napi::Function::New<Guard<LabelScores>>(env, "labelScores"));
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
  exports.Set("linearRows", Napi::Function::New<Guard<LinearRows>>(env, "linearRows"));
  exports.Set("attentionRows", Napi::Function::New<Guard<AttentionRows>>(env, "attentionRows"));
  exports.Set("layerNormRows", Napi::Function::New<Guard<LayerNormRows>>(env, "layerNormRows"));
  exports.Set("openHandles", Napi::Function::New<Guard<OpenHandles>>(env, "openHandles"));
  exports.Set("lineDigests", Napi::Function::New<Guard<LineDigests>>(env, "lineDigests"));
  exports.Set("matchDigests", Napi::Function::New<Guard<MatchDigests>>(env, "matchDigests"));
  exports.Set("lockFile", Napi::Function::New<Guard<LockFile>>(env, "lockFile"));
  exports.Set("bm25Search", Napi::Function::New<Guard<Bm25Search>>(env, "bm25Search"));
  exports.Set("kNoLabel", Napi::Number::New(env, kNoLabel));
  return exports;
}

}  // namespace

NODE_API_MODULE(vecforge_hnsw, Init)
