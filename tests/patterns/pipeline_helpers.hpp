// tests/patterns/pipeline_helpers.hpp: helpers shared by pipeline_test.cpp
// and pipeline_stop_test.cpp (goro/pipeline.hpp, the patterns of "Concurrency
// in Go", chapter 4).
//
// Conventions as in tests/chan/chan_test.cpp: tests run inside goro::run
// unless they are about plain threads; every wait is bounded; every test
// stops its pipeline (closes its done channel or cancels its context) and
// waits, bounded, until every goroutine the pipeline started has returned.
// Sleeps only give something that must NOT happen a chance to happen (or
// stand for work inside a stage's function), never as synchronisation.
#pragma once

#include <goro/pipeline.hpp>
#include <goro/result.hpp>
#include <goro/stop.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "support/test_support.hpp"

namespace pipe_test {

using namespace std::chrono_literals;
using goro_test::bounded_thread;
using goro_test::give_a_chance;
using goro_test::in_goroutine;
using goro_test::ready_now;
using goro_test::scaled;
using goro_test::wait_for;
using goro_test::wait_limit;

/// Runs f(); if it added failures, adds one more that says where they came
/// from. (SCOPED_TRACE cannot be used in goroutines: its trace is per
/// thread, and a goroutine that blocks may resume on another thread.)
template <class F>
void traced(const std::string& where, F f) {
  const ::testing::TestResult* r = ::testing::UnitTest::GetInstance()->current_test_info()->result();
  int before = r->total_part_count();
  f();
  if (r->total_part_count() != before) ADD_FAILURE() << "(the failures above were in: " << where << ")";
}

/// How many values the "thousands of values" tests push (fewer under a
/// sanitizer, which is ~10x slower).
inline int many() { return goro_test::under_sanitizer() ? 1000 : 5000; }

/// Every value of ch until it closes, all within one deadline; fails the
/// test if ch does not close in time.
template <class T>
std::vector<T> drain(const goro::recv_chan<T>& ch, std::chrono::nanoseconds limit = wait_limit) {
  std::vector<T> out;
  auto deadline = goro::after(limit);
  for (;;) {
    std::optional<T> v;
    if (goro::select(ch.on_recv(v), deadline.on_recv()) == 1) {
      ADD_FAILURE() << "channel not closed within " << std::chrono::duration<double>(limit).count() << " s (got "
                    << out.size() << " values)";
      return out;
    }
    if (!v) return out;
    out.push_back(std::move(*v));
  }
}

/// The next value of ch within limit (fails the test if none, or if ch is
/// closed).
template <class T>
std::optional<T> next(const goro::recv_chan<T>& ch, std::chrono::nanoseconds limit = wait_limit) {
  std::optional<T> v = goro_test::recv_within(ch, limit);
  if (!v) ADD_FAILURE() << "expected a value, got a close (or nothing)";
  return v;
}

/// Whether ch is closed (drained: at most `max_left` values still arrive)
/// within limit.
template <class T>
bool closes_within(const goro::recv_chan<T>& ch, std::size_t max_left = 0,
                   std::chrono::nanoseconds limit = wait_limit) {
  auto deadline = goro::after(limit);
  for (std::size_t got = 0;; ++got) {
    std::optional<T> v;
    if (goro::select(ch.on_recv(v), deadline.on_recv()) == 1) return false;
    if (!v) return true;
    if (got >= max_left) {
      ADD_FAILURE() << "more than " << max_left << " value(s) after the stop";
      return false;
    }
  }
}

/// Waits (bounded) until no more goroutines exist than `baseline`.
inline bool goroutines_back_to(std::int64_t baseline, std::chrono::nanoseconds limit = wait_limit) {
  return goro_test::eventually([&] { return goro::num_goroutine() <= baseline; }, limit);
}

/// A buffered channel holding values, closed: an input that needs no
/// goroutine.
template <class T>
goro::chan<T> filled(std::vector<T> values) {
  auto c = goro::make_chan<T>(values.size());
  for (T& v : values) c.send(std::move(v));
  c.close();
  return c;
}

inline std::vector<int> iota_vec(int n, int from = 0) {
  std::vector<int> v;
  v.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) v.push_back(from + i);
  return v;
}

/// n move-only values 0..n-1, in a filled channel.
inline goro::chan<std::unique_ptr<int>> filled_ptrs(int n) {
  std::vector<std::unique_ptr<int>> v;
  for (int i = 0; i < n; ++i) v.push_back(std::make_unique<int>(i));
  return filled(std::move(v));
}

inline std::vector<int> values_of(const std::vector<std::unique_ptr<int>>& v) {
  std::vector<int> out;
  for (const auto& p : v) out.push_back(p ? *p : -1);
  return out;
}

/// The two ways to stop a pipeline: closing a done channel, cancelling a
/// context.
enum class stop_kind { done, context };

inline std::string kind_name(const ::testing::TestParamInfo<stop_kind>& info) {
  return info.param == stop_kind::done ? "DoneChannel" : "Context";
}

/// A stop signal of either kind, with the one way to fire it. Firing twice
/// is fine; the destructor fires it (a context is always cancelled).
class stopper {
 public:
  explicit stopper(stop_kind kind) : kind_(kind) {
    if (kind == stop_kind::done) {
      done_ = goro::make_done();
      signal_ = done_;
    } else {
      auto [ctx, cancel] = goro::with_cancel(goro::background());
      ctx_ = ctx;
      cancel_ = cancel;
      signal_ = ctx_;
    }
  }
  stopper(const stopper&) = delete;
  stopper& operator=(const stopper&) = delete;
  ~stopper() { fire(); }

  const goro::stop_signal& signal() const { return signal_; }
  operator const goro::stop_signal&() const { return signal_; }  // NOLINT: passed as a stop signal
  void fire() {
    if (fired_) return;
    fired_ = true;
    if (kind_ == stop_kind::done) {
      done_.close();
    } else {
      cancel_();
    }
  }

 private:
  stop_kind kind_;
  bool fired_ = false;
  goro::chan<std::monostate> done_;
  goro::context ctx_;
  goro::cancel_func cancel_;
  goro::stop_signal signal_;
};

/// Runs a test body in goro::run with the book's done channel, then stops
/// the pipeline and waits (bounded) for every goroutine it started to
/// return. body(done) may stop it earlier itself.
template <class F>
void with_done(F body) {
  goro::run([&] {
    std::int64_t baseline = goro::num_goroutine();
    {
      stopper stop(stop_kind::done);
      body(stop);
    }
    EXPECT_TRUE(goroutines_back_to(baseline)) << goro::num_goroutine() - baseline << " goroutine(s) left";
  });
}

}  // namespace pipe_test
