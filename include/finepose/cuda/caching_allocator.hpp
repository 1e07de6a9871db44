#pragma once
// Caching allocator: size-bucketed free lists in front of a raw allocator
// (cudaMalloc in device_allocator.hpp), so that steady-state inference never
// calls cudaMalloc/cudaFree (both synchronise the device). Blocks are keyed
// by the stream they were last used on and are only handed out again on that
// stream: work queued on one stream is ordered, so a block freed there can be
// reused by the next launch on the same stream without a sync.
// Generic over the backend (no CUDA here), so its logic is tested on the CPU.
//   Backend: static void* alloc(std::size_t bytes)  -> nullptr when out of memory
//            static void release(void* p)
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "finepose/core/error.hpp"

namespace finepose::cuda {

struct AllocatorStats {
  std::size_t bytes_in_use = 0;       // bucket bytes handed out
  std::size_t bytes_cached = 0;       // bucket bytes waiting in free lists
  std::size_t peak_bytes_in_use = 0;
  std::uint64_t backend_allocs = 0;   // cudaMalloc calls
  std::uint64_t backend_frees = 0;
  std::uint64_t cache_hits = 0;
};

// Bucket a request: powers of two from 512 B to 1 MiB, then multiples of
// 2 MiB, so a steady workload maps onto few distinct sizes.
inline std::size_t allocator_bucket(std::size_t bytes) {
  constexpr std::size_t kMin = 512, kSmall = std::size_t(1) << 20, kLarge = std::size_t(2) << 20;
  if (bytes <= kMin) return kMin;
  if (bytes <= kSmall) {
    std::size_t b = kMin;
    while (b < bytes) b <<= 1;
    return b;
  }
  if (bytes > (std::size_t(1) << 46)) fail("device allocator: request of ", bytes, " bytes is too large");
  return (bytes + kLarge - 1) / kLarge * kLarge;
}

template <class Backend>
class CachingAllocator {
 public:
  CachingAllocator() = default;
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;
  ~CachingAllocator() { release_cached(); }

  // A block of at least `bytes` for use on `stream` (nullptr = default stream).
  void* allocate(std::size_t bytes, void* stream = nullptr) {
    if (bytes == 0) return nullptr;
    const std::size_t size = allocator_bucket(bytes);
    std::lock_guard<std::mutex> lk(m_);
    auto it = free_.find({stream, size});
    void* p = nullptr;
    if (it != free_.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      stats_.bytes_cached -= size;
      ++stats_.cache_hits;
    } else {
      p = Backend::alloc(size);
      if (!p) {  // out of memory: give every cached block back and retry once
        release_cached_locked();
        p = Backend::alloc(size);
      }
      if (!p)
        fail("device allocator: out of memory allocating ", bytes, " bytes (", stats_.bytes_in_use,
             " bytes in use)");
      ++stats_.backend_allocs;
    }
    live_[p] = Block{size, stream};
    stats_.bytes_in_use += size;
    if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
    return p;
  }

  // Return a block to its stream's free list (no backend call).
  void deallocate(void* p) {
    if (!p) return;
    std::lock_guard<std::mutex> lk(m_);
    auto it = live_.find(p);
    if (it == live_.end()) fail("device allocator: freeing a pointer it did not allocate (or freeing twice)");
    const Block b = it->second;
    live_.erase(it);
    free_[{b.stream, b.size}].push_back(p);
    stats_.bytes_in_use -= b.size;
    stats_.bytes_cached += b.size;
  }

  // Give every cached (free) block back to the backend; live blocks stay.
  void release_cached() {
    std::lock_guard<std::mutex> lk(m_);
    release_cached_locked();
  }

  // Forget blocks cached for a stream that is being destroyed.
  void release_stream(void* stream) {
    std::lock_guard<std::mutex> lk(m_);
    for (auto it = free_.begin(); it != free_.end();) {
      if (it->first.first == stream) {
        for (void* p : it->second) {
          Backend::release(p);
          ++stats_.backend_frees;
          stats_.bytes_cached -= it->first.second;
        }
        it = free_.erase(it);
      } else {
        ++it;
      }
    }
  }

  AllocatorStats stats() const {
    std::lock_guard<std::mutex> lk(m_);
    return stats_;
  }

 private:
  struct Block {
    std::size_t size;
    void* stream;
  };

  void release_cached_locked() {
    for (auto& kv : free_)
      for (void* p : kv.second) {
        Backend::release(p);
        ++stats_.backend_frees;
      }
    free_.clear();
    stats_.bytes_cached = 0;
  }

  mutable std::mutex m_;
  std::map<std::pair<void*, std::size_t>, std::vector<void*>> free_;  // (stream, bucket) -> blocks
  std::unordered_map<void*, Block> live_;
  AllocatorStats stats_;
};

}  // namespace finepose::cuda
