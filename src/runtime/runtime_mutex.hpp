// src/runtime/runtime_mutex.hpp: the lock goro's runtime uses internally
// (channels, run queue, timers). Not goro::mutex: it blocks the OS thread, so
// it is held only for short, non-blocking critical sections, never across a
// park.
//
// As Go's lock_futex, a waiter spins briefly (the holder is running on
// another core and will be done in nanoseconds), then sleeps on a futex.
// Unlike it, unlock is a plain release store, not a second atomic RMW: on
// the machines measured an RMW costs 5-10 ns even uncontended, and every
// channel operation takes a channel lock (spsc/1 25 -> 16 ns an item,
// pingpong/1 120 -> 105 ns a round trip).
//
// word_: 0 unlocked, 1 locked. sleepers_: waiters that may sleep on word_.
//
// Lifetime: unlock reads sleepers_ after its store has let the next holder
// in, so an object with a runtime_mutex must not be freed by whoever locks
// it next while an unlock may still be running. Every owner keeps to that:
// the scheduler's, the timer heaps' and the deadlock check's locks are
// never freed, poll descriptors are recycled but never freed, and channels
// and timers are reference-counted, each locker holding a reference until
// after its unlock.
// Memory order: lock is an acquire RMW, unlock a release store, so a
// critical section synchronizes-before the next one.
//
// Waking the sleepers without an RMW in unlock is a Dekker pair made
// asymmetric. unlock stores word_ = 0 and then reads sleepers_, with no
// fence between them; a waiter about to sleep adds itself to sleepers_,
// then runs membarrier(PRIVATE_EXPEDITED), which makes every thread of the
// process that is running execute a full barrier (a thread that is not
// running passed one when it was switched out), and only then reads word_
// (and the futex reads it again as it sleeps). So for any unlock, either
// its store is visible to the waiter's read after the barrier (the waiter
// takes the lock instead of sleeping), or the unlock's read of sleepers_
// comes after that barrier and sees the waiter (the unlock wakes it). The
// expensive half, the barrier, is paid only by a waiter that has already
// spun and yielded. Where membarrier is not available (old kernels,
// seccomp, valgrind) a sleeper wakes every 50 us to look again instead.
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
/// Debug builds: record and check lock acquisition order (defined in
/// scheduler.cpp).
void lock_order_acquire(const void* lock, lock_rank rank) noexcept;
void lock_order_release(const void* lock) noexcept;
#endif

void runtime_mutex_lock_slow(std::atomic<std::uint32_t>& word, std::atomic<std::uint32_t>& sleepers) noexcept;

/// Whether membarrier(PRIVATE_EXPEDITED) works in this process (registered
/// for it at the first call).
bool process_barrier_ready() noexcept;
/// Every running thread of the process executes a full barrier before this
/// returns (a thread not running passed one as it was switched out). False
/// if that could not be done. Costs a system call and an interrupt of each
/// core running one of our threads: for the rare side of a Dekker pair.
bool process_barrier() noexcept;

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
    word_.store(0, std::memory_order_release);
    // Only the compiler must keep the load after the store; the CPU is
    // ordered by the sleeper's membarrier (see the top of the file).
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_relaxed) != 0) [[unlikely]] {
      futex_wake(&word_, 1);
    }
  }

 private:
  // Spin, then sleep (runtime_mutex.cpp). The spin looks at the word
  // sixteen times, 60 pauses apart at first and 240 at last (Go: four
  // times, 30 apart). Two workers that take turns at one channel (a
  // producer and a consumer) then each get a few operations in a row on a
  // cache line that stays theirs, instead of pulling it across at each.
  // Four looks 60 apart instead of 30 took spsc/2 from 39.5 to 33.0 ns an
  // item, mpmc/2 from 42.0 to 32.7, SelectProdCons/2 from 232 to 196.
  // Shorter is worse, not better: spsc/2 took 65 ns with 10 pauses and 230
  // with 4 (an Intel Xeon, where a pause is about 9 ns). The backoff is
  // argued in runtime_mutex.cpp.
  void lock_slow() noexcept { runtime_mutex_lock_slow(word_, sleepers_); }

  std::atomic<std::uint32_t> word_{0};
  std::atomic<std::uint32_t> sleepers_{0};
  [[maybe_unused]] lock_rank rank_;  // read only in debug builds
};

/// A test-and-test-and-set lock: one CAS to lock, a plain release store to
/// unlock, and no sleeping (no sleepers_ to read at unlock). For locks taken on
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
