// file_lock.cc: lockFile, a kernel lock on an open file (flock) that the
// kernel releases when the holder dies, however it dies (SIGKILL included),
// and that a zombie no longer holds: its files are closed at exit, before
// its parent reaps it. A job's lock file uses it so that a killed job never
// blocks its own rerun (a pid check alone sees a zombie as alive).
#include <napi.h>

#include <string>

#include "args.h"
#include "exports.h"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/file.h>
#include <cerrno>
#include <cstring>
#define VECFORGE_FLOCK 1
#endif

namespace vecforge {

// lockFile(fd) -> boolean: flock(fd, LOCK_EX | LOCK_NB). true when this open
// file now holds the lock, false when another open file (in this process or
// another) holds it; an Error for anything else. Released by closing fd.
Napi::Value LockFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int fd = static_cast<int>(ArgInt(info, 0, "fd", 0, 2147483647.0));
#if defined(VECFORGE_FLOCK)
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return Napi::Boolean::New(env, true);
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
    throw Napi::Error::New(env, "flock(" + std::to_string(fd) + ") failed: " + std::strerror(errno));
  }
#else
  (void)fd;
  ThrowRange(env, "lockFile: this build has no flock");
#endif
}

}  // namespace vecforge
