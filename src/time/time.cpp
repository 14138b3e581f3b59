// src/time/time.cpp: sleep, timers, tickers and after_func on the runtime's
// per-processor timer heaps (runtime/timers.hpp).
//
// A timer_core is shared by the user's handle and, while armed, by its heap
// node (counted references: the heap's reference moves to fire(), which
// drops it). Lock order: mu → channel lock → sched.lock, and mu → heap lock.
// mu serialises firing against stop/reset, which is how Go 1.23's
// "no stale value after stop or reset" is kept:
//  - seq (guarded by mu) is bumped by every stop and reset; the node carries
//    the seq it was armed with, and a firing whose seq is stale delivers
//    nothing.
//  - stop and reset drain the channel's buffered value under mu.
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <thread>

#include "chan/chan_impl.hpp"
#include "goro/detail/runtime_core.hpp"
#include "goro/errors.hpp"
#include "goro/time.hpp"
#include "runtime/bubble.hpp"
#include "runtime/park.hpp"
#include "runtime/processor.hpp"
#include "runtime/timers.hpp"

namespace goro::detail {

struct timer_core {
  timer_node node;
  std::atomic<std::int64_t> refs{1};
  // timer/ticker handles (a subset of refs). With no handle and no channel
  // handle left, nobody can ever receive: the timer stops itself.
  std::atomic<std::int64_t> handles{1};
  runtime_mutex mu{lock_rank::timer};
  std::uint64_t seq = 1;        // guarded by mu
  chan_core* ch = nullptr;      // channel timers: capacity 1, one counted reference
  std::function<void()> fn;     // after_func timers
  source_location where;
};

namespace {

timer_core* core_of(timer_node* n) noexcept { return static_cast<timer_core*>(n->owner); }

void retain_node(timer_node* n) noexcept { timer_retain(core_of(n)); }

void send_time(chan_core* ch) noexcept {
  time_point now = clock::now();
  try {
    chan_try_send(ch, &now);
  } catch (...) {
    // The channel is never closed; nothing to do.
  }
}

void fire_chan(timer_node* n, std::uint64_t seq) noexcept {
  timer_core* t = core_of(n);
  {
    runtime_lock_guard lock(t->mu);
    n->inflight.store(false, std::memory_order_relaxed);
    if (seq == t->seq) {
      if (t->handles.load(std::memory_order_acquire) > 0 || t->ch->refs.load(std::memory_order_acquire) > 1) {
        send_time(t->ch);  // a full buffer (a slow receiver) drops the tick
      } else if (n->period > 0) {
        // Nobody can receive any more: the ticker stops itself.
        ++t->seq;
        if (timer_remove(n)) timer_release(t);  // the heap's reference; ours is below
      }
    }
  }
  timer_release(t);
}

void fire_func(timer_node* n, std::uint64_t seq) noexcept {
  timer_core* t = core_of(n);
  {
    runtime_lock_guard lock(t->mu);
    n->inflight.store(false, std::memory_order_relaxed);
    if (seq != t->seq) {
      // stop() or reset() came after the node left the heap and told its
      // caller this firing would not happen: it does not.
      timer_release(t);
      return;
    }
  }
  // Like Go, f runs in its own goroutine; it keeps the core (and f) alive.
  timer_retain(t);
  struct run_fn {
    timer_core* t;
    void operator()() const {
      t->fn();
      timer_release(t);
    }
  };
  try {
    spawn(t->where, run_fn{t});
  } catch (...) {
    timer_release(t);
    std::fprintf(stderr, "goro: fatal error: out of memory starting an after_func goroutine\n");
    std::abort();
  }
  timer_release(t);
}

// now + delay, saturated: a delay of nanoseconds::max() means "never".
std::int64_t deadline_after(std::int64_t delay_ns) noexcept {
  std::int64_t now = clock_now();  // a bubble's clock in a bubble
  if (delay_ns <= 0) return now;
  return delay_ns > INT64_MAX - now ? INT64_MAX : now + delay_ns;
}

void arm(timer_core* t, std::int64_t delay_ns, std::int64_t period_ns) {
  t->node.seq = t->seq;
  t->node.period = period_ns;
  timer_retain(t);  // the heap's reference
  timer_add(&t->node, deadline_after(delay_ns));
}

// mu held. Disarms and drains; true if that kept a firing from being seen.
bool disarm(timer_core* t) noexcept {
  ++t->seq;
  bool pending = false;
  if (timer_remove(&t->node)) {
    pending = true;
    timer_release(t);  // the heap's reference
  }
  if (t->node.inflight.load(std::memory_order_relaxed)) pending = true;  // its stale seq will drop it
  if (t->ch != nullptr) {
    alignas(time_point) unsigned char buf[sizeof(time_point)];
    bool closed = false;
    if (chan_try_recv(t->ch, buf, &closed)) pending = true;
  }
  return pending;
}

}  // namespace

void sleep_ns(std::int64_t ns) {
  if (ns <= 0) return;
  parker me = parker::current();
  if (me.g == nullptr) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
    return;
  }
  timer_node node;
  node.owner = &me;
  node.fire = [](timer_node* n, std::uint64_t) noexcept {
    // The sleeper cannot return before this wake, so n is alive until here.
    static_cast<parker*>(n->owner)->wake();
  };
  me.prepare(wait_reason::sleep);
  timer_add(&node, deadline_after(ns));
  me.park();
}

timer_core* timer_new_chan(std::int64_t delay_ns, std::int64_t period_ns) {
  auto* t = new timer_core;
  t->node.owner = t;
  t->node.retain = &retain_node;
  t->node.fire = &fire_chan;
  try {
    t->ch = chan_make(&elem_ops_for<time_point>, 1);
  } catch (...) {
    delete t;
    throw;
  }
  runtime_lock_guard lock(t->mu);
  arm(t, delay_ns, period_ns);
  return t;
}

timer_core* timer_new_func(std::int64_t delay_ns, std::function<void()> f, const source_location& where) {
  auto* t = new timer_core;
  t->node.owner = t;
  t->node.retain = &retain_node;
  t->node.fire = &fire_func;
  t->fn = std::move(f);
  t->where = where;
  runtime_lock_guard lock(t->mu);
  arm(t, delay_ns, 0);
  return t;
}

chan_core* timer_chan(timer_core* t) noexcept {
  if (t == nullptr || t->ch == nullptr) return nullptr;
  chan_retain(t->ch);
  return t->ch;
}

bool timer_stop(timer_core* t) {
  if (t == nullptr) throw panic_error("goro: stop of a moved-from timer");
  runtime_lock_guard lock(t->mu);
  return disarm(t);
}

bool timer_reset(timer_core* t, std::int64_t delay_ns, std::int64_t period_ns) {
  if (t == nullptr) throw panic_error("goro: reset of a moved-from timer");
  runtime_lock_guard lock(t->mu);
  bool pending = disarm(t);
  arm(t, delay_ns, period_ns);
  return pending;
}

void timer_retain(timer_core* t) noexcept { t->refs.fetch_add(1, std::memory_order_relaxed); }

void timer_drop_handle(timer_core* t) noexcept {
  t->handles.fetch_sub(1, std::memory_order_acq_rel);
  timer_release(t);
}

void timer_release(timer_core* t) noexcept {
  if (t->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (t->ch != nullptr) chan_release(t->ch);
  delete t;
}

}  // namespace goro::detail
