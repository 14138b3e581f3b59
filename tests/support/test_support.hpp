// tests/support/test_support.hpp: helpers every goro test uses.
#pragma once

#include <goro/goro.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <utility>

namespace goro_test {

using namespace std::chrono_literals;

/// The longest any single wait in a test may take before the test fails.
inline constexpr std::chrono::seconds wait_limit{10};

/// How much the stress tests do: GORO_STRESS_SCALE (default 1) times their
/// CI size; sanitizer builds divide by 10.
std::int64_t stress_scale() noexcept;
bool under_sanitizer() noexcept;

/// n times the stress scale, a tenth of that under a sanitizer; at least 1.
inline std::int64_t scaled(std::int64_t n) {
  n *= stress_scale();
  if (under_sanitizer()) n /= 10;
  return n < 1 ? 1 : n;
}
/// n at CI size (times the stress scale), or `sanitized` under a sanitizer.
inline std::int64_t scaled(std::int64_t n, std::int64_t sanitized) {
  return (under_sanitizer() ? sanitized : n) * stress_scale();
}

/// Receives from ch, failing the test (and returning empty) if nothing
/// arrives within `limit`.
template <class T>
std::optional<T> recv_within(const goro::recv_chan<T>& ch, std::chrono::nanoseconds limit = wait_limit) {
  std::optional<T> v;
  auto deadline = goro::after(limit);
  std::size_t i = goro::select(ch.on_recv(v), deadline.on_recv());
  if (i == 1) {
    ADD_FAILURE() << "no value within " << std::chrono::duration<double>(limit).count() << " s";
    return std::nullopt;
  }
  return v;
}

/// Waits for n values on done, all within one deadline; fails the test if
/// they do not all arrive (how a test waits for n goroutines or threads
/// that each send one value when they finish).
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

/// Whether something is ready on ch right now, a value or its close (a check
/// that something has NOT happened yet must see false).
template <class Chan>
bool ready_now(const Chan& ch) {
  return goro::select(ch.on_recv(), goro::on_default()) == 0;
}

/// Runs f in a goroutine and waits (bounded) for it to return: for calls
/// that block without a timeout of their own (wg.wait(), a range-for, ...).
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

/// Gives something that must NOT happen a chance to happen (never used to
/// wait for something that must happen).
inline void give_a_chance() {
  for (int i = 0; i < 10; ++i) goro::yield();
  goro::sleep(5ms);
}

/// A one-shot event a test can wait on with a bound: a closed channel.
class event {
 public:
  void notify() { ch_.close(); }
  /// True if notified within limit.
  bool wait(std::chrono::nanoseconds limit = wait_limit) const {
    return goro::select(ch_.on_recv(), goro::after(limit).on_recv()) == 0;
  }

 private:
  goro::chan<int> ch_ = goro::make_chan<int>();
};

/// How many goroutines or threads wait to receive from (or send on) ch.
template <class Chan>
std::size_t waiting_receivers(const Chan& ch) {
  return goro::detail::chan_waiting(goro::detail::chan_access::ref(ch).core(), false);
}
template <class Chan>
std::size_t waiting_senders(const Chan& ch) {
  return goro::detail::chan_waiting(goro::detail::chan_access::ref(ch).core(), true);
}

/// Waits (bounded) until pred() holds, yielding or sleeping in between.
template <class Pred>
bool eventually(Pred pred, std::chrono::nanoseconds limit = wait_limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    goro::sleep(100us);
  }
  return true;
}

/// Waits (bounded) until pred() holds without switching goroutines: busy,
/// giving up the OS thread's time slice between looks. For a goroutine that
/// must keep its processor, or a plain thread while every processor is
/// taken (eventually() would wait on a timer no worker runs).
template <class Pred>
bool spin_until(Pred pred, std::chrono::nanoseconds limit = wait_limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

/// Waits (bounded) until at least n receivers (senders) are parked on ch:
/// how a test makes sure a goroutine has blocked, instead of sleeping.
template <class Chan>
bool until_receivers(const Chan& ch, std::size_t n, std::chrono::nanoseconds limit = wait_limit) {
  return eventually([&] { return waiting_receivers(ch) >= n; }, limit);
}
template <class Chan>
bool until_senders(const Chan& ch, std::size_t n, std::chrono::nanoseconds limit = wait_limit) {
  return eventually([&] { return waiting_senders(ch) >= n; }, limit);
}

/// Sets a runtime setting for a scope and restores the old value on every
/// path. `set` takes the new value and returns the old one:
///   scoped_setting one_proc(goro::gomaxprocs, 1);
///   scoped_setting stacks(goro::set_dump_stacks, true);
template <class T>
class scoped_setting {
 public:
  scoped_setting(T (*set)(T), T value) : set_(set), old_(set(value)) {}
  ~scoped_setting() { set_(old_); }
  scoped_setting(const scoped_setting&) = delete;
  scoped_setting& operator=(const scoped_setting&) = delete;
  T old() const { return old_; }

 private:
  T (*set_)(T);
  T old_;
};

/// Ends the process (exit status 3, `what` on stderr) unless destroyed
/// within `limit`: bounds a test whose wait nothing in the process can time
/// out (a deadlock test: a helper thread or a timer left to watch it would
/// itself keep the deadlock from being reported, or the clock from moving).
class alarm_bound {
 public:
  alarm_bound(const char* what, std::chrono::seconds limit);
  ~alarm_bound();
  alarm_bound(const alarm_bound&) = delete;
  alarm_bound& operator=(const alarm_bound&) = delete;
};

/// A move-only capture that counts its destruction (yielding first, so that
/// a destruction that races with the code under test is likely to lose):
/// for checking that a function and what it holds are destroyed before the
/// waiter it lets go returns. Moved-from instances do not count.
struct counts_destruction {
  std::shared_ptr<std::atomic<int>> destroyed;  // null once moved from
  explicit counts_destruction(std::shared_ptr<std::atomic<int>> d) : destroyed(std::move(d)) {}
  counts_destruction(counts_destruction&&) noexcept = default;
  ~counts_destruction() {
    if (!destroyed) return;
    goro::yield();
    destroyed->fetch_add(1);
  }
};

}  // namespace goro_test
