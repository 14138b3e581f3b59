// tests/context/context_helpers.hpp: helpers shared by context_test.cpp and
// errgroup_test.cpp (bounded waits on contexts, goroutines and threads).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>

#include "support/test_support.hpp"

namespace ctx_test {

using namespace std::chrono_literals;
using goro_test::wait_limit;

/// Whether ctx's done channel is ready right now (a select with a default,
/// as Go's tests do; the nil channel of a context that can never be
/// cancelled is never ready).
inline bool is_done(const goro::context& ctx) {
  return goro::select(ctx.done().on_recv(), goro::on_default()) == 0;
}

/// Whether ctx is done within limit.
inline bool done_within(const goro::context& ctx, std::chrono::nanoseconds limit = wait_limit) {
  auto done = ctx.done();
  return goro::select(done.on_recv(), goro::after(limit).on_recv()) == 0;
}

/// Waits for n values on done, all within one deadline; fails the test if
/// they do not all arrive.
inline bool wait_for(const goro::chan<int>& done, int n, std::chrono::nanoseconds limit = wait_limit) {
  auto deadline = goro::after(limit);
  for (int i = 0; i < n; ++i) {
    if (goro::select(done.on_recv(), deadline.on_recv()) != 0) {
      ADD_FAILURE() << "only " << i << " of " << n << " goroutines/threads finished within "
                    << std::chrono::duration<double>(limit).count() << " s";
      return false;
    }
  }
  return true;
}

/// True if a value arrives on (or ch is closed) right now.
template <class T>
bool ready_now(const goro::recv_chan<T>& ch) {
  return goro::select(ch.on_recv(), goro::on_default()) == 0;
}

/// Whether ch is closed (or delivers a value) within limit.
template <class T>
bool closed_within(const goro::recv_chan<T>& ch, std::chrono::nanoseconds limit = wait_limit) {
  return goro::select(ch.on_recv(), goro::after(limit).on_recv()) == 0;
}

/// Runs f in a goroutine and waits (bounded) for it to return: for calls
/// that block without a timeout of their own (wg.wait(), g.wait(), ...).
/// f is kept alive by the goroutine, so capture by value whatever it uses.
template <class F>
bool in_goroutine(F f, std::chrono::nanoseconds limit = wait_limit) {
  auto done = goro::make_chan<int>(1);
  goro::go([f = std::move(f), done]() mutable {
    f();
    done.send(1);
  });
  return wait_for(done, 1, limit);
}

/// A std::thread whose end can be awaited with a bound: it closes `finished`
/// when its function returns. join() fails the test (and detaches the
/// thread) if it does not finish in time, so capture everything the thread
/// uses by value.
class bounded_thread {
 public:
  template <class F>
  explicit bounded_thread(F f) {
    thread_ = std::thread([f = std::move(f), finished = finished_]() mutable {
      f();
      finished.close();
    });
  }
  bounded_thread(const bounded_thread&) = delete;
  bounded_thread& operator=(const bounded_thread&) = delete;
  ~bounded_thread() {
    if (thread_.joinable()) join();
  }

  bool join(std::chrono::nanoseconds limit = wait_limit) {
    bool ok = goro::select(finished_.on_recv(), goro::after(limit).on_recv()) == 0;
    if (ok) {
      thread_.join();
    } else {
      ADD_FAILURE() << "thread did not finish within " << std::chrono::duration<double>(limit).count() << " s";
      thread_.detach();
    }
    return ok;
  }

 private:
  goro::chan<int> finished_ = goro::make_chan<int>();
  std::thread thread_;
};

/// n at CI size (times the stress scale), or `sanitized` under a sanitizer.
inline std::int64_t scaled(std::int64_t n, std::int64_t sanitized) {
  return (goro_test::under_sanitizer() ? sanitized : n) * goro_test::stress_scale();
}

/// Gives something that must NOT happen a chance to happen (never used to
/// wait for something that must happen).
inline void give_a_chance() {
  for (int i = 0; i < 10; ++i) goro::yield();
  goro::sleep(5ms);
}

/// An error code that is not a context error, to pass as a cause.
inline std::error_code io_error() { return std::make_error_code(std::errc::io_error); }
inline std::error_code doom() { return std::make_error_code(std::errc::not_supported); }

}  // namespace ctx_test
