// registry.h: a graph (hnswlib index, space, phase lock) and the
// process-wide registry that hands out numeric handles for graphs.
#pragma once

#include <napi.h>

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "hnswlib_include.h"
#include "args.h"
#include "phase_lock.h"

namespace vecforge {

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

// Leaked on purpose (see registry.cc); the map is guarded by RegistryMutex().
std::mutex& RegistryMutex();
std::unordered_map<uint32_t, std::shared_ptr<Graph>>& Registry();

// Registers a graph; returns its handle (never 0, never reused while open).
uint32_t Register(std::shared_ptr<Graph> graph);

// The open graph whose handle is argument i; RangeError when none is open.
std::shared_ptr<Graph> ArgGraph(const Napi::CallbackInfo& info, size_t i = 0);

// The hnswlib space for a kind. Every space is made in registry.cc: hnswlib
// picks its SIMD distance functions in file-static variables of each
// translation unit, so one translation unit makes them all.
std::unique_ptr<hnswlib::SpaceInterface<float>> MakeSpace(SpaceKind kind, size_t dims);

// Cosine = ip on unit vectors, normalised as hnswlib's Python bindings do.
inline void NormalizeInto(const float* src, float* dst, size_t dims) {
  float norm = 0.0f;
  for (size_t j = 0; j < dims; ++j) norm += src[j] * src[j];
  norm = 1.0f / (std::sqrt(norm) + 1e-30f);
  for (size_t j = 0; j < dims; ++j) dst[j] = src[j] * norm;
}

}  // namespace vecforge
