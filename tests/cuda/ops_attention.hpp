#pragma once
// Harness registration (tests/cuda/kernel_ops.hpp) of kernels/attention_forward.cuh
// against ops::attention_forward: spatial (17 joints), temporal (frames), cross
// attention to the 77 prompt tokens and CLIP's causal self attention, dense
// [B, T, H*dh] q/k/v. test_kernel_attention adds padded strides, fused qkv,
// odd head sizes and bad arguments. The checked result is the output followed
// by the log-sum-exp of the scaled scores (what the backward reuses),
// recomputed here in double.
#include <cmath>

#include "finepose/kernels/attention_forward.cuh"
#include "finepose/ops/attention.hpp"
#include "tests/cuda/ops_glue.hpp"

namespace fpt::attention {

using glue::buffer;
using glue::i64;
using glue::kAll;
using glue::rounded;
namespace fk = finepose::kernels;

inline float attn_tol(Storage s) { return s == Storage::f32 ? 1e-4f : s == Storage::bf16 ? 1e-2f : 2e-3f; }

// dims {batch, heads, q_len, kv_len, head_dim, causal}
inline const RegisterOp attention_forward_op{KernelOp{
    "attention_forward", "ops::attention_forward", kAll,
    {{{1, 1, 1, 1, 8, 0}}, {{4, 2, 17, 17, 64, 0}}, {{1, 2, 81, 81, 64, 0}}, {{2, 2, 45, 77, 64, 0}}, {{1, 2, 77, 77, 64, 1}}},
    {{{3, 2, 17, 17, 32, 0}}},
    {{{2 * 5 * 243, 8, 17, 17, 64, 0}}, {{2 * 5 * 17, 8, 243, 243, 64, 0}}},
    attn_tol, attn_tol,
    [](const OpShape& sh, Storage st, std::uint32_t seed) {
      return with_storage(st, [&](auto tag) {
        using T = decltype(tag);
        const i64 B = sh.dims[0], H = sh.dims[1], Tq = sh.dims[2], Tk = sh.dims[3], D = sh.dims[4], row = H * D;
        const bool causal = sh.dims[5] != 0;
        const float scale = 1.f / std::sqrt(float(D));
        const auto q = to_storage<T>(random_vector(std::size_t(B * Tq * row), seed, -2.f, 2.f));
        const auto k = to_storage<T>(random_vector(std::size_t(B * Tk * row), seed + 1, -2.f, 2.f));
        const auto v = to_storage<T>(random_vector(std::size_t(B * Tk * row), seed + 2));
        const auto qf = to_float(q), kf = to_float(k), vf = to_float(v);
        std::vector<float> out(std::size_t(B * Tq * row)), probs(std::size_t(B * H * Tq * Tk));
        finepose::ops::attention_forward(out.data(), probs.data(), qf.data(), Tq * row, row, kf.data(), Tk * row, row,
                                         vf.data(), Tk * row, row, finepose::ops::AttnShape{B, H, Tq, Tk, D}, scale, causal);
        std::vector<float> want = rounded<T>(out);
        for (i64 b = 0; b < B; ++b)
          for (i64 h = 0; h < H; ++h)
            for (i64 i = 0; i < Tq; ++i) {
              const i64 n = causal ? std::min(i + 1, Tk) : Tk;
              std::vector<double> s(static_cast<std::size_t>(n));
              double mx = -INFINITY, sum = 0;
              for (i64 j = 0; j < n; ++j) {
                double dot = 0;
                for (i64 c = 0; c < D; ++c)
                  dot += double(qf[std::size_t((b * Tq + i) * row + h * D + c)]) * kf[std::size_t((b * Tk + j) * row + h * D + c)];
                s[std::size_t(j)] = dot * scale;
                mx = std::max(mx, s[std::size_t(j)]);
              }
              for (double x : s) sum += std::exp(x - mx);
              want.push_back(float(mx + std::log(sum)));
            }
        auto qb = buffer(q);
        auto kb = buffer(k);
        auto vb = buffer(v);
        auto ob = buffer(std::vector<T>(out.size()));
        auto lb = buffer(std::vector<float>(std::size_t(B * H * Tq)));
        return Prepared{[=] {
                          fk::attention_forward<T>(ob->dev(), lb->dev(), qb->dev(), Tq * row, row, kb->dev(), Tk * row, row,
                                                   vb->dev(), Tk * row, row, B, H, Tq, Tk, D, scale, causal);
                        },
                        [=] {
                          std::vector<float> r = to_float(ob->download());
                          const auto& l = lb->download();
                          r.insert(r.end(), l.begin(), l.end());
                          return r;
                        },
                        want, double((q.size() + k.size() + v.size() + out.size()) * sizeof(T)),
                        4.0 * double(B * H * Tq * Tk * D) / (causal ? 2 : 1)};
      });
    }}};

}  // namespace fpt::attention
