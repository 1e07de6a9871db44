#pragma once
// Training data as upstream's ChunkedGenerator_Seq sees it: sequences of 2D
// inputs [N, J, 2] and root-relative 3D targets [N, J, 3] (metres, root joint
// zero), cut into F-frame chunks centred on the sequence (edge padding at both
// ends), each chunk optionally also used mirrored (flip augmentation).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "finepose/core/philox.hpp"
#include "finepose/core/tensor.hpp"

namespace finepose::train {

struct Sequence {
  std::string name;
  TensorF x2d;        // [N, J, 2]
  TensorF x3d;        // [N, J, 3]
  int64_t label = 0;  // index into Dataset::labels
};

struct Dataset {
  std::vector<Sequence> seqs;
  std::vector<std::string> labels;  // action texts (prompt of each label)

  int64_t frames() const {
    int64_t n = 0;
    for (auto& s : seqs) n += s.x2d.size(0);
    return n;
  }
  int64_t label_index(const std::string& l) {
    for (std::size_t i = 0; i < labels.size(); ++i)
      if (labels[i] == l) return int64_t(i);
    labels.push_back(l);
    return int64_t(labels.size()) - 1;
  }
};

struct Chunk {
  int64_t seq = 0, start = 0;  // start may be negative (padded)
  bool flip = false;
};

// Upstream's chunk bounds: n = ceil(N / F) chunks, shifted left by half the overhang.
inline std::vector<Chunk> make_chunks(const Dataset& d, int64_t F, bool augment) {
  std::vector<Chunk> out;
  for (std::size_t i = 0; i < d.seqs.size(); ++i) {
    const int64_t N = d.seqs[i].x2d.size(0);
    if (N == 0) continue;
    const int64_t n = (N + F - 1) / F, offset = (n * F - N) / 2;
    for (int64_t c = 0; c < n; ++c) out.push_back({int64_t(i), c * F - offset, false});
    if (augment)
      for (int64_t c = 0; c < n; ++c) out.push_back({int64_t(i), c * F - offset, true});
  }
  return out;
}

// Copies frames [start, start + F) of a [N, J, C] tensor, repeating the edge frames outside.
inline void copy_padded(float* dst, const TensorF& src, int64_t start, int64_t F) {
  const int64_t N = src.size(0), row = src.numel() / N;
  for (int64_t f = 0; f < F; ++f) {
    const int64_t s = std::min(std::max(start + f, int64_t(0)), N - 1);
    std::copy(src.data() + s * row, src.data() + (s + 1) * row, dst + f * row);
  }
}

// x -> -x and left/right joints swapped, for F frames of J joints with C channels.
inline void mirror(float* x, int64_t F, int64_t J, int64_t C, const std::vector<int64_t>& left,
                   const std::vector<int64_t>& right) {
  for (int64_t f = 0; f < F; ++f) {
    float* p = x + f * J * C;
    for (int64_t j = 0; j < J; ++j) p[j * C] = -p[j * C];
    for (std::size_t k = 0; k < left.size(); ++k)
      for (int64_t c = 0; c < C; ++c) std::swap(p[left[k] * C + c], p[right[k] * C + c]);
  }
}

// Counter-based random numbers: value i of stream s under a seed is fixed, so a run
// can resume anywhere from (seed, epoch, step) alone.
inline uint32_t random_u32(uint64_t seed, uint64_t stream, uint64_t i) {
  auto r = Philox4x32::generate({uint32_t(i), uint32_t(i >> 32), uint32_t(stream), uint32_t(stream >> 32)},
                                {uint32_t(seed), uint32_t(seed >> 32)});
  return r[0];
}
inline double random_uniform(uint64_t seed, uint64_t stream, uint64_t i) {
  return (double(random_u32(seed, stream, i)) + 0.5) / 4294967296.0;
}

// Fisher-Yates permutation of n items from stream `stream`.
inline std::vector<int64_t> permutation(int64_t n, uint64_t seed, uint64_t stream) {
  std::vector<int64_t> p(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[size_t(i)] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = int64_t(random_u32(seed, stream, uint64_t(i)) % uint64_t(i + 1));
    std::swap(p[size_t(i)], p[size_t(j)]);
  }
  return p;
}

}  // namespace finepose::train
