// graph_format.cc: the graph-file parser, validator and builder (see graph_format.h).
#include "graph_format.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include "registry.h"

namespace vecforge {

[[noreturn]] void ThrowCorrupt(Napi::Env env, const std::string& why) {
  ThrowRange(env, "the graph bytes are not a graph this build can load: " + why);
}

namespace {

std::string Num(double d) { return FormatNumber(d); }

// hnswlib writes -1 into the unsigned entry point of an empty graph.
constexpr hnswlib::tableint kNoEntryPoint = static_cast<hnswlib::tableint>(-1);
// Above any level a real graph reaches: P(level >= 64) = M^-64 <= 2^-64.
constexpr int kMaxLevel = 64;
// Relative tolerance of mult against 1/ln(M) (libm differences only).
constexpr double kMultTolerance = 1e-6;
// Headroom a load may allocate beyond the file's own elements, in bytes.
constexpr size_t kLoadHeadroomBytes = size_t{64} << 20;

}  // namespace

GraphHeader ReadGraphHeader(Napi::Env env, const uint8_t* data, size_t length, size_t dims, const std::string& what) {
  ByteReader r{data, length};
  GraphHeader h;
  size_t count = 0;
  bool ok = r.Pod(h.offset_level0) && r.Pod(h.max_elements) && r.Pod(count) && r.Pod(h.size_data_per_element) &&
            r.Pod(h.label_offset) && r.Pod(h.offset_data) && r.Pod(h.max_level) && r.Pod(h.enter_point) &&
            r.Pod(h.max_m) && r.Pod(h.max_m0) && r.Pod(h.m) && r.Pod(h.mult) && r.Pod(h.ef_construction);
  if (!ok) ThrowCorrupt(env, "the header is cut short");
  h.count = count;
  if (h.m < 2 || h.m > static_cast<size_t>(kMaxM)) ThrowCorrupt(env, "M (" + Num(static_cast<double>(h.m)) + ") is out of range [2, " + Num(kMaxM) + "]");
  if (h.max_m != h.m) ThrowCorrupt(env, "maxM (" + Num(static_cast<double>(h.max_m)) + ") is not M (" + Num(static_cast<double>(h.m)) + ")");
  if (h.max_m0 != 2 * h.m) ThrowCorrupt(env, "maxM0 (" + Num(static_cast<double>(h.max_m0)) + ") is not 2 × M (" + Num(static_cast<double>(2 * h.m)) + ")");
  const size_t links0 = h.max_m0 * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
  if (h.offset_level0 != 0 || h.offset_data != links0) ThrowCorrupt(env, "unexpected level-0 layout (offsetData is not the level-0 link size maxM0 × 4 + 4)");
  if (h.label_offset != h.offset_data + dims * sizeof(float)) {
    ThrowRange(env, "dims (" + std::to_string(dims) + ") does not match " + what + " (" +
                        std::to_string(h.label_offset >= h.offset_data ? (h.label_offset - h.offset_data) / sizeof(float) : 0) + " dims)");
  }
  if (h.size_data_per_element != h.label_offset + sizeof(hnswlib::labeltype)) ThrowCorrupt(env, "unexpected element size");
  if (h.count > h.max_elements || h.max_elements > kMaxU32) ThrowCorrupt(env, "element count out of range");
  if (h.ef_construction < 1 || h.ef_construction > static_cast<size_t>(kMaxEf)) {
    ThrowCorrupt(env, "efConstruction (" + Num(static_cast<double>(h.ef_construction)) + ") is out of range [1, " + Num(kMaxEf) + "]");
  }
  const double expect_mult = 1.0 / std::log(static_cast<double>(h.m));
  if (!std::isfinite(h.mult) || !(h.mult > 0.0) || std::fabs(h.mult - expect_mult) > kMultTolerance * expect_mult) {
    ThrowCorrupt(env, "level multiplier mult (" + Num(h.mult) + ") is not 1/ln(M) = " + Num(expect_mult));
  }
  if (h.count == 0) {
    if (h.enter_point != kNoEntryPoint || h.max_level != -1) ThrowCorrupt(env, "an empty graph must have entry point -1 and max level -1");
  } else {
    if (h.enter_point >= h.count) ThrowCorrupt(env, "entry point (" + Num(h.enter_point) + ") is not below the element count (" + Num(static_cast<double>(h.count)) + ")");
    if (h.max_level < 0 || h.max_level > kMaxLevel) ThrowCorrupt(env, "max level (" + Num(h.max_level) + ") is out of range [0, " + Num(kMaxLevel) + "]");
  }
  return h;
}

size_t LoadCapacity(const GraphHeader& h, size_t wanted) {
  size_t capacity = wanted < h.count ? h.max_elements : wanted;
  const size_t headroom = std::max(h.count, kLoadHeadroomBytes / h.size_data_per_element);
  capacity = std::min(capacity, h.count + headroom);
  return std::max(capacity, h.count);
}

namespace {

// Checks a neighbour list (count in the low 16 bits of its first word, then
// ids) against the list's capacity and the element count, and, when
// `levels` is given, that every neighbour reaches `level`.
bool ListOk(const uint8_t* list, size_t capacity, size_t count, const std::vector<int>* levels = nullptr, int level = 0) {
  unsigned short n = 0;
  std::memcpy(&n, list, sizeof(n));
  if (n > capacity) return false;
  for (size_t k = 0; k < n; ++k) {
    hnswlib::tableint id = 0;
    std::memcpy(&id, list + sizeof(hnswlib::linklistsizeint) + k * sizeof(hnswlib::tableint), sizeof(id));
    if (id >= count) return false;
    if (levels != nullptr && (*levels)[id] < level) return false;
  }
  return true;
}

}  // namespace

void CheckGraphBody(Napi::Env env, const GraphHeader& h, const uint8_t* level0, const uint8_t* tail, size_t tail_length) {
  for (size_t i = 0; i < h.count; ++i) {
    if (!ListOk(level0 + i * h.size_data_per_element, h.max_m0, h.count)) ThrowCorrupt(env, "a level-0 neighbour list is out of range");
  }
  // Labels: each fits the 32 bits the binding hands out, and no two live
  // elements share one (hnswlib's replace mode may leave a deleted element
  // with the label of a live one; BuildGraph maps the label to the live one).
  std::vector<hnswlib::labeltype> live;
  live.reserve(h.count);
  for (size_t i = 0; i < h.count; ++i) {
    const uint8_t* element = level0 + i * h.size_data_per_element;
    hnswlib::labeltype label = 0;
    std::memcpy(&label, element + h.label_offset, sizeof(label));
    if (label > static_cast<hnswlib::labeltype>(kMaxU32)) ThrowCorrupt(env, "element " + Num(static_cast<double>(i)) + " has label " + Num(static_cast<double>(label)) + ", above 2^32 - 1");
    // hnswlib's DELETE_MARK: bit 0 of the third byte of the level-0 size word.
    if ((element[2] & 0x01) == 0) live.push_back(label);
  }
  std::sort(live.begin(), live.end());
  const auto dup = std::adjacent_find(live.begin(), live.end());
  if (dup != live.end()) ThrowCorrupt(env, "label " + Num(static_cast<double>(*dup)) + " is on two live elements");
  // Upper levels: sizes and levels first, then the lists against the levels.
  const size_t links = h.max_m * sizeof(hnswlib::tableint) + sizeof(hnswlib::linklistsizeint);
  std::vector<int> levels(h.count, 0);
  std::vector<size_t> starts(h.count, 0);
  ByteReader r{tail, tail_length};
  for (size_t i = 0; i < h.count; ++i) {
    unsigned int bytes = 0;
    if (!r.Pod(bytes)) ThrowCorrupt(env, "the upper levels are cut short");
    if (bytes % links != 0 || bytes / links > static_cast<size_t>(h.max_level) || tail_length - r.at < bytes) ThrowCorrupt(env, "an upper-level list is out of range");
    levels[i] = static_cast<int>(bytes / links);
    starts[i] = r.at;
    r.at += bytes;
  }
  if (r.at != tail_length) ThrowCorrupt(env, "bytes after the last element");
  if (h.count > 0 && levels[h.enter_point] != h.max_level) {
    ThrowCorrupt(env, "the entry point (element " + Num(h.enter_point) + ") has level " + Num(levels[h.enter_point]) + ", not the max level " + Num(h.max_level));
  }
  for (size_t i = 0; i < h.count; ++i) {
    for (int l = 1; l <= levels[i]; ++l) {
      if (!ListOk(tail + starts[i] + static_cast<size_t>(l - 1) * links, h.max_m, h.count, &levels, l)) {
        ThrowCorrupt(env, "an upper-level neighbour list is out of range (element " + Num(static_cast<double>(i)) + ", level " + Num(l) + ")");
      }
    }
  }
}

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
    // A label on a live element and a deleted one (hnswlib's replace mode)
    // maps to the live one; CheckGraphBody refused two live ones.
    const auto id = static_cast<hnswlib::tableint>(i);
    auto [slot, fresh] = ix.label_lookup_.emplace(ix.getExternalLabel(id), id);
    if (!fresh && !ix.isMarkedDeleted(id)) slot->second = id;
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

}  // namespace vecforge
