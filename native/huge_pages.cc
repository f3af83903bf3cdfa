// huge_pages.cc: transparent huge pages for the level-0 block (see huge_pages.h).
#include "huge_pages.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace vecforge {

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

}  // namespace vecforge
