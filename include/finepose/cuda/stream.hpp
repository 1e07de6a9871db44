#pragma once
// RAII CUDA stream (non-blocking with respect to the legacy default stream).
// Cached allocator blocks of a destroyed stream are released with it.
#include <cuda_runtime.h>

#include <utility>

#include "finepose/cuda/check.hpp"
#include "finepose/cuda/device_allocator.hpp"

namespace finepose::cuda {

class Stream {
 public:
  Stream() { FINEPOSE_CUDA_CHECK(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking)); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  Stream(Stream&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  Stream& operator=(Stream&& o) noexcept {
    if (this != &o) {
      destroy();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  ~Stream() { destroy(); }

  cudaStream_t get() const { return s_; }
  operator cudaStream_t() const { return s_; }  // NOLINT: pass where a cudaStream_t is expected
  void synchronize() const { FINEPOSE_CUDA_CHECK(cudaStreamSynchronize(s_)); }

 private:
  void destroy() noexcept {
    if (!s_) return;
    cudaStreamSynchronize(s_);
    device_allocator().release_stream(s_);
    cudaStreamDestroy(s_);
    s_ = nullptr;
  }
  cudaStream_t s_ = nullptr;
};

}  // namespace finepose::cuda
