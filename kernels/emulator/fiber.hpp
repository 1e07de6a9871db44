#pragma once
// Cooperative fibers for the SIMT emulator: one fiber per emulated CUDA
// thread, switched only at barriers and warp operations. On x86-64 a
// hand-written switch saves the callee-saved registers (no signal-mask
// syscall, unlike swapcontext, so a switch costs nanoseconds); elsewhere
// ucontext is the fallback. Stacks are mmap'ed with a guard page so a stack
// overflow faults instead of corrupting a neighbour.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <new>

#include "finepose/core/error.hpp"

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#if defined(__x86_64__)
// fp_emu_switch(void** save_sp, void* load_sp): push callee-saved state,
// store rsp in *save_sp, load rsp, pop state, return into the other fiber.
// fp_emu_trampoline: first entry of a fiber; r12 = entry function, r13 = arg.
// Weak so that every translation unit may carry the same definition.
__asm__(
    ".text\n"
    ".weak fp_emu_switch\n"
    ".type fp_emu_switch,@function\n"
    "fp_emu_switch:\n"
    "  pushq %rbp\n"
    "  pushq %rbx\n"
    "  pushq %r12\n"
    "  pushq %r13\n"
    "  pushq %r14\n"
    "  pushq %r15\n"
    "  subq $8, %rsp\n"
    "  stmxcsr (%rsp)\n"
    "  fnstcw 4(%rsp)\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  ldmxcsr (%rsp)\n"
    "  fldcw 4(%rsp)\n"
    "  addq $8, %rsp\n"
    "  popq %r15\n"
    "  popq %r14\n"
    "  popq %r13\n"
    "  popq %r12\n"
    "  popq %rbx\n"
    "  popq %rbp\n"
    "  ret\n"
    ".size fp_emu_switch,.-fp_emu_switch\n"
    ".weak fp_emu_trampoline\n"
    ".type fp_emu_trampoline,@function\n"
    "fp_emu_trampoline:\n"
    "  movq %r13, %rdi\n"
    "  callq *%r12\n"
    "  ud2\n"
    ".size fp_emu_trampoline,.-fp_emu_trampoline\n");
extern "C" void fp_emu_switch(void** save_sp, void* load_sp);
extern "C" void fp_emu_trampoline();
#endif

namespace finepose::emu {

// A fixed-size stack with a PROT_NONE guard page below it.
class FiberStack {
 public:
  FiberStack() = default;
  explicit FiberStack(std::size_t bytes) {
    const std::size_t page = std::size_t(sysconf(_SC_PAGESIZE));
    size_ = (bytes + page - 1) / page * page;
    total_ = size_ + page;
    void* p = mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail("emulator: cannot map a fiber stack of ", total_, " bytes");
    base_ = static_cast<char*>(p);
    mprotect(base_, page, PROT_NONE);
  }
  FiberStack(const FiberStack&) = delete;
  FiberStack& operator=(const FiberStack&) = delete;
  FiberStack(FiberStack&& o) noexcept { swap(o); }
  FiberStack& operator=(FiberStack&& o) noexcept {
    swap(o);
    return *this;
  }
  ~FiberStack() {
    if (base_) munmap(base_, total_);
  }
  char* top() const { return base_ + total_; }
  char* bottom() const { return base_ + (total_ - size_); }
  std::size_t size() const { return size_; }

 private:
  void swap(FiberStack& o) noexcept {
    std::swap(base_, o.base_);
    std::swap(size_, o.size_);
    std::swap(total_, o.total_);
  }
  char* base_ = nullptr;
  std::size_t size_ = 0, total_ = 0;
};

// A saved execution context. `start` prepares a fresh context that will call
// entry(arg) on `stack`; entry must never return (it switches away instead).
class FiberContext {
 public:
  using Entry = void (*)(void*);

  void start(FiberStack& stack, Entry entry, void* arg) {
#if defined(__x86_64__)
    auto* top = reinterpret_cast<std::uintptr_t*>(reinterpret_cast<std::uintptr_t>(stack.top()) & ~std::uintptr_t(15));
    // After the switch pops 8 bytes of fp control + 6 registers and `ret`
    // consumes the trampoline address, rsp must be 16-byte aligned at the
    // trampoline's call instruction.
    std::uintptr_t* sp = top - 2;  // two spare slots keep the alignment
    *--sp = reinterpret_cast<std::uintptr_t>(&fp_emu_trampoline);
    *--sp = 0;                                          // rbp
    *--sp = 0;                                          // rbx
    *--sp = reinterpret_cast<std::uintptr_t>(entry);   // r12
    *--sp = reinterpret_cast<std::uintptr_t>(arg);     // r13
    *--sp = 0;                                          // r14
    *--sp = 0;                                          // r15
    std::uint32_t mxcsr;
    std::uint16_t fpucw;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    __asm__ volatile("fnstcw %0" : "=m"(fpucw));
    --sp;
    std::uint64_t ctl = std::uint64_t(mxcsr) | (std::uint64_t(fpucw) << 32);
    *sp = ctl;
    sp_ = sp;
#else
    if (getcontext(&uc_) != 0) fail("emulator: getcontext failed");
    uc_.uc_stack.ss_sp = stack.bottom();
    uc_.uc_stack.ss_size = stack.size();
    uc_.uc_link = nullptr;
    entry_ = entry;
    arg_ = arg;
    makecontext(&uc_, reinterpret_cast<void (*)()>(&FiberContext::uc_entry), 1, this);
    // makecontext passes int arguments; a pointer is split only on exotic
    // ABIs, which this fallback does not target.
#endif
  }

  // Save the current context into `from` and resume `to`.
  static void switch_to(FiberContext& from, FiberContext& to) {
#if defined(__x86_64__)
    fp_emu_switch(&from.sp_, to.sp_);
#else
    swapcontext(&from.uc_, &to.uc_);
#endif
  }

 private:
#if defined(__x86_64__)
  void* sp_ = nullptr;
#else
  static void uc_entry(FiberContext* self) { self->entry_(self->arg_); }
  ucontext_t uc_{};
  Entry entry_ = nullptr;
  void* arg_ = nullptr;
#endif
};

}  // namespace finepose::emu
