// ParallelFor, as hnswlib's Python bindings write it: `threads` std::threads
// pull indexes from one atomic counter; the first exception stops every
// thread and is rethrown in the caller. Shared by the addon (hnsw_ops.cc)
// and the native baseline (bench/src/native/hnsw_bench.cpp), so both insert
// the same way.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace vecforge {

// Calls fn(i, t) for every i in [0, n), t being the calling thread's index
// in [0, threads); inline when threads or n is at most 1.
template <typename Fn>
void ParallelFor(size_t n, size_t threads, Fn fn) {
  if (threads <= 1 || n <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i, 0);
    return;
  }
  threads = std::min(threads, n);
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mu;
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (;;) {
        size_t i = next.fetch_add(1);
        if (i >= n) break;
        try {
          fn(i, t);
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mu);
          if (!error) error = std::current_exception();
          next.store(n);  // makes every thread stop at its next fetch
          break;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace vecforge
