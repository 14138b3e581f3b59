// src/sync/semaphore.cpp: golang.org/x/sync/semaphore.Weighted (sync.hpp's
// semaphore).
//
// weighted_core::state holds the units held and a `queued` bit, set while
// the FIFO waiter list (guarded by weighted_core's word lock) is not empty.
// Without waiters, acquire and release are one CAS on state and take no
// lock (Go's x/sync takes its mutex in both). The bit is set and cleared
// only under the lock; an acquirer that must wait sets it with a CAS from
// the very state in which it saw too few units, so a release in between
// makes the CAS fail and the acquirer look again, and every release after
// it sees the bit. A release that sees the bit takes the lock and grants
// waiters from the front while the front one fits, and wakes them after
// unlocking. A waiter is a record on its own
// stack: a plain acquire parks on its parker; acquire(ctx, n) instead waits
// in a select on a `ready` channel (closed when granted) and ctx.done(), so
// that cancellation can wake it. `granted` is written under the lock and
// decides, for a cancelled waiter, whether it must give its units back.
#include <stdexcept>

#include "goro/context.hpp"
#include "goro/detail/chan_core.hpp"
#include "goro/detail/sync_core.hpp"
#include "goro/errors.hpp"
#include "goro/select.hpp"
#include "goro/sync.hpp"
#include "runtime/park.hpp"

namespace goro::detail {

struct weighted_waiter {
  parker who;                  // plain acquire
  chan_core* ready = nullptr;  // acquire(ctx, n): closed when granted
  std::int64_t n = 0;
  bool granted = false;        // guarded by the lock
  weighted_waiter* next = nullptr;
};

namespace {

using state_t = std::uint64_t;
constexpr state_t queued = weighted_core::queued;

std::int64_t held(state_t st) noexcept { return static_cast<std::int64_t>(st & weighted_core::held_mask); }

void check_amount(const weighted_core* s, std::int64_t n) {
  if (n < 0) throw std::invalid_argument("goro::semaphore: acquire of a negative amount");
  if (n > s->size) throw std::invalid_argument("goro::semaphore: acquire of more than the semaphore's size");
}

// Takes n units if they are free and nobody waits. With or without the
// lock. Acquire: the units' last release happens before.
bool take_if_free(weighted_core* s, std::int64_t n) noexcept {
  state_t st = s->state.load(std::memory_order_relaxed);
  for (;;) {
    if ((st & queued) != 0 || s->size - held(st) < n) return false;
    if (s->state.compare_exchange_weak(st, st + static_cast<state_t>(n), std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return true;
    }
  }
}

// Lock held. Queues w, or takes its units if they are free and nobody
// waits (then returns false). See the top of the file for why the bit is
// set from the state that was looked at.
bool enqueue(weighted_core* s, weighted_waiter* w) noexcept {
  state_t st = s->state.load(std::memory_order_relaxed);
  for (;;) {
    if ((st & queued) == 0 && s->size - held(st) >= w->n) {
      if (s->state.compare_exchange_weak(st, st + static_cast<state_t>(w->n), std::memory_order_acquire,
                                         std::memory_order_relaxed)) {
        return false;
      }
      continue;
    }
    if ((st & queued) != 0 ||
        s->state.compare_exchange_weak(st, st | queued, std::memory_order_relaxed, std::memory_order_relaxed)) {
      break;
    }
  }
  s->waiters.push_back(w);
  return true;
}

// Lock held. Clears the bit when the last waiter has left the list.
void clear_queued_if_empty(weighted_core* s) noexcept {
  if (s->waiters.empty()) s->state.fetch_and(~queued, std::memory_order_relaxed);
}

// Returns n units. Returns the state before (so whether waiters were
// queued then). Throws panic_error, returning nothing, if n is more than
// are held.
state_t give_back(weighted_core* s, std::int64_t n) {
  state_t st = s->state.load(std::memory_order_relaxed);
  for (;;) {
    if (n > held(st)) throw panic_error("goro::semaphore: released more than held");
    if (s->state.compare_exchange_weak(st, st - static_cast<state_t>(n), std::memory_order_release,
                                       std::memory_order_relaxed)) {
      return st;
    }
  }
}

// Lock held. Removes w (still queued); returns whether it was the front.
bool unlink(weighted_core* s, weighted_waiter* w) noexcept {
  bool front = s->waiters.head == w;
  s->waiters.remove_first([w](weighted_waiter* q) { return q == w; });
  return front;
}

// Lock held. Grants waiters in FIFO order while the front one fits (a large
// request at the front holds back the small ones behind it: no starvation).
// Returns them linked, to be woken after unlock; a channel waiter's channel
// gets a reference of its own, since the waiter may return once granted.
weighted_waiter* grant(weighted_core* s) noexcept {
  waiter_list<weighted_waiter> granted;
  state_t st = s->state.load(std::memory_order_relaxed);
  while (!s->waiters.empty() && s->size - held(st) >= s->waiters.head->n) {
    // Releases may lower the held units meanwhile (nothing else changes
    // state while the bit is set): retry the CAS with what it found.
    if (!s->state.compare_exchange_weak(st, st + static_cast<state_t>(s->waiters.head->n),
                                        std::memory_order_acq_rel, std::memory_order_relaxed)) {
      continue;
    }
    st += static_cast<state_t>(s->waiters.head->n);
    weighted_waiter* w = s->waiters.pop_front();
    w->granted = true;
    if (w->ready != nullptr) chan_retain(w->ready);
    granted.push_back(w);
  }
  clear_queued_if_empty(s);
  return granted.head;
}

// No lock held. Each waiter may be gone as soon as it is woken; a channel
// waiter that was cancelled meanwhile waits for its channel to close before
// going, so reading its record up to the close is safe.
void wake(weighted_waiter* w) noexcept {
  while (w != nullptr) {
    weighted_waiter* next = w->next;
    if (chan_core* r = w->ready) {
      chan_close(r);
      chan_release(r);
    } else {
      parker who = w->who;
      who.wake();
    }
    w = next;
  }
}

}  // namespace

void weighted_acquire(weighted_core* s, std::int64_t n) {
  check_amount(s, n);
  if (take_if_free(s, n)) return;
  weighted_waiter w;
  w.n = n;
  w.who = parker::current();
  {
    word_guard lock(s->lock);
    if (!enqueue(s, &w)) return;
    w.who.prepare(wait_reason::semaphore_acquire);
  }
  w.who.park();  // granted before we were woken
}

bool weighted_try_acquire(weighted_core* s, std::int64_t n) noexcept {
  if (n < 0) return false;
  return take_if_free(s, n);
}

void weighted_release(weighted_core* s, std::int64_t n) {
  if (n < 0) throw std::invalid_argument("goro::semaphore: release of a negative amount");
  if ((give_back(s, n) & queued) == 0) return;
  weighted_waiter* granted;
  {
    word_guard lock(s->lock);
    granted = grant(s);
  }
  wake(granted);
}

}  // namespace goro::detail

namespace goro {

std::error_code semaphore::acquire(const context& ctx, std::int64_t n) {
  using namespace detail;
  if (n < 0) throw std::invalid_argument("goro::semaphore: acquire of a negative amount");
  recv_chan<std::monostate> done = ctx.done();
  if (n > core_.size) {
    // Can never succeed: wait for the context, as Go does, if it can end.
    if (!done) throw std::invalid_argument("goro::semaphore: acquire of more than the semaphore's size");
    done.recv();
    return ctx.err();
  }
  if (std::error_code e = ctx.err()) return e;  // done already: fail even if units are free (Go)
  if (take_if_free(&core_, n)) return {};
  if (!done) {
    // Never cancelled: wait like a plain acquire.
    weighted_acquire(&core_, n);
    return {};
  }
  chan<std::monostate> ready = make_chan<std::monostate>();
  weighted_waiter w;
  w.n = n;
  w.ready = chan_access::ref(ready).core();
  {
    word_guard lock(core_.lock);
    if (!enqueue(&core_, &w)) return {};  // freed meanwhile
  }
  if (select(ready.on_recv(), done.on_recv()) == 0) return {};
  weighted_waiter* granted = nullptr;
  {
    word_guard lock(core_.lock);
    if (w.granted) {
      // Granted after the context was done: give the units back. The
      // releaser may still be about to read our record and close `ready`:
      // wait for that (below) before our stack frame goes.
      give_back(&core_, n);
      granted = grant(&core_);
    } else if (unlink(&core_, &w)) {
      // We were at the front, perhaps holding back smaller waiters that fit.
      granted = grant(&core_);
    }
  }
  bool was_granted = w.granted;  // stable: set under the lock we just held
  wake(granted);
  if (was_granted) ready.recv();  // closed by the releaser after its last look at w
  return ctx.err();
}

}  // namespace goro
