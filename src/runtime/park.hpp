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

/// The futex a plain OS thread sleeps on when it blocks in goro.
struct thread_parker {
  std::atomic<std::uint32_t> state{1};  // 0: asleep or about to be; 1: woken

  void prepare() noexcept { state.store(0, std::memory_order_relaxed); }
  void wait() noexcept {
    while (state.load(std::memory_order_acquire) == 0) futex_wait(&state, 0);
  }
  void wake() noexcept {
    state.store(1, std::memory_order_release);
    futex_wake(&state, 1);
  }
};

/// errno, read afresh. glibc declares __errno_location() const, so within
/// one function the compiler may reuse errno's address across a park, and a
/// goroutine that resumed on another worker would read the first worker's
/// errno. Code that loops around a park reads errno through this (defined
/// in another translation unit, so that the call cannot be folded).
GORO_NOINLINE int errno_now() noexcept;

/// The calling thread's parker (lives as long as the thread).
GORO_NOINLINE thread_parker& this_thread_parker() noexcept;

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
