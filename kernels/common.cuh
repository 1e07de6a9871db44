#pragma once
// Portability layer: every kernel in kernels/ is written against these names
// so that one source compiles (a) with nvcc for the GPU and (b) as host C++
// under the SIMT emulator (kernels/emulator/), where the tests run it.
//
//   FP_GLOBAL / FP_DEVICE / FP_HOST_DEVICE     function qualifiers
//   FP_SHARED(float, tile, [32][65]);          static __shared__ array
//   FP_DYNAMIC_SHARED(float, smem);            extern __shared__ buffer
//   sync_threads(), sync_warp(), shfl*/warp_all/any/ballot, atomic_*
//   load(p) / store(p, v)                      float <-> storage type
//   launch_kernel("name", &kernel<...>, grid, block, smem, stream, args...)
//
// Kernels are templates (at least on their storage type) so headers can be
// included from several translation units. Indices: threadIdx, blockIdx,
// blockDim, gridDim as in CUDA (the emulator provides them per thread).
#include <cstddef>
#include <cstdint>
#include <utility>

#include "finepose/core/error.hpp"
#include "finepose/core/half.hpp"

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#define FP_GLOBAL __global__
#define FP_DEVICE __device__ __forceinline__
#define FP_HOST_DEVICE __host__ __device__ __forceinline__
#define FP_SHARED(T, name, dims) __shared__ T name dims
#define FP_DYNAMIC_SHARED(T, name)                                  \
  extern __shared__ __align__(16) unsigned char fp_dynamic_smem_[]; \
  T* name = reinterpret_cast<T*>(fp_dynamic_smem_)
#define FP_LAUNCH_BOUNDS(n) __launch_bounds__(n)
#else
#include <math.h>

#include <cmath>

#include "finepose/kernels/emulator/emulator.hpp"
#define FP_GLOBAL
#define FP_DEVICE inline
#define FP_HOST_DEVICE inline
#define FP_SHARED(T, name, dims) auto& name = *::finepose::emu::shared_var<T dims>()
#define FP_DYNAMIC_SHARED(T, name) T* name = reinterpret_cast<T*>(::finepose::emu::dynamic_shared())
#define FP_LAUNCH_BOUNDS(n)
#endif

namespace finepose::kernels {

constexpr int kWarpSize = 32;
constexpr unsigned kFullMask = 0xffffffffu;

#if defined(__CUDACC__)
using stream_t = cudaStream_t;
using ::dim3;

FP_DEVICE void sync_threads() { __syncthreads(); }
FP_DEVICE void sync_warp(unsigned mask = kFullMask) { __syncwarp(mask); }
template <class T>
FP_DEVICE T shfl(T v, int src_lane, int width = kWarpSize, unsigned mask = kFullMask) {
  return __shfl_sync(mask, v, src_lane, width);
}
template <class T>
FP_DEVICE T shfl_xor(T v, int lane_mask, int width = kWarpSize, unsigned mask = kFullMask) {
  return __shfl_xor_sync(mask, v, lane_mask, width);
}
template <class T>
FP_DEVICE T shfl_down(T v, unsigned delta, int width = kWarpSize, unsigned mask = kFullMask) {
  return __shfl_down_sync(mask, v, delta, width);
}
template <class T>
FP_DEVICE T shfl_up(T v, unsigned delta, int width = kWarpSize, unsigned mask = kFullMask) {
  return __shfl_up_sync(mask, v, delta, width);
}
FP_DEVICE bool warp_all(bool p, unsigned mask = kFullMask) { return __all_sync(mask, p) != 0; }
FP_DEVICE bool warp_any(bool p, unsigned mask = kFullMask) { return __any_sync(mask, p) != 0; }
FP_DEVICE unsigned warp_ballot(bool p, unsigned mask = kFullMask) { return __ballot_sync(mask, p); }
template <class V>
FP_DEVICE V atomic_add(V* p, V v) {
  return atomicAdd(p, v);
}
template <class V>
FP_DEVICE V atomic_max(V* p, V v) {
  return atomicMax(p, v);
}
FP_DEVICE float rsqrt(float x) { return rsqrtf(x); }

// storage <-> float (fp32 arithmetic everywhere)
FP_DEVICE float load(const float* p) { return *p; }
FP_DEVICE float load(const finepose::bfloat16* p) {
  return __uint_as_float(unsigned(*reinterpret_cast<const unsigned short*>(p)) << 16);
}
FP_DEVICE float load(const finepose::half* p) {
  return __half2float(__ushort_as_half(*reinterpret_cast<const unsigned short*>(p)));
}
FP_DEVICE void store(float* p, float v) { *p = v; }
FP_DEVICE void store(finepose::bfloat16* p, float v) {
  *reinterpret_cast<unsigned short*>(p) = __bfloat16_as_ushort(__float2bfloat16_rn(v));
}
FP_DEVICE void store(finepose::half* p, float v) {
  *reinterpret_cast<unsigned short*>(p) = __half_as_ushort(__float2half_rn(v));
}

// Launch and check: configuration errors surface here, asynchronous faults
// at the next synchronising call (checked by the host wrappers).
template <class... P, class... A>
void launch_kernel(const char* name, void (*kernel)(P...), dim3 grid, dim3 block, std::size_t smem, stream_t stream,
                   A&&... args) {
  kernel<<<grid, block, smem, stream>>>(std::forward<A>(args)...);
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) fail("CUDA kernel ", name, " failed to launch: ", cudaGetErrorString(e));
}
#else
using stream_t = emu::stream_t;
using emu::dim3;

inline void sync_threads() { emu::syncthreads(); }
inline void sync_warp(unsigned mask = kFullMask) { emu::syncwarp(mask); }
template <class T>
T shfl(T v, int src_lane, int width = kWarpSize, unsigned mask = kFullMask) {
  return emu::shfl_sync(mask, v, src_lane, width);
}
template <class T>
T shfl_xor(T v, int lane_mask, int width = kWarpSize, unsigned mask = kFullMask) {
  return emu::shfl_xor_sync(mask, v, lane_mask, width);
}
template <class T>
T shfl_down(T v, unsigned delta, int width = kWarpSize, unsigned mask = kFullMask) {
  return emu::shfl_down_sync(mask, v, delta, width);
}
template <class T>
T shfl_up(T v, unsigned delta, int width = kWarpSize, unsigned mask = kFullMask) {
  return emu::shfl_up_sync(mask, v, delta, width);
}
inline bool warp_all(bool p, unsigned mask = kFullMask) { return emu::all_sync(mask, p); }
inline bool warp_any(bool p, unsigned mask = kFullMask) { return emu::any_sync(mask, p); }
inline unsigned warp_ballot(bool p, unsigned mask = kFullMask) { return emu::ballot_sync(mask, p); }
template <class V>
V atomic_add(V* p, V v) {
  return emu::atomic_add(p, v);
}
template <class V>
V atomic_max(V* p, V v) {
  return emu::atomic_max(p, v);
}
inline float rsqrt(float x) { return 1.0f / std::sqrt(x); }
using ::erff;
using ::expf;
using ::logf;
using ::sqrtf;

inline float load(const float* p) { return *p; }
inline float load(const finepose::bfloat16* p) { return float(*p); }
inline float load(const finepose::half* p) { return float(*p); }
inline void store(float* p, float v) { *p = v; }
inline void store(finepose::bfloat16* p, float v) { *p = finepose::bfloat16(v); }
inline void store(finepose::half* p, float v) { *p = finepose::half(v); }

template <class... P, class... A>
void launch_kernel(const char* name, void (*kernel)(P...), dim3 grid, dim3 block, std::size_t smem, stream_t,
                   A&&... args) {
  try {
    emu::launch(grid, block, smem, [&] { kernel(args...); });
  } catch (const Error& e) {
    fail("kernel ", name, ": ", e.what());
  }
}
#endif

// Thread index within the block, flattened (x fastest), and its warp/lane.
FP_DEVICE int flat_thread_index() {
  return int(threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z));
}
FP_DEVICE int lane_index() { return flat_thread_index() & (kWarpSize - 1); }
FP_DEVICE int warp_index() { return flat_thread_index() / kWarpSize; }

FP_HOST_DEVICE std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Host-side argument checks shared by the launchers.
inline void check_count(const char* kernel, const char* what, std::int64_t v) {
  if (v < 0) fail("kernel ", kernel, ": ", what, " = ", v, " is negative");
}
inline void check_ptr(const char* kernel, const char* what, const void* p) {
  if (!p) fail("kernel ", kernel, ": ", what, " is null");
}

}  // namespace finepose::kernels
