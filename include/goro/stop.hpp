// goro/stop.hpp: how the patterns (pipeline.hpp, heartbeat.hpp, ...) are
// told to stop: the book's done channel, or a context.
//
//   auto done = goro::make_done();          // close() it to stop everything
//   auto squares = goro::map(done, goro::from(done, v), [](int x) { return x * x; });
//   done.close();
//
//   auto [ctx, cancel] = goro::with_timeout(goro::background(), 1s);
//   auto squares = goro::map(ctx, goro::from(ctx, v), square);   // the same stages
#pragma once

#include <utility>
#include <variant>

#include "goro/chan.hpp"
#include "goro/context.hpp"
#include "goro/select.hpp"

namespace goro {

/// A done channel: never sent on, closed to tell its readers to stop.
using done_chan = recv_chan<std::monostate>;

/// Makes a done channel to close() when everything reading it should stop.
inline chan<std::monostate> make_done() { return make_chan<std::monostate>(); }

/// A done channel or a context: every pattern takes one as its first
/// argument and stops when it is closed (cancelled). Cheap to copy. A
/// default-constructed stop_signal never stops.
class stop_signal {
 public:
  stop_signal() noexcept = default;
  stop_signal(done_chan done) noexcept : done_(std::move(done)) {}  // NOLINT: implicit by design
  stop_signal(const chan<std::monostate>& done) noexcept : done_(done) {}  // NOLINT
  stop_signal(const context& ctx) : done_(ctx.done()) {}  // NOLINT

  /// The channel to select on: closed once stopped; nil if it never stops.
  const done_chan& done() const noexcept { return done_; }
  /// The case to put in a select: ready once stopped.
  auto on_stop() const { return done_.on_recv(); }
  /// Whether it has stopped (does not block).
  bool stopped() const { return done_ && select(done_.on_recv(), on_default()) == 0; }

 private:
  done_chan done_;
};

}  // namespace goro
