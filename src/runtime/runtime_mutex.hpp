// src/runtime/runtime_mutex.hpp: the lock goro's runtime uses internally
// (channels, run queue, timers). Not goro::mutex: it blocks the OS thread, so
// it is held only for short, non-blocking critical sections, never across a
// park.
//
// Go's lock_futex: spin briefly (the holder is running on another core and
// will be done in nanoseconds), then sleep on a futex.
//
// States of word_: 0 unlocked; 1 locked, nobody asleep; 2 locked, maybe sleepers.
// Memory order: lock is an acquire RMW, unlock a release RMW, so a critical
// section synchronizes-before the next one.
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/platform.hpp"

namespace goro::detail {

class runtime_mutex {
 public:
  void lock() noexcept {
    std::uint32_t expected = 0;
    if (word_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                      std::memory_order_relaxed)) [[likely]] {
      return;
    }
    lock_slow();
  }
  bool try_lock() noexcept {
    std::uint32_t expected = 0;
    return word_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                         std::memory_order_relaxed);
  }
  void unlock() noexcept {
    if (word_.exchange(0, std::memory_order_release) == 2) [[unlikely]] {
      futex_wake(&word_, 1);
    }
  }

 private:
  void lock_slow() noexcept {
    for (int spin = 0; spin < 100; ++spin) {
      for (int i = 0; i < 30; ++i) cpu_relax();
      std::uint32_t expected = 0;
      if (word_.load(std::memory_order_relaxed) == 0 &&
          word_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                        std::memory_order_relaxed)) {
        return;
      }
    }
    // Mark "maybe sleepers" and sleep until we take it from unlocked.
    while (word_.exchange(2, std::memory_order_acquire) != 0) {
      futex_wait(&word_, 2);
    }
  }

  std::atomic<std::uint32_t> word_{0};
};

/// std::lock_guard for runtime_mutex without pulling in <mutex>.
class runtime_lock_guard {
 public:
  explicit runtime_lock_guard(runtime_mutex& m) noexcept : m_(m) { m_.lock(); }
  ~runtime_lock_guard() { m_.unlock(); }
  runtime_lock_guard(const runtime_lock_guard&) = delete;
  runtime_lock_guard& operator=(const runtime_lock_guard&) = delete;

 private:
  runtime_mutex& m_;
};

}  // namespace goro::detail
