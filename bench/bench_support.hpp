// bench/bench_support.hpp: what goro's benchmarks share. Each benchmark does
// the same work as its Go twin in bench/go/ (see ../../shared/BENCHMARKS.md);
// the argument of every benchmark is gomaxprocs.
#pragma once

#include <goro/goro.hpp>

#include "bench_common.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace goro_bench {

using bench_common::count;
using bench_common::per_unit;
using bench_common::quick;
using bench_common::seconds_of;

/// Counts down to zero, then lets wait() return: the part of a WaitGroup the
/// benchmarks need (a goroutine per decrement, one waiter).
class latch {
 public:
  explicit latch(std::int64_t n) : left_(n) {}
  void done() {
    if (left_.fetch_sub(1, std::memory_order_acq_rel) == 1) zero_.close();
  }
  void wait() const { zero_.recv(); }

 private:
  std::atomic<std::int64_t> left_;
  goro::chan<int> zero_ = goro::make_chan<int>();
};

/// Runs `work` (which does `units` units of the fixed work) once per
/// benchmark iteration on a main goroutine at gomaxprocs = state.range(0),
/// and reports the time per unit as the counter `name`.
///
/// The first time a benchmark runs in the process, one untimed run comes
/// first, as Go's testing runs b.N = 1 first and reports a later run: the
/// first million goroutines fault in their records and stacks (hundreds of
/// ms), and a first iteration longer than Google Benchmark's minimum time
/// would otherwise be the figure reported.
template <class Work>
void run_fixed(benchmark::State& state, std::int64_t units, const char* name, Work work) {
  int old = goro::gomaxprocs(static_cast<int>(state.range(0)));
  static bool warmed = false;  // one per Work type: per benchmark function
  if (!warmed) {
    warmed = true;
    goro::run([&] { work(state); });
  }
  for (auto _ : state) {
    goro::run([&] { work(state); });
  }
  goro::gomaxprocs(old);
  state.counters[name] = per_unit(units);
}

/// For b.N-style benchmarks registered with UseManualTime(): runs fn() once
/// per benchmark iteration on a main goroutine (goro::run) at gomaxprocs =
/// state.range(0). fn does `ops` ops and returns the seconds its timed part
/// took (set-up left out, as Go's b.ResetTimer leaves it out); reports ns/op.
template <class Fn>
void run_timed(benchmark::State& state, std::int64_t ops, Fn fn) {
  int old = goro::gomaxprocs(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    double seconds = goro::run([&] { return fn(); });
    state.SetIterationTime(seconds);
  }
  goro::gomaxprocs(old);
  state.counters["ns/op"] = per_unit(ops);
}

/// Runs `ops` ops split evenly over `goroutines` new goroutines, body(k)
/// doing k of them, and returns once they all have.
template <class Body>
void split(std::int64_t ops, int goroutines, Body& body) {
  goro::wait_group wg;
  for (int g = 0; g < goroutines; ++g) {
    std::int64_t k = bench_common::share(ops, goroutines, g);
    wg.go([&body, k] { body(k); });
  }
  wg.wait();
}

/// run_timed for an fn(ops) timed whole.
template <class Fn>
void run_timed_ops(benchmark::State& state, std::int64_t ops, Fn fn) {
  run_timed(state, ops, [&] { return seconds_of([&] { fn(ops); }); });
}

/// Go's b.RunParallel (with b.SetParallelism(parallelism)): each iteration,
/// parallelism x gomaxprocs goroutines share `ops` ops; body(k) runs k of
/// them and may keep per-goroutine state. A static split: goro's goroutines
/// are cooperative, so at gomaxprocs 1 each runs its share in one go, as Go's
/// do between 10 ms preemptions. Register with UseManualTime().
template <class Body>
void run_parallel(benchmark::State& state, std::int64_t ops, int parallelism, Body body) {
  run_timed(state, ops, [&] { return seconds_of([&] { split(ops, parallelism * goro::gomaxprocs(), body); }); });
}

}  // namespace goro_bench
