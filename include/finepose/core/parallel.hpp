#pragma once
// CPU parallelism: OpenMP when available, serial otherwise. Results never
// depend on the thread count (each index is computed by exactly one thread
// and reductions are per-index).
#include <cstdint>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace finepose {

inline int num_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// More threads than this is a mistake, not a machine: the CLI refuses it, the library clamps.
constexpr int kMaxThreads = 1024;

inline void set_num_threads(int n) {
#ifdef _OPENMP
  if (n > 0) omp_set_num_threads(n < kMaxThreads ? n : kMaxThreads);
#else
  (void)n;
#endif
}

// f(i) for i in [0, n); grain: minimum work items worth a thread.
template <class F>
void parallel_for(std::int64_t n, F&& f, std::int64_t grain = 1) {
#ifdef _OPENMP
  if (n >= 2 * grain && omp_get_max_threads() > 1 && !omp_in_parallel()) {
#pragma omp parallel for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) f(i);
    return;
  }
#else
  (void)grain;
#endif
  for (std::int64_t i = 0; i < n; ++i) f(i);
}

}  // namespace finepose
