// huge_pages.h: transparent huge pages for a graph's level-0 block.
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
#pragma once

#include <napi.h>

#include <cstddef>

#include "hnswlib_include.h"

namespace vecforge {

constexpr size_t kHugePage = size_t{2} << 20;

// Whether to ask for huge pages: Linux with MADV_HUGEPAGE, unless VECFORGE_HUGEPAGES=0.
bool HugePagesWanted();

// Advises the whole pages inside [p, p + bytes); false when nothing was advised.
bool AdviseHuge(void* p, size_t bytes);

// A new, still untouched graph: advise its block in place.
void HugePagesForNew(hnswlib::HierarchicalNSW<float>& index);

// A loaded graph: move its block into advised memory (before it is registered).
void HugePagesForLoaded(hnswlib::HierarchicalNSW<float>& index);

// Level-0 memory for max_elements: 2 MiB-aligned and advised for huge pages when wanted.
char* AllocLevel0(Napi::Env env, size_t bytes, bool huge_pages);

}  // namespace vecforge
