// graph_io.cc: save, load, loadBuffer and loadFile.
#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "exports.h"
#include "graph_format.h"
#include "huge_pages.h"
#include "registry.h"
#include "sha256.h"

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#define VECFORGE_POSIX_FILES 1
#endif

namespace vecforge {

namespace {


// The arguments after the source that load, loadBuffer and loadFile share:
// (space, dims, maxElements?, allowReplaceDeleted?, hugePages?) at 1..5.
struct LoadArgs {
  SpaceKind kind;
  size_t dims;
  size_t max_elements;  // 0: the file's
  bool allow_replace;
  bool huge_pages;
};

LoadArgs ArgLoad(const Napi::CallbackInfo& info) {
  LoadArgs a{};
  a.kind = ArgSpace(info, 1);
  a.dims = static_cast<size_t>(ArgInt(info, 2, "dims", 1, kMaxDims));
  if (!info[3].IsUndefined()) a.max_elements = static_cast<size_t>(ArgInt(info, 3, "maxElements", 0, kMaxU32));
  a.allow_replace = ArgBool(info, 4, "allowReplaceDeleted", false);
  a.huge_pages = ArgBool(info, 5, "hugePages", true);
  return a;
}

}  // namespace

// save(handle, path) -> undefined; hnswlib's own format (readable by hnswlib-node).
Napi::Value Save(const Napi::CallbackInfo& info) {
  auto g = ArgGraph(info, 0);
  std::string path = ArgString(info, 1, "path");
  {
    // hnswlib's saveIndex never checks its stream, so probe the path first.
    std::ofstream probe(path, std::ios::binary | std::ios::trunc);
    if (!probe.is_open()) throw Napi::Error::New(info.Env(), "cannot open '" + path + "' for writing");
  }
  ExclusiveGuard guard(g->phase);
  g->index->saveIndex(path);
  std::ifstream check(path, std::ios::binary | std::ios::ate);
  if (!check.is_open() || check.tellg() <= 0) {
    throw Napi::Error::New(info.Env(), "writing '" + path + "' failed (file missing or empty after save)");
  }
  return info.Env().Undefined();
}

// load(path, space, dims, maxElements?, allowReplaceDeleted?, hugePages?) -> handle
// The same graph as loadBuffer, read from the file in one pass without a
// second copy of the level-0 block (it lands in the graph's own memory).
// Never through hnswlib's loadIndex, which trusts every byte of the file:
// the header and body get loadBuffer's checks before a graph is built.
Napi::Value Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = ArgString(info, 0, "path");
  const LoadArgs args = ArgLoad(info);
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in.is_open()) throw Napi::Error::New(env, "cannot open '" + path + "' for reading");
  const std::streamoff end = in.tellg();
  if (end < 0) throw Napi::Error::New(env, "cannot read '" + path + "'");
  const size_t length = static_cast<size_t>(end);
  in.seekg(0);
  auto read = [&](void* out, size_t bytes) {
    constexpr size_t kStep = size_t{1} << 30;
    for (size_t done = 0; done < bytes;) {
      const size_t step = std::min(kStep, bytes - done);
      if (!in.read(static_cast<char*>(out) + done, static_cast<std::streamsize>(step))) {
        throw Napi::Error::New(env, "reading '" + path + "' failed or ended early");
      }
      done += step;
    }
  };
  uint8_t head[kGraphHeaderBytes];
  if (length < kGraphHeaderBytes) ThrowCorrupt(env, "the header is cut short");
  read(head, kGraphHeaderBytes);
  const GraphHeader h = ReadGraphHeader(env, head, kGraphHeaderBytes, args.dims, "the graph file '" + path + "'");
  if ((length - kGraphHeaderBytes) / h.size_data_per_element < h.count) ThrowCorrupt(env, "the level-0 block is cut short");
  const size_t level0_bytes = h.count * h.size_data_per_element;
  const size_t max_elements = LoadCapacity(h, args.max_elements);
  std::unique_ptr<char, decltype(&std::free)> memory(AllocLevel0(env, max_elements * h.size_data_per_element, args.huge_pages), &std::free);
  read(memory.get(), level0_bytes);
  std::vector<uint8_t> rest(length - kGraphHeaderBytes - level0_bytes);
  read(rest.data(), rest.size());
  CheckGraphBody(env, h, reinterpret_cast<const uint8_t*>(memory.get()), rest.data(), rest.size());
  return Napi::Number::New(env, BuildGraph(env, h, memory.release(), rest.data(), args.kind, args.dims, max_elements, args.allow_replace));
}

// loadBuffer(bytes, space, dims, maxElements?, allowReplaceDeleted?, hugePages?) -> handle
// The same graph as load() from the file's bytes already in memory.
Napi::Value LoadBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto bytes = ArgTyped<uint8_t>(info, 0, "bytes", napi_uint8_array);
  const LoadArgs args = ArgLoad(info);
  const GraphHeader h = ReadGraphHeader(env, bytes.data, bytes.length, args.dims);
  const size_t level0_bytes = h.count * h.size_data_per_element;
  if ((bytes.length - kGraphHeaderBytes) / h.size_data_per_element < h.count) ThrowCorrupt(env, "the level-0 block is cut short");
  const uint8_t* level0 = bytes.data + kGraphHeaderBytes;
  const uint8_t* tail = level0 + level0_bytes;
  CheckGraphBody(env, h, level0, tail, bytes.length - kGraphHeaderBytes - level0_bytes);
  const size_t max_elements = LoadCapacity(h, args.max_elements);
  char* memory = AllocLevel0(env, max_elements * h.size_data_per_element, args.huge_pages);
  std::memcpy(memory, level0, level0_bytes);
  return Napi::Number::New(env, BuildGraph(env, h, memory, tail, args.kind, args.dims, max_elements, args.allow_replace));
}

#if defined(VECFORGE_SHA256_SYMBOLS) && defined(VECFORGE_POSIX_FILES)
// Reads exactly `length` bytes at the file's current offset into `out`,
// adding them to the SHA-256 context when there is one.
bool ReadFully(int fd, uint8_t* out, size_t length, void* sha) {
  constexpr size_t kStep = size_t{8} << 20;
  size_t done = 0;
  while (done < length) {
    const ssize_t n = ::read(fd, out + done, std::min(kStep, length - done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    if (sha != nullptr) SHA256_Update(sha, out + done, static_cast<size_t>(n));
    done += static_cast<size_t>(n);
  }
  return true;
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// loadFile(path, space, dims, maxElements?, allowReplaceDeleted?, hugePages?, sha256?)
//   -> { handle, bytes, sha256 }
// One sequential read of a graph file: the level-0 block lands straight in
// the graph's own memory, every byte goes through SHA-256 on the way (with
// Node's OpenSSL), and the graph is checked and built as loadBuffer does.
// When `sha256` (hex) is given and the file's differs, nothing is built:
// handle 0, with the file's size and SHA-256 for the caller's error.
Napi::Value LoadFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!HaveSha256()) ThrowRange(env, "loadFile: this Node build exports no SHA256_Init/Update/Final");
  std::string path = ArgString(info, 0, "path");
  const LoadArgs args = ArgLoad(info);
  std::string expect;
  if (!info[6].IsUndefined()) expect = ArgString(info, 6, "sha256");
  FdCloser file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) throw Napi::Error::New(env, "cannot open '" + path + "' for reading");
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) throw Napi::Error::New(env, "cannot stat '" + path + "'");
  const size_t length = static_cast<size_t>(st.st_size);
  alignas(16) unsigned char sha[256];
  SHA256_Init(sha);
  // Header, then level-0 block into the graph's memory, then the upper levels.
  uint8_t head[kGraphHeaderBytes];
  const bool head_ok = length >= kGraphHeaderBytes && ReadFully(file.fd, head, kGraphHeaderBytes, sha);
  GraphHeader h;
  bool shaped = false;
  size_t level0_bytes = 0;
  std::string header_error;
  if (head_ok) {
    try {
      h = ReadGraphHeader(env, head, kGraphHeaderBytes, args.dims);
      level0_bytes = h.count * h.size_data_per_element;
      shaped = (length - kGraphHeaderBytes) / h.size_data_per_element >= h.count;
    } catch (const Napi::Error& e) {
      if (expect.empty()) throw;
      header_error = e.Message();  // with a checksum to compare, a mismatch is reported first
    }
  }
  const size_t max_elements = !shaped ? 0 : LoadCapacity(h, args.max_elements);
  char* memory = shaped ? AllocLevel0(env, max_elements * h.size_data_per_element, args.huge_pages) : nullptr;
  std::unique_ptr<char, decltype(&std::free)> owned(memory, &std::free);
  std::vector<uint8_t> rest(shaped ? length - kGraphHeaderBytes - level0_bytes : (head_ok ? length - kGraphHeaderBytes : 0));
  bool read_ok = true;
  if (shaped) read_ok = ReadFully(file.fd, reinterpret_cast<uint8_t*>(memory), level0_bytes, sha);
  if (read_ok && !rest.empty()) read_ok = ReadFully(file.fd, rest.data(), rest.size(), sha);
  unsigned char digest[32];
  SHA256_Final(digest, sha);
  const std::string hex = Sha256Hex(digest);
  Napi::Object result = Napi::Object::New(env);
  result.Set("bytes", Napi::Number::New(env, static_cast<double>(length)));
  result.Set("sha256", Napi::String::New(env, hex));
  if (!expect.empty() && (hex != expect || !head_ok || !read_ok)) {
    result.Set("handle", Napi::Number::New(env, 0));
    return result;
  }
  if (!head_ok) ThrowCorrupt(env, "the header is cut short");
  if (!header_error.empty()) ThrowRange(env, header_error);
  if (!read_ok) throw Napi::Error::New(env, "reading '" + path + "' failed or ended early");
  if (!shaped) ThrowCorrupt(env, "the level-0 block is cut short");
  CheckGraphBody(env, h, reinterpret_cast<const uint8_t*>(memory), rest.data(), rest.size());
  result.Set("handle", Napi::Number::New(env, BuildGraph(env, h, owned.release(), rest.data(), args.kind, args.dims, max_elements, args.allow_replace)));
  return result;
}
#else
Napi::Value LoadFile(const Napi::CallbackInfo& info) {
  ThrowRange(info.Env(), "loadFile: this build has no SHA-256 or no POSIX file reads");
}
#endif

}  // namespace vecforge
