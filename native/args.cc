// args.cc: argument parsing helpers (see args.h).
#include "args.h"

#include <cmath>
#include <sstream>

namespace vecforge {

const char* SpaceName(SpaceKind kind) {
  switch (kind) {
    case SpaceKind::kL2: return "l2";
    case SpaceKind::kIp: return "ip";
    case SpaceKind::kCosine: return "cosine";
  }
  return "?";
}

std::string FormatNumber(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  if (d == std::floor(d) && std::fabs(d) < 1e15) {
    return std::to_string(static_cast<long long>(d));
  }
  std::ostringstream out;
  out.precision(17);
  out << d;
  return out.str();
}

std::string TypedArrayName(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array: return "Int8Array";
    case napi_uint8_array: return "Uint8Array";
    case napi_uint8_clamped_array: return "Uint8ClampedArray";
    case napi_int16_array: return "Int16Array";
    case napi_uint16_array: return "Uint16Array";
    case napi_int32_array: return "Int32Array";
    case napi_uint32_array: return "Uint32Array";
    case napi_float32_array: return "Float32Array";
    case napi_float64_array: return "Float64Array";
    case napi_bigint64_array: return "BigInt64Array";
    case napi_biguint64_array: return "BigUint64Array";
    default: return "TypedArray";
  }
}

std::string Describe(const Napi::Value& v) {
  if (v.IsUndefined()) return "undefined";
  if (v.IsNull()) return "null";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsNumber()) return FormatNumber(v.As<Napi::Number>().DoubleValue());
  if (v.IsString()) {
    std::string s = v.As<Napi::String>().Utf8Value();
    if (s.size() > 40) s = s.substr(0, 40) + "...";
    return "'" + s + "'";
  }
  if (v.IsTypedArray()) return TypedArrayName(v.As<Napi::TypedArray>().TypedArrayType());
  if (v.IsArrayBuffer()) return "ArrayBuffer";
  if (v.IsArray()) return "Array";
  if (v.IsFunction()) return "function";
  if (v.IsSymbol()) return "symbol";
  if (v.IsBigInt()) return "bigint";
  return "object";
}

[[noreturn]] void ThrowType(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}
[[noreturn]] void ThrowRange(Napi::Env env, const std::string& msg) {
  throw Napi::RangeError::New(env, msg);
}

double ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, double lo, double hi) {
  Napi::Value v = info[i];
  if (!v.IsNumber()) {
    ThrowType(info.Env(), std::string(name) + " must be a number, got " + Describe(v));
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < lo || d > hi) {
    ThrowRange(info.Env(), std::string(name) + " must be an integer in [" + FormatNumber(lo) + ", " +
                               FormatNumber(hi) + "], got " + FormatNumber(d));
  }
  return d;
}

bool ArgBool(const Napi::CallbackInfo& info, size_t i, const char* name, bool fallback) {
  Napi::Value v = info[i];
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) {
    ThrowType(info.Env(), std::string(name) + " must be a boolean, got " + Describe(v));
  }
  return v.As<Napi::Boolean>().Value();
}

std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = info[i];
  if (!v.IsString()) {
    ThrowType(info.Env(), std::string(name) + " must be a string, got " + Describe(v));
  }
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s.empty()) ThrowRange(info.Env(), std::string(name) + " must be a non-empty string");
  if (s.find('\0') != std::string::npos) {
    ThrowRange(info.Env(), std::string(name) + " must not contain NUL characters");
  }
  return s;
}

SpaceKind ArgSpace(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  if (!v.IsString()) {
    ThrowType(info.Env(), "space must be a string ('l2', 'ip' or 'cosine'), got " + Describe(v));
  }
  std::string s = v.As<Napi::String>().Utf8Value();
  if (s == "l2") return SpaceKind::kL2;
  if (s == "ip") return SpaceKind::kIp;
  if (s == "cosine") return SpaceKind::kCosine;
  ThrowRange(info.Env(), "space must be one of 'l2', 'ip', 'cosine', got " + Describe(v));
}

size_t RowsOf(Napi::Env env, const View<float>& data, size_t dims, const char* name) {
  if (data.length % dims != 0) {
    ThrowRange(env, std::string(name) + ".length (" + std::to_string(data.length) + ") must be a multiple of dims (" +
                        std::to_string(dims) + ")");
  }
  return data.length / dims;
}

FilterView ArgFilter(const Napi::CallbackInfo& info, size_t i) {
  Napi::Value v = info[i];
  FilterView f;
  if (v.IsUndefined() || v.IsNull()) return f;
  if (v.IsTypedArray()) {
    auto t = v.As<Napi::TypedArray>().TypedArrayType();
    if (t == napi_uint8_array) {
      auto a = v.As<Napi::Uint8Array>();
      f.bytes = a.Data();
      f.bits = a.ElementLength() * 8;
      f.present = true;
      return f;
    }
    if (t == napi_uint32_array) {
      auto a = v.As<Napi::Uint32Array>();
      f.words = a.Data();
      f.bits = a.ElementLength() * 32;
      f.present = true;
      return f;
    }
  }
  ThrowType(info.Env(), "filter must be a Uint8Array or Uint32Array bitset (or undefined), got " + Describe(v));
}

}  // namespace vecforge
