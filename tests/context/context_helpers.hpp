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
using goro_test::bounded_thread;
using goro_test::give_a_chance;
using goro_test::in_goroutine;
using goro_test::ready_now;
using goro_test::scaled;
using goro_test::wait_for;
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

/// Whether ch is closed (or delivers a value) within limit.
template <class T>
bool closed_within(const goro::recv_chan<T>& ch, std::chrono::nanoseconds limit = wait_limit) {
  return goro::select(ch.on_recv(), goro::after(limit).on_recv()) == 0;
}

/// An error code that is not a context error, to pass as a cause.
inline std::error_code io_error() { return std::make_error_code(std::errc::io_error); }
inline std::error_code doom() { return std::make_error_code(std::errc::not_supported); }

}  // namespace ctx_test
