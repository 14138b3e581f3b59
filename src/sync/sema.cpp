// src/sync/sema.cpp: the waiter queues under goro's sync primitives: Go's
// runtime semaphore (sema) and its notifyList (cond); semaphore.cpp has
// x/sync's weighted semaphore. Every waiter is a record on the blocked party's own stack,
// holding its parker (park.hpp), so goroutines and plain threads block alike.
//
// Locks: each queue has a word lock (sync_core.hpp) guarding its list. It is
// held only to link or unlink waiters and is never held across a park or a
// wake: wakes happen after unlock, so the word locks nest inside nothing and
// nothing nests inside them but park_prepare (which takes no lock).
//
// Lifetime. The queues are embedded in the user's objects (Go keeps them in
// a global table, and its GC keeps the object alive), so a waker must not
// touch the object once a waiter may return: `{ wait_group wg; wg.go(f);
// wg.wait(); }` destroys wg right after the wait. Hence every operation that
// lets a waiter go does its last access to the object as it unlocks the
// queue's lock, then wakes waiters through their own records (on their
// stacks, alive until woken). Whatever comes after touches only the lock
// word's address in a futex wake, which is harmless on freed memory (a
// private futex is keyed by address; a stray wake is a spurious one).
//
// sema (Go's semacquire/semrelease, always under the lock):
//  acquire: take a token from count, else queue and park; a waiter is woken
//    only with a token handed to it.
//  release: hand the token to the front waiter, else count++.
// The callers' fast paths (mutex, rw_mutex, wait_group state words) make
// the lock rare: a sema is touched only when somebody waits.
#include "goro/detail/sync_core.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>

#include "goro/errors.hpp"
#include "goro/sync.hpp"
#include "runtime/park.hpp"
#include "runtime/platform.hpp"
#include "runtime/processor.hpp"

namespace goro::detail {

struct sema_waiter {
  parker who;
  sema_waiter* next = nullptr;
  std::uint32_t ticket = 0;  // notify_list: the waiter's ticket
};

// ---- word lock ---------------------------------------------------------------
// States: 0 unlocked; 1 locked; 2 locked, maybe sleepers (Go's lock_futex).

void word_lock_slow(std::atomic<std::uint32_t>& w) noexcept {
  // Go's lock_futex: a few short spins (the holder is running and holds the
  // lock for a handful of instructions), one yield of the thread (the holder
  // may have been preempted), then sleep.
  for (int spin = 0; spin < 5; ++spin) {
    if (spin < 4) {
      for (int i = 0; i < 30; ++i) cpu_relax();
    } else {
      os_yield();
    }
    std::uint32_t expected = 0;
    if (w.load(std::memory_order_relaxed) == 0 &&
        w.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed)) {
      return;
    }
  }
  while (w.exchange(2, std::memory_order_acquire) != 0) futex_wait(&w, 2);
}

void word_unlock_slow(std::atomic<std::uint32_t>& w) noexcept { futex_wake(&w, 1); }

// ---- sema --------------------------------------------------------------------

void sema_acquire(sema* s, bool lifo, wait_reason why) noexcept {
  sema_waiter w;
  {
    word_guard lock(s->lock);
    if (s->count > 0) {
      --s->count;
      return;
    }
    w.who = parker::current();
    if (lifo) {
      s->waiters.push_front(&w);
    } else {
      s->waiters.push_back(&w);
    }
    w.who.prepare(why);
  }
  w.who.park();  // woken only with the releaser's token
}

namespace {

// Wakes a list of waiters taken off a queue. No lock held; the object the
// queue lives in may already be gone.
void wake_list(sema_waiter* w) noexcept {
  while (w != nullptr) {
    sema_waiter* next = w->next;  // before the wake: w may be gone after it
    parker who = w->who;
    who.wake();
    w = next;
  }
}

}  // namespace

void sema_release_n(sema* s, std::uint32_t n) noexcept {
  waiter_list<sema_waiter> woken;
  {
    word_guard lock(s->lock);
    for (; n > 0 && !s->waiters.empty(); --n) woken.push_back(s->waiters.pop_front());
    s->count += n;  // the tokens nobody was waiting for
  }
  wake_list(woken.head);
}

void sema_release(sema* s, bool handoff) noexcept {
  sema_waiter* w;
  {
    word_guard lock(s->lock);
    w = s->waiters.pop_front();
    if (w == nullptr) {
      ++s->count;
      return;
    }
  }
  parker who = w->who;  // w may be gone once woken
  who.wake();
  // Starvation mode: let the waiter we handed the mutex to run now, as Go
  // does (it is in our runnext slot), instead of finishing our time slice.
  if (handoff && who.g != nullptr && current_goroutine() != nullptr) yield();
}

// ---- notify_list -------------------------------------------------------------

namespace {

// Wrap-around comparison of tickets (Go's less()).
bool ticket_less(std::uint32_t a, std::uint32_t b) noexcept { return static_cast<std::int32_t>(a - b) < 0; }

}  // namespace

std::uint32_t notify_list_add(notify_list* l) noexcept {
  return l->wait.fetch_add(1, std::memory_order_seq_cst);
}

void notify_list_wait(notify_list* l, std::uint32_t ticket) noexcept {
  sema_waiter w;
  w.who = parker::current();
  w.ticket = ticket;
  {
    word_guard lock(l->lock);
    // Already notified (a signal came between add and now): return at once.
    if (ticket_less(ticket, l->notify.load(std::memory_order_relaxed))) return;
    // Tickets are taken in order, but waits may arrive out of order: the
    // list is in arrival order, and notify_one searches it for its ticket.
    l->waiters.push_back(&w);
    w.who.prepare(wait_reason::cond_wait);
  }
  w.who.park();
}

void notify_list_notify_all(notify_list* l) noexcept {
  // Fast path: nobody has waited since the last notification. A waiter that
  // took its ticket before this load is seen (seq_cst pairs with add).
  if (l->wait.load(std::memory_order_seq_cst) == l->notify.load(std::memory_order_seq_cst)) return;
  sema_waiter* w;
  {
    word_guard lock(l->lock);
    w = l->waiters.take_all();
    l->notify.store(l->wait.load(std::memory_order_seq_cst), std::memory_order_seq_cst);
  }
  wake_list(w);
}

void notify_list_notify_one(notify_list* l) noexcept {
  if (l->wait.load(std::memory_order_seq_cst) == l->notify.load(std::memory_order_seq_cst)) return;
  sema_waiter* found = nullptr;
  {
    word_guard lock(l->lock);
    std::uint32_t t = l->notify.load(std::memory_order_relaxed);
    if (t == l->wait.load(std::memory_order_seq_cst)) return;
    l->notify.store(t + 1, std::memory_order_seq_cst);
    // The waiter with ticket t may not have queued yet: then its wait sees
    // notify > t and returns at once.
    found = l->waiters.remove_first([t](sema_waiter* w) { return w->ticket == t; });
  }
  wake_list(found);  // unlinked: next is null
}

// ---- misc ----------------------------------------------------------------------

std::int64_t sync_nanotime() noexcept { return nanotime(); }

namespace {

// One spin round lasts about spin_round_ns, whatever a PAUSE costs on this
// CPU. Go's round is 30 PAUSEs whatever they cost: 0.3 us on this project's
// Xeon VM (11 ns a PAUSE), about 1.4 us on a Skylake server part (~140
// cycles a PAUSE). A waiter's probe of the state word takes the cache line
// from the holder, so short rounds slow the holder down: Mutex/2 ran 1.35x
// slower with 30 PAUSEs a round than with 100 on that VM (bench/limits.md).
// The four rounds of sync_can_spin then spin about 4 us before parking,
// about what parking and being woken through an idle worker costs.
constexpr std::int64_t spin_round_ns = 1000;

int measure_spin_round_pauses() noexcept {
  constexpr int probe = 128;
  std::int64_t best = INT64_MAX;
  for (int round = 0; round < 3; ++round) {  // the fastest of 3: a preempted probe counts for nothing
    std::int64_t t0 = nanotime();
    for (int i = 0; i < probe; ++i) cpu_relax();
    best = std::min(best, nanotime() - t0);
  }
  std::int64_t n = best <= 0 ? 300 : spin_round_ns * probe / best;
  return static_cast<int>(std::clamp<std::int64_t>(n, 10, 300));
}

}  // namespace

void sync_spin() noexcept {
  static const int pauses = measure_spin_round_pauses();  // once, on the first contended lock
  for (int i = 0; i < pauses; ++i) cpu_relax();
}

[[noreturn]] void sync_fatal(const char* msg) noexcept {
  std::uint64_t id = current_goroutine_id();
  if (id != 0) {
    std::fprintf(stderr, "goro: fatal error: %s (goroutine %llu)\n", msg, static_cast<unsigned long long>(id));
  } else {
    std::fprintf(stderr, "goro: fatal error: %s\n", msg);
  }
  std::fflush(stderr);
  std::abort();
}

}  // namespace goro::detail
