#pragma once
// Philox4x32-10 counter-based RNG (Salmon et al., SC'11). Draw i of a stream is
// a pure function of (seed, stream, i), so a tensor filled in parallel gets the
// same numbers whatever the thread count.
#include <array>
#include <cmath>
#include <cstdint>

#include "finepose/core/parallel.hpp"
#include "finepose/core/tensor.hpp"

namespace finepose {

struct Philox4x32 {
  using Block = std::array<std::uint32_t, 4>;
  static Block round(Block c, std::array<std::uint32_t, 2> k) {
    const std::uint64_t p0 = std::uint64_t(0xD2511F53u) * c[0];
    const std::uint64_t p1 = std::uint64_t(0xCD9E8D57u) * c[2];
    return {std::uint32_t(p1 >> 32) ^ c[1] ^ k[0], std::uint32_t(p1), std::uint32_t(p0 >> 32) ^ c[3] ^ k[1],
            std::uint32_t(p0)};
  }
  // 10 rounds on counter c with key k.
  static Block generate(Block c, std::array<std::uint32_t, 2> k) {
    for (int r = 0; r < 10; ++r) {
      c = round(c, k);
      k[0] += 0x9E3779B9u;
      k[1] += 0xBB67AE85u;
    }
    return c;
  }
};

// A stream of standard normals: seed picks the key, stream picks one of 2^64
// independent sequences (e.g. one per DDIM step), and element i is fixed.
class NormalStream {
 public:
  NormalStream(std::uint64_t seed, std::uint64_t stream) : seed_(seed), stream_(stream) {}

  // Four normals for block b (elements 4b .. 4b+3), by Box-Muller.
  std::array<float, 4> block(std::uint64_t b) const {
    auto r = Philox4x32::generate(
        {std::uint32_t(b), std::uint32_t(b >> 32), std::uint32_t(stream_), std::uint32_t(stream_ >> 32)},
        {std::uint32_t(seed_), std::uint32_t(seed_ >> 32)});
    std::array<float, 4> out;
    for (int p = 0; p < 2; ++p) {
      // u1 in (0, 1]: never log(0); u2 in [0, 1)
      const double u1 = (double(r[2 * p]) + 1.0) / 4294967296.0;
      const double u2 = double(r[2 * p + 1]) / 4294967296.0;
      const double rad = std::sqrt(-2.0 * std::log(u1));
      const double th = 6.283185307179586476925 * u2;
      out[2 * p] = float(rad * std::cos(th));
      out[2 * p + 1] = float(rad * std::sin(th));
    }
    return out;
  }

  void fill(float* out, std::int64_t n) const {
    const std::int64_t blocks = (n + 3) / 4;
    parallel_for(
        blocks,
        [&](std::int64_t b) {
          auto v = block(std::uint64_t(b));
          for (int j = 0; j < 4 && 4 * b + j < n; ++j) out[4 * b + j] = v[j];
        },
        1024);
  }

  TensorF normal(const Shape& shape) const {
    TensorF t(shape);
    fill(t.data(), t.numel());
    return t;
  }

 private:
  std::uint64_t seed_, stream_;
};

}  // namespace finepose
