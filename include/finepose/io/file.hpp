#pragma once
// Whole-file reads and writes. Writes go to a temporary sibling first and are
// renamed into place, so a crash never leaves a half-written model or result.
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include <unistd.h>

#include "finepose/core/error.hpp"

namespace finepose {
namespace io {

// Largest file read_file accepts; beyond this something is wrong (or it is not ours).
constexpr std::uint64_t kMaxFileBytes = std::uint64_t(16) << 30;

inline std::vector<std::uint8_t> read_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) fail("cannot open '", path, "' for reading: ", std::strerror(errno));
  struct Closer {
    std::FILE* f;
    ~Closer() { std::fclose(f); }
  } closer{f};
  if (std::fseek(f, 0, SEEK_END) != 0) fail("cannot seek in '", path, "': ", std::strerror(errno));
  long long size = ftello(f);
  if (size < 0) fail("cannot tell the size of '", path, "' (is it a directory or a pipe?)");
  if (std::uint64_t(size) > kMaxFileBytes)
    fail("'", path, "' is ", size, " bytes, more than the ", kMaxFileBytes, "-byte limit");
  if (std::fseek(f, 0, SEEK_SET) != 0) fail("cannot seek in '", path, "': ", std::strerror(errno));
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  std::size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), f);
  if (got != bytes.size()) fail("short read of '", path, "': got ", got, " of ", size, " bytes");
  return bytes;
}

inline std::string read_text_file(const std::string& path) {
  auto b = read_file(path);
  return std::string(b.begin(), b.end());
}

inline void write_file(const std::string& path, const void* data, std::size_t n) {
  // Unique per process and call, so concurrent writers of one path never share a temporary.
  static std::atomic<unsigned> counter{0};
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) fail("cannot open '", tmp, "' for writing: ", std::strerror(errno));
  std::size_t put = n ? std::fwrite(data, 1, n, f) : 0;
  bool ok = put == n;
  int err = errno;
  if (std::fflush(f) != 0) ok = false, err = errno;
  if (std::fclose(f) != 0) ok = false, err = errno;
  if (!ok) {
    std::remove(tmp.c_str());
    fail("cannot write ", n, " bytes to '", path, "': ", std::strerror(err));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    std::remove(tmp.c_str());
    fail("cannot rename '", tmp, "' to '", path, "': ", std::strerror(err));
  }
}

inline void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  write_file(path, bytes.data(), bytes.size());
}

inline void write_file(const std::string& path, const std::string& text) {
  write_file(path, text.data(), text.size());
}

}  // namespace io
}  // namespace finepose
