// phase_lock.h: the per-graph lock of the concurrency model.
//
// Concurrency model (per graph, one PhaseLock with three modes):
//   - INSERT phase, shared among inserters: addPoints, addPointsParallel,
//     markDelete, unmarkDelete. hnswlib's addPoint is thread-safe against
//     other addPoint calls (per-element link locks, label locks), as used by
//     hnswlib's Python bindings' ParallelFor.
//   - SEARCH phase, shared among searchers: searchKnn(Async), getVector,
//     labelScores.
//     Concurrent searches are safe in hnswlib.
//   - EXCLUSIVE: resize (reallocates every buffer) and save (one consistent
//     snapshot).
//   hnswlib's searches are NOT safe while inserts run (they read link lists
//   without locks: nmslib/hnswlib#29, #100, #562), which is why a plain
//   shared_mutex with inserts and searches both "shared" is not enough: the
//   two shared phases exclude each other. The lock is taken per row / per
//   query, not per call, and hands over fairly (a waiting phase gets the next
//   turn), so a long insert batch delays a search by about one insert and a
//   long query batch cannot starve inserters.
//   - The registry holds std::shared_ptr<Graph>; every call copies the
//     pointer before it unlocks the registry, so free(handle) while another
//     thread still uses the graph only drops the registry's reference and the
//     graph dies when the last in-flight call finishes.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>

namespace vecforge {

// Two shared phases that exclude each other, plus an exclusive mode that
// excludes both (see the concurrency model above). Exclusive requests block
// new shared entries (resize must not starve). When one phase drains while the
// other waits, the waiters at that moment get a quota of entries, and new
// arrivals of the drained phase wait behind them.
class PhaseLock {
 public:
  enum Phase { kSearch = 0, kInsert = 1 };

  void LockShared(Phase g) {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_[g];
    cv_.wait(lock, [&] { return CanEnter(g); });
    --waiting_[g];
    if (waiting_[Other(g)] > 0 && quota_[g] > 0) --quota_[g];
    ++active_[g];
  }

  void UnlockShared(Phase g) {
    std::lock_guard<std::mutex> lock(mu_);
    if (--active_[g] == 0) {
      Phase o = Other(g);
      if (waiting_[o] > 0) {
        quota_[o] = waiting_[o];
        quota_[g] = 0;
      }
      cv_.notify_all();
    }
  }

  void Lock() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_exclusive_;
    cv_.wait(lock, [&] { return !exclusive_ && active_[kSearch] == 0 && active_[kInsert] == 0; });
    --waiting_exclusive_;
    exclusive_ = true;
  }

  void Unlock() {
    std::lock_guard<std::mutex> lock(mu_);
    exclusive_ = false;
    // Both phases may have queued up behind the exclusive holder: searches go first.
    if (waiting_[kSearch] > 0 && waiting_[kInsert] > 0) {
      quota_[kSearch] = waiting_[kSearch];
      quota_[kInsert] = 0;
    }
    cv_.notify_all();
  }

 private:
  static Phase Other(Phase g) { return g == kSearch ? kInsert : kSearch; }
  bool CanEnter(Phase g) const {
    if (exclusive_ || waiting_exclusive_ > 0) return false;
    Phase o = Other(g);
    if (active_[o] > 0) return false;
    if (waiting_[o] == 0) return true;
    return quota_[g] > 0;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  size_t active_[2]{0, 0};
  size_t waiting_[2]{0, 0};
  size_t quota_[2]{0, 0};
  size_t waiting_exclusive_{0};
  bool exclusive_{false};
};

class PhaseGuard {
 public:
  PhaseGuard(PhaseLock& lock, PhaseLock::Phase phase) : lock_(lock), phase_(phase) { lock_.LockShared(phase_); }
  ~PhaseGuard() { lock_.UnlockShared(phase_); }
  PhaseGuard(const PhaseGuard&) = delete;
  PhaseGuard& operator=(const PhaseGuard&) = delete;

 private:
  PhaseLock& lock_;
  PhaseLock::Phase phase_;
};

class ExclusiveGuard {
 public:
  explicit ExclusiveGuard(PhaseLock& lock) : lock_(lock) { lock_.Lock(); }
  ~ExclusiveGuard() { lock_.Unlock(); }
  ExclusiveGuard(const ExclusiveGuard&) = delete;
  ExclusiveGuard& operator=(const ExclusiveGuard&) = delete;

 private:
  PhaseLock& lock_;
};

}  // namespace vecforge
