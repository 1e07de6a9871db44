// Instantiates every kernel for every storage type so that nvcc compiles all
// of them for each architecture in FINEPOSE_CUDA_ARCHITECTURES (default 80;90).
#include "finepose/kernels/adaln_backward.cuh"
#include "finepose/kernels/adaln_forward.cuh"
#include "finepose/kernels/attention_forward.cuh"
#include "finepose/kernels/ddim_step.cuh"
#include "finepose/kernels/epilogue_forward.cuh"
#include "finepose/kernels/layer_norm_backward.cuh"
#include "finepose/kernels/layer_norm_convert.cuh"
#include "finepose/kernels/layer_norm_forward.cuh"
#include "finepose/kernels/layout.cuh"
#include "finepose/kernels/row_add.cuh"
#include "finepose/kernels/sampler_glue.cuh"
#include "finepose/kernels/pose_flip.cuh"
#include "finepose/kernels/softmax_forward.cuh"
#include "finepose/kernels/timestep_embedding.cuh"

namespace finepose::kernels {

#define FP_INSTANTIATE_STORAGE(T)                                                                                     \
  template void layer_norm_forward<T>(T*, float*, float*, const T*, const float*, const float*, std::int64_t,         \
                                      std::int64_t, float, stream_t);                                                 \
  template void adaln_silu_forward<T>(T*, const T*, const float*, const float*, const float*, std::int64_t,          \
                                      std::int64_t, std::int64_t, float, stream_t);                                   \
  template void layer_norm_backward<T>(T*, float*, float*, const T*, const T*, const float*, const float*,         \
                                       const float*, std::int64_t, std::int64_t, float*, stream_t);                   \
  template void adaln_silu_backward<T>(T*, float*, float*, float*, const T*, const T*, const float*, const float*,   \
                                       const float*, std::int64_t, std::int64_t, std::int64_t, float, float*,         \
                                       stream_t);                                                                     \
  template void attention_forward<T>(T*, float*, const T*, std::int64_t, std::int64_t, const T*, std::int64_t,       \
                                     std::int64_t, const T*, std::int64_t, std::int64_t, std::int64_t, std::int64_t, \
                                     std::int64_t, std::int64_t, std::int64_t, float, bool, stream_t);               \
  template void bias_activation_forward<T>(T*, const T*, const float*, std::int64_t, std::int64_t, Activation,       \
                                           stream_t);                                                                 \
  template void residual_add<T>(T*, const T*, std::int64_t, stream_t);                                              \
  template void softmax_forward<T>(T*, const T*, std::int64_t, std::int64_t, stream_t);                             \
  template void flip_poses<T>(T*, std::int64_t, std::int64_t, std::int64_t, const JointPairs&, stream_t);        \
  template void swap_middle_axes<T>(T*, const T*, std::int64_t, std::int64_t, std::int64_t, std::int64_t, stream_t); \
  template void build_pose_input<T>(T*, const float*, const float*, std::int64_t, std::int64_t, std::int64_t,        \
                                    std::int64_t, stream_t);                                                         \
  template void add_row_embeddings<T>(T*, std::int64_t, std::int64_t, const float*, std::int64_t, const float*,      \
                                      std::int64_t, stream_t);                                                       \
  template void bias_residual_add<float, T>(float*, const T*, const float*, std::int64_t, std::int64_t, stream_t);  \
  template void layer_norm_convert<float, T>(T*, const float*, const float*, const float*, std::int64_t,             \
                                             std::int64_t, float, stream_t);                                         \
  template void bias_to_float<T>(float*, const T*, const float*, std::int64_t, std::int64_t, stream_t);

FP_INSTANTIATE_STORAGE(float)
FP_INSTANTIATE_STORAGE(bfloat16)
FP_INSTANTIATE_STORAGE(half)
#undef FP_INSTANTIATE_STORAGE

// fp32-only kernels: referenced so their launchers are compiled here too
void instantiate_fp32_only_kernels() {
  ddim_predict(nullptr, nullptr, nullptr, nullptr, 0, 1.f, -1.f, 1.f, 1.0, 1.0);
  ddim_update(nullptr, nullptr, nullptr, nullptr, 0, 1.f, 1.f, 1.f);
  timestep_embedding(nullptr, nullptr, 0, 8);
  clamp_divide(nullptr, nullptr, 0, -1.f, 1.f, 1.f);
  average_halves(nullptr, nullptr, 0);
  scatter_step(nullptr, nullptr, 0, 0, 1, 0, 1.f);
}

}  // namespace finepose::kernels
