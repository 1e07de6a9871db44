#pragma once
// DeviceTensor<T>: a contiguous, row-major device array with a shape, memory
// from the caching allocator (returned to it on destruction, no cudaFree).
// Move-only; copies between host and device are explicit.
#include <cuda_runtime.h>

#include <utility>

#include "finepose/core/tensor.hpp"
#include "finepose/cuda/check.hpp"
#include "finepose/cuda/device_allocator.hpp"

namespace finepose::cuda {

template <class T>
class DeviceTensor {
 public:
  DeviceTensor() = default;
  // Uninitialised device memory for `shape`, associated with `stream`.
  explicit DeviceTensor(Shape shape, cudaStream_t stream = nullptr) : shape_(std::move(shape)), stream_(stream) {
    const std::int64_t n = shape_numel(shape_);
    if (n > std::int64_t(1) << 40) fail("DeviceTensor: shape ", shape_str(shape_), " is too large");
    data_ = static_cast<T*>(device_allocator().allocate(std::size_t(n) * sizeof(T), stream_));
  }
  DeviceTensor(const DeviceTensor&) = delete;
  DeviceTensor& operator=(const DeviceTensor&) = delete;
  DeviceTensor(DeviceTensor&& o) noexcept
      : shape_(std::move(o.shape_)), data_(std::exchange(o.data_, nullptr)), stream_(o.stream_) {}
  DeviceTensor& operator=(DeviceTensor&& o) noexcept {
    if (this != &o) {
      reset();
      shape_ = std::move(o.shape_);
      data_ = std::exchange(o.data_, nullptr);
      stream_ = o.stream_;
    }
    return *this;
  }
  ~DeviceTensor() { reset(); }

  // Upload a host tensor (made contiguous first).
  static DeviceTensor from_host(const Tensor<T>& t, cudaStream_t stream = nullptr) {
    DeviceTensor d(t.shape(), stream);
    const Tensor<T> c = t.contiguous();
    d.copy_from_host(c.data(), c.numel());
    return d;
  }

  // Download into a new host tensor; waits for the stream.
  Tensor<T> to_host() const {
    Tensor<T> t(shape_);
    copy_to_host(t.data(), t.numel());
    return t;
  }

  void copy_from_host(const T* src, std::int64_t n) {
    check_count("copy_from_host", n);
    if (n) FINEPOSE_CUDA_CHECK(cudaMemcpyAsync(data_, src, std::size_t(n) * sizeof(T), cudaMemcpyHostToDevice, stream_));
  }
  void copy_to_host(T* dst, std::int64_t n) const {
    check_count("copy_to_host", n);
    if (n) FINEPOSE_CUDA_CHECK(cudaMemcpyAsync(dst, data_, std::size_t(n) * sizeof(T), cudaMemcpyDeviceToHost, stream_));
    FINEPOSE_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  void zero() {
    if (numel()) FINEPOSE_CUDA_CHECK(cudaMemsetAsync(data_, 0, bytes(), stream_));
  }
  // Same elements, new shape.
  void reshape(Shape s) {
    if (shape_numel(s) != numel())
      fail("DeviceTensor::reshape: ", shape_str(shape_), " has ", numel(), " elements, ", shape_str(s), " needs ",
           shape_numel(s));
    shape_ = std::move(s);
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  std::int64_t size(int d) const { return shape_.at(std::size_t(d < 0 ? d + int(shape_.size()) : d)); }
  std::int64_t numel() const { return shape_.empty() && !data_ ? 0 : shape_numel(shape_); }
  std::size_t bytes() const { return std::size_t(numel()) * sizeof(T); }
  cudaStream_t stream() const { return stream_; }
  bool defined() const { return data_ != nullptr; }

 private:
  void check_count(const char* who, std::int64_t n) const {
    if (n < 0 || n > numel())
      fail("DeviceTensor::", who, ": ", n, " elements for a tensor of shape ", shape_str(shape_));
  }
  void reset() noexcept {
    if (data_) {
      try {
        device_allocator().deallocate(data_);
      } catch (...) {
      }
      data_ = nullptr;
    }
  }

  Shape shape_;
  T* data_ = nullptr;
  cudaStream_t stream_ = nullptr;
};

}  // namespace finepose::cuda
