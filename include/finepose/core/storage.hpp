#pragma once
// Aligned, reference-counted element buffers. 64-byte alignment suits AVX-512
// loads and keeps rows of Eigen maps aligned when the width allows it.
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#include "finepose/core/error.hpp"

namespace finepose {

constexpr std::size_t kAlignment = 64;

template <class T>
class Storage {
 public:
  explicit Storage(std::size_t n) : size_(n) {
    if (n > (std::size_t(1) << 40) / sizeof(T)) fail("storage: refusing to allocate ", n, " elements");
    std::size_t bytes = ((n * sizeof(T) + kAlignment - 1) / kAlignment) * kAlignment;
    if (bytes == 0) bytes = kAlignment;
    data_ = static_cast<T*>(std::aligned_alloc(kAlignment, bytes));
    if (!data_) throw std::bad_alloc();
  }
  ~Storage() { std::free(data_); }
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  T* data() { return data_; }
  const T* data() const { return data_; }
  std::size_t size() const { return size_; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace finepose
