// The SIMT emulator itself: indices, barriers, shared memory, warp shuffles
// and votes, atomics, and the errors it must raise for code that would hang
// or be undefined on a GPU. Runs in fiber mode and (small cases) OS-thread
// mode; the _tsan build runs everything with OS threads.
#include <doctest/doctest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "finepose/kernels/common.cuh"
#include "finepose/kernels/reduce.cuh"
#include "tests/cuda/kernel_test_util.hpp"

namespace fk = finepose::kernels;
namespace emu = finepose::emu;

namespace {

template <class T>
FP_GLOBAL void write_indices(int* out) {
  const int bid = int(blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z));
  const int nthreads = int(blockDim.x * blockDim.y * blockDim.z);
  const int tid = fk::flat_thread_index();
  out[bid * nthreads + tid] = int(threadIdx.x) * 1000000 + int(threadIdx.y) * 10000 + int(threadIdx.z) * 100 +
                              int(blockIdx.x) * 10 + int(blockIdx.y) + int(blockIdx.z) * 5 + T(0);
}

// Reverse each block's slice through shared memory: needs the barrier.
template <int N>
FP_GLOBAL void reverse_blocks(float* data) {
  FP_SHARED(float, tile, [N]);
  const int t = int(threadIdx.x);
  float* d = data + std::int64_t(blockIdx.x) * N;
  tile[t] = d[t];
  fk::sync_threads();
  d[t] = tile[N - 1 - t];
}

template <int N>
FP_GLOBAL void reverse_no_barrier(float* data) {
  FP_SHARED(float, tile, [N]);
  const int t = int(threadIdx.x);
  tile[t] = data[t];
  data[t] = tile[N - 1 - t];  // missing sync_threads()
}

template <class T>
FP_GLOBAL void dynamic_shared_sum(float* out, const float* in) {
  FP_DYNAMIC_SHARED(T, buf);
  FP_SHARED(float, scratch, [32]);
  const int t = int(threadIdx.x);
  buf[t] = in[blockIdx.x * blockDim.x + t];
  fk::sync_threads();
  float s = 0.f;
  for (int i = 0; i <= t; ++i) s += buf[i];  // inclusive prefix sum
  out[blockIdx.x * blockDim.x + t] = s;
  const float total = fk::block_sum(buf[t], scratch);
  if (t == 0) out[gridDim.x * blockDim.x + blockIdx.x] = total;
}

template <class T>
FP_GLOBAL void warp_ops(int* out) {
  const int lane = fk::lane_index(), w = fk::warp_index();
  int* o = out + (blockIdx.x * blockDim.x + threadIdx.x) * 8;
  const T v = T(100 * w + lane);
  o[0] = int(fk::shfl(v, (lane * 7) % 32));
  o[1] = int(fk::shfl_xor(v, 5));
  o[2] = int(fk::shfl_down(v, 3));
  o[3] = int(fk::shfl_up(v, 2, 8));
  o[4] = fk::warp_all(lane < 40) ? 1 : 0;
  o[5] = fk::warp_any(lane == 17) ? 1 : 0;
  o[6] = int(fk::warp_ballot((lane % 3) == 0));
  // lanes 0..15 and 16..31 as two independent groups
  const unsigned half = lane < 16 ? 0x0000ffffu : 0xffff0000u;
  o[7] = int(fk::shfl(v, lane < 16 ? 0 : 16, 32, half));
}

template <class T>
FP_GLOBAL void atomics(float* fsum, int* isum, int* imax) {
  const int g = int(blockIdx.x * blockDim.x + threadIdx.x);
  fk::atomic_add(fsum, T(0.5f));
  fk::atomic_add(isum, 1);
  fk::atomic_max(imax, (g * 37) % 1001);
}

template <class T>
FP_GLOBAL void exit_before_barrier(float* data) {
  if (threadIdx.x >= 16) return;
  data[threadIdx.x] = T(1);
  fk::sync_threads();
}

template <class T>
FP_GLOBAL void shuffle_with_exited_lane(float* data) {
  if (threadIdx.x == 3) return;
  data[threadIdx.x] = fk::shfl(T(threadIdx.x), 0);
}

template <class T>
FP_GLOBAL void barrier_vs_shuffle(float* data) {
  if (threadIdx.x < 32) {
    fk::sync_threads();
  } else if (threadIdx.x < 48) {
    data[threadIdx.x] = fk::shfl(T(1), 0);  // lanes 16..31 of warp 1 never come
  } else {
    fk::sync_threads();
  }
}

template <class T>
FP_GLOBAL void mixed_warp_ops(int* out) {
  if (threadIdx.x % 2)
    out[threadIdx.x] = fk::shfl(T(1), 0);
  else
    out[threadIdx.x] = fk::warp_any(true);
}

template <class T>
FP_GLOBAL void partial_warp_full_mask(int* out) {
  out[threadIdx.x] = fk::shfl(T(threadIdx.x), 0);  // blockDim 40: lanes 8..31 of warp 1 do not exist
}

template <class T>
FP_GLOBAL void partial_warp_ok(int* out) {
  const unsigned mask = threadIdx.x < 32 ? fk::kFullMask : 0xffu;
  out[threadIdx.x] = fk::shfl(T(threadIdx.x), 0, 32, mask);
}

void indices_case() {
  const fk::dim3 grid(3, 2, 2), block(4, 3, 2);
  std::vector<int> out(3 * 2 * 2 * 24, -1);
  fk::launch_kernel("write_indices", &write_indices<int>, grid, block, 0, nullptr, out.data());
  for (unsigned bz = 0; bz < 2; ++bz)
    for (unsigned by = 0; by < 2; ++by)
      for (unsigned bx = 0; bx < 3; ++bx)
        for (unsigned tz = 0; tz < 2; ++tz)
          for (unsigned ty = 0; ty < 3; ++ty)
            for (unsigned tx = 0; tx < 4; ++tx) {
              const unsigned b = bx + 3 * (by + 2 * bz), t = tx + 4 * (ty + 3 * tz);
              CHECK(out[b * 24 + t] == int(tx * 1000000 + ty * 10000 + tz * 100 + bx * 10 + by + bz * 5));
            }
}

void barrier_case(int blocks) {
  constexpr int N = 256;
  auto data = fpt::random_vector(std::size_t(blocks) * N, 3);
  auto orig = data;
  fk::launch_kernel("reverse_blocks", &reverse_blocks<N>, fk::dim3(unsigned(blocks)), fk::dim3(N), 0, nullptr, data.data());
  for (int b = 0; b < blocks; ++b)
    for (int i = 0; i < N; ++i) CHECK(data[std::size_t(b * N + i)] == orig[std::size_t(b * N + N - 1 - i)]);
}

void dynamic_shared_case() {
  const int blocks = 3, threads = 96;
  auto in = fpt::random_vector(blocks * threads, 5);
  std::vector<float> out(blocks * threads + blocks);
  fk::launch_kernel("dynamic_shared_sum", &dynamic_shared_sum<float>, fk::dim3(blocks), fk::dim3(threads),
                    threads * sizeof(float), nullptr, out.data(), in.data());
  for (int b = 0; b < blocks; ++b) {
    float s = 0.f;
    for (int t = 0; t < threads; ++t) {
      s += in[std::size_t(b * threads + t)];
      CHECK(out[std::size_t(b * threads + t)] == doctest::Approx(s).epsilon(1e-5));
    }
    CHECK(out[std::size_t(blocks * threads + b)] == doctest::Approx(s).epsilon(1e-5));
  }
}

void warp_ops_case() {
  const int blocks = 2, threads = 64;
  std::vector<int> out(blocks * threads * 8, -1);
  fk::launch_kernel("warp_ops", &warp_ops<int>, fk::dim3(blocks), fk::dim3(threads), 0, nullptr, out.data());
  for (int g = 0; g < blocks * threads; ++g) {
    const int lane = g % 32, w = (g % threads) / 32;
    const int* o = &out[std::size_t(g * 8)];
    auto val = [&](int l) { return 100 * w + l; };
    CHECK(o[0] == val((lane * 7) % 32));
    CHECK(o[1] == val(lane ^ 5));
    CHECK(o[2] == val(lane + 3 < 32 ? lane + 3 : lane));
    CHECK(o[3] == val(lane % 8 >= 2 ? lane - 2 : lane));
    CHECK(o[4] == 1);
    CHECK(o[5] == 1);
    CHECK(unsigned(o[6]) == 0x49249249u);
    CHECK(o[7] == val(lane < 16 ? 0 : 16));
  }
}

void atomics_case() {
  float fsum = 0.f;
  int isum = 0, imax = -1;
  const int blocks = 5, threads = 64;
  fk::launch_kernel("atomics", &atomics<float>, fk::dim3(blocks), fk::dim3(threads), 0, nullptr, &fsum, &isum, &imax);
  CHECK(fsum == doctest::Approx(0.5 * blocks * threads));
  CHECK(isum == blocks * threads);
  int want = -1;
  for (int g = 0; g < blocks * threads; ++g) want = std::max(want, (g * 37) % 1001);
  CHECK(imax == want);
}

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const finepose::Error& e) {
    return e.what();
  }
  return "";
}

void error_cases() {
  std::vector<float> f(64, 0.f);
  std::vector<int> i(64, 0);
  auto e1 = error_of([&] {
    fk::launch_kernel("exit_before_barrier", &exit_before_barrier<float>, fk::dim3(1), fk::dim3(32), 0, nullptr, f.data());
  });
  CHECK_MESSAGE(e1.find("exited while others wait at __syncthreads") != std::string::npos, e1);
  CHECK(e1.find("exit_before_barrier") != std::string::npos);
  auto e2 = error_of([&] {
    fk::launch_kernel("shuffle_with_exited_lane", &shuffle_with_exited_lane<float>, fk::dim3(1), fk::dim3(32), 0,
                      nullptr, f.data());
  });
  CHECK_MESSAGE(e2.find("exited") != std::string::npos, e2);
  auto e3 = error_of([&] {
    fk::launch_kernel("barrier_vs_shuffle", &barrier_vs_shuffle<float>, fk::dim3(1), fk::dim3(64), 0, nullptr, f.data());
  });
  CHECK_MESSAGE(e3.find("deadlock") != std::string::npos, e3);
  auto e4 = error_of([&] {
    fk::launch_kernel("mixed_warp_ops", &mixed_warp_ops<int>, fk::dim3(1), fk::dim3(32), 0, nullptr, i.data());
  });
  CHECK_MESSAGE(e4.find("divergence") != std::string::npos, e4);
  auto e5 = error_of([&] {
    fk::launch_kernel("partial_warp_full_mask", &partial_warp_full_mask<int>, fk::dim3(1), fk::dim3(40), 0, nullptr,
                      i.data());
  });
  CHECK_MESSAGE(e5.find("do not exist") != std::string::npos, e5);
  fk::launch_kernel("partial_warp_ok", &partial_warp_ok<int>, fk::dim3(1), fk::dim3(40), 0, nullptr, i.data());
  for (int t = 0; t < 40; ++t) CHECK(i[std::size_t(t)] == (t < 32 ? 0 : 32));
  // bad configurations are refused before anything runs
  CHECK_THROWS_AS(fk::launch_kernel("write_indices", &write_indices<int>, fk::dim3(1), fk::dim3(2048), 0, nullptr,
                                    i.data()),
                  finepose::Error);
  CHECK_THROWS_AS(fk::launch_kernel("write_indices", &write_indices<int>, fk::dim3(0), fk::dim3(32), 0, nullptr,
                                    i.data()),
                  finepose::Error);
  CHECK_THROWS_AS(fk::launch_kernel("dynamic_shared_sum", &dynamic_shared_sum<float>, fk::dim3(1), fk::dim3(32),
                                    std::size_t(1) << 20, nullptr, f.data(), f.data()),
                  finepose::Error);
  // the emulator keeps working after an aborted launch
  barrier_case(2);
}

void all_cases(int blocks) {
  indices_case();
  barrier_case(blocks);
  dynamic_shared_case();
  warp_ops_case();
  atomics_case();
  error_cases();
}

}  // namespace

TEST_CASE("emulator: default mode") { all_cases(fpt::small_problems() ? 3 : 40); }

#if !defined(FINEPOSE_EMU_SANITIZER)
TEST_CASE("emulator: OS-thread mode") {
  emu::set_mode(emu::Mode::threads);
  all_cases(3);
  emu::set_mode(emu::Mode::fibers);
}

TEST_CASE("emulator: a missing barrier reads poisoned shared memory (fibers)") {
  emu::set_mode(emu::Mode::fibers);
  constexpr int N = 64;
  std::vector<float> data(N);
  std::iota(data.begin(), data.end(), 0.f);
  fk::launch_kernel("reverse_no_barrier", &reverse_no_barrier<N>, fk::dim3(1), fk::dim3(N), 0, nullptr, data.data());
  // fibers run each thread up to its next barrier: thread 0 reads tile[63]
  // before thread 63 wrote it, and gets the 0xFF poison (a NaN)
  CHECK(std::isnan(data[0]));
}
#endif
