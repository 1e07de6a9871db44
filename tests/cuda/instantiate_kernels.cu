// Instantiates every kernel for every storage type so that nvcc compiles all
// of them for each architecture in CMAKE_CUDA_ARCHITECTURES (80;90).
#include "kernels/layer_norm_forward.cuh"

namespace finepose::kernels {
template void layer_norm_forward<float>(float*, float*, float*, const float*, const float*, const float*, std::int64_t,
                                        std::int64_t, float, stream_t);
template void layer_norm_forward<bfloat16>(bfloat16*, float*, float*, const bfloat16*, const float*, const float*,
                                           std::int64_t, std::int64_t, float, stream_t);
template void layer_norm_forward<half>(half*, float*, float*, const half*, const float*, const float*, std::int64_t,
                                       std::int64_t, float, stream_t);
}  // namespace finepose::kernels
