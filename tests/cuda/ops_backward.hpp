#pragma once
// Harness registrations (tests/cuda/kernel_ops.hpp) of the training backward
// kernels: kernels/layer_norm_backward.cuh and adaln_backward.cuh, against
// ops::layer_norm_backward / ops::adaln_silu_backward. Their own tests
// (test_kernel_layer_norm, test_kernel_adaln) add the edge cases: one output
// only, no affine, determinism, bad arguments. Here each runs at the model's
// shapes on every storage type with all outputs asked for; the checked result
// is the input gradient (in the storage type) followed by the fp32 parameter
// gradients, which start non-zero because they accumulate.
#include <algorithm>

#include "finepose/kernels/adaln_backward.cuh"
#include "finepose/kernels/layer_norm_backward.cuh"
#include "finepose/ops/adaln.hpp"
#include "finepose/ops/layer_norm.hpp"
#include "tests/cuda/ops_glue.hpp"

namespace fpt::backward {

using glue::buffer;
using glue::i64;
using glue::kAll;
using glue::rounded;
namespace fk = finepose::kernels;

// the input gradient is rounded to the storage; the parameter gradients are
// fp32 sums over rows (order differs from the CPU twin's)
inline float grad_atol(Storage s) { return s == Storage::f32 ? 2e-5f : s == Storage::bf16 ? 2e-2f : 3e-3f; }
inline float grad_rtol(Storage s) { return s == Storage::f32 ? 1e-4f : s == Storage::bf16 ? 2e-2f : 3e-3f; }

inline std::vector<float> concat(std::vector<float> a, std::initializer_list<const std::vector<float>*> rest) {
  for (const auto* v : rest) a.insert(a.end(), v->begin(), v->end());
  return a;
}

// din, dgamma += , dbeta +=  of LayerNorm; dims {rows, dim}
inline const RegisterOp layer_norm_backward_op{KernelOp{
    "layer_norm_backward", "ops::layer_norm_backward", kAll,
    {{{1, 1}}, {{17, 33}}, {{130, 64}}, {{300, 257}}},
    {{{17, 33}}},
    {{{4 * 243 * 17, 512}}},
    grad_atol, grad_rtol,
    [](const OpShape& sh, Storage st, std::uint32_t seed) {
      return with_storage(st, [&](auto tag) {
        using T = decltype(tag);
        const i64 rows = sh.dims[0], dim = sh.dims[1];
        const std::size_t n = std::size_t(rows * dim), d = std::size_t(dim);
        const auto x = to_storage<T>(random_vector(n, seed, -2.f, 2.f));
        const auto dy = to_storage<T>(random_vector(n, seed + 1));
        const auto g = random_vector(d, seed + 2, 0.5f, 1.5f);
        const auto dg0 = random_vector(d, seed + 3, -0.1f, 0.1f), db0 = random_vector(d, seed + 4, -0.1f, 0.1f);
        std::vector<float> y(n), mean(static_cast<std::size_t>(rows)), rstd(static_cast<std::size_t>(rows));
        finepose::ops::layer_norm_forward(y.data(), mean.data(), rstd.data(), to_float(x).data(), g.data(), nullptr, rows,
                                          dim, 1e-5f);
        std::vector<float> dx(n), dg = dg0, db = db0;
        finepose::ops::layer_norm_backward(dx.data(), dg.data(), db.data(), to_float(dy).data(), to_float(x).data(),
                                           mean.data(), rstd.data(), g.data(), rows, dim);
        auto xb = buffer(x);
        auto dyb = buffer(dy);
        auto gb = buffer(g);
        auto mb = buffer(mean);
        auto rb = buffer(rstd);
        auto dxb = buffer(std::vector<T>(n));
        auto dgb = buffer(dg0);
        auto dbb = buffer(db0);
        auto ws = buffer(std::vector<float>(std::size_t(std::max<i64>(1, fk::layer_norm_backward_workspace_floats(rows, dim)))));
        return Prepared{[=] {
                          fk::layer_norm_backward<T>(dxb->dev(), dgb->dev(), dbb->dev(), dyb->dev(), xb->dev(), mb->dev(),
                                                     rb->dev(), gb->dev(), rows, dim, ws->dev());
                        },
                        [=] {
                          const std::vector<float> g2 = dgb->download(), b2 = dbb->download();
                          return concat(to_float(dxb->download()), {&g2, &b2});
                        },
                        concat(rounded<T>(dx), {&dg, &db}), 3.0 * double(n * sizeof(T))};
      });
    }}};

// dh, dgamma +=, dbeta +=, dscale_shift of PTS stylization SiLU(LN(h)(1 + scale) + shift);
// dims {groups, rows_per_group, dim}
inline const RegisterOp adaln_silu_backward_op{KernelOp{
    "adaln_silu_backward", "ops::adaln_silu_backward", kAll,
    {{{1, 1, 8}}, {{2, 17, 64}}, {{3, 81, 45}}, {{2, 130, 128}}},
    {{{2, 17, 64}}},
    {{{2, 243 * 17, 512}}},
    grad_atol, grad_rtol,
    [](const OpShape& sh, Storage st, std::uint32_t seed) {
      return with_storage(st, [&](auto tag) {
        using T = decltype(tag);
        const i64 G = sh.dims[0], R = sh.dims[1], D = sh.dims[2];
        const std::size_t n = std::size_t(G * R * D), d = std::size_t(D), nss = std::size_t(G * 2 * D);
        const auto h = to_storage<T>(random_vector(n, seed, -3.f, 3.f));
        const auto dy = to_storage<T>(random_vector(n, seed + 1));
        const auto g = random_vector(d, seed + 2, 0.5f, 1.5f), b = random_vector(d, seed + 3, -0.5f, 0.5f);
        const auto ss = random_vector(nss, seed + 4);
        const auto dg0 = random_vector(d, seed + 5, -0.1f, 0.1f), db0 = random_vector(d, seed + 6, -0.1f, 0.1f);
        std::vector<float> dh(n), dg = dg0, db = db0, dss(nss);
        finepose::ops::adaln_silu_backward(dh.data(), dg.data(), db.data(), dss.data(), to_float(dy).data(),
                                           to_float(h).data(), g.data(), b.data(), ss.data(), G, R, D, 1e-5f);
        auto hb = buffer(h);
        auto dyb = buffer(dy);
        auto gb = buffer(g);
        auto bb = buffer(b);
        auto sb = buffer(ss);
        auto dhb = buffer(std::vector<T>(n));
        auto dgb = buffer(dg0);
        auto dbb = buffer(db0);
        auto dsb = buffer(std::vector<float>(nss, 123.f));  // overwritten, not accumulated
        auto ws = buffer(std::vector<float>(std::size_t(std::max<i64>(1, fk::adaln_silu_backward_workspace_floats(G, R, D)))));
        return Prepared{[=] {
                          fk::adaln_silu_backward<T>(dhb->dev(), dgb->dev(), dbb->dev(), dsb->dev(), dyb->dev(), hb->dev(),
                                                     gb->dev(), bb->dev(), sb->dev(), G, R, D, 1e-5f, ws->dev());
                        },
                        [=] {
                          const std::vector<float> g2 = dgb->download(), b2 = dbb->download(), s2 = dsb->download();
                          return concat(to_float(dhb->download()), {&g2, &b2, &s2});
                        },
                        concat(rounded<T>(dh), {&dg, &db, &dss}), 3.0 * double(n * sizeof(T))};
      });
    }}};

}  // namespace fpt::backward
