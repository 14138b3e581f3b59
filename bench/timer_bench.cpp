// Timer benchmarks: Go's BenchmarkAfterFunc, BenchmarkStartStop and
// BenchmarkSleep (time/sleep_test.go): one op is one bench(1000), run in
// parallel on gomaxprocs goroutines, with 1<<15 idle timers per processor
// armed beforehand.
#include <functional>
#include <memory>
#include <vector>

#include "bench_support.hpp"

using namespace std::chrono_literals;

template <class Bench>
static void timer_benchmark(benchmark::State& state, Bench bench) {
  int old = goro::gomaxprocs(static_cast<int>(state.range(0)));
  int procs = goro::gomaxprocs();
  std::vector<std::vector<goro::timer>> garbage(static_cast<std::size_t>(procs));
  goro::run([&] {
    goro_bench::latch wg(procs);
    for (int p = 0; p < procs; ++p) {
      goro::go([&, p] {
        for (int j = 0; j < (1 << 15); ++j) garbage[p].push_back(goro::after_func(1h, [] {}));
        wg.done();
      });
    }
    wg.wait();
  });
  const std::int64_t ops = 64;
  for (auto _ : state) {
    goro::run([&] {
      goro_bench::latch wg(procs);
      for (int p = 0; p < procs; ++p) {
        goro::go([&, p] {
          for (std::int64_t i = p; i < ops; i += procs) bench(1000);
          wg.done();
        });
      }
      wg.wait();
    });
  }
  for (auto& g : garbage) {
    for (auto& t : g) t.stop();
  }
  goro::gomaxprocs(old);
  state.counters["ns/op"] = bench_common::per_unit(ops);
}

static void BM_AfterFunc(benchmark::State& state) {
  timer_benchmark(state, [](int n) {
    struct chain {
      int n;
      goro::chan<bool> c = goro::make_chan<bool>();
      std::function<void()> f;
    };
    auto ch = std::make_shared<chain>();
    ch->n = n;
    chain* raw = ch.get();
    ch->f = [raw] {
      if (--raw->n >= 0) {
        goro::after_func(0ns, raw->f);
      } else {
        raw->c.send(true);
      }
    };
    goro::after_func(0ns, ch->f);
    ch->c.recv();
  });
}
BENCHMARK(BM_AfterFunc)->Arg(1)->Arg(2)->UseRealTime();

static void BM_StartStop(benchmark::State& state) {
  timer_benchmark(state, [](int n) {
    std::vector<goro::timer> timers;
    timers.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) timers.push_back(goro::after_func(1h, [] {}));
    for (auto& t : timers) t.stop();
  });
}
BENCHMARK(BM_StartStop)->Arg(1)->Arg(2)->UseRealTime();

static void BM_Sleep(benchmark::State& state) {
  timer_benchmark(state, [](int n) {
    goro_bench::latch wg(n);
    for (int i = 0; i < n; ++i) {
      goro::go([&wg] {
        goro::sleep(1ns);
        wg.done();
      });
    }
    wg.wait();
  });
}
BENCHMARK(BM_Sleep)->Arg(1)->Arg(2)->UseRealTime();

BENCHMARK_MAIN();
