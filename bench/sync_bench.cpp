// sync benchmarks: ports of Go's own benchmarks of package sync (Go 1.19's
// src/sync/{mutex,rwmutex,cond,once,pool,waitgroup}_test.go) and of
// golang.org/x/sync/semaphore (semaphore_bench_test.go), same work. The Go
// twins, under the same names, are in go/sync_test.go.
//
// They are b.N benchmarks: one iteration here runs a fixed number of ops
// (b.N on the Go side) on fresh goroutines inside goro::run, and only that
// part is timed (manual time: goro::run's start-up is left out, as Go's
// benchmark loop leaves out the runtime's). The figure is the counter ns/op =
// time / ops, which lines up with Go's ns/op.
//
// Go's b.RunParallel is goro_bench::run_parallel (bench_support.hpp).
#include <chrono>
#include <cstdint>

#include <goro/sync.hpp>

#include "bench_support.hpp"
#include "local_work.hpp"

namespace {

using goro_bench::run_parallel;
using goro_bench::run_timed_ops;
using goro_bench::split;

constexpr std::int64_t cheap_ops = 200'000;  // ops per iteration for the ~10-100 ns ones

}  // namespace

// ---- mutex (sync/mutex_test.go) ---------------------------------------------

// Each goroutine locks and unlocks its own (padded) mutex.
static void BM_MutexUncontended(benchmark::State& state) {
  run_parallel(state, cheap_ops, 1, [](std::int64_t k) {
    struct alignas(128) padded_mutex {
      goro::mutex mu;
    } m;
    for (std::int64_t i = 0; i < k; ++i) {
      m.mu.lock();
      m.mu.unlock();
    }
  });
}

// benchmarkMutex(slack, work): all goroutines lock and unlock one mutex;
// with work, the local work of Go's twin outside the lock (go_local_work_100); with slack,
// 10 goroutines per gomaxprocs.
static void bench_mutex(benchmark::State& state, bool slack, bool work) {
  goro::mutex mu;
  run_parallel(state, cheap_ops, slack ? 10 : 1, [mu = &mu, work](std::int64_t k) {
    for (std::int64_t i = 0; i < k; ++i) {
      mu->lock();
      mu->unlock();
      if (work) bench_common::go_local_work_100();
    }
  });
}
static void BM_Mutex(benchmark::State& state) { bench_mutex(state, false, false); }
static void BM_MutexWork(benchmark::State& state) { bench_mutex(state, false, true); }
static void BM_MutexSlack(benchmark::State& state) { bench_mutex(state, true, false); }
BENCHMARK(BM_MutexUncontended)->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK(BM_Mutex)->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK(BM_MutexWork)->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK(BM_MutexSlack)->Arg(1)->Arg(2)->UseManualTime();

// ---- rw_mutex (sync/rwmutex_test.go) ------------------------------------------

// Each goroutine, on its own rw_mutex: read-lock twice, read-unlock twice,
// lock, unlock.
static void BM_RWMutexUncontended(benchmark::State& state) {
  run_parallel(state, cheap_ops, 1, [](std::int64_t k) {
    struct alignas(128) padded_rw_mutex {
      goro::rw_mutex rw;
    } m;
    for (std::int64_t i = 0; i < k; ++i) {
      m.rw.lock_shared();
      m.rw.lock_shared();
      m.rw.unlock_shared();
      m.rw.unlock_shared();
      m.rw.lock();
      m.rw.unlock();
    }
  });
}

// benchmarkRWMutex(localWork 0, writeRatio 100): one shared rw_mutex; every
// 100th op is a write lock/unlock, the rest read lock/unlock.
static void BM_RWMutexWrite100(benchmark::State& state) {
  constexpr int write_ratio = 100;
  goro::rw_mutex rw;
  run_parallel(state, cheap_ops, 1, [&rw](std::int64_t k) {
    int foo = 0;
    for (std::int64_t i = 0; i < k; ++i) {
      ++foo;
      if (foo % write_ratio == 0) {
        rw.lock();
        rw.unlock();
      } else {
        rw.lock_shared();
        rw.unlock_shared();
      }
    }
    benchmark::DoNotOptimize(foo);
  });
}
BENCHMARK(BM_RWMutexUncontended)->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK(BM_RWMutexWrite100)->Arg(1)->Arg(2)->UseManualTime();

// ---- cond (sync/cond_test.go) -------------------------------------------------

// benchmarkCond(waiters): waiters+1 goroutines; in each round every one of
// them locks and bumps a counter, the last one broadcasts, the others wait.
// One op is one round.
static void bench_cond(benchmark::State& state, int waiters) {
  const std::int64_t rounds = waiters <= 2 ? 20'000 : waiters <= 8 ? 5'000 : 2'000;
  run_timed_ops(state, rounds, [waiters](std::int64_t n) {
    goro::mutex mu;
    goro::cond c(mu);
    int id = 0;
    goro::wait_group done;
    for (int r = 0; r < waiters + 1; ++r) {
      done.go([&] {
        for (std::int64_t i = 0; i < n; ++i) {
          mu.lock();
          if (id == -1) {
            mu.unlock();
            break;
          }
          ++id;
          if (id == waiters + 1) {
            id = 0;
            c.broadcast();
          } else {
            c.wait();
          }
          mu.unlock();
        }
        mu.lock();
        id = -1;
        c.broadcast();
        mu.unlock();
      });
    }
    done.wait();
  });
}
static void BM_Cond1(benchmark::State& state) { bench_cond(state, 1); }
static void BM_Cond2(benchmark::State& state) { bench_cond(state, 2); }
static void BM_Cond4(benchmark::State& state) { bench_cond(state, 4); }
static void BM_Cond8(benchmark::State& state) { bench_cond(state, 8); }
static void BM_Cond32(benchmark::State& state) { bench_cond(state, 32); }
BENCHMARK(BM_Cond1)->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK(BM_Cond2)->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK(BM_Cond4)->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK(BM_Cond8)->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK(BM_Cond32)->Arg(1)->Arg(2)->UseManualTime();

// ---- once (sync/once_test.go) -------------------------------------------------

// Every op calls the same once with an empty function (the fast path).
static void BM_Once(benchmark::State& state) {
  goro::once o;
  auto f = [] {};
  // Sub-nanosecond ops: many per iteration, so that waking the second
  // worker does not dominate.
  run_parallel(state, 20'000'000, 1, [&](std::int64_t k) {
    // A local pointer: else the acquire load makes GCC reload &o from the
    // closure every op (Go keeps it in a register).
    goro::once* op = &o;
    for (std::int64_t i = 0; i < k; ++i) op->call(f);
  });
}
BENCHMARK(BM_Once)->Arg(1)->Arg(2)->UseManualTime();

// ---- pool (sync/pool_test.go) -------------------------------------------------

// Every op puts 1 into a shared pool and gets a value back (Go: p.Put(1);
// p.Get(), where 1 boxed in an interface needs no allocation).
static void BM_Pool(benchmark::State& state) {
  goro::pool<int> p;
  run_parallel(state, cheap_ops, 1, [&p](std::int64_t k) {
    for (std::int64_t i = 0; i < k; ++i) {
      p.put(1);
      benchmark::DoNotOptimize(p.get());
    }
  });
}
BENCHMARK(BM_Pool)->Arg(1)->Arg(2)->UseManualTime();

// ---- wait_group (sync/waitgroup_test.go) ----------------------------------------

// Each goroutine, on its own (padded) wait_group: add(1), done(), wait().
static void BM_WaitGroupUncontended(benchmark::State& state) {
  run_parallel(state, cheap_ops, 1, [](std::int64_t k) {
    struct alignas(128) padded_wait_group {
      goro::wait_group wg;
    } w;
    for (std::int64_t i = 0; i < k; ++i) {
      w.wg.add(1);
      w.wg.done();
      w.wg.wait();
    }
  });
}

BENCHMARK(BM_WaitGroupUncontended)->Arg(1)->Arg(2)->UseManualTime();

// ---- semaphore (golang.org/x/sync/semaphore) ------------------------------------

// x/sync's BenchmarkAcquireSeq/Weighted-acquire-1-1-1: one goroutine,
// semaphore of size 1, acquire(1) then release(1) per op.
static void BM_UncontendedSemaphore(benchmark::State& state) {
  run_timed_ops(state, cheap_ops, [](std::int64_t n) {
    goro::semaphore sem(1);
    for (std::int64_t i = 0; i < n; ++i) {
      sem.acquire(1);
      sem.release(1);
    }
  });
}

// Contended (in the spirit of sync's BenchmarkContendedSemaphore, on a
// Weighted): 4 goroutines share the ops, each acquire(1)/release(1) on one
// semaphore of size 1. At gomaxprocs 1 nothing preempts the holder here, so
// the goroutines never meet; Go's 10 ms preemption makes them queue, and
// x/sync's FIFO hand-off keeps them queued (a park per op), so Go's /1 figure
// is no like-for-like.
static void BM_ContendedSemaphore(benchmark::State& state) {
  constexpr int goroutines = 4;
  run_timed_ops(state, cheap_ops, [](std::int64_t n) {
    goro::semaphore sem(1);
    auto body = [&sem](std::int64_t k) {
      for (std::int64_t i = 0; i < k; ++i) {
        sem.acquire(1);
        sem.release(1);
      }
    };
    split(n, goroutines, body);
  });
}
BENCHMARK(BM_UncontendedSemaphore)->Arg(1)->Arg(2)->UseManualTime();
BENCHMARK(BM_ContendedSemaphore)->Arg(1)->Arg(2)->UseManualTime();

// ---- wait_group, waking a waiter ------------------------------------------------

// Every op: a fresh wait_group on the stack, add(1), a goroutine that calls
// done(), wait(). (Go's escapes to the heap: 2 allocs/op there.) Registered
// last: it destroys each wait_group as soon as wait() returns, while the
// done() that woke it may still be finishing, the usual C++ pattern that a
// wait_group must survive.
static void BM_WaitGroupActuallyWait(benchmark::State& state) {
  run_parallel(state, 50'000, 1, [](std::int64_t k) {
    for (std::int64_t i = 0; i < k; ++i) {
      goro::wait_group wg;
      wg.add(1);
      goro::go([&wg] { wg.done(); });
      wg.wait();
    }
  });
}
BENCHMARK(BM_WaitGroupActuallyWait)->Arg(1)->Arg(2)->UseManualTime();

BENCHMARK_MAIN();
