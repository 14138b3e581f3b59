// tests/support/test_support.hpp: helpers every goro test uses.
#pragma once

#include <goro/goro.hpp>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <optional>

namespace goro_test {

using namespace std::chrono_literals;

/// The longest any single wait in a test may take before the test fails.
inline constexpr std::chrono::seconds wait_limit{10};

/// How much the stress tests do: GORO_STRESS_SCALE (default 1) times their
/// CI size; sanitizer builds divide by 10.
std::int64_t stress_scale() noexcept;
bool under_sanitizer() noexcept;

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

}  // namespace goro_test
