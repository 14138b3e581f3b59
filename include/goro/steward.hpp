// goro/steward.hpp: healing unhealthy goroutines (Concurrency in Go, ch. 5):
// a steward watches a ward's heartbeat and restarts the ward when the
// heartbeat stops.
//
//   // A ward's start function (the book's startGoroutineFn): starts the
//   // ward, which stops when `done` closes, and returns its heartbeat.
//   auto start_worker = [](goro::stop_signal done, std::chrono::nanoseconds pulse_every) {
//     return goro::heartbeat(done, pulse_every, jobs).heartbeats;
//   };
//   auto start = goro::steward(1s, start_worker);     // itself a start function
//   auto beats = start(done, 5s);                     // the steward's own heartbeat
//
// The start-function contract, for wards and stewards alike:
//   recv_chan<std::monostate> start(goro::stop_signal done, std::chrono::nanoseconds pulse_interval)
// starts a goroutine (or several) and returns at once with its heartbeat
// channel, on which it pulses about every pulse_interval. The ward stops
// when done closes. When it stops it should close its heartbeat channel:
// that tells the steward it has ended (a ward that never closes it, or
// returns the nil channel, is also fine; see "stopping"). Because a steward
// is a start function too, a steward can be a ward of another steward.
//
// What the steward does (the book's newSteward):
//   - It starts the ward with a done channel of its own (so it can stop the
//     ward) and a pulse interval of timeout / 2.
//   - If no pulse arrives from the ward for `timeout`, the ward is
//     unhealthy: the steward calls on_restart() (if given), closes the
//     ward's done channel, and starts a new ward. It does not wait for the
//     old one: it may be stuck. A ward whose heartbeat channel closes (it
//     ended on its own) is restarted the same way, `timeout` after its last
//     pulse, never in a tight loop.
//   - It pulses on its own heartbeat channel (buffer of one; a pulse that
//     finds it full is dropped) every pulse_interval.
//
// Stopping: when `done` closes (is cancelled) the steward closes its
// ward's done channel, waits up to `timeout` for the ward's heartbeat
// channel to close (not at all if the ward returned the nil channel or it
// is closed already), then closes its own heartbeat channel and returns.
// So once a steward's heartbeat channel is closed, a ward that closes its
// heartbeat channel when it stops has stopped. A ward that ignores its done
// channel is the one thing a steward cannot heal: it is left running.
//
// start_ward and on_restart are copied into each steward started; the
// steward goroutine calls them. The first ward is started by start() itself,
// so an exception from its first start reaches start's caller; an exception
// from a restart ends the program (as any exception escaping a goroutine).
#pragma once

#include <chrono>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

#include "goro/chan.hpp"
#include "goro/errors.hpp"
#include "goro/runtime.hpp"
#include "goro/select.hpp"
#include "goro/stop.hpp"
#include "goro/time.hpp"

namespace goro {

/// A function that starts a ward (or a steward): see the top of this file.
template <class S>
concept start_function =
    std::is_invocable_r_v<recv_chan<std::monostate>, S&, stop_signal, std::chrono::nanoseconds>;

namespace detail {
struct no_restart_hook {
  void operator()() const noexcept {}
};
}  // namespace detail

/// The book's newSteward: returns a start function that starts a steward
/// of wards started by start_ward. on_restart() is called (in the steward's
/// goroutine) each time a ward is found unhealthy, before it is restarted.
/// Throws std::invalid_argument if timeout is under 2 ns (the wards' pulse
/// interval, timeout / 2, must be positive). The start function returned
/// throws panic_error if its pulse_interval is not positive, before it
/// starts anything.
template <class Start, class OnRestart = detail::no_restart_hook>
  requires start_function<std::decay_t<Start>> && std::is_invocable_v<std::decay_t<OnRestart>&>
[[nodiscard]] auto steward(std::chrono::nanoseconds timeout, Start&& start_ward,
                           OnRestart&& on_restart = {}) {
  if (timeout < std::chrono::nanoseconds(2)) throw std::invalid_argument("goro::steward: timeout under 2 ns");
  return [timeout, start_ward = std::decay_t<Start>(std::forward<Start>(start_ward)),
          on_restart = std::decay_t<OnRestart>(std::forward<OnRestart>(on_restart))](
             stop_signal done, std::chrono::nanoseconds pulse_interval) mutable -> recv_chan<std::monostate> {
    if (pulse_interval.count() <= 0) throw panic_error("goro::steward: non-positive pulse interval");
    auto beats = make_chan<std::monostate>(1);
    auto ward_done = make_done();
    recv_chan<std::monostate> ward_beats = start_ward(stop_signal(ward_done), timeout / 2);
    ticker pulses(pulse_interval);
    go([timeout, start_ward, on_restart, done = std::move(done), beats, pulses = std::move(pulses), ward_done,
        ward_beats]() mutable {
      timer deadline(timeout);
      const recv_chan<time_point> expired = deadline.c();
      const recv_chan<time_point> ticks = pulses.c();
      for (;;) {
        std::optional<std::monostate> beat;
        switch (select(done.on_stop(), ticks.on_recv(), ward_beats.on_recv(beat), expired.on_recv())) {
          case 0:  // stopped: stop the ward, give it `timeout` to finish
            pulses.stop();
            ward_done.close();
            deadline.reset(timeout);
            while (ward_beats && select(ward_beats.on_recv(beat), expired.on_recv()) == 0 && beat) {
            }
            deadline.stop();
            beats.close();
            return;
          case 1:
            (void)beats.try_send(std::monostate{});
            break;
          case 2:
            if (beat) {
              deadline.reset(timeout);
            } else {
              ward_beats = {};  // it ended: restarted when the deadline passes
            }
            break;
          default:  // no pulse for `timeout`: unhealthy
            on_restart();
            ward_done.close();
            ward_done = make_done();
            ward_beats = start_ward(stop_signal(ward_done), timeout / 2);
            deadline.reset(timeout);
            break;
        }
      }
    });
    return beats;
  };
}

}  // namespace goro
