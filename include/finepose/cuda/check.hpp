#pragma once
// Error checking for the CUDA path: every runtime/cuBLAS call goes through
// FINEPOSE_CUDA_CHECK / FINEPOSE_CUBLAS_CHECK, every launch is followed by
// FINEPOSE_CUDA_CHECK_LAUNCH(). Failures throw finepose::Error naming the
// call, file and line. CUDA-only: include only from nvcc-compiled code or
// with the CUDA toolkit on the include path.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include "finepose/core/error.hpp"

namespace finepose::cuda {

inline const char* cublas_status_name(cublasStatus_t s) {
  switch (s) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
    default: return "unknown cuBLAS status";
  }
}

inline void check_cuda(cudaError_t e, const char* call, const char* file, int line) {
  if (e != cudaSuccess) fail("CUDA error ", cudaGetErrorName(e), " (", cudaGetErrorString(e), ") in ", call, " at ", file, ":", line);
}

inline void check_cublas(cublasStatus_t s, const char* call, const char* file, int line) {
  if (s != CUBLAS_STATUS_SUCCESS) fail("cuBLAS error ", cublas_status_name(s), " in ", call, " at ", file, ":", line);
}

}  // namespace finepose::cuda

#define FINEPOSE_CUDA_CHECK(call) ::finepose::cuda::check_cuda((call), #call, __FILE__, __LINE__)
#define FINEPOSE_CUBLAS_CHECK(call) ::finepose::cuda::check_cublas((call), #call, __FILE__, __LINE__)
// After a <<<...>>> launch: configuration errors are reported at once.
#define FINEPOSE_CUDA_CHECK_LAUNCH() ::finepose::cuda::check_cuda(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
