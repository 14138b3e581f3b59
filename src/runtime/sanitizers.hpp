// src/runtime/sanitizers.hpp: what goro tells AddressSanitizer,
// ThreadSanitizer and valgrind about stack switches and hand-offs.
// Every function is a no-op when the tool is not in use.
#pragma once

#include <cstddef>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORO_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define GORO_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(GORO_ASAN)
#define GORO_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(GORO_TSAN)
#define GORO_TSAN 1
#endif

#if defined(GORO_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif
#if defined(GORO_TSAN)
#include <sanitizer/tsan_interface.h>
#endif
#if defined(GORO_HAVE_VALGRIND)
#include <valgrind/valgrind.h>
#endif

namespace goro::detail::san {

// ---- AddressSanitizer: fiber switches and stack poison ----------------------
inline void asan_start_switch(void** fake_stack_save, const void* bottom, std::size_t size) noexcept {
#if defined(GORO_ASAN)
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
  (void)fake_stack_save, (void)bottom, (void)size;
#endif
}
inline void asan_finish_switch(void* fake_stack_save) noexcept {
#if defined(GORO_ASAN)
  const void* old_bottom = nullptr;
  std::size_t old_size = 0;
  __sanitizer_finish_switch_fiber(fake_stack_save, &old_bottom, &old_size);
#else
  (void)fake_stack_save;
#endif
}
/// A stack going back to the pool: its stale poison must not fire on the next goroutine.
inline void asan_unpoison(void* p, std::size_t n) noexcept {
#if defined(GORO_ASAN)
  __asan_unpoison_memory_region(p, n);
#else
  (void)p, (void)n;
#endif
}
/// Lets LeakSanitizer see pointers held on goroutine stacks.
inline void lsan_register_root(const void* p, std::size_t n) noexcept {
#if defined(GORO_ASAN)
  __lsan_register_root_region(p, n);
#else
  (void)p, (void)n;
#endif
}

// ---- ThreadSanitizer: fibers and explicit hand-offs ---------------------------
inline void* tsan_current_fiber() noexcept {
#if defined(GORO_TSAN)
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}
inline void* tsan_create_fiber() noexcept {
#if defined(GORO_TSAN)
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}
inline void tsan_destroy_fiber(void* fiber) noexcept {
#if defined(GORO_TSAN)
  if (fiber) __tsan_destroy_fiber(fiber);
#else
  (void)fiber;
#endif
}
/// Switches without synchronizing the two fibers: goro's hand-offs carry
/// their own release/acquire, so races between goroutines sharing a worker
/// are still reported.
inline void tsan_switch_to(void* fiber, bool no_sync = true) noexcept {
#if defined(GORO_TSAN)
  __tsan_switch_to_fiber(fiber, no_sync ? __tsan_switch_to_fiber_no_sync : 0);
#else
  (void)fiber, (void)no_sync;
#endif
}
#if defined(GORO_TSAN)
extern "C" void AnnotateIgnoreReadsBegin(const char* file, int line);
extern "C" void AnnotateIgnoreReadsEnd(const char* file, int line);
extern "C" void AnnotateIgnoreWritesBegin(const char* file, int line);
extern "C" void AnnotateIgnoreWritesEnd(const char* file, int line);
#endif
/// Reads between these are not recorded by TSan (the current fiber only).
inline void tsan_ignore_reads_begin() noexcept {
#if defined(GORO_TSAN)
  AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
#endif
}
inline void tsan_ignore_reads_end() noexcept {
#if defined(GORO_TSAN)
  AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
#endif
}
/// Within its scope, the current fiber's reads and writes are not recorded
/// by TSan (synchronization still is).
class tsan_ignore_accesses {
 public:
  tsan_ignore_accesses() noexcept {
#if defined(GORO_TSAN)
    AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
    AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
#endif
  }
  ~tsan_ignore_accesses() {
#if defined(GORO_TSAN)
    AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
    AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
#endif
  }
  tsan_ignore_accesses(const tsan_ignore_accesses&) = delete;
  tsan_ignore_accesses& operator=(const tsan_ignore_accesses&) = delete;
};
inline void tsan_release(void* addr) noexcept {
#if defined(GORO_TSAN)
  __tsan_release(addr);
#else
  (void)addr;
#endif
}
inline void tsan_acquire(void* addr) noexcept {
#if defined(GORO_TSAN)
  __tsan_acquire(addr);
#else
  (void)addr;
#endif
}

// ---- valgrind ------------------------------------------------------------------
inline unsigned valgrind_stack_register(void* lo, void* hi) noexcept {
#if defined(GORO_HAVE_VALGRIND)
  return VALGRIND_STACK_REGISTER(lo, hi);
#else
  (void)lo, (void)hi;
  return 0;
#endif
}

}  // namespace goro::detail::san
