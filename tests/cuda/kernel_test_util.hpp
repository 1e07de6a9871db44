#pragma once
// Shared by the kernel tests. The same test source builds three ways:
//   emulated  (host C++, kernels run in the SIMT emulator, fibers)
//   _tsan     (host C++ with -fsanitize=thread, emulator in OS-thread mode)
//   _device   (nvcc, kernels run on a GPU; skipped without one)
// Buffer<T> hides where the kernel's data lives: host memory under the
// emulator, device memory (with explicit upload/download) on the GPU.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "finepose/core/half.hpp"

#if defined(__CUDACC__)
#include "finepose/cuda/check.hpp"
#else
#include "finepose/kernels/emulator/emulator.hpp"
#endif
#include "tests/reference_ops.hpp"

namespace fpt {

// Smaller problem sizes when every CUDA thread is an OS thread (TSan).
inline bool small_problems() {
#if defined(__CUDACC__)
  return false;
#else
  return finepose::emu::current_mode() == finepose::emu::Mode::threads;
#endif
}

template <class T>
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(std::size_t n) : host(n) { allocate(); }
  explicit Buffer(std::vector<T> v) : host(std::move(v)) { allocate(); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() {
#if defined(__CUDACC__)
    if (dev_) cudaFree(dev_);
#endif
  }
  // Pointer for kernels. On the device the host copy is uploaded first.
  T* dev() {
#if defined(__CUDACC__)
    return dev_;
#else
    return host.data();
#endif
  }
  void upload() {
#if defined(__CUDACC__)
    if (!host.empty()) FINEPOSE_CUDA_CHECK(cudaMemcpy(dev_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
#endif
  }
  // Wait for the kernels and copy back.
  std::vector<T>& download() {
#if defined(__CUDACC__)
    FINEPOSE_CUDA_CHECK(cudaDeviceSynchronize());
    if (!host.empty()) FINEPOSE_CUDA_CHECK(cudaMemcpy(host.data(), dev_, host.size() * sizeof(T), cudaMemcpyDeviceToHost));
#endif
    return host;
  }
  std::size_t size() const { return host.size(); }
  std::vector<T> host;

 private:
  void allocate() {
#if defined(__CUDACC__)
    if (!host.empty()) FINEPOSE_CUDA_CHECK(cudaMalloc(&dev_, host.size() * sizeof(T)));
    upload();
#endif
  }
#if defined(__CUDACC__)
  T* dev_ = nullptr;
#endif
};

inline std::vector<float> random_vector(std::size_t n, std::uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Round-trip through a storage type so references see exactly the kernel's inputs.
template <class T>
std::vector<T> to_storage(const std::vector<float>& v) {
  std::vector<T> r(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) r[i] = T(v[i]);
  return r;
}
template <class T>
std::vector<float> to_float(const std::vector<T>& v) {
  std::vector<float> r(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) r[i] = float(v[i]);
  return r;
}

// |got - want| <= atol + rtol*|want| everywhere; reports the worst element.
inline void check_close(const std::vector<float>& got, const std::vector<float>& want, float atol, float rtol,
                        const std::string& what) {
  REQUIRE_MESSAGE(got.size() == want.size(), what << ": size " << got.size() << " vs " << want.size());
  double worst = -1;
  [[maybe_unused]] std::size_t at = 0;  // used only by the message (empty where doctest is disabled)
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = got[i], w = want[i];
    const double err = std::fabs(g - w), tol = atol + rtol * std::fabs(w);
    const bool ok = (std::isnan(w) && std::isnan(g)) || (std::isinf(w) && g == w) || err <= tol;
    if (!ok) ++bad;
    const double excess = std::isnan(err) ? 1e30 : err - tol;
    if (excess > worst || (!ok && bad == 1)) {
      worst = excess;
      at = i;
    }
  }
  CHECK_MESSAGE(bad == 0, what << ": " << bad << " of " << got.size() << " elements off; worst at " << at << ": got "
                                << got[at] << " want " << want[at]);
}

// ||got - want||_2 / ||want||_2 (absolute when want is all zeros): ref::rel_l2,
// after checking that the sizes agree.
inline double rel_l2(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  return ref::rel_l2(got, want);
}

}  // namespace fpt
