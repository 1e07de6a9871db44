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

#include <fcntl.h>
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

// What a write does when a file is already at its path: replace it, or refuse
// and leave it as it is (the command line's default: a typo or a rerun must not
// destroy a result; --overwrite asks for replace).
enum class Existing { replace, refuse };

// True when something (a file, a directory, even a dangling link) is at `path`.
inline bool path_taken(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// Fails when something is at `path` and `existing` is refuse; `hint` says how to
// replace it (e.g. "give --overwrite to replace it").
inline void check_not_taken(const std::string& what, const std::string& path, Existing existing, const std::string& hint) {
  if (existing == Existing::refuse && path_taken(path)) fail(what, ": '", path, "' exists; ", hint);
}

namespace detail {
// rename(from, to) that fails with EEXIST instead of replacing `to`, atomically:
// renameat2(RENAME_NOREPLACE) where the kernel and file system have it, else a
// hard link (link() never replaces), else (a file system without hard links)
// a check just before the rename.
inline int rename_no_replace(const char* from, const char* to) {
#ifdef RENAME_NOREPLACE
  if (::renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return -1;
#endif
  if (::link(from, to) == 0) return ::unlink(from), 0;
  if (errno == EEXIST) return -1;
  struct stat st {};
  if (::lstat(to, &st) == 0) return errno = EEXIST, -1;
  return std::rename(from, to);
}
}  // namespace detail

// Moves the finished temporary `tmp` to `path`; with Existing::refuse a file that
// appeared at `path` meanwhile stays and this fails (the temporary is the caller's to remove).
inline void rename_into_place(const std::string& tmp, const std::string& path, Existing existing) {
  if (existing == Existing::refuse) {
    if (detail::rename_no_replace(tmp.c_str(), path.c_str()) == 0) return;
    if (errno == EEXIST) fail("'", path, "' exists (it appeared while this ran); it was not replaced and nothing was written");
  } else if (std::rename(tmp.c_str(), path.c_str()) == 0) {
    return;
  }
  fail_io("cannot rename '", tmp, "' to '", path, "': ", std::strerror(errno));
}

// A file written piece by piece that appears under its name only when
// commit() succeeds; until then (and if the writer is destroyed without
// commit, e.g. by an exception) the previous file at `path` is untouched.
class AtomicFile {
 public:
  // Existing::refuse: commit() fails (and removes the temporary) when a file
  // appeared at `path` meanwhile, never replacing it.
  explicit AtomicFile(std::string path, Existing existing = Existing::replace)
      : path_(std::move(path)), tmp_(temporary_sibling(path_)), existing_(existing) {
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
    rename_into_place(tmp_, path_, existing_);
    committed_ = true;
  }

 private:
  std::string path_, tmp_;
  Existing existing_;
  std::FILE* f_ = nullptr;
  std::uint64_t bytes_ = 0;
  bool committed_ = false;
};

inline void write_file(const std::string& path, const void* data, std::size_t n, Existing existing = Existing::replace) {
  AtomicFile f(path, existing);
  f.write(data, n);
  f.commit();
}

inline void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes, Existing existing = Existing::replace) {
  write_file(path, bytes.data(), bytes.size(), existing);
}

inline void write_file(const std::string& path, const std::string& text, Existing existing = Existing::replace) {
  write_file(path, text.data(), text.size(), existing);
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
