#pragma once
// The process-wide caching allocator for device memory (CUDA only).
// One device is assumed (the current one when memory is first requested).
#include <cuda_runtime.h>

#include "finepose/cuda/caching_allocator.hpp"
#include "finepose/cuda/check.hpp"

namespace finepose::cuda {

struct CudaMallocBackend {
  static void* alloc(std::size_t bytes) {
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e == cudaErrorMemoryAllocation) {
      (void)cudaGetLastError();  // clear the sticky-free error so later calls are not blamed
      return nullptr;
    }
    FINEPOSE_CUDA_CHECK(e);
    return p;
  }
  static void release(void* p) {
    // at process exit the runtime may already be gone; nothing left to report to
    const cudaError_t e = cudaFree(p);
    if (e != cudaSuccess && e != cudaErrorCudartUnloading) FINEPOSE_CUDA_CHECK(e);
  }
};

using DeviceAllocator = CachingAllocator<CudaMallocBackend>;

inline DeviceAllocator& device_allocator() {
  static DeviceAllocator* a = new DeviceAllocator();  // never destroyed: outlives static DeviceTensors
  return *a;
}

}  // namespace finepose::cuda
