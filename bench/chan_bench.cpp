// Channel benchmarks: spsc, spsc_cap1, mpmc.
#include "bench_support.hpp"

using goro_bench::count;
using goro_bench::run_fixed;

static std::int64_t spsc(std::int64_t n, std::size_t capacity) {
  auto c = goro::make_chan<std::int64_t>(capacity);
  auto result = goro::make_chan<std::int64_t>();
  goro::go([=] {
    for (std::int64_t i = 0; i < n; ++i) c.send(i);
    c.close();
  });
  goro::go([=] {
    std::int64_t sum = 0;
    for (std::int64_t v : c) sum += v;
    result.send(sum);
  });
  return *result.recv();
}

static void bench_spsc(benchmark::State& state, std::size_t capacity) {
  const std::int64_t n = count(10'000'000);
  run_fixed(state, n, "ns/item", [=](benchmark::State& st) {
    if (spsc(n, capacity) != n * (n - 1) / 2) st.SkipWithError("spsc: wrong sum");
  });
}
static void BM_SPSC(benchmark::State& state) { bench_spsc(state, 1024); }
static void BM_SPSCCap1(benchmark::State& state) { bench_spsc(state, 1); }
BENCHMARK(BM_SPSC)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SPSCCap1)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

// mpmc: 4 producers, 4 consumers, capacity 1024, 10,000,000 ints in all.
static void BM_MPMC(benchmark::State& state) {
  constexpr int producers = 4, consumers = 4;
  const std::int64_t n = count(10'000'000);
  run_fixed(state, n, "ns/item", [n](benchmark::State& st) {
    auto c = goro::make_chan<std::int64_t>(1024);
    const std::int64_t per = n / producers;
    goro_bench::latch pwg(producers);
    for (int p = 0; p < producers; ++p) {
      goro::go([c, per, base = p * per, &pwg] {
        for (std::int64_t i = 0; i < per; ++i) c.send(base + i);
        pwg.done();
      });
    }
    auto results = goro::make_chan<std::int64_t>(consumers);
    for (int q = 0; q < consumers; ++q) {
      goro::go([c, results] {
        std::int64_t sum = 0;
        for (std::int64_t v : c) sum += v;
        results.send(sum);
      });
    }
    pwg.wait();
    c.close();
    std::int64_t total = 0;
    for (int q = 0; q < consumers; ++q) total += *results.recv();
    if (total != n * (n - 1) / 2) st.SkipWithError("mpmc: wrong sum");
  });
}
BENCHMARK(BM_MPMC)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK_MAIN();
