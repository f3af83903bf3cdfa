// args.h: argument parsing for the exports. TypeError for a wrong type,
// RangeError for a value out of range or in conflict, each naming the
// argument and the allowed range.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace vecforge {

constexpr uint32_t kNoLabel = 0xFFFFFFFFu;
constexpr double kMaxU32 = 4294967295.0;
constexpr double kMaxDims = 65536.0;
constexpr double kMaxM = 2048.0;
constexpr double kMaxEf = 1048576.0;
constexpr double kMaxK = 65536.0;
constexpr double kMaxThreads = 1024.0;

enum class SpaceKind { kL2, kIp, kCosine };

const char* SpaceName(SpaceKind kind);

std::string FormatNumber(double d);
std::string TypedArrayName(napi_typedarray_type t);
std::string Describe(const Napi::Value& v);

[[noreturn]] void ThrowType(Napi::Env env, const std::string& msg);
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& msg);

double ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, double lo, double hi);
bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* name, bool fallback);
std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name);
SpaceKind ArgSpace(const Napi::CallbackInfo& info, size_t i);

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

// The number of dims-wide rows in data; RangeError when data.length is not a multiple of dims.
size_t RowsOf(Napi::Env env, const View<float>& data, size_t dims, const char* name);

// Filter bitset: bit `label` set means the label may be returned. Uint8Array
// bit order is LSB-first within each byte; Uint32Array bit (label & 31) of
// word (label >> 5). Labels past the end of the bitset are excluded.
struct FilterView {
  const uint8_t* bytes{nullptr};
  const uint32_t* words{nullptr};
  size_t bits{0};
  bool present{false};
};

FilterView ArgFilter(const Napi::CallbackInfo& info, size_t i);

// Whether a present filter lets `label` through (bit set, label within the bitset).
inline bool FilterAllows(const FilterView& f, uint64_t label) {
  if (label >= f.bits) return false;
  if (f.bytes != nullptr) return ((f.bytes[label >> 3] >> (label & 7)) & 1u) != 0;
  return ((f.words[label >> 5] >> (label & 31)) & 1u) != 0;
}

}  // namespace vecforge
