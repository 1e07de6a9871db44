#pragma once
// The seam between the device model's host orchestration (cuda/model.hpp) and
// where it runs. The same orchestration code compiles two ways, like the kernels:
//   nvcc (__CUDACC__)  memory from the caching device allocator, copies with
//                      cudaMemcpyAsync, GEMMs on cuBLAS, one CUDA stream,
//                      optional CUDA graph capture
//   host C++           "device" memory is host memory from the same caching
//                      allocator over malloc, GEMMs are ops::gemm (bf16 GEMMs
//                      round their operands' products like cuBLAS: fp32
//                      accumulation, bf16 result), kernels run in the SIMT
//                      emulator; this is how the tests check the whole device
//                      path without a GPU.
// Only the few operations the model needs: allocate/free, upload, download,
// device copy, row-major GEMM C = op(A) op(B) (+ beta C), synchronise.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/core/half.hpp"
#include "finepose/cuda/caching_allocator.hpp"
#include "finepose/kernels/common.cuh"

#if defined(__CUDACC__)
#include "finepose/cuda/cublas_gemm.hpp"
#include "finepose/cuda/device_allocator.hpp"
#include "finepose/cuda/stream.hpp"
#else
#include "finepose/ops/gemm.hpp"
#endif

namespace finepose::cuda {

#if !defined(__CUDACC__)
// Host memory behind the caching allocator in the emulated build, so the
// emulated tests also see how often the model would have called cudaMalloc.
struct EmulatedMallocBackend {
  static void* alloc(std::size_t bytes) { return std::aligned_alloc(256, (bytes + 255) / 256 * 256); }
  static void release(void* p) { std::free(p); }
};
using EmulatedAllocator = CachingAllocator<EmulatedMallocBackend>;
inline EmulatedAllocator& emulated_allocator() {
  static EmulatedAllocator* a = new EmulatedAllocator();  // never destroyed: outlives static arrays
  return *a;
}
#endif

class Backend {
 public:
  static constexpr bool emulated() {
#if defined(__CUDACC__)
    return false;
#else
    return true;
#endif
  }

#if defined(__CUDACC__)
  Backend() : blas_(stream_.get()) {
    // A fixed cuBLAS workspace from our allocator: nothing is allocated
    // behind our back inside the sampling loop or during graph capture.
    workspace_ = device_allocator().allocate(kWorkspaceBytes, stream_.get());
    FINEPOSE_CUBLAS_CHECK(cublasSetWorkspace(blas_.get(), workspace_, kWorkspaceBytes));
  }
  ~Backend() {
    clear_graphs();
    if (workspace_) {
      try {
        cudaStreamSynchronize(stream_.get());
        device_allocator().deallocate(workspace_);
      } catch (...) {
      }
    }
  }
#else
  Backend() = default;
#endif
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  kernels::stream_t stream() const {
#if defined(__CUDACC__)
    return stream_.get();
#else
    return nullptr;
#endif
  }

  void* allocate(std::size_t bytes) {
#if defined(__CUDACC__)
    return device_allocator().allocate(bytes, stream_.get());
#else
    return emulated_allocator().allocate(bytes, nullptr);
#endif
  }
  void deallocate(void* p) {
#if defined(__CUDACC__)
    device_allocator().deallocate(p);
#else
    emulated_allocator().deallocate(p);
#endif
  }
  AllocatorStats allocator_stats() const {
#if defined(__CUDACC__)
    return device_allocator().stats();
#else
    return emulated_allocator().stats();
#endif
  }

  // Host -> device (the host buffer may be reused when this returns).
  void upload(void* dst, const void* src, std::size_t bytes) {
    if (!bytes) return;
#if defined(__CUDACC__)
    FINEPOSE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_.get()));
    FINEPOSE_CUDA_CHECK(cudaStreamSynchronize(stream_.get()));  // pageable source: keep it simple and safe
#else
    std::memcpy(dst, src, bytes);
#endif
  }
  // Device -> host; waits for the stream's work first.
  void download(void* dst, const void* src, std::size_t bytes) {
#if defined(__CUDACC__)
    if (bytes) FINEPOSE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_.get()));
    FINEPOSE_CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
#else
    if (bytes) std::memcpy(dst, src, bytes);
#endif
  }
  // Device -> device, queued on the stream.
  void copy(void* dst, const void* src, std::size_t bytes) {
    if (!bytes) return;
#if defined(__CUDACC__)
    FINEPOSE_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_.get()));
#else
    std::memmove(dst, src, bytes);
#endif
  }
  void synchronize() {
#if defined(__CUDACC__)
    FINEPOSE_CUDA_CHECK(cudaStreamSynchronize(stream_.get()));
#endif
  }

  // TF32 tensor cores for the fp32 GEMMs (device only; about 1e-3 relative error).
  void set_tf32(bool on) { tf32_ = on; }
  bool tf32() const { return tf32_; }

  // Row-major C[M,N] = op(A) op(B) + beta C (ops::gemm semantics).
  void gemm(bool tA, bool tB, std::int64_t M, std::int64_t N, std::int64_t K, const float* A, std::int64_t lda,
            const float* B, std::int64_t ldb, float beta, float* C, std::int64_t ldc) {
#if defined(__CUDACC__)
    gemm_strided_batched(blas_, tA, tB, M, N, K, 1.f, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1,
                         tf32_ ? GemmMath::tf32 : GemmMath::fp32);
#else
    ops::gemm(tA, tB, M, N, K, 1.f, A, lda, B, ldb, beta, C, ldc);
#endif
  }
  void gemm(bool tA, bool tB, std::int64_t M, std::int64_t N, std::int64_t K, const bfloat16* A, std::int64_t lda,
            const bfloat16* B, std::int64_t ldb, float beta, bfloat16* C, std::int64_t ldc) {
#if defined(__CUDACC__)
    gemm_strided_batched(blas_, tA, tB, M, N, K, 1.f, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
#else
    // what cuBLAS does with bf16 storage: widen, accumulate in fp32, round once
    const std::int64_t ra = tA ? K : M, rb = tB ? N : K;
    std::vector<float> a(std::size_t(ra * lda)), b(std::size_t(rb * ldb)), c(std::size_t(M * ldc));
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = float(A[i]);
    for (std::size_t i = 0; i < b.size(); ++i) b[i] = float(B[i]);
    if (beta != 0.f)
      for (std::size_t i = 0; i < c.size(); ++i) c[i] = float(C[i]);
    ops::gemm(tA, tB, M, N, K, 1.f, a.data(), lda, b.data(), ldb, beta, c.data(), ldc);
    for (std::int64_t r = 0; r < M; ++r)
      for (std::int64_t j = 0; j < N; ++j) C[r * ldc + j] = bfloat16(c[std::size_t(r * ldc + j)]);
#endif
  }

  // Run `body` (a sequence of launches on this stream, no host synchronisation,
  // no allocation). With `use_graph` on a device, the first call for `key`
  // captures it into a CUDA graph and every call replays the graph; the key
  // must change whenever a pointer or scalar the launches use changes.
  void run(bool use_graph, const std::string& key, const std::function<void()>& body) {
#if defined(__CUDACC__)
    if (!use_graph) return body();
    auto it = graphs_.find(key);
    if (it == graphs_.end()) {
      cudaGraph_t g = nullptr;
      FINEPOSE_CUDA_CHECK(cudaStreamBeginCapture(stream_.get(), cudaStreamCaptureModeThreadLocal));
      try {
        body();
      } catch (...) {
        cudaStreamEndCapture(stream_.get(), &g);
        if (g) cudaGraphDestroy(g);
        throw;
      }
      FINEPOSE_CUDA_CHECK(cudaStreamEndCapture(stream_.get(), &g));
      cudaGraphExec_t exec = nullptr;
      const cudaError_t e = cudaGraphInstantiate(&exec, g, 0);
      cudaGraphDestroy(g);
      FINEPOSE_CUDA_CHECK(e);
      it = graphs_.emplace(key, exec).first;
    }
    FINEPOSE_CUDA_CHECK(cudaGraphLaunch(it->second, stream_.get()));
#else
    (void)use_graph;
    (void)key;
    body();
#endif
  }
  // Forget captured graphs (their pointers go stale when buffers are reallocated).
  void clear_graphs() {
#if defined(__CUDACC__)
    for (auto& kv : graphs_) cudaGraphExecDestroy(kv.second);
    graphs_.clear();
#endif
  }

 private:
#if defined(__CUDACC__)
  static constexpr std::size_t kWorkspaceBytes = std::size_t(32) << 20;
  Stream stream_;
  CublasHandle blas_;
  void* workspace_ = nullptr;
  std::map<std::string, cudaGraphExec_t> graphs_;
#endif
  bool tf32_ = false;
};

// A device array of T from the backend's caching allocator; grows on demand
// (never shrinks), so repeated calls of the same size never allocate.
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  DeviceArray(Backend& be, std::int64_t n) { resize(be, n); }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  DeviceArray(DeviceArray&& o) noexcept
      : be_(std::exchange(o.be_, nullptr)), p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)),
        cap_(std::exchange(o.cap_, 0)) {}
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    if (this != &o) {
      reset();
      be_ = std::exchange(o.be_, nullptr);
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
      cap_ = std::exchange(o.cap_, 0);
    }
    return *this;
  }
  ~DeviceArray() { reset(); }

  // Make room for n elements (contents are lost when it has to grow). True when it reallocated.
  bool resize(Backend& be, std::int64_t n) {
    if (n < 0 || n > (std::int64_t(1) << 40)) fail("DeviceArray: bad element count ", n);
    if (n <= cap_ && be_ == &be) {
      n_ = n;
      return false;
    }
    reset();
    be_ = &be;
    p_ = n ? static_cast<T*>(be.allocate(std::size_t(n) * sizeof(T))) : nullptr;
    n_ = cap_ = n;
    return true;
  }
  void upload(const T* src, std::int64_t n, std::int64_t offset = 0) {
    check_range("upload", offset, n);
    be_->upload(p_ + offset, src, std::size_t(n) * sizeof(T));
  }
  void download(T* dst, std::int64_t n, std::int64_t offset = 0) const {
    check_range("download", offset, n);
    be_->download(dst, p_ + offset, std::size_t(n) * sizeof(T));
  }

  T* data() { return p_; }
  const T* data() const { return p_; }
  std::int64_t size() const { return n_; }

 private:
  void check_range(const char* who, std::int64_t offset, std::int64_t n) const {
    if (offset < 0 || n < 0 || offset + n > n_ || (n && !be_))
      fail("DeviceArray::", who, ": elements [", offset, ", ", offset + n, ") outside an array of ", n_);
  }
  void reset() noexcept {
    if (p_ && be_) {
      try {
        be_->deallocate(p_);
      } catch (...) {
      }
    }
    p_ = nullptr;
    n_ = cap_ = 0;
  }
  Backend* be_ = nullptr;
  T* p_ = nullptr;
  std::int64_t n_ = 0, cap_ = 0;
};

}  // namespace finepose::cuda
