// Every kernel for every storage type compiled by nvcc for each architecture in
// FINEPOSE_CUDA_ARCHITECTURES (default 80;90), so a kernel nvcc rejects breaks the build:
//   - the ops registered with the kernel harness (tests/cuda/ops_glue.hpp, ops_pointwise.hpp)
//     are instantiated by their registrations, here and in test_kernel_ops_device;
//   - the kernels not yet registered are instantiated explicitly below.
#define DOCTEST_CONFIG_DISABLE
#include "finepose/kernels/adaln_backward.cuh"
#include "finepose/kernels/attention_forward.cuh"
#include "finepose/kernels/layer_norm_backward.cuh"
#include "tests/cuda/ops_glue.hpp"
#include "tests/cuda/ops_pointwise.hpp"

namespace finepose::kernels {

#define FP_INSTANTIATE_STORAGE(T)                                                                                     \
  template void layer_norm_backward<T>(T*, float*, float*, const T*, const T*, const float*, const float*,         \
                                       const float*, std::int64_t, std::int64_t, float*, stream_t);                   \
  template void adaln_silu_backward<T>(T*, float*, float*, float*, const T*, const T*, const float*, const float*,   \
                                       const float*, std::int64_t, std::int64_t, std::int64_t, float, float*,         \
                                       stream_t);                                                                     \
  template void attention_forward<T>(T*, float*, const T*, std::int64_t, std::int64_t, const T*, std::int64_t,       \
                                     std::int64_t, const T*, std::int64_t, std::int64_t, std::int64_t, std::int64_t, \
                                     std::int64_t, std::int64_t, std::int64_t, float, bool, stream_t);

FP_INSTANTIATE_STORAGE(float)
FP_INSTANTIATE_STORAGE(bfloat16)
FP_INSTANTIATE_STORAGE(half)
#undef FP_INSTANTIATE_STORAGE

}  // namespace finepose::kernels
