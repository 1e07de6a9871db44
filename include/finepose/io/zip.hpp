#pragma once
// ZIP archives: the container of .npz files and PyTorch checkpoints.
//
// ZipReader parses the central directory (found by scanning back for the end
// record, following the zip64 locator when present), checks every entry
// against the buffer before anything is allocated, and reads entries that are
// stored or deflated, verifying CRC-32. Local headers are honoured for their
// own name/extra lengths: PyTorch pads the local extra field so that tensor
// data starts on a 64-byte boundary.
//
// ZipWriter builds an archive in memory (stored or deflate, zip64 when sizes
// or offsets need it, optional data alignment as PyTorch does).
#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <zlib.h>

#include "finepose/core/error.hpp"
#include "finepose/io/bytes.hpp"
#include "finepose/io/file.hpp"

namespace finepose {
namespace io {

struct ZipEntry {
  std::string name;
  std::uint64_t compressed_size = 0;
  std::uint64_t uncompressed_size = 0;
  std::uint16_t method = 0;  // 0 stored, 8 deflate
  std::uint64_t local_header_offset = 0;
  std::uint32_t crc32 = 0;
  std::uint16_t flags = 0;
  std::uint64_t data_offset = 0;  // where the (compressed) bytes start, from the local header
};

namespace zip_detail {
constexpr std::uint32_t kLocalSig = 0x04034b50;
constexpr std::uint32_t kCentralSig = 0x02014b50;
constexpr std::uint32_t kEndSig = 0x06054b50;
constexpr std::uint32_t kZip64EndSig = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;
constexpr std::uint16_t kZip64ExtraId = 0x0001;
constexpr std::uint64_t kMaxEntries = 1000000;
constexpr std::uint64_t kMaxRatio = 1000;               // deflate tops out near 1032:1
constexpr std::uint64_t kTinyEntry = std::uint64_t(1) << 20;  // ratio limit does not apply below this
constexpr std::uint64_t kMaxEntryBytes = std::uint64_t(16) << 30;

// zlib counts in uInt; feed it bounded chunks so > 4 GiB buffers work.
constexpr std::size_t kZlibChunk = std::size_t(1) << 30;

inline std::uint32_t crc32_of(const std::uint8_t* p, std::size_t n) {
  uLong c = ::crc32(0L, Z_NULL, 0);
  while (n > 0) {
    std::size_t k = std::min(n, kZlibChunk);
    c = ::crc32(c, p, uInt(k));
    p += k;
    n -= k;
  }
  return std::uint32_t(c);
}

inline std::string printable_name(const std::string& s) {
  std::string r;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      static const char* hex = "0123456789abcdef";
      r += "\\x";
      r += hex[c >> 4];
      r += hex[c & 15];
    } else {
      r += char(c);
    }
  }
  return r;
}
}  // namespace zip_detail

inline std::uint32_t crc32(const void* data, std::size_t n) {
  return zip_detail::crc32_of(static_cast<const std::uint8_t*>(data), n);
}

class ZipReader {
 public:
  // `label` names the archive in error messages (usually its path).
  explicit ZipReader(std::vector<std::uint8_t> bytes, std::string label = "zip archive")
      : bytes_(std::move(bytes)), label_(std::move(label)) {
    parse();
  }
  static ZipReader open(const std::string& path) { return ZipReader(read_file(path), path); }

  const std::vector<ZipEntry>& entries() const { return entries_; }
  const std::string& label() const { return label_; }
  const std::vector<std::uint8_t>& bytes() const { return bytes_; }
  bool has(const std::string& name) const { return index_.count(name) != 0; }
  const ZipEntry* find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &entries_[it->second];
  }
  std::vector<std::string> names() const {
    std::vector<std::string> r;
    r.reserve(entries_.size());
    for (const auto& e : entries_) r.push_back(e.name);
    return r;
  }

  const ZipEntry& entry(const std::string& name) const {
    const ZipEntry* e = find(name);
    if (!e) fail(label_, ": no entry '", zip_detail::printable_name(name), "' (", entries_.size(), " entries)");
    return *e;
  }

  std::vector<std::uint8_t> read(const std::string& name) const { return read(entry(name)); }

  // `e` must come from entries()/find() of this reader (its offsets were validated).
  std::vector<std::uint8_t> read(const ZipEntry& e) const {
    if (&e < entries_.data() || &e >= entries_.data() + entries_.size()) return read(e.name);
    const std::uint8_t* src = bytes_.data() + e.data_offset;
    std::vector<std::uint8_t> out;
    if (e.method == 0) {
      out.assign(src, src + e.uncompressed_size);
    } else {
      out.resize(static_cast<std::size_t>(e.uncompressed_size));
      inflate_raw(e, src, out);
    }
    std::uint32_t c = zip_detail::crc32_of(out.data(), out.size());
    if (c != e.crc32) fail(where(e), "CRC-32 mismatch (stored ", hex32(e.crc32), ", computed ", hex32(c), ")");
    return out;
  }

  // The first min(n, size) bytes of an entry, inflating no more than that (no
  // CRC check: the whole entry is checked when read()). For peeking at a header
  // before deciding whether the rest is worth inflating.
  std::vector<std::uint8_t> read_prefix(const ZipEntry& e, std::size_t n) const {
    if (&e < entries_.data() || &e >= entries_.data() + entries_.size()) return read_prefix(entry(e.name), n);
    const std::uint8_t* src = bytes_.data() + e.data_offset;
    const std::size_t want = std::size_t(std::min<std::uint64_t>(n, e.uncompressed_size));
    if (e.method == 0) return std::vector<std::uint8_t>(src, src + want);
    std::vector<std::uint8_t> out(want);
    if (want == 0) return out;
    z_stream s{};
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK) fail(where(e), "zlib inflateInit2 failed");
    struct End {
      z_stream* s;
      ~End() { inflateEnd(s); }
    } end{&s};
    const std::uint64_t in_n = std::min<std::uint64_t>(e.compressed_size, zip_detail::kZlibChunk);
    std::uint64_t in_left = e.compressed_size;
    const std::uint8_t* in_p = src;
    s.next_out = out.data();
    s.avail_out = uInt(want);
    while (s.avail_out > 0) {
      if (s.avail_in == 0 && in_left > 0) {
        const std::size_t k = std::size_t(std::min<std::uint64_t>(in_left, in_n));
        s.next_in = const_cast<Bytef*>(in_p);
        s.avail_in = uInt(k);
        in_p += k;
        in_left -= k;
      }
      const int rc = inflate(&s, Z_NO_FLUSH);
      if (rc == Z_STREAM_END) break;
      if (rc == Z_BUF_ERROR && s.avail_in == 0 && in_left == 0) break;
      if (rc != Z_OK && rc != Z_BUF_ERROR) fail(where(e), "corrupt deflate data (zlib: ", s.msg ? s.msg : "error ", rc, ")");
    }
    if (s.avail_out != 0) fail(where(e), "deflate stream ends after ", s.total_out, " of ", e.uncompressed_size, " bytes");
    return out;
  }

  // Zero-copy view of a stored (method 0) entry; CRC is checked once here.
  std::pair<const std::uint8_t*, std::size_t> stored_view(const std::string& name) const {
    const ZipEntry& e = entry(name);
    if (e.method != 0) fail(where(e), "is compressed (method ", e.method, "), no zero-copy view");
    const std::uint8_t* src = bytes_.data() + e.data_offset;
    std::uint32_t c = zip_detail::crc32_of(src, std::size_t(e.uncompressed_size));
    if (c != e.crc32) fail(where(e), "CRC-32 mismatch (stored ", hex32(e.crc32), ", computed ", hex32(c), ")");
    return {src, std::size_t(e.uncompressed_size)};
  }

 private:
  static std::string hex32(std::uint32_t v) {
    static const char* hex = "0123456789abcdef";
    std::string s = "0x";
    for (int i = 7; i >= 0; --i) s += hex[(v >> (4 * i)) & 15];
    return s;
  }
  std::string where(const ZipEntry& e) const {
    return label_ + ": entry '" + zip_detail::printable_name(e.name) + "': ";
  }
  std::uint64_t size() const { return bytes_.size(); }
  // True when [off, off+n) lies inside the buffer (overflow-safe).
  bool inside(std::uint64_t off, std::uint64_t n) const { return off <= size() && n <= size() - off; }

  void parse() {
    using namespace zip_detail;
    const std::uint8_t* b = bytes_.data();
    if (size() < 22) fail(label_, ": not a zip archive (", size(), " bytes, too small for an end record)");

    // End of central directory: 22 bytes + comment (<= 65535), scanned from the end.
    std::uint64_t eocd = UINT64_MAX;
    std::uint64_t lowest = size() >= 22 + 65535 ? size() - 22 - 65535 : 0;
    for (std::uint64_t i = size() - 22 + 1; i-- > lowest;) {
      if (load_le<std::uint32_t>(b + i) == kEndSig) {
        std::uint16_t comment = load_le<std::uint16_t>(b + i + 20);
        if (i + 22 + comment <= size()) {
          eocd = i;
          break;
        }
      }
    }
    if (eocd == UINT64_MAX) fail(label_, ": not a zip archive (no end-of-central-directory record)");

    std::uint64_t disk = load_le<std::uint16_t>(b + eocd + 4);
    std::uint64_t cd_disk = load_le<std::uint16_t>(b + eocd + 6);
    std::uint64_t n_disk = load_le<std::uint16_t>(b + eocd + 8);
    std::uint64_t n_total = load_le<std::uint16_t>(b + eocd + 10);
    std::uint64_t cd_size = load_le<std::uint32_t>(b + eocd + 12);
    std::uint64_t cd_off = load_le<std::uint32_t>(b + eocd + 16);

    // zip64: a locator sits right before the end record.
    if (eocd >= 20 && load_le<std::uint32_t>(b + eocd - 20) == kZip64LocatorSig) {
      std::uint64_t z64 = load_le<std::uint64_t>(b + eocd - 20 + 8);
      std::uint32_t ndisks = load_le<std::uint32_t>(b + eocd - 20 + 16);
      if (ndisks > 1) fail(label_, ": multi-disk zip archives are not supported");
      if (!inside(z64, 56) || z64 + 56 > eocd - 20)
        fail(label_, ": zip64 end record offset ", z64, " is outside the archive");
      if (load_le<std::uint32_t>(b + z64) != kZip64EndSig)
        fail(label_, ": zip64 end record at offset ", z64, " has a bad signature");
      disk = load_le<std::uint32_t>(b + z64 + 16);
      cd_disk = load_le<std::uint32_t>(b + z64 + 20);
      n_disk = load_le<std::uint64_t>(b + z64 + 24);
      n_total = load_le<std::uint64_t>(b + z64 + 32);
      cd_size = load_le<std::uint64_t>(b + z64 + 40);
      cd_off = load_le<std::uint64_t>(b + z64 + 48);
    } else if (n_total == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {
      // Sentinel values without a locator: possible only if the count really is 65535.
      if (cd_size == 0xffffffffu || cd_off == 0xffffffffu)
        fail(label_, ": end record asks for zip64 but there is no zip64 locator");
    }
    if (disk != 0 || cd_disk != 0 || n_disk != n_total) fail(label_, ": multi-disk zip archives are not supported");
    if (n_total > kMaxEntries) fail(label_, ": ", n_total, " entries, more than the limit of ", kMaxEntries);
    if (!inside(cd_off, cd_size) || cd_off + cd_size > eocd)
      fail(label_, ": central directory [", cd_off, ", +", cd_size, ") is outside the archive (", size(), " bytes)");
    if (n_total * 46 > cd_size)
      fail(label_, ": central directory of ", cd_size, " bytes cannot hold ", n_total, " entries");

    entries_.reserve(std::size_t(n_total));
    std::uint64_t p = cd_off;
    const std::uint64_t cd_end = cd_off + cd_size;
    for (std::uint64_t k = 0; k < n_total; ++k) {
      if (p + 46 > cd_end) fail(label_, ": central directory entry ", k, " is truncated");
      if (load_le<std::uint32_t>(b + p) != kCentralSig)
        fail(label_, ": central directory entry ", k, " at offset ", p, " has a bad signature");
      ZipEntry e;
      e.flags = load_le<std::uint16_t>(b + p + 8);
      e.method = load_le<std::uint16_t>(b + p + 10);
      e.crc32 = load_le<std::uint32_t>(b + p + 16);
      e.compressed_size = load_le<std::uint32_t>(b + p + 20);
      e.uncompressed_size = load_le<std::uint32_t>(b + p + 24);
      std::uint16_t name_len = load_le<std::uint16_t>(b + p + 28);
      std::uint16_t extra_len = load_le<std::uint16_t>(b + p + 30);
      std::uint16_t comment_len = load_le<std::uint16_t>(b + p + 32);
      std::uint32_t disk_start = load_le<std::uint16_t>(b + p + 34);
      e.local_header_offset = load_le<std::uint32_t>(b + p + 42);
      std::uint64_t var = std::uint64_t(name_len) + extra_len + comment_len;
      if (p + 46 + var > cd_end) fail(label_, ": central directory entry ", k, " is truncated");
      e.name.assign(reinterpret_cast<const char*>(b + p + 46), name_len);
      parse_zip64_extra(e, b + p + 46 + name_len, extra_len, disk_start, k);
      p += 46 + var;
      check_entry(e, k);
      if (!index_.emplace(e.name, entries_.size()).second)
        fail(label_, ": entry '", printable_name(e.name), "' appears twice");
      entries_.push_back(std::move(e));
    }
    check_no_overlap(cd_off);
  }

  void parse_zip64_extra(ZipEntry& e, const std::uint8_t* x, std::uint64_t len, std::uint32_t& disk_start,
                         std::uint64_t k) {
    using namespace zip_detail;
    const bool need_u = e.uncompressed_size == 0xffffffffu, need_c = e.compressed_size == 0xffffffffu,
               need_o = e.local_header_offset == 0xffffffffu, need_d = disk_start == 0xffff;
    bool found = false;
    std::uint64_t i = 0;
    while (i + 4 <= len) {
      std::uint16_t id = load_le<std::uint16_t>(x + i);
      std::uint16_t n = load_le<std::uint16_t>(x + i + 2);
      if (i + 4 + n > len) fail(label_, ": central directory entry ", k, " has a truncated extra field");
      if (id == kZip64ExtraId && !found) {
        found = true;
        const std::uint8_t* f = x + i + 4;
        std::uint64_t q = 0;
        auto take8 = [&](std::uint64_t& dst) {
          if (q + 8 > n) fail(label_, ": entry '", printable_name(e.name), "': zip64 extra field is too short");
          dst = load_le<std::uint64_t>(f + q);
          q += 8;
        };
        if (need_u) take8(e.uncompressed_size);
        if (need_c) take8(e.compressed_size);
        if (need_o) take8(e.local_header_offset);
        if (need_d) {
          if (q + 4 > n) fail(label_, ": entry '", printable_name(e.name), "': zip64 extra field is too short");
          disk_start = load_le<std::uint32_t>(f + q);
        }
      }
      i += 4 + std::uint64_t(n);
    }
    if ((need_u || need_c || need_o) && !found)
      fail(label_, ": entry '", printable_name(e.name), "': 32-bit size/offset is 0xffffffff but no zip64 extra field");
    if (disk_start != 0) fail(label_, ": entry '", printable_name(e.name), "' is on another disk");
  }

  void check_entry(ZipEntry& e, std::uint64_t k) {
    using namespace zip_detail;
    if (e.name.empty()) fail(label_, ": central directory entry ", k, " has an empty name");
    if (e.name.find('\0') != std::string::npos)
      fail(label_, ": entry '", printable_name(e.name), "' has a NUL byte in its name");
    if (e.flags & 1) fail(where(e), "is encrypted");
    if (e.method != 0 && e.method != 8) fail(where(e), "uses compression method ", e.method, " (only stored and deflate)");
    if (e.uncompressed_size > kMaxEntryBytes)
      fail(where(e), "uncompressed size ", e.uncompressed_size, " exceeds the limit of ", kMaxEntryBytes);
    if (e.method == 0 && e.compressed_size != e.uncompressed_size)
      fail(where(e), "stored entry with compressed size ", e.compressed_size, " != uncompressed size ", e.uncompressed_size);
    if (e.method == 8 && e.uncompressed_size > kTinyEntry && e.uncompressed_size / kMaxRatio > e.compressed_size)
      fail(where(e), "compression ratio ", e.uncompressed_size, ":", e.compressed_size, " exceeds ", kMaxRatio, ":1");
    // The local header: fixed 30 bytes, then its own name and extra (which may differ from the central one).
    const std::uint8_t* b = bytes_.data();
    std::uint64_t h = e.local_header_offset;
    if (!inside(h, 30)) fail(where(e), "local header offset ", h, " is outside the archive (", size(), " bytes)");
    if (load_le<std::uint32_t>(b + h) != kLocalSig) fail(where(e), "local header at offset ", h, " has a bad signature");
    std::uint64_t ln = load_le<std::uint16_t>(b + h + 26), lx = load_le<std::uint16_t>(b + h + 28);
    if (!inside(h + 30, ln + lx)) fail(where(e), "local header at offset ", h, " is truncated");
    if (std::string(reinterpret_cast<const char*>(b + h + 30), ln) != e.name)
      fail(where(e), "local header name '", printable_name(std::string(reinterpret_cast<const char*>(b + h + 30), ln)),
           "' differs from the central directory");
    e.data_offset = h + 30 + ln + lx;
    if (!inside(e.data_offset, e.compressed_size))
      fail(where(e), "data [", e.data_offset, ", +", e.compressed_size, ") runs past the end of the archive (", size(),
           " bytes)");
  }

  // Entries must not share bytes with each other or with the central directory
  // (overlapping entries are the classic zip-bomb construction).
  void check_no_overlap(std::uint64_t cd_off) const {
    std::vector<std::pair<std::uint64_t, std::size_t>> order;
    order.reserve(entries_.size());
    for (std::size_t i = 0; i < entries_.size(); ++i) order.emplace_back(entries_[i].local_header_offset, i);
    std::sort(order.begin(), order.end());
    for (std::size_t j = 0; j < order.size(); ++j) {
      const ZipEntry& e = entries_[order[j].second];
      std::uint64_t end = e.data_offset + e.compressed_size;
      std::uint64_t limit = j + 1 < order.size() ? order[j + 1].first : cd_off;
      if (end > limit)
        fail(where(e), "data [", e.data_offset, ", ", end, ") overlaps the next record at offset ", limit);
    }
  }

  void inflate_raw(const ZipEntry& e, const std::uint8_t* src, std::vector<std::uint8_t>& out) const {
    using zip_detail::kZlibChunk;
    z_stream s{};
    if (inflateInit2(&s, -MAX_WBITS) != Z_OK) fail(where(e), "zlib inflateInit2 failed");
    struct End {
      z_stream* s;
      ~End() { inflateEnd(s); }
    } end{&s};
    std::uint64_t in_left = e.compressed_size, out_left = e.uncompressed_size;
    const std::uint8_t* in_p = src;
    std::uint8_t* out_p = out.data();
    int rc = Z_OK;
    while (true) {
      if (s.avail_in == 0 && in_left > 0) {
        std::size_t k = std::size_t(std::min<std::uint64_t>(in_left, kZlibChunk));
        s.next_in = const_cast<Bytef*>(in_p);
        s.avail_in = uInt(k);
        in_p += k;
        in_left -= k;
      }
      if (s.avail_out == 0 && out_left > 0) {
        std::size_t k = std::size_t(std::min<std::uint64_t>(out_left, kZlibChunk));
        s.next_out = out_p;
        s.avail_out = uInt(k);
        out_p += k;
        out_left -= k;
      }
      // A spare byte of output room would let us notice data beyond the declared size.
      std::uint8_t spare;
      bool using_spare = false;
      if (s.avail_out == 0) {
        s.next_out = &spare;
        s.avail_out = 1;
        using_spare = true;
      }
      rc = inflate(&s, Z_NO_FLUSH);
      if (using_spare && s.avail_out == 0)
        fail(where(e), "inflates to more than the declared ", e.uncompressed_size, " bytes");
      if (using_spare) s.avail_out = 0;
      if (rc == Z_STREAM_END) break;
      if (rc == Z_BUF_ERROR && s.avail_in == 0 && in_left == 0)
        fail(where(e), "deflate stream is truncated (", s.total_out, " of ", e.uncompressed_size, " bytes)");
      if (rc != Z_OK && rc != Z_BUF_ERROR)
        fail(where(e), "corrupt deflate data (zlib: ", s.msg ? s.msg : "error ", rc, ")");
    }
    std::uint64_t produced = e.uncompressed_size - out_left - s.avail_out;
    if (produced != e.uncompressed_size)
      fail(where(e), "inflates to ", produced, " bytes, declared ", e.uncompressed_size);
  }

  std::vector<std::uint8_t> bytes_;
  std::string label_;
  std::vector<ZipEntry> entries_;
  std::map<std::string, std::size_t> index_;
};

// Builds an archive in memory. Deterministic: fixed timestamp (1980-01-01).
class ZipWriter {
 public:
  // Data of every entry starts on a multiple of `alignment` bytes (PyTorch uses 64),
  // by padding the local extra field. force_zip64 writes zip64 fields everywhere.
  explicit ZipWriter(std::size_t alignment = 1, bool force_zip64 = false)
      : alignment_(alignment ? alignment : 1), force_zip64_(force_zip64) {}

  void add(const std::string& name, const std::vector<std::uint8_t>& bytes, bool deflate = false) {
    add(name, bytes.data(), bytes.size(), deflate);
  }

  void add(const std::string& name, const void* data, std::size_t n, bool deflate = false) {
    using namespace zip_detail;
    if (finished_) fail("ZipWriter: add('", name, "') after finish()");
    if (name.empty() || name.size() > 0xffff || name.find('\0') != std::string::npos)
      fail("ZipWriter: invalid entry name '", printable_name(name), "'");
    if (!names_.insert(name).second) fail("ZipWriter: entry '", name, "' added twice");
    const std::uint8_t* src = static_cast<const std::uint8_t*>(data);
    Record r;
    r.name = name;
    r.crc = crc32_of(src, n);
    r.usize = n;
    r.offset = out_.size();
    std::vector<std::uint8_t> packed;
    if (deflate) {
      packed = deflate_raw(src, n, name);
      r.method = 8;
      r.csize = packed.size();
    } else {
      r.method = 0;
      r.csize = n;
    }
    const bool z64 = force_zip64_ || r.usize >= 0xffffffffu || r.csize >= 0xffffffffu;
    r.zip64_sizes = z64;
    std::vector<std::uint8_t> extra;
    if (z64) {
      append_le<std::uint16_t>(extra, kZip64ExtraId);
      append_le<std::uint16_t>(extra, 16);
      append_le<std::uint64_t>(extra, r.usize);
      append_le<std::uint64_t>(extra, r.csize);
    }
    if (alignment_ > 1) {
      std::uint64_t data_at = r.offset + 30 + name.size() + extra.size();
      std::uint64_t pad = (alignment_ - data_at % alignment_) % alignment_;
      if (pad > 0 && pad < 4) pad += alignment_;  // an extra-field header alone is 4 bytes
      if (pad > 0) {
        append_le<std::uint16_t>(extra, 0x4246);  // "FB": padding, as PyTorch writes
        append_le<std::uint16_t>(extra, std::uint16_t(pad - 4));
        extra.insert(extra.end(), std::size_t(pad - 4), std::uint8_t('Z'));
      }
    }
    append_le<std::uint32_t>(out_, kLocalSig);
    append_le<std::uint16_t>(out_, z64 ? 45 : 20);
    append_le<std::uint16_t>(out_, 0x0800);  // UTF-8 names
    append_le<std::uint16_t>(out_, r.method);
    append_le<std::uint16_t>(out_, 0);     // time
    append_le<std::uint16_t>(out_, 0x21);  // date 1980-01-01
    append_le<std::uint32_t>(out_, r.crc);
    append_le<std::uint32_t>(out_, z64 ? 0xffffffffu : std::uint32_t(r.csize));
    append_le<std::uint32_t>(out_, z64 ? 0xffffffffu : std::uint32_t(r.usize));
    append_le<std::uint16_t>(out_, std::uint16_t(name.size()));
    append_le<std::uint16_t>(out_, std::uint16_t(extra.size()));
    out_.insert(out_.end(), name.begin(), name.end());
    out_.insert(out_.end(), extra.begin(), extra.end());
    if (deflate) out_.insert(out_.end(), packed.begin(), packed.end());
    else out_.insert(out_.end(), src, src + n);
    central_.push_back(std::move(r));
  }

  std::vector<std::uint8_t> finish() {
    using namespace zip_detail;
    if (finished_) fail("ZipWriter: finish() called twice");
    finished_ = true;
    const std::uint64_t cd_off = out_.size();
    for (const auto& r : central_) {
      const bool big_u = force_zip64_ || r.usize >= 0xffffffffu, big_c = force_zip64_ || r.csize >= 0xffffffffu,
                 big_o = force_zip64_ || r.offset >= 0xffffffffu;
      std::vector<std::uint8_t> extra;
      if (big_u || big_c || big_o) {
        append_le<std::uint16_t>(extra, kZip64ExtraId);
        append_le<std::uint16_t>(extra, std::uint16_t(8 * (int(big_u) + int(big_c) + int(big_o))));
        if (big_u) append_le<std::uint64_t>(extra, r.usize);
        if (big_c) append_le<std::uint64_t>(extra, r.csize);
        if (big_o) append_le<std::uint64_t>(extra, r.offset);
      }
      const bool z64 = !extra.empty();
      append_le<std::uint32_t>(out_, kCentralSig);
      append_le<std::uint16_t>(out_, z64 ? 45 : 20);  // made by
      append_le<std::uint16_t>(out_, z64 ? 45 : 20);  // needed
      append_le<std::uint16_t>(out_, 0x0800);
      append_le<std::uint16_t>(out_, r.method);
      append_le<std::uint16_t>(out_, 0);
      append_le<std::uint16_t>(out_, 0x21);
      append_le<std::uint32_t>(out_, r.crc);
      append_le<std::uint32_t>(out_, big_c ? 0xffffffffu : std::uint32_t(r.csize));
      append_le<std::uint32_t>(out_, big_u ? 0xffffffffu : std::uint32_t(r.usize));
      append_le<std::uint16_t>(out_, std::uint16_t(r.name.size()));
      append_le<std::uint16_t>(out_, std::uint16_t(extra.size()));
      append_le<std::uint16_t>(out_, 0);  // comment
      append_le<std::uint16_t>(out_, 0);  // disk
      append_le<std::uint16_t>(out_, 0);  // internal attributes
      append_le<std::uint32_t>(out_, 0x01800000u);  // external: -rw------- style, as zipfile writes 0o600<<16
      append_le<std::uint32_t>(out_, big_o ? 0xffffffffu : std::uint32_t(r.offset));
      out_.insert(out_.end(), r.name.begin(), r.name.end());
      out_.insert(out_.end(), extra.begin(), extra.end());
    }
    const std::uint64_t cd_size = out_.size() - cd_off;
    const std::uint64_t n = central_.size();
    const bool z64_end = force_zip64_ || n >= 0xffff || cd_size >= 0xffffffffu || cd_off >= 0xffffffffu;
    if (z64_end) {
      const std::uint64_t z64_off = out_.size();
      append_le<std::uint32_t>(out_, kZip64EndSig);
      append_le<std::uint64_t>(out_, 44);  // size of the rest of this record
      append_le<std::uint16_t>(out_, 45);
      append_le<std::uint16_t>(out_, 45);
      append_le<std::uint32_t>(out_, 0);
      append_le<std::uint32_t>(out_, 0);
      append_le<std::uint64_t>(out_, n);
      append_le<std::uint64_t>(out_, n);
      append_le<std::uint64_t>(out_, cd_size);
      append_le<std::uint64_t>(out_, cd_off);
      append_le<std::uint32_t>(out_, kZip64LocatorSig);
      append_le<std::uint32_t>(out_, 0);
      append_le<std::uint64_t>(out_, z64_off);
      append_le<std::uint32_t>(out_, 1);
    }
    append_le<std::uint32_t>(out_, kEndSig);
    append_le<std::uint16_t>(out_, 0);
    append_le<std::uint16_t>(out_, 0);
    append_le<std::uint16_t>(out_, std::uint16_t(z64_end ? 0xffff : n));
    append_le<std::uint16_t>(out_, std::uint16_t(z64_end ? 0xffff : n));
    append_le<std::uint32_t>(out_, z64_end ? 0xffffffffu : std::uint32_t(cd_size));
    append_le<std::uint32_t>(out_, z64_end ? 0xffffffffu : std::uint32_t(cd_off));
    append_le<std::uint16_t>(out_, 0);
    return std::move(out_);
  }

 private:
  struct Record {
    std::string name;
    std::uint32_t crc = 0;
    std::uint64_t usize = 0, csize = 0, offset = 0;
    std::uint16_t method = 0;
    bool zip64_sizes = false;
  };

  static std::vector<std::uint8_t> deflate_raw(const std::uint8_t* src, std::size_t n, const std::string& name) {
    using zip_detail::kZlibChunk;
    z_stream s{};
    if (deflateInit2(&s, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      fail("ZipWriter: zlib deflateInit2 failed for '", name, "'");
    struct End {
      z_stream* s;
      ~End() { deflateEnd(s); }
    } end{&s};
    std::vector<std::uint8_t> out;
    std::uint8_t buf[1 << 16];
    std::size_t left = n;
    int rc = Z_OK;
    do {
      if (s.avail_in == 0 && left > 0) {
        std::size_t k = std::min(left, kZlibChunk);
        s.next_in = const_cast<Bytef*>(src + (n - left));
        s.avail_in = uInt(k);
        left -= k;
      }
      int flush = (left == 0) ? Z_FINISH : Z_NO_FLUSH;
      s.next_out = buf;
      s.avail_out = sizeof(buf);
      rc = deflate(&s, flush);
      if (rc == Z_STREAM_ERROR) fail("ZipWriter: zlib deflate failed for '", name, "'");
      out.insert(out.end(), buf, buf + (sizeof(buf) - s.avail_out));
    } while (rc != Z_STREAM_END);
    return out;
  }

  std::vector<std::uint8_t> out_;
  std::vector<Record> central_;
  std::set<std::string> names_;
  std::size_t alignment_;
  bool force_zip64_;
  bool finished_ = false;
};

}  // namespace io
}  // namespace finepose
