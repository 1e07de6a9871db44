// Built only with -fsanitize=thread: a kernel that writes shared memory and
// reads another thread's element without __syncthreads. ThreadSanitizer must
// report a data race (ctest checks its output); the same kernel with the
// barrier must not (covered by the other _tsan tests).
#include <cstdio>
#include <vector>

#include "finepose/kernels/common.cuh"

namespace fk = finepose::kernels;

template <int N>
FP_GLOBAL void racy_reverse(float* data) {
  FP_SHARED(float, tile, [N]);
  const int t = int(threadIdx.x);
  tile[t] = data[t];
  data[t] = tile[N - 1 - t];  // BUG (deliberate): no sync_threads() between write and read
}

int main() {
  constexpr int N = 64;
  std::vector<float> data(N, 1.f);
  fk::launch_kernel("racy_reverse", &racy_reverse<N>, fk::dim3(1), fk::dim3(N), 0, nullptr, data.data());
  std::printf("racy kernel finished\n");
  return 0;
}
