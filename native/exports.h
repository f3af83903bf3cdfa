// exports.h: the functions native/addon.cc registers, by file.
#pragma once

#include <napi.h>

namespace vecforge {

// hnsw_ops.cc
Napi::Value Create(const Napi::CallbackInfo& info);
Napi::Value Free(const Napi::CallbackInfo& info);
Napi::Value AddPoints(const Napi::CallbackInfo& info);
Napi::Value AddPointsParallel(const Napi::CallbackInfo& info);
Napi::Value Resize(const Napi::CallbackInfo& info);
Napi::Value GetCurrentCount(const Napi::CallbackInfo& info);
Napi::Value GetMaxElements(const Napi::CallbackInfo& info);
Napi::Value GetDeletedCount(const Napi::CallbackInfo& info);
Napi::Value GetInfo(const Napi::CallbackInfo& info);
Napi::Value MarkDelete(const Napi::CallbackInfo& info);
Napi::Value UnmarkDelete(const Napi::CallbackInfo& info);
Napi::Value GetVector(const Napi::CallbackInfo& info);

// hnsw_search.cc
Napi::Value SearchKnn(const Napi::CallbackInfo& info);
Napi::Value SearchKnnAsync(const Napi::CallbackInfo& info);
Napi::Value LabelScores(const Napi::CallbackInfo& info);

// graph_io.cc
Napi::Value Save(const Napi::CallbackInfo& info);
Napi::Value Load(const Napi::CallbackInfo& info);
Napi::Value LoadBuffer(const Napi::CallbackInfo& info);
Napi::Value LoadFile(const Napi::CallbackInfo& info);

// registry.cc
Napi::Value OpenHandles(const Napi::CallbackInfo& info);

// line_digests.cc
Napi::Value LineDigests(const Napi::CallbackInfo& info);
Napi::Value MatchDigests(const Napi::CallbackInfo& info);

// file_lock.cc
Napi::Value LockFile(const Napi::CallbackInfo& info);

// project_rows.cc
Napi::Value ProjectRows(const Napi::CallbackInfo& info);

// bert_ops.cc
Napi::Value LinearRows(const Napi::CallbackInfo& info);
Napi::Value AttentionRows(const Napi::CallbackInfo& info);
Napi::Value LayerNormRows(const Napi::CallbackInfo& info);

// bm25_ops.cc
Napi::Value Bm25Search(const Napi::CallbackInfo& info);

}  // namespace vecforge
