// src/runtime/runtime_mutex.hpp: the lock goro's runtime uses internally
// (channels, run queue, timers). Not goro::mutex: it blocks the OS thread, so
// it is held only for short, non-blocking critical sections, never across a
// park.
//
// Go's lock_futex: spin briefly (the holder is running on another core and
// will be done in nanoseconds), then sleep on a futex; see lock_slow for
// the length of the spin.
//
// States of word_: 0 unlocked; 1 locked, nobody asleep; 2 locked, maybe sleepers.
// Memory order: lock is an acquire RMW, unlock a release RMW, so a critical
// section synchronizes-before the next one.
//
// Lock order. Every runtime_mutex has a rank; a thread may take a lock only
// if every lock it holds has a lower rank, or the same rank at a lower
// address (channel locks, which select takes in address order). Checked in
// debug builds (a violation aborts naming both locks). No runtime_mutex is
// ever held across a goroutine switch, so "a thread holds" is well defined.
#pragma once

#include <atomic>
#include <cstdint>

#include "goro/detail/sync_core.hpp"
#include "runtime/platform.hpp"

namespace goro::detail {

enum class lock_rank : std::uint8_t {
  deadlock = 5,  // the deadlock check's state (registry.cpp): taken before everything
  timer = 10,    // a timer's own lock (time.cpp): taken first
  channel = 20,  // channel locks, several at once in address order (select)
  poll_desc = 25,  // a socket's poll descriptor (netpoll.cpp): arms its deadline timers under it
  timer_heap = 30,
  sched = 40,    // global run queue and idle list
};
// (The goroutine registry's shard locks, registry.cpp, are spin locks taken
// under any of these and never around one.)

#if !defined(NDEBUG)
#define GORO_LOCK_RANKS 1
/// Debug builds: record and check lock acquisition order (runtime_mutex.cpp
/// is header-only: see lock_order_* in scheduler.cpp).
void lock_order_acquire(const void* lock, lock_rank rank) noexcept;
void lock_order_release(const void* lock) noexcept;
#endif

class runtime_mutex {
 public:
  explicit constexpr runtime_mutex(lock_rank rank) noexcept : rank_(rank) {}

  void lock() noexcept {
#if defined(GORO_LOCK_RANKS)
    lock_order_acquire(this, rank_);
#endif
    std::uint32_t expected = 0;
    if (word_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                      std::memory_order_relaxed)) [[likely]] {
      return;
    }
    lock_slow();
  }
  void unlock() noexcept {
#if defined(GORO_LOCK_RANKS)
    lock_order_release(this);
#endif
    if (word_.exchange(0, std::memory_order_release) == 2) [[unlikely]] {
      futex_wake(&word_, 1);
    }
  }

 private:
  // Spin, then futex (sema.cpp), with twice Go's pause between two looks at
  // the word: two workers that take turns at one channel (a producer and a
  // consumer) then each get a few operations in a row on a cache line that
  // stays theirs, instead of pulling it across at each (spsc/2 39.5 ->
  // 33.0 ns an item, mpmc/2 42.0 -> 32.7, SelectProdCons/2 232 -> 196).
  // Shorter is worse, not better: spsc/2 took 65 ns with 10 pauses and 230
  // with 4 (an Intel Xeon, where a pause is about 9 ns).
  void lock_slow() noexcept { word_lock_slow(word_, 60); }

  std::atomic<std::uint32_t> word_{0};
  [[maybe_unused]] lock_rank rank_;  // read only in debug builds
};

/// A test-and-test-and-set lock: one CAS to lock, a plain release store to
/// unlock (a runtime_mutex pays a second RMW to unlock). For locks taken on
/// every go() and return (the goroutine registry) or every traced event,
/// almost never contended and held for a few writes; a waiter that spins
/// long gives the CPU away, in case the holder was preempted. No rank: it
/// is taken innermost, with nothing locked under it.
class spin_lock {
 public:
  void lock() noexcept {
    for (int spins = 0;;) {
      if (!held_.load(std::memory_order_relaxed) && !held_.exchange(true, std::memory_order_acquire)) return;
      if (++spins < 64) {
        cpu_relax();
      } else {
        os_yield();
      }
    }
  }
  void unlock() noexcept { held_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> held_{false};
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
