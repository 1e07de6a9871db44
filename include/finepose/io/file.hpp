#pragma once
// Whole-file reads and writes. Writes go to a temporary sibling first and are
// renamed into place, so a crash or an interrupted run never leaves a
// half-written model or result where the previous good file was.
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include "finepose/core/error.hpp"

namespace finepose {
namespace io {

// Largest file read_file accepts; beyond this something is wrong (or it is not ours).
constexpr std::uint64_t kMaxFileBytes = std::uint64_t(16) << 30;

// Reads a whole file into `Bytes` (a vector of bytes or a string).
template <class Bytes>
inline Bytes read_whole_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail_io("cannot open '", path, "' for reading: ", std::strerror(errno));
  struct Closer {
    std::FILE* f;
    ~Closer() { std::fclose(f); }
  } closer{f};
  if (std::fseek(f, 0, SEEK_END) != 0) fail_io("cannot seek in '", path, "': ", std::strerror(errno));
  long long size = ftello(f);
  if (size < 0) fail("cannot tell the size of '", path, "' (is it a directory or a pipe?)");
  if (std::uint64_t(size) > kMaxFileBytes)
    fail("'", path, "' is ", size, " bytes, more than the ", kMaxFileBytes, "-byte limit");
  if (std::fseek(f, 0, SEEK_SET) != 0) fail_io("cannot seek in '", path, "': ", std::strerror(errno));
  Bytes bytes(static_cast<std::size_t>(size), 0);
  std::size_t got = bytes.empty() ? 0 : std::fread(&bytes[0], 1, bytes.size(), f);
  if (got != bytes.size()) fail_io("short read of '", path, "': got ", got, " of ", size, " bytes");
  return bytes;
}

inline std::vector<std::uint8_t> read_file(const std::string& path) { return read_whole_file<std::vector<std::uint8_t>>(path); }

// The same bytes as a string, read in place (no second copy of a large text file).
inline std::string read_text_file(const std::string& path) { return read_whole_file<std::string>(path); }

// A temporary sibling of `path` ("path.tmp.PID.N", or with `suffix` appended
// for tools that go by the extension), unique per process and call, so
// concurrent writers of one path never share a temporary.
inline std::string temporary_sibling(const std::string& path, const std::string& suffix = "") {
  static std::atomic<unsigned> counter{0};
  return path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++) + suffix;
}

// A file written piece by piece that appears under its name only when
// commit() succeeds; until then (and if the writer is destroyed without
// commit, e.g. by an exception) the previous file at `path` is untouched.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path) : path_(std::move(path)), tmp_(temporary_sibling(path_)) {
    f_ = std::fopen(tmp_.c_str(), "wb");
    if (!f_) fail_io("cannot open '", tmp_, "' for writing: ", std::strerror(errno));
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (f_) std::fclose(f_);
    if (!committed_) std::remove(tmp_.c_str());
  }

  void write(const void* data, std::size_t n) {
    FINEPOSE_CHECK(f_, "'", path_, "' is already closed");
    if (n && std::fwrite(data, 1, n, f_) != n) fail_io("cannot write to '", path_, "': ", std::strerror(errno), " (disk full?)");
    bytes_ += n;
  }
  void write(const std::string& s) { write(s.data(), s.size()); }
  void write(const std::vector<std::uint8_t>& b) { write(b.data(), b.size()); }
  std::uint64_t bytes() const { return bytes_; }
  const std::string& path() const { return path_; }

  // Flush, close and rename into place.
  void commit() {
    FINEPOSE_CHECK(f_, "'", path_, "' is already closed");
    bool ok = std::fflush(f_) == 0;
    int err = ok ? 0 : errno;
    if (std::fclose(f_) != 0 && ok) ok = false, err = errno;
    f_ = nullptr;
    if (!ok) fail_io("cannot write ", bytes_, " bytes to '", path_, "': ", std::strerror(err));
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
      fail_io("cannot rename '", tmp_, "' to '", path_, "': ", std::strerror(errno));
    committed_ = true;
  }

 private:
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
  std::uint64_t bytes_ = 0;
  bool committed_ = false;
};

inline void write_file(const std::string& path, const void* data, std::size_t n) {
  AtomicFile f(path);
  f.write(data, n);
  f.commit();
}

inline void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  write_file(path, bytes.data(), bytes.size());
}

inline void write_file(const std::string& path, const std::string& text) {
  write_file(path, text.data(), text.size());
}

// True when both paths exist and name the same file (hard links and
// different spellings of one path included).
inline bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  if (::stat(a.c_str(), &sa) != 0 || ::stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

// Refuses an output path that would destroy an input (the same file under any
// name) or that is a directory. `what` names the command in the message.
inline void check_output_path(const std::string& what, const std::string& out, std::initializer_list<std::string> inputs) {
  FINEPOSE_CHECK(!out.empty(), what, ": the output path is empty");
  struct stat st {};
  if (::stat(out.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) fail(what, ": output '", out, "' is a directory");
  for (const std::string& in : inputs)
    if (!in.empty() && (in == out || same_file(in, out)))
      fail(what, ": output '", out, "' is the input '", in, "'; writing it would destroy the input (choose another name)");
}

}  // namespace io
}  // namespace finepose
