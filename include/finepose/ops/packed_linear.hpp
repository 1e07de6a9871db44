#pragma once
// A packed linear layer (with an AVX-512 path): the weight packed once, then
// out[rows, out_f] (+)= in[rows, in_f] W^T + b.
//
// Why: inference applies the same weight to millions of rows. Packing W once into
// 32-column panels ([panel][k][32], zero padded) removes all B-side packing from
// the call, and the AVX-512 micro-kernel (12 rows x 32 columns, 24 accumulators)
// reads the activations in place (broadcasts), so no A packing either. The
// residual add and the bias are fused into the accumulator initialisation.
// Without AVX-512 it falls back to ops::gemm on the unpacked weight it keeps.
//
// Results do not depend on the thread count: each output element is summed by
// one thread in a fixed order (k blocks of kKc, increasing k).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/parallel.hpp"
#include "finepose/ops/gemm.hpp"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace finepose::ops {

struct PackedWeight {
  static constexpr int64_t kNr = 32;  // output columns per panel (two zmm)
  int64_t in_f = 0, out_f = 0, panels = 0;
  std::vector<float> plain;  // [out_f, in_f] copy for the portable path
  std::shared_ptr<float> data;  // [panels][in_f][kNr], 64-byte aligned

  PackedWeight() = default;
  // W: [out_f, in_f] (torch layout)
  PackedWeight(const float* W, int64_t in, int64_t out) : in_f(in), out_f(out) {
    if (in < 0 || out < 0) fail("PackedWeight: negative size in=", in, " out=", out);
    panels = (out + kNr - 1) / kNr;
#if defined(__AVX512F__)
    const std::size_t n = std::size_t(panels * in * kNr);
    float* p = static_cast<float*>(std::aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64 + 64));
    if (!p) fail("PackedWeight: out of memory packing a ", out, " x ", in, " weight");
    data.reset(p, [](float* q) { std::free(q); });
    for (int64_t pn = 0; pn < panels; ++pn)
      for (int64_t k = 0; k < in; ++k)
        for (int64_t j = 0; j < kNr; ++j) {
          const int64_t o = pn * kNr + j;
          p[(pn * in + k) * kNr + j] = o < out ? W[o * in + k] : 0.f;
        }
#else
    plain.assign(W, W + in * out);
#endif
  }
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

}  // namespace detail

// out[r, :] (+)= in[r, :] W^T + bias for r < rows. Rows of in/out are ldi/ldo
// apart. accumulate: add to what out holds (a fused residual); else overwrite.
inline void linear_packed(float* out, int64_t ldo, const float* in, int64_t ldi, int64_t rows,
                          const PackedWeight& w, const float* bias, bool accumulate) {
  if (rows < 0) fail("linear_packed: negative rows ", rows);
  if (ldi < w.in_f || ldo < w.out_f) fail("linear_packed: row strides ", ldi, "/", ldo, " below ", w.in_f, "/", w.out_f);
  if (rows == 0 || w.out_f == 0) return;
  if (!out || (w.in_f > 0 && !in)) fail("linear_packed: null pointer");
#if defined(__AVX512F__)
  constexpr int64_t kMr = 12, kRowsPerTask = 96, kNc = 8, kKc = 256;  // 8 panels = 256 columns
  const int64_t K = w.in_f, tasks = (rows + kRowsPerTask - 1) / kRowsPerTask;
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
            const int64_t col = p * PackedWeight::kNr, left = w.out_f - col;
            const __mmask16 m0 = left >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << left) - 1);
            const __mmask16 m1 = left >= 32 ? __mmask16(0xFFFF) : left <= 16 ? __mmask16(0) : __mmask16((1u << (left - 16)) - 1);
            detail::packed_kernel_rows(mr, kc, in + r * ldi + k0, ldi, packed + (p * K + k0) * PackedWeight::kNr,
                                       out + r * ldo + col, ldo, m0, m1, first && bias ? bias + col : nullptr,
                                       !first || accumulate);
          }
        }
      }
    }
  });
#else
  // portable path: bias / residual then ops::gemm
  if (!accumulate) {
    for (int64_t r = 0; r < rows; ++r) {
      float* o = out + r * ldo;
      if (bias) std::copy(bias, bias + w.out_f, o);
      else std::fill(o, o + w.out_f, 0.f);
    }
  } else if (bias) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < w.out_f; ++j) out[r * ldo + j] += bias[j];
  }
  // in_f == 0: out is bias (+ residual) already; gemm would refuse the zero strides
  if (w.in_f > 0) gemm(false, true, rows, w.out_f, w.in_f, 1.f, in, ldi, w.plain.data(), w.in_f, 1.f, out, ldo);
#endif
}

}  // namespace finepose::ops
