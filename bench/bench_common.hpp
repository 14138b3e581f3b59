// bench/bench_common.hpp: what every benchmark program shares, whatever
// runtime it measures (goro's in bench_support.hpp, Boost.Fiber's twins in
// boost_fiber/fiber_support.hpp, mem_bench): the quick mode, the counter
// that reports time per unit of work, and the static split of b.N ops.
// Needs no runtime, so the twins include it without linking goro.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace bench_common {

/// GORO_BENCH_QUICK=1 divides every fixed count by 100, on every side (the
/// Go twins read the same variable).
inline bool quick() {
  const char* q = std::getenv("GORO_BENCH_QUICK");
  return q != nullptr && std::string(q) == "1";
}
inline std::int64_t count(std::int64_t n) { return quick() ? n / 100 : n; }

/// A counter holding the time per unit when each iteration does `units`
/// units: Google Benchmark reports it in seconds per unit, whatever its name.
inline benchmark::Counter per_unit(std::int64_t units) {
  return benchmark::Counter(static_cast<double>(units),
                            benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

/// Seconds that f() takes.
template <class F>
double seconds_of(F&& f) {
  auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// The share of `ops` ops that worker g of n does in a static split.
inline std::int64_t share(std::int64_t ops, int n, int g) { return ops / n + (g < ops % n ? 1 : 0); }

}  // namespace bench_common
