// goro/heartbeat.hpp: heartbeats (Concurrency in Go, ch. 5): a goroutine
// that does work also tells whoever watches it that it is alive.
//
//   auto done = goro::make_done();
//   auto [beats, results] = goro::heartbeat(done, 100ms, [&]() -> std::optional<int> { ... });
//   switch (goro::select(beats.on_recv(), results.on_recv(v), goro::after(1s).on_recv())) {
//     case 2: /* no pulse for 1 s: the worker is not healthy */ ...
//   }
//   done.close();                    // the worker stops; both channels close
//   for (auto r : results) (void)r;  // wait for that (results closes) before
//                                    // leaving what work's [&] refers to
//
// Two kinds of pulse, as in the book:
//   heartbeat(stop, interval, work)   a pulse every `interval` while the
//                                     worker waits (for input, or for its
//                                     result to be taken): "I am alive".
//   heartbeat_per_unit(stop, work)    a pulse before each unit of work:
//                                     "I am starting a unit". What makes a
//                                     test of the worker deterministic: wait
//                                     for the first pulse, then read results
//                                     with no timing guesswork.
//
// The work. `work` is a generator: called repeatedly in the worker goroutine
// as work(stop) (if it takes a const goro::stop_signal&) or work(), it
// returns std::optional<T>: a value is one result, to be sent on results;
// std::nullopt ends the work. Each call is one unit of work. The pulses
// happen outside work(): a call that takes longer than the interval delays
// the pulses, which is how a watcher (a steward, steward.hpp) tells a worker
// stuck in its work from a healthy one. A work function that may block
// should take the stop_signal and return std::nullopt once it is stopped.
// heartbeat() also takes a channel instead of a function (the book's
// doWork, whose work arrives on a channel): then it pulses while it waits
// for input too, and ends when that channel is closed.
//
// Pulses never block the worker: the heartbeat channel has a buffer of one
// and a pulse that finds it full is dropped (Go's select with a default).
// So a watcher that reads pulses sees at most one stale pulse, and a worker
// nobody watches runs at full speed.
//
// Stopping: when `stop` closes (is cancelled) or the work ends, the worker
// closes results, then heartbeats, and returns. It does not call work()
// again once it has seen the stop; a value made but not yet taken when the
// stop comes is dropped. An exception thrown by work() ends the program (as
// any exception escaping a goroutine).
#pragma once

#include <chrono>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "goro/chan.hpp"
#include "goro/runtime.hpp"
#include "goro/select.hpp"
#include "goro/stop.hpp"
#include "goro/time.hpp"

namespace goro {

/// What heartbeat() and heartbeat_per_unit() return (structured bindings:
/// auto [beats, results] = ...). Both channels close when the worker ends,
/// results first.
template <class T>
struct heartbeat_streams {
  recv_chan<std::monostate> heartbeats;  // buffer of one; pulses that find it full are dropped
  recv_chan<T> results;                  // unbuffered
};

namespace detail {

template <class F>
decltype(auto) heartbeat_call(F& work, const stop_signal& stop) {
  if constexpr (std::is_invocable_v<F&, const stop_signal&>) {
    return work(stop);
  } else {
    return work();
  }
}

template <class R>
struct heartbeat_value {};  // not a std::optional: not a heartbeat work function
template <class T>
struct heartbeat_value<std::optional<T>> {
  using type = T;
};

template <class F>
  requires std::is_invocable_v<F&, const stop_signal&> || std::is_invocable_v<F&>
using heartbeat_call_t = decltype(heartbeat_call(std::declval<F&>(), std::declval<const stop_signal&>()));

template <class F>
using heartbeat_value_t = typename heartbeat_value<std::remove_cvref_t<heartbeat_call_t<F>>>::type;

/// A generator of std::optional<T> (see the top of this file).
template <class F>
concept heartbeat_work = requires { typename heartbeat_value_t<F>; };

/// One pulse, dropped if the previous one has not been taken.
inline void heartbeat_pulse(const chan<std::monostate>& beats) { (void)beats.try_send(std::monostate{}); }

/// Owned by a worker goroutine: closes its channels (results first, as the
/// book's deferred closes do) and stops its ticker when the worker returns.
template <class T>
struct heartbeat_worker {
  chan<std::monostate> beats = make_chan<std::monostate>(1);
  chan<T> results = make_chan<T>();
  std::optional<ticker> pulses;  // none for heartbeat_per_unit

  heartbeat_worker() = default;
  heartbeat_worker(heartbeat_worker&&) noexcept = default;
  ~heartbeat_worker() {
    if (!results) return;  // moved from
    if (pulses) pulses->stop();
    results.close();
    beats.close();
  }
  heartbeat_streams<T> streams() const { return {beats, results}; }

  /// Sends v on results, pulsing on every tick while it waits. False if
  /// stopped first.
  bool send(const stop_signal& stop, const recv_chan<time_point>& ticks, T&& v) const {
    for (;;) {
      switch (select(stop.on_stop(), ticks.on_recv(), results.on_send(std::move(v)))) {
        case 0:
          return false;
        case 1:
          heartbeat_pulse(beats);
          break;
        default:
          return true;
      }
    }
  }
};

}  // namespace detail

/// Starts a worker goroutine that calls work() until it returns
/// std::nullopt or `stop` stops it, sends each value on results, and pulses
/// every `interval` while it waits for its result to be taken. Throws
/// panic_error (and starts nothing) if interval is not positive.
template <class F>
  requires detail::heartbeat_work<std::decay_t<F>>
[[nodiscard]] heartbeat_streams<detail::heartbeat_value_t<std::decay_t<F>>> heartbeat(
    stop_signal stop, std::chrono::nanoseconds interval, F&& work,
    source_location where = source_location::current()) {
  using T = detail::heartbeat_value_t<std::decay_t<F>>;
  detail::heartbeat_worker<T> w;
  w.pulses.emplace(interval);
  heartbeat_streams<T> out = w.streams();
  go(
      [stop = std::move(stop), w = std::move(w), work = std::forward<F>(work)]() mutable {
        recv_chan<time_point> ticks = w.pulses->c();
        while (!stop.stopped()) {
          std::optional<T> v = detail::heartbeat_call(work, stop);
          if (!v || !w.send(stop, ticks, std::move(*v))) return;
        }
      },
      where);
  return out;
}

/// The book's doWork: forwards each value received from `source` to
/// results, pulsing every `interval` while it waits for a value or for it to
/// be taken. Ends when source is closed or `stop` stops it. Throws
/// panic_error (and starts nothing) if interval is not positive.
template <class C, class T = typename C::value_type>
  requires std::is_convertible_v<const C&, recv_chan<T>>
[[nodiscard]] heartbeat_streams<T> heartbeat(stop_signal stop, std::chrono::nanoseconds interval,
                                             const C& source_chan,
                                             source_location where = source_location::current()) {
  detail::heartbeat_worker<T> w;
  w.pulses.emplace(interval);
  heartbeat_streams<T> out = w.streams();
  go(
      [stop = std::move(stop), w = std::move(w), source = recv_chan<T>(source_chan)]() mutable {
        recv_chan<time_point> ticks = w.pulses->c();
        for (;;) {
          std::optional<T> v;
          switch (select(stop.on_stop(), ticks.on_recv(), source.on_recv(v))) {
            case 0:
              return;
            case 1:
              detail::heartbeat_pulse(w.beats);
              break;
            default:
              if (!v || !w.send(stop, ticks, std::move(*v))) return;
          }
        }
      },
      where);
  return out;
}

/// Starts a worker goroutine that pulses, then calls work(), before each
/// unit of work (so once more before the call that returns std::nullopt),
/// and sends each value on results; ends when work returns std::nullopt or
/// `stop` stops it. A test can wait for the first pulse (the worker has
/// begun) and then read every result with no timing assumption.
template <class F>
  requires detail::heartbeat_work<std::decay_t<F>>
[[nodiscard]] heartbeat_streams<detail::heartbeat_value_t<std::decay_t<F>>> heartbeat_per_unit(
    stop_signal stop, F&& work, source_location where = source_location::current()) {
  using T = detail::heartbeat_value_t<std::decay_t<F>>;
  detail::heartbeat_worker<T> w;
  heartbeat_streams<T> out = w.streams();
  go(
      [stop = std::move(stop), w = std::move(w), work = std::forward<F>(work)]() mutable {
        const recv_chan<time_point> no_ticks;  // nil: never ready
        while (!stop.stopped()) {
          detail::heartbeat_pulse(w.beats);
          std::optional<T> v = detail::heartbeat_call(work, stop);
          if (!v || !w.send(stop, no_ticks, std::move(*v))) return;
        }
      },
      where);
  return out;
}

}  // namespace goro
