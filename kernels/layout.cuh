#pragma once
// Layout changes of the device denoiser (cuda/model.hpp), twins of loops in
// model/mixste.hpp:
//   swap_middle_axes   [A, P, Q, D] -> [A, Q, P, D]          (ops::swap_middle_axes)
//   build_pose_input   rows [x2d, x3d] for the patch embedding
// Storage T = float, bfloat16 or half.
#include "finepose/kernels/glue_common.cuh"

namespace finepose::kernels {

template <class T>
FP_GLOBAL void swap_middle_axes_kernel(T* out, const T* in, std::int64_t A, std::int64_t P, std::int64_t Q,
                                       std::int64_t D) {
  FP_GLUE_LOOP(i, A * P * Q * D) {
    const std::int64_t d = i % D, r = i / D;  // r = (a * Q + q) * P + p in the output
    const std::int64_t p = r % P, q = (r / P) % Q, a = r / (P * Q);
    out[i] = in[((a * P + p) * Q + q) * D + d];
  }
}

template <class T>
FP_GLOBAL void build_pose_input_kernel(T* out, const float* x2d, const float* x3d, std::int64_t rows, std::int64_t HFJ,
                                       std::int64_t FJ, int C2) {
  const int W = C2 + 3;
  FP_GLUE_LOOP(i, rows * W) {
    const std::int64_t r = i / W;
    const int c = int(i % W);
    const std::int64_t b = r / HFJ, fj = r % FJ;
    store(out + i, c < C2 ? x2d[(b * FJ + fj) * C2 + c] : x3d[r * 3 + (c - C2)]);
  }
}

// out[a, q, p, :] = in[a, p, q, :]; out must not alias in.
template <class T>
void swap_middle_axes(T* out, const T* in, std::int64_t A, std::int64_t P, std::int64_t Q, std::int64_t D,
                      stream_t stream = nullptr) {
  const char* k = "swap_middle_axes";
  if (A < 0 || P < 0 || Q < 0 || D < 0) fail("kernel ", k, ": bad shape A=", A, " P=", P, " Q=", Q, " D=", D);
  const std::int64_t n = A * P * Q * D;
  if (n == 0) return;
  check_ptr(k, "out", out);
  check_ptr(k, "in", in);
  if (out == in) fail("kernel ", k, ": out aliases in");
  launch_kernel(k, &swap_middle_axes_kernel<T>, dim3(glue_blocks(n)), dim3(kGlueThreads), 0, stream, out, in, A, P, Q, D);
}

// out [NB*H*F*J, C2+3]: row (b, h, f, j) = [x2d[b, f, j, :], x3d[b, h, f, j, :]].
template <class T>
void build_pose_input(T* out, const float* x2d, const float* x3d, std::int64_t NB, std::int64_t H, std::int64_t FJ,
                      std::int64_t C2, stream_t stream = nullptr) {
  const char* k = "build_pose_input";
  if (NB < 0 || H <= 0 || FJ <= 0 || C2 < 0 || C2 > 64) fail("kernel ", k, ": bad shape NB=", NB, " H=", H, " FJ=", FJ, " C2=", C2);
  const std::int64_t rows = NB * H * FJ;
  if (rows == 0) return;
  check_ptr(k, "out", out);
  check_ptr(k, "x3d", x3d);
  if (C2 > 0) check_ptr(k, "x2d", x2d);
  launch_kernel(k, &build_pose_input_kernel<T>, dim3(glue_blocks(rows * (C2 + 3))), dim3(kGlueThreads), 0, stream, out,
                x2d, x3d, rows, H * FJ, FJ, int(C2));
}

}  // namespace finepose::kernels
