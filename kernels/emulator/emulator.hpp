#pragma once
// SIMT emulator: runs CUDA-style kernels (written against kernels/common.cuh)
// as host C++ with real per-thread execution. A launch executes its blocks
// one after another; inside a block every CUDA thread is either
//   - a fiber (default): switched cooperatively at __syncthreads and warp
//     operations, deterministic and fast, or
//   - an OS thread (Mode::threads, forced under ThreadSanitizer/ASan): the
//     barrier and warp exchanges are mutex/condition-variable based, so TSan
//     sees exactly the happens-before edges a real GPU guarantees and flags
//     shared-memory accesses that lack a __syncthreads.
// Both modes check what CUDA leaves undefined and real hardware punishes:
// warp operations whose mask names exited or non-existent lanes, lanes of
// one mask calling different operations, threads that exit while others wait
// at __syncthreads, and deadlocks. Shared memory is poisoned (0xFF bytes, a
// NaN for floats) at the start of every block so reads of unwritten shared
// memory show up in results.
#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "finepose/core/error.hpp"
#include "finepose/kernels/emulator/fiber.hpp"
#include "finepose/kernels/emulator/tsan_annotations.hpp"
#include "finepose/kernels/emulator/warp_exchange.hpp"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define FINEPOSE_EMU_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define FINEPOSE_EMU_SANITIZER 1
#endif
#endif

namespace finepose::emu {

struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

using stream_t = void*;  // launches are synchronous; streams are accepted and ignored

constexpr std::size_t kMaxStaticShared = 48 * 1024;    // CUDA's static __shared__ limit
constexpr std::size_t kMaxDynamicShared = 163 * 1024;  // sm_80's opt-in limit (sm_90: 227 KiB)
constexpr unsigned kMaxThreadsPerBlock = 1024;

enum class Mode { fibers, threads };

class BlockRunner;

// What a CUDA thread can ask about itself.
struct ThreadCtx {
  uint3 thread_idx, block_idx;
  dim3 block_dim, grid_dim;
  int linear = 0, lane = 0, warp = 0;
  std::size_t shared_cursor = 0;  // next free byte of static shared memory
  BlockRunner* runner = nullptr;
};

inline thread_local ThreadCtx* t_current = nullptr;

inline ThreadCtx& this_thread() {
  if (!t_current) fail("emulator: a device builtin was used outside a kernel launch");
  return *t_current;
}

// ---- mode selection ---------------------------------------------------------
inline Mode& mode_override_storage() {
  static Mode m = Mode::fibers;
  return m;
}
inline bool& mode_overridden() {
  static bool b = false;
  return b;
}
// Threads when built with a sanitizer (fibers would confuse it) or with
// FINEPOSE_EMU_THREADS, else FINEPOSE_EMU_MODE=threads|fibers, else fibers.
inline Mode current_mode() {
#if defined(FINEPOSE_EMU_SANITIZER) || defined(FINEPOSE_EMU_THREADS)
  return Mode::threads;
#else
  if (mode_overridden()) return mode_override_storage();
  static const Mode from_env = [] {
    const char* e = std::getenv("FINEPOSE_EMU_MODE");
    return (e && std::string(e) == "threads") ? Mode::threads : Mode::fibers;
  }();
  return from_env;
#endif
}
inline void set_mode(Mode m) {
  mode_override_storage() = m;
  mode_overridden() = true;
}

// ---- the per-launch block engine ---------------------------------------------
class BlockRunner {
 public:
  BlockRunner(dim3 grid, dim3 block, std::size_t dyn_smem, void (*invoke)(void*), void* body)
      : grid_(grid), block_(block), invoke_(invoke), body_(body) {
    n_ = int(block.x * block.y * block.z);
    threads_.resize(std::size_t(n_));
    warps_.resize(std::size_t((n_ + 31) / 32));
    static_smem_.assign(kMaxStaticShared, 0xFF);
    dyn_smem_.assign(std::max<std::size_t>(dyn_smem, 16), 0xFF);
    for (int t = 0; t < n_; ++t) {
      ThreadCtx& c = threads_[std::size_t(t)];
      c.linear = t;
      c.lane = t % 32;
      c.warp = t / 32;
      c.thread_idx = {unsigned(t) % block.x, unsigned(t) / block.x % block.y, unsigned(t) / (block.x * block.y)};
      c.block_dim = block;
      c.grid_dim = grid;
      c.runner = this;
    }
  }
  virtual ~BlockRunner() = default;
  BlockRunner(const BlockRunner&) = delete;
  BlockRunner& operator=(const BlockRunner&) = delete;

  virtual void run() = 0;
  virtual void barrier(ThreadCtx& t) = 0;
  virtual std::uint64_t warp_op(ThreadCtx& t, WarpOpKind k, std::uint32_t mask, std::uint64_t value, int src) = 0;
  // Stop the launch with an error raised inside a kernel thread.
  [[noreturn]] virtual void abort_kernel(ThreadCtx& t, const std::string& why) = 0;

  unsigned char* static_shared() { return static_smem_.data(); }
  unsigned char* dynamic_shared() { return dyn_smem_.data(); }

 protected:
  std::uint64_t num_blocks() const { return std::uint64_t(grid_.x) * grid_.y * grid_.z; }

  // Reset per-block state: indices, warp slots, poisoned shared memory.
  void setup_block(std::uint64_t b) {
    const uint3 bi{unsigned(b % grid_.x), unsigned(b / grid_.x % grid_.y), unsigned(b / (std::uint64_t(grid_.x) * grid_.y))};
    std::size_t used = 0;
    for (auto& c : threads_) {
      used = std::max(used, c.shared_cursor);
      c.block_idx = bi;
      c.shared_cursor = 0;
    }
    std::memset(static_smem_.data(), 0xFF, std::max(used, static_used_));
    static_used_ = used;
    std::memset(dyn_smem_.data(), 0xFF, dyn_smem_.size());
    for (std::size_t w = 0; w < warps_.size(); ++w) {
      warps_[w] = WarpState{};
      const int first = int(w) * 32, count = std::min(32, n_ - first);
      warps_[w].existing = count == 32 ? 0xffffffffu : ((1u << count) - 1u);
    }
  }

  std::string where(const ThreadCtx& t) const {
    return "block (" + std::to_string(t.block_idx.x) + "," + std::to_string(t.block_idx.y) + "," +
           std::to_string(t.block_idx.z) + ") thread (" + std::to_string(t.thread_idx.x) + "," +
           std::to_string(t.thread_idx.y) + "," + std::to_string(t.thread_idx.z) + ")";
  }

  dim3 grid_, block_;
  int n_ = 0;
  void (*invoke_)(void*);
  void* body_;
  std::vector<ThreadCtx> threads_;
  std::vector<WarpState> warps_;
  std::vector<unsigned char> static_smem_, dyn_smem_;
  std::size_t static_used_ = kMaxStaticShared;
  std::string error_;
};

enum class ThreadState : std::uint8_t { runnable, at_barrier, in_warp_op, done };

inline const char* state_name(ThreadState s) {
  switch (s) {
    case ThreadState::runnable: return "running";
    case ThreadState::at_barrier: return "waits at __syncthreads";
    case ThreadState::in_warp_op: return "waits in a warp operation";
    case ThreadState::done: return "exited";
  }
  return "?";
}

// ---- fibers -------------------------------------------------------------------
class FiberRunner final : public BlockRunner {
 public:
  using BlockRunner::BlockRunner;

  void run() override {
    auto& pool = stack_pool();
    const std::size_t stack_bytes = fiber_stack_bytes();
    while (pool.size() < std::size_t(n_)) pool.emplace_back(stack_bytes);
    ctx_.resize(std::size_t(n_));
    st_.resize(std::size_t(n_));
    for (std::uint64_t b = 0; b < num_blocks(); ++b) {
      setup_block(b);
      for (int t = 0; t < n_; ++t) {
        st_[std::size_t(t)] = ThreadState::runnable;
        ctx_[std::size_t(t)].start(pool[std::size_t(t)], &FiberRunner::entry, &threads_[std::size_t(t)]);
      }
      n_done_ = n_barrier_ = 0;
      schedule();
    }
  }

  void barrier(ThreadCtx& t) override {
    st_[std::size_t(t.linear)] = ThreadState::at_barrier;
    ++n_barrier_;
    yield(t);
  }

  std::uint64_t warp_op(ThreadCtx& t, WarpOpKind k, std::uint32_t mask, std::uint64_t value, int src) override {
    WarpState& w = warps_[std::size_t(t.warp)];
    WarpSlot& s = w.lane[t.lane];
    s.pending = true;
    s.kind = k;
    s.mask = mask;
    s.value = value;
    s.src = src;
    std::uint32_t released = 0;
    std::string why;
    switch (try_complete_group(w, t.lane, released, why)) {
      case GroupStatus::complete:
        for (int l = 0; l < 32; ++l)
          if (released >> l & 1u) st_[std::size_t(t.warp * 32 + l)] = ThreadState::runnable;
        return s.result;
      case GroupStatus::wait:
        st_[std::size_t(t.linear)] = ThreadState::in_warp_op;
        yield(t);
        return s.result;
      case GroupStatus::error: break;
    }
    abort_kernel(t, why);
  }

  [[noreturn]] void abort_kernel(ThreadCtx& t, const std::string& why) override {
    if (error_.empty()) error_ = "emulator: " + where(t) + ": " + why;
    for (;;) FiberContext::switch_to(ctx_[std::size_t(t.linear)], sched_);  // never resumed
  }

 private:
  static std::vector<FiberStack>& stack_pool() {
    static thread_local std::vector<FiberStack> pool;
    return pool;
  }
  static std::size_t fiber_stack_bytes() {
    const char* e = std::getenv("FINEPOSE_EMU_STACK_KB");
    const long kb = e ? std::atol(e) : 0;
    return std::size_t(kb > 16 ? kb : 256) * 1024;
  }

  static void entry(void* p) {
    auto* t = static_cast<ThreadCtx*>(p);
    auto* self = static_cast<FiberRunner*>(t->runner);
    try {
      self->invoke_(self->body_);
    } catch (const std::exception& e) {
      self->abort_kernel(*t, std::string("exception in kernel: ") + e.what());
    } catch (...) {
      self->abort_kernel(*t, "unknown exception in kernel");
    }
    self->on_exit(*t);
    for (;;) FiberContext::switch_to(self->ctx_[std::size_t(t->linear)], self->sched_);
  }

  void yield(ThreadCtx& t) { FiberContext::switch_to(ctx_[std::size_t(t.linear)], sched_); }

  void on_exit(ThreadCtx& t) {
    st_[std::size_t(t.linear)] = ThreadState::done;
    ++n_done_;
    WarpState& w = warps_[std::size_t(t.warp)];
    w.exited |= 1u << t.lane;
    std::string why;
    if (exit_breaks_group(w, t.lane, why)) abort_kernel(t, why);
  }

  void schedule() {
    for (;;) {
      bool any_runnable = true;
      while (any_runnable) {
        any_runnable = false;
        for (int t = 0; t < n_; ++t) {
          if (st_[std::size_t(t)] != ThreadState::runnable) continue;
          t_current = &threads_[std::size_t(t)];
          FiberContext::switch_to(sched_, ctx_[std::size_t(t)]);
          t_current = nullptr;
          if (!error_.empty()) fail(error_);
          if (st_[std::size_t(t)] == ThreadState::runnable) any_runnable = true;
        }
        // lanes released by a later lane of the same pass run in the next one
        for (int t = 0; t < n_ && !any_runnable; ++t) any_runnable = st_[std::size_t(t)] == ThreadState::runnable;
      }
      if (n_done_ == n_) return;
      if (n_barrier_ > 0 && n_barrier_ + n_done_ == n_) {
        if (n_done_ > 0) fail(describe("threads exited while others wait at __syncthreads"));
        for (auto& s : st_)
          if (s == ThreadState::at_barrier) s = ThreadState::runnable;
        n_barrier_ = 0;
        continue;
      }
      fail(describe("deadlock (divergent __syncthreads or warp operation)"));
    }
  }

  std::string describe(const std::string& what) const {
    std::string msg = "emulator: " + what + " in block (" + std::to_string(threads_[0].block_idx.x) + "," +
                      std::to_string(threads_[0].block_idx.y) + "," + std::to_string(threads_[0].block_idx.z) + "):";
    int shown = 0;
    for (int t = 0; t < n_ && shown < 8; ++t) {
      if (t > 0 && st_[std::size_t(t)] == st_[std::size_t(t - 1)]) continue;
      msg += " thread " + std::to_string(t) + " " + state_name(st_[std::size_t(t)]) + ";";
      ++shown;
    }
    return msg;
  }

  std::vector<FiberContext> ctx_;
  std::vector<ThreadState> st_;
  FiberContext sched_;
  int n_done_ = 0, n_barrier_ = 0;
};

// ---- OS threads ------------------------------------------------------------------
class ThreadRunner final : public BlockRunner {
 public:
  ThreadRunner(dim3 grid, dim3 block, std::size_t dyn_smem, void (*invoke)(void*), void* body)
      : BlockRunner(grid, block, dyn_smem, invoke, body), cv_warp_(warps_.size()) {}

  void run() override {
    st_.assign(std::size_t(n_), ThreadState::runnable);
    bar_count_.assign(std::size_t(n_), 0);
    sync_count_.assign(std::size_t(n_), 0);
    warp_tokens_.resize(warps_.size() * 64);
    std::vector<std::thread> pool;
    pool.reserve(std::size_t(n_));
    for (int t = 0; t < n_; ++t) pool.emplace_back([this, t] { worker(t); });
    for (std::uint64_t b = 0; b < num_blocks(); ++b) {
      {
        tsan::Hidden hide;
        std::unique_lock<std::mutex> lk(m_);
        if (failed_) break;
        setup_block(b);
        std::fill(st_.begin(), st_.end(), ThreadState::runnable);
        std::fill(bar_count_.begin(), bar_count_.end(), 0u);
        std::fill(sync_count_.begin(), sync_count_.end(), 0u);
        done_ = arrived_ = blocked_ = 0;
      }
      tsan::release(&go_token_);  // launch (and earlier blocks) -> this block's threads
      {
        tsan::Hidden hide;
        std::unique_lock<std::mutex> lk(m_);
        ++go_;
        cv_go_.notify_all();
        cv_main_.wait(lk, [&] { return done_ == n_; });
      }
      tsan::acquire(&done_token_);  // every thread of the block -> what follows
    }
    {
      tsan::Hidden hide;
      std::unique_lock<std::mutex> lk(m_);
      quit_ = true;
      cv_go_.notify_all();
    }
    for (auto& th : pool) th.join();
    if (failed_) fail(error_);
  }

  void barrier(ThreadCtx& t) override {
    // all threads pass barriers in step, so the count's parity names this
    // barrier's token (a fast thread cannot reach the next-but-one barrier)
    char* token = &bar_token_[bar_count_[std::size_t(t.linear)]++ & 1u];
    tsan::release(token);
    {
      tsan::Hidden hide;
      std::unique_lock<std::mutex> lk(m_);
      if (failed_) throw Abort{};
      st_[std::size_t(t.linear)] = ThreadState::at_barrier;
      ++arrived_;
      ++blocked_;
      if (arrived_ + done_ == n_) {
        if (done_ > 0) fail_locked(describe("threads exited while others wait at __syncthreads"));
        release_barrier();
      } else {
        check_deadlock();
        const std::uint64_t gen = gen_;
        cv_barrier_.wait(lk, [&] { return gen_ != gen || failed_; });
        if (gen_ == gen) throw Abort{};
      }
    }
    tsan::acquire(token);
  }

  std::uint64_t warp_op(ThreadCtx& t, WarpOpKind k, std::uint32_t mask, std::uint64_t value, int src) override {
    // Only __syncwarp orders memory between lanes (shuffles and votes do not
    // in CUDA's memory model), so only it gets happens-before edges.
    const bool sync = k == WarpOpKind::sync;
    std::uint8_t parity = 0;
    if (sync) {
      parity = std::uint8_t(sync_count_[std::size_t(t.linear)]++ & 1u);
      tsan::release(warp_token(t.warp, t.lane, parity));
    }
    std::uint64_t result = 0;
    {
      tsan::Hidden hide;
      std::unique_lock<std::mutex> lk(m_);
      if (failed_) throw Abort{};
      WarpState& w = warps_[std::size_t(t.warp)];
      WarpSlot& s = w.lane[t.lane];
      s.pending = true;
      s.kind = k;
      s.mask = mask;
      s.value = value;
      s.src = src;
      s.parity = parity;
      std::uint32_t released = 0;
      std::string why;
      switch (try_complete_group(w, t.lane, released, why)) {
        case GroupStatus::complete:
          for (int l = 0; l < 32; ++l)
            if (released >> l & 1u) {
              st_[std::size_t(t.warp * 32 + l)] = ThreadState::runnable;
              --blocked_;
            }
          cv_warp_[std::size_t(t.warp)].notify_all();
          result = s.result;
          break;
        case GroupStatus::wait:
          st_[std::size_t(t.linear)] = ThreadState::in_warp_op;
          ++blocked_;
          check_deadlock();
          cv_warp_[std::size_t(t.warp)].wait(lk, [&] { return !s.pending || failed_; });
          if (s.pending) throw Abort{};
          result = s.result;
          break;
        case GroupStatus::error:
          fail_locked("emulator: " + where(t) + ": " + why);
          throw Abort{};
      }
    }
    if (sync)
      for (int l = 0; l < 32; ++l)
        if (mask >> l & 1u) tsan::acquire(warp_token(t.warp, l, int(result >> l & 1u)));
    return result;
  }

  [[noreturn]] void abort_kernel(ThreadCtx& t, const std::string& why) override {
    {
      tsan::Hidden hide;
      std::unique_lock<std::mutex> lk(m_);
      fail_locked("emulator: " + where(t) + ": " + why);
    }
    throw Abort{};
  }

 private:
  struct Abort {};

  char* warp_token(int warp, int lane, int parity) { return &warp_tokens_[std::size_t(warp * 64 + lane * 2 + parity)]; }

  void worker(int t) {
    t_current = &threads_[std::size_t(t)];
    std::uint64_t seen = 0;
    for (;;) {
      {
        tsan::Hidden hide;
        std::unique_lock<std::mutex> lk(m_);
        cv_go_.wait(lk, [&] { return go_ != seen || quit_; });
        if (quit_) return;
        seen = go_;
      }
      tsan::acquire(&go_token_);
      std::string error;
      try {
        invoke_(body_);
      } catch (const Abort&) {
      } catch (const std::exception& e) {
        error = "emulator: " + where(threads_[std::size_t(t)]) + ": exception in kernel: " + e.what();
      } catch (...) {
        error = "emulator: " + where(threads_[std::size_t(t)]) + ": unknown exception in kernel";
      }
      tsan::release(&done_token_);
      tsan::Hidden hide;
      std::unique_lock<std::mutex> lk(m_);
      if (!error.empty()) fail_locked(error);
      on_exit_locked(threads_[std::size_t(t)]);
      if (done_ == n_) cv_main_.notify_one();
    }
  }

  void on_exit_locked(ThreadCtx& t) {
    ThreadState& s = st_[std::size_t(t.linear)];
    if (s == ThreadState::at_barrier) --arrived_;  // aborted while waiting
    if (s == ThreadState::at_barrier || s == ThreadState::in_warp_op) --blocked_;
    s = ThreadState::done;
    ++done_;
    if (failed_) return;
    WarpState& w = warps_[std::size_t(t.warp)];
    w.exited |= 1u << t.lane;
    std::string why;
    if (exit_breaks_group(w, t.lane, why)) return fail_locked("emulator: " + where(t) + ": " + why);
    if (arrived_ > 0 && arrived_ + done_ == n_)
      return fail_locked(describe("threads exited while others wait at __syncthreads"));
    check_deadlock();
  }

  void release_barrier() {
    for (auto& s : st_)
      if (s == ThreadState::at_barrier) s = ThreadState::runnable;
    blocked_ -= arrived_;
    arrived_ = 0;
    ++gen_;
    cv_barrier_.notify_all();
  }

  // Every live thread waits and arrivals complete groups eagerly, so nothing
  // can ever wake them: report instead of hanging.
  void check_deadlock() {
    if (!failed_ && blocked_ > 0 && blocked_ + done_ == n_)
      fail_locked(describe("deadlock (divergent __syncthreads or warp operation)"));
  }

  void fail_locked(const std::string& msg) {
    if (!failed_) error_ = msg;
    failed_ = true;
    cv_barrier_.notify_all();
    for (auto& cv : cv_warp_) cv.notify_all();
    cv_main_.notify_all();
  }

  std::string describe(const std::string& what) const {
    std::string msg = "emulator: " + what + " in block (" + std::to_string(threads_[0].block_idx.x) + "," +
                      std::to_string(threads_[0].block_idx.y) + "," + std::to_string(threads_[0].block_idx.z) + "):";
    int shown = 0;
    for (int t = 0; t < n_ && shown < 8; ++t) {
      if (t > 0 && st_[std::size_t(t)] == st_[std::size_t(t - 1)]) continue;
      msg += " thread " + std::to_string(t) + " " + state_name(st_[std::size_t(t)]) + ";";
      ++shown;
    }
    return msg;
  }

  std::mutex m_;
  std::condition_variable cv_go_, cv_main_, cv_barrier_;
  std::vector<std::condition_variable> cv_warp_;
  std::vector<ThreadState> st_;
  std::vector<std::uint32_t> bar_count_, sync_count_;  // each touched only by its own thread
  std::vector<char> warp_tokens_;                        // [warp][lane][parity]
  char go_token_ = 0, done_token_ = 0, bar_token_[2] = {0, 0};
  int done_ = 0, arrived_ = 0, blocked_ = 0;
  std::uint64_t gen_ = 0, go_ = 0;
  bool quit_ = false, failed_ = false;
};

// ---- launch ---------------------------------------------------------------------------
struct LaunchStats {
  std::uint64_t launches = 0, blocks = 0;
};
inline LaunchStats& stats() {
  static LaunchStats s;
  return s;
}

// Run body() once per CUDA thread of grid x block; returns when all finished.
template <class F>
void launch(dim3 grid, dim3 block, std::size_t dyn_smem, F&& body) {
  if (t_current) fail("emulator: kernel launch from inside a kernel is not supported");
  const std::uint64_t threads = std::uint64_t(block.x) * block.y * block.z;
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || threads == 0)
    fail("emulator: invalid launch configuration (a grid or block dimension is 0)");
  if (threads > kMaxThreadsPerBlock || block.z > 64)
    fail("emulator: block of ", block.x, "x", block.y, "x", block.z, " threads exceeds CUDA's limits");
  if (grid.x > 2147483647u || grid.y > 65535u || grid.z > 65535u)
    fail("emulator: grid of ", grid.x, "x", grid.y, "x", grid.z, " exceeds CUDA's limits");
  if (dyn_smem > kMaxDynamicShared)
    fail("emulator: ", dyn_smem, " bytes of dynamic shared memory exceed the ", kMaxDynamicShared, " byte limit");
  using Body = std::remove_reference_t<F>;
  void (*invoke)(void*) = [](void* p) { (*static_cast<Body*>(p))(); };
  void* ptr = const_cast<void*>(static_cast<const void*>(&body));
  ++stats().launches;
  stats().blocks += std::uint64_t(grid.x) * grid.y * grid.z;
  if (current_mode() == Mode::threads) {
    ThreadRunner r(grid, block, dyn_smem, invoke, ptr);
    r.run();
  } else {
    FiberRunner r(grid, block, dyn_smem, invoke, ptr);
    r.run();
  }
}

// ---- device builtins ---------------------------------------------------------------------
inline void syncthreads() {
  ThreadCtx& t = this_thread();
  t.runner->barrier(t);
}

inline std::uint64_t warp_call(WarpOpKind k, std::uint32_t mask, std::uint64_t v, int src) {
  ThreadCtx& t = this_thread();
  return t.runner->warp_op(t, k, mask, v, src);
}

inline void syncwarp(std::uint32_t mask = 0xffffffffu) { warp_call(WarpOpKind::sync, mask, 0, 0); }

namespace detail {
template <class T>
std::uint64_t to_bits(T v) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 8, "shuffles move values of at most 8 bytes");
  std::uint64_t u = 0;
  std::memcpy(&u, &v, sizeof(T));
  return u;
}
template <class T>
T from_bits(std::uint64_t u) {
  T v;
  std::memcpy(&v, &u, sizeof(T));
  return v;
}
inline int check_width(int width) {
  if (width < 1 || width > 32 || (width & (width - 1)))
    this_thread().runner->abort_kernel(this_thread(), "shuffle width " + std::to_string(width) + " is not a power of two <= 32");
  return width;
}
}  // namespace detail

template <class T>
T shfl_sync(std::uint32_t mask, T v, int src_lane, int width = 32) {
  const int lane = this_thread().lane, w = detail::check_width(width);
  const int src = (lane & ~(w - 1)) + (src_lane & (w - 1));
  return detail::from_bits<T>(warp_call(WarpOpKind::shfl, mask, detail::to_bits(v), src));
}
template <class T>
T shfl_xor_sync(std::uint32_t mask, T v, int lane_mask, int width = 32) {
  const int lane = this_thread().lane, w = detail::check_width(width);
  int src = lane ^ lane_mask;
  if ((src & ~(w - 1)) != (lane & ~(w - 1)) || src > 31) src = lane;
  return detail::from_bits<T>(warp_call(WarpOpKind::shfl, mask, detail::to_bits(v), src));
}
template <class T>
T shfl_down_sync(std::uint32_t mask, T v, unsigned delta, int width = 32) {
  const int lane = this_thread().lane, w = detail::check_width(width);
  int src = lane + int(delta);
  if (src >= (lane & ~(w - 1)) + w) src = lane;
  return detail::from_bits<T>(warp_call(WarpOpKind::shfl, mask, detail::to_bits(v), src));
}
template <class T>
T shfl_up_sync(std::uint32_t mask, T v, unsigned delta, int width = 32) {
  const int lane = this_thread().lane, w = detail::check_width(width);
  int src = lane - int(delta);
  if (src < (lane & ~(w - 1))) src = lane;
  return detail::from_bits<T>(warp_call(WarpOpKind::shfl, mask, detail::to_bits(v), src));
}
inline bool all_sync(std::uint32_t mask, bool p) { return warp_call(WarpOpKind::all, mask, p ? 1 : 0, 0) != 0; }
inline bool any_sync(std::uint32_t mask, bool p) { return warp_call(WarpOpKind::any, mask, p ? 1 : 0, 0) != 0; }
inline std::uint32_t ballot_sync(std::uint32_t mask, bool p) {
  return std::uint32_t(warp_call(WarpOpKind::ballot, mask, p ? 1 : 0, 0));
}

// Static __shared__ variable: every thread of the block walks the same
// sequence of declarations, so the n-th declaration lands at the same offset.
template <class T>
T* shared_var() {
  ThreadCtx& t = this_thread();
  const std::size_t off = (t.shared_cursor + 15) & ~std::size_t(15);
  if (off + sizeof(T) > kMaxStaticShared)
    t.runner->abort_kernel(t, "static shared memory exceeds " + std::to_string(kMaxStaticShared) + " bytes");
  t.shared_cursor = off + sizeof(T);
  return reinterpret_cast<T*>(t.runner->static_shared() + off);
}
inline unsigned char* dynamic_shared() { return this_thread().runner->dynamic_shared(); }

// Atomics: real atomic instructions (so OS threads may share them), relaxed
// like CUDA's atomicAdd & co.; ordering needs threadfence() as on a GPU.
inline float atomic_add(float* p, float v) {
  auto* u = reinterpret_cast<std::uint32_t*>(p);
  std::uint32_t old = __atomic_load_n(u, __ATOMIC_RELAXED), next;
  do {
    float f;
    std::memcpy(&f, &old, 4);
    f += v;
    std::memcpy(&next, &f, 4);
  } while (!__atomic_compare_exchange_n(u, &old, next, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
  float r;
  std::memcpy(&r, &old, 4);
  return r;
}
template <class I>
I atomic_add(I* p, I v) {
  static_assert(std::is_integral<I>::value, "atomic_add: int, unsigned or 64-bit integers");
  return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
}
template <class I>
I atomic_max(I* p, I v) {
  static_assert(std::is_integral<I>::value, "atomic_max: integers only (as in CUDA)");
  I old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (old < v && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}
template <class I>
I atomic_min(I* p, I v) {
  static_assert(std::is_integral<I>::value, "atomic_min: integers only (as in CUDA)");
  I old = __atomic_load_n(p, __ATOMIC_RELAXED);
  while (old > v && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
  return old;
}
template <class I>
I atomic_cas(I* p, I expected, I desired) {
  __atomic_compare_exchange_n(p, &expected, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return expected;
}
template <class I>
I atomic_exch(I* p, I v) {
  return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
}
inline void threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

}  // namespace finepose::emu

// CUDA's built-in index variables, per emulated thread.
#define threadIdx (::finepose::emu::this_thread().thread_idx)
#define blockIdx (::finepose::emu::this_thread().block_idx)
#define blockDim (::finepose::emu::this_thread().block_dim)
#define gridDim (::finepose::emu::this_thread().grid_dim)
