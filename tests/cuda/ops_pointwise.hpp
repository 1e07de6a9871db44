#pragma once
// Harness registrations (tests/cuda/kernel_ops.hpp) of kernels that also have
// their own edge-case tests (test_kernel_pointwise, _adaln, _diffusion): here each
// runs at the model's shapes on every storage type beside the glue kernels, and
// bench_kernels times them from the same registration.
#include <cmath>

#include "finepose/diffusion/ddim.hpp"
#include "finepose/kernels/adaln_forward.cuh"
#include "finepose/kernels/ddim_step.cuh"
#include "finepose/kernels/epilogue_forward.cuh"
#include "finepose/kernels/layer_norm_forward.cuh"
#include "finepose/kernels/pose_flip.cuh"
#include "finepose/kernels/softmax_forward.cuh"
#include "finepose/kernels/timestep_embedding.cuh"
#include "finepose/ops/adaln.hpp"
#include "finepose/ops/activations.hpp"
#include "finepose/ops/embedding.hpp"
#include "finepose/ops/layer_norm.hpp"
#include "finepose/ops/softmax.hpp"
#include "tests/cuda/ops_glue.hpp"

namespace fpt::pointwise {

using glue::buffer;
using glue::exact_tol;
using glue::i64;
using glue::kAll;
using glue::kF32;
using glue::rounded;
namespace fk = finepose::kernels;

inline float smooth_tol(Storage s) { return s == Storage::f32 ? 3e-5f : s == Storage::bf16 ? 2e-2f : 3e-3f; }

// row softmax; dims {rows, cols}
inline const RegisterOp softmax_forward_op{KernelOp{
    "softmax_forward", "ops::softmax_forward", kAll,
    {{{1, 1}}, {{17, 17}}, {{34, 81}}, {{3, 243}}},
    {{{17, 17}}},
    {{{2 * 8 * 17 * 243, 243}}},
    smooth_tol, smooth_tol,
    [](const OpShape& sh, Storage st, std::uint32_t seed) {
      return with_storage(st, [&](auto tag) {
        using T = decltype(tag);
        const i64 rows = sh.dims[0], cols = sh.dims[1];
        const auto in = to_storage<T>(random_vector(std::size_t(rows * cols), seed, -6.f, 6.f));
        std::vector<float> want(in.size());
        finepose::ops::softmax_forward(want.data(), to_float(in).data(), rows, cols);
        auto x = buffer(in);
        auto y = buffer(std::vector<T>(in.size()));
        return Prepared{[=] { fk::softmax_forward<T>(y->dev(), x->dev(), rows, cols); },
                        [=] { return to_float(y->download()); }, rounded<T>(want), 2.0 * double(in.size() * sizeof(T))};
      });
    }}};

// PTS stylization: SiLU(LN(h) (1 + scale) + shift) per group; dims {groups, rows_per_group, dim}
inline const RegisterOp adaln_silu_forward_op{KernelOp{
    "adaln_silu_forward", "ops::adaln_silu_forward", kAll,
    {{{1, 1, 8}}, {{2, 17, 64}}, {{3, 81, 128}}},
    {{{2, 17, 64}}},
    {{{2, 243 * 17, 512}}},
    smooth_tol, smooth_tol,
    [](const OpShape& sh, Storage st, std::uint32_t seed) {
      return with_storage(st, [&](auto tag) {
        using T = decltype(tag);
        const i64 G = sh.dims[0], R = sh.dims[1], D = sh.dims[2];
        const auto h = to_storage<T>(random_vector(std::size_t(G * R * D), seed, -3.f, 3.f));
        const auto g = random_vector(std::size_t(D), seed + 1, 0.5f, 1.5f), b = random_vector(std::size_t(D), seed + 2);
        const auto ss = random_vector(std::size_t(G * 2 * D), seed + 3);
        std::vector<float> want(h.size());
        finepose::ops::adaln_silu_forward(want.data(), to_float(h).data(), g.data(), b.data(), ss.data(), G, R, D, 1e-5f);
        auto hb = buffer(h);
        auto gb = buffer(g);
        auto bb = buffer(b);
        auto sb = buffer(ss);
        auto ob = buffer(std::vector<T>(h.size()));
        return Prepared{[=] { fk::adaln_silu_forward<T>(ob->dev(), hb->dev(), gb->dev(), bb->dev(), sb->dev(), G, R, D, 1e-5f); },
                        [=] { return to_float(ob->download()); }, rounded<T>(want), 2.0 * double(h.size() * sizeof(T))};
      });
    }}};

// y += x; dims {n}
inline const RegisterOp residual_add_op{KernelOp{
    "residual_add", "ops::add_inplace", kAll,
    {{{1}}, {{1000}}, {{4097}}},
    {{{1000}}},
    {{{243 * 17 * 512}}},
    exact_tol, exact_tol,
    [](const OpShape& sh, Storage st, std::uint32_t seed) {
      return with_storage(st, [&](auto tag) {
        using T = decltype(tag);
        const i64 n = sh.dims[0];
        const auto y = to_storage<T>(random_vector(std::size_t(n), seed)), x = to_storage<T>(random_vector(std::size_t(n), seed + 1));
        std::vector<float> want = to_float(y);
        finepose::ops::add_inplace(want.data(), to_float(x).data(), n);
        auto yb = buffer(y);
        auto xb = buffer(x);
        return Prepared{[=] { fk::residual_add<T>(yb->dev(), xb->dev(), n); }, [=] { return to_float(yb->download()); },
                        rounded<T>(want), 3.0 * double(y.size() * sizeof(T))};
      });
    }}};

// flip augmentation on [rows, 17, C]: x -> -x, H36M left/right swapped; dims {rows, C}
inline const RegisterOp flip_poses_op{KernelOp{
    "flip_poses", "finepose::flip_poses (diffusion/ddim.hpp)", kAll,
    {{{1, 3}}, {{81, 3}}, {{27, 2}}},
    {{{81, 3}}},
    {{{10 * 5 * 243, 3}}},
    [](Storage) { return 0.f; }, [](Storage) { return 0.f; },
    [](const OpShape& sh, Storage st, std::uint32_t seed) {
      return with_storage(st, [&](auto tag) {
        using T = decltype(tag);
        const i64 rows = sh.dims[0], C = sh.dims[1], J = 17;
        const std::vector<std::int64_t> left{4, 5, 6, 11, 12, 13}, right{1, 2, 3, 14, 15, 16};
        const auto x = to_storage<T>(random_vector(std::size_t(rows * J * C), seed));
        std::vector<float> want = to_float(x);
        finepose::flip_poses(want.data(), rows, J, C, left, right);
        auto xb = buffer(x);
        const fk::JointPairs pairs = fk::make_joint_pairs(left, right);
        return Prepared{[=] { fk::flip_poses<T>(xb->dev(), rows, J, C, pairs); }, [=] { return to_float(xb->download()); },
                        want, 2.0 * double(x.size() * sizeof(T))};
      });
    }}};

// sinusoidal timestep embedding; dims {n, dim}; timesteps spread over 0..999
inline const RegisterOp timestep_embedding_op{KernelOp{
    "timestep_embedding", "ops::timestep_embedding", kF32,
    {{{1, 4}}, {{8, 128}}, {{20, 512}}},
    {{{8, 128}}},
    {{{20, 512}}},
    // the same float32 recipe; sin/cos of arguments up to 1000 differ by a few ulp between libms
    [](Storage) { return 2e-4f; }, [](Storage) { return 0.f; },
    [](const OpShape& sh, Storage, std::uint32_t seed) {
      const i64 n = sh.dims[0], dim = sh.dims[1];
      std::vector<std::int64_t> t(static_cast<std::size_t>(n));
      for (i64 i = 0; i < n; ++i) t[std::size_t(i)] = (i * 397 + seed) % 1000;
      std::vector<float> want(std::size_t(n * dim));
      finepose::ops::timestep_embedding(want.data(), t.data(), n, dim);
      auto tb = buffer(t);
      auto ob = buffer(std::vector<float>(want.size()));
      return Prepared{[=] { fk::timestep_embedding(ob->dev(), tb->dev(), n, dim); }, [=] { return ob->download(); }, want,
                      double(want.size() * sizeof(float))};
    }}};

// the DDIM update x = (x0 a + c eps) + sigma z with the coefficients of ddim_steps(); dims {n, K}
inline const RegisterOp ddim_update_op{KernelOp{
    "ddim_update", "the update of ddim_sample (diffusion/ddim.hpp), ddim_steps() coefficients", kF32,
    {{{1, 2}}, {{1000, 5}}, {{4097, 10}}},
    {{{1000, 5}}},
    {{{10 * 5 * 243 * 51, 10}}},
    // float32 results; allow for FMA contraction on the device (1-2 ulp)
    [](Storage) { return 1e-6f; }, [](Storage) { return 1e-6f; },
    [](const OpShape& sh, Storage, std::uint32_t seed) {
      const i64 n = sh.dims[0];
      const finepose::DdimStep c = finepose::ddim_steps(finepose::CosineSchedule(1000), sh.dims[1])[0];
      const auto x0 = random_vector(std::size_t(n), seed), eps = random_vector(std::size_t(n), seed + 1),
                 z = random_vector(std::size_t(n), seed + 2);
      std::vector<float> want(x0.size());
      for (std::size_t i = 0; i < want.size(); ++i) want[i] = (x0[i] * c.x0_coef + c.eps_coef * eps[i]) + c.noise_coef * z[i];
      auto xb = buffer(std::vector<float>(x0.size()));
      auto x0b = buffer(x0);
      auto eb = buffer(eps);
      auto zb = buffer(z);
      return Prepared{[=] { fk::ddim_update(xb->dev(), x0b->dev(), eb->dev(), zb->dev(), n, c.x0_coef, c.eps_coef, c.noise_coef); },
                      [=] { return xb->download(); }, want, 4.0 * double(x0.size() * sizeof(float))};
    }}};

// LayerNorm with its saved statistics (the mean and rstd the backward reads); dims {rows, dim}
inline const RegisterOp layer_norm_forward_op{KernelOp{
    "layer_norm_forward", "ops::layer_norm_forward", kAll,
    {{{1, 1}}, {{17, 64}}, {{33, 200}}, {{5, 512}}},
    {{{17, 64}}},
    {{{4 * 243 * 17, 512}}},
    smooth_tol, smooth_tol,
    [](const OpShape& sh, Storage st, std::uint32_t seed) {
      return with_storage(st, [&](auto tag) {
        using T = decltype(tag);
        const i64 rows = sh.dims[0], dim = sh.dims[1];
        const auto x = to_storage<T>(random_vector(std::size_t(rows * dim), seed, -3.f, 3.f));
        const auto g = random_vector(std::size_t(dim), seed + 1, 0.5f, 1.5f), b = random_vector(std::size_t(dim), seed + 2);
        std::vector<float> want(x.size()), mean(static_cast<std::size_t>(rows)), rstd(static_cast<std::size_t>(rows));
        finepose::ops::layer_norm_forward(want.data(), mean.data(), rstd.data(), to_float(x).data(), g.data(), b.data(), rows,
                                          dim, 1e-5f);
        // the checked result: the normalised rows, then each row's mean and rstd
        std::vector<float> all = rounded<T>(want);
        all.insert(all.end(), mean.begin(), mean.end());
        all.insert(all.end(), rstd.begin(), rstd.end());
        auto xb = buffer(x);
        auto gb = buffer(g);
        auto bb = buffer(b);
        auto yb = buffer(std::vector<T>(x.size()));
        auto mb = buffer(std::vector<float>(mean.size()));
        auto rb = buffer(std::vector<float>(rstd.size()));
        return Prepared{[=] { fk::layer_norm_forward<T>(yb->dev(), mb->dev(), rb->dev(), xb->dev(), gb->dev(), bb->dev(), rows, dim,
                                                        1e-5f); },
                        [=] {
                          std::vector<float> r = to_float(yb->download());
                          const auto& m = mb->download();
                          const auto& q = rb->download();
                          r.insert(r.end(), m.begin(), m.end());
                          r.insert(r.end(), q.begin(), q.end());
                          return r;
                        },
                        all, 2.0 * double(x.size() * sizeof(T))};
      });
    }}};

// a Linear's epilogue: out = GELU(in + bias) (the MLP's fc1); dims {rows, cols}
inline const RegisterOp bias_gelu_forward_op{KernelOp{
    "bias_activation_forward", "bias add, then ops::gelu_forward", kAll,
    {{{1, 1}}, {{17, 130}}, {{33, 77}}},
    {{{17, 130}}},
    {{{4 * 243 * 17, 1024}}},
    [](Storage s) { return s == Storage::f32 ? 2e-6f : s == Storage::bf16 ? 1e-2f : 2e-3f; },
    [](Storage s) { return s == Storage::f32 ? 2e-6f : s == Storage::bf16 ? 1e-2f : 2e-3f; },
    [](const OpShape& sh, Storage st, std::uint32_t seed) {
      return with_storage(st, [&](auto tag) {
        using T = decltype(tag);
        const i64 rows = sh.dims[0], cols = sh.dims[1];
        const auto in = to_storage<T>(random_vector(std::size_t(rows * cols), seed, -6.f, 6.f));
        const auto bias = random_vector(std::size_t(cols), seed + 1);
        std::vector<float> want = to_float(in);
        for (std::size_t i = 0; i < want.size(); ++i) want[i] += bias[i % std::size_t(cols)];
        finepose::ops::gelu_forward(want.data(), want.data(), i64(want.size()));
        auto ib = buffer(in);
        auto bb = buffer(bias);
        auto ob = buffer(std::vector<T>(in.size()));
        return Prepared{[=] { fk::bias_activation_forward<T>(ob->dev(), ib->dev(), bb->dev(), rows, cols, fk::Activation::gelu); },
                        [=] { return to_float(ob->download()); }, rounded<T>(want), 2.0 * double(in.size() * sizeof(T))};
      });
    }}};

// the DDIM prediction: x0 = clamp(pred * scale), eps from x_t and x0 in float64 (ddim_steps() coefficients);
// the checked result is x0 then eps; dims {n, K}
inline const RegisterOp ddim_predict_op{KernelOp{
    "ddim_predict", "the x0/eps lines of ddim_sample (diffusion/ddim.hpp)", kF32,
    {{{1, 2}}, {{1000, 5}}, {{4097, 10}}},
    {{{1000, 5}}},
    {{{10 * 5 * 243 * 51, 10}}},
    [](Storage) { return 1e-6f; }, [](Storage) { return 1e-6f; },
    [](const OpShape& sh, Storage, std::uint32_t seed) {
      const i64 n = sh.dims[0];
      const finepose::DdimStep c = finepose::ddim_steps(finepose::CosineSchedule(1000), sh.dims[1]).back();
      const float scale = 1.f, lo = -1.1f, hi = 1.1f;
      const auto pred = random_vector(std::size_t(n), seed, -2.f, 2.f), xt = random_vector(std::size_t(n), seed + 1, -3.f, 3.f);
      std::vector<float> want(2 * pred.size());
      for (std::size_t i = 0; i < pred.size(); ++i) {
        const float v = std::min(std::max(pred[i] * scale, lo), hi);
        want[i] = v;
        want[pred.size() + i] = float((c.sqrt_recip_alpha * double(xt[i]) - double(v)) / c.sqrt_recipm1_alpha);
      }
      auto pb = buffer(pred);
      auto xb = buffer(xt);
      auto x0b = buffer(std::vector<float>(pred.size()));
      auto eb = buffer(std::vector<float>(pred.size()));
      return Prepared{[=] { fk::ddim_predict(x0b->dev(), eb->dev(), pb->dev(), xb->dev(), n, scale, lo, hi, c.sqrt_recip_alpha,
                                             c.sqrt_recipm1_alpha); },
                      [=] {
                        std::vector<float> r = x0b->download();
                        const auto& e = eb->download();
                        r.insert(r.end(), e.begin(), e.end());
                        return r;
                      },
                      want, 4.0 * double(pred.size() * sizeof(float))};
    }}};

}  // namespace fpt::pointwise
