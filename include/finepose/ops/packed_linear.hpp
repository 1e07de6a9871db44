#pragma once
// A packed linear layer: the weight packed once, then
// out[rows, out_f] (+)= in[rows, in_f] W^T + b, in fp32, bf16 or int8 (Precision).
//
// Why: inference applies the same weight to millions of rows. Packing W once into
// 32-column panels (zero padded) removes all B-side packing from the call, and the
// AVX-512 micro-kernels (12 rows x 32 columns, 24 accumulators) broadcast the
// activations, so no A packing either. The residual add and the bias are fused.
//   fp32: [panel][k][32], FMA, k blocks of kKc.
//   bf16: [panel][k/2][32][2] bf16 pairs, VDPBF16PS (two products a lane per
//         instruction, fp32 sums); each call rounds its activation rows to bf16.
//   int8: [panel][k/4][32][4] s8 quads, VPDPBUSD (four u8 x s8 products a lane,
//         int32 sums, exact); each call quantizes its activation rows (quantize.hpp),
//         then out = base + float(sum) * row_scale * channel_scale.
// Where the build lacks a kernel (or force_portable asks) the portable path runs:
// ops::gemm on the kept weight (bf16: rounded operands), or scalar int32 sums for
// int8, which give the VNNI kernel's results bit for bit.
//
// Results do not depend on the thread count: each output element is summed by
// one thread in a fixed order.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/parallel.hpp"
#include "finepose/ops/gemm.hpp"
#include "finepose/ops/precision.hpp"
#include "finepose/ops/quantize.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace finepose::ops {

// Which paths this build has a SIMD kernel for (else the portable one runs).
inline bool packed_simd(Precision p) {
  switch (p) {
#if defined(__AVX512F__)
    case Precision::fp32: return true;
#endif
#if defined(__AVX512BF16__)
    case Precision::bf16: return true;
#endif
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
    case Precision::int8: return true;
#endif
    default: return false;
  }
}

inline const char* packed_kernel_name(Precision p, bool portable) {
  if (portable || !packed_simd(p))
    return p == Precision::fp32 ? "portable (Eigen GEMM)"
           : p == Precision::bf16 ? "portable (bf16-rounded operands, Eigen GEMM)"
                                  : "portable (scalar int32 dot products)";
  return p == Precision::fp32 ? "AVX-512 FMA, 12x32 tiles"
         : p == Precision::bf16 ? "AVX-512 BF16 VDPBF16PS, 12x32 tiles"
                                : "AVX-512 VNNI VPDPBUSD, 12x32 tiles";
}

namespace detail {
// 64-byte aligned, zeroed storage for packed panels.
template <class T>
std::shared_ptr<T> aligned_zeroed(std::size_t n, int64_t in, int64_t out) {
  const std::size_t bytes = ((n * sizeof(T) + 63) / 64) * 64 + 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) fail("PackedWeight: out of memory packing a ", out, " x ", in, " weight");
  std::memset(p, 0, bytes);
  return std::shared_ptr<T>(static_cast<T*>(p), [](T* q) { std::free(q); });
}
}  // namespace detail

struct PackedWeight {
  static constexpr int64_t kNr = 32;  // output columns per panel (two zmm)
  int64_t in_f = 0, out_f = 0, panels = 0;
  Precision precision = Precision::fp32;
  bool portable = true;  // runs the portable path (no SIMD kernel for this precision in the build, or asked for)
  std::vector<float> plain;  // portable fp32 / bf16: [out_f, in_f] (bf16: the rounded values)
  std::shared_ptr<float> data;  // fp32 SIMD: [panels][in_f][32]
  std::shared_ptr<std::uint16_t> bf;  // bf16 SIMD: [panels][in_f/2 rounded up][32][2] (k pairs)
  std::shared_ptr<std::int8_t> q8;  // int8 SIMD: [panels][in_f/4 rounded up][32][4] (k quads)
  std::vector<std::int8_t> q;  // int8 portable: [out_f, in_f]
  std::vector<float> scale;  // int8: per output channel, zero padded to panels * 32
  std::vector<std::int32_t> comp;  // int8 SIMD: 128 * sum_k q[o, k], zero padded

  PackedWeight() = default;
  // W: [out_f, in_f] (torch layout). force_portable: the portable path even where the
  // build has the SIMD kernel (the tests check one against the other).
  PackedWeight(const float* W, int64_t in, int64_t out, Precision prec = Precision::fp32, bool force_portable = false)
      : in_f(in), out_f(out), precision(prec), portable(force_portable || !packed_simd(prec)) {
    if (in < 0 || out < 0) fail("PackedWeight: negative size in=", in, " out=", out);
    panels = (out + kNr - 1) / kNr;
    const auto Wt = [&](int64_t o, int64_t k) { return o < out && k < in ? W[o * in + k] : 0.f; };
    if (prec == Precision::int8) {
      scale.assign(std::size_t(panels * kNr), 0.f);
      std::vector<std::int8_t> qo(std::size_t(in * out));
      for (int64_t o = 0; o < out; ++o) {
        const Int8Scale s = int8_row_scale(W + o * in, in, false);
        scale[std::size_t(o)] = s.scale;
        for (int64_t k = 0; k < in; ++k)
          qo[std::size_t(o * in + k)] = std::int8_t(s.inv == 0.f ? 0 : quantize_int8(W[o * in + k], s.inv));
      }
      if (portable) {
        q = std::move(qo);
        return;
      }
      const int64_t KQ = (in + 3) / 4;
      q8 = detail::aligned_zeroed<std::int8_t>(std::size_t(panels * KQ * kNr * 4), in, out);
      comp.assign(std::size_t(panels * kNr), 0);
      for (int64_t o = 0; o < out; ++o) {
        std::int32_t sum = 0;
        for (int64_t k = 0; k < in; ++k) sum += qo[std::size_t(o * in + k)];
        comp[std::size_t(o)] = 128 * sum;
        const int64_t pn = o / kNr, j = o % kNr;
        for (int64_t k = 0; k < in; ++k) q8.get()[((pn * KQ + k / 4) * kNr + j) * 4 + k % 4] = qo[std::size_t(o * in + k)];
      }
      return;
    }
    if (portable) {
      plain.assign(W, W + in * out);
      if (prec == Precision::bf16)
        for (float& v : plain) v = round_bf16(v);
      return;
    }
    if (prec == Precision::bf16) {
      const int64_t KP = (in + 1) / 2;
      bf = detail::aligned_zeroed<std::uint16_t>(std::size_t(panels * KP * kNr * 2), in, out);
      for (int64_t pn = 0; pn < panels; ++pn)
        for (int64_t k = 0; k < 2 * KP; ++k)
          for (int64_t j = 0; j < kNr; ++j) bf.get()[((pn * KP + k / 2) * kNr + j) * 2 + k % 2] = bf16_bits(Wt(pn * kNr + j, k));
      return;
    }
    data = detail::aligned_zeroed<float>(std::size_t(panels * in * kNr), in, out);
    for (int64_t pn = 0; pn < panels; ++pn)
      for (int64_t k = 0; k < in; ++k)
        for (int64_t j = 0; j < kNr; ++j) data.get()[(pn * in + k) * kNr + j] = Wt(pn * kNr + j, k);
  }

  // The kernel this weight runs (for reports).
  const char* kernel() const { return packed_kernel_name(precision, portable); }
};

namespace detail {

#if defined(__AVX512F__)
// C[MR, 32 masked] = (acc_c ? C : 0) + (bias ? bias : 0) + A[MR, kc] * Bp[kc, 32]
template <int MR>
inline void packed_kernel(int64_t kc, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc,
                          __mmask16 m0, __mmask16 m1, const float* bias, bool acc_c) {
  __m512 acc0[MR], acc1[MR];
  __m512 bias0 = _mm512_setzero_ps(), bias1 = _mm512_setzero_ps();
  if (bias) {
    bias0 = _mm512_maskz_loadu_ps(m0, bias);
    bias1 = _mm512_maskz_loadu_ps(m1, bias + 16);
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    if (acc_c) {
      acc0[r] = _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c + r * ldc), bias0);
      acc1[r] = _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + r * ldc + 16), bias1);
    } else {
      acc0[r] = bias0;
      acc1[r] = bias1;
    }
  }
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(bp + k * 32), b1 = _mm512_load_ps(bp + k * 32 + 16);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * lda + k]);
      acc0[r] = _mm512_fmadd_ps(av, b0, acc0[r]);
      acc1[r] = _mm512_fmadd_ps(av, b1, acc1[r]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    _mm512_mask_storeu_ps(c + r * ldc, m0, acc0[r]);
    _mm512_mask_storeu_ps(c + r * ldc + 16, m1, acc1[r]);
  }
}

inline void packed_kernel_rows(int mr, int64_t kc, const float* a, int64_t lda, const float* bp, float* c,
                               int64_t ldc, __mmask16 m0, __mmask16 m1, const float* bias, bool acc_c) {
  switch (mr) {
#define FINEPOSE_PK(n) \
  case n: packed_kernel<n>(kc, a, lda, bp, c, ldc, m0, m1, bias, acc_c); break;
    FINEPOSE_PK(1) FINEPOSE_PK(2) FINEPOSE_PK(3) FINEPOSE_PK(4) FINEPOSE_PK(5) FINEPOSE_PK(6)
    FINEPOSE_PK(7) FINEPOSE_PK(8) FINEPOSE_PK(9) FINEPOSE_PK(10) FINEPOSE_PK(11) FINEPOSE_PK(12)
#undef FINEPOSE_PK
    default: break;
  }
}
#endif

#if defined(__AVX512BF16__)
// bf16: C[MR, 32 masked] = (acc_c ? C : 0) + bias + A[MR, 2 kp] * Bp[2 kp, 32], fp32 accumulation.
// a: bf16 rows (lda elements apart, even length); bp: [kp][32 columns][2].
template <int MR>
inline void bf16_kernel(int64_t kp, const std::uint16_t* a, int64_t lda, const std::uint16_t* bp, float* c, int64_t ldc,
                        __mmask16 m0, __mmask16 m1, const float* bias, bool acc_c) {
  __m512 acc0[MR], acc1[MR];
  const __m512 bias0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
  const __m512 bias1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    acc0[r] = acc_c ? _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c + r * ldc), bias0) : bias0;
    acc1[r] = acc_c ? _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + r * ldc + 16), bias1) : bias1;
  }
  for (int64_t k = 0; k < kp; ++k) {
    const __m512bh b0 = (__m512bh)_mm512_load_si512(bp + k * 64), b1 = (__m512bh)_mm512_load_si512(bp + k * 64 + 32);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      std::int32_t pair;
      std::memcpy(&pair, a + r * lda + 2 * k, 4);
      const __m512bh av = (__m512bh)_mm512_set1_epi32(pair);
      acc0[r] = _mm512_dpbf16_ps(acc0[r], av, b0);
      acc1[r] = _mm512_dpbf16_ps(acc1[r], av, b1);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    _mm512_mask_storeu_ps(c + r * ldc, m0, acc0[r]);
    _mm512_mask_storeu_ps(c + r * ldc + 16, m1, acc1[r]);
  }
}
#endif

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
// C = base + float(acc - comp) * (sa[r] * sw), base = (acc_c ? C : 0) + bias, for mr rows of 32 sums.
inline void int8_epilogue(int mr, const std::int32_t* tile, float* c, int64_t ldc, __mmask16 m0, __mmask16 m1,
                          const float* bias, bool acc_c, const float* sa, const float* sw, const std::int32_t* comp) {
  const __m512 bias0 = bias ? _mm512_maskz_loadu_ps(m0, bias) : _mm512_setzero_ps();
  const __m512 bias1 = bias ? _mm512_maskz_loadu_ps(m1, bias + 16) : _mm512_setzero_ps();
  const __m512 sw0 = _mm512_loadu_ps(sw), sw1 = _mm512_loadu_ps(sw + 16);
  const __m512i cp0 = _mm512_loadu_si512(comp), cp1 = _mm512_loadu_si512(comp + 16);
  for (int r = 0; r < mr; ++r) {
    const __m512 s = _mm512_set1_ps(sa[r]);
    const __m512i a0 = _mm512_load_si512(tile + r * 32), a1 = _mm512_load_si512(tile + r * 32 + 16);
    const __m512 base0 = acc_c ? _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c + r * ldc), bias0) : bias0;
    const __m512 base1 = acc_c ? _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + r * ldc + 16), bias1) : bias1;
    _mm512_mask_storeu_ps(c + r * ldc, m0, _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a0, cp0)), _mm512_mul_ps(s, sw0), base0));
    _mm512_mask_storeu_ps(c + r * ldc + 16, m1, _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(a1, cp1)), _mm512_mul_ps(s, sw1), base1));
  }
}

// int8: acc[MR, 32] = sum_k a_u8 * b_s8 (int32, exact), then
// C = base + float(acc - comp) * (sa[r] * sw), base = (acc_c ? C : 0) + bias.
// a: u8 rows (q + 128, lda bytes apart, length a multiple of 4); bp: [kq][32][4].
template <int MR>
inline void int8_kernel(int64_t kq, const std::uint8_t* a, int64_t lda, const std::int8_t* bp, float* c, int64_t ldc,
                        __mmask16 m0, __mmask16 m1, const float* bias, bool acc_c, const float* sa, const float* sw,
                        const std::int32_t* comp) {
  __m512i acc0[MR], acc1[MR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    acc0[r] = _mm512_setzero_si512();
    acc1[r] = _mm512_setzero_si512();
  }
  for (int64_t k = 0; k < kq; ++k) {
    const __m512i b0 = _mm512_load_si512(bp + k * 128), b1 = _mm512_load_si512(bp + k * 128 + 64);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      std::int32_t quad;
      std::memcpy(&quad, a + r * lda + 4 * k, 4);
      const __m512i av = _mm512_set1_epi32(quad);
      acc0[r] = _mm512_dpbusd_epi32(acc0[r], av, b0);
      acc1[r] = _mm512_dpbusd_epi32(acc1[r], av, b1);
    }
  }
  // the sums leave the registers before the epilogue: with both in one live range GCC
  // spills the 24 accumulators inside the k loop (2.3x slower)
  alignas(64) std::int32_t tile[MR][32];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    _mm512_store_si512(tile[r], acc0[r]);
    _mm512_store_si512(tile[r] + 16, acc1[r]);
  }
  int8_epilogue(MR, &tile[0][0], c, ldc, m0, m1, bias, acc_c, sa, sw, comp);
}
#endif

#if defined(__AVX512F__)
inline __mmask16 col_mask(int64_t left) { return left >= 16 ? __mmask16(0xFFFF) : left <= 0 ? __mmask16(0) : __mmask16((1u << left) - 1); }
#endif

// Tiles of MR = 1..12 rows: one switch, every kernel.
template <class Fn>
inline void for_mr(int mr, Fn&& f) {
  switch (mr) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    case 4: f(std::integral_constant<int, 4>{}); break;
    case 5: f(std::integral_constant<int, 5>{}); break;
    case 6: f(std::integral_constant<int, 6>{}); break;
    case 7: f(std::integral_constant<int, 7>{}); break;
    case 8: f(std::integral_constant<int, 8>{}); break;
    case 9: f(std::integral_constant<int, 9>{}); break;
    case 10: f(std::integral_constant<int, 10>{}); break;
    case 11: f(std::integral_constant<int, 11>{}); break;
    case 12: f(std::integral_constant<int, 12>{}); break;
    default: break;
  }
}

// Per-thread scratch of the reduced-precision paths (converted activations), grown,
// never shrunk: no allocation per call once warm.
template <class T>
inline T* thread_scratch(std::size_t n) {
  thread_local std::vector<T> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

// out = (accumulate ? out : 0) + bias, the start of the portable paths.
inline void init_out(float* out, int64_t ldo, int64_t rows, int64_t n, const float* bias, bool accumulate) {
  if (!accumulate) {
    for (int64_t r = 0; r < rows; ++r) {
      float* o = out + r * ldo;
      if (bias) std::copy(bias, bias + n, o);
      else std::fill(o, o + n, 0.f);
    }
  } else if (bias) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < n; ++j) out[r * ldo + j] += bias[j];
  }
}

inline void linear_portable(float* out, int64_t ldo, const float* in, int64_t ldi, int64_t rows, const PackedWeight& w,
                            const float* bias, bool accumulate) {
  const int64_t K = w.in_f, N = w.out_f;
  if (w.precision == Precision::int8) {
    std::uint8_t* aq = thread_scratch<std::uint8_t>(std::size_t(std::max<int64_t>(K, 1)));
    std::int8_t* as = thread_scratch<std::int8_t>(std::size_t(std::max<int64_t>(K, 1)));
    for (int64_t r = 0; r < rows; ++r) {
      const float sa = quantize_row_u8(aq, in + r * ldi, K, K, false);
      // signed int8 first: written as (u8 - 128) * s8 in one loop, GCC 12 at -O3 with
      // AVX-512 VNNI vectorised it into wrong sums here (test_ops_precision caught it)
      for (int64_t k = 0; k < K; ++k) as[k] = std::int8_t(std::int32_t(aq[k]) - 128);
      for (int64_t o = 0; o < N; ++o) {
        const std::int8_t* wq = w.q.data() + o * K;
        std::int32_t acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += std::int32_t(as[k]) * std::int32_t(wq[k]);
        float& y = out[r * ldo + o];
        const float b = bias ? bias[o] : 0.f, base = accumulate ? y + b : b;
        y = std::fma(float(acc), sa * w.scale[std::size_t(o)], base);
      }
    }
    return;
  }
  init_out(out, ldo, rows, N, bias, accumulate);
  if (K == 0) return;  // out is bias (+ residual) already; gemm would refuse the zero strides
  if (w.precision == Precision::bf16) {
    float* ab = thread_scratch<float>(std::size_t(rows * K));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t k = 0; k < K; ++k) ab[r * K + k] = round_bf16(in[r * ldi + k]);
    gemm(false, true, rows, N, K, 1.f, ab, K, w.plain.data(), K, 1.f, out, ldo);
    return;
  }
  gemm(false, true, rows, N, K, 1.f, in, ldi, w.plain.data(), K, 1.f, out, ldo);
}

}  // namespace detail

// out[r, :] (+)= in[r, :] W^T + bias for r < rows. Rows of in/out are ldi/ldo
// apart. accumulate: add to what out holds (a fused residual); else overwrite.
// W's precision (PackedWeight) picks the path: fp32, bf16 (operands rounded to bf16,
// fp32 sums) or int8 (each row of in quantized at this call, int32 sums).
inline void linear_packed(float* out, int64_t ldo, const float* in, int64_t ldi, int64_t rows,
                          const PackedWeight& w, const float* bias, bool accumulate) {
  if (rows < 0) fail("linear_packed: negative rows ", rows);
  if (ldi < w.in_f || ldo < w.out_f) fail("linear_packed: row strides ", ldi, "/", ldo, " below ", w.in_f, "/", w.out_f);
  if (rows == 0 || w.out_f == 0) return;
  if (!out || (w.in_f > 0 && !in)) fail("linear_packed: null pointer");
  if (w.portable) return detail::linear_portable(out, ldo, in, ldi, rows, w, bias, accumulate);
  constexpr int64_t kMr = 12, kRowsPerTask = 96;
  const int64_t K = w.in_f, N = w.out_f, tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
  constexpr int64_t kNr = PackedWeight::kNr;
  (void)K; (void)N; (void)tasks; (void)kNr; (void)kMr;
#if defined(__AVX512BF16__)
  if (w.precision == Precision::bf16) {
    // rows converted to bf16 (even length, zero padded) by the task that uses them
    const int64_t KP = (K + 1) / 2, lda = 2 * KP;
    std::uint16_t* A = detail::thread_scratch<std::uint16_t>(std::size_t(rows * lda));
    const std::uint16_t* packed = w.bf.get();
    parallel_for(tasks, [&](int64_t task) {
      const int64_t r0 = task * kRowsPerTask, r1 = std::min(rows, r0 + kRowsPerTask);
      for (int64_t r = r0; r < r1; ++r) {
        to_bf16(A + r * lda, in + r * ldi, K);
        if (lda > K) A[r * lda + K] = 0;
      }
      for (int64_t p = 0; p < w.panels; ++p) {
        const int64_t col = p * kNr;
        const __mmask16 m0 = detail::col_mask(N - col), m1 = detail::col_mask(N - col - 16);
        for (int64_t r = r0; r < r1; r += kMr)
          detail::for_mr(int(std::min(kMr, r1 - r)), [&](auto mr) {
            detail::bf16_kernel<decltype(mr)::value>(KP, A + r * lda, lda, packed + p * KP * kNr * 2, out + r * ldo + col,
                                                     ldo, m0, m1, bias ? bias + col : nullptr, accumulate);
          });
      }
    });
    return;
  }
#endif
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
  if (w.precision == Precision::int8) {
    const int64_t KQ = (K + 3) / 4, lda = 4 * KQ;
    std::uint8_t* A = detail::thread_scratch<std::uint8_t>(std::size_t(rows * lda));
    float* SA = detail::thread_scratch<float>(std::size_t(rows));
    const std::int8_t* packed = w.q8.get();
    parallel_for(tasks, [&](int64_t task) {
      const int64_t r0 = task * kRowsPerTask, r1 = std::min(rows, r0 + kRowsPerTask);
      for (int64_t r = r0; r < r1; ++r) SA[r] = quantize_row_u8(A + r * lda, in + r * ldi, K, lda, true);
      for (int64_t p = 0; p < w.panels; ++p) {
        const int64_t col = p * kNr;
        const __mmask16 m0 = detail::col_mask(N - col), m1 = detail::col_mask(N - col - 16);
        for (int64_t r = r0; r < r1; r += kMr)
          detail::for_mr(int(std::min(kMr, r1 - r)), [&](auto mr) {
            detail::int8_kernel<decltype(mr)::value>(KQ, A + r * lda, lda, packed + p * KQ * kNr * 4, out + r * ldo + col,
                                                     ldo, m0, m1, bias ? bias + col : nullptr, accumulate, SA + r,
                                                     w.scale.data() + col, w.comp.data() + col);
          });
      }
    });
    return;
  }
#endif
#if defined(__AVX512F__)
  if (w.precision == Precision::fp32) {
    constexpr int64_t kNc = 8, kKc = 256;  // 8 panels = 256 columns
    const float* packed = w.data.get();
    parallel_for(tasks, [&](int64_t task) {
      const int64_t r0 = task * kRowsPerTask, r1 = std::min(rows, r0 + kRowsPerTask);
      for (int64_t p0 = 0; p0 < w.panels; p0 += kNc) {
        const int64_t p1 = std::min(w.panels, p0 + kNc);
        for (int64_t k0 = 0; k0 < std::max<int64_t>(K, 1); k0 += kKc) {
          const int64_t kc = std::min(kKc, K - k0);
          const bool first = k0 == 0;
          for (int64_t r = r0; r < r1; r += kMr) {
            const int mr = int(std::min(kMr, r1 - r));
            for (int64_t p = p0; p < p1; ++p) {
              const int64_t col = p * kNr;
              detail::packed_kernel_rows(mr, kc, in + r * ldi + k0, ldi, packed + (p * K + k0) * kNr, out + r * ldo + col,
                                         ldo, detail::col_mask(N - col), detail::col_mask(N - col - 16),
                                         first && bias ? bias + col : nullptr, !first || accumulate);
            }
          }
        }
      }
    });
    return;
  }
#endif
  fail("linear_packed: no kernel for ", precision_name(w.precision), " in this build");  // unreachable: portable is set
}

}  // namespace finepose::ops
