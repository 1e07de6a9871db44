#pragma once
// The two reduced number formats of ops::linear_packed, one definition each.
//
// bf16: the upper 16 bits of an fp32, rounded to nearest even. Subnormal inputs
// become signed zero and NaNs stay (quiet) NaNs: exactly what the AVX-512 BF16
// conversion (VCVTNE2PS2BF16) does, so the SIMD and portable paths agree bit for bit.
//
// int8: symmetric, scale = amax / 127, q = nearbyint(x * (127 / amax)) clamped to
// [-127, 127]. Weights get one scale per output channel, activations one per row,
// computed at every call (dynamic). A row holding a NaN or an infinity gets a NaN
// scale (so its outputs are NaN, never silently finite); an all-zero row gets scale 0.
// Activations are stored offset by +128 as unsigned bytes, the operand VPDPBUSD
// multiplies (u8 x s8); the offset is taken out again with 128 * sum_k w[o, k].
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace finepose::ops {

inline std::uint16_t bf16_bits(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu)) return std::uint16_t((u >> 16) | 0x0040u);  // NaN
  if ((u & 0x7F800000u) == 0) return std::uint16_t((u >> 16) & 0x8000u);  // zero / subnormal -> signed zero
  u += 0x7FFFu + ((u >> 16) & 1u);  // round to nearest even (overflows to inf correctly)
  return std::uint16_t(u >> 16);
}

inline float bf16_to_float(std::uint16_t b) {
  const std::uint32_t u = std::uint32_t(b) << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

inline float round_bf16(float x) { return bf16_to_float(bf16_bits(x)); }

// n floats -> bf16 bits. simd: use the AVX-512 BF16 conversion where the build has it.
inline void to_bf16(std::uint16_t* out, const float* in, std::int64_t n, bool simd = true) {
  std::int64_t i = 0;
#if defined(__AVX512BF16__)
  if (simd)
    for (; i + 32 <= n; i += 32) {
      const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(in + i + 16), _mm512_loadu_ps(in + i));
      _mm512_storeu_si512(out + i, (__m512i)v);
    }
#else
  (void)simd;
#endif
  for (; i < n; ++i) out[i] = bf16_bits(in[i]);
}

// The scale of a row of n values: amax / 127; 0 for an all-zero row; NaN when a value
// is not finite. inv (the quantizer's multiplier) is 127 / amax, or 0 where scale is 0
// or NaN (all q are then 0).
struct Int8Scale {
  float scale = 0, inv = 0;
};

inline Int8Scale int8_scale_from_amax(float amax, bool finite) {
  if (!finite || !(amax <= std::numeric_limits<float>::max())) return {std::numeric_limits<float>::quiet_NaN(), 0.f};
  // a row of values all below ~3.7e-37: 127 / amax overflows to inf (and 0 * inf is NaN);
  // quantize it as zeros, an error of at most n * amax * |w| (nothing a float result holds)
  if (amax == 0.f || !(127.f / amax <= std::numeric_limits<float>::max())) return {0.f, 0.f};
  return {amax / 127.f, 127.f / amax};
}

inline std::int32_t quantize_int8(float x, float inv) {
  const float r = std::nearbyint(x * inv);  // the current rounding mode: nearest even
  if (std::isnan(r)) return 0;              // (the SIMD quantizer's rule; a float NaN -> int is undefined)
  return std::int32_t(r > 127.f ? 127.f : r < -127.f ? -127.f : r);
}

inline Int8Scale int8_row_scale(const float* x, std::int64_t n, bool simd = true) {
  float amax = 0;
  bool finite = true;
  std::int64_t i = 0;
#if defined(__AVX512F__)
  if (simd && n >= 16) {
    __m512 m = _mm512_setzero_ps();
    __mmask16 bad = 0;
    for (; i + 16 <= n; i += 16) {
      const __m512 v = _mm512_loadu_ps(x + i);
      bad |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
      m = _mm512_max_ps(m, _mm512_abs_ps(v));
    }
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, m);
    for (float v : lanes) amax = std::max(amax, v);
    finite = bad == 0;
  }
#else
  (void)simd;
#endif
  for (; i < n; ++i) {
    if (std::isnan(x[i])) finite = false;
    amax = std::max(amax, std::fabs(x[i]));
  }
  return int8_scale_from_amax(amax, finite && std::isfinite(amax));
}

// One row of activations -> u8 (q + 128), n values then 128 up to n_pad. Returns its scale.
inline float quantize_row_u8(std::uint8_t* q, const float* x, std::int64_t n, std::int64_t n_pad, bool simd = true) {
  const Int8Scale s = int8_row_scale(x, n, simd);
  std::int64_t i = 0;
#if defined(__AVX512F__)
  if (simd) {
    const __m512 inv = _mm512_set1_ps(s.inv);
    const __m512i lo = _mm512_set1_epi32(-127), hi = _mm512_set1_epi32(127), off = _mm512_set1_epi32(128);
    for (; i + 16 <= n; i += 16) {
      __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), inv);
      // NaN * 0 is NaN: its conversion is 0x80000000, clamped to -127; force those lanes to 0
      v = _mm512_mask_mov_ps(v, _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_setzero_ps());
      // clamp before converting: an infinite lane would convert to 0x80000000 (-127 after the
      // integer clamp) whatever its sign, where the scalar path gives +127
      v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(-127.f)), _mm512_set1_ps(127.f));
      __m512i r = _mm512_cvtps_epi32(v);
      r = _mm512_add_epi32(_mm512_min_epi32(_mm512_max_epi32(r, lo), hi), off);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), _mm512_cvtepi32_epi8(r));
    }
  }
#endif
  for (; i < n; ++i) {
    const float v = x[i] * s.inv;
    q[i] = std::uint8_t(128 + (std::isnan(v) ? 0 : quantize_int8(x[i], s.inv)));
  }
  for (; i < n_pad; ++i) q[i] = 128;
  return s.scale;
}

}  // namespace finepose::ops
