#pragma once
// Random initialisation of a new model, as the PyTorch modules start:
//   Linear weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)) (torch's default), LayerNorm 1 / 0,
//   nn.MultiheadAttention (CLIP's blocks, the text encoder): in_proj_weight
//   xavier-uniform, in_proj_bias and out_proj.bias 0 (torch's _reset_parameters),
//   ctx vectors ~ N(0, 0.02) and positional embeddings zero (as upstream),
//   the StylizationBlock's output projection zero (upstream zero_module),
//   CLIP: token embedding ~ N(0, 0.02), positions ~ N(0, 0.01) (openai/CLIP's init).
// A model trained from this without the official CLIP weights has a randomly
// initialised, frozen text tower: only the layers after it learn what the labels mean.
#include <cmath>
#include <map>
#include <string>

#include "finepose/core/philox.hpp"
#include "finepose/model/mixste.hpp"

namespace finepose::train {

inline void init_model(MixSTE2& net, uint64_t seed) {
  uint64_t k = 0;
  std::map<std::string, int64_t> fan_in;
  auto ends = [](const std::string& n, const std::string& s) {
    return n.size() >= s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0;
  };
  net.visit("", [&](const std::string& n, TensorF& t) {
    if (t.dim() == 2 && ends(n, ".weight")) fan_in[n.substr(0, n.size() - 7)] = t.size(1);
  });
  net.visit("", [&](const std::string& n, TensorF& t) {
    const uint64_t stream = ++k;
    auto normal = [&](float std) {
      NormalStream(seed, stream).fill(t.data(), t.numel());
      for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] *= std;
    };
    auto uniform = [&](double bound) {
      for (int64_t i = 0; i < t.numel(); ++i) {
        auto r = Philox4x32::generate({uint32_t(i), uint32_t(uint64_t(i) >> 32), uint32_t(stream), 0x5eed},
                                      {uint32_t(seed), uint32_t(seed >> 32)});
        t.data()[i] = float((2.0 * (double(r[0]) + 0.5) / 4294967296.0 - 1.0) * bound);
      }
    };
    if (n.rfind("ctx_", 0) == 0) return normal(0.02f);
    if (ends(n, "pos_embed")) return t.fill(0.f);  // upstream: torch.zeros
    if (ends(n, "token_embedding.weight")) return normal(0.02f);
    if (ends(n, "positional_embedding")) return normal(0.01f);
    if (n.find("proj_out.out_layers.2") != std::string::npos) return t.fill(0.f);
    // nn.MultiheadAttention._reset_parameters. (Until 2026-12 these fell through to the
    // LayerNorm rule: every in_proj weight 1, which made q = k = v = the sum of a
    // normalised vector ~ 0, uniform attention and no mixing between text tokens, for
    // good in the frozen CLIP tower.)
    if (ends(n, "in_proj_weight")) {
      FINEPOSE_CHECK(t.dim() == 2, "init: ", n, " is not a matrix");
      return uniform(std::sqrt(6.0 / double(t.size(0) + t.size(1))));  // xavier_uniform_ of [3E, E]
    }
    if (ends(n, "in_proj_bias") || ends(n, "out_proj.bias")) return t.fill(0.f);
    std::string base;
    if (ends(n, ".weight") || ends(n, ".bias")) base = n.substr(0, n.rfind('.'));
    auto it = fan_in.find(base);
    if (it != fan_in.end()) return uniform(1.0 / std::sqrt(double(it->second)));
    // LayerNorm
    if (ends(n, "weight")) return t.fill(1.f);
    t.fill(0.f);
  });
}

}  // namespace finepose::train
