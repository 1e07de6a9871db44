#pragma once
// FLOP count of FinePOSE, for reporting achieved GFLOP/s. Convention: 2 FLOPs
// per multiply-add of every matrix product (Linear layers, q.k^T and p.v of
// attention); element-wise work (LayerNorm, softmax, GELU, residual adds) is
// left out: it is < 1% of the total at the paper dims and is not GEMM work.
#include <cstdint>

#include "finepose/model/config.hpp"

namespace finepose {

struct FlopCount {
  double pose = 0;  // the denoiser without its text branch (what a cached-text call costs)
  double text = 0;  // the text branch for one label (CLIP text tower, text encoder, text_proj, cross-attn K/V)
  double total() const { return pose + text; }
};

// One denoiser call on `batch` samples of `hypotheses` hypotheses each
// (with flip, batch counts the mirrored copies too).
inline double denoiser_flops(const FinePoseConfig& c, int64_t batch, int64_t hypotheses) {
  const double D = double(c.dim), F = double(c.frames), J = double(c.joints), L = double(c.text_context);
  const double S = double(batch) * double(hypotheses);  // sequences
  const double tokens = S * F * J;
  // per token per block: qkv (3 D^2) + proj (D^2) + fc1/fc2 (2 D mlp) multiply-adds
  const double block_linear = 2.0 * (4.0 * D * D + 2.0 * D * double(c.mlp_hidden));
  double f = 2.0 * double(c.depth) * tokens * block_linear;
  // attention: q.k^T and p.v, each Tq*Tk*D multiply-adds per sequence of the view
  f += double(c.depth) * tokens * (2.0 * 2.0 * J * D + 2.0 * 2.0 * F * D);
  // input embedding (in_chans+3 -> D) and head (D -> 3)
  f += tokens * 2.0 * (double(c.in_chans + 3) * D + D * 3.0);
  // cross-attention: query and out_proj Linears, attention to L text tokens
  f += tokens * (2.0 * D * D * 2.0 + 2.0 * 2.0 * L * D);
  // per-sample vectors: time_mlp (D -> 2D -> D) and the stylization scale/shift (D -> 2D)
  f += double(batch) * 2.0 * (D * 2.0 * D + 2.0 * D * D + D * 2.0 * D);
  return f;
}

// The text branch for one label (done once per label and cached by FinePoseModel).
inline double text_flops(const FinePoseConfig& c) {
  const double L = double(c.text_context), W = double(c.text_width), D = double(c.dim);
  // CLIP residual block: in_proj (3W^2) + out_proj (W^2) + MLP (2 * 4W^2); causal attention counted full
  const double clip_layer = L * 2.0 * (4.0 * W * W + 8.0 * W * W) + 2.0 * 2.0 * L * L * W;
  const double enc_layer = L * 2.0 * (4.0 * W * W + 2.0 * W * double(c.encoder_ff)) + 2.0 * 2.0 * L * L * W;
  double f = double(c.clip_layers) * clip_layer + double(c.encoder_layers) * enc_layer;
  f += 2.0 * W * D;           // text_proj of one token
  f += 2.0 * L * 2.0 * W * D;  // cross-attention key and value of the text tokens
  return f;
}

inline FlopCount model_flops(const FinePoseConfig& c, int64_t batch, int64_t hypotheses) {
  return {denoiser_flops(c, batch, hypotheses), text_flops(c)};
}

}  // namespace finepose
