// registry.cc: the process-wide graph registry, and openHandles.
#include "registry.h"

#include "exports.h"

namespace vecforge {

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

std::shared_ptr<Graph> ArgGraph(const Napi::CallbackInfo& info, size_t i) {
  double h = ArgInt(info, i, "handle", 1, kMaxU32);
  std::lock_guard<std::mutex> lock(RegistryMutex());
  auto& map = Registry();
  auto it = map.find(static_cast<uint32_t>(h));
  if (it == map.end()) {
    ThrowRange(info.Env(), "handle " + FormatNumber(h) + " is not an open graph (never created, or already freed)");
  }
  return it->second;
}

std::unique_ptr<hnswlib::SpaceInterface<float>> MakeSpace(SpaceKind kind, size_t dims) {
  if (kind == SpaceKind::kL2) return std::make_unique<hnswlib::L2Space>(dims);
  return std::make_unique<hnswlib::InnerProductSpace>(dims);
}

// openHandles() -> number of graphs in the process-wide registry
Napi::Value OpenHandles(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  return Napi::Number::New(info.Env(), static_cast<double>(Registry().size()));
}

}  // namespace vecforge
