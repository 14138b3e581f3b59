// src/runtime/park.hpp: park/ready for whoever blocks: a goroutine (park =
// switch to another goroutine) or a plain OS thread (park = futex wait).
// Channels, select, timers and the sync primitives block and wake through
// this and nothing else; only the scheduler knows how a goroutine is switched.
//
// Protocol, for every blocking operation:
//   parker me = parker::current();
//   lock(queue);  me.prepare(reason);  publish a waiter holding `me`;  unlock(queue);
//   me.park();                    // returns once some waker called wake()
// and the waker:
//   lock(queue);  take the waiter out;  unlock(queue);  waiter.who.wake();
// A wake may come before park(): park then returns at once. Exactly one wake
// per prepare. The waker must not touch the waiter after wake(): the woken
// party may return and free it.
//
// Memory order: everything the waker wrote before wake() happens-before
// everything the woken party does after park() returns (a release/acquire
// pair on the goroutine's status or on the thread's futex word).
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/goroutine.hpp"
#include "runtime/platform.hpp"

namespace goro::detail {

/// The futex a plain OS thread sleeps on when it blocks in goro; and the
/// thread's part in the deadlock check's counts (processor.hpp):
///  - a thread that has used goro (parked in it, readied or started a
///    goroutine) is registered: counted in sched.outside_active while it
///    runs, in sched.outside_parked from prepare() until its wake;
///  - the waker moves it back to outside_active before waking it, so that it
///    counts as able to wake others from the moment it is woken;
///  - runtime threads (the blocking pool) are `internal` and never counted.
/// Fields other than state are the owner thread's, except parked_counted,
/// which the waker reads and clears (ordered by the waiter queue's lock and
/// by state's release/acquire).
struct thread_parker {
  std::atomic<std::uint32_t> state{1};  // 0: asleep or about to be; 1: woken
  bool internal = false;
  bool registered = false;
  bool parked_counted = false;

  thread_parker() noexcept = default;
  thread_parker(const thread_parker&) = delete;
  thread_parker& operator=(const thread_parker&) = delete;
  ~thread_parker();  // the thread exits: it no longer counts

  void prepare() noexcept;
  void wait() noexcept {
    while (state.load(std::memory_order_acquire) == 0) futex_wait(&state, 0);
  }
  void wake() noexcept;
  /// The thread readied or started a goroutine: it counts as active.
  void note_active() noexcept;
};

/// errno, read afresh. glibc declares __errno_location() const, so within
/// one function the compiler may reuse errno's address across a park, and a
/// goroutine that resumed on another worker would read the first worker's
/// errno. Code that loops around a park reads errno through this (defined
/// in another translation unit, so that the call cannot be folded).
GORO_NOINLINE int errno_now() noexcept;

/// The calling thread's parker (lives as long as the thread).
GORO_NOINLINE thread_parker& this_thread_parker() noexcept;

/// A runtime thread (blocking pool, dumper): never counted as a thread that
/// could wake a goroutine.
inline void mark_runtime_thread() noexcept { this_thread_parker().internal = true; }

/// Who blocks: the running goroutine, or else the calling thread.
struct parker {
  goroutine* g = nullptr;
  thread_parker* t = nullptr;

  static parker current() noexcept;
  void prepare(wait_reason reason) const noexcept;
  void park() const noexcept;
  void wake() const noexcept;
};

}  // namespace goro::detail
