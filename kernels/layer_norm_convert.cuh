#pragma once
// LayerNorm from one storage type into another (the fp32 residual stream into a
// bf16 GEMM operand), fp32 statistics: layer_norm_forward.cuh's row kernel with
// In != Out. CPU twin: ops::layer_norm_forward followed by the storage rounding.
#include "finepose/kernels/layer_norm_forward.cuh"

namespace finepose::kernels {

// out [rows, dim] = LayerNorm(in) with fp32 statistics; out must not alias in
// unless In == Out. gamma/beta nullable.
template <class In, class Out>
void layer_norm_convert(Out* out, const In* in, const float* gamma, const float* beta, std::int64_t rows,
                        std::int64_t dim, float eps, stream_t stream = nullptr) {
  detail::launch_layer_norm_rows<In, Out>("layer_norm_convert", out, nullptr, nullptr, in, gamma, beta, rows, dim, eps,
                                          stream);
}

}  // namespace finepose::kernels
