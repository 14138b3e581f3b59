// src/sync/semaphore.cpp: golang.org/x/sync/semaphore.Weighted (sync.hpp's
// semaphore).
//
// weighted_core's lock (a word lock) guards cur and the FIFO waiter list.
// A release grants waiters from the front while the front one fits, under
// the lock, and wakes them after unlocking. A waiter is a record on its own
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

void check_amount(const weighted_core* s, std::int64_t n) {
  if (n < 0) throw std::invalid_argument("goro::semaphore: acquire of a negative amount");
  if (n > s->size) throw std::invalid_argument("goro::semaphore: acquire of more than the semaphore's size");
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
  while (!s->waiters.empty() && s->size - s->cur >= s->waiters.head->n) {
    weighted_waiter* w = s->waiters.pop_front();
    s->cur += w->n;
    w->granted = true;
    if (w->ready != nullptr) chan_retain(w->ready);
    granted.push_back(w);
  }
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
  weighted_waiter w;
  w.n = n;
  {
    word_guard lock(s->lock);
    if (s->size - s->cur >= n && s->waiters.empty()) {
      s->cur += n;
      return;
    }
    w.who = parker::current();
    s->waiters.push_back(&w);
    w.who.prepare(wait_reason::semaphore_acquire);
  }
  w.who.park();  // granted before we were woken
}

bool weighted_try_acquire(weighted_core* s, std::int64_t n) noexcept {
  if (n < 0) return false;
  word_guard lock(s->lock);
  if (s->size - s->cur >= n && s->waiters.empty()) {
    s->cur += n;
    return true;
  }
  return false;
}

void weighted_release(weighted_core* s, std::int64_t n) {
  if (n < 0) throw std::invalid_argument("goro::semaphore: release of a negative amount");
  weighted_waiter* granted;
  {
    word_guard lock(s->lock);
    if (n > s->cur) throw panic_error("goro::semaphore: released more than held");
    s->cur -= n;
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
  chan<std::monostate> ready;
  weighted_waiter w;
  w.n = n;
  {
    word_guard lock(core_.lock);
    if (std::error_code e = ctx.err()) return e;  // done already: fail even if units are free (Go)
    if (core_.size - core_.cur >= n && core_.waiters.empty()) {
      core_.cur += n;
      return {};
    }
    if (!done) {
      // Never cancelled: wait like a plain acquire.
      w.who = parker::current();
      core_.waiters.push_back(&w);
      w.who.prepare(wait_reason::semaphore_acquire);
    }
  }
  if (!done) {
    w.who.park();
    return {};
  }
  ready = make_chan<std::monostate>();
  w.ready = chan_access::ref(ready).core();
  {
    word_guard lock(core_.lock);
    if (core_.size - core_.cur >= n && core_.waiters.empty()) {  // freed meanwhile
      core_.cur += n;
      return {};
    }
    core_.waiters.push_back(&w);
  }
  if (select(ready.on_recv(), done.on_recv()) == 0) return {};
  weighted_waiter* granted = nullptr;
  {
    word_guard lock(core_.lock);
    if (w.granted) {
      // Granted after the context was done: give the units back. The
      // releaser may still be about to read our record and close `ready`:
      // wait for that (below) before our stack frame goes.
      core_.cur -= n;
      granted = grant(&core_);
    } else if (unlink(&core_, &w) && core_.size > core_.cur) {
      // We were at the front, holding back smaller waiters that fit.
      granted = grant(&core_);
    }
  }
  bool was_granted = w.granted;  // stable: set under the lock we just held
  wake(granted);
  if (was_granted) ready.recv();  // closed by the releaser after its last look at w
  return ctx.err();
}

}  // namespace goro
