// bench/bench_support.hpp: what goro's benchmarks share. Each benchmark does
// the same work as its Go twin in bench/go/ (see ../../shared/BENCHMARKS.md);
// the argument of every benchmark is gomaxprocs.
#pragma once

#include <benchmark/benchmark.h>
#include <goro/goro.hpp>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace goro_bench {

/// GORO_BENCH_QUICK=1 divides every fixed count by 100, as the Go twins do.
inline bool quick() {
  const char* q = std::getenv("GORO_BENCH_QUICK");
  return q != nullptr && std::string(q) == "1";
}
inline std::int64_t count(std::int64_t n) { return quick() ? n / 100 : n; }

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
template <class Work>
void run_fixed(benchmark::State& state, std::int64_t units, const char* name, Work work) {
  int old = goro::gomaxprocs(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    goro::run([&] { work(state); });
  }
  goro::gomaxprocs(old);
  state.counters[name] = benchmark::Counter(static_cast<double>(units),
                                            benchmark::Counter::kIsIterationInvariantRate |
                                                benchmark::Counter::kInvert);
}

}  // namespace goro_bench

namespace goro_bench {

/// Go's b.RunParallel on goroutines: each benchmark iteration runs `ops`
/// operations split over gomaxprocs goroutines; body(k) runs k of them and
/// may keep per-goroutine state. Reports ns/op.
template <class Body>
void run_parallel(benchmark::State& state, std::int64_t ops, Body body) {
  int old = goro::gomaxprocs(static_cast<int>(state.range(0)));
  int procs = goro::gomaxprocs();
  for (auto _ : state) {
    goro::run([&] {
      latch wg(procs);
      for (int p = 0; p < procs; ++p) {
        goro::go([&, p] {
          body(ops / procs + (p < ops % procs ? 1 : 0));
          wg.done();
        });
      }
      wg.wait();
    });
  }
  goro::gomaxprocs(old);
  state.counters["ns/op"] = benchmark::Counter(static_cast<double>(ops),
                                               benchmark::Counter::kIsIterationInvariantRate |
                                                   benchmark::Counter::kInvert);
}

}  // namespace goro_bench
