// goro/runtime.hpp: goroutines and the scheduler.
//
//   goro::go(f, args...)   start a goroutine running f(args...)
//   goro::yield()          let other goroutines run (Go's runtime.Gosched)
//   goro::gomaxprocs(n)    how many goroutines may run at once (n <= 0 only reads)
//   goro::num_goroutine()  how many goroutines exist
//   goro::run(f)           run f as the main goroutine; returns its result
//
// Goroutines are stackful and cooperative: a goroutine runs until it blocks
// (on a channel, select, timer, lock, ...) or yields. A goroutine that blocks
// parks and its worker thread runs another. An exception that escapes a
// goroutine ends the program, naming the goroutine and where it was started.
#pragma once

#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "goro/detail/config.hpp"
#include "goro/detail/runtime_core.hpp"

namespace goro {

/// Thrown by run() when its main goroutine and every other goroutine are
/// blocked and nothing can wake them: no timer, no socket, no blocking()
/// call, no plain thread that could still act. what() is Go's "all
/// goroutines are asleep - deadlock!" followed by a dump of every goroutine
/// (goro/debug.hpp). The deadlocked goroutines stay parked for good.
class deadlock_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Starts a goroutine that runs f() on a decayed copy of f. `where` (the
/// call site, recorded automatically) is shown if the goroutine fails.
template <class F>
  requires std::is_invocable_v<std::decay_t<F>&&>
void go(F&& f, source_location where = source_location::current()) {
  detail::spawn(where, std::forward<F>(f));
}

/// Starts a goroutine that runs std::invoke(f, args...) on decayed copies of
/// f and args, as std::thread does (use std::ref to pass a reference).
/// This form cannot record its call site; wrap the call in a lambda
/// (go([=] { f(args...); })) to have it shown if the goroutine fails.
template <class F, class A0, class... A>
  requires std::is_invocable_v<std::decay_t<F>&&, std::decay_t<A0>&&, std::decay_t<A>&&...>
void go(F&& f, A0&& a0, A&&... a) {
  detail::spawn(source_location{"(go with arguments)", "", 0}, std::forward<F>(f), std::forward<A0>(a0),
                std::forward<A>(a)...);
}

/// Lets other goroutines run; the caller stays runnable (Go's runtime.Gosched).
/// From a plain thread it yields the thread.
inline void yield() noexcept { detail::yield(); }

/// Sets how many goroutines may run at once and returns the previous value;
/// n <= 0 only reads it. Defaults to the number of hardware threads, or to the
/// environment variable GOMAXPROCS when set.
inline int gomaxprocs(int n = 0) { return detail::gomaxprocs(n); }

/// The number of goroutines that exist (started and not yet finished).
inline std::int64_t num_goroutine() noexcept { return detail::num_goroutine(); }

namespace this_goroutine {
/// The running goroutine's id (1, 2, ...), or 0 on a thread that is not a goroutine.
inline std::uint64_t id() noexcept { return detail::current_goroutine_id(); }
}  // namespace this_goroutine

/// Runs f() as the main goroutine and blocks the calling thread until it
/// returns; returns what f returns, or rethrows what it throws. Throws
/// deadlock_error if every goroutine blocks with nothing left to wake one
/// (see docs/debugging.md). Called from a goroutine, it simply calls f.
template <class F>
std::invoke_result_t<F&> run(F&& f, source_location where = source_location::current()) {
  using R = std::invoke_result_t<F&>;
  struct frame {
    F& fn;
    std::conditional_t<std::is_void_v<R>, bool,
                       std::optional<std::conditional_t<std::is_reference_v<R>,
                                                        std::reference_wrapper<std::remove_reference_t<R>>, R>>>
        result{};
    std::exception_ptr error;
    static void call(void* self) {
      auto& fr = *static_cast<frame*>(self);
      try {
        if constexpr (std::is_void_v<R>) {
          fr.fn();
        } else {
          fr.result.emplace(fr.fn());
        }
      } catch (...) {
        fr.error = std::current_exception();
      }
    }
  } fr{f};
  if (detail::current_goroutine_id() != 0) return f();
  detail::run_main(&frame::call, &fr, where);
  if (fr.error) std::rethrow_exception(fr.error);
  if constexpr (!std::is_void_v<R>) {
    if constexpr (std::is_reference_v<R>) {
      return fr.result->get();
    } else {
      return std::move(*fr.result);
    }
  }
}

}  // namespace goro
