// context benchmarks: Go 1.19's own BenchmarkWithTimeout,
// BenchmarkCommonParentCancel and BenchmarkCancelTree
// (src/context/benchmark_test.go), same work, plus CancelStorm: cancel a root
// with 100,000 goroutines each parked on done() of a with_cancel child of it
// (BENCHMARKS.md). The Go twins, under the same names, are in
// go/context_test.go.
//
// One benchmark iteration runs a fixed number of ops (b.N on the Go side)
// inside goro::run, and only the part Go times is timed here (manual time:
// goro::run's start-up and the untimed set-up are left out, as Go leaves them
// out with b.ResetTimer / b.StopTimer). The figure is the counter ns/op =
// time / ops, which lines up with Go's ns/op. The first argument is
// gomaxprocs.
//
// Go's b.RunParallel is parallel() below: gomaxprocs goroutines sharing the
// ops with a static split (goro_bench::split, bench_support.hpp).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <goro/context.hpp>
#include <goro/sync.hpp>

#include "bench_support.hpp"

using namespace std::chrono_literals;

namespace {

using goro_bench::run_timed;
using stopwatch = std::chrono::steady_clock;

double since(stopwatch::time_point t0) {
  return std::chrono::duration<double>(stopwatch::now() - t0).count();
}

/// Go's b.RunParallel: gomaxprocs new goroutines share `ops` ops.
template <class Body>
void parallel(std::int64_t ops, Body& body) {
  goro_bench::split(ops, goro::gomaxprocs(), body);
}

/// x /= x + 1, `times` times, on a 64-bit int kept opaque to the optimizer
/// (Go's compiler emits every one of these divisions).
inline void divide_work(std::int64_t& x, int times) {
  for (int i = 0; i < times; ++i) {
    asm volatile("" : "+r"(x));
    x /= x + 1;
  }
}

}  // namespace

// ---- BenchmarkWithTimeout ----------------------------------------------------
//
// `concurrency` one-hour timeout contexts of background() stay armed (made
// beforehand by gomaxprocs goroutines, untimed); one op is: create 10 more
// one-hour timeouts, then cancel them. Args: gomaxprocs, concurrency.
static void BM_WithTimeout(benchmark::State& state) {
  const auto concurrency = static_cast<int>(state.range(1));
  const std::int64_t ops = concurrency >= 400'000 ? 40'000 : 10'000;
  run_timed(state, ops, [&] {
    int procs = goro::gomaxprocs();
    int per_p = concurrency / procs;
    goro::context root = goro::background();
    std::vector<std::vector<goro::cancel_func>> ccf(static_cast<std::size_t>(procs));
    {
      goro::wait_group wg;
      for (int p = 0; p < procs; ++p) {
        wg.go([&, p] {
          std::vector<goro::cancel_func> cf(static_cast<std::size_t>(per_p));
          for (auto& f : cf) f = goro::with_timeout(root, 1h).second;
          ccf[static_cast<std::size_t>(p)] = std::move(cf);
        });
      }
      wg.wait();
    }
    auto body = [&root](std::int64_t k) {
      goro::cancel_func wcf[10];
      for (std::int64_t i = 0; i < k; ++i) {
        for (auto& f : wcf) f = goro::with_timeout(root, 1h).second;
        for (auto& f : wcf) f();
      }
    };
    auto t0 = stopwatch::now();
    parallel(ops, body);
    double seconds = since(t0);
    for (auto& cf : ccf) {
      for (auto& f : cf) f();
    }
    return seconds;
  });
}
BENCHMARK(BM_WithTimeout)
    ->ArgsProduct({{1, 2}, {40, 4'000, 400'000}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// ---- BenchmarkCommonParentCancel -----------------------------------------------
//
// One shared with_cancel context under a with_value root; one op is: a
// with_cancel child of it, one value look-up through it, 100 divisions, its
// cancel, 100 divisions.
namespace {
inline const goro::context_key<std::string> bench_key;
}

static void BM_CommonParentCancel(benchmark::State& state) {
  const std::int64_t ops = 200'000;
  run_timed(state, ops, [&] {
    goro::context root = goro::with_value(goro::background(), bench_key, "value");
    auto [shared, shared_cancel] = goro::with_cancel(root);
    std::atomic<bool> wrong{false};
    auto body = [&shared, &wrong](std::int64_t k) {
      std::int64_t x = 0;
      for (std::int64_t i = 0; i < k; ++i) {
        auto [ctx, cancel] = goro::with_cancel(shared);
        const std::string* v = ctx.value(bench_key);
        if (v == nullptr || *v != "value") wrong.store(true, std::memory_order_relaxed);
        divide_work(x, 100);
        cancel();
        divide_work(x, 100);
      }
      benchmark::DoNotOptimize(x);
    };
    auto t0 = stopwatch::now();
    parallel(ops, body);
    double seconds = since(t0);
    shared_cancel();
    if (wrong) state.SkipWithError("CommonParentCancel: wrong value");
    return seconds;
  });
}
BENCHMARK(BM_CommonParentCancel)->Arg(1)->Arg(2)->UseManualTime();

// ---- BenchmarkCancelTree ------------------------------------------------------------
//
// One op builds a chain of `depth` with_cancel contexts (Go's
// buildContextTree) on the benchmark goroutine, under:
//   Background:     background(). The chain is dropped uncancelled: Go
//                   leaves it to its garbage collector; goro frees each
//                   node as its last handle goes (it leaves its parent's
//                   children list once nothing can observe it).
//   OpenCanceler:   a with_cancel of background(), cancelled after the build.
//   ClosedCanceler: a with_cancel of background(), cancelled before the build.
// Args: gomaxprocs, depth.
namespace {

enum class tree_root { background, open_canceler, closed_canceler };

/// Go's buildContextTree; returns the cancel func of the chain's top node.
goro::cancel_func build_context_tree(goro::context root, int depth) {
  goro::cancel_func top;
  for (int d = 0; d < depth; ++d) {
    auto [ctx, cancel] = goro::with_cancel(root);
    if (d == 0) top = std::move(cancel);
    root = std::move(ctx);
  }
  return top;
}

void cancel_tree(benchmark::State& state, tree_root kind) {
  const auto depth = static_cast<int>(state.range(1));
  const std::int64_t ops = 100'000 / depth;
  run_timed(state, ops, [&] {
    auto t0 = stopwatch::now();
    for (std::int64_t i = 0; i < ops; ++i) {
      switch (kind) {
        case tree_root::background:
          build_context_tree(goro::background(), depth);
          break;
        case tree_root::open_canceler: {
          auto [ctx, cancel] = goro::with_cancel(goro::background());
          build_context_tree(ctx, depth);
          cancel();
          break;
        }
        case tree_root::closed_canceler: {
          auto [ctx, cancel] = goro::with_cancel(goro::background());
          cancel();
          build_context_tree(ctx, depth);
          break;
        }
      }
    }
    return since(t0);
  });
}

}  // namespace

static void BM_CancelTreeBackground(benchmark::State& state) {
  cancel_tree(state, tree_root::background);
}
static void BM_CancelTreeOpenCanceler(benchmark::State& state) {
  cancel_tree(state, tree_root::open_canceler);
}
static void BM_CancelTreeClosedCanceler(benchmark::State& state) {
  cancel_tree(state, tree_root::closed_canceler);
}
BENCHMARK(BM_CancelTreeBackground)->ArgsProduct({{1, 2}, {1, 10, 100, 1000}})->UseManualTime();
BENCHMARK(BM_CancelTreeOpenCanceler)->ArgsProduct({{1, 2}, {1, 10, 100, 1000}})->UseManualTime();
BENCHMARK(BM_CancelTreeClosedCanceler)->ArgsProduct({{1, 2}, {1, 10, 100, 1000}})->UseManualTime();

// ---- CancelStorm (BENCHMARKS.md) ---------------------------------------------------
//
// 100,000 goroutines each park on done() of its own with_cancel child of one
// root (set-up untimed; a 10 ms sleep lets the last ones park). Timed: from
// cancelling the root until every goroutine has exited. ns/op is per run.
static void BM_CancelStorm(benchmark::State& state) {
  const std::int64_t n = goro_bench::count(100'000);
  run_timed(state, 1, [&] {
    auto [root, cancel_root] = goro::with_cancel(goro::background());
    std::vector<goro::cancel_func> cancels;
    cancels.reserve(static_cast<std::size_t>(n));
    goro::wait_group ready, exited;
    ready.add(static_cast<int>(n));
    exited.add(static_cast<int>(n));
    for (std::int64_t i = 0; i < n; ++i) {
      auto [ctx, cancel] = goro::with_cancel(root);
      cancels.push_back(std::move(cancel));
      goro::go([&ready, &exited, ctx = std::move(ctx)] {
        auto done = ctx.done();
        ready.done();
        done.recv();
        exited.done();
      });
    }
    ready.wait();
    goro::sleep(10ms);
    auto t0 = stopwatch::now();
    cancel_root();
    exited.wait();
    double seconds = since(t0);
    for (auto& f : cancels) f();
    return seconds;
  });
}
BENCHMARK(BM_CancelStorm)->Arg(1)->Arg(2)->UseManualTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
