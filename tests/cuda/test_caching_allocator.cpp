// The caching allocator's bookkeeping with a counting host backend: buckets,
// reuse without backend calls in steady state, per-stream free lists,
// out-of-memory retry after releasing the cache, bad frees. The CUDA backend
// (device_allocator.hpp) only swaps cudaMalloc/cudaFree in.
#include <doctest/doctest.h>

#include <cstdlib>
#include <thread>
#include <vector>

#include "finepose/cuda/caching_allocator.hpp"

namespace fc = finepose::cuda;

namespace {
struct CountingBackend {
  static inline int allocs = 0, frees = 0;
  static inline std::size_t limit = std::size_t(1) << 40;  // fake device capacity
  static inline std::size_t live = 0;
  static void* alloc(std::size_t n) {
    if (live + n > limit) return nullptr;
    ++allocs;
    live += n;
    void* p = std::malloc(n + sizeof(std::size_t));
    *static_cast<std::size_t*>(p) = n;
    return static_cast<char*>(p) + sizeof(std::size_t);
  }
  static void release(void* p) {
    ++frees;
    char* base = static_cast<char*>(p) - sizeof(std::size_t);
    live -= *reinterpret_cast<std::size_t*>(base);
    std::free(base);
  }
  static void reset() {
    allocs = frees = 0;
    live = 0;
    limit = std::size_t(1) << 40;
  }
};
}  // namespace

TEST_CASE("allocator buckets") {
  CHECK(fc::allocator_bucket(1) == 512);
  CHECK(fc::allocator_bucket(512) == 512);
  CHECK(fc::allocator_bucket(513) == 1024);
  CHECK(fc::allocator_bucket(1 << 20) == (1 << 20));
  CHECK(fc::allocator_bucket((1 << 20) + 1) == (2 << 20));
  CHECK(fc::allocator_bucket((5 << 20) + 3) == (6 << 20));
  CHECK_THROWS_AS(fc::allocator_bucket(std::size_t(1) << 50), finepose::Error);
}

TEST_CASE("steady state reuses blocks without backend calls") {
  CountingBackend::reset();
  {
    fc::CachingAllocator<CountingBackend> a;
    auto step = [&] {  // one "inference step": a few temporaries of fixed sizes
      void* x = a.allocate(1000);
      void* y = a.allocate(70000);
      void* z = a.allocate(3 << 20);
      a.deallocate(y);
      void* w = a.allocate(100000);  // same bucket as y: reused within the step
      a.deallocate(x);
      a.deallocate(z);
      a.deallocate(w);
    };
    step();
    const int after_first = CountingBackend::allocs;
    CHECK(after_first == 3);
    for (int i = 0; i < 50; ++i) step();
    CHECK(CountingBackend::allocs == after_first);
    const auto s = a.stats();
    CHECK(s.bytes_in_use == 0);
    CHECK(s.bytes_cached == 1024 + 131072 + (4 << 20));
    CHECK(s.cache_hits == 50 * 4 + 1);
    CHECK(s.peak_bytes_in_use == 1024 + 131072 + (4 << 20));
    a.release_cached();
    CHECK(CountingBackend::frees == 3);
    CHECK(a.stats().bytes_cached == 0);
  }
  CHECK(CountingBackend::live == 0);
}

TEST_CASE("blocks are reused only on the stream that freed them") {
  CountingBackend::reset();
  fc::CachingAllocator<CountingBackend> a;
  int s1 = 0, s2 = 0;  // stand-ins for two cudaStream_t handles
  void* p = a.allocate(4096, &s1);
  a.deallocate(p);
  void* q = a.allocate(4096, &s2);
  CHECK(q != p);
  CHECK(CountingBackend::allocs == 2);
  void* r = a.allocate(4096, &s1);
  CHECK(r == p);
  a.deallocate(q);
  a.deallocate(r);
  a.release_stream(&s2);
  CHECK(CountingBackend::frees == 1);
  CHECK(a.stats().bytes_cached == 4096);
}

TEST_CASE("out of memory: the cache is released and the request retried; then a clear error") {
  CountingBackend::reset();
  CountingBackend::limit = 8 << 20;
  fc::CachingAllocator<CountingBackend> a;
  void* p = a.allocate(6 << 20);
  a.deallocate(p);                     // 6 MiB cached
  void* q = a.allocate(4 << 20);       // does not fit beside the cached block
  CHECK(q != nullptr);
  CHECK(CountingBackend::frees == 1);
  CHECK_THROWS_WITH_AS(a.allocate(6 << 20), doctest::Contains("out of memory"), finepose::Error);
  a.deallocate(q);
}

TEST_CASE("freeing foreign pointers or twice is an error, null is a no-op") {
  CountingBackend::reset();
  fc::CachingAllocator<CountingBackend> a;
  int x = 0;
  CHECK_THROWS_AS(a.deallocate(&x), finepose::Error);
  void* p = a.allocate(10);
  a.deallocate(p);
  CHECK_THROWS_AS(a.deallocate(p), finepose::Error);
  CHECK_NOTHROW(a.deallocate(nullptr));
  CHECK(a.allocate(0) == nullptr);
}

TEST_CASE("allocator is safe to share between threads") {
  CountingBackend::reset();
  fc::CachingAllocator<CountingBackend> a;
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&a, t] {
      for (int i = 0; i < 200; ++i) {
        void* p = a.allocate(std::size_t(512 * (1 + (i + t) % 5)));
        static_cast<char*>(p)[0] = char(i);
        a.deallocate(p);
      }
    });
  for (auto& th : ts) th.join();
  CHECK(a.stats().bytes_in_use == 0);
}
