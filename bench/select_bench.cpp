// select benchmarks: Go's BenchmarkSelectUncontended and BenchmarkSelectProdCons
// (runtime/chan_test.go), same work.
#include "bench_support.hpp"

using namespace std::chrono_literals;

static void BM_SelectUncontended(benchmark::State& state) {
  goro_bench::run_parallel(state, 100'000, 1, [](std::int64_t k) {
    auto c1 = goro::make_chan<int>(1), c2 = goro::make_chan<int>(1);
    c1.send(0);
    for (std::int64_t i = 0; i < k; ++i) {
      goro::select(c1.on_recv([&] { c2.send(0); }), c2.on_recv([&] { c1.send(0); }));
    }
  });
}
BENCHMARK(BM_SelectUncontended)->Arg(1)->Arg(2)->UseManualTime();

// Each op is one select on the producing side; producers and consumers do a
// little arithmetic between selects, and both also wait on a timer and a
// close channel that never fire.
static void BM_SelectProdCons(benchmark::State& state) {
  constexpr int calls_per_sched = 1000;
  const std::int64_t ops = 100'000;
  int old = goro::gomaxprocs(static_cast<int>(state.range(0)));
  int procs = goro::gomaxprocs();
  for (auto _ : state) {
    goro::run([&] {
      std::atomic<std::int64_t> batches{ops / calls_per_sched};
      auto c = goro::make_chan<bool>(2 * procs);
      auto myc = goro::make_chan<int>(128);
      auto myclose = goro::make_chan<bool>();
      for (int p = 0; p < procs; ++p) {
        goro::go([&, c, myc, myclose] {
          int foo = 0;
          auto mytimer = goro::after(1h);
          while (batches.fetch_sub(1) > 0) {
            for (int g = 0; g < calls_per_sched; ++g) {
              for (int i = 0; i < 100; ++i) {
                foo = foo * 2;
                foo = foo / 2;
                asm volatile("" : "+r"(foo));  // kept, in a register, as Go's compiler keeps it
              }
              goro::select(myc.on_send(1), mytimer.on_recv(), myclose.on_recv());
            }
          }
          myc.send(0);
          c.send(foo == 42);
        });
        goro::go([c, myc, myclose] {
          int foo = 0;
          auto mytimer = goro::after(1h);
          for (bool stop = false; !stop;) {
            goro::select(myc.on_recv([&](int v) { stop = v == 0; }), mytimer.on_recv(), myclose.on_recv());
            for (int i = 0; i < 100; ++i) {
              foo = foo * 2;
              foo = foo / 2;
              asm volatile("" : "+r"(foo));
            }
          }
          c.send(foo == 42);
        });
      }
      for (int p = 0; p < 2 * procs; ++p) c.recv();
    });
  }
  goro::gomaxprocs(old);
  state.counters["ns/op"] = bench_common::per_unit(ops);
}
BENCHMARK(BM_SelectProdCons)->Arg(1)->Arg(2)->UseRealTime();

BENCHMARK_MAIN();
