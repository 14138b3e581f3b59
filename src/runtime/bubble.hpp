// src/runtime/bubble.hpp: goro::testing::bubble, a fake clock for tests
// (Go's testing/synctest).
//
// A bubble is a set of goroutines (the one bubble() starts, and whatever
// its goroutines start) sharing a virtual clock. Their timers go to the
// bubble's own heap, which only the bubble's *driver* (the goroutine that
// called bubble()) runs. The virtual clock moves only when every member is
// durably blocked: waiting on something only another member can end (a
// channel made in the bubble, select on such channels, sleep, cond,
// wait_group, semaphore; not a mutex, a socket, a blocking call or a channel
// made elsewhere, which something outside may end).
//
// Counting. `active` is the number of members not durably blocked, plus
// one while the driver acts:
//   +1  a member starts (goroutine_start), a durably blocked member is
//       readied (ready(), before it is queued), the driver begins to act;
//   -1  a member returns (goroutine_exit), a member's durable park commits
//       (finish_switch: parking → waiting), the driver ends an act.
// Increments come before the event they count and decrements after, so
// the count is never below the truth, only above it for a moment: when it
// reaches 0 every member is durably blocked.
//
// The idle token. Whoever takes `active` to 0 (its fetch_sub returned 1)
// holds the token, and there is one per transition to 0. A member holding
// it sets `signalled` and wakes the driver; the driver holding it (its own
// decrement reached 0) acts again at once. The driver acts only with its
// unit counted, so no member can reach 0 while it acts, and an act that
// finds `active` above 1 (a member woken from outside the bubble, or a stale
// signal) does nothing.
//
// Lifetime. refs counts the driver, every member, and each worker committing
// a member's durable park (the member may be readied, run and return before
// that worker's decrement). The last release frees the state.
//
// Fields: members, active, refs and now are atomics (acq_rel: the driver
// reads what members wrote before their decrements). `now` is written only by
// the driver while it acts (every member durably blocked) and read by members
// (goro::clock::now()). timers is a timer heap like a processor's, with its
// own lock; only the driver runs it. lock (a spin lock, innermost: nothing is
// taken under it) guards signalled, driver_parked and waiter.
// error is written by the first member before it returns and read by the
// driver once members is 0.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>

#include "runtime/park.hpp"
#include "runtime/runtime_mutex.hpp"
#include "runtime/timers.hpp"

namespace goro::detail {

struct bubble_state {
  std::atomic<std::int64_t> refs{1};  // the driver's
  std::atomic<std::int64_t> members{0};
  std::atomic<std::int64_t> active{0};
  std::atomic<std::int64_t> now{0};  // virtual nanotime()
  // Bumped whenever a member starts or a durably blocked one is readied:
  // the driver's sign that firing timers woke someone.
  std::atomic<std::uint64_t> progress{0};
  std::atomic<bool> first_returned{false};  // the goroutine bubble() started has returned
  timer_heap timers;

  spin_lock lock;
  bool signalled = false;      // a member took active to 0 since the driver last looked
  bool driver_parked = false;  // the driver waits for signalled
  parker driver;               // set once, before the first member starts
  parker waiter;               // a member in bubble_wait(), if waiter.g

  std::exception_ptr error;  // what the first member threw
};

/// Whether a goroutine waiting for r is durably blocked (only another
/// goroutine in its bubble can end the wait).
constexpr bool durable(wait_reason r) noexcept {
  switch (r) {
    case wait_reason::chan_receive:
    case wait_reason::chan_send:
    case wait_reason::chan_receive_nil:
    case wait_reason::chan_send_nil:
    case wait_reason::select:
    case wait_reason::select_no_cases:
    case wait_reason::sleep:
    case wait_reason::cond_wait:
    case wait_reason::wait_group_wait:
    case wait_reason::semaphore_acquire:
    case wait_reason::forever:
    case wait_reason::bubble_wait:
      return true;
    default:
      return false;
  }
}

/// g, started by a member (or by the driver firing timers), joins b.
void bubble_join(bubble_state* b, goroutine* g) noexcept;
/// g, a member, returns.
void bubble_leave(goroutine* g) noexcept;
/// Whether g, waiting for r, is durably blocked.
inline bool durably_blocked(const goroutine* g, wait_reason r) noexcept { return durable(r) && !g->wait_outside; }

/// g (the running goroutine, or null on a plain thread) is about to wait on
/// a channel made in bubble `chan_bubble` (null: in none). Called once per
/// channel of a select: one channel from outside g's bubble is enough.
inline void bubble_note_wait_on(goroutine* g, const void* chan_bubble) noexcept {
  if (g == nullptr) return;
  bubble_state* b = g->bubble.load(std::memory_order_relaxed);
  if (b != nullptr) [[unlikely]] g->wait_outside = g->wait_outside || chan_bubble != b;
}
/// g's channel wait is over (it runs again).
inline void bubble_note_wait_done(goroutine* g) noexcept {
  if (g != nullptr) g->wait_outside = false;
}

/// A worker is about to commit the park of a member waiting for r: takes a
/// reference (returns b) when the park counts, else returns null.
inline bubble_state* bubble_commit_begin(goroutine* g, wait_reason r) noexcept {
  bubble_state* b = g->bubble.load(std::memory_order_relaxed);
  if (b == nullptr || !durably_blocked(g, r)) return nullptr;
  b->refs.fetch_add(1, std::memory_order_relaxed);
  return b;
}
/// The park committed (committed) or was cancelled by an early wake; drops
/// the reference bubble_commit_begin took.
void bubble_commit_end(bubble_state* b, bool committed) noexcept;
/// A durably blocked member is readied (before it is queued).
inline void bubble_woken(bubble_state* b) noexcept {
  b->active.fetch_add(1, std::memory_order_acq_rel);
  b->progress.fetch_add(1, std::memory_order_relaxed);
}

// clock_now() (goro/time.hpp): nanotime(), or the bubble's virtual time for
// a goroutine in one.

}  // namespace goro::detail
