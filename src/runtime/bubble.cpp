// src/runtime/bubble.cpp: goro::testing::bubble. See bubble.hpp for the
// counting, the idle token and who may touch what.
#include "runtime/bubble.hpp"

#include <string>
#include <utility>

#include "goro/errors.hpp"
#include "goro/runtime.hpp"
#include "goro/testing.hpp"
#include "goro/time.hpp"
#include "runtime/platform.hpp"
#include "runtime/processor.hpp"
#include "runtime/registry.hpp"

namespace goro::detail {
namespace {

void release(bubble_state* b) noexcept {
  if (b->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete b;
}

// A member took active to 0 (it holds the idle token): hand it to the driver.
void signal(bubble_state* b) noexcept {
  parker to_wake;
  b->lock.lock();
  b->signalled = true;
  if (b->driver_parked) {
    b->driver_parked = false;
    to_wake = b->driver;
  }
  b->lock.unlock();
  if (to_wake.g != nullptr) to_wake.wake();
}

void decrement(bubble_state* b) noexcept {
  if (b->active.fetch_sub(1, std::memory_order_acq_rel) == 1) signal(b);
}

}  // namespace

void bubble_join(bubble_state* b, goroutine* g) noexcept {
  g->bubble.store(b, std::memory_order_relaxed);
  b->refs.fetch_add(1, std::memory_order_relaxed);  // the starter holds one: b is alive
  b->members.fetch_add(1, std::memory_order_acq_rel);
  b->active.fetch_add(1, std::memory_order_acq_rel);
  b->progress.fetch_add(1, std::memory_order_relaxed);
}

void bubble_leave(goroutine* g) noexcept {
  bubble_state* b = g->bubble.load(std::memory_order_relaxed);
  b->members.fetch_sub(1, std::memory_order_acq_rel);  // before active: the driver reads it after
  decrement(b);
  release(b);
}

void bubble_commit_end(bubble_state* b, bool committed) noexcept {
  if (committed) decrement(b);
  release(b);
}

std::int64_t clock_now() noexcept {
  goroutine* g = current_goroutine();
  if (g != nullptr) {
    if (bubble_state* b = g->bubble.load(std::memory_order_relaxed)) [[unlikely]] {
      return b->now.load(std::memory_order_relaxed);
    }
  }
  return nanotime();
}

namespace {

// The driver waits for the idle token from a member.
void wait_signal(bubble_state* b) noexcept {
  for (;;) {
    b->lock.lock();
    if (b->signalled) {
      b->signalled = false;
      b->lock.unlock();
      return;
    }
    b->driver.prepare(wait_reason::bubble);
    b->driver_parked = true;
    b->lock.unlock();
    b->driver.park();
  }
}

enum class outcome { go_on, done, deadlock, deadlock_tickers };

struct driver {
  bubble_state* b;
  goroutine* self;
  // Virtual time since which timers have fired without waking or starting
  // a goroutine; -1: they woke one at the last firing.
  std::int64_t stalled_since = -1;

  // With the driver's unit counted. Does one step: returns the bubble's
  // first waiter, fires due timers, or moves the clock to the next timer.
  outcome act() {
    if (b->active.load(std::memory_order_acquire) != 1) return outcome::go_on;  // a member runs
    if (b->members.load(std::memory_order_acquire) == 0) return outcome::done;
    b->lock.lock();
    parker waiter = std::exchange(b->waiter, parker{});
    b->lock.unlock();
    if (waiter.g != nullptr) {
      waiter.wake();  // bubble_wait(): every other member is durably blocked
      return outcome::go_on;
    }
    std::uint64_t progress = b->progress.load(std::memory_order_relaxed);
    std::int64_t now = b->now.load(std::memory_order_relaxed);
    self->bubble.store(b, std::memory_order_relaxed);  // what the timers start joins b
    int fired = timer_run_due(b->timers, now);
    if (fired == 0) {
      std::int64_t next = b->timers.earliest.load(std::memory_order_relaxed);
      if (next == 0) {
        self->bubble.store(nullptr, std::memory_order_relaxed);
        return outcome::deadlock;
      }
      if (next > now) {
        now = next;
        b->now.store(now, std::memory_order_relaxed);
      }
      timer_run_due(b->timers, now);
    }
    self->bubble.store(nullptr, std::memory_order_relaxed);
    if (b->progress.load(std::memory_order_relaxed) != progress) {
      stalled_since = -1;
      return outcome::go_on;
    }
    // Nobody woke. One-shot timers run out; tickers do not: once each
    // ticker left has fired (its channel's buffer is full) with nobody
    // woken, no firing of theirs can wake anyone.
    if (stalled_since < 0) stalled_since = now;
    std::int64_t longest = 0;
    {
      runtime_lock_guard lock(b->timers.lock);
      for (const timer_node* n : b->timers.nodes) {
        if (n->period <= 0) return outcome::go_on;
        longest = std::max(longest, n->period);
      }
    }
    return now - stalled_since > longest ? outcome::deadlock_tickers : outcome::go_on;
  }
};

// Runs f as the first goroutine of a new bubble and drives the bubble's
// clock until every goroutine of the bubble has returned. On a goroutine.
void drive(std::function<void()>& f, const source_location& where) {
  goroutine* self = current_goroutine();
  if (self->bubble.load(std::memory_order_relaxed) != nullptr) {
    throw goro::panic_error("goro::testing::bubble called inside a bubble");
  }
  auto* b = new bubble_state;
  b->now.store(nanotime(), std::memory_order_relaxed);
  b->driver = parker::current();
  self->bubble.store(b, std::memory_order_relaxed);  // the first goroutine joins b
  try {
    goro::go(
        [b, fn = std::move(f)]() mutable {
          try {
            fn();
          } catch (...) {
            b->error = std::current_exception();
          }
          b->first_returned.store(true, std::memory_order_release);
        },
        where);
  } catch (...) {
    self->bubble.store(nullptr, std::memory_order_relaxed);
    release(b);
    throw;
  }
  self->bubble.store(nullptr, std::memory_order_relaxed);

  driver d{b, self};
  outcome o = outcome::go_on;
  bool token = false;  // the driver's own decrement reached 0
  for (;;) {
    if (!token) wait_signal(b);
    b->active.fetch_add(1, std::memory_order_acq_rel);
    o = d.act();
    if (o != outcome::go_on) break;
    token = b->active.fetch_sub(1, std::memory_order_acq_rel) == 1;
  }

  std::string report;
  if (o == outcome::done) {
    // Timers nobody stopped go on in real time, as they would have outside.
    timer_adopt_all(b->timers, nanotime() - b->now.load(std::memory_order_relaxed));
  } else {
    // Deadlock: the members stay parked for good, marked deadlocked (left
    // out of leak checks and of the process's deadlock check), holding b.
    const char* headline =
        o == outcome::deadlock_tickers
            ? "goro::testing::bubble: all goroutines in the bubble are durably blocked, and only tickers "
              "nobody receives from are left - deadlock!"
        : b->first_returned.load(std::memory_order_acquire)
            ? "goro::testing::bubble: the bubble's first goroutine has returned, and the others are durably "
              "blocked - deadlock!"
            : "goro::testing::bubble: all goroutines in the bubble are durably blocked - deadlock!";
    try {
      report = registry_abandon_bubble(b, headline);
    } catch (...) {
      report = headline;
    }
  }
  // What the first goroutine threw says more than a deadlock it left behind.
  std::exception_ptr error = b->error;
  release(b);
  if (error) std::rethrow_exception(error);
  if (o != outcome::done) throw goro::deadlock_error(report);
}

}  // namespace
}  // namespace goro::detail

namespace goro::testing {

void bubble(std::function<void()> f, source_location where) {
  if (!f) throw std::invalid_argument("goro::testing::bubble: empty function");
  if (detail::current_goroutine() == nullptr) {
    // The driver parks between steps: it must be a goroutine.
    goro::run([&] { detail::drive(f, where); }, where);
    return;
  }
  detail::drive(f, where);
}

void bubble_wait() {
  using namespace detail;
  goroutine* g = current_goroutine();
  bubble_state* b = g != nullptr ? g->bubble.load(std::memory_order_relaxed) : nullptr;
  if (b == nullptr) throw goro::panic_error("goro::testing::bubble_wait called outside a bubble");
  parker me = parker::current();
  b->lock.lock();
  if (b->waiter.g != nullptr) {
    b->lock.unlock();
    throw goro::panic_error("goro::testing::bubble_wait: another goroutine of the bubble is already waiting");
  }
  me.prepare(wait_reason::bubble_wait);  // durable: the commit counts it as blocked
  b->waiter = me;
  b->lock.unlock();
  me.park();
}

bool in_bubble() noexcept {
  detail::goroutine* g = detail::current_goroutine();
  return g != nullptr && g->bubble.load(std::memory_order_relaxed) != nullptr;
}

}  // namespace goro::testing
