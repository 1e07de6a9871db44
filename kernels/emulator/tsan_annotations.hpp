#pragma once
// ThreadSanitizer hooks for the OS-thread mode. The emulator coordinates its
// threads with one mutex; left alone, TSan would treat every lock hand-over
// as synchronisation between two CUDA threads and hide races that a GPU does
// not order. So the emulator's own critical sections are invisible to TSan
// (IgnoreSync + IgnoreReads/Writes), and exactly the edges CUDA guarantees
// are added by hand with __tsan_release/__tsan_acquire on token addresses:
// launch -> every thread, every thread -> end of launch, all threads of a
// block across __syncthreads, the lanes of a __syncwarp.
// Without TSan everything here compiles to nothing.
#if defined(__SANITIZE_THREAD__)
#define FINEPOSE_EMU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FINEPOSE_EMU_TSAN 1
#endif
#endif

#if defined(FINEPOSE_EMU_TSAN)
extern "C" {
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);
void AnnotateIgnoreSyncBegin(const char* file, int line);
void AnnotateIgnoreSyncEnd(const char* file, int line);
void AnnotateIgnoreReadsBegin(const char* file, int line);
void AnnotateIgnoreReadsEnd(const char* file, int line);
void AnnotateIgnoreWritesBegin(const char* file, int line);
void AnnotateIgnoreWritesEnd(const char* file, int line);
}
#endif

namespace finepose::emu::tsan {

inline void acquire(void* token) {
#if defined(FINEPOSE_EMU_TSAN)
  __tsan_acquire(token);
#else
  (void)token;
#endif
}

inline void release(void* token) {
#if defined(FINEPOSE_EMU_TSAN)
  __tsan_release(token);
#else
  (void)token;
#endif
}

// RAII: the emulator's bookkeeping inside this scope is hidden from TSan.
struct Hidden {
#if defined(FINEPOSE_EMU_TSAN)
  Hidden() {
    AnnotateIgnoreSyncBegin(__FILE__, __LINE__);
    AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
    AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
  }
  ~Hidden() {
    AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
    AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
    AnnotateIgnoreSyncEnd(__FILE__, __LINE__);
  }
#else
  Hidden() {}
#endif
  Hidden(const Hidden&) = delete;
  Hidden& operator=(const Hidden&) = delete;
};

}  // namespace finepose::emu::tsan
