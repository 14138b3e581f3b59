// goro/testing.hpp: checks for tests, in any test framework.
//
//   auto before = goro::testing::snapshot();
//   ... the test ...
//   std::string leaks = goro::testing::check_leaks(before);   // "" if none
//
// A goroutine leaks when it exists at the end of a test and did not at the
// start. Goroutines may still be finishing when the test body returns (a
// closed channel was the signal to stop), so check_leaks waits up to `grace`
// for them before it reports; it returns as soon as none is left (and no
// goroutine is waiting for its first run, which might be one that leaks).
// Goroutines of a deadlock run() already reported are not counted.
//
// GoogleTest: goro/gtest.hpp installs this check around every test.
//
// A virtual clock (Go's testing/synctest): code with timers, tickers,
// timeouts and rate limits, tested at once and deterministically.
//
//   goro::testing::bubble([] {
//     auto start = goro::clock::now();
//     goro::sleep(1h);                          // returns at once, in real time
//     assert(goro::clock::now() - start == 1h);  // exactly
//   });
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "goro/debug.hpp"
#include "goro/detail/config.hpp"

namespace goro::testing {

/// The goroutines that exist at one moment (their ids, ascending).
struct goroutine_set {
  std::vector<std::uint64_t> ids;
};

/// The goroutines that exist now.
GORO_API goroutine_set snapshot();

/// The goroutines that exist now, did not exist at `before` and are not part
/// of a reported deadlock; waits up to `grace` for them to finish first.
GORO_API std::vector<goroutine_info> leaked_since(const goroutine_set& before,
                                                  std::chrono::milliseconds grace = std::chrono::seconds(5));

/// leaked_since, formatted: empty if none leaked, else
/// "3 goroutines leaked:" and each one in the dump format. Goroutines that
/// have still not run when the grace period ends are counted as leaked
/// ("(and 2 not yet started)"): they outlived the test.
GORO_API std::string check_leaks(const goroutine_set& before,
                                 std::chrono::milliseconds grace = std::chrono::seconds(5));

/// Runs f in a new goroutine inside a *bubble*, and returns once it and
/// every goroutine started in the bubble (by f, by them, by their timers)
/// have returned. Called from a goroutine or from a plain thread (which then
/// runs the bubble as goro::run would).
///
/// The goroutines of a bubble share a virtual clock: goro::clock::now()
/// reads it, and their sleeps, timers, tickers, after_func, context
/// deadlines and rate limiters run on it. It starts at the real time of the
/// call and moves only when every goroutine in the bubble is *durably
/// blocked*: waiting on a channel of the bubble, select (on the bubble's
/// channels), sleep, timer, cond, wait_group or semaphore. It then jumps to
/// the next timer and fires it. A goroutine
/// waiting on a mutex, a socket or goro::blocking, or running, holds the
/// clock still: something outside the bubble might end that wait.
///
/// Throws what f threw (once the bubble's goroutines have returned), or
/// goro::deadlock_error, with the dump of the bubble's goroutines, when they
/// are all durably blocked with no timer left to fire (those goroutines
/// then stay parked, marked deadlocked). A bubble inside a bubble throws
/// goro::panic_error.
///
/// A channel belongs to the bubble it was made in. A wait on a channel made
/// outside the bubble (or in another) is not durable, as in Go: code outside
/// may end it. Socket deadlines stay on the real clock. Timers still armed
/// when the bubble ends go on in real time.
GORO_API void bubble(std::function<void()> f, source_location where = source_location::current());

/// From a goroutine in a bubble: waits until every other goroutine of the
/// bubble is durably blocked (Go's synctest.Wait); the clock does not move
/// meanwhile. Throws goro::panic_error outside a bubble, or when another
/// goroutine of the bubble is already waiting.
GORO_API void bubble_wait();

/// Whether the calling goroutine belongs to a bubble.
GORO_API bool in_bubble() noexcept;

}  // namespace goro::testing
