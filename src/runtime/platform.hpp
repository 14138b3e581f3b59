// src/runtime/platform.hpp: futex, clock, cpu pause. Linux-only for now.
#pragma once

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <ctime>

namespace goro::detail {

/// Monotonic nanoseconds (CLOCK_MONOTONIC, the clock of std::chrono::steady_clock).
inline std::int64_t nanotime() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

/// CLOCK_MONOTONIC at the kernel tick's resolution (a few ms): a read of
/// the vDSO page, no time-stamp counter. For "waiting since" in dumps,
/// stamped at every park.
inline std::int64_t coarse_nanotime() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

/// Gives the rest of the thread's time slice to another thread.
inline void os_yield() noexcept { sched_yield(); }

/// Sleeps while *word == expected, at most timeout_ns (< 0: no limit).
/// Returns early on a wake, a signal or a spurious wake-up: callers loop.
inline void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                       std::int64_t timeout_ns = -1) noexcept {
  timespec ts;
  timespec* tsp = nullptr;
  if (timeout_ns >= 0) {
    ts.tv_sec = timeout_ns / 1'000'000'000;
    ts.tv_nsec = timeout_ns % 1'000'000'000;
    tsp = &ts;
  }
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_PRIVATE, expected, tsp,
          nullptr, 0);
}

/// Wakes up to n threads sleeping in futex_wait on word.
inline void futex_wake(std::atomic<std::uint32_t>* word, int n) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE_PRIVATE, n, nullptr,
          nullptr, 0);
}

}  // namespace goro::detail
