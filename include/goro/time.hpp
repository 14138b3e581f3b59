// goro/time.hpp: sleeping, timers and tickers (Go's time package, the parts
// about waiting). Monotonic clock (goro::clock: std::chrono::steady_clock, or a
// test's virtual clock inside goro::testing::bubble).
//
//   goro::sleep(10ms);                         // parks the goroutine, not the thread
//   goro::after(50ms).recv();                  // a channel that receives once
//   goro::timer t(1s);  t.stop();  t.reset(2s);
//   goro::ticker tk(100ms);  tk.c().recv();  tk.stop();
//   goro::after_func(1s, [] { ... });          // f runs in its own goroutine
//
// Go 1.23 semantics: timer channels hold no stale value: once stop() or
// reset() returns, a receive from c() sees only a firing that happens after
// it. stop() returns true if it prevented the value from being received
// (the timer had not fired, or its value had not been received yet).
//
// Destroying a timer or ticker handle does not stop it (as in Go, where the
// program may still hold the channel); a timer or ticker whose channel no
// handle can reach any more stops itself at its next firing. Call stop() to
// stop one early.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <utility>

#include "goro/chan.hpp"
#include "goro/detail/config.hpp"

namespace goro {

namespace detail {
GORO_API std::int64_t clock_now() noexcept;  // nanoseconds on steady_clock, or a bubble's clock
}  // namespace detail

/// goro's clock: std::chrono::steady_clock, except in a goroutine of a
/// goro::testing::bubble, where it reads the bubble's virtual clock. Its
/// time_point is steady_clock's, so the two mix; inside a bubble, take the
/// time from goro::clock::now() (timers, deadlines and rate limits do).
struct clock {
  using duration = std::chrono::steady_clock::duration;
  using rep = duration::rep;
  using period = duration::period;
  using time_point = std::chrono::steady_clock::time_point;
  static constexpr bool is_steady = true;
  static time_point now() noexcept {
    return time_point(std::chrono::duration_cast<duration>(std::chrono::nanoseconds(detail::clock_now())));
  }
};
using time_point = clock::time_point;

namespace detail {
struct timer_core;
GORO_API void sleep_ns(std::int64_t ns);
GORO_API timer_core* timer_new_chan(std::int64_t delay_ns, std::int64_t period_ns);
GORO_API timer_core* timer_new_func(std::int64_t delay_ns, std::function<void()> f, const source_location& where);
GORO_API chan_core* timer_chan(timer_core* t) noexcept;  // a new counted reference; null for after_func
GORO_API bool timer_stop(timer_core* t);
GORO_API bool timer_reset(timer_core* t, std::int64_t delay_ns, std::int64_t period_ns);
GORO_API void timer_retain(timer_core* t) noexcept;
GORO_API void timer_release(timer_core* t) noexcept;
GORO_API void timer_drop_handle(timer_core* t) noexcept;  // a timer/ticker handle goes

inline std::int64_t to_ns(std::chrono::nanoseconds d) noexcept { return d.count(); }
}  // namespace detail

/// Pauses the calling goroutine for at least d (the thread, on a plain
/// thread). d <= 0 returns at once.
inline void sleep(std::chrono::nanoseconds d) { detail::sleep_ns(detail::to_ns(d)); }

/// A single-shot timer (Go's time.Timer). Handles are movable, not copyable.
class timer {
 public:
  /// An empty handle (no timer), to assign one to later.
  timer() noexcept : t_(nullptr) {}
  /// Starts a timer that sends the current time on c() after d.
  explicit timer(std::chrono::nanoseconds d) : t_(detail::timer_new_chan(detail::to_ns(d), 0)) {}
  timer(timer&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
  timer& operator=(timer&& o) noexcept {
    std::swap(t_, o.t_);
    return *this;
  }
  ~timer() {
    if (t_ != nullptr) detail::timer_drop_handle(t_);
  }

  /// The channel the time is sent on; the nil channel for after_func timers.
  recv_chan<time_point> c() const {
    return detail::chan_access::adopt<time_point>(detail::timer_chan(t_));
  }
  /// Stops the timer; true if that prevented its firing from being received
  /// (for after_func: from running f).
  bool stop() { return detail::timer_stop(t_); }
  /// Re-arms the timer to fire after d; true if it was still pending.
  bool reset(std::chrono::nanoseconds d) { return detail::timer_reset(t_, detail::to_ns(d), 0); }

 private:
  friend timer after_func(std::chrono::nanoseconds, std::function<void()>, source_location);
  explicit timer(detail::timer_core* t) noexcept : t_(t) {}
  detail::timer_core* t_;
};

/// A ticker (Go's time.Ticker): sends the time on c() every d; a slow
/// receiver misses ticks rather than queueing them. d must be positive.
class ticker {
 public:
  /// An empty handle (no ticker), to assign one to later.
  ticker() noexcept : t_(nullptr) {}
  explicit ticker(std::chrono::nanoseconds d) : t_(detail::timer_new_chan(checked(d), detail::to_ns(d))) {}
  ticker(ticker&& o) noexcept : t_(std::exchange(o.t_, nullptr)) {}
  ticker& operator=(ticker&& o) noexcept {
    std::swap(t_, o.t_);
    return *this;
  }
  ~ticker() {
    if (t_ != nullptr) detail::timer_drop_handle(t_);
  }
  recv_chan<time_point> c() const {
    return detail::chan_access::adopt<time_point>(detail::timer_chan(t_));
  }
  /// Stops the ticker; no tick is received after stop returns.
  void stop() { detail::timer_stop(t_); }
  /// Changes the period to d and restarts the count from now.
  void reset(std::chrono::nanoseconds d) { detail::timer_reset(t_, checked(d), detail::to_ns(d)); }

 private:
  static std::int64_t checked(std::chrono::nanoseconds d) {
    if (d.count() <= 0) throw panic_error("non-positive interval for goro::ticker");
    return d.count();
  }
  detail::timer_core* t_;
};

/// A channel that receives the time once, after d (Go's time.After).
inline recv_chan<time_point> after(std::chrono::nanoseconds d) { return timer(d).c(); }

/// A channel that receives the time every d (Go's time.Tick). The ticker
/// stops itself once no handle to the channel remains. d must be positive.
inline recv_chan<time_point> tick(std::chrono::nanoseconds d) { return ticker(d).c(); }

/// Runs f in its own goroutine after d (Go's time.AfterFunc). The returned
/// timer can stop or reset it; its c() is the nil channel.
inline timer after_func(std::chrono::nanoseconds d, std::function<void()> f,
                        source_location where = source_location::current()) {
  return timer(detail::timer_new_func(detail::to_ns(d), std::move(f), where));
}

}  // namespace goro
