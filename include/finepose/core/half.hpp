#pragma once
// 16-bit storage types (IEEE half and bfloat16). Arithmetic happens in float:
// these only convert, as the GPU path stores them and accumulates in fp32.
#include <cstdint>
#include <cstring>

namespace finepose {

struct bfloat16 {
  std::uint16_t bits = 0;
  bfloat16() = default;
  explicit bfloat16(float f) {
    std::uint32_t u;
    std::memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) {  // NaN stays NaN
      bits = std::uint16_t((u >> 16) | 0x40u);
      return;
    }
    u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
    bits = std::uint16_t(u >> 16);
  }
  explicit operator float() const {
    std::uint32_t u = std::uint32_t(bits) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
};

struct half {
  std::uint16_t bits = 0;
  half() = default;
  explicit half(float f) {
    std::uint32_t x;
    std::memcpy(&x, &f, 4);
    std::uint32_t sign = (x >> 16) & 0x8000u;
    std::uint32_t mant = x & 0x7fffffu;
    int exp = int((x >> 23) & 0xff);
    if (exp == 0xff) {  // inf / nan
      bits = std::uint16_t(sign | 0x7c00u | (mant ? 0x200u : 0u));
      return;
    }
    int e = exp - 127 + 15;
    if (e >= 0x1f) {
      bits = std::uint16_t(sign | 0x7c00u);
      return;
    }
    if (e <= 0) {  // subnormal or zero
      if (e < -10) {
        bits = std::uint16_t(sign);
        return;
      }
      mant |= 0x800000u;
      int shift = 14 - e;
      std::uint32_t h = mant >> shift;
      std::uint32_t rem = mant & ((1u << shift) - 1u);
      std::uint32_t halfway = 1u << (shift - 1);
      if (rem > halfway || (rem == halfway && (h & 1u))) ++h;
      bits = std::uint16_t(sign | h);
      return;
    }
    std::uint32_t h = (std::uint32_t(e) << 10) | (mant >> 13);
    std::uint32_t rem = mant & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // may carry into exponent: correct
    bits = std::uint16_t(sign | h);
  }
  explicit operator float() const {
    std::uint32_t sign = std::uint32_t(bits & 0x8000u) << 16;
    std::uint32_t exp = (bits >> 10) & 0x1fu;
    std::uint32_t mant = bits & 0x3ffu;
    std::uint32_t out;
    if (exp == 0) {
      if (mant == 0) {
        out = sign;
      } else {  // normalise the subnormal
        int e = -1;
        do {
          ++e;
          mant <<= 1;
        } while (!(mant & 0x400u));
        out = sign | (std::uint32_t(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
      }
    } else if (exp == 0x1f) {
      out = sign | 0x7f800000u | (mant << 13);
    } else {
      out = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    std::memcpy(&f, &out, 4);
    return f;
  }
};

}  // namespace finepose
