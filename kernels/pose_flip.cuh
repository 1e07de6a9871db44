#pragma once
// Left/right mirror of poses [rows, J, C] in place (flip test-time
// augmentation): channel 0 is negated (x -> -x) and paired joints swap, by
// default H36M's left [4,5,6,11,12,13] with right [1,2,3,14,15,16]. One
// thread per pose row. CPU twin: flip_poses in diffusion/ddim.hpp.
#include <vector>

#include "finepose/kernels/common.cuh"

namespace finepose::kernels {

constexpr int kMaxJointPairs = 32;
constexpr int kFlipThreads = 128;

struct JointPairs {
  int count = 0;
  int left[kMaxJointPairs] = {};
  int right[kMaxJointPairs] = {};
};

inline JointPairs h36m_joint_pairs() {
  JointPairs p;
  const int l[6] = {4, 5, 6, 11, 12, 13}, r[6] = {1, 2, 3, 14, 15, 16};
  p.count = 6;
  for (int i = 0; i < 6; ++i) {
    p.left[i] = l[i];
    p.right[i] = r[i];
  }
  return p;
}

template <class T>
FP_GLOBAL void flip_poses_kernel(T* x, std::int64_t rows, int J, int C, JointPairs pairs) {
  const std::int64_t stride = std::int64_t(gridDim.x) * blockDim.x;
  for (std::int64_t r = std::int64_t(blockIdx.x) * blockDim.x + threadIdx.x; r < rows; r += stride) {
    T* p = x + r * J * C;
    for (int j = 0; j < J; ++j) store(p + j * C, -load(p + j * C));
    for (int i = 0; i < pairs.count; ++i)
      for (int c = 0; c < C; ++c) {
        T* a = p + pairs.left[i] * C + c;
        T* b = p + pairs.right[i] * C + c;
        const T t = *a;
        *a = *b;
        *b = t;
      }
  }
}

template <class T>
void flip_poses(T* x, std::int64_t rows, std::int64_t J, std::int64_t C, const JointPairs& pairs,
                stream_t stream = nullptr) {
  const char* k = "flip_poses";
  if (rows < 0 || J <= 0 || C <= 0 || J * C > (1 << 20)) fail("kernel ", k, ": bad shape rows=", rows, " J=", J, " C=", C);
  if (pairs.count < 0 || pairs.count > kMaxJointPairs) fail("kernel ", k, ": ", pairs.count, " joint pairs (max ", kMaxJointPairs, ")");
  for (int i = 0; i < pairs.count; ++i) {
    if (pairs.left[i] < 0 || pairs.left[i] >= J || pairs.right[i] < 0 || pairs.right[i] >= J)
      fail("kernel ", k, ": joint pair (", pairs.left[i], ", ", pairs.right[i], ") outside [0, ", J, ")");
  }
  if (rows == 0) return;
  check_ptr(k, "x", x);
  const std::int64_t b = ceil_div(rows, kFlipThreads);
  launch_kernel(k, &flip_poses_kernel<T>, dim3(unsigned(b < 65536 ? b : 65536)), dim3(kFlipThreads), 0, stream, x, rows,
                int(J), int(C), pairs);
}

// Pairs from index lists (e.g. a skeleton's joints_left / joints_right).
inline JointPairs make_joint_pairs(const std::vector<std::int64_t>& left, const std::vector<std::int64_t>& right) {
  if (left.size() != right.size()) fail("flip_poses: ", left.size(), " left joints but ", right.size(), " right joints");
  if (left.size() > std::size_t(kMaxJointPairs)) fail("flip_poses: ", left.size(), " joint pairs (max ", kMaxJointPairs, ")");
  JointPairs p;
  p.count = int(left.size());
  for (std::size_t i = 0; i < left.size(); ++i) {
    if (left[i] < 0 || right[i] < 0 || left[i] > (1 << 20) || right[i] > (1 << 20))
      fail("flip_poses: joint pair (", left[i], ", ", right[i], ") is out of range");
    p.left[i] = int(left[i]);
    p.right[i] = int(right[i]);
  }
  return p;
}

}  // namespace finepose::kernels
