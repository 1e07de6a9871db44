#pragma once
// An animated GIF writer: a fixed 256-colour palette (6x6x6 colour cube plus
// 40 greys, enough for line drawings), LZW-compressed frames, looping
// forever. Frames are added one at a time and written as they come, so long
// animations do not sit in memory.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/io/file.hpp"
#include "finepose/render/image.hpp"

namespace finepose::render {

namespace detail {

inline std::uint8_t gif_palette_index(Color c) {
  const int mx = std::max({c.r, c.g, c.b}), mn = std::min({c.r, c.g, c.b});
  if (mx - mn < 16) return std::uint8_t(216 + (int(c.r) + c.g + c.b) * 39 / (3 * 255));
  auto q = [](int v) { return (v * 5 + 127) / 255; };
  return std::uint8_t(q(c.r) * 36 + q(c.g) * 6 + q(c.b));
}

inline std::vector<std::uint8_t> gif_palette() {
  std::vector<std::uint8_t> p;
  for (int r = 0; r < 6; ++r)
    for (int g = 0; g < 6; ++g)
      for (int b = 0; b < 6; ++b) p.insert(p.end(), {std::uint8_t(r * 51), std::uint8_t(g * 51), std::uint8_t(b * 51)});
  for (int i = 0; i < 40; ++i) {
    const auto v = std::uint8_t(i * 255 / 39);
    p.insert(p.end(), {v, v, v});
  }
  return p;
}

// GIF's variable-length LZW over 8-bit indices, packed LSB-first into
// 255-byte sub-blocks.
class LzwEncoder {
 public:
  std::vector<std::uint8_t> encode(const std::vector<std::uint8_t>& idx) {
    out_.clear();
    block_.clear();
    bits_ = 0, nbits_ = 0;
    reset();
    emit(kClear);
    if (!idx.empty()) {
      int prefix = idx[0];
      for (size_t i = 1; i < idx.size(); ++i) {
        const int c = idx[i];
        const int found = lookup(prefix, c);
        if (found >= 0) {
          prefix = found;
          continue;
        }
        emit(prefix);
        if (next_ < 4096) {
          insert(prefix, c, next_++);
          if (next_ > (1 << size_) && size_ < 12) ++size_;
        } else {
          emit(kClear);
          reset();
        }
        prefix = c;
      }
      emit(prefix);
    }
    emit(kEnd);
    if (nbits_ > 0) byte(std::uint8_t(bits_ & 0xff));
    flush_block();
    out_.push_back(0);  // block terminator
    return out_;
  }

 private:
  static constexpr int kClear = 256, kEnd = 257, kTable = 8192;
  void reset() {
    keys_.assign(kTable, -1);
    next_ = 258, size_ = 9;
  }
  static int hash(int key) { return int((unsigned(key) * 2654435761u) >> 19) & (kTable - 1); }
  int lookup(int prefix, int c) const {
    const int key = (prefix << 8) | c;
    for (int h = hash(key);; h = (h + 1) & (kTable - 1)) {
      if (keys_[size_t(h)] < 0) return -1;
      if (keys_[size_t(h)] == key) return codes_[size_t(h)];
    }
  }
  void insert(int prefix, int c, int code) {
    const int key = (prefix << 8) | c;
    int h = hash(key);
    while (keys_[size_t(h)] >= 0) h = (h + 1) & (kTable - 1);
    keys_[size_t(h)] = key, codes_[size_t(h)] = code;
  }
  void emit(int code) {
    bits_ |= std::uint32_t(code) << nbits_;
    nbits_ += size_;
    while (nbits_ >= 8) {
      byte(std::uint8_t(bits_ & 0xff));
      bits_ >>= 8, nbits_ -= 8;
    }
  }
  void byte(std::uint8_t b) {
    block_.push_back(b);
    if (block_.size() == 255) flush_block();
  }
  void flush_block() {
    if (block_.empty()) return;
    out_.push_back(std::uint8_t(block_.size()));
    out_.insert(out_.end(), block_.begin(), block_.end());
    block_.clear();
  }
  std::vector<int> keys_ = std::vector<int>(kTable, -1), codes_ = std::vector<int>(kTable, 0);
  std::vector<std::uint8_t> out_, block_;
  std::uint32_t bits_ = 0;
  int nbits_ = 0, next_ = 258, size_ = 9;
};

}  // namespace detail

class GifWriter {
 public:
  // fps: frames per second (GIF stores delays in 1/100 s).
  GifWriter(const std::string& path, int width, int height, double fps, io::Existing existing = io::Existing::replace)
      : path_(path), w_(width), h_(height) {
    FINEPOSE_CHECK(width > 0 && height > 0 && width < 65536 && height < 65536, "gif: image size ", width, "x", height, " out of range");
    FINEPOSE_CHECK(fps >= kMinFps && fps <= 100, "gif: fps ", fps, " out of range [", kMinFps, ", 100] (GIF stores a frame's delay as 1/100 s in 16 bits)");
    delay_ = std::max(2, int(std::lround(100.0 / fps)));  // browsers treat < 2 as slow
    f_ = std::make_unique<io::AtomicFile>(path, existing);
    std::vector<std::uint8_t> h = {'G', 'I', 'F', '8', '9', 'a'};
    le16(h, w_), le16(h, h_);
    h.insert(h.end(), {0xF7, 0, 0});  // global colour table of 256 entries
    const auto pal = detail::gif_palette();
    h.insert(h.end(), pal.begin(), pal.end());
    const char* ns = "NETSCAPE2.0";
    h.insert(h.end(), {0x21, 0xFF, 11});
    h.insert(h.end(), ns, ns + 11);
    h.insert(h.end(), {3, 1, 0, 0, 0});  // loop forever
    write(h);
  }
  GifWriter(const GifWriter&) = delete;
  GifWriter& operator=(const GifWriter&) = delete;
  // Without close() (an error, an interrupted run) nothing appears at `path`.
  ~GifWriter() = default;
  static constexpr double kMinFps = 100.0 / 65535;

  void add(const Image& im) {
    FINEPOSE_CHECK(f_, "gif: '", path_, "' is already closed");
    FINEPOSE_CHECK(im.width == w_ && im.height == h_, "gif: frame is ", im.width, "x", im.height, ", the animation ", w_, "x", h_);
    std::vector<std::uint8_t> idx(size_t(w_) * size_t(h_));
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = detail::gif_palette_index({im.rgb[3 * i], im.rgb[3 * i + 1], im.rgb[3 * i + 2]});
    std::vector<std::uint8_t> b = {0x21, 0xF9, 4, 0x04};  // graphic control: disposal "do not dispose"
    le16(b, delay_);
    b.insert(b.end(), {0, 0, 0x2C, 0, 0, 0, 0});
    le16(b, w_), le16(b, h_);
    b.insert(b.end(), {0, 8});  // no local table; LZW minimum code size 8
    const auto data = lzw_.encode(idx);
    b.insert(b.end(), data.begin(), data.end());
    write(b);
    ++frames_;
  }

  int frames() const { return frames_; }

  void close() {
    if (!f_) return;
    write({0x3B});
    f_->commit();
    f_.reset();
  }

 private:
  static void le16(std::vector<std::uint8_t>& o, int v) { o.push_back(std::uint8_t(v & 0xff)), o.push_back(std::uint8_t(v >> 8)); }
  void write(const std::vector<std::uint8_t>& b) {
    f_->write(b);
  }
  std::string path_;
  int w_, h_, delay_ = 4, frames_ = 0;
  std::unique_ptr<io::AtomicFile> f_;  // written to a temporary, renamed into place by close()
  detail::LzwEncoder lzw_;
};

}  // namespace finepose::render
