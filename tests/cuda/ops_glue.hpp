#pragma once
// Harness registrations (tests/cuda/kernel_ops.hpp) of the device denoiser's
// glue kernels: kernels/layout.cuh, row_add.cuh, layer_norm_convert.cuh,
// sampler_glue.cuh. Each CPU twin is the library's op where one exists
// (ops::swap_middle_axes, ops::layer_norm_forward) and otherwise the plain loop
// the CPU model runs (model/mixste.hpp, diffusion/ddim.hpp), written out here.
#include <algorithm>
#include <memory>

#include "finepose/kernels/layer_norm_convert.cuh"
#include "finepose/kernels/layout.cuh"
#include "finepose/kernels/row_add.cuh"
#include "finepose/kernels/sampler_glue.cuh"
#include "finepose/ops/layer_norm.hpp"
#include "finepose/ops/transpose.hpp"
#include "tests/cuda/kernel_ops.hpp"
#include "tests/cuda/kernel_test_util.hpp"

namespace fpt::glue {

namespace fk = finepose::kernels;
using i64 = std::int64_t;

// exact ops (a copy, a sum of two, a clamp): rounding of the output storage only
inline float exact_tol(Storage s) { return s == Storage::f32 ? 1e-6f : s == Storage::bf16 ? 8e-3f : 1e-3f; }
inline float ln_tol(Storage s) { return s == Storage::f32 ? 2e-5f : s == Storage::bf16 ? 1e-2f : 2e-3f; }
const std::vector<Storage> kAll{Storage::f32, Storage::bf16, Storage::f16};
const std::vector<Storage> kF32{Storage::f32};

// Buffers owned by the launch closure.
template <class T>
std::shared_ptr<Buffer<T>> buffer(std::vector<T> v) {
  return std::make_shared<Buffer<T>>(std::move(v));
}
template <class T>
std::vector<float> rounded(const std::vector<float>& v) {
  return to_float(to_storage<T>(v));
}

inline const RegisterOp swap_middle_axes_op{KernelOp{
    "swap_middle_axes", "ops::swap_middle_axes", kAll,
    {{{1, 1, 1, 1}}, {{2, 17, 9, 5}}, {{3, 27, 17, 16}}, {{1, 5, 300, 33}}},
    {{{2, 17, 9, 5}}},
    {{{40, 17, 243, 64}}},
    exact_tol, exact_tol,
    [](const OpShape& sh, Storage st, std::uint32_t seed) {
      return with_storage(st, [&](auto tag) {
        using T = decltype(tag);
        const i64 A = sh.dims[0], P = sh.dims[1], Q = sh.dims[2], D = sh.dims[3];
        const auto in = to_storage<T>(random_vector(std::size_t(A * P * Q * D), seed));
        std::vector<float> want(in.size());
        finepose::ops::swap_middle_axes(want.data(), to_float(in).data(), A, P, Q, D);
        auto x = buffer(in);
        auto y = buffer(std::vector<T>(in.size()));
        return Prepared{[=] { fk::swap_middle_axes<T>(y->dev(), x->dev(), A, P, Q, D); },
                        [=] { return to_float(y->download()); }, want, 2.0 * double(in.size() * sizeof(T))};
      });
    }}};

// out [NB*H*F*J, C2+3]: row (b, h, f, j) = [x2d[b, f, j, :], x3d[b, h, f, j, :]]  (MixSTE2's input embedding rows)
inline const RegisterOp build_pose_input_op{KernelOp{
    "build_pose_input", "the input rows of MixSTE2::forward_reference", kAll,
    {{{1, 1, 1, 2}}, {{2, 3, 9 * 17, 2}}, {{4, 1, 27 * 17, 2}}, {{1, 2, 5, 0}}},
    {{{2, 3, 9 * 17, 2}}},
    {{{2, 5, 243 * 17, 2}}},
    exact_tol, exact_tol,
    [](const OpShape& sh, Storage st, std::uint32_t seed) {
      return with_storage(st, [&](auto tag) {
        using T = decltype(tag);
        const i64 NB = sh.dims[0], H = sh.dims[1], FJ = sh.dims[2], C2 = sh.dims[3], W = C2 + 3;
        const auto x2d = random_vector(std::size_t(std::max<i64>(NB * FJ * C2, 1)), seed);
        const auto x3d = random_vector(std::size_t(NB * H * FJ * 3), seed + 1);
        std::vector<float> want(std::size_t(NB * H * FJ * W));
        for (i64 b = 0; b < NB; ++b)
          for (i64 h = 0; h < H; ++h)
            for (i64 r = 0; r < FJ; ++r) {
              float* o = want.data() + ((b * H + h) * FJ + r) * W;
              for (i64 c = 0; c < C2; ++c) o[c] = x2d[std::size_t((b * FJ + r) * C2 + c)];
              for (i64 c = 0; c < 3; ++c) o[C2 + c] = x3d[std::size_t(((b * H + h) * FJ + r) * 3 + c)];
            }
        auto a = buffer(x2d);
        auto p = buffer(x3d);
        auto y = buffer(std::vector<T>(want.size()));
        return Prepared{[=] { fk::build_pose_input<T>(y->dev(), a->dev(), p->dev(), NB, H, FJ, C2); },
                        [=] { return to_float(y->download()); }, rounded<T>(want),
                        double(want.size() * (sizeof(T) + sizeof(float)))};
      });
    }}};

// x = (x + pos[r mod period]) + cond[r / group]; dims {rows, D, period, group (0: no cond)}
inline const RegisterOp add_row_embeddings_op{KernelOp{
    "add_row_embeddings", "the position/conditioning adds of MixSTE2::forward_reference", kAll,
    {{{1, 1, 1, 0}}, {{34, 16, 17, 17}}, {{90, 48, 9, 0}}, {{243, 64, 243, 81}}},
    {{{34, 16, 17, 17}}},
    {{{10 * 243 * 17, 512, 17, 243 * 17}}},
    exact_tol, exact_tol,
    [](const OpShape& sh, Storage st, std::uint32_t seed) {
      return with_storage(st, [&](auto tag) {
        using T = decltype(tag);
        const i64 rows = sh.dims[0], D = sh.dims[1], period = sh.dims[2], group = sh.dims[3];
        const auto x = to_storage<T>(random_vector(std::size_t(rows * D), seed));
        const auto pos = random_vector(std::size_t(period * D), seed + 1);
        const i64 groups = group > 0 ? (rows + group - 1) / group : 0;
        const auto cond = random_vector(std::size_t(std::max<i64>(groups * D, 1)), seed + 2);
        std::vector<float> want = to_float(x);
        for (i64 r = 0; r < rows; ++r)
          for (i64 c = 0; c < D; ++c) {
            float v = want[std::size_t(r * D + c)] + pos[std::size_t((r % period) * D + c)];
            if (group > 0) v = v + cond[std::size_t((r / group) * D + c)];
            want[std::size_t(r * D + c)] = v;
          }
        auto xb = buffer(x);
        auto pb = buffer(pos);
        auto cb = buffer(cond);
        return Prepared{[=] { fk::add_row_embeddings<T>(xb->dev(), rows, D, pb->dev(), period, group > 0 ? cb->dev() : nullptr,
                                                        group); },
                        [=] { return to_float(xb->download()); }, rounded<T>(want), 2.0 * double(x.size() * sizeof(T))};
      });
    }}};

// fp32 x += y + bias, y in the storage type (a Linear's output into the fp32 residual stream); dims {rows, cols, bias?}
inline const RegisterOp bias_residual_add_op{KernelOp{
    "bias_residual_add", "x += y + bias (the residual adds of the CPU forward)", kAll,
    {{{1, 1, 1}}, {{17, 64, 1}}, {{81, 48, 0}}, {{5, 300, 1}}},
    {{{17, 64, 1}}},
    {{{10 * 243 * 17, 512, 1}}},
    [](Storage) { return 1e-6f; }, [](Storage) { return 1e-6f; },
    [](const OpShape& sh, Storage st, std::uint32_t seed) {
      return with_storage(st, [&](auto tag) {
        using T = decltype(tag);
        const i64 rows = sh.dims[0], cols = sh.dims[1];
        const bool with_bias = sh.dims[2] != 0;
        const auto x = random_vector(std::size_t(rows * cols), seed);
        const auto y = to_storage<T>(random_vector(std::size_t(rows * cols), seed + 1));
        const auto bias = random_vector(std::size_t(cols), seed + 2);
        std::vector<float> want = x;
        const std::vector<float> yf = to_float(y);
        for (std::size_t i = 0; i < want.size(); ++i) {
          float v = yf[i];
          if (with_bias) v += bias[i % std::size_t(cols)];
          want[i] += v;
        }
        auto xb = buffer(x);
        auto yb = buffer(y);
        auto bb = buffer(bias);
        return Prepared{[=] { fk::bias_residual_add<float, T>(xb->dev(), yb->dev(), with_bias ? bb->dev() : nullptr, rows, cols); },
                        [=] { return xb->download(); }, want, double(x.size() * (2 * sizeof(float) + sizeof(T)))};
      });
    }}};

// LayerNorm of the fp32 stream into the storage type; dims {rows, dim, affine?}
inline const RegisterOp layer_norm_convert_op{KernelOp{
    "layer_norm_convert", "ops::layer_norm_forward, then the storage rounding", kAll,
    {{{1, 1, 1}}, {{17, 64, 1}}, {{33, 200, 0}}, {{5, 512, 1}}},
    {{{17, 64, 1}}},
    {{{10 * 243 * 17, 512, 1}}},
    ln_tol, ln_tol,
    [](const OpShape& sh, Storage st, std::uint32_t seed) {
      return with_storage(st, [&](auto tag) {
        using T = decltype(tag);
        const i64 rows = sh.dims[0], dim = sh.dims[1];
        const bool affine = sh.dims[2] != 0;
        const auto x = random_vector(std::size_t(rows * dim), seed, -3.f, 3.f);
        const auto g = random_vector(std::size_t(dim), seed + 1, 0.5f, 1.5f);
        const auto b = random_vector(std::size_t(dim), seed + 2);
        const std::vector<float> ones(std::size_t(dim), 1.f), zeros(std::size_t(dim), 0.f);
        std::vector<float> want(x.size()), mean(static_cast<std::size_t>(rows)), rstd(static_cast<std::size_t>(rows));
        finepose::ops::layer_norm_forward(want.data(), mean.data(), rstd.data(), x.data(), affine ? g.data() : ones.data(),
                                          affine ? b.data() : zeros.data(), rows, dim, 1e-6f);
        auto xb = buffer(x);
        auto gb = buffer(g);
        auto bb = buffer(b);
        auto yb = buffer(std::vector<T>(x.size()));
        return Prepared{[=] { fk::layer_norm_convert<float, T>(yb->dev(), xb->dev(), affine ? gb->dev() : nullptr,
                                                               affine ? bb->dev() : nullptr, rows, dim, 1e-6f); },
                        [=] { return to_float(yb->download()); }, rounded<T>(want),
                        double(x.size() * (sizeof(float) + sizeof(T)))};
      });
    }}};

// fp32 out = in + bias, in the storage type (the head's output into the sampler state); dims {rows, cols, bias?}
inline const RegisterOp bias_to_float_op{KernelOp{
    "bias_to_float", "out = in + bias (the head of the CPU forward)", kAll,
    {{{1, 1, 1}}, {{17, 3, 1}}, {{1377, 3, 0}}, {{9, 300, 1}}},
    {{{17, 3, 1}}},
    {{{10 * 243 * 17, 3, 1}}},
    [](Storage) { return 1e-6f; }, [](Storage) { return 1e-6f; },
    [](const OpShape& sh, Storage st, std::uint32_t seed) {
      return with_storage(st, [&](auto tag) {
        using T = decltype(tag);
        const i64 rows = sh.dims[0], cols = sh.dims[1];
        const bool with_bias = sh.dims[2] != 0;
        const auto in = to_storage<T>(random_vector(std::size_t(rows * cols), seed));
        const auto bias = random_vector(std::size_t(cols), seed + 1);
        std::vector<float> want = to_float(in);
        if (with_bias)
          for (std::size_t i = 0; i < want.size(); ++i) want[i] += bias[i % std::size_t(cols)];
        auto ib = buffer(in);
        auto bb = buffer(bias);
        auto ob = buffer(std::vector<float>(want.size()));
        return Prepared{[=] { fk::bias_to_float<T>(ob->dev(), ib->dev(), with_bias ? bb->dev() : nullptr, rows, cols); },
                        [=] { return ob->download(); }, want, double(want.size() * (sizeof(float) + sizeof(T)))};
      });
    }}};

// out = clamp(in, lo, hi) / s, a division as upstream; dims {n}; values beyond the clamp on purpose
inline const RegisterOp clamp_divide_op{KernelOp{
    "clamp_divide", "the step input of diffusion/ddim.hpp", kF32,
    {{{1}}, {{1000}}, {{4097}}},
    {{{1000}}},
    {{{10 * 5 * 243 * 17 * 3}}},
    [](Storage) { return 0.f; }, [](Storage) { return 0.f; },
    [](const OpShape& sh, Storage, std::uint32_t seed) {
      const i64 n = sh.dims[0];
      const float lo = -1.1f, hi = 1.1f, s = 1.7f;
      const auto in = random_vector(std::size_t(n), seed, -3.f, 3.f);
      std::vector<float> want(in.size());
      for (std::size_t i = 0; i < in.size(); ++i) want[i] = std::min(std::max(in[i], lo), hi) / s;
      auto ib = buffer(in);
      auto ob = buffer(std::vector<float>(in.size()));
      return Prepared{[=] { fk::clamp_divide(ob->dev(), ib->dev(), n, lo, hi, s); }, [=] { return ob->download(); }, want,
                      2.0 * double(in.size() * sizeof(float))};
    }}};

// p = (p + q) / 2 (flip augmentation); dims {n}
inline const RegisterOp average_halves_op{KernelOp{
    "average_halves", "the flip average of diffusion/ddim.hpp", kF32,
    {{{1}}, {{1000}}, {{4097}}},
    {{{1000}}},
    {{{10 * 5 * 243 * 17 * 3}}},
    [](Storage) { return 0.f; }, [](Storage) { return 0.f; },
    [](const OpShape& sh, Storage, std::uint32_t seed) {
      const i64 n = sh.dims[0];
      const auto p = random_vector(std::size_t(n), seed), q = random_vector(std::size_t(n), seed + 1);
      std::vector<float> want(p.size());
      for (std::size_t i = 0; i < p.size(); ++i) want[i] = (p[i] + q[i]) / 2.f;
      auto pb = buffer(p);
      auto qb = buffer(q);
      return Prepared{[=] { fk::average_halves(pb->dev(), qb->dev(), n); }, [=] { return pb->download(); }, want,
                      3.0 * double(p.size() * sizeof(float))};
    }}};

// result[b, k, :] = x0[b, :] * scale into a [B, K, m] result; dims {B, m, K, k, scale x 1000}
inline const RegisterOp scatter_step_op{KernelOp{
    "scatter_step", "the result copy of diffusion/ddim.hpp", kF32,
    {{{1, 1, 1, 0, 1000}}, {{3, 51, 4, 2, 1000}}, {{2, 459, 3, 0, 1000000}}},
    {{{3, 51, 4, 2, 1000}}},
    {{{10, 5 * 243 * 51, 10, 3, 1000}}},
    [](Storage) { return 0.f; }, [](Storage) { return 0.f; },
    [](const OpShape& sh, Storage, std::uint32_t seed) {
      const i64 B = sh.dims[0], m = sh.dims[1], K = sh.dims[2], k = sh.dims[3];
      const float scale = float(sh.dims[4]) / 1000.f;
      const auto x0 = random_vector(std::size_t(B * m), seed);
      std::vector<float> want = random_vector(std::size_t(B * K * m), seed + 1);  // the other steps stay as they were
      const std::vector<float> before = want;
      for (i64 b = 0; b < B; ++b)
        for (i64 e = 0; e < m; ++e) want[std::size_t((b * K + k) * m + e)] = scale == 1.f ? x0[std::size_t(b * m + e)]
                                                                                             : x0[std::size_t(b * m + e)] * scale;
      auto xb = buffer(x0);
      auto rb = buffer(before);
      return Prepared{[=] { fk::scatter_step(rb->dev(), xb->dev(), B, m, K, k, scale); }, [=] { return rb->download(); },
                      want, 2.0 * double(x0.size() * sizeof(float))};
    }}};

}  // namespace fpt::glue
