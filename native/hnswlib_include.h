// hnswlib_include.h: the hnswlib headers (from hnswlib-node, include path in
// binding.gyp), with their warnings kept out of the build log.
#pragma once

// hnswlib is third-party code compiled with our flags; keep its warnings
// (unused variables, unsigned < 0 checks, GCC's AVX-512 intrinsics) out of
// every `npm ci` log.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-variable"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <hnswlib/hnswlib.h>
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
