// tests/sync/sync_helpers.hpp: helpers shared by sync_test.cpp and
// sync_more_test.cpp (bounded waits for goroutines and plain threads).
#pragma once

#include <goro/sync.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>

#include "support/test_support.hpp"

namespace sync_test {

using namespace std::chrono_literals;
using goro_test::wait_limit;

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

/// True if a value arrives on ch right now (a check that something has NOT
/// happened yet must see false).
inline bool ready_now(const goro::chan<int>& ch) {
  return goro::select(ch.on_recv(), goro::on_default()) == 0;
}

/// Runs f in a goroutine and waits (bounded) for it to return: for calls
/// that block without a timeout of their own (wg.wait(), sem.acquire(n)).
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

/// n times the stress scale, a tenth of that under a sanitizer; at least 1.
inline std::int64_t scaled(std::int64_t n) {
  n *= goro_test::stress_scale();
  if (goro_test::under_sanitizer()) n /= 10;
  return n < 1 ? 1 : n;
}

/// Gives something that must NOT happen a chance to happen (never used to
/// wait for something that must happen).
inline void give_a_chance() {
  for (int i = 0; i < 10; ++i) goro::yield();
  goro::sleep(5ms);
}

}  // namespace sync_test
