#pragma once
// A grow-only set of 64-byte aligned float buffers, addressed by slot number.
// Inference code asks for the same slots with the same sizes on every call, so
// after the first call nothing is allocated any more (allocations() stays put).
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <vector>

#include "finepose/core/error.hpp"

namespace finepose {

class Arena {
 public:
  // A buffer of at least n floats for `slot`; its contents are whatever the last user left.
  float* get(std::size_t slot, std::size_t n) {
    if (slot >= bufs_.size()) bufs_.resize(slot + 1);
    Buf& b = bufs_[slot];
    if (b.size < n) {
      const std::size_t bytes = ((std::max<std::size_t>(n, 1) * sizeof(float) + 63) / 64) * 64;
      if (n > (std::size_t(1) << 40)) fail("arena: request for ", n, " floats is too large");
      float* p = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!p) fail("arena: out of memory allocating ", bytes, " bytes");
      b.ptr.reset(p);
      b.size = n;
      ++allocations_;
    }
    return b.ptr.get();
  }

  std::size_t allocations() const { return allocations_; }
  std::size_t bytes() const {
    std::size_t s = 0;
    for (const auto& b : bufs_) s += b.size * sizeof(float);
    return s;
  }
  void release() {
    bufs_.clear();
  }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  struct Buf {
    std::unique_ptr<float, Free> ptr;
    std::size_t size = 0;
  };
  std::vector<Buf> bufs_;
  std::size_t allocations_ = 0;
};

}  // namespace finepose
