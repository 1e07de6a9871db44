#pragma once
// Warp and block reductions (fp32) and the Welford/Chan merge used by the
// normalisation kernels for a numerically stable one-pass mean/variance.
#include "finepose/kernels/common.cuh"

namespace finepose::kernels {

FP_DEVICE float warp_sum(float v) {
  for (int o = kWarpSize / 2; o > 0; o >>= 1) v += shfl_xor(v, o);
  return v;
}

FP_DEVICE float warp_max(float v) {
  for (int o = kWarpSize / 2; o > 0; o >>= 1) v = fmaxf(v, shfl_xor(v, o));
  return v;
}

// Running mean/M2 of `n` values.
struct Welford {
  float n = 0.f, mean = 0.f, m2 = 0.f;
};

FP_DEVICE void welford_add(Welford& w, float x) {
  w.n += 1.f;
  const float d = x - w.mean;
  w.mean += d / w.n;
  w.m2 += d * (x - w.mean);
}

// Chan et al.'s pairwise combination.
FP_DEVICE Welford welford_merge(const Welford& a, const Welford& b) {
  const float n = a.n + b.n;
  if (n == 0.f) return a;
  const float d = b.mean - a.mean, fb = b.n / n;
  Welford r;
  r.n = n;
  r.mean = a.mean + d * fb;
  r.m2 = a.m2 + b.m2 + d * d * a.n * fb;
  return r;
}

// All lanes end with the warp-wide statistics.
FP_DEVICE Welford warp_welford(Welford w) {
  for (int o = kWarpSize / 2; o > 0; o >>= 1) {
    Welford other;
    other.n = shfl_xor(w.n, o);
    other.mean = shfl_xor(w.mean, o);
    other.m2 = shfl_xor(w.m2, o);
    w = welford_merge(w, other);
  }
  return w;
}

// Block-wide sum/max for 1-D blocks whose size is a multiple of 32 (<= 1024);
// every thread gets the result. `scratch` is a __shared__ float[32]; the
// call begins and ends with a barrier so scratch can be reused right away.
FP_DEVICE float block_sum(float v, float* scratch) {
  const int lane = lane_index(), warp = warp_index(), nwarps = int(blockDim.x * blockDim.y * blockDim.z) / kWarpSize;
  v = warp_sum(v);
  sync_threads();  // scratch may still be read from a previous call
  if (lane == 0) scratch[warp] = v;
  sync_threads();
  v = lane < nwarps ? scratch[lane] : 0.f;
  return warp_sum(v);
}

FP_DEVICE float block_max(float v, float* scratch) {
  const int lane = lane_index(), warp = warp_index(), nwarps = int(blockDim.x * blockDim.y * blockDim.z) / kWarpSize;
  v = warp_max(v);
  sync_threads();
  if (lane == 0) scratch[warp] = v;
  sync_threads();
  v = lane < nwarps ? scratch[lane] : -INFINITY;
  return warp_max(v);
}

}  // namespace finepose::kernels
